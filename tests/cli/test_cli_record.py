"""``lockpin record add|show|diff``: the log written, shown and compared; errors as
one paragraph with exit code 2."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import lockpin
from support import run_cli

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

D1 = "sha256:" + "a" * 64
D2 = "sha256:" + "b" * 64
BASE = "sha256:" + "1" * 64


def _setup(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(f"FROM debian:bookworm@{BASE}\nCOPY requirements.txt /\n")
    (tmp_path / "requirements.txt").write_text("attrs==23.1.0\n")
    (tmp_path / "meta.json").write_text(
        json.dumps({"containerimage.digest": D1, "image.name": "registry.example/app:1.3.0"})
    )
    (tmp_path / "digest").write_text(D2 + "\n")


def test_add_show_diff(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _setup(tmp_path)
    log = str(tmp_path / "releases.jsonl")
    df = str(tmp_path / "Dockerfile")
    common = ["--dockerfile", df, "--log", log]
    r = run_cli(capsys, "record", "add", "--version", "1.3.0", "--metadata-file",
                str(tmp_path / "meta.json"), *common)  # fmt: skip
    assert r.code == 0, r.err
    (tmp_path / "requirements.txt").write_text("attrs==23.2.0\n")
    r = run_cli(capsys, "record", "add", "--version", "1.4.0", "--metadata-file",
                str(tmp_path / "digest"), *common)  # fmt: skip
    assert r.code == 0, r.err
    r = run_cli(capsys, "record", "add", "--version", "1.4.0", "--metadata-file",
                str(tmp_path / "digest"), *common)  # fmt: skip
    assert r.code == 2
    assert "already recorded" in r.err
    assert "Traceback" not in r.err

    r = run_cli(capsys, "record", "show", "1.3.0", "--log", log, "--format", "json")
    assert r.code == 0
    shown = json.loads(r.out)
    assert shown["image"] == {"digest": D1, "names": ["registry.example/app:1.3.0"]}
    assert shown["bases"] == [f"debian:bookworm@{BASE}"]

    r = run_cli(capsys, "record", "diff", "1.3.0", "1.4.0", "--log", log)
    assert r.code == 0
    assert f"image: ~ digest {D1} -> {D2}" in r.out
    assert "python: ~ attrs 23.1.0 -> 23.2.0" in r.out
    assert lockpin.record_diff("1.3.0", "1.4.0", log=tmp_path / "releases.jsonl").changes

    r = run_cli(capsys, "record", "show", "2.0", "--log", log)
    assert r.code == 2
    assert "no release '2.0'" in r.err


def test_add_without_digest_and_corrupt_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _setup(tmp_path)
    (tmp_path / "meta.json").write_text('{"buildx.build.ref": "b/b0/x"}')
    log = tmp_path / "releases.jsonl"
    r = run_cli(capsys, "record", "add", "--version", "1", "--metadata-file",
                str(tmp_path / "meta.json"), "--dockerfile", str(tmp_path / "Dockerfile"),
                "--log", str(log))  # fmt: skip
    assert r.code == 2
    assert f"{tmp_path / 'meta.json'}: no containerimage.digest" in r.err
    assert not log.exists()
    log.write_text("garbage\n")
    r = run_cli(capsys, "record", "show", "1", "--log", str(log))
    assert r.code == 2
    assert f"{log}:1: corrupt release record" in r.err
