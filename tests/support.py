"""Small helpers shared by the test modules (no fixtures here: those are in conftest.py).

Test modules import from here, never from ``conftest`` (pytest imports that one itself).
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from lockpin.cli import main

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "CliRun",
    "PipEnv",
    "Published",
    "StandardSet",
    "build_two_index_files",
    "child_env",
    "closed_port",
    "dir_state",
    "lock_body",
    "pip_environ",
    "run_cli",
    "run_pip_in",
    "run_subprocess",
    "sha256_file",
]


def lock_body(text: str) -> str:
    """A lock without what says how it was made: the header comments (lines that
    start with ``#``; the indented ``# via`` notes stay) and apt.lock's ``base``
    and ``command`` lines. Two locks of the same pins made with other options
    (``--base IMAGE`` and the same values by hand) have equal bodies."""
    return "".join(
        line
        for line in text.splitlines(keepends=True)
        if not line.startswith(("#", "base = ", "command = "))
    )


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class CliRun:
    code: int
    out: str
    err: str

    @property
    def both(self) -> str:
        return self.out + self.err


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> CliRun:
    """Run ``lockpin *args`` in-process and capture what it printed."""
    capsys.readouterr()  # drop anything printed before
    code = main(list(args))
    captured = capsys.readouterr()
    return CliRun(code, captured.out, captured.err)


def run_subprocess(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> CliRun:
    """Run ``python -m lockpin *args`` as a real process (proves no traceback escapes)."""
    proc = subprocess.run(
        [sys.executable, "-m", "lockpin", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
        check=False,
    )
    return CliRun(proc.returncode, proc.stdout, proc.stderr)


def child_env(tmp_path: Path) -> dict[str, str]:
    """This environment for a lockpin child process: no ``LOCKPIN_*`` settings, an empty
    Docker config (``tmp_path/docker-config``), no bytecode written."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCKPIN_")}
    docker = tmp_path / "docker-config"
    docker.mkdir(exist_ok=True)
    env.update(DOCKER_CONFIG=str(docker), PYTHONDONTWRITEBYTECODE="1")
    return env


def dir_state(directory: Path) -> dict[str, tuple[bytes, int]]:
    """Every file in ``directory`` (names, bytes, mtime_ns): compare before/after a run."""
    return {
        p.name: (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(directory.iterdir())
        if p.is_file()
    }


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (connection refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def build_two_index_files(tmp_path: Path) -> dict[str, Path]:
    """Files for two indexes that both serve ``shared 1.0``, with different bytes.

    ``first/``: ``shared-1.0-py3-none-any.whl``; ``second/``: a different wheel of the
    same name, an sdist, and ``onlysecond 1.0`` which the first index lacks.
    """
    from fixtures.dists import build_sdist, build_wheel

    first_dir, second_dir = tmp_path / "first", tmp_path / "second"
    first_dir.mkdir()
    second_dir.mkdir()
    files = {
        "first-wheel": build_wheel(first_dir, "shared", "1.0", requires=["alpha"]),
        "second-wheel": build_wheel(second_dir, "shared", "1.0", requires=["beta"]),
        "second-sdist": build_sdist(second_dir, "shared", "1.0"),
        "onlysecond": build_wheel(second_dir, "onlysecond", "1.0"),
    }
    assert sha256_file(files["first-wheel"]) != sha256_file(files["second-wheel"])
    return files


# -- the standard set (built by conftest.py) -----------------------------------


@dataclass(frozen=True)
class Published:
    """One file of the standard set and the ``IndexServer.add_file`` options it is served with."""

    path: Path
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StandardSet:
    root: Path
    files: tuple[Published, ...]
    moved: dict[str, str]  # project -> page path


# -- pip in throw-away venvs -------------------------------------------------


def pip_environ(cache_dir: Path) -> dict[str, str]:
    """This process's environment minus any pip configuration, plus hermetic settings.

    The machine has /etc/pip.conf, /etc/xdg/pip/pip.conf (a constraints file)
    and PIP_FIND_LINKS set globally; none of it may leak into a test.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("PIP_")}
    env.pop("PYTHONPATH", None)
    env.update(
        {
            "PIP_CONFIG_FILE": os.devnull,
            "PIP_NO_INPUT": "1",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PIP_CACHE_DIR": str(cache_dir),
            "PIP_DEFAULT_TIMEOUT": "30",
        }
    )
    return env


def run_pip_in(venv: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``<venv>/bin/python -m pip *args`` isolated; on failure show pip's output."""
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", *args],
        env=pip_environ(venv / ".pip-cache"),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if check and result.returncode != 0:
        pytest.fail(
            f"pip {' '.join(args)} exited {result.returncode}\n"
            f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        )
    return result


@dataclass(frozen=True)
class PipEnv:
    path: Path

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    def pip(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run_pip_in(self.path, *args, check=check)

    def run(self, code: str) -> str:
        """Run Python code in the venv; return its stdout."""
        result = subprocess.run(
            [str(self.python), "-c", code], capture_output=True, text=True, check=True, timeout=60
        )
        return result.stdout


def record_children(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The argv of every child process started from now on (``subprocess.run`` goes
    through ``Popen`` too), recorded as strings; the children still run."""
    argvs: list[list[str]] = []

    class RecordingPopen(subprocess.Popen):  # type: ignore[type-arg]
        def __init__(self, args: Any, *rest: Any, **kwargs: Any) -> None:
            argvs.append([str(a) for a in args])
            super().__init__(args, *rest, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", RecordingPopen)
    return argvs
