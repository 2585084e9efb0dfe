#!/usr/bin/env python3
"""Time lockpin against `uv pip compile`, `pip-compile` and `pip lock` on benchmarks/sets/.

    python benchmarks/compare.py [--sets flask,web,science] [--runs 3]
        [--tools lockpin,uv,pip-compile,pip-lock] [--python-version 3.11] [--no-write]
    python benchmarks/compare.py --corpus [--sets NAME,...] [--modes cold,warm]

Standard library only. The peers (and lockpin, editable) live in benchmarks/.venv, which
this script creates on first use; the chart is drawn by benchmarks/chart.py run there.
Writes docs/benchmarks.md, docs/img/benchmarks.png and benchmarks/results/latest.json.
With --corpus: lockpin and uv on the real-world files of benchmarks/sets/real/ (one cold
run each, 120 s timeout, target 3.12, pins compared), written to the "Real-world corpus"
section of docs/benchmarks.md and benchmarks/results/corpus.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import report_corpus
from report import MODES, TOOLS, markdown, summarize
from report_apt import carry_over

EXCLUDE_NEWER = "2026-10-01T00:00:00Z"
INDEX_URL = "https://pypi.org/simple"
UV_PLATFORM = "x86_64-manylinux_2_28"
LOCKPIN_PLATFORM = "linux/amd64"
RELOCK_TOOLS = ("lockpin", "uv")  # both reuse the pins of an existing output file
HOST_ONLY = ("pip-compile", "pip-lock")  # resolve for the interpreter they run on
BENCH_PACKAGES = ("pip>=25.1", "uv", "pip-tools", "matplotlib")
DEFAULT_SETS = ("flask", "web", "devtools", "cloud", "science")

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
VENV = BENCH / ".venv"
BIN = VENV / "bin"
WORK = BENCH / ".work"
RESULTS = BENCH / "results" / "latest.json"
CORPUS_RESULTS = BENCH / "results" / "corpus.json"
CORPUS_EXCLUDE_NEWER = "2026-11-01T00:00:00Z"  # the files were copied in 2026-08 and later
DOC = ROOT / "docs" / "benchmarks.md"
IMG = ROOT / "docs" / "img" / "benchmarks.png"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -- the bench venv ----------------------------------------------------------------------


def ensure_venv() -> None:
    """Create/refresh benchmarks/.venv; reinstall when pyproject.toml or the pins change."""
    stamp = VENV / ".bench-stamp"
    want = hashlib.sha256(
        (ROOT / "pyproject.toml").read_bytes() + " ".join(BENCH_PACKAGES).encode()
    ).hexdigest()
    if stamp.is_file() and stamp.read_text() == want:
        return
    log(f"setting up {VENV} ...")
    if not (BIN / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(BIN / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "-U", BENCH_PACKAGES[0]], check=True)
    subprocess.run([*pip, "-U", *BENCH_PACKAGES[1:]], check=True)
    if subprocess.run([*pip, "-e", str(ROOT)], check=False).returncode != 0:
        log("warning: installing lockpin failed; its cells will read 'failed'")
        return  # no stamp: retry next time
    stamp.write_text(want)


def byte_compile_lockpin() -> None:
    """Write lockpin's bytecode, as ``pip install`` does for an installed package: the
    editable install runs the working tree, and with ``PYTHONDONTWRITEBYTECODE`` set (as
    in CI shells) every timed run would compile every module from source again (~0.1 s
    that no installed lockpin pays). Up-to-date files are skipped."""
    cmd = [str(BIN / "python"), "-m", "compileall", "-q", str(ROOT / "src" / "lockpin")]
    subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL)


def venv_python(code: str) -> str:
    cmd = [str(BIN / "python"), "-c", code]
    return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()


def tool_versions() -> dict[str, str]:
    code = (
        "import importlib.metadata as m\n"
        "for d in ('lockpin', 'uv', 'pip-tools', 'pip'):\n"
        "    try: print(d, m.version(d))\n"
        "    except m.PackageNotFoundError: print(d, 'not installed')\n"
    )
    return dict(line.split(" ", 1) for line in venv_python(code).splitlines())


def pip_tools_json_api() -> bool:
    """pip-tools takes hashes from <index base>/<name>/json; on a 404 it downloads every file."""
    try:
        with urllib.request.urlopen(f"{INDEX_URL.removesuffix('simple')}flask/json", timeout=30):
            return True
    except (urllib.error.URLError, OSError):
        return False


def pip_supports_uploaded_prior_to() -> bool:
    cmd = [str(BIN / "python"), "-m", "pip", "install", "--help"]
    help_text = subprocess.run(cmd, capture_output=True, text=True, check=False).stdout
    return "--uploaded-prior-to" in help_text


# -- one timed run -----------------------------------------------------------------------


def tool_env(cache: Path) -> dict[str, str]:
    """The machine's pip/uv configuration is ignored; every tool sees only INDEX_URL."""
    drop = ("PIP_", "UV_", "LOCKPIN_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    if "PIP_CERT" in os.environ:  # TLS trust store, not index configuration
        env["PIP_CERT"] = os.environ["PIP_CERT"]
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
        PIP_CACHE_DIR=str(cache / "pip"),  # pip inside pip-compile
        XDG_CACHE_HOME=str(cache / "xdg"),  # anything that still falls back to ~/.cache
        UV_NO_CONFIG="1",
        UV_PYTHON_DOWNLOADS="never",
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        VIRTUAL_ENV=str(VENV),
    )
    return env


def command(tool: str, src: Path, out: Path, cache: Path, pyver: str, prior: bool,
            cut_off: str = EXCLUDE_NEWER) -> list[str]:  # fmt: skip
    c = str(cache / "tool")
    if tool == "lockpin":
        return [str(BIN / "lockpin"), "compile", str(src), "-o", str(out),
                "--python-version", pyver, "--platform", LOCKPIN_PLATFORM,
                "--exclude-newer", cut_off, "--cache-dir", c,
                "--index-url", INDEX_URL, "-q"]  # fmt: skip
    if tool == "uv":
        return [str(BIN / "uv"), "pip", "compile", str(src), "--generate-hashes",
                "--python-version", pyver, "--python-platform", UV_PLATFORM,
                "--exclude-newer", cut_off, "--cache-dir", c,
                "--default-index", INDEX_URL, "-o", str(out), "--no-header", "-q"]  # fmt: skip
    cut = ["--uploaded-prior-to", cut_off] if prior else []
    if tool == "pip-compile":
        return [str(BIN / "pip-compile"), str(src), "--generate-hashes", "--strip-extras",
                "--allow-unsafe", "--no-header", "-o", str(out), "--cache-dir", c,
                "--index-url", INDEX_URL, "--pip-args", " ".join(cut), "-q"]  # fmt: skip
    return [str(BIN / "python"), "-m", "pip", "lock", "-r", str(src), "-o", str(out),
            "--cache-dir", c, "--index-url", INDEX_URL, *cut, "-q"]  # fmt: skip


def measure(cmd: list[str], env: dict[str, str], logfile: Path, timeout: float) -> dict:
    """Wall time and the child's peak RSS (wait4), with a hard timeout."""
    logfile.parent.mkdir(parents=True, exist_ok=True)
    killed = threading.Event()
    with logfile.open("wb") as fh:
        t0 = time.perf_counter()
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=fh, stderr=fh,
                                    env=env, cwd=WORK, start_new_session=True)  # fmt: skip
        except OSError as exc:
            return {"ok": False, "status": "failed", "error": str(exc)}

        def kill() -> None:
            killed.set()
            os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        seconds = time.perf_counter() - t0
    proc.returncode = rc = os.waitstatus_to_exitcode(status)
    tail = logfile.read_text(errors="replace")[-600:]
    state = "timeout" if killed.is_set() else ("ok" if rc == 0 else "failed")
    return {"ok": state == "ok", "status": state, "rc": rc, "seconds": round(seconds, 4),
            "max_rss_kib": usage.ru_maxrss, "error": "" if rc == 0 else tail}  # fmt: skip


def count_pins(out: Path) -> int | None:
    if not out.is_file() or out.stat().st_size == 0:
        return None
    text = out.read_text(errors="replace")
    if out.suffix == ".toml":
        return text.count("[[packages]]")
    return len(re.findall(r"(?m)^[A-Za-z0-9][A-Za-z0-9._-]*(?:\[[^\]]*\])?\s*==", text))


def tree_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# -- the run plan ------------------------------------------------------------------------


class Runner:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.prior = pip_supports_uploaded_prior_to()
        self.records: list[dict] = []
        self.primed: dict[tuple[str, str], dict] = {}
        self.fills: list[dict] = []
        self.cut_off = CORPUS_EXCLUDE_NEWER if args.corpus else EXCLUDE_NEWER

    def source(self, name: str) -> Path:
        """The input file of a set; a corpus pyproject.toml is copied to a directory of
        its own under the name both tools recognise."""
        if not self.args.corpus:
            return BENCH / "sets" / f"{name}.in"
        real = report_corpus.REAL
        if (real / f"{name}.in").is_file():
            return real / f"{name}.in"
        dest = WORK / "corpus" / name / "pyproject.toml"
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes((real / f"{name}.toml").read_bytes())
        return dest

    def paths(self, tool: str, name: str, mode: str, run: int) -> tuple[Path, Path]:
        ext = f"pylock.{name}.toml" if tool == "pip-lock" else f"{name}.txt"
        leaf = f"cold-{run}" if mode == "cold" else "warm"  # warm and relock share one cache
        cache = WORK / "cache" / tool / name / leaf
        out = WORK / "out" / tool / mode / ext
        return cache, out

    def run(self, tool: str, name: str, mode: str, run: int) -> dict:
        cache, out = self.paths(tool, name, mode, run)
        if mode == "cold":
            shutil.rmtree(cache, ignore_errors=True)
        if mode != "relock":  # cold and warm start without an output file to reuse
            out.unlink(missing_ok=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        src = self.source(name)
        cmd = command(tool, src, out, cache, self.args.python_version, self.prior, self.cut_off)
        logfile = WORK / "logs" / f"{name}-{tool}-{mode}-{run}.log"
        rec = measure(cmd, tool_env(cache), logfile, self.args.timeout)
        if rec["ok"] and count_pins(out) is None:
            rec.update(ok=False, status="failed", error="no output file written")
        rec.update(set=name, tool=tool, mode=mode, run=run, pins=count_pins(out))
        rec["cache_bytes"] = tree_bytes(cache) if cache.exists() else 0
        if mode == "cold":
            shutil.rmtree(cache, ignore_errors=True)
        rss = f"{rec.get('max_rss_kib', 0) * 1024 / 1e6:6.0f} MB"
        secs = f"{rec['seconds']:7.2f} s" if "seconds" in rec else "      - "
        label = "fill  " if run < 0 else f"{mode:<6}"
        label += f" {tool:<11} " + ("     " if run < 0 else f"run {run + 1}")
        log(f"[{name:>8}] {label}: {secs} {rss}  {rec['status']}")
        return rec

    def prime(self, tool: str, name: str) -> dict:
        """Fill the warm cache (and leave the output file that relock reuses); untimed."""
        cache, _ = self.paths(tool, name, "warm", 0)
        shutil.rmtree(cache, ignore_errors=True)
        rec = self.run(tool, name, "relock", -1)
        self.primed[tool, name] = rec
        self.fills.append({k: rec.get(k) for k in ("set", "tool", "ok", "seconds", "cache_bytes")})
        return rec

    def applicable(self, tool: str, mode: str) -> bool:
        if mode == "relock" and tool not in RELOCK_TOOLS:
            return False
        host, want = self.args.host_version.split("."), self.args.python_version.split(".")
        return tool not in HOST_ONLY or host[: len(want)] == want

    def go(self) -> None:
        for name in self.args.sets:
            for mode in self.args.modes:
                tools = [t for t in self.args.tools if self.applicable(t, mode)]
                if mode != "cold":  # refill per phase, slow peers first: entries stay fresh
                    for tool in reversed(tools):
                        self.prime(tool, name)
                if mode == "cold" and self.args.cdn_warmup:
                    # An untimed cold run of each tool first: PyPI's CDN serves a file it
                    # has not served lately slower, and whichever tool ran first would
                    # pay for both (lockpin, first in each single-run corpus row, did).
                    for tool in tools:
                        rec = self.run(tool, name, "cold", -1)
                        keep = ("set", "tool", "ok", "seconds")
                        self.fills.append({k: rec.get(k) for k in keep})
                for run in range(self.args.runs):
                    k = run % max(len(tools), 1)
                    for tool in tools[k:] + tools[:k]:  # round-robin start per run
                        filled = self.primed.get((tool, name), {"ok": True})["ok"]
                        if mode == "cold" or filled:
                            self.records.append(self.run(tool, name, mode, run))
                            continue
                        rec = {"set": name, "tool": tool, "mode": mode, "run": run, "ok": False}
                        rec.update(status="failed", error="the cache-filling run failed")
                        log(f"[{name:>8}] {mode:<6} {tool:<11} run {run + 1}: fill failed")
                        self.records.append(rec)


def machine(python: str) -> dict[str, str]:
    """The machine, its OS, ``python``'s version (the Python that runs lockpin) and
    lockpin's commit, as the results record them."""
    cpu = mem = "unknown"
    try:
        cpu = re.search(r"(?m)^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text())[1]
        kib = int(re.search(r"MemTotal:\s*(\d+)", Path("/proc/meminfo").read_text())[1])
        mem = f"{kib / 2**20:.1f} GiB"
    except (OSError, TypeError):
        pass
    git = ["git", "-C", str(ROOT), "describe", "--always", "--dirty"]
    head = subprocess.run(git, capture_output=True, text=True, check=False).stdout.strip()
    code = ["-c", "import platform; print(platform.python_version())"]
    py = subprocess.run([python, *code], capture_output=True, text=True, check=False).stdout
    return {"cpu": f"{cpu} ({os.cpu_count()} cores)", "memory": mem, "os": platform.platform(),
            "python": py.strip(), "lockpin_commit": head or "unknown"}  # fmt: skip


def write_corpus(runner: Runner, res: dict, no_write: bool) -> int:
    """Compare the pins of the cold lockfiles and write the corpus section and JSON."""
    res["exclude_newer"] = runner.cut_off
    res["pins"] = {}
    for name in runner.args.sets:
        mode = "cold" if "cold" in runner.args.modes else runner.args.modes[0]
        got = {t: report_corpus.read_pins(runner.paths(t, name, mode, 0)[1])
               for t in ("lockpin", "uv")}  # fmt: skip
        cmp = report_corpus.compare(got["lockpin"], got["uv"])
        for t, pins in got.items():
            cmp[f"{t}_pins"] = None if pins is None else len(pins)
        res["pins"][name] = cmp
        log(f"[{name}] pins equal: {cmp['equal']} {cmp['differ'][:3]}")
    text = report_corpus.markdown(res)
    if no_write:
        print(text)
        return 0
    CORPUS_RESULTS.parent.mkdir(parents=True, exist_ok=True)
    CORPUS_RESULTS.write_text(json.dumps(res, indent=1, sort_keys=True) + "\n")
    DOC.write_text(report_corpus.splice(DOC.read_text() if DOC.is_file() else "", text))
    log(f"wrote {DOC.relative_to(ROOT)}, {CORPUS_RESULTS.relative_to(ROOT)}")
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    csv = lambda s: [x.strip() for x in s.split(",") if x.strip()]  # noqa: E731
    p.add_argument("--sets", type=csv, default=list(DEFAULT_SETS), help="names in sets/")
    p.add_argument("--runs", type=int, default=3, help="timed runs per cell (median)")
    p.add_argument("--tools", type=csv, default=list(TOOLS), help=",".join(TOOLS))
    p.add_argument("--modes", type=csv, default=list(MODES), help=",".join(MODES))
    p.add_argument("--python-version", help="target X.Y[.Z] (default: the host's full version)")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds per run")
    p.add_argument("--no-write", action="store_true", help="print the Markdown only")
    p.add_argument("--no-cdn-warmup", dest="cdn_warmup", action="store_false",
                   help="no untimed cold run of each tool before timed cold runs")  # fmt: skip
    p.add_argument("--corpus", action="store_true",
                   help="the real-world files of sets/real/ (lockpin and uv, cold, 1 run, "
                   "120 s timeout, target 3.12 unless given)")  # fmt: skip
    args = p.parse_args()
    if args.corpus:
        given = {a.split("=")[0] for a in sys.argv[1:]}
        names = [e["name"] for e in report_corpus.entries()]
        defaults = {"--sets": names, "--tools": ["lockpin", "uv"], "--modes": ["cold"],
                    "--runs": 1, "--timeout": 120.0, "--python-version": "3.12"}  # fmt: skip
        for flag, value in defaults.items():
            if flag not in given:
                setattr(args, flag[2:].replace("-", "_"), value)
        if bad := set(args.sets) - set(names):
            p.error(f"not in benchmarks/sets/real/sources.toml: {sorted(bad)}")
    for value, allowed in ((args.tools, TOOLS), (args.modes, MODES)):
        if bad := set(value) - set(allowed):
            p.error(f"unknown {sorted(bad)}; choose from {','.join(allowed)}")
    for name in [] if args.corpus else args.sets:
        if not (BENCH / "sets" / f"{name}.in").is_file():
            p.error(f"no benchmarks/sets/{name}.in")
    ensure_venv()
    byte_compile_lockpin()
    args.host_version = venv_python("import platform; print(platform.python_version())")
    args.python_version = args.python_version or args.host_version
    WORK.mkdir(exist_ok=True)
    runner = Runner(args)
    runner.go()
    settings = {k: v for k, v in vars(args).items() if k != "no_write"}
    res = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "exclude_newer": EXCLUDE_NEWER, "index_url": INDEX_URL, "settings": settings,
        "uv_platform": UV_PLATFORM, "lockpin_platform": LOCKPIN_PLATFORM,
        "machine": machine(str(BIN / "python")), "versions": tool_versions(),
        "uploaded_prior_to": runner.prior, "pip_tools_json_api": pip_tools_json_api(),
        "cells": summarize(runner.records),
        "fills": runner.fills,
        "records": runner.records,
    }  # fmt: skip
    if args.corpus:
        return write_corpus(runner, res, args.no_write)
    text = markdown(res)
    if args.no_write:
        print(text)
        return 0
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(res, indent=1, sort_keys=True) + "\n")
    IMG.parent.mkdir(parents=True, exist_ok=True)
    chart = [str(BIN / "python"), str(BENCH / "chart.py"), str(RESULTS), str(IMG)]
    env = {**os.environ, "MPLCONFIGDIR": str(WORK / "matplotlib")}
    if subprocess.run(chart, env=env, check=False).returncode != 0:
        log("warning: the chart could not be drawn")
    old = DOC.read_text() if DOC.is_file() else ""
    new = report_corpus.carry_over(old, carry_over(old, text + "\n"))
    DOC.write_text(new)  # keeps compare_apt.py's and the corpus section
    log(f"wrote {DOC.relative_to(ROOT)}, {IMG.relative_to(ROOT)}, {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
