"""``lockpin check-all`` over a real project: the local index, the signed fixture apt
archive and the test registry, all on 127.0.0.1. A clean project passes; drift of each
kind shows in its summary line (the other checks still run); a bad config exits 2."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from lockpin import check_all
from lockpin.config import Config, load_config
from lockpin.errors import InputError
from support import run_cli

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from fixtures.apt_archive import ServedArchive
    from fixtures.index_server import IndexServer
    from fixtures.registry_plugin import OciRegistry
    from support import CliRun

pytestmark = pytest.mark.usefixtures("isolated")


def pyproject(index: IndexServer, archive: ServedArchive, *, extra: str = "") -> str:
    return f"""\
[tool.lockpin]
python-version = "3.12"
platforms = ["linux/amd64"]
index-url = "{index.simple_url}"
retries = 0

[tool.lockpin.apt]
release = "bookworm"
mirror = "{archive.mirror}"
security-mirror = "{archive.security_mirror}"
keyring = "{archive.key.keyring}"

[tool.lockpin.dockerfile]
files = ["Dockerfile"]

[[tool.lockpin.locks]]
src = "requirements.in"

[[tool.lockpin.apt-locks]]
src = "apt.in"
{extra}"""


@pytest.fixture
def project(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    index_server: IndexServer,
    apt_archive: ServedArchive,
    oci_registry: OciRegistry,
) -> Path:
    """A clean project: each lock written by its own command with the config's defaults."""
    (tmp_path / ".git").mkdir()
    (tmp_path / "pyproject.toml").write_text(pyproject(index_server, apt_archive))
    (tmp_path / "requirements.in").write_text("alpha\n")
    (tmp_path / "apt.in").write_text("mailer\n")
    (tmp_path / "Dockerfile").write_text(
        "# lockpin: platform=linux/amd64\n"
        f"FROM {oci_registry.ref('library/pythonish:3.12')}\n"
        "COPY requirements.txt /tmp/\n"
        "RUN pip install --no-deps --require-hashes -r /tmp/requirements.txt\n"
    )
    for argv in (["compile"], ["apt", "compile"], ["dockerfile", "pin"]):
        run = run_cli(capsys, *argv)
        assert run.code == 0, run.err
    return tmp_path


def summary(run: CliRun) -> list[str]:
    return [line for line in run.out.splitlines() if re.match(r"(ok |DRIFT|FAIL)", line)]


def test_a_clean_project_passes(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, "check-all")
    assert run.code == 0, run.out + run.err
    assert summary(run) == [
        "ok    compile requirements.in -> requirements.txt (1 package(s))",
        "ok    verify requirements.txt (1 release(s))",
        "ok    apt compile apt.in -> apt.lock (2 package(s))",
        "ok    dockerfile pin Dockerfile",
        "ok    dockerfile check Dockerfile",
    ]
    assert "all 5 check(s) passed" in run.err
    # the library says the same
    assert check_all(load_config()).ok


def test_python_drift(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "requirements.in").write_text("alpha\nbeta\n")
    run = run_cli(capsys, "check-all")
    assert run.code == 1
    lines = summary(run)
    assert lines[0] == "DRIFT compile requirements.in -> requirements.txt"
    assert all(line.startswith("ok ") for line in lines[1:]), lines  # the others still ran
    assert "+beta==1.0" in run.out
    assert "update it: lockpin compile" in run.out
    assert "1 of 5 check(s) failed" in run.err


def test_a_tampered_hash_fails_verify(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lock = project / "requirements.txt"
    text = lock.read_text()
    digest = re.search(r"sha256:([0-9a-f]{64})", text)
    assert digest is not None
    lock.write_text(text.replace(digest[1], "0" * 64))
    run = run_cli(capsys, "check-all")
    assert run.code == 1
    lines = summary(run)
    assert lines[0] == "DRIFT compile requirements.in -> requirements.txt"
    assert lines[1].startswith("FAIL  verify requirements.txt (")
    assert lines[2:] == [
        "ok    apt compile apt.in -> apt.lock (2 package(s))",
        "ok    dockerfile pin Dockerfile",
        "ok    dockerfile check Dockerfile",
    ]


def test_apt_drift(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "apt.in").write_text("mailer\ngreeter\n")
    run = run_cli(capsys, "check-all")
    assert run.code == 1
    assert "DRIFT apt compile apt.in -> apt.lock" in summary(run)
    assert "update it: lockpin apt compile apt.in -o apt.lock" in run.out
    assert sum(line.startswith("ok ") for line in summary(run)) == 4


def test_dockerfile_drift_and_findings(
    project: Path, capsys: pytest.CaptureFixture[str], oci_registry: OciRegistry
) -> None:
    dockerfile = project / "Dockerfile"
    dockerfile.write_text(
        dockerfile.read_text() + f"FROM {oci_registry.ref('public/multi:1')}\n"
        "RUN pip install flask && apt-get install -y curl\n"
    )
    run = run_cli(capsys, "check-all")
    assert run.code == 1
    lines = summary(run)
    assert "DRIFT dockerfile pin Dockerfile (1 FROM to pin)" in lines
    assert "FAIL  dockerfile check Dockerfile (3 error(s))" in lines
    assert "Dockerfile:5: error LP101" in run.out
    assert "LP201" in run.out
    # [tool.lockpin.check-all] limits the kinds; [tool.lockpin.dockerfile] ignore applies
    config = project / "pyproject.toml"
    text = config.read_text().replace(
        'files = ["Dockerfile"]', 'files = ["Dockerfile"]\nignore = ["LP101", "LP201", "LP301"]'
    )
    config.write_text(text + '\n[tool.lockpin.check-all]\nchecks = ["dockerfile-check"]\n')
    run = run_cli(capsys, "check-all")
    assert (run.code, summary(run)) == (0, ["ok    dockerfile check Dockerfile"]), run.out


def test_a_missing_lock_is_drift(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "apt.lock").unlink()
    run = run_cli(capsys, "check-all", "-q")
    assert run.code == 1
    assert "DRIFT apt compile apt.in -> apt.lock (missing)" in summary(run)


def test_an_unreachable_index_fails_its_checks_only(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = run_cli(capsys, "check-all", "--index-url", "http://127.0.0.1:9/simple", "--offline")
    assert run.code == 1
    lines = summary(run)
    assert lines[0].startswith("FAIL  compile requirements.in -> requirements.txt (error)")
    assert "Traceback" not in run.out + run.err
    assert lines[-1] == "ok    dockerfile check Dockerfile"


BAD = [
    ("[tool.lockpin]\nlocks = 3\n", "pyproject.toml:2: [tool.lockpin] locks: expected an array"),
    ("[tool.lockpin]\n", "pyproject.toml: [tool.lockpin] names nothing to check"),
    ("[project]\nname = 'x'\n", "pyproject.toml: [tool.lockpin] names nothing to check"),
    ("[tool.lockpin.check-all]\nchecks = ['lint']\n", "unknown check 'lint'"),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_bad_config_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "pyproject.toml").write_text(text)
    run = run_cli(capsys, "check-all")
    assert run.code == 2
    assert message in run.err
    assert "Traceback" not in run.err
    assert run.out == ""


def test_no_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / ".git").mkdir()
    run = run_cli(capsys, "check-all")
    assert run.code == 2
    assert "no pyproject.toml with [tool.lockpin]" in run.err


class _Registry:
    """A resolver that knows one image and fails on every other."""

    digest = "sha256:" + "ab" * 32

    def resolve(self, reference: str, platforms: Sequence[str]) -> str:
        if reference != "example.test/app:1":
            raise InputError(f"{reference}: no such image")
        return self.digest


def test_the_library_takes_its_resolver_and_keeps_going(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.Dockerfile", tmp_path / "bad.Dockerfile"
    good.write_text("FROM example.test/app:1\n")
    bad.write_text("FROM example.test/gone:1\n")
    config = Config(
        path="pyproject.toml", dockerfiles=(str(good), str(bad)), checks=("dockerfile-pin",)
    )
    result = check_all(config, resolver=_Registry())
    assert not result.ok
    assert [(c.kind, c.status, c.summary) for c in result.checks] == [
        ("dockerfile-pin", "drift", "1 FROM to pin"),
        ("dockerfile-pin", "fail", "error"),
    ]
    assert f"+FROM example.test/app:1@{_Registry.digest}" in result.checks[0].details
    assert result.checks[1].details == (f"{bad}:1: cannot pin example.test/gone:1: no such image",)
    assert good.read_text() == "FROM example.test/app:1\n"  # a check never writes


def test_verbose_prints_the_details_of_passing_checks(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dockerfile = project / "Dockerfile"
    # no platform named: a warning, which does not fail the check
    dockerfile.write_text(dockerfile.read_text().replace("# lockpin: platform=linux/amd64\n", ""))
    quiet = run_cli(capsys, "check-all")
    verbose = run_cli(capsys, "check-all", "-v")
    assert quiet.code == verbose.code == 0
    assert summary(quiet) == summary(verbose)
    assert "ok    dockerfile check Dockerfile (1 warning(s))" in summary(quiet)
    assert "warning LP102" not in quiet.out
    assert "Dockerfile:1: warning LP102" in verbose.out
