"""Sdists are built with an interpreter of the target's minor version
(:func:`lockpin.python.build.find_build_python`, ``--build-python``,
``LOCKPIN_BUILD_PYTHON``), and a failed build says which interpreter built it."""

from __future__ import annotations

import io
import os
import sys
import tarfile
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from lockpin.python.build import find_build_python, probe_build_python
from support import run_cli

if TYPE_CHECKING:
    from collections.abc import Callable

    from fixtures.index_server import IndexServer

pytestmark = pytest.mark.usefixtures("isolated")

WHEN = datetime(2024, 1, 1, tzinfo=timezone.utc)
TARGET_ARGS = ("--python-version", "3.12", "--platform", "linux/amd64")
RUNNING = f"{sys.version_info.major}.{sys.version_info.minor}"
REAL_312 = find_build_python("3.12")
needs_312 = pytest.mark.skipif(
    REAL_312.minor != "3.12" or RUNNING == "3.12",
    reason="needs a CPython 3.12 (pyenv, uv or python3.12 on PATH) besides the running "
    f"CPython {RUNNING}",
)


def fake_python(path: Path, version: str, *, impl: str = "cpython") -> Path:
    """An executable that answers lockpin's probe as ``impl`` ``version`` would."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho {impl} {version}\n")
    path.chmod(0o755)
    return path


# -- discovery ----------------------------------------------------------------------------------


def test_pyenv_newest_patch_of_the_minor_wins(tmp_path: Path) -> None:
    versions = tmp_path / "pyenv" / "versions"
    fake_python(versions / "3.12.3" / "bin" / "python", "3.12.3")
    newest = fake_python(versions / "3.12.10" / "bin" / "python", "3.12.10")
    fake_python(versions / "3.12-dev" / "bin" / "python", "3.12.99")
    fake_python(versions / "3.13.0" / "bin" / "python", "3.13.0")
    found = find_build_python(
        "3.12", environ={"PYENV_ROOT": str(tmp_path / "pyenv"), "PATH": ""}, home=tmp_path
    )
    assert (found.path, found.version, found.how) == (str(newest), "3.12.10", "pyenv")


def test_uv_managed_then_path_then_the_running_interpreter(tmp_path: Path) -> None:
    uv_root = tmp_path / "uvpy"
    managed = fake_python(
        uv_root / "cpython-3.12.5-linux-x86_64-gnu" / "bin" / "python3.12", "3.12.5"
    )
    fake_python(uv_root / "pypy-3.12.1-linux-x86_64-gnu" / "bin" / "python3.12", "3.12.1")
    bindir = tmp_path / "bin"
    on_path = fake_python(bindir / "python3.12", "3.12.7")
    env = {"UV_PYTHON_INSTALL_DIR": str(uv_root), "PATH": str(bindir)}
    found = find_build_python("3.12", environ=env, home=tmp_path)
    assert (found.path, found.how) == (str(managed), "uv-managed")

    managed.unlink()
    found = find_build_python("3.12", environ=env, home=tmp_path)
    assert (found.path, found.version, found.how) == (str(on_path), "3.12.7", "PATH")

    # A pyenv shim may stand for another version: not taken. Nothing else: this interpreter.
    shims = tmp_path / "pyenv" / "shims"
    fake_python(shims / "python3.12", "3.12.7")
    env = {"PATH": str(shims), "PYENV_ROOT": str(tmp_path / "nothing")}
    found = find_build_python("3.12", environ=env, home=tmp_path)
    assert found.path == sys.executable
    assert "no CPython 3.12 was found" in found.how


def test_uv_python_find_is_asked_last(tmp_path: Path) -> None:
    found_by_uv = fake_python(tmp_path / "elsewhere" / "python", "3.12.8")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    uv = bindir / "uv"
    uv.write_text(
        '#!/bin/sh\n[ "$1 $2 $5" = "python find 3.12" ] && echo ' + str(found_by_uv) + "\n"
    )
    uv.chmod(0o755)
    found = find_build_python("3.12", environ={"PATH": str(bindir)}, home=tmp_path)
    assert (found.path, found.version, found.how) == (str(found_by_uv), "3.12.8", "uv python find")


def test_a_candidate_of_another_version_or_implementation_is_skipped(tmp_path: Path) -> None:
    versions = tmp_path / "pyenv" / "versions"
    fake_python(versions / "3.12.4" / "bin" / "python", "3.11.0")  # lies about its name
    fake_python(versions / "3.12.2" / "bin" / "python", "3.12.2", impl="pypy")
    good = fake_python(versions / "3.12.1" / "bin" / "python", "3.12.1")
    found = find_build_python(
        "3.12", environ={"PYENV_ROOT": str(tmp_path / "pyenv"), "PATH": ""}, home=tmp_path
    )
    assert found.path == str(good)


def test_the_running_interpreter_when_it_is_the_targets(tmp_path: Path) -> None:
    found = find_build_python(RUNNING, environ={"PATH": ""}, home=tmp_path)
    assert found.path == sys.executable
    assert found.how == "the interpreter running lockpin"


def test_probe_refuses_what_is_not_a_python(tmp_path: Path) -> None:
    assert probe_build_python(str(tmp_path / "missing"), how="x") is None
    script = tmp_path / "false"
    script.write_text("#!/bin/sh\nexit 3\n")
    script.chmod(0o755)
    assert probe_build_python(str(script), how="x") is None
    assert probe_build_python(sys.executable, how="x") is not None


# -- builds against the fixture index -----------------------------------------------------------

# Its dependencies are the building interpreter's version: the lock shows which one built it.
_VERSION_BACKEND = """
import os, sys

def get_requires_for_build_wheel(config_settings=None):
    return []

def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    {fail}
    dist_info = os.path.join(metadata_directory, "{name}-1.0.dist-info")
    os.makedirs(dist_info)
    dep = "beta" if sys.version_info[:2] == (3, 12) else "alpha"
    with open(os.path.join(dist_info, "METADATA"), "w") as fh:
        fh.write("Metadata-Version: 2.1\\nName: {name}\\nVersion: 1.0\\n")
        fh.write("Requires-Dist: " + dep + "\\n")
    return "{name}-1.0.dist-info"
"""


def version_sdist(out: Path, name: str, *, fail: str = "pass") -> Path:
    """An sdist-only release with dynamic metadata: ``beta`` when built by a 3.12,
    ``alpha`` otherwise; ``fail`` is a statement run first (e.g. one that exits)."""
    base = f"{name}-1.0"
    members = {
        "PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n".encode(),
        "pyproject.toml": (
            b'[build-system]\nrequires = []\nbuild-backend = "vb"\nbackend-path = ["."]\n'
        ),
        "vb.py": _VERSION_BACKEND.format(name=name, fail=fail).encode(),
    }
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for member, data in members.items():
            info = tarfile.TarInfo(f"{base}/{member}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    path = out / f"{base}.tar.gz"
    path.write_bytes(buf.getvalue())
    return path


@pytest.fixture
def serve(
    make_index: Callable[..., IndexServer], tmp_path_factory: pytest.TempPathFactory
) -> Callable[..., IndexServer]:
    def make(name: str, **options: str) -> IndexServer:
        server = make_index()
        server.add_file(
            version_sdist(tmp_path_factory.mktemp(name), name, **options), upload_time=WHEN
        )
        return server

    return make


@needs_312
def test_an_sdist_only_release_is_built_with_the_targets_interpreter(
    serve: Callable[..., IndexServer], capsys: pytest.CaptureFixture[str]
) -> None:
    server = serve("pyver")
    Path("requirements.in").write_text("pyver\n")
    run = run_cli(capsys, "compile", "requirements.in", "-i", server.simple_url, *TARGET_ARGS)
    assert run.code == 0, run.err
    text = Path("requirements.txt").read_text()
    assert "beta==1.0 \\\n" in text  # built by a 3.12
    assert "\nalpha==" in text  # beta's own dependency

    # --build-python wins over discovery (and the lock follows the interpreter).
    Path("requirements.txt").unlink()
    run = run_cli(
        capsys,
        "compile",
        "requirements.in",
        "-i",
        server.simple_url,
        *TARGET_ARGS,
        "--build-python",
        sys.executable,
        "--cache-dir",
        "other-cache",
    )
    assert run.code == 0, run.err
    text = Path("requirements.txt").read_text()
    assert "beta==" not in text
    assert "\nalpha==" in text


def test_a_failed_build_names_the_interpreter_and_what_to_do(
    serve: Callable[..., IndexServer], capsys: pytest.CaptureFixture[str]
) -> None:
    server = serve("broken", fail='raise SystemExit("error: proj executable not found")')
    Path("requirements.in").write_text("broken==1.0\n")
    run = run_cli(capsys, "compile", "requirements.in", "-i", server.simple_url, *TARGET_ARGS)
    assert run.code != 0
    assert "Traceback" not in run.err
    assert "prepare_metadata_for_build_wheel of broken-1.0.tar.gz failed (exit 1)" in run.err
    assert "error: proj executable not found" in run.err  # the log's tail
    chosen = find_build_python("3.12")
    assert f"broken-1.0.tar.gz was built with {chosen.path} (CPython {chosen.version}" in run.err
    assert "--build-python PATH" in run.err
    assert "--only-binary broken" in run.err
    assert not Path("requirements.txt").exists()


def test_build_python_from_the_environment_and_its_errors(
    serve: Callable[..., IndexServer],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = serve("broken2", fail='raise SystemExit("boom")')
    Path("requirements.in").write_text("broken2==1.0\n")
    args = ("compile", "requirements.in", "-i", server.simple_url, *TARGET_ARGS)
    monkeypatch.setenv("LOCKPIN_BUILD_PYTHON", sys.executable)
    run = run_cli(capsys, *args)
    assert run.code != 0
    version = ".".join(str(n) for n in sys.version_info[:3])
    assert f"was built with {sys.executable} (CPython {version}, --build-python)" in run.err
    if RUNNING != "3.12":
        assert "It is not the target's Python 3.12." in run.err

    missing = os.path.join("no", "such", "python")
    monkeypatch.setenv("LOCKPIN_BUILD_PYTHON", missing)
    run = run_cli(capsys, *args)
    assert run.code == 2
    assert f"--build-python {missing}: cannot run it as a Python interpreter" in run.err
    assert "Traceback" not in run.err


@needs_312
def test_a_failure_remembered_for_one_interpreter_is_not_replayed_for_another(
    serve: Callable[..., IndexServer], capsys: pytest.CaptureFixture[str]
) -> None:
    server = serve("only312", fail="assert sys.version_info[:2] == (3, 12), 'needs 3.12'")
    Path("requirements.in").write_text("only312\n")
    args = ("compile", "requirements.in", "-i", server.simple_url, *TARGET_ARGS)
    run = run_cli(capsys, *args, "--build-python", sys.executable)
    assert run.code != 0
    assert "needs 3.12" in run.err
    run = run_cli(capsys, *args)  # same cache, the discovered 3.12
    assert run.code == 0, run.err
    assert "beta==1.0 \\\n" in Path("requirements.txt").read_text()
