"""The release log: builder outputs, records, the JSON Lines log, diffs, kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import pytest

from lockpin.errors import InputError, LockpinError
from lockpin.image.buildmeta import parse_build_output
from lockpin.image.record import append_record, build_record, diff_records, find_record, read_log

if TYPE_CHECKING:
    from pathlib import Path

D1 = "sha256:" + "a" * 64
D2 = "sha256:" + "b" * 64
BASE1 = "sha256:" + "1" * 64
BASE2 = "sha256:" + "2" * 64

BUILDX_MULTI = {
    "buildx.build.ref": "builder/builder0/abc",
    "containerimage.descriptor": {
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "digest": D1,
        "size": 1609,
    },
    "containerimage.digest": D1,
    "image.name": "ghcr.io/owner/app:1.4.0,ghcr.io/owner/app:latest",
}
BUILDX_MINIMAL = {"containerimage.digest": D2}


def test_buildx_metadata_multi_platform() -> None:
    out = parse_build_output(json.dumps(BUILDX_MULTI, indent=2).encode(), filename="meta.json")
    assert out.kind == "buildx"
    assert out.digest == D1
    assert out.names == ("ghcr.io/owner/app:1.4.0", "ghcr.io/owner/app:latest")
    assert out.media_type == "application/vnd.oci.image.index.v1+json"


def test_buildx_minimal_form() -> None:
    out = parse_build_output(json.dumps(BUILDX_MINIMAL).encode(), filename="meta.json")
    assert (out.digest, out.names, out.media_type) == (D2, (), None)


@pytest.mark.parametrize("content", [D1 + "\n", D1, "\ufeff" + D1 + "\r\n"])
def test_digest_files_of_podman_buildah_kaniko(content: str) -> None:
    out = parse_build_output(content.encode(), filename="digest")
    assert (out.kind, out.digest) == ("digestfile", D1)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b'{"buildx.build.ref": "x"}', "containerimage.digest"),
        (b"", "empty"),
        (b"not a digest", "no image digest"),
        (b"sha256:abc", "no image digest"),
        (b'{"containerimage.digest": "sha256:zz"}', "not a sha256"),
        (json.dumps({**BUILDX_MULTI, "containerimage.digest": D2}).encode(), "differs"),
    ],
)
def test_refuses_without_digest(content: bytes, words: str) -> None:
    with pytest.raises(InputError) as info:
        parse_build_output(content, filename="out/meta.json")
    assert info.value.location == "out/meta.json"
    assert words in str(info.value)


REQS = "flask==3.0.0 \\\n    --hash=sha256:" + "c" * 64 + "\nrequests==2.31.0\n"


def _project(tmp_path: Path, *, base: str = BASE1, reqs: str = REQS, pinned: bool = True) -> Path:
    image = f"python:3.12-slim@{base}" if pinned else "python:3.12-slim"
    (tmp_path / "Dockerfile").write_text(
        f"FROM {image} AS build\nCOPY requirements.txt /app/\n"
        "RUN pip install -r /app/requirements.txt\n"
        "FROM build\n"
    )
    (tmp_path / "requirements.txt").write_text(reqs)
    (tmp_path / "meta.json").write_text(json.dumps(BUILDX_MULTI))
    return tmp_path / "Dockerfile"


def _clock() -> datetime:
    return datetime(2026, 12, 7, 16, 0, 0, tzinfo=timezone.utc)


def test_build_record_reads_dockerfile_and_copied_lock(tmp_path: Path) -> None:
    df = _project(tmp_path)
    rec = build_record(
        version="1.4.0", metadata_file=tmp_path / "meta.json", dockerfile=df, clock=_clock
    )
    assert rec.time == "2026-12-07T16:00:00Z"
    assert rec.digest == D1
    assert rec.bases == (f"python:3.12-slim@{BASE1}",)
    assert [lock.path for lock in rec.locks] == [str(tmp_path / "requirements.txt")]
    assert rec.locks[0].pins == {"flask": "3.0.0", "requests": "2.31.0"}
    assert rec.dockerfile_sha256.startswith("sha256:")


def test_unpinned_dockerfile_refused_unless_allowed(tmp_path: Path) -> None:
    df = _project(tmp_path, pinned=False)
    with pytest.raises(LockpinError) as info:
        build_record(version="1", metadata_file=tmp_path / "meta.json", dockerfile=df)
    assert f"{df}:1: python:3.12-slim" in str(info.value)
    rec = build_record(
        version="1", metadata_file=tmp_path / "meta.json", dockerfile=df, allow_unpinned=True
    )
    assert rec.allow_unpinned


def test_log_round_trip_duplicate_and_force(tmp_path: Path) -> None:
    df = _project(tmp_path)
    log = tmp_path / "releases.jsonl"
    rec = build_record(version="1.4.0", metadata_file=tmp_path / "meta.json", dockerfile=df)
    append_record(log, rec)
    assert read_log(log) == (rec,)
    line = log.read_text()
    assert line == json.dumps(json.loads(line), sort_keys=True, separators=(",", ":")) + "\n"
    with pytest.raises(LockpinError, match="already recorded"):
        append_record(log, rec)
    append_record(log, rec, force=True)
    assert len(read_log(log)) == 2


def test_corrupt_line_names_file_and_line(tmp_path: Path) -> None:
    df = _project(tmp_path)
    log = tmp_path / "releases.jsonl"
    append_record(
        log, build_record(version="1", metadata_file=tmp_path / "meta.json", dockerfile=df)
    )
    with log.open("a") as f:
        f.write("\n{not json\n")
    with pytest.raises(InputError) as info:
        read_log(log)
    assert info.value.location == f"{log}:3"


def test_append_refuses_a_torn_last_line(tmp_path: Path) -> None:
    df = _project(tmp_path)
    log = tmp_path / "releases.jsonl"
    log.write_text("")
    rec = build_record(version="1", metadata_file=tmp_path / "meta.json", dockerfile=df)
    log.write_text(rec.to_line() + rec.to_line()[:10])
    with pytest.raises(InputError):
        append_record(log, rec, force=True)


def test_diff(tmp_path: Path) -> None:
    df = _project(tmp_path)
    a = build_record(version="1.3.0", metadata_file=tmp_path / "meta.json", dockerfile=df)
    df = _project(tmp_path, base=BASE2, reqs="flask==3.0.1\nrich==13.0.0\n")
    (tmp_path / "meta.json").write_text(json.dumps(BUILDX_MINIMAL))
    b = build_record(version="1.4.0", metadata_file=tmp_path / "meta.json", dockerfile=df)
    diff = diff_records(a, b)
    assert diff.changes == (
        ("image", "digest", D1, D2),
        ("base", "python:3.12-slim", BASE1, BASE2),
        ("python", "flask", "3.0.0", "3.0.1"),
        ("python", "requests", "2.31.0", None),
        ("python", "rich", None, "13.0.0"),
    )
    text = diff.render_text()
    assert "~ flask 3.0.0 -> 3.0.1" in text
    assert "- requests 2.31.0" in text
    assert diff_records(a, a).render_text() == "1.3.0 -> 1.3.0: no changes\n"
    with pytest.raises(InputError, match="no release"):
        find_record((a, b), "9.9", log=tmp_path / "x")


def test_kill_during_record_add_leaves_whole_lines(tmp_path: Path) -> None:
    """Writers killed at arbitrary points: the log always parses, whole lines only."""
    _project(tmp_path)
    log = tmp_path / "releases.jsonl"
    script = (
        "import sys\nfrom pathlib import Path\n"
        "from lockpin.image.record import append_record, build_record\n"
        "d = Path(sys.argv[1])\n"
        "for i in range(100000):\n"
        "    r = build_record(version=f'{sys.argv[2]}.{i}', metadata_file=d / 'meta.json',"
        " dockerfile=d / 'Dockerfile')\n"
        "    append_record(d / 'releases.jsonl', r)\n"
        "    print(i, flush=True)\n"
    )
    for round_ in range(6):
        proc = subprocess.Popen(
            [sys.executable, "-c", script, str(tmp_path), str(round_)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        for _ in range(1 + (round_ * 7) % 5):  # wait for some records, then kill mid-stream
            proc.stdout.readline()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        data = log.read_bytes()
        assert data.endswith(b"\n")
        records = read_log(log)
        assert len(records) == data.count(b"\n")
    assert len(read_log(log)) >= 6


def test_missing_files_are_input_errors(tmp_path: Path) -> None:
    df = _project(tmp_path)
    with pytest.raises(InputError) as info:
        build_record(version="1", metadata_file=tmp_path / "nope.json", dockerfile=df)
    assert info.value.location == str(tmp_path / "nope.json")
    with pytest.raises(InputError) as info:
        build_record(
            version="1", metadata_file=tmp_path / "meta.json", dockerfile=tmp_path / "Nope"
        )
    assert info.value.location == str(tmp_path / "Nope")
    with pytest.raises(InputError) as info:
        build_record(
            version="1",
            metadata_file=tmp_path / "meta.json",
            dockerfile=df,
            locks=[tmp_path / "apt.lock"],
        )
    assert info.value.location == str(tmp_path / "apt.lock")


def _apt(version: str) -> str:
    from fixtures.apt_support import DATE, DEBIAN, pin
    from lockpin.apt.lock import AptLock, SuiteRecord

    return AptLock(
        distribution="debian",
        release="bookworm",
        platforms=("linux/amd64",),
        requested=("jq",),
        suites=(SuiteRecord("bookworm", DEBIAN, "1" * 64, DATE, ("amd64",)),),
        packages=(pin("linux/amd64", "jq", version, sha="a"),),
    ).to_toml()


def test_apt_lock_pins_from_copy_and_diff(tmp_path: Path) -> None:
    df = tmp_path / "Dockerfile"
    df.write_text(f"FROM debian:bookworm@{BASE1}\nCOPY apt.lock /tmp/\n")
    (tmp_path / "meta.json").write_text(json.dumps(BUILDX_MINIMAL))
    (tmp_path / "apt.lock").write_text(_apt("1.6-2.1"))
    a = build_record(version="1", metadata_file=tmp_path / "meta.json", dockerfile=df)
    assert [(lock.kind, dict(lock.pins)) for lock in a.locks] == [
        ("apt", {"jq@linux/amd64": "1.6-2.1"})
    ]
    (tmp_path / "apt.lock").write_text(_apt("1.6-2.1+deb12u1"))
    b = build_record(version="2", metadata_file=tmp_path / "meta.json", dockerfile=df)
    assert diff_records(a, b).changes == (("apt", "jq@linux/amd64", "1.6-2.1", "1.6-2.1+deb12u1"),)
