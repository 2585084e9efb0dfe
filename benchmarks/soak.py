#!/usr/bin/env python3
"""Soak: many real ``lockpin`` processes through a faulty proxy, some killed with SIGKILL.

    python3 benchmarks/soak.py [--python 50] [--apt 20] [--image 20] [--seed 1]
        [--kill-rate 0.2] [--fault-rate 0.2] [--out benchmarks/results/soak.json]

Run it from the dev venv (lockpin and its test extras importable). It starts the
test suite's own fixture servers on 127.0.0.1 (``tests/fixtures``): the PEP 691
index of the standard set (built as ``tests/conftest.py`` builds it), a signed apt
archive (``build_archive`` + ``AptArchiveServer`` + a throw-away gpg key) and
Debian's real ``docker-registry`` with images pushed by skopeo (skipped, with a
message, when those tools are missing). A :class:`fixtures.fault_proxy.FaultProxy`
sits in front of each with ``chaos(rate=--fault-rate)``: every request may get a
503, a 429 (``Retry-After: 0``), a TCP reset or a body cut short, at most 3 in a
row per request (lockpin retries 3 times), so every run *can* finish.

Then, per kind, one clean reference run (no faults), and N runs of
``python -m lockpin``, each (with probability --kill-rate, seeded) SIGKILLed at a
random moment in the last three quarters of a clean run's duration:

* python: ``lockpin compile`` of nine projects of the standard set (pages,
  ``.metadata`` files, range requests, whole downloads to hash); every
  other run with ``--no-cache`` (all of it over the network), the others on the
  shared cache with ``--refresh`` (every page revalidated);
* apt: ``lockpin apt compile`` against the archive, the same mix;
* image: ``lockpin image resolve --format json`` (stdout), then ``lockpin
  dockerfile pin`` (a Dockerfile rewritten in place), half the --image runs each.

Every soak run has ``--deadline 120`` (the reference runs none: the option must not
change a byte). Half the runs of a lock start with an old, different lock in place
(of other inputs); every ``dockerfile pin`` starts from the unpinned Dockerfile;
the other runs start with no output file. What must hold:

* every run that finished exited 0 and its output is byte-identical to the
  reference (the faults are transient: lockpin must absorb them);
* every killed run left the output absent (if it was), the old file, or the new
  one complete: never a partial file ("nothing lost");
* no stderr holds a traceback;
* the shared cache is usable: a last clean run on it equals the reference.

Prints a Markdown table and writes ``--out`` (JSON); exits 1 if anything did not
hold. All the processes it starts are stopped at the end (each run in its own
process group).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from fixtures.fault_proxy import FaultProxy

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
#: a run that takes longer than this is killed and counted as hung
RUN_TIMEOUT = 180.0
#: lockpin's default --retries: chaos never faults one request more often in a row
RETRIES = 3
#: the --deadline of every soak run (far more than a run needs, faults included)
DEADLINE = 120

#: pages, .metadata files, range requests into wheels (nometa), whole downloads to hash
#: (nohash: md5 only, nohash2: no hash), a static sdist (onlysdist). Not ``moved``: its
#: redirect makes each attempt two requests to two paths, and the proxy's bound of
#: faults in a row is per path, so four failed attempts in a row could happen (seed 1
#: did: 1 run in 50) — the proxy's bound, not lockpin's retries, would be at fault.
PYTHON_INPUT = (
    "beta\nwithextras[fast]\nonlysdist\nplatwheel\nFoo.Bar_baz\nnohash\nnohash2\nhidden\nnometa\n"
)
PYTHON_OLD_INPUT = "alpha==1.0\n"
TARGET = ["--python-version", "3.12", "--platform", "linux/amd64"]
APT_INPUT = "mailer\njson-user\nneeds-awk\n"
APT_OLD_INPUT = "tzinfo\n"


@dataclass
class Tally:
    """What happened to the runs of one kind."""

    kind: str
    runs: int = 0
    completed: int = 0
    killed: int = 0
    #: runs drawn for a kill that finished before their moment came (counted completed)
    outran_kill: int = 0
    #: finished but exited non-zero (a fault lockpin did not absorb)
    failed: int = 0
    hung: int = 0
    identical: int = 0
    different: int = 0
    #: killed runs by what they left: the state before, the new output complete
    left_before: int = 0
    left_new: int = 0
    #: outputs neither before-state nor complete (a partial or foreign file)
    lost: int = 0
    tracebacks: int = 0
    #: ``.NAME.XXXXXXXX.tmp`` files a killed write left behind (removed by later writes)
    stray_temp_files: int = 0
    faults_injected: int = 0
    #: the faults injected by kind (``status503``, ``reset``, ``cut``, ``status429``)
    faults_by_kind: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    cache_usable: bool | None = None
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def held(self) -> bool:
        return (
            self.failed == self.hung == self.different == self.lost == self.tracebacks == 0
            and self.cache_usable is not False
        )


@dataclass
class Kind:
    """How to run one kind of command and where its output lands."""

    name: str
    workdir: Path
    #: ``argv(i)``: the lockpin arguments of run ``i`` (``-1``: a reference run)
    argv: Callable[[int], list[str]]
    #: the file the command writes; ``None``: its stdout is the output
    output: Path | None
    #: what the output file holds before a run that starts with an old file
    old: bytes | None
    #: the files of ``workdir`` that belong there (anything else is a stray temp file)
    inputs: tuple[str, ...] = ()
    #: every run starts from ``old`` (a file rewritten in place: a Dockerfile)
    always_old: bool = False


def log(message: str) -> None:
    print(f"soak: {message}", file=sys.stderr, flush=True)


# -- one lockpin process --------------------------------------------------------------------------


@dataclass
class Outcome:
    code: int | None  # None: killed
    stdout: bytes
    stderr: str
    seconds: float
    hung: bool = False


def run_lockpin(
    argv: list[str], *, cwd: Path, env: dict[str, str], kill_after: float | None
) -> Outcome:
    """``python -m lockpin ARGV`` in its own process group, SIGKILLed (with anything
    it started) after ``kill_after`` seconds if it is still running then."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "lockpin", *argv],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
        hung = False
        try:
            proc.wait(timeout=RUN_TIMEOUT if kill_after is None else kill_after)
        except subprocess.TimeoutExpired:
            hung = kill_after is None
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        seconds = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        code = None if proc.returncode == -signal.SIGKILL else proc.returncode
        return Outcome(code, out.read(), err.read().decode(errors="replace"), seconds, hung)


def output_of(kind: Kind, outcome: Outcome) -> bytes | None:
    if kind.output is None:
        return outcome.stdout
    return kind.output.read_bytes() if kind.output.exists() else None


def stray_temp_files(kind: Kind) -> list[Path]:
    keep = set(kind.inputs) | ({kind.output.name} if kind.output else set())
    return [p for p in kind.workdir.iterdir() if p.name not in keep]


# -- the soak of one kind -------------------------------------------------------------------------


def soak(
    kind: Kind,
    count: int,
    *,
    env: dict[str, str],
    proxy: FaultProxy,
    rng: random.Random,
    kill_rate: float,
    fault_rate: float,
) -> Tally:
    tally = Tally(kind.name)
    started = time.monotonic()

    def reset_output(old: bool) -> bytes | None:
        if kind.output is None:
            return None
        if (old or kind.always_old) and kind.old is not None:
            kind.output.write_bytes(kind.old)
            return kind.old
        kind.output.unlink(missing_ok=True)
        return None

    # the reference: no faults, a cold cache of its own
    proxy.clear()
    reset_output(False)
    cold = {**env, "LOCKPIN_CACHE_DIR": str(kind.workdir.parent / f"cache-ref-{kind.name}")}
    ref_run = run_lockpin(kind.argv(-1), cwd=kind.workdir, env=cold, kill_after=None)
    reference = output_of(kind, ref_run)
    if ref_run.code != 0 or not reference:
        raise SystemExit(f"soak: the clean reference run of {kind.name} failed:\n{ref_run.stderr}")
    log(f"{kind.name}: reference run took {ref_run.seconds:.1f}s")
    # fill the shared cache once, cleanly (later runs revalidate or skip it)
    warm = run_lockpin(kind.argv(-1), cwd=kind.workdir, env=env, kill_after=None)
    if warm.code != 0 or output_of(kind, warm) != reference:
        raise SystemExit(f"soak: the warm reference run of {kind.name} differs:\n{warm.stderr}")

    proxy.clear_log()
    for i in range(count):
        starts_old = rng.random() < 0.5
        kill = rng.random() < kill_rate
        # Within a clean run of the same cache mode, not in its first quarter (the
        # interpreter starting: nothing to break there).
        typical = ref_run.seconds if "--no-cache" in run_options(i) else warm.seconds
        kill_after = rng.uniform(0.25, 1.0) * typical if kill else None
        proxy.chaos(fault_rate, seed=rng.randrange(2**32), max_in_a_row=RETRIES)
        before = reset_output(starts_old)
        outcome = run_lockpin(kind.argv(i), cwd=kind.workdir, env=env, kill_after=kill_after)
        proxy.clear()
        tally.runs += 1
        if "Traceback" in outcome.stderr:
            tally.tracebacks += 1
            tally.problems.append(f"run {i}: traceback: {outcome.stderr[-600:]}")
        stray = stray_temp_files(kind)
        tally.stray_temp_files += len(stray)
        for path in stray:
            path.unlink()
        after = output_of(kind, outcome)
        if outcome.hung:
            tally.hung += 1
            tally.problems.append(f"run {i}: still running after {RUN_TIMEOUT:.0f}s")
        elif outcome.code is None:
            tally.killed += 1
            if kind.output is None:
                pass  # stdout of a killed process: nothing was promised
            elif after == before:
                tally.left_before += 1
            elif after == reference:
                tally.left_new += 1
            else:
                tally.lost += 1
                tally.problems.append(f"run {i}: killed, left {len(after or b'')} other bytes")
        else:
            tally.completed += 1
            tally.outran_kill += kill
            if outcome.code != 0:
                tally.failed += 1
                first = (outcome.stderr.strip().splitlines() or ["(no message)"])[0]
                tally.problems.append(f"run {i}: exit {outcome.code}: {first[:300]}")
                if kind.output is not None and after != before:
                    tally.lost += 1
                    tally.problems.append(f"run {i}: failed and changed the output")
            elif after == reference:
                tally.identical += 1
            else:
                tally.different += 1
                tally.problems.append(f"run {i}: output differs from the reference")
    tally.faults_injected = len(proxy.injected)
    for fault_kind, _path in proxy.injected:
        tally.faults_by_kind[fault_kind] = tally.faults_by_kind.get(fault_kind, 0) + 1
    tally.requests = len(proxy.requests)
    # the shared cache after every kill: a clean run on it gives the reference
    reset_output(False)
    final = run_lockpin(kind.argv(-2), cwd=kind.workdir, env=env, kill_after=None)
    tally.cache_usable = final.code == 0 and output_of(kind, final) == reference
    if not tally.cache_usable:
        tally.problems.append(f"final run on the shared cache: exit {final.code}: {final.stderr}")
    tally.seconds = time.monotonic() - started
    log(
        f"{kind.name}: {tally.runs} runs, {tally.killed} killed, {tally.faults_injected} "
        f"faults, {'held' if tally.held else 'DID NOT HOLD'}"
    )
    return tally


def run_options(i: int) -> list[str]:
    """Run ``i``'s run-only options: the reference runs (``i < 0``) plain; then every
    other run cold (``--no-cache``), the others on the shared cache, revalidated;
    all under a ``--deadline`` that transient faults must not reach (and that must
    not change a byte of the output)."""
    if i < 0:
        return []
    return ["--no-cache" if i % 2 == 0 else "--refresh", "--deadline", str(DEADLINE)]


# -- the servers ----------------------------------------------------------------------------------


@contextlib.contextmanager
def index_kind(work: Path) -> Iterator[tuple[Kind, FaultProxy]]:
    from conftest import build_standard_set, serve_standard_set
    from fixtures.fault_proxy import FaultProxy
    from fixtures.index_server import IndexServer

    dists = work / "dists"
    dists.mkdir()
    standard = build_standard_set(dists)
    server = serve_standard_set(IndexServer(standard.root), standard)
    with server, FaultProxy(server.url) as proxy:
        workdir = work / "python"
        workdir.mkdir()
        (workdir / "old.in").write_text(PYTHON_OLD_INPUT)
        base = ["-i", proxy.url + "/simple/", *TARGET, "-q"]
        old = subprocess.run(
            [sys.executable, "-m", "lockpin", "compile", "old.in", "-o", "-", *base],
            cwd=workdir,
            env={**clean_env(work), "LOCKPIN_CACHE_DIR": str(work / "cache-old")},
            capture_output=True,
            check=True,
        ).stdout
        (workdir / "old.in").unlink()
        (workdir / "requirements.in").write_text(PYTHON_INPUT)

        def argv(i: int) -> list[str]:
            # -U: the old lock's pins are not preferences (the reference has none)
            return [
                "compile", "requirements.in", "-o", "requirements.txt", "-U", *base,
                *run_options(i),
            ]  # fmt: skip

        kind = Kind(
            "python compile",
            workdir,
            argv,
            workdir / "requirements.txt",
            old,
            ("requirements.in",),
        )
        yield kind, proxy


@contextlib.contextmanager
def apt_kind(work: Path) -> Iterator[tuple[Kind, FaultProxy]]:
    from fixtures.apt_archive import (
        AptArchiveServer,
        DebCache,
        build_archive,
        make_gpg_key,
        standard_suites,
    )
    from fixtures.fault_proxy import FaultProxy

    key = make_gpg_key(work / "apt-key")
    try:
        root = work / "apt-archive"
        build_archive(root, standard_suites(), key=key, debs=DebCache(work / "apt-debs"))
        with AptArchiveServer(root) as server, FaultProxy(server.url) as proxy:
            workdir = work / "apt"
            workdir.mkdir()
            base = [
                "--release", "bookworm", "--platform", "linux/amd64",
                "--mirror", proxy.url + "/debian/",
                "--security-mirror", proxy.url + "/debian-security/",
                "--keyring", str(key.keyring), "-q",
            ]  # fmt: skip
            (workdir / "old.in").write_text(APT_OLD_INPUT)
            old_env = {**clean_env(work), "LOCKPIN_CACHE_DIR": str(work / "cache-old")}
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "lockpin",
                    "apt",
                    "compile",
                    "old.in",
                    "-o",
                    "old.lock",
                    *base,
                ],
                cwd=workdir,
                env=old_env,
                capture_output=True,
                check=True,
            )
            old = (workdir / "old.lock").read_bytes()
            (workdir / "old.lock").unlink()
            (workdir / "old.in").unlink()
            (workdir / "apt.in").write_text(APT_INPUT)

            def argv(i: int) -> list[str]:
                return ["apt", "compile", "apt.in", "-o", "apt.lock", "-U", *base, *run_options(i)]

            yield Kind("apt compile", workdir, argv, workdir / "apt.lock", old, ("apt.in",)), proxy
    finally:
        key.close()


@contextlib.contextmanager
def image_kinds(work: Path) -> Iterator[tuple[Kind, Kind, FaultProxy] | None]:
    from fixtures import oci
    from fixtures.fault_proxy import FaultProxy
    from fixtures.registry import RegistryProcess, push, tools_missing

    missing = tools_missing()
    if missing:
        log(f"skipping the image runs: they need {', '.join(missing)}")
        yield None
        return
    w = oci.LayoutWriter(work / "layout")
    w.tag("multi", oci.two_platform_index(w))
    w.tag("py", oci.python_like(w))
    w.save()
    registry = RegistryProcess(work / "registry", work / "registry-storage").start()
    try:
        push(w.root, "multi", registry.host, "public/multi:1")
        push(w.root, "py", registry.host, "library/pythonish:3.12", docker_format=True)
        with FaultProxy(registry.url) as proxy:
            resolve_dir = work / "image-resolve"
            resolve_dir.mkdir()
            ref = f"{proxy.host}/public/multi:1"

            def resolve_argv(i: int) -> list[str]:
                deadline = ["--deadline", str(DEADLINE)] if i >= 0 else []
                return ["image", "resolve", ref, "--format", "json", "-q", *deadline]

            pin_dir = work / "dockerfile-pin"
            pin_dir.mkdir()
            unpinned = (
                f"FROM {proxy.host}/library/pythonish:3.12 AS build\n"
                "RUN true\n"
                f"FROM {proxy.host}/public/multi:1\n"
                "COPY --from=build /etc/os-release /tmp/\n"
            ).encode()

            def pin_argv(i: int) -> list[str]:
                deadline = ["--deadline", str(DEADLINE)] if i >= 0 else []
                return ["dockerfile", "pin", "Dockerfile", "-q", *deadline]

            resolve = Kind("image resolve", resolve_dir, resolve_argv, None, None)
            # the old file is the unpinned Dockerfile, which every run starts from
            pin = Kind(
                "dockerfile pin",
                pin_dir,
                pin_argv,
                pin_dir / "Dockerfile",
                unpinned,
                always_old=True,
            )
            yield resolve, pin, proxy
    finally:
        registry.stop()


def clean_env(work: Path) -> dict[str, str]:
    """The children's environment: no LOCKPIN_* of the caller, one shared cache, an
    empty Docker config (never the machine's credentials)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCKPIN_")}
    env["LOCKPIN_CACHE_DIR"] = str(work / "cache")
    env["DOCKER_CONFIG"] = str(work / "docker-config")
    env["LOCKPIN_CONFIG"] = str(work / "no-config.toml")
    (work / "docker-config").mkdir(exist_ok=True)
    (work / "no-config.toml").write_text("")
    return env


# -- the report -----------------------------------------------------------------------------------


COLUMNS = (
    ("kind", "kind"),
    ("runs", "runs"),
    ("completed", "completed"),
    ("killed", "killed"),
    ("outran its kill", "outran_kill"),
    ("failed", "failed"),
    ("faults injected", "faults_injected"),
    ("requests", "requests"),
    ("byte-identical", "identical"),
    ("killed: left old/absent", "left_before"),
    ("killed: left new", "left_new"),
    ("lost (partial)", "lost"),
    ("tracebacks", "tracebacks"),
    ("stray temp files", "stray_temp_files"),
    ("cache usable", "cache_usable"),
    ("held", "held"),
)


def markdown(tallies: list[Tally]) -> str:
    def cell(tally: Tally, attr: str) -> str:
        value = getattr(tally, attr)
        if attr == "identical":
            return f"{value}/{tally.completed}"
        if isinstance(value, bool):
            return "yes" if value else "**no**"
        return "-" if value is None else str(value)

    lines = [
        "| " + " | ".join(title for title, _ in COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    lines += ["| " + " | ".join(cell(t, a) for _, a in COLUMNS) + " |" for t in tallies]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--python", type=int, default=50, help="lockpin compile runs (50)")
    parser.add_argument("--apt", type=int, default=20, help="lockpin apt compile runs (20)")
    parser.add_argument(
        "--image", type=int, default=20, help="image runs, resolve and dockerfile pin (20)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--kill-rate", type=float, default=0.2)
    parser.add_argument("--fault-rate", type=float, default=0.2)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "soak.json")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(TESTS))  # fixtures.*, conftest (as pytest puts them)
    try:
        import lockpin  # noqa: F401
    except ImportError:
        raise SystemExit(
            "soak: lockpin is not importable; run it where lockpin and its test extras are "
            "installed: python3 -m pip install -e '.[test]'"
        ) from None

    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="lockpin-soak-"))
    started = time.monotonic()
    tallies: list[Tally] = []
    options = {"kill_rate": args.kill_rate, "fault_rate": args.fault_rate}
    try:
        env = clean_env(work)
        if args.python:
            with index_kind(work) as (kind, proxy):
                tallies.append(soak(kind, args.python, env=env, proxy=proxy, rng=rng, **options))
        if args.apt:
            with apt_kind(work) as (kind, proxy):
                tallies.append(soak(kind, args.apt, env=env, proxy=proxy, rng=rng, **options))
        if args.image:
            with image_kinds(work) as found:
                if found is not None:
                    resolve, pin, proxy = found
                    n_pin = args.image // 2
                    for kind, n in ((resolve, args.image - n_pin), (pin, n_pin)):
                        if n:
                            tallies.append(soak(kind, n, env=env, proxy=proxy, rng=rng, **options))
    finally:
        if args.keep:
            log(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    held = all(t.held for t in tallies)
    seconds = time.monotonic() - started
    table = markdown(tallies)
    print(table)
    print(
        f"seed {args.seed}, kill rate {args.kill_rate}, fault rate {args.fault_rate}: "
        f"{sum(t.runs for t in tallies)} runs, {sum(t.killed for t in tallies)} killed, "
        f"{sum(t.faults_injected for t in tallies)} faults injected in {seconds:.0f}s; "
        + ("everything held." if held else "SOMETHING DID NOT HOLD:")
    )
    for tally in tallies:
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(tally.faults_by_kind.items()))
        print(f"  {tally.kind}: faults {kinds or 'none'}")
    for tally in tallies:
        for problem in tally.problems:
            print(f"  {tally.kind}: {problem}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "seed": args.seed,
        "kill_rate": args.kill_rate,
        "fault_rate": args.fault_rate,
        "seconds": round(seconds, 1),
        "held": held,
        "kinds": [{**asdict(t), "held": t.held, "seconds": round(t.seconds, 1)} for t in tallies],
    }
    args.out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    return 0 if held else 1


if __name__ == "__main__":
    sys.exit(main())
