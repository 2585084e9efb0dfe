"""Build directories a killed lockpin left behind are removed by a later run
(``lockpin.python.build.sweep_orphaned_build_dirs``), and never one still in use.

kill -9 gives lockpin no chance to remove ``$TMPDIR/lockpin-build-*`` (an unpacked sdist)
or ``lockpin-buildenv-*`` (the shared build environments, hundreds of MB with real build
requirements): every such directory names its process in an owner file, and the first
build of a later run removes those whose process is gone.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from fixtures.dists import build_sdist
from lockpin.python import build as build_module
from support import run_cli

if TYPE_CHECKING:
    from collections.abc import Callable

    from fixtures.index_server import IndexServer

HOUR = 3600.0
DAY = 86400.0


def dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return int(proc.stdout)


def left_dir(root: Path, name: str, *, owner: int | None, age: float) -> Path:
    directory = root / name
    (directory / "src").mkdir(parents=True)
    (directory / "src" / "setup.py").write_text("print('x')\n")
    if owner is not None:
        (directory / ".lockpin-owner").write_text(f"{owner}\n")
    then = time.time() - age
    os.utime(directory, (then, then))
    return directory


@pytest.mark.skipif(os.name == "nt", reason="owner processes are checked with kill(pid, 0)")
def test_only_directories_of_ended_processes_are_removed(tmp_path: Path) -> None:
    gone = dead_pid()
    orphan = left_dir(tmp_path, "lockpin-build-aaaa1111", owner=gone, age=HOUR)
    orphan_env = left_dir(tmp_path, "lockpin-buildenv-bbbb2222", owner=gone, age=HOUR)
    # a killed run's directory, but young: perhaps a pid reused by a run that just began
    young = left_dir(tmp_path, "lockpin-build-cccc3333", owner=gone, age=60)
    # in use: its owner (this process) runs, however old the directory is
    in_use = left_dir(tmp_path, "lockpin-buildenv-dddd4444", owner=os.getpid(), age=DAY * 2)
    # made by a lockpin without owner files: removed only when a day old
    unowned_recent = left_dir(tmp_path, "lockpin-build-eeee5555", owner=None, age=HOUR * 2)
    unowned_old = left_dir(tmp_path, "lockpin-build-ffff6666", owner=None, age=DAY * 2)
    # not lockpin's
    other = left_dir(tmp_path, "pip-build-gggg7777", owner=gone, age=DAY * 2)
    plain_file = tmp_path / "lockpin-build-notes"
    plain_file.write_text("mine\n")

    assert build_module.sweep_orphaned_build_dirs(tmp_path) == 3

    for removed in (orphan, orphan_env, unowned_old):
        assert not removed.exists(), removed
    for kept in (young, in_use, unowned_recent, other):
        assert (kept / "src" / "setup.py").read_text() == "print('x')\n"
    assert plain_file.read_text() == "mine\n"


def test_an_owned_directory_names_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    directory = build_module.owned_temp_dir("lockpin-build-")
    assert directory.parent == tmp_path
    assert (directory / ".lockpin-owner").read_text() == f"{os.getpid()}\n"
    # while this process runs, no sweep removes it, whatever its age
    os.utime(directory, (0, 0))
    assert build_module.sweep_orphaned_build_dirs(tmp_path) == 0
    assert directory.is_dir()


@pytest.mark.slow
@pytest.mark.usefixtures("isolated")
@pytest.mark.skipif(os.name == "nt", reason="owner processes are checked with kill(pid, 0)")
def test_a_compile_that_builds_removes_what_a_killed_run_left(
    make_index: Callable[..., IndexServer],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    tmp = tmp_path_factory.mktemp("tmpdir")
    monkeypatch.setattr("tempfile.tempdir", str(tmp))
    monkeypatch.setattr(build_module, "_sweep_once", build_module._sweep_once.__wrapped__)
    gone = dead_pid()
    orphans = [
        left_dir(tmp, "lockpin-build-kill0001", owner=gone, age=HOUR),
        left_dir(tmp, "lockpin-buildenv-kill0002", owner=gone, age=HOUR),
    ]
    server = make_index()
    root = tmp_path_factory.mktemp("sdists")
    server.add_file(build_sdist(root, "needsbuild", "1.0", dynamic=["Requires-Dist"],
                                static_pyproject=False))  # fmt: skip
    Path("requirements.in").write_text("needsbuild\n")
    run = run_cli(capsys, "compile", "requirements.in", "-o", "-", "-i", server.simple_url,
                  "--no-cache")  # fmt: skip
    assert run.code == 0, run.both
    assert "needsbuild==1.0" in run.out
    assert not any(o.exists() for o in orphans)
    # and the run's own build directories are gone too
    assert sorted(p.name for p in tmp.iterdir()) == []
