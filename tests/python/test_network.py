"""The live tier: lockpin against the real https://pypi.org/simple (run with ``-m network``).

Only fixed, old releases: their files and hashes never change, so the expected sets
are written out here (each checked once against the downloaded bytes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

import lockpin
from lockpin.net.http import HttpConfig
from lockpin.python.index import IndexConfig
from support import run_cli

if TYPE_CHECKING:
    from pathlib import Path

    from support import PipEnv

pytestmark = pytest.mark.network

PYPI = "https://pypi.org/simple"

KNOWN = {
    "requests==2.31.0": {
        "requests-2.31.0-py3-none-any.whl": (
            "58cd2187c01e70e6e26505bca751777aa9f2ee0b7f4300988b709f44e013003f"
        ),
        "requests-2.31.0.tar.gz": (
            "942c5a758f98d790eaed1a29cb6eefc7ffb0d1cf7af05c3d2791656dbd6ad1e1"
        ),
    },
    "urllib3==2.0.7": {
        "urllib3-2.0.7-py3-none-any.whl": (
            "fdb6d215c776278489906c2f8916e6e7d4f5a9b602ccbcfdf7f016fc8da0596e"
        ),
        "urllib3-2.0.7.tar.gz": "c97dfde1f7bd43a71c8d2a58e369e9b2bf692d1334ea9f9cae55add7d0dd0f84",
    },
    "six==1.16.0": {
        "six-1.16.0-py2.py3-none-any.whl": (
            "8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254"
        ),
        "six-1.16.0.tar.gz": "1e61c37477a1626458e36f7b1d82aa5c9b094fa4802892072e49de9c60c4c926",
    },
}


def expected_text() -> str:
    blocks = []
    for pin, files in KNOWN.items():
        hashes = sorted(files.values())
        lines = [f"{pin} \\"] + [f"    --hash=sha256:{h} \\" for h in hashes[:-1]]
        lines.append(f"    --hash=sha256:{hashes[-1]}")
        blocks.append("\n".join(lines))
    return "\n".join(blocks) + "\n"


@pytest.fixture
def locked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    req = tmp_path / "requirements.txt"
    req.write_text("".join(f"{pin}\n" for pin in KNOWN))
    result = run_cli(
        capsys, "hash", str(req), "-i", PYPI, "--cache-dir", str(tmp_path / "cache"), "--refresh"
    )
    assert result.code == 0, result.err
    return req


def test_hash_gives_the_known_sha256_sets(locked: Path) -> None:
    assert locked.read_text() == expected_text()


def test_api_reports_each_file(tmp_path: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("".join(f"{pin}\n" for pin in KNOWN))
    result = lockpin.hash_requirements(
        req,
        write=False,
        index=IndexConfig(index_url=PYPI),
        http=HttpConfig(cache_dir=None),
    )
    got = {
        f"{r.name}=={r.version}": {f.filename: f.sha256 for f in r.files} for r in result.releases
    }
    assert got == KNOWN
    assert all(
        f.url.startswith("https://files.pythonhosted.org/")
        for r in result.releases
        for f in r.files
    )


def test_verify_passes_with_download(
    locked: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_cli(
        capsys,
        "verify",
        str(locked),
        "-i",
        PYPI,
        "--download",
        "--cache-dir",
        str(tmp_path / "cache"),
    )
    assert result.code == 0, result.out + result.err
    assert "3 release(s) match the index, 6 file(s) downloaded and checked" in result.err


def test_verify_catches_a_wrong_hash(
    locked: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wheel = KNOWN["six==1.16.0"]["six-1.16.0-py2.py3-none-any.whl"]
    locked.write_text(locked.read_text().replace(wheel, "0" * 64))
    result = run_cli(
        capsys, "verify", str(locked), "-i", PYPI, "--cache-dir", str(tmp_path / "cache")
    )
    assert result.code == 1
    assert f"missing hash for six-1.16.0-py2.py3-none-any.whl: expected sha256:{wheel}" in (
        result.out
    )
    assert "extra hash sha256:" + "0" * 64 in result.out


@pytest.mark.slow
def test_pip_installs_the_lockfile_from_pypi(locked: Path, pip_env: PipEnv) -> None:
    pip = pip_env.pip(
        "install",
        "--no-deps",
        "--require-hashes",
        "--only-binary",
        ":all:",
        "-r",
        str(locked),
        "--index-url",
        PYPI,
    )
    assert "Successfully installed" in pip.stdout
    frozen = set(pip_env.pip("freeze").stdout.lower().split())
    assert {"requests==2.31.0", "urllib3==2.0.7", "six==1.16.0"} <= frozen
