"""The base image in a lock (``Lock.bases``, :class:`LockedBase`): the requirements
header line, pylock.toml's ``[[tool.lockpin.bases]]`` (PEP 751 tool table),
deterministic and validated when lockpin reads the pylock back."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from packaging.version import Version

from lockpin import _toml
from lockpin.errors import InputError, LockpinError
from lockpin.python.lock import Lock, LockedBase, read_pylock_bases
from lockpin.python.target import parse_target
from support import run_cli

if TYPE_CHECKING:
    from fixtures.index_server import IndexServer

DIGEST = "sha256:" + "ab" * 32
MANIFEST = "sha256:" + "cd" * 32
BASE = LockedBase(
    reference="docker.io/library/python:3.12-slim",
    pinned=f"python:3.12-slim@{DIGEST}",
    digest=DIGEST,
    manifest_digest=MANIFEST,
    platform="linux/amd64",
    python_version="3.12.7",
    libc="glibc",
    libc_version="2.36",
    distribution="debian",
    codename="bookworm",
)


def _lock(*bases: LockedBase) -> Lock:
    target = parse_target(python_version="3.12.7", platform="manylinux_2_36_x86_64")
    return Lock(packages=(), targets=(target,), bases=bases)


def test_describe_is_the_header_line() -> None:
    assert BASE.describe() == (
        f"python:3.12-slim@{DIGEST} (linux/amd64): Python 3.12.7, glibc 2.36, debian bookworm"
    )
    assert f"# base image: {BASE.describe()}\n" in _lock(BASE).to_requirements_txt()


def test_pylock_records_the_bases_in_a_tool_table() -> None:
    arm = LockedBase(
        reference=BASE.reference,
        pinned=BASE.pinned,
        digest=DIGEST,
        manifest_digest="sha256:" + "ef" * 32,
        platform="linux/arm64/v8",
        libc="musl",
        libc_version="1.2",
        snapshot="20250520T000000Z",
    )
    text = _lock(BASE, arm).to_pylock()
    assert text == _lock(BASE, arm).to_pylock()  # deterministic
    data = _toml.loads(text)
    assert data["lock-version"] == "1.0"
    entries = data["tool"]["lockpin"]["bases"]
    assert entries[0] == {
        "reference": "docker.io/library/python:3.12-slim",
        "pinned": f"python:3.12-slim@{DIGEST}",
        "digest": DIGEST,
        "manifest-digest": MANIFEST,
        "platform": "linux/amd64",
        "python-version": "3.12.7",
        "libc": "glibc",
        "libc-version": "2.36",
        "distribution": "debian",
        "codename": "bookworm",
    }
    assert list(entries[1]) == [
        "reference",
        "pinned",
        "digest",
        "manifest-digest",
        "platform",
        "libc",
        "libc-version",
        "snapshot",
    ]
    assert read_pylock_bases(data, source="pylock.toml") == (BASE, arm)
    # a lock without bases has no such table; so does one lockpin did not write
    assert "bases" not in _toml.loads(_lock().to_pylock())["tool"]["lockpin"]
    assert read_pylock_bases({"lock-version": "1.0"}, source="x") == ()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"digest": "sha256:abc"}, "invalid digest"),
        ({"manifest-digest": 5}, "not a string"),
        ({"platform": "linux amd64"}, "invalid platform"),
        ({"python-version": "3.12\n[evil]"}, "invalid python-version"),
        ({"libc": "bionic"}, "glibc or musl"),
        ({"libc-version": None}, "libc without libc-version"),
        ({"pinned": "python:3.12-slim@" + MANIFEST}, "does not end with its digest"),
        ({"extra": "x"}, "unknown key"),
        ({"reference": None}, "no reference"),
    ],
)
def test_malformed_entries_are_refused_on_read(change: dict[str, Any], reason: str) -> None:
    table: dict[str, Any] = dict(BASE.to_table())
    for key, value in change.items():
        if value is None:
            del table[key]
        else:
            table[key] = value
    data = {"tool": {"lockpin": {"bases": [table]}}}
    with pytest.raises(InputError, match=reason) as info:
        read_pylock_bases(data, source="app/pylock.toml")
    assert str(info.value).startswith("app/pylock.toml: ")
    with pytest.raises(InputError, match="not an array"):
        read_pylock_bases({"tool": {"lockpin": {"bases": {}}}}, source="p")


def test_a_bad_value_is_never_written() -> None:
    bad = LockedBase(
        reference=BASE.reference,
        pinned=BASE.pinned,
        digest=DIGEST,
        manifest_digest=MANIFEST,
        platform="linux/amd64",
        codename='bookworm"\n[tool.evil]',
    )
    with pytest.raises(LockpinError, match="refusing to write the lock"):
        _lock(bad).to_pylock()


@pytest.mark.usefixtures("isolated")
def test_compile_with_base_writes_and_reads_back_the_table(
    tmp_path: Path, index_server: IndexServer, capsys: pytest.CaptureFixture[str]
) -> None:
    from fixtures.oci import sample_layout

    layout = sample_layout(tmp_path / "layout", python_version="3.13.1")
    Path("requirements.in").write_text("newpy\n")
    args = [
        "compile",
        "requirements.in",
        "--format",
        "pylock",
        "-o",
        "pylock.toml",
        "--base",
        f"oci:{layout}:python",
        "--platform",
        "linux/amd64",
        "-i",
        index_server.simple_url,
    ]
    first = run_cli(capsys, *args)
    assert first.code == 0, first.err
    text = Path("pylock.toml").read_text()
    [entry] = _toml.loads(text)["tool"]["lockpin"]["bases"]
    assert entry["reference"] == "localhost/oci-layout:python"
    assert entry["pinned"] == f"localhost/oci-layout:python@{entry['digest']}"
    assert entry["platform"] == "linux/amd64"
    assert entry["python-version"] == "3.13.1"
    assert (entry["libc"], entry["libc-version"]) == ("glibc", "2.36")
    assert (entry["distribution"], entry["codename"]) == ("debian", "bookworm")
    assert entry["snapshot"] == "20250520T000000Z"
    # again: the existing pylock is read back (validated) and the output is the same
    again = run_cli(capsys, *args)
    assert again.code == 0, again.err
    assert Path("pylock.toml").read_text() == text
    # a hand-edited entry is refused, naming the file, and the file is left alone
    edited = text.replace(f'digest = "{entry["digest"]}"', 'digest = "sha256:0"', 1)
    assert edited != text
    Path("pylock.toml").write_text(edited)
    refused = run_cli(capsys, *args)
    assert refused.code == 2, refused.both
    assert refused.err.startswith("lockpin: error: pylock.toml: ")
    assert "invalid digest" in refused.err
    assert "Traceback" not in refused.err
    assert Path("pylock.toml").read_text() == edited
    assert Version(_toml.loads(text)["lock-version"]) == Version("1.0")
