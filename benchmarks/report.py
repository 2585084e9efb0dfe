"""Summaries, targets and the Markdown page for benchmarks/compare.py (standard library only).

A cell is one (set, tool, mode); its key in the results is "set|tool|mode".
"""

from __future__ import annotations

import statistics

TOOLS = ("lockpin", "uv", "pip-compile", "pip-lock")
MODES = ("cold", "warm", "relock")
LARGEST = "science"


def summarize(records: list[dict], timings: tuple[str, ...] = ("seconds",)) -> dict[str, dict]:
    """One cell per (set, tool, mode): runs and successes, the median of each of the
    ``timings`` (``seconds`` -> ``median``, ``update_seconds`` -> ``update_median``),
    peak RSS, the last pin count and a status. Shared with report_apt.py."""
    cells: dict[str, dict] = {}
    for r in records:
        cells.setdefault(f"{r['set']}|{r['tool']}|{r['mode']}", {"runs": []})["runs"].append(r)
    for cell in cells.values():
        ok = [r for r in cell["runs"] if r["ok"]]
        cell["n"], cell["n_ok"] = len(cell["runs"]), len(ok)
        for key in timings:
            values = [r[key] for r in ok if key in r]
            cell[key.replace("seconds", "median")] = statistics.median(values) if values else None
        cell["rss_mb"] = max(r["max_rss_kib"] * 1024 / 1e6 for r in ok) if ok else None
        cell["pins"] = ok[-1]["pins"] if ok else None
        cell["status"] = "ok" if ok else cell["runs"][-1]["status"]
        cell.pop("runs")
    return cells


def med(cells: dict, name: str, tool: str, mode: str, key: str = "median") -> float | None:
    return cells.get(f"{name}|{tool}|{mode}", {}).get(key)


def ratio(cells: dict, name: str, a: str, b: str, mode: str) -> float | None:
    x, y = med(cells, name, a, mode), med(cells, name, b, mode)
    return x / y if x is not None and y else None


def targets(cells: dict, sets: list[str]) -> list[tuple[str, str, str]]:
    """(target, measured, status) rows; 'not met' also when lockpin has no result."""

    def verdict(values: list[float | None], ok) -> str:
        if not values:
            return "not measured"
        return "met" if all(v is not None and ok(v) for v in values) else "not met"

    def fmt(v: float | None, unit: str = "") -> str:
        return "failed" if v is None else f"{v:.2f}{unit}"

    rows = []
    for mode, limit in (("cold", 1.5), ("warm", 1.0)):
        run = [s for s in sets if med(cells, s, "uv", mode) and f"{s}|lockpin|{mode}" in cells]
        vals = [ratio(cells, s, "lockpin", "uv", mode) for s in run]
        shown = ", ".join(f"{s} {fmt(v)}" for s, v in zip(run, vals, strict=True))
        rows.append((f"{mode} cache: lockpin/uv <= {limit} on every set", shown or "-",
                     verdict(vals, lambda v, lim=limit: v <= lim)))  # fmt: skip
    big = LARGEST if LARGEST in sets else max(sets, key=lambda s: pins_of(cells, s))
    on = f"on {big}" + ("" if big == LARGEST else " (science not run)")
    ran = {m: f"{big}|lockpin|{m}" in cells for m in MODES}

    def single(label: str, measured: bool, value: float | None, unit: str, ok) -> None:
        shown = fmt(value, unit) if measured else "-"
        rows.append((f"{label} {on}", shown, verdict([value] if measured else [], ok)))

    single("re-lock, unchanged lockfile, warm: lockpin <= 0.5 s", ran["relock"],
           med(cells, big, "lockpin", "relock"), " s", lambda v: v <= 0.5)  # fmt: skip
    have_pc = ran["cold"] and med(cells, big, "pip-compile", "cold") is not None
    single("cold: pip-compile/lockpin >= 20", have_pc,
           ratio(cells, big, "pip-compile", "lockpin", "cold"), "", lambda v: v >= 20)  # fmt: skip
    rss = [cells.get(f"{big}|lockpin|{m}", {}).get("rss_mb") for m in MODES]
    peak = max((v for v in rss if v is not None), default=None)
    single("peak RSS of lockpin <= 120 MB", any(ran.values()), peak, " MB", lambda v: v <= 120)
    return rows


def pins_of(cells: dict, name: str) -> int:
    return max((c["pins"] or 0 for k, c in cells.items() if k.startswith(f"{name}|")), default=0)


def pins_text(cells: dict, name: str, tools: list[str]) -> str:
    """uv's pin count (else the largest), plus every tool that pinned a different number."""
    got = {}
    for t in tools:
        counts = [cells.get(f"{name}|{t}|{m}", {}).get("pins") for m in MODES]
        got[t] = next((c for c in counts if c), None)
    ref = got.get("uv") or pins_of(cells, name)
    odd = [f"{t.replace('-', ' ')} {n}" for t, n in got.items() if n and n != ref]
    return f"{ref or '?'}" + (f" ({', '.join(odd)})" if odd else "")


def cell_text(cells: dict, name: str, tool: str, mode: str) -> str:
    cell = cells.get(f"{name}|{tool}|{mode}")
    if cell is None:
        return "n/a"
    if cell["median"] is None:
        return cell["status"]
    text = f"{cell['median']:.2f}" + ("†" if cell["n_ok"] < cell["n"] else "")
    r = ratio(cells, name, tool, "uv", mode)
    return text if tool == "uv" or r is None else f"{text} ({r:.1f}×)"


def markdown(res: dict) -> str:
    a, cells, v, m = res["settings"], res["cells"], res["versions"], res["machine"]
    tools = [t for t in TOOLS if t in a["tools"]]
    heads = " | ".join(t.replace("pip-lock", "pip lock") for t in tools)
    pc_note = ("`--pip-args '--uploaded-prior-to T'`" if res["uploaded_prior_to"]
               else "**no cut-off** (this pip lacks `--uploaded-prior-to`)")  # fmt: skip
    hashing = HASHES_JSON if res["pip_tools_json_api"] else HASHES_DOWNLOAD
    out = [
        "# Benchmarks", "",
        f"Generated by `python benchmarks/compare.py` on {res['date']}; raw numbers in "
        "`benchmarks/results/latest.json`. Do not edit by hand: rerun the harness.", "",
        "## Machine and settings", "", "| | |", "|---|---|",
        f"| CPU | {m['cpu']} |", f"| memory | {m['memory']} |", f"| OS | {m['os']} |",
        f"| host Python (runs pip-compile, pip lock, lockpin) | {m['python']} |",
        f"| target | CPython {a['python_version']}, linux x86_64 (uv: `{res['uv_platform']}`, "
        f"lockpin: `{res['lockpin_platform']}`) |",
        f"| index | `{res['index_url']}` (machine pip/uv config ignored) |",
        f"| exclude-newer | `{res['exclude_newer']}` for every tool |",
        f"| runs per cell | {a['runs']}, tools alternated round-robin; median shown |",
        f"| versions | lockpin {v.get('lockpin')} ({m['lockpin_commit']}), uv {v.get('uv')}, "
        f"pip-tools {v.get('pip-tools')}, pip {v.get('pip')} |", "",
        "## Wall time", "",
        "Median seconds; in brackets the ratio to uv. `n/a`: not applicable or not run; "
        "`failed`/`timeout`: no successful run; †: some runs failed (median of the rest).", "",
        f"| set | pins | mode | {heads} | pip-compile/lockpin |",
        "|---|---:|---|" + "---:|" * (len(tools) + 1),
    ]  # fmt: skip
    for name in a["sets"]:
        for mode in a["modes"]:
            pc = ratio(cells, name, "pip-compile", "lockpin", mode)
            row = [name, pins_text(cells, name, tools), mode]
            row += [cell_text(cells, name, t, mode) for t in tools]
            row.append("n/a" if pc is None else f"{pc:.1f}")
            out.append("| " + " | ".join(row) + " |")
    out += ["", "## Peak RSS", "", "Largest `ru_maxrss` of the tool's process over all its "
            "runs on the set (MB = 10^6 bytes).", "",
            f"| set | {heads} |",
            "|---|" + "---:|" * len(tools)]  # fmt: skip
    for name in a["sets"]:
        vals = [[cells.get(f"{name}|{t}|{md}", {}).get("rss_mb") for md in MODES] for t in tools]
        row = [f"{max(x for x in vs if x):.0f}" if any(vs) else "n/a" for vs in vals]
        out.append(f"| {name} | " + " | ".join(row) + " |")
    out += ["", "## Targets", "", "Measured side by side in this run; never asserted in tests.",
            "", "| target | measured | status |", "|---|---|---|"]  # fmt: skip
    out += [f"| {t} | {meas} | {st} |" for t, meas, st in targets(cells, a["sets"])]
    out += ["", "![wall time per set, log scale](img/benchmarks.png)", "", METHOD.format(
        pc_note=pc_note, timeout=a["timeout"], hashing=hashing)]  # fmt: skip
    return "\n".join(out)


METHOD = """## How the numbers are taken

- **cold**: a fresh, empty cache directory for every run, no output file. Before a set's
  timed cold runs each tool runs it once cold, untimed (`--no-cdn-warmup` skips it): PyPI's
  CDN is slower on files it has not served lately, and the first tool would pay for both.
- **warm**: the cache filled by one untimed run of the same tool on the same set just
  before this mode's timed runs (well within a 600 s page TTL); the output file is
  deleted first, so only the cache helps.
- **relock** (lockpin and uv): the same, refilled, *and* the output file of that fill
  left in place unchanged; both tools take its pins as preferences.
- Wall time is `time.perf_counter()` around the child; peak RSS is `ru_maxrss` from
  `os.wait4()` on that child. Each run has a {timeout:.0f} s timeout.
- Isolation: `PIP_CONFIG_FILE=/dev/null`, all other `PIP_*`/`UV_*` variables removed
  (the trust store `PIP_CERT` is kept), `UV_NO_CONFIG=1`, `XDG_CACHE_HOME` and
  `PIP_CACHE_DIR` inside the run's cache directory, `--index-url`/`--default-index`
  `https://pypi.org/simple` for every tool.
- Command lines (`X` = target Python, `T` = exclude-newer):
  - lockpin: `lockpin compile SET.in -o OUT --python-version X --platform linux/amd64
    --exclude-newer T --cache-dir DIR --index-url URL -q`
  - uv: `uv pip compile SET.in --generate-hashes --python-version X --python-platform
    x86_64-manylinux_2_28 --exclude-newer T --cache-dir DIR --default-index URL -o OUT
    --no-header -q`
  - pip-compile: `pip-compile SET.in --generate-hashes --strip-extras --allow-unsafe
    --no-header -o OUT --cache-dir DIR --index-url URL` with {pc_note}
  - pip lock: `pip lock -r SET.in -o pylock.SET.toml --cache-dir DIR --index-url URL
    --uploaded-prior-to T -q`

## Caveats

- pip-compile and pip lock have no target options: they resolve for the interpreter
  they run on (the host Python). The default target is therefore the host's full version
  (`python_full_version` markers differ between 3.11.0 and 3.11.7); with a
  `--python-version` that is not a prefix of the host's, their cells read `n/a`.
- {hashing}
- pip and pip-compile cache HTTP responses only as the server's `Cache-Control` allows;
  an index front that sends no caching headers leaves their cache almost empty, so their
  *warm* numbers are close to *cold* (see `cache_bytes` in the raw results).
- `pip lock` writes `pylock.toml` (PEP 751), the others `requirements.txt` with hashes;
  `pip lock` is marked experimental by pip.
- Network latency to the index dominates every cold number; compare ratios from one run,
  not absolute seconds across machines or days.

## How to rerun

```
python benchmarks/compare.py                          # all sets, all tools, 3 runs
python benchmarks/compare.py --sets flask,web --runs 1 --no-write   # quick look, stdout
python benchmarks/compare.py --tools lockpin,uv --modes warm,relock
```

A full run (five sets, three runs) takes about 40 minutes on 2 cores, most of it
pip-compile on `science` and `devtools`; `--tools lockpin,uv,pip-lock` takes a few minutes.
The first run creates `benchmarks/.venv` (uv, pip-tools, pip >= 25.1, matplotlib and
lockpin from this checkout, editable); scratch caches, outputs and logs go to
`benchmarks/.work/` (both git-ignored). Sets are described in `benchmarks/sets/README.md`.
"""


HASHES_JSON = "pip-compile took its hashes from the index's JSON API (`<index base>/NAME/json`)."
HASHES_DOWNLOAD = (
    "pip-compile (pip-tools) asks `<index base>/NAME/json` for hashes; that answered 404 "
    "here, so it **downloaded and hashed every file of every pinned version** (wheels for all "
    "platforms), and its times include those downloads. uv, pip lock and lockpin take the "
    "hashes from the simple index pages."
)


def splice_section(page: str, section: str, begin: str, end: str) -> str:
    """``page`` with its generated section (``begin`` ... ``end``) replaced by
    ``section``, or ``section`` appended when it has none."""
    start = page.find(begin)
    if start >= 0:
        stop = page.find(end, start)
        tail = page[stop + len(end) :].strip("\n") if stop >= 0 else ""
        return page[:start] + section + ("\n\n" + tail if tail else "") + "\n"
    return page.rstrip("\n") + "\n\n" + section + "\n"


def carry_over_section(old_page: str, new_page: str, begin: str, end: str) -> str:
    """``new_page`` with the generated section (``begin`` ... ``end``) of ``old_page``
    kept, so that rerunning one harness keeps another's numbers."""
    start = old_page.find(begin)
    if start < 0:
        return new_page
    stop = old_page.find(end, start)
    section = old_page[start : stop + len(end)] if stop >= 0 else old_page[start:].rstrip("\n")
    return splice_section(new_page, section, begin, end)
