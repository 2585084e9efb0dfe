"""Two lockpin processes sharing one ``--cache-dir``, started together: a Python
compile (the fixture index; one sdist built through PEP 517), an apt compile (the
signed fixture archive), and the image side against the real registry
(``dockerfile pin``, ``image resolve``, and a compile whose ``--base`` image's
layers fill the blob cache). Both exit 0 and write the same bytes as a run
alone; the cache they filled together then serves a warm pair the same way, and
holds no temp file. The slow tier kills one of the two at points spread over its
run: the other never notices, and the killed one run again agrees with both.

Each round starts from an empty cache, so that both processes write the same
entries (pages, metadata, hashes, InRelease and Packages indexes, manifests,
blobs) at the same time; the solo run uses the same cache path, so that even
the command line a lock records is the same.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from fixtures.killer import KillSpec, lockpin_argv, read_events
from fixtures.oci import sample_layout
from fixtures.registry import push
from support import child_env

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from fixtures.apt_archive import ServedArchive
    from fixtures.index_server import IndexServer
    from fixtures.registry_plugin import OciRegistry

ROUNDS = 5
PYTHON_INPUT = "beta\nwithextras[fast]\nonlysdist\nplatwheel\nFoo.Bar_baz\nmoved\nhidden\nnometa\n"
PYTHON_INPUT += "prerel\ndynsdist\n"


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str
    files: dict[str, bytes]


@dataclass
class Shared:
    """Commands run in ``root/a`` and ``root/b`` (copies of ``inputs``) against the
    one cache ``root/cache``."""

    root: Path
    inputs: dict[str, str]
    commands: Sequence[Sequence[str]]
    outputs: Sequence[str]
    env: dict[str, str]

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    def _prepare(self, name: str) -> Path:
        work = self.root / name
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
        for file, text in self.inputs.items():
            (work / file).write_text(text)
        return work

    def _start(
        self, work: Path, command: Sequence[str], spec: KillSpec | None = None
    ) -> subprocess.Popen[str]:
        return subprocess.Popen(
            lockpin_argv(*command, "--cache-dir", str(self.cache)),
            cwd=work,
            env=(spec or KillSpec([])).environ(self.env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def _result(self, work: Path, runs: Sequence[tuple[int, str, str]]) -> Result:
        files = {n: (work / n).read_bytes() for n in self.outputs if (work / n).exists()}
        code = next((c for c, _, _ in runs if c != 0), 0)
        return Result(code, "".join(r[1] for r in runs), "".join(r[2] for r in runs), files)

    def solo(self, *, log: Path | None = None) -> Result:
        """Each command alone, one after the other, from an empty cache (``log``:
        record the events of the first one below the cache, :mod:`fixtures.killer`)."""
        shutil.rmtree(self.cache, ignore_errors=True)
        work = self._prepare("solo")
        spec = KillSpec([str(self.cache)], log=log)
        runs = [
            _finish(self._start(work, command, spec if i == 0 else None))
            for i, command in enumerate(self.commands)
        ]
        return self._result(work, runs)

    def pair(self, *, cold: bool, kill_a_at: int | None = None) -> tuple[Result, Result]:
        """Every command in ``a`` and in ``b`` at the same time (``a``'s and ``b``'s
        command i start together; the commands of one directory run in turn).
        ``kill_a_at``: ``a``'s first command kills itself at that cache event."""
        if cold:
            shutil.rmtree(self.cache, ignore_errors=True)
        works = (self._prepare("a"), self._prepare("b"))
        runs: tuple[list[tuple[int, str, str]], list[tuple[int, str, str]]] = ([], [])
        for i, command in enumerate(self.commands):
            kill = KillSpec([str(self.cache)], at=kill_a_at) if i == 0 else None
            procs = [self._start(works[0], command, kill), self._start(works[1], command)]
            for proc, mine in zip(procs, runs, strict=True):
                mine.append(_finish(proc))
        return self._result(works[0], runs[0]), self._result(works[1], runs[1])


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


def check_rounds(shared: Shared) -> int:
    alone = shared.solo()
    assert alone.code == 0, alone.err
    assert alone.files, "the commands must write something"
    rounds = 0
    for round_ in range(ROUNDS + 1):
        cold = round_ < ROUNDS  # the last pair reuses the cache the one before filled
        a, b = shared.pair(cold=cold)
        for result in (a, b):
            assert result.code == 0, (round_, result.err)
            assert "Traceback" not in result.err
            assert result.files == alone.files, round_
        assert a.out == b.out, round_
        if cold:
            assert a.out == alone.out, round_
        rounds += 1
    assert not list(shared.cache.rglob(".tmp-*")), "a temp file left in the cache"
    return rounds


def check_one_killed(shared: Shared, *, points: int = 5) -> int:
    """``a`` is killed at ``points`` cache events spread over a cold run while ``b``
    shares its cache: ``b`` never notices, and ``a`` run again agrees with both."""
    log = shared.root / "events.jsonl"
    alone = shared.solo(log=log)
    assert alone.code == 0, alone.err
    events = len(read_events(log))
    assert events >= 2 * points
    done = 0
    for i in range(1, points + 1):
        at = events * i // (points + 1)
        a, b = shared.pair(cold=True, kill_a_at=at)
        assert a.code in (-signal.SIGKILL, 0), (at, a.err)
        assert b.code == 0, (at, b.err)
        assert b.files == alone.files, at
        assert b.out == alone.out, at
        again = shared.pair(cold=False)[0]  # a again (with b beside it), warm cache
        assert again.code == 0, (at, again.err)
        assert again.files == alone.files, at
        done += 1
    return done


@pytest.fixture
def python_shared(index_server: IndexServer, tmp_path: Path) -> Shared:
    return Shared(
        tmp_path,
        {"requirements.in": PYTHON_INPUT},
        [["compile", "requirements.in", "-o", "requirements.txt", "-i", index_server.simple_url]],
        ["requirements.txt"],
        child_env(tmp_path),
    )


def test_two_python_compiles_share_a_cache(python_shared: Shared) -> None:
    rounds = check_rounds(python_shared)
    print(f"python compile: {rounds} rounds of two processes on one cache")


@pytest.mark.slow
def test_a_python_compile_killed_beside_another(python_shared: Shared) -> None:
    points = check_one_killed(python_shared)
    print(f"python compile: {points} kills of one of two processes on one cache")


@pytest.fixture
def apt_shared(apt_archive: ServedArchive, tmp_path: Path) -> Shared:
    options = ["--release", "bookworm", "--mirror", apt_archive.mirror, "--security-mirror",
               apt_archive.security_mirror, "--keyring", str(apt_archive.key.keyring),
               "--retries", "0"]  # fmt: skip
    return Shared(
        tmp_path,
        {"apt.in": "mailer\ngreeter\nfetcher\njson-user\npyish-tool\n"},
        [["apt", "compile", "apt.in", "--arch", "amd64", "--arch", "arm64", *options]],
        ["apt.lock"],
        child_env(tmp_path),
    )


def test_two_apt_compiles_share_a_cache(apt_shared: Shared) -> None:
    rounds = check_rounds(apt_shared)
    print(f"apt compile: {rounds} rounds of two processes on one cache")


@pytest.mark.slow
def test_an_apt_compile_killed_beside_another(apt_shared: Shared) -> None:
    points = check_one_killed(apt_shared)
    print(f"apt compile: {points} kills of one of two processes on one cache")


@pytest.fixture(scope="module")
def pushed_base(oci_registry: OciRegistry, tmp_path_factory: pytest.TempPathFactory) -> str:
    layout = sample_layout(tmp_path_factory.mktemp("shared-layout"))
    push(layout, "python", oci_registry.open.host, "lockpin-shared/python:1")
    return oci_registry.ref("lockpin-shared/python:1")


def test_two_image_runs_share_a_cache(
    oci_registry: OciRegistry,
    pushed_base: str,
    index_server: IndexServer,
    tmp_path: Path,
) -> None:
    dockerfile = (
        f"ARG DEB={oci_registry.ref('library/debianish:bookworm')}\n"
        f"FROM {oci_registry.ref('public/multi:1')} AS build\n"
        "FROM ${DEB} AS deb\n"
        f"FROM {oci_registry.ref('library/pythonish:3.12')}\n"
        "COPY --from=build / /\n"
    )
    base = ["--base", pushed_base, "--platform", "linux/amd64"]  # its layers: the blob cache
    index = index_server.simple_url
    shared = Shared(
        tmp_path,
        {"Dockerfile": dockerfile, "requirements.in": "platwheel\nbeta\n"},
        [
            ["dockerfile", "pin"],
            ["image", "resolve", oci_registry.ref("public/multi:1"), "--format", "json"],
            ["compile", "requirements.in", "-o", "requirements.txt", *base, "-i", index],
        ],
        ["Dockerfile", "requirements.txt"],
        child_env(tmp_path),
    )
    rounds = check_rounds(shared)
    assert list(shared.cache.glob("v1/oci-blobs/sha256/*/*")), "the blobs were cached"
    print(f"image: {rounds} rounds of two processes on one cache")
