"""kill -9 at many points of real ``python -m lockpin`` processes: ``apt compile``
over an older ``apt.lock``, ``dockerfile pin``, ``record add``, and runs that fill
the cache (Python indexes and metadata, apt indexes, image manifests and blobs).

Points are deterministic (:mod:`fixtures.killer`): the child kills
itself at the k-th file-system/process event it raises below the project and
cache directories (k over a clean run's events: temp file created, complete but
not renamed, renamed, cache entries read and written, gpgv started, connections
opened), or the server kills it when its k-th request arrives (``record add``,
whose log write is one ``os.write`` after the last event, adds kills after
delays spread over a run). After every kill:

* each file the command writes is byte-identical to before the run or to what a
  clean run writes, nothing else in the project changed, and the only new
  files are the killed writer's own temp files (``.NAME.*.tmp``);
* a rerun with the same (possibly half-filled) cache exits 0 and writes exactly
  what the clean run wrote, and adds no temp file of its own.

The fast tier kills at one point of each kind and place (every event in the
project directory, the first rename into each cache kind, ...); the ``slow`` tier
at every 3rd (apt, Dockerfile) or 20th (compile) of the other events, and at
every request. After the kills at the fast tier's points, ``--offline`` on what
the killed run cached either gives the clean run's lock or refuses cleanly.

Also here: a client killed while half of a 512 KiB layer streams into its blob
cache temp file (no blob committed, the rerun agrees); the temp file a killed
``atomic_write`` left is removed by a later write once it is an hour old; a
cache damaged on disk is fetched again, not trusted.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from fixtures import oci
from fixtures.http_server import Response
from fixtures.killer import KillSpec, RequestKiller, lockpin_argv, read_events
from fixtures.oci import sample_layout
from fixtures.registry import RegistryProxy, push
from lockpin.image.record import read_log
from support import child_env

if TYPE_CHECKING:
    import io
    from collections.abc import Callable, Iterator, Sequence

    from fixtures.apt_archive import ServedArchive
    from fixtures.http_server import LoopbackServer
    from fixtures.index_server import IndexServer
    from fixtures.registry_plugin import OciRegistry

BASE = "sha256:" + "1" * 64


@dataclass
class Outcome:
    code: int
    out: str
    err: str
    files: dict[str, bytes | None]


@dataclass
class Scenario:
    """One command run again and again from the same starting state: ``template``
    (the project files, e.g. the older lock) copied to ``work``, an empty cache."""

    root: Path
    template: Path
    args: Sequence[str]
    targets: Sequence[str]
    env: dict[str, str]
    #: after each kill, also run ``--offline`` on what the killed run cached
    offline: bool = False
    clean: Outcome | None = None
    old: dict[str, bytes | None] = field(default_factory=dict)
    points: int = 0

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    def reset(self) -> None:
        for directory in (self.work, self.cache):
            if directory.exists():
                shutil.rmtree(directory)
        shutil.copytree(self.template, self.work, symlinks=True)
        self.old = self._files()

    def _files(self) -> dict[str, bytes | None]:
        return {
            name: (self.work / name).read_bytes() if (self.work / name).exists() else None
            for name in self.targets
        }

    def run(
        self,
        *,
        at: int | None = None,
        log: Path | None = None,
        killer: RequestKiller | None = None,
        extra: Sequence[str] = (),
        match: tuple[str, str] | None = None,
    ) -> Outcome:
        spec = KillSpec([str(self.work), str(self.cache)], at=at, log=log, match=match)
        argv = lockpin_argv(*self.args, "--cache-dir", str(self.cache), *extra)
        proc = subprocess.Popen(
            argv,
            cwd=self.work,
            env=spec.environ(self.env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        if killer is not None:
            killer.pid = proc.pid
        try:
            out, err = proc.communicate(timeout=120)
        finally:
            if killer is not None:
                killer.disarm()  # reaped: its pid may be reused
        return Outcome(proc.returncode, out, err, self._files())

    def measure(self) -> list[tuple[int, str, str]]:
        """A clean run from the starting state: what every kill is compared with,
        and the events it raised."""
        self.reset()
        log = self.root / "events.jsonl"
        log.unlink(missing_ok=True)
        self.clean = self.run(log=log)
        assert self.clean.code == 0, self.clean.err
        assert self.clean.files != self.old, "the clean run must change a target"
        return read_events(log)

    def kill_and_rerun(self, *, at: int | None = None, killer: RequestKiller | None = None) -> None:
        assert self.clean is not None
        self.reset()
        before = _listing(self.work)
        where = f"kill at event {at}" if killer is None else f"kill at request {killer.at}"
        killed = self.run(at=at, killer=killer)
        # the point may lie past the end when threads order events differently
        assert killed.code in (-signal.SIGKILL, 0), (where, killed.err)
        if killed.code == 0:
            assert killed.files == self.clean.files, where
        for name, data in killed.files.items():
            assert data in (self.old[name], self.clean.files[name]), (where, name)
        left = _listing(self.work)
        for name in set(before) | set(left):
            if name in self.targets:
                continue
            if name not in before:  # new: only the killed writer's temp file
                assert _is_temp_of(name, self.targets), (where, name)
            else:
                assert left.get(name) == before[name], (where, name)
        cache_temps = _temps(self.cache)
        if self.offline:  # what was cached is either enough, or refused cleanly
            offline = self.run(extra=["--offline"])
            assert "Traceback" not in offline.err, where
            if offline.code == 0:
                assert offline.files == self.clean.files, where
            else:
                assert "lockpin: error: " in offline.err, (where, offline.err)
                assert offline.files == killed.files, where
        rerun = self.run()
        assert rerun.code == 0, (where, rerun.err)
        assert "Traceback" not in rerun.err
        assert rerun.files == self.clean.files, where
        if killed.files == self.old:  # else it may say there is nothing left to do
            assert rerun.out == self.clean.out, where
        assert _temps(self.cache) <= cache_temps, (where, "the rerun left a temp file")
        assert {n for n in _listing(self.work) if _is_temp_of(n, self.targets)} == {
            n for n in left if _is_temp_of(n, self.targets)
        }, (where, "the rerun left a temp file")
        self.points += 1


def _listing(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def _is_temp_of(name: str, targets: Sequence[str]) -> bool:
    """``.apt.lock.k3j2_x.tmp``: :func:`lockpin._io.atomic_write`'s temp file (the
    targets are files at the top of the project)."""
    return "/" not in name and any(
        name.startswith(f".{target}.") and name.endswith(".tmp") for target in targets
    )


def _temps(cache: Path) -> set[str]:
    return {str(p) for p in cache.rglob(".tmp-*")} if cache.exists() else set()


def _place(scenario: Scenario, event: str, what: str) -> tuple[str, str]:
    """What kind of point an event is, for the fast tier: its event and where
    (a project file, a cache kind, the network, a child process)."""
    path = Path(what)
    if path.is_relative_to(scenario.work):
        name = path.name.split(".")[1] if path.name.startswith(".") else path.name
        return event, f"work:{name}"
    if path.is_relative_to(scenario.cache):
        parts = path.relative_to(scenario.cache).parts
        return event, f"cache:{'/'.join(parts[:2])}"
    return event, "net" if event == "socket.connect" else "process"


def fast_points(scenario: Scenario, events: Sequence[tuple[int, str, str]]) -> list[int]:
    """Every event in the project directory (the target's own write: temp file
    made, filled, chmod, renamed); the first rename into each cache kind; the
    first cache temp file, connection and child process."""
    chosen: dict[tuple[str, str], int] = {}
    for number, event, what in events:
        _, place = _place(scenario, event, what)
        if place.startswith("work:"):
            chosen[(str(number), "")] = number
        elif event == "os.rename":
            chosen.setdefault((event, place), number)
        elif event in ("tempfile.mkstemp", "socket.connect", "subprocess.Popen"):
            chosen.setdefault((event, ""), number)
    return sorted(set(chosen.values()))


def other_points(
    scenario: Scenario, events: Sequence[tuple[int, str, str]], *, stride: int = 1
) -> list[int]:
    """The events :func:`fast_points` leaves out (every ``stride``-th of them)."""
    fast = set(fast_points(scenario, events))
    return [number for number, _, _ in events if number not in fast][::stride]


def kill_at_events(scenario: Scenario, points: Sequence[int], *, workers: int = 2) -> int:
    """:meth:`Scenario.kill_and_rerun` at each of ``points``, ``workers`` at a time
    (each in a directory of its own); how many points were run."""
    copies = [
        dataclasses.replace(scenario, root=scenario.root / f"worker-{i}") for i in range(workers)
    ]

    def work(i: int) -> int:
        for at in points[i::workers]:
            copies[i].kill_and_rerun(at=at)
        return copies[i].points

    with ThreadPoolExecutor(workers) as pool:
        done = sum(pool.map(work, range(workers)))
    scenario.points += done
    return done


def request_points(scenario: Scenario, server: LoopbackServer) -> int:
    """How many requests a clean run sends to ``server``."""
    scenario.reset()
    start = len(server.requests)
    assert scenario.run().code == 0
    return len(server.requests) - start


def kill_at_each_request(scenario: Scenario, server: LoopbackServer, *, at_least: int) -> int:
    """Kill a run of ``scenario`` when the k-th request reaches ``server``, for every k of
    a clean run (at least ``at_least`` of them); returns how many requests that was."""
    killer = RequestKiller(server)
    killer.arm(None)
    requests = request_points(scenario, server)
    assert requests >= at_least
    for at in range(1, requests + 1):
        killer.arm(at)
        scenario.kill_and_rerun(killer=killer)
    killer.arm(None)
    return requests


# -- apt compile over an older apt.lock ------------------------------------------------------


@pytest.fixture
def apt_scenario(
    make_apt_archive: Callable[..., ServedArchive], tmp_path: Path
) -> tuple[Scenario, ServedArchive]:
    served = make_apt_archive()
    options = ["--release", "bookworm", "--mirror", served.mirror, "--security-mirror",
               served.security_mirror, "--keyring", str(served.key.keyring), "--arch", "amd64",
               "--retries", "0"]  # fmt: skip
    template = tmp_path / "template"
    template.mkdir()
    (template / "apt.in").write_text("mailer\n")
    env = child_env(tmp_path)
    older = Scenario(tmp_path / "older", template, ["apt", "compile", "apt.in", *options],
                     ["apt.lock"], env)  # fmt: skip
    older.measure()  # the older lock: only mailer
    shutil.copy(older.work / "apt.lock", template / "apt.lock")
    (template / "apt.in").write_text("mailer\ngreeter\nfetcher\n")
    return Scenario(tmp_path / "s", template, older.args, ["apt.lock"], env, offline=True), served


def test_apt_compile_killed_at_each_kind_of_point(
    apt_scenario: tuple[Scenario, ServedArchive],
) -> None:
    scenario, _ = apt_scenario
    events = scenario.measure()
    points = fast_points(scenario, events)
    assert any(e == "os.rename" and w.startswith(str(scenario.work)) for _, e, w in events)
    assert len(points) >= 10
    kill_at_events(scenario, points)
    print(f"apt compile: {scenario.points} kill points (fast), {len(events)} events")


def test_a_later_write_removes_the_temp_file_a_killed_write_left(
    apt_scenario: tuple[Scenario, ServedArchive],
) -> None:
    scenario, _ = apt_scenario
    scenario.measure()
    assert scenario.clean is not None
    scenario.reset()
    rename = ("os.rename", str(scenario.work / ".apt.lock."))  # the temp file, complete
    assert scenario.run(match=rename).code == -signal.SIGKILL
    (left,) = scenario.work.glob(".apt.lock.*.tmp")
    assert left.read_bytes() == scenario.clean.files["apt.lock"]  # complete, not renamed
    assert scenario.run(at=None).code == 0
    assert left.exists()  # an hour's grace: it could be another writer's, at work
    hours_ago = time.time() - 2 * 3600
    lookalike = scenario.work / ".apt.lock.my-notes.tmp"  # not a name lockpin makes
    lookalike.write_text("mine\n")
    for path in (left, lookalike):
        os.utime(path, (hours_ago, hours_ago))
    fresh = scenario.work / ".apt.lock.abcd1234.tmp"  # another writer's, still at work
    fresh.write_text("")
    (scenario.work / "apt.in").write_text("mailer\ngreeter\n")  # so that it writes again
    assert scenario.run(at=None).code == 0
    assert not left.exists()
    assert lookalike.exists()
    assert fresh.exists()


@pytest.mark.slow
def test_apt_compile_killed_at_more_events_and_every_request(
    apt_scenario: tuple[Scenario, ServedArchive],
) -> None:
    scenario, served = apt_scenario
    scenario.offline = False  # the fast tier runs it
    events = scenario.measure()
    kill_at_events(scenario, other_points(scenario, events, stride=3))
    requests = kill_at_each_request(scenario, served.server, at_least=3)
    print(f"apt compile: {scenario.points} kill points (slow), {requests} requests")


# -- dockerfile pin --------------------------------------------------------------------------


@pytest.fixture
def registry_proxy(oci_registry: OciRegistry) -> Iterator[RegistryProxy]:
    with RegistryProxy(oci_registry.open.url) as proxy:
        yield proxy


@pytest.fixture
def pin_scenario(registry_proxy: RegistryProxy, tmp_path: Path) -> Scenario:
    host = registry_proxy.url.removeprefix("http://")
    template = tmp_path / "template"
    template.mkdir()
    (template / "Dockerfile").write_text(
        "# syntax=docker/dockerfile:1\n"
        f"ARG DEB={host}/library/debianish:bookworm\n"
        f"FROM {host}/public/multi:1 AS build\n"
        "RUN true\n"
        "FROM ${DEB} AS deb\n"
        f"FROM {host}/library/pythonish:3.12\n"
        "COPY --from=build / /\n"
    )
    return Scenario(tmp_path / "s", template, ["dockerfile", "pin"], ["Dockerfile"],
                    child_env(tmp_path))  # fmt: skip


def test_dockerfile_pin_killed_at_each_kind_of_point(pin_scenario: Scenario) -> None:
    events = pin_scenario.measure()
    assert pin_scenario.clean is not None
    assert pin_scenario.clean.files["Dockerfile"] is not None
    assert pin_scenario.clean.files["Dockerfile"].count(b"@sha256:") == 3
    kill_at_events(pin_scenario, fast_points(pin_scenario, events))
    assert pin_scenario.points >= 8
    print(f"dockerfile pin: {pin_scenario.points} kill points (fast), {len(events)} events")


@pytest.mark.slow
def test_dockerfile_pin_killed_at_more_events_and_every_request(
    pin_scenario: Scenario, registry_proxy: RegistryProxy
) -> None:
    events = pin_scenario.measure()
    kill_at_events(pin_scenario, other_points(pin_scenario, events, stride=3))
    requests = kill_at_each_request(pin_scenario, registry_proxy, at_least=4)
    print(f"dockerfile pin: {pin_scenario.points} kill points (slow), {requests} requests")


# -- record add ------------------------------------------------------------------------------


def _record_template(tmp_path: Path, env: dict[str, str]) -> Path:
    template = tmp_path / "template"
    template.mkdir()
    (template / "Dockerfile").write_text(f"FROM debian:bookworm@{BASE}\nCOPY requirements.txt /\n")
    (template / "requirements.txt").write_text("attrs==23.1.0\n")
    for version in ("1.0", "1.1"):
        digest = "sha256:" + version.replace(".", "") * 32
        (template / "meta.json").write_text(json.dumps({"containerimage.digest": digest}))
        done = subprocess.run(
            lockpin_argv("record", "add", "--version", version, "--metadata-file", "meta.json"),
            cwd=template,
            env=KillSpec([]).environ(env),
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
    (template / "meta.json").write_text(json.dumps({"containerimage.digest": "sha256:" + "c" * 64}))
    return template


def _without_time(line: bytes) -> dict[str, object]:
    record = json.loads(line)
    assert isinstance(record, dict)
    record.pop("time")
    return record


def test_record_add_killed_at_every_point(tmp_path: Path) -> None:
    """At every event (all before the append: the log's own write is one
    ``os.write``), then after seeded delays spread over a whole run (some land
    after the append): old records intact, no line or one whole new line."""
    env = child_env(tmp_path)
    template = _record_template(tmp_path, env)
    old = (template / "releases.jsonl").read_bytes()
    assert old.count(b"\n") == 2
    args = ["record", "add", "--version", "2.0", "--metadata-file", "meta.json"]

    def run(name: str, *, at: int | None = None, delay: float | None = None) -> tuple[Path, int]:
        work = tmp_path / name
        shutil.copytree(template, work)
        spec = KillSpec([str(work)], at=at, log=tmp_path / f"{name}.jsonl")
        proc = subprocess.Popen(
            lockpin_argv(*args), cwd=work, env=spec.environ(env),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        if delay is not None:
            time.sleep(delay)
            proc.kill()
        _, err = proc.communicate(timeout=60)
        assert proc.returncode in (-signal.SIGKILL, 0), err
        return work, proc.returncode

    started = time.monotonic()
    work, _ = run("clean")
    duration = time.monotonic() - started
    clean = (work / "releases.jsonl").read_bytes()
    events = len(read_events(tmp_path / "clean.jsonl"))
    assert events >= 5
    outcomes = {"old": 0, "new": 0}
    points: list[tuple[int | None, float | None]] = [(k, None) for k in range(1, events + 1)]
    points += [(None, duration * (0.5 + i / 12)) for i in range(8)]  # the last half
    for i, (at, delay) in enumerate(points):
        work, _ = run(f"kill-{i}", at=at, delay=delay)
        point = at, delay
        data = (work / "releases.jsonl").read_bytes()
        whole_new_line = (
            data.startswith(old)
            and data.count(b"\n") == 3
            and _without_time(data[len(old) :]) == _without_time(clean[len(old) :])
        )
        assert data == old or whole_new_line, point
        outcomes["old" if data == old else "new"] += 1
        assert [r.version for r in read_log(work / "releases.jsonl")][:2] == ["1.0", "1.1"]
        # the rerun records 2.0 when the killed run had not; else it says it is there
        again = subprocess.run(
            lockpin_argv(*args), cwd=work, env=KillSpec([]).environ(env),
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if data == old:
            assert again.returncode == 0, again.stderr
            assert (work / "releases.jsonl").read_bytes().count(b"\n") == 3
        else:
            assert again.returncode == 2
            assert "already recorded" in again.stderr
        shutil.rmtree(work)
    print(f"record add: {len(points)} kill points ({events} events), {outcomes}")


# -- cache writes: Python compile with an image base (index pages, metadata, hashes, blobs) ---


@pytest.fixture(scope="module")
def pushed_base(oci_registry: OciRegistry, tmp_path_factory: pytest.TempPathFactory) -> str:
    layout = sample_layout(tmp_path_factory.mktemp("kill-layout"))
    push(layout, "python", oci_registry.open.host, "lockpin-kill/python:1")
    return "lockpin-kill/python:1"


@pytest.fixture
def compile_scenario(
    make_index: Callable[..., IndexServer],
    registry_proxy: RegistryProxy,
    pushed_base: str,
    tmp_path: Path,
) -> tuple[Scenario, IndexServer]:
    index = make_index()
    template = tmp_path / "template"
    template.mkdir()
    host = registry_proxy.url.removeprefix("http://")
    common = ["-i", index.simple_url, "--base", f"{host}/{pushed_base}", "--platform",
              "linux/amd64", "--retries", "0"]  # fmt: skip
    (template / "requirements.in").write_text("beta\n")
    env = child_env(tmp_path)
    args = ["compile", "requirements.in", "-o", "requirements.txt", *common]
    older = Scenario(tmp_path / "older", template, args, ["requirements.txt"], env)
    older.measure()
    shutil.copy(older.work / "requirements.txt", template / "requirements.txt")
    (template / "requirements.in").write_text("beta\nwithextras[fast]\nonlysdist\nplatwheel\n")
    scenario = Scenario(tmp_path / "s", template, args, ["requirements.txt"], env, offline=True)
    return scenario, index


def test_compile_filling_the_cache_killed_at_each_kind_of_point(
    compile_scenario: tuple[Scenario, IndexServer],
) -> None:
    scenario, _ = compile_scenario
    events = scenario.measure()
    cache_kinds = {_place(scenario, e, w)[1] for _, e, w in events if e == "os.rename"}
    assert "cache:v1/oci-blobs" in cache_kinds, cache_kinds
    # the writes only (temp file made, renamed into place): this run is the costliest
    writes = {n for n, e, _ in events if e in ("tempfile.mkstemp", "os.rename")}
    kill_at_events(scenario, [n for n in fast_points(scenario, events) if n in writes])
    print(f"compile: {scenario.points} kill points (fast), {len(events)} events, {cache_kinds}")


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_a_damaged_cache_entry_is_fetched_again_not_trusted(
    compile_scenario: tuple[Scenario, IndexServer], damage: str
) -> None:
    """kill -9 cannot tear an entry (each is renamed into place whole), but a disk
    or a hand edit can: every entry damaged at once (a byte of its body flipped,
    or the body cut in half) is a miss, and the lock is the clean run's."""
    scenario, _ = compile_scenario
    scenario.measure()
    assert scenario.clean is not None
    damaged = 0
    for path in sorted(p for p in scenario.cache.rglob("*") if p.is_file()):
        data = bytearray(path.read_bytes())
        # blobs are bare files; every other entry has a JSON header line
        start = 0 if "oci-blobs" in path.parts else data.index(b"\n") + 1
        if len(data) <= start:
            continue
        if damage == "flip":
            data[start + (len(data) - start) // 2] ^= 0x20
        else:
            del data[start + (len(data) - start) // 2 :]
        path.write_bytes(bytes(data))
        damaged += 1
    assert damaged >= 10
    shutil.rmtree(scenario.work)
    shutil.copytree(scenario.template, scenario.work)
    again = scenario.run()
    assert again.code == 0, again.err
    assert again.files == scenario.clean.files
    print(f"damaged cache ({damage}): {damaged} entries at once, lock unchanged")


@pytest.mark.slow
def test_compile_filling_the_cache_killed_at_many_events_and_every_request(
    compile_scenario: tuple[Scenario, IndexServer], registry_proxy: RegistryProxy
) -> None:
    scenario, index = compile_scenario
    scenario.offline = False  # the fast tier runs it
    events = scenario.measure()
    kill_at_events(scenario, other_points(scenario, events, stride=20))
    requests = []
    for server in (index, registry_proxy):  # the index's pages and files, the image's blobs
        killer = RequestKiller(server)
        killer.arm(None)
        requests.append(request_points(scenario, server))
        assert requests[-1] >= 3
        for at in range(1, requests[-1] + 1):
            killer.arm(at)
            scenario.kill_and_rerun(killer=killer)
        killer.arm(None)
    print(f"compile: {scenario.points} kill points (slow), {requests} index/registry requests")


# -- a blob cut off mid-stream, the client killed while its temp file fills ----------------------

BIG = 512 * 1024


@pytest.fixture(scope="module")
def big_base(oci_registry: OciRegistry, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A Python base whose last layer is a 512 KiB uncompressed tar of noise."""
    w = oci.LayoutWriter(tmp_path_factory.mktemp("big-layout"))
    top: list[oci.Entry] = [
        oci.File("usr/local/bin/python3.12", b"\x7fELF", 0o755),
        oci.Symlink("usr/local/bin/python3", "python3.12"),
        oci.File("usr/share/lockpin-noise", random.Random(13).randbytes(BIG)),
    ]
    env = ["PATH=/usr/local/bin:/usr/bin", "PYTHON_VERSION=3.12.7"]
    w.tag("big", w.image(layers=[*oci.debian_layers(), top], env=env, gzip_it=False))
    push(w.save(), "big", oci_registry.open.host, "lockpin-kill/big:1")
    return "lockpin-kill/big:1"


def test_killed_while_a_blob_streams_into_the_cache(
    make_index: Callable[..., IndexServer],
    registry_proxy: RegistryProxy,
    oci_registry: OciRegistry,
    big_base: str,
    tmp_path: Path,
) -> None:
    """The proxy sends half of the big layer and holds the rest; once the client's
    temp file in the blob cache has bytes, the client is killed. No blob is
    committed under its digest; the rerun fetches it whole and agrees."""
    host = registry_proxy.url.removeprefix("http://")
    template = tmp_path / "template"
    template.mkdir()
    (template / "requirements.in").write_text("platwheel\n")
    index = make_index().simple_url
    args = ["compile", "requirements.in", "-o", "requirements.txt", "-i", index, "--base",
            f"{host}/{big_base}", "--platform", "linux/amd64", "--retries", "0"]  # fmt: skip
    scenario = Scenario(tmp_path / "s", template, args, ["requirements.txt"], child_env(tmp_path))
    scenario.measure()
    assert scenario.clean is not None
    scenario.reset()
    blobs = scenario.cache / "v1" / "oci-blobs"
    state: dict[str, object] = {"pid": None, "partial": 0, "digest": None}

    def partial_size() -> int:
        return max((p.stat().st_size for p in blobs.rglob(".tmp-*")), default=0)

    def cut(method: str, path: str, headers: dict[str, str]) -> Response | None:
        if "/blobs/" not in path or state["digest"] is not None:
            return None
        with urllib.request.urlopen(oci_registry.open.url + path, timeout=30) as upstream:
            body = upstream.read()  # loopback only
        if len(body) < BIG:
            return None
        state["digest"] = path.rpartition("/")[2]

        def write(wfile: io.BufferedIOBase) -> None:
            wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n")
            wfile.write(f"Content-Length: {len(body)}\r\n\r\n".encode() + body[: len(body) // 2])
            wfile.flush()
            for _ in range(400):  # until the client has written some of it (20 s at most)
                if partial_size():
                    break
                time.sleep(0.05)
            state["partial"] = partial_size()
            assert isinstance(state["pid"], int)
            os.kill(state["pid"], signal.SIGKILL)

        return Response(200, raw=write)

    registry_proxy.override("/v2/", cut)
    spec = KillSpec([])
    proc = subprocess.Popen(
        lockpin_argv(*args, "--cache-dir", str(scenario.cache)), cwd=scenario.work,
        env=spec.environ(scenario.env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    state["pid"] = proc.pid
    _, err = proc.communicate(timeout=120)
    registry_proxy.clear_faults()
    assert proc.returncode == -signal.SIGKILL, err
    assert isinstance(state["digest"], str)
    algorithm, _, hexdigest = state["digest"].partition(":")
    committed = blobs / algorithm / hexdigest[:2] / hexdigest
    assert 0 < int(str(state["partial"])) < BIG + 10240  # killed mid-write
    assert not committed.exists()
    assert not (scenario.work / "requirements.txt").exists()  # no lock yet, none written
    rerun = scenario.run()
    assert rerun.code == 0, rerun.err
    assert rerun.files == scenario.clean.files
    assert hashlib.sha256(committed.read_bytes()).hexdigest() == hexdigest
