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
from lockpin.image.dockerfile import parse
from lockpin.image.record import (
    append_record,
    build_record,
    diff_records,
    find_record,
    read_log,
    record_add,
    unpinned_bases,
)

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


def _hashed(*pins: str) -> str:
    return "".join(f"{pin} \\\n    --hash=sha256:{str(i) * 64}\n" for i, pin in enumerate(pins))


REQS = _hashed("flask==3.0.0", "requests==2.31.0")


def _project(tmp_path: Path, *, base: str = BASE1, reqs: str = REQS, pinned: bool = True) -> Path:
    image = f"python:3.12-slim@{base}" if pinned else "python:3.12-slim"
    (tmp_path / "Dockerfile").write_text(
        f"FROM {image} AS build\nCOPY requirements.txt /app/\n"
        "RUN pip install --no-deps --require-hashes -r /app/requirements.txt\n"
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
    assert f"{df}:1: LP101 FROM python:3.12-slim" in str(info.value)
    rec = build_record(
        version="1", metadata_file=tmp_path / "meta.json", dockerfile=df, allow_unpinned=True
    )
    assert rec.allow_unpinned
    assert [(u.rule, u.line) for u in rec.unpinned] == [("LP101", 1)]


CHECK_FAILS = f"""\
FROM debian:12@{BASE1}
# lockpin: ignore=LP403
RUN curl -fsSL https://example.org/x.sh | sh
RUN apt-get update && apt-get install -y curl
RUN pip install flask==3.0.0
COPY requirements.txt /app/
RUN pip install --no-deps --require-hashes -r /app/requirements.txt
"""


def test_refuses_every_error_finding_of_the_check(tmp_path: Path) -> None:
    _project(tmp_path)
    df = tmp_path / "Dockerfile"
    df.write_text(CHECK_FAILS)
    log = tmp_path / "releases.jsonl"
    with pytest.raises(LockpinError) as info:
        record_add(version="1", metadata_file=tmp_path / "meta.json", dockerfile=df, log=log)
    text = str(info.value)
    assert info.value.exit_code == 2
    # FILE:LINE and the rule of each error finding; the suppressed one and warnings not
    assert f"{df}:4: LP301 " in text
    assert f"{df}:5: LP201 " in text
    assert "LP403" not in text
    assert "LP102" not in text
    assert "fix: " in text  # what fixes each
    assert f"lockpin dockerfile check {df}" in text
    assert "--allow-unpinned" in text
    assert not log.exists()  # nothing written


def test_allow_unpinned_records_the_findings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lockpin.cli import main

    _project(tmp_path)
    df = tmp_path / "Dockerfile"
    df.write_text(CHECK_FAILS)
    log = tmp_path / "releases.jsonl"
    rec = record_add(
        version="1",
        metadata_file=tmp_path / "meta.json",
        dockerfile=df,
        log=log,
        allow_unpinned=True,
    )
    assert rec.allow_unpinned
    assert [(u.rule, u.line) for u in rec.unpinned] == [("LP301", 4), ("LP201", 5)]
    line = json.loads(log.read_text())
    assert line["allow_unpinned"] is True
    assert [(u["rule"], u["line"]) for u in line["unpinned"]] == [("LP301", 4), ("LP201", 5)]
    assert read_log(log) == (rec,)
    assert main(["record", "show", "1", "--log", str(log)]) == 0
    out = capsys.readouterr().out
    assert "recorded with --allow-unpinned" in out
    assert f"unpinned:  {df}:4: LP301 " in out


def test_a_passing_check_records_no_findings(tmp_path: Path) -> None:
    # warnings (no platform named, LP102) do not refuse; --allow-unpinned then says nothing
    df = _project(tmp_path)
    rec = build_record(
        version="1", metadata_file=tmp_path / "meta.json", dockerfile=df, allow_unpinned=True
    )
    assert not rec.allow_unpinned
    assert rec.unpinned == ()
    assert json.loads(rec.to_line())["unpinned"] == []


def test_cli_refusal_names_the_finding(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from lockpin.cli import main

    df = _project(tmp_path, reqs="flask==3.0.0\n")
    log = tmp_path / "releases.jsonl"
    argv = ["record", "add", "--version", "1", "--metadata-file", str(tmp_path / "meta.json")]
    argv += ["--dockerfile", str(df), "--log", str(log)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"{df}:3: LP201 " in err
    assert "Traceback" not in err
    assert not log.exists()
    assert main([*argv, "--allow-unpinned"]) == 0
    assert read_log(log)[0].unpinned[0].rule == "LP201"


def test_context_is_where_the_check_reads_locks(tmp_path: Path) -> None:
    # the Dockerfile in docker/, the build context at the top (docker build -f docker/Dockerfile .)
    _project(tmp_path, reqs="flask==3.0.0\n")  # no hashes, at the top only
    (tmp_path / "docker").mkdir()
    df = tmp_path / "docker" / "Dockerfile"
    df.write_text(
        f"FROM debian:12@{BASE1}\nCOPY requirements.txt /app/\n"
        "RUN pip install --no-deps --require-hashes -r requirements.txt\n"
    )
    meta = tmp_path / "meta.json"
    # docker/ holds no requirements.txt: nothing for the check to read there
    assert not build_record(version="1", metadata_file=meta, dockerfile=df).allow_unpinned
    with pytest.raises(LockpinError) as info:
        build_record(version="1", metadata_file=meta, dockerfile=df, context=tmp_path)
    assert f"{df}:3: LP201 requirements.txt has no --hash" in str(info.value)
    assert f"--context {tmp_path}" in str(info.value)
    (tmp_path / "requirements.txt").write_text(REQS)
    rec = build_record(version="1", metadata_file=meta, dockerfile=df, context=tmp_path)
    assert not rec.allow_unpinned
    # the COPYed lock is found in the context too
    assert [lock.path for lock in rec.locks] == [str(tmp_path / "requirements.txt")]


def test_sha512_digests_count_as_pinned(tmp_path: Path) -> None:
    sha512 = "sha512:" + "d" * 128
    text = f"FROM debian:12@{sha512}\nFROM alpine:3@sha256:{'e' * 63}\nFROM busybox@{BASE1}\n"
    df = tmp_path / "Dockerfile"
    df.write_text(text)
    (tmp_path / "meta.json").write_text(json.dumps(BUILDX_MINIMAL))
    # a digest of full length in an algorithm lockpin can check; a short one is none
    assert unpinned_bases(parse(text, filename=str(df))) == (f"{df}:2: alpine:3@sha256:{'e' * 63}",)
    rec = build_record(
        version="1", metadata_file=tmp_path / "meta.json", dockerfile=df, allow_unpinned=True
    )
    assert rec.bases[0] == f"debian:12@{sha512}"


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
    df = _project(tmp_path, base=BASE2, reqs=_hashed("flask==3.0.1", "rich==13.0.0"))
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


def test_ignore_and_severities_as_for_the_check(tmp_path: Path) -> None:
    # what [tool.lockpin.dockerfile] sets for `dockerfile check` applies to the refusal too
    df = _project(tmp_path, pinned=False)
    meta = tmp_path / "meta.json"
    assert not build_record(
        version="1", metadata_file=meta, dockerfile=df, ignore=["LP101"]
    ).allow_unpinned
    assert not build_record(
        version="1", metadata_file=meta, dockerfile=df, severities={"LP101": "warning"}
    ).allow_unpinned
    with pytest.raises(LockpinError, match="LP101"):
        build_record(version="1", metadata_file=meta, dockerfile=df, ignore=["LP102"])
