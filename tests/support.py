"""Small helpers shared by the hash/verify/HTTP test modules (no fixtures here)."""

from __future__ import annotations

import hashlib
import socket
import subprocess
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lockpin.cli import main

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

__all__ = [
    "CliRun",
    "build_two_index_files",
    "closed_port",
    "dir_state",
    "run_cli",
    "run_subprocess",
    "sha256_file",
]


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
