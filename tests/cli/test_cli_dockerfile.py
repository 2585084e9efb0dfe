"""``lockpin dockerfile pin``: in-process against an in-memory registry (through the
``make_resolver`` seam) for what is written and printed and when, and end to end
against the real test registry (:mod:`fixtures.registry_plugin`) with the digests
checked against skopeo's."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import pytest

from lockpin.cli import dockerfile as cli_dockerfile
from lockpin.errors import NoSuchImageError
from support import dir_state, run_cli, run_subprocess

if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence
    from pathlib import Path

    from fixtures.registry_plugin import OciRegistry

pytestmark = pytest.mark.usefixtures("isolated")


def digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


class Fake:
    def __init__(self, *, moved: dict[str, str] | None = None) -> None:
        self.moved = moved or {}
        self.calls: list[tuple[str, tuple[str, ...]]] = []

    def resolve(self, reference: str, platforms: Sequence[str]) -> str:
        self.calls.append((reference, tuple(platforms)))
        if reference.startswith("gone"):
            raise NoSuchImageError(
                f"{reference} is not in the registry", reference=reference, url="https://x/v2/"
            )
        return digest(self.moved.get(reference, reference))


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Fake:
    registry = Fake()

    def make(args: argparse.Namespace) -> Fake:
        return registry

    monkeypatch.setattr(cli_dockerfile, "make_resolver", make)
    return registry


TEXT = "# syntax=docker/dockerfile:1\nFROM golang:1.22 AS build\nFROM build\nFROM python:3.12-slim"
PINNED = (
    "# syntax=docker/dockerfile:1\n"
    f"FROM golang:1.22@{digest('golang:1.22')} AS build\n"
    "FROM build\n"
    f"FROM python:3.12-slim@{digest('python:3.12-slim')}"
)


def test_pin_writes_and_prints_the_diff(
    fake: Fake, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "Dockerfile").write_text(TEXT)
    run = run_cli(capsys, "dockerfile", "pin")
    assert run.code == 0, run.err
    assert (tmp_path / "Dockerfile").read_text() == PINNED
    assert "--- Dockerfile (current)" in run.out
    assert "+++ Dockerfile (pinned)" in run.out
    assert f"+FROM golang:1.22@{digest('golang:1.22')} AS build\n" in run.out
    # the file has no final newline: the diff says so rather than run lines together
    assert "\\ No newline at end of file\n" in run.out
    assert "2 reference(s) pinned" in run.err
    # again: nothing to do, nothing written, nothing asked
    fake.calls.clear()
    before = dir_state(tmp_path)
    run = run_cli(capsys, "dockerfile", "pin", "Dockerfile")
    assert (run.code, run.out) == (0, "")
    assert "is pinned" in run.err
    assert dir_state(tmp_path) == before
    assert fake.calls == []


def test_check_and_dry_run_write_nothing(
    fake: Fake, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "Dockerfile").write_text(TEXT)
    before = dir_state(tmp_path)
    run = run_cli(capsys, "dockerfile", "pin", "--check")
    assert run.code == 1
    assert "+++ Dockerfile (would write)" in run.out
    assert "run 'lockpin dockerfile pin Dockerfile'" in run.err
    assert dir_state(tmp_path) == before
    run = run_cli(capsys, "dockerfile", "pin", "--dry-run")
    assert run.code == 0
    assert f"+FROM python:3.12-slim@{digest('python:3.12-slim')}" in run.out
    assert dir_state(tmp_path) == before
    (tmp_path / "Dockerfile").write_text(PINNED)
    assert run_cli(capsys, "dockerfile", "pin", "--check").code == 0


def test_update_prints_old_to_new(
    fake: Fake, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "Dockerfile").write_text(PINNED)
    fake.moved["python:3.12-slim"] = "next month"
    run = run_cli(capsys, "dockerfile", "pin", "--update", "--check")
    assert run.code == 1
    assert "'lockpin dockerfile pin --update Dockerfile'" in run.err
    run = run_cli(capsys, "dockerfile", "pin", "--update")
    assert run.code == 0
    old, new = digest("python:3.12-slim"), digest("next month")
    assert f"Dockerfile:4: python:3.12-slim@{old}: {old} -> {new}" in run.err
    assert (tmp_path / "Dockerfile").read_text() == PINNED.replace(old, new)


def test_platforms_and_build_args_reach_the_library(
    fake: Fake, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "Dockerfile").write_text("ARG BASE=alpine:3.20\nARG TAG\nFROM ${BASE}\n")
    monkeypatch.setenv("TAG", "ignored")
    run = run_cli(
        capsys,
        "dockerfile",
        "pin",
        "--platform",
        "linux/arm64",
        "--build-arg",
        "BASE=alpine:3.21",
        "--build-arg",
        "TAG",
    )
    assert run.code == 0
    # the build arg overrides the default: the FROM's value is not in the file
    assert "Dockerfile:3: cannot pin FROM ${BASE}: BASE is given as a build arg" in run.err
    assert fake.calls == []
    run = run_cli(capsys, "dockerfile", "pin", "--platform", "linux/arm64")
    assert run.code == 0
    assert fake.calls == [("alpine:3.20", ("linux/arm64",))]
    assert run_cli(capsys, "dockerfile", "pin", "--build-arg", "=x").code == 2


def test_failures_leave_the_file_untouched(
    fake: Fake, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text("FROM python:3.12\nFROM gone:1\n")
    before = dir_state(tmp_path)
    run = run_cli(capsys, "dockerfile", "pin")
    assert run.code == 2
    assert run.out == ""
    assert run.err.startswith("lockpin: error: Dockerfile:2: cannot pin gone:1: ")
    assert dir_state(tmp_path) == before
    path.write_text("FROM python:3.12\nRUN <<EOF\nnever closed\n")
    run = run_cli(capsys, "dockerfile", "pin")
    assert run.code == 2
    assert "lockpin: error: Dockerfile:2: unterminated heredoc" in run.err
    assert path.read_text() == "FROM python:3.12\nRUN <<EOF\nnever closed\n"
    run = run_cli(capsys, "dockerfile", "pin", "missing/Dockerfile")
    assert run.code == 2
    assert "missing/Dockerfile: no such file" in run.err


def test_no_traceback_from_a_real_process(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM --pull=always python:3.12\n")
    run = run_subprocess("dockerfile", "pin", cwd=tmp_path)
    assert run.code == 2
    assert "Traceback" not in run.err
    assert "Dockerfile:1: unknown flag: --pull on FROM" in run.err


# -- end to end, against the real registry ---------------------------------------------------


def test_pin_against_the_registry(
    oci_registry: OciRegistry,
    docker_config: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    multi = oci_registry.ref("public/multi:1")
    python = oci_registry.ref("library/pythonish:3.12")
    path = tmp_path / "Dockerfile"
    text = (
        f"ARG BASE={python}\r\n"
        f"FROM --platform=$BUILDPLATFORM {multi} AS build\r\n"
        "RUN <<EOF\r\necho hi\r\nEOF\r\n"
        "FROM ${BASE}\r\n"
        "COPY --from=build /x /x\r\n"
    )
    path.write_bytes(text.encode())
    run = run_cli(capsys, "dockerfile", "pin", "--platform", "linux/amd64")
    assert run.code == 0, run.err
    want_multi = oci_registry.digests["public/multi:1"]
    want_python = oci_registry.digests["library/pythonish:3.12"]
    expected = text.replace(f"{multi} AS", f"{multi}@{want_multi} AS").replace(
        f"ARG BASE={python}", f"ARG BASE={python}@{want_python}"
    )
    assert path.read_bytes() == expected.encode()
    # idempotent, also under --check
    assert run_cli(capsys, "dockerfile", "pin", "--check").code == 0
    # an older pin moves with --update
    stale = expected.replace(want_multi, digest("stale"))
    path.write_bytes(stale.encode())
    assert run_cli(capsys, "dockerfile", "pin").code == 0
    assert path.read_bytes() == stale.encode()
    run = run_cli(capsys, "dockerfile", "pin", "--update")
    assert run.code == 0, run.err
    assert f"{digest('stale')} -> {want_multi}" in run.err
    assert path.read_bytes() == expected.encode()


def test_registry_refusals_leave_the_file_untouched(
    oci_registry: OciRegistry,
    docker_config: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    multi = oci_registry.ref("public/multi:1")
    path = tmp_path / "Dockerfile"
    path.write_text(f"FROM {multi}\n")
    before = dir_state(tmp_path)
    run = run_cli(capsys, "dockerfile", "pin", "--platform", "linux/s390x")
    assert run.code == 2
    assert "Dockerfile:1: cannot pin" in run.err
    assert "linux/amd64" in run.err  # the platforms it does have
    assert dir_state(tmp_path) == before
    path.write_text(f"FROM {oci_registry.ref('public/nothing:1')}\n")
    before = dir_state(tmp_path)
    run = run_cli(capsys, "dockerfile", "pin")
    assert run.code == 2
    assert "Dockerfile:1: cannot pin" in run.err
    assert "Traceback" not in run.err
    assert dir_state(tmp_path) == before
