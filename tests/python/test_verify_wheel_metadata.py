"""``verify --download`` judges the dependency closure on the METADATA inside each
downloaded wheel, and reports an index whose ``.metadata`` says otherwise."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING

import pytest

from fixtures.dists import build_wheel, metadata_text
from fixtures.index_server import FixtureResponse
from support import run_cli

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from fixtures.index_server import IndexServer

WHEN = datetime(2024, 1, 1, tzinfo=timezone.utc)
TARGET = ["--python-version", "3.12", "--platform", "linux/amd64"]
VICTIM = "victim-1.0-py3-none-any.whl"


def serve(
    make_index: Callable[..., IndexServer], tmp_path: Path, lie: list[str] | None
) -> IndexServer:
    """victim 1.0 (requires alpha), alpha and evil; no page advertises a .metadata.
    With ``lie``, victim's unadvertised ``.metadata`` states those requirements."""
    root = tmp_path / "idx"
    root.mkdir()
    for name, requires in (("victim", ["alpha"]), ("alpha", []), ("evil", [])):
        build_wheel(root, name, "1.0", requires=requires)
    server = make_index(root, standard=False)
    for name in ("victim", "alpha", "evil"):
        server.add_file(root / f"{name}-1.0-py3-none-any.whl", upload_time=WHEN, metadata="absent")
    if lie is not None:
        body = metadata_text("victim", "1.0", requires=lie).encode()
        server.override(
            f"/files/{VICTIM}.metadata",
            lambda _m, _p, _h: FixtureResponse(
                200, body, {"Content-Type": "application/octet-stream"}
            ),
        )
    return server


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LOCKPIN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "requirements.in").write_text("victim\n")
    return tmp_path


def compile_lock(capsys: pytest.CaptureFixture[str], server: IndexServer) -> str:
    result = run_cli(
        capsys, "compile", "requirements.in", "-o", "lock.txt", "--no-header",
        "-i", server.simple_url, *TARGET,
    )  # fmt: skip
    assert result.code == 0, result.both
    with open("lock.txt", encoding="utf-8") as fh:
        return fh.read()


def verify(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    result = run_cli(capsys, "verify", "lock.txt", "--no-cache", "--closure", *TARGET, *args)
    return result.code, result.out, result.err


def victim_line(lock: str) -> str:
    number = next(i for i, line in enumerate(lock.splitlines(), 1) if line.startswith("victim=="))
    return f"lock.txt:{number}"


def test_added_requirement_is_caught_by_download(
    make_index: Callable[..., IndexServer], work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = serve(make_index, work, lie=["alpha", "evil"])
    lock = compile_lock(capsys, server)
    # The documented limit: an unadvertised .metadata is as trustworthy as TLS to the index.
    assert "evil==1.0" in lock
    assert any(r.path == f"/files/{VICTIM}.metadata" for r in server.requests)
    code, out, err = verify(capsys, "-i", server.simple_url)
    assert code == 0, out + err  # without the bytes, verify sees what compile saw

    server.clear_log()
    code, out, err = verify(capsys, "-i", server.simple_url, "--download")
    assert code == 1, out + err
    assert (
        f"{victim_line(lock)}: metadata served for victim==1.0 differs from the METADATA "
        f"inside {VICTIM}: extra Requires-Dist 'evil'." in out
    )
    # Judged on the wheel's own METADATA, evil is now required by nothing.
    assert "evil==1.0 is not required by any other pin" in out
    assert "Traceback" not in out + err
    assert any(r.path == f"/files/{VICTIM}" for r in server.requests)


def test_dropped_requirement_is_a_missing_dependency(
    make_index: Callable[..., IndexServer], work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = serve(make_index, work, lie=[])
    lock = compile_lock(capsys, server)
    assert "alpha==" not in lock
    code, out, err = verify(capsys, "-i", server.simple_url, "--download")
    assert code == 1, out + err
    assert f"inside {VICTIM}: Requires-Dist 'alpha' left out." in out
    assert f"{victim_line(lock)}: " in out
    assert "alpha" in out.split("left out.")[1]  # the closure misses alpha as well


def test_honest_index_verifies_with_download(
    make_index: Callable[..., IndexServer], work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = serve(make_index, work, lie=None)
    lock = compile_lock(capsys, server)
    assert "alpha==1.0" in lock
    assert "evil" not in lock
    code, out, err = verify(capsys, "-i", server.simple_url, "--download")
    assert code == 0, out + err
    assert out == ""
    downloaded = sorted(r.path for r in server.requests if r.path.endswith(".whl"))
    assert f"/files/{VICTIM}" in downloaded
