"""``lockpin dockerfile snippet``: a real hashed requirements.txt and an apt.lock made
from the apt fixtures; what is printed and written, and the bad inputs (exit 2,
FILE:LINE, nothing written, no traceback)."""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING

import pytest

from fixtures.apt_support import DATE, DEBIAN, pin
from lockpin.apt.export import export_script
from lockpin.apt.lock import AptLock, SuiteRecord
from lockpin.image import dockerfile
from support import dir_state, run_cli, run_subprocess

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.usefixtures("isolated")

HASHED = (
    "idna==3.7 \\\n"
    "    --hash=sha256:82fee1fc78add43492d3a1898bfa6d8a904cc97d8427f683ed8e798d07761aa0\n"
)


def apt_lock() -> AptLock:
    return AptLock(
        distribution="debian",
        release="bookworm",
        platforms=("linux/amd64",),
        requested=("jq",),
        suites=(SuiteRecord("bookworm", DEBIAN, "1" * 64, DATE, ("amd64",)),),
        packages=(pin("linux/amd64", "jq", "1.6-2.1+deb12u2", sha="a"),),
    )


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "requirements.txt").write_text(HASHED)
    (tmp_path / "apt.lock").write_text(apt_lock().to_toml())
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_prints_the_snippet_and_writes_the_apt_script(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    r = run_cli(capsys, "dockerfile", "snippet", "--requirements", "requirements.txt",
                "--apt", "apt.lock")  # fmt: skip
    assert r.code == 0, r.err
    assert r.out.splitlines()[1:] == [
        "COPY apt-install.sh /tmp/apt-install.sh",
        "RUN sh /tmp/apt-install.sh && rm -f /tmp/apt-install.sh",
        "COPY requirements.txt /tmp/requirements.txt",
        "RUN --mount=type=cache,target=/root/.cache/pip \\",
        "    pip install --no-deps --require-hashes -r /tmp/requirements.txt",
    ]
    assert (project / "apt-install.sh").read_text() == export_script(apt_lock())
    dockerfile.parse("FROM scratch\n" + r.out)


def test_output_file_script_path_dest_and_legacy_builder(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "docker").mkdir()
    r = run_cli(capsys, "dockerfile", "snippet", "--requirements", "requirements.txt",
                "--apt", "apt.lock", "--no-buildkit", "--dest", "/opt/l",
                "-o", "docker/install.Dockerfile", "-q")  # fmt: skip
    assert r.code == 0, r.err
    assert r.out == ""
    text = (project / "docker/install.Dockerfile").read_text()
    assert "COPY docker/apt-install.sh /opt/l/apt-install.sh\n" in text
    assert (
        "RUN pip install --no-cache-dir --no-deps --require-hashes -r /opt/l/requirements.txt\n"
        in text
    )
    assert (project / "docker/apt-install.sh").is_file()
    (project / "s").mkdir()
    r = run_cli(capsys, "dockerfile", "snippet", "--apt", "apt.lock", "--apt-script", "s/a.sh")
    assert r.code == 0, r.err
    assert "COPY s/a.sh /tmp/a.sh\n" in r.out
    assert "pip" not in r.out


@pytest.mark.parametrize(
    ("files", "args", "says"),
    [
        ({"requirements.txt": "idna==3.7\n"}, ["--requirements", "requirements.txt"],
         "requirements.txt:1: idna==3.7 has no --hash"),
        ({}, ["--requirements", "missing.txt"], "missing.txt"),
        ({"apt.lock": "not = [toml\n"}, ["--apt", "apt.lock"], "apt.lock"),
        ({}, [], "nothing to install"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_and_writes_nothing(
    tmp_path: Path, files: dict[str, str], args: list[str], says: str
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    before = dir_state(tmp_path)
    r = run_subprocess("dockerfile", "snippet", *args, "-o", "out.Dockerfile", cwd=tmp_path)
    assert r.code == 2
    assert says in r.err
    assert "Traceback" not in r.err
    assert "lockpin hash" in r.err or "hash" not in says
    assert dir_state(tmp_path) == before


def test_snippet_passes_dockerfile_check(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if importlib.util.find_spec("lockpin.image.check") is None:
        pytest.skip("lockpin.image.check (lockpin dockerfile check) is not there yet")
    r = run_cli(capsys, "dockerfile", "snippet", "--requirements", "requirements.txt",
                "--apt", "apt.lock")  # fmt: skip
    assert r.code == 0, r.err
    digest = "sha256:" + "0" * 64
    (project / "Dockerfile").write_text(
        f"FROM --platform=linux/amd64 python:3.12-slim@{digest}\n" + r.out
    )
    r = run_cli(capsys, "dockerfile", "check", "Dockerfile", "--context", ".")
    assert r.code == 0, r.out + r.err
