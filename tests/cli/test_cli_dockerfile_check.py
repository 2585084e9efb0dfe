"""lockpin dockerfile check: exit codes, context lookup, JSON output."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from lockpin.cli import main

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

DIGEST = "sha256:" + "a" * 64


def test_errors_exit_1_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    df = tmp_path / "Dockerfile"
    df.write_text("FROM debian:12\nRUN pip install --no-deps --require-hashes -r req.txt\n")
    (tmp_path / "req.txt").write_text("flask==3.0\n")
    assert main(["dockerfile", "check", str(df), "--format", "json"]) == 1
    rules = [f["rule"] for f in json.loads(capsys.readouterr().out)]
    assert rules == ["LP101", "LP102", "LP201"]  # in file order


def test_clean_exit_0_warnings_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the shape `lockpin dockerfile pin` writes: name:tag@sha256:…
    df = tmp_path / "Dockerfile"
    df.write_text(f"FROM debian:12@{DIGEST}\n")
    assert main(["dockerfile", "check", str(df)]) == 0
    assert "LP102" in capsys.readouterr().out


def test_context_option(tmp_path: Path) -> None:
    df = tmp_path / "Dockerfile"
    df.write_text(f"FROM --platform=linux/amd64 debian@{DIGEST}\nRUN poetry install\n")
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    assert main(["dockerfile", "check", str(df), "--context", str(ctx)]) == 1
    (ctx / "poetry.lock").write_text("x")
    assert main(["dockerfile", "check", str(df), "--context", str(ctx)]) == 0


def test_bad_input_exit_2(tmp_path: Path) -> None:
    assert main(["dockerfile", "check", str(tmp_path / "missing")]) == 2
    df = tmp_path / "Dockerfile"
    df.write_text("RUN x\n")
    assert main(["dockerfile", "check", str(df)]) == 2


def test_sarif_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    df = tmp_path / "Dockerfile"
    df.write_text("FROM debian:12\n")
    assert main(["dockerfile", "check", str(df), "--format", "sarif"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["version"] == "2.1.0"
    run = doc["runs"][0]
    ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    res = run["results"]
    assert [r["ruleId"] for r in res] == ["LP101", "LP102"]
    assert all(ids[r["ruleIndex"]] == r["ruleId"] for r in res)
    assert res[0]["level"] == "error"
    assert res[0]["locations"][0]["physicalLocation"]["region"] == {"startLine": 1}


def test_build_args_as_docker_build_takes_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    df = tmp_path / "Dockerfile"
    df.write_text("ARG BASE\nFROM --platform=linux/amd64 ${BASE}\n")
    digest = "debian:12@sha256:" + "a" * 64
    assert main(["dockerfile", "check", str(df), "--build-arg", f"BASE={digest}"]) == 0
    # NAME alone takes $NAME, as docker build does
    monkeypatch.setenv("BASE", "debian:12")
    assert main(["dockerfile", "check", str(df), "--build-arg", "BASE"]) == 1
    assert "FROM debian:12 has no digest" in capsys.readouterr().out
    monkeypatch.setenv("BASE", digest)
    assert main(["dockerfile", "check", str(df), "--build-arg", "BASE"]) == 0
    assert main(["dockerfile", "check", str(df), "--build-arg", "=x"]) == 2
    assert "--build-arg '=x': write NAME=VALUE." in capsys.readouterr().err
