"""lockpin.image.base: what a base image holds, read from OCI layouts written here."""

from __future__ import annotations

import gzip
import hashlib
import json
from typing import TYPE_CHECKING

import pytest

from fixtures.oci import (
    OCI_CONFIG,
    OS_RELEASE,
    SNAPSHOT_SOURCES,
    Entry,
    File,
    LayoutWriter,
    Symlink,
    sample_layout,
)
from lockpin.errors import InputError, IntegrityError, NoSuchPlatformError
from lockpin.image.base import (
    BaseImage,
    CLibrary,
    OsRelease,
    parse_os_release,
    read_base,
    snapshot_of_sources,
)

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    return sample_layout(tmp_path / "layout")


def test_debian_base_with_the_status_split_over_two_layers(layout: Path) -> None:
    base = read_base(f"oci:{layout}:debian", platform="linux/amd64")
    assert base.os_release == OsRelease(
        id="debian",
        version_id="12",
        codename="bookworm",
        pretty_name="Debian GNU/Linux 12 (bookworm)",
    )
    assert base.libc == CLibrary("glibc", "2.36", "dpkg libc6 2.36-9+deb12u7")
    assert base.python_version == "3.11.2"
    assert base.python_source.startswith("dpkg python3.11-minimal 3.11.2-6+deb12u5")
    assert base.dpkg_status is not None
    assert "python3.11-minimal" in base.dpkg_status  # the second layer's status won
    assert base.snapshot == "20250520T000000Z"
    assert base.platform_tag() == "manylinux_2_36_x86_64"
    assert base.manifest_digest != base.digest  # an index: one digest per platform


def test_the_platform_is_chosen_from_the_index(layout: Path) -> None:
    base = read_base(f"oci:{layout}:debian", platform="linux/arm64")
    assert base.platform == "linux/arm64/v8"
    assert base.platform_tag() == "manylinux_2_36_aarch64"
    amd = read_base(f"oci:{layout}:debian", platform="linux/amd64")
    assert base.digest == amd.digest  # the index
    assert base.manifest_digest != amd.manifest_digest
    with pytest.raises(NoSuchPlatformError) as info:
        read_base(f"oci:{layout}:debian", platform="linux/s390x")
    assert info.value.available == ("linux/amd64", "linux/arm64/v8")


def test_python_base_reads_python_version_from_the_config(layout: Path) -> None:
    base = read_base(f"oci:{layout}:python", platform="linux/amd64")
    assert base.python_version == "3.12.7"
    assert base.python_source.startswith("config Env PYTHON_VERSION")
    target = base.target()
    assert target.describe() == "CPython 3.12.7 on manylinux_2_36_x86_64"
    assert base.target("3.12").python_version == target.python_version
    assert str(base.target("3.12.7").python_version) == "3.12.7"
    for other in ("3.11", "3.12.6", "3.13.7"):
        with pytest.raises(InputError, match="disagrees with the base image"):
            base.target(other)
    assert base.warnings == ()


def test_alpine_base_is_musllinux(layout: Path) -> None:
    base = read_base(f"oci:{layout}:alpine", platform="linux/amd64")
    assert base.libc == CLibrary("musl", "1.2", "apk musl 1.2.5-r8")
    assert base.python_version == "3.12.8"
    assert base.dpkg_status is None
    assert base.target().describe() == "CPython 3.12.8 on musllinux_1_2_x86_64"
    assert base.os_release is not None
    assert base.os_release.family == "alpine"


def test_a_tampered_layer_blob_is_refused(layout: Path) -> None:
    manifest_blobs = [
        p
        for p in (layout / "blobs" / "sha256").iterdir()
        if p.read_bytes()[:2] == b"\x1f\x8b" and b"alpine" in gzip.decompress(p.read_bytes())
    ]
    (blob,) = manifest_blobs
    blob.write_bytes(
        gzip.compress(gzip.decompress(blob.read_bytes()).replace(b"3.21.0", b"3.99.0"))
    )
    with pytest.raises(IntegrityError, match="refusing it"):
        read_base(f"oci:{layout}:alpine", platform="linux/amd64")


def test_garbage_in_place_of_a_layer_is_an_integrity_error(layout: Path) -> None:
    blobs = [
        p
        for p in (layout / "blobs" / "sha256").iterdir()
        if p.read_bytes()[:2] == b"\x1f\x8b" and b"alpine" in gzip.decompress(p.read_bytes())
    ]
    (blob,) = blobs
    size = blob.stat().st_size
    blob.write_bytes(b"\x1f\x8b" + b"\xff" * (size - 2))  # same size, not gzip at all
    with pytest.raises(IntegrityError, match="refusing it"):
        read_base(f"oci:{layout}:alpine", platform="linux/amd64")


def test_a_wrong_diff_id_is_refused(tmp_path: Path) -> None:
    w = LayoutWriter(tmp_path / "l")
    desc = w.image(layers=[[File("etc/os-release", OS_RELEASE)]])
    manifest = json.loads(w.read(desc))
    config = json.loads(w.read(manifest["config"]))
    config["rootfs"]["diff_ids"] = ["sha256:" + "0" * 64]
    manifest["config"] = w.blob(json.dumps(config).encode(), OCI_CONFIG)
    w.tag("bad", w.blob(json.dumps(manifest).encode(), desc["mediaType"]))
    root = w.save()
    with pytest.raises(IntegrityError) as info:
        read_base(f"oci:{root}:bad", platform="linux/amd64")
    assert info.value.expected == "sha256:" + "0" * 64


def test_glibc_from_libc_so_6_without_dpkg(tmp_path: Path) -> None:
    w = LayoutWriter(tmp_path / "l")
    banner = b"\0GNU C Library (GNU libc) stable release version 2.39.\nCopyright\0"
    old: list[Entry] = [
        File("lib/x86_64-linux-gnu/libc-2.31.so", b"ELF"),
        Symlink("lib/x86_64-linux-gnu/libc.so.6", "libc-2.31.so"),
    ]
    w.tag("old", w.image(layers=[old]))
    w.tag("new", w.image(layers=[[File("usr/lib64/libc.so.6", b"ELF" + banner * 3)]]))
    root = w.save()
    assert read_base(f"oci:{root}:old", platform="linux/amd64").libc == CLibrary(
        "glibc", "2.31", "/lib/x86_64-linux-gnu/libc.so.6 -> /lib/x86_64-linux-gnu/libc-2.31.so"
    )
    found = read_base(f"oci:{root}:new", platform="linux/amd64")
    assert found.libc == CLibrary("glibc", "2.39", "/usr/lib64/libc.so.6")
    assert found.python_version is None
    with pytest.raises(InputError, match="has no Python"):
        found.target()
    assert str(found.target("3.12.1").python_version) == "3.12.1"


def test_distroless_status_d(tmp_path: Path) -> None:
    w = LayoutWriter(tmp_path / "l")
    stanza = b"Package: libc6\nVersion: 2.36-9+deb12u10\nArchitecture: amd64\n"
    layer: list[Entry] = [
        File("var/lib/dpkg/status.d/libc6", stanza),
        File("var/lib/dpkg/status.d/libc6.md5sums", b"abc  lib/x\n"),
        File(
            "var/lib/dpkg/status.d/python3.11-minimal",
            b"Package: python3.11-minimal\nVersion: 3.11.2-6+deb12u6\nArchitecture: amd64\n",
        ),
        File("usr/bin/python3.11", b"ELF"),
        Symlink("usr/bin/python3", "/usr/bin/python3.11"),
    ]
    w.tag("distroless", w.image(layers=[layer]))
    root = w.save()
    base = read_base(f"oci:{root}:distroless", platform="linux/amd64")
    assert base.libc is not None
    assert base.libc.version == "2.36"
    assert base.python_version == "3.11.2"
    assert base.dpkg_status is not None
    assert base.dpkg_status.count("Status: install ok installed") == 2


def test_python_minor_without_a_micro_warns(tmp_path: Path) -> None:
    w = LayoutWriter(tmp_path / "l")
    layer: list[Entry] = [
        File("usr/bin/python3.13", b"ELF"),
        Symlink("usr/bin/python3", "python3.13"),
    ]
    w.tag("x", w.image(layers=[layer]))
    root = w.save()
    base = read_base(f"oci:{root}:x", platform="linux/amd64")
    assert base.python_version == "3.13"
    assert any("--python-version 3.13.N" in w for w in base.warnings)
    with pytest.raises(InputError, match="found neither glibc"):
        base.target()


def test_to_dict_and_describe(layout: Path) -> None:
    base = read_base(f"oci:{layout}:python", platform="linux/amd64")
    data = base.to_dict()
    assert data["python_version"] == "3.12.7"
    assert data["libc"] == {
        "family": "glibc",
        "version": "2.36",
        "source": "dpkg libc6 2.36-9+deb12u7",
    }
    assert data["dpkg_status_sha256"] == hashlib.sha256(base.dpkg_status.encode()).hexdigest()  # type: ignore[union-attr]
    assert json.loads(json.dumps(data)) == data
    assert base.describe().startswith("localhost/oci-layout:python@sha256:")
    assert base.describe().endswith(
        "(linux/amd64): Python 3.12.7, glibc 2.36, debian bookworm, snapshot 20250520T000000Z"
    )
    assert isinstance(base, BaseImage)


# -- pure parts --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "ID=debian\nVERSION_CODENAME=bookworm\n",
            {"ID": "debian", "VERSION_CODENAME": "bookworm"},
        ),
        ('NAME="Ubuntu"\nID_LIKE="debian"\n', {"NAME": "Ubuntu", "ID_LIKE": "debian"}),
        ("PRETTY_NAME='x y'\n# ID=nope\n", {"PRETTY_NAME": "x y"}),
        ('A="with \\"quotes\\" and \\$"\n', {"A": 'with "quotes" and $'}),
        ("not a line\n=x\nB=1\n", {"B": "1"}),
    ],
)
def test_parse_os_release(text: str, expected: dict[str, str]) -> None:
    assert parse_os_release(text) == expected


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (
            ["deb http://snapshot.debian.org/archive/debian/20250101T000000Z bookworm main\n"],
            "20250101T000000Z",
        ),
        (
            ["# deb http://snapshot.debian.org/archive/debian/20250101T000000Z bookworm main\n"],
            None,
        ),
        ([SNAPSHOT_SOURCES.decode()], "20250520T000000Z"),
        ([SNAPSHOT_SOURCES.decode() + "Enabled: no\n"], None),
        (
            # Debian's images: the snapshot is a comment beside the real URI
            [
                "Types: deb\n# http://snapshot.debian.org/archive/debian/20250101T000000Z\nURIs: http://deb.debian.org/debian\n"
            ],
            None,
        ),
        (
            ["deb http://snapshot.ubuntu.com/ubuntu/20250301T120000Z noble main\n"],
            "20250301T120000Z",
        ),
        (["deb http://deb.debian.org/debian bookworm main\n"], None),
    ],
)
def test_snapshot_of_sources(texts: list[str], expected: str | None) -> None:
    assert snapshot_of_sources(texts)[0] == expected


def test_several_snapshots_warn_and_take_the_earliest() -> None:
    stamp, warnings = snapshot_of_sources(
        [
            "deb http://snapshot.debian.org/archive/debian/20250201T000000Z bookworm main\n"
            "deb http://snapshot.debian.org/archive/debian-security/20250101T000000Z "
            "bookworm-security main\n"
        ]
    )
    assert stamp == "20250101T000000Z"
    assert "several snapshots" in warnings[0]


def test_a_plain_status_file_is_kept_byte_for_byte(tmp_path: Path) -> None:
    # Its sha256 must be what `sha256sum /var/lib/dpkg/status` gives in the image,
    # the value a lock made with --base-status of the same file records.
    status = (
        b"Package: libc6\nStatus: install ok installed\nVersion: 2.36-9+deb12u7\n"
        b"Architecture: amd64\n\n\n"
    )
    w = LayoutWriter(tmp_path / "l")
    w.tag("img", w.image(layers=[[File("var/lib/dpkg/status", status)]]))
    base = read_base(f"oci:{w.save()}:img", platform="linux/amd64")
    assert base.dpkg_status == status.decode()
    assert base.to_dict()["dpkg_status_sha256"] == hashlib.sha256(status).hexdigest()
