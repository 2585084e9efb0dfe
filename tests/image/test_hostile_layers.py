"""A hostile image read by ``read_base`` (from an OCI layout, as from a registry):
tar tricks, whiteouts of the root, lying sizes, unknown and foreign layers, caps, and
an os-release whose values try to break out into lock headers and apt URLs."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from fixtures.oci import OCI_LAYER, LayoutWriter
from lockpin.errors import LayerError, LockpinError, ManifestError
from lockpin.image.base import read_base
from lockpin.image.layers import LayerStack
from support import run_cli

if TYPE_CHECKING:
    from fixtures.index_server import IndexServer

OS_RELEASE = b"ID=debian\nVERSION_ID=12\nVERSION_CODENAME=bookworm\n"
Member = tuple[str, str, "bytes | str"]


def tar(members: list[Member]) -> bytes:
    """Members as written, names and link targets unchecked (``f`` file, ``l``
    symlink, ``h`` hard link)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as out:
        for name, kind, value in members:
            info = tarfile.TarInfo(name)
            info.mtime = 0
            if kind == "f":
                assert isinstance(value, bytes)
                info.size = len(value)
                out.addfile(info, io.BytesIO(value))
            else:
                assert isinstance(value, str)
                info.type = tarfile.SYMTYPE if kind == "l" else tarfile.LNKTYPE
                info.linkname = value
                out.addfile(info)
    return buf.getvalue()


def image(
    root: Path,
    layers: list[bytes],
    *,
    media_type: str = OCI_LAYER,
    urls: list[str] | None = None,
) -> str:
    """An OCI layout holding one linux/amd64 image of ``layers``; its ``oci:`` name."""
    w = LayoutWriter(root)
    descriptors, diff_ids = [], []
    for raw in layers:
        d = w.blob(raw, media_type)
        if urls:
            d["urls"] = urls
        descriptors.append(d)
        diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["PYTHON_VERSION=3.12.1"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }
    c = w.blob(json.dumps(config).encode(), "application/vnd.oci.image.config.v1+json")
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": c,
        "layers": descriptors,
    }
    w.tag("t", w.blob(json.dumps(manifest).encode(), manifest["mediaType"]))
    w.save()
    return f"oci:{root}:t"


def read(root: Path, *layers: list[Member], **kw: object) -> object:
    return read_base(image(root, [tar(m) for m in layers], **kw), platform="linux/amd64")  # type: ignore[arg-type]


BASE: list[Member] = [("etc/os-release", "f", OS_RELEASE)]


# -- paths stay inside the image --------------------------------------------------------------


@pytest.mark.parametrize(
    "members",
    [
        [("etc/os-release", "l", "../../../../host/etc/os-release")],
        [("up", "l", "../../.."), ("etc/os-release", "l", "/up/up/etc/nothing")],
        [("etc/os-release", "h", "../../../etc/shadow")],
    ],
    ids=["symlink-up", "symlink-chain", "hardlink-outside"],
)
def test_links_escaping_the_root_resolve_inside_it(tmp_path: Path, members: list[Member]) -> None:
    """The image replaces os-release by a link out of the root: inside the image
    that names nothing, so there is no os-release (and nothing of the host is read)."""
    base = read(tmp_path, BASE, members)
    assert base.os_release is None  # type: ignore[attr-defined]


def test_dotdot_and_absolute_member_names_land_under_the_root(tmp_path: Path) -> None:
    base = read(tmp_path, [("../../../etc/os-release", "f", b"ID=alpine\nVERSION_ID=3.20.0\n")])
    assert base.os_release.id == "alpine"  # type: ignore[attr-defined]
    base = read(tmp_path / "2", [("/etc/os-release", "f", OS_RELEASE)])
    assert base.os_release.codename == "bookworm"  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", [".wh..", ".wh.", "etc/.wh...", "etc/.wh.."])
def test_a_whiteout_of_the_root_or_a_parent_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(LayerError, match=r"whiteout of .* no image tool writes"):
        read(tmp_path, BASE, [(name, "f", b"")])


def test_aufs_metadata_whiteouts_are_ignored(tmp_path: Path) -> None:
    base = read(tmp_path, BASE, [(".wh..wh.plnk/1.2", "f", b""), (".wh..wh.aufs", "f", b"")])
    assert base.os_release.codename == "bookworm"  # type: ignore[attr-defined]


def test_a_whiteout_climbing_above_the_root_is_the_roots_whiteout(tmp_path: Path) -> None:
    base = read(tmp_path, BASE, [("../.wh.etc", "f", b"")])
    assert base.os_release is None  # type: ignore[attr-defined]


# -- sizes, truncation, bombs -------------------------------------------------------------------


def _feed(blob: bytes) -> LayerStack:
    stack = LayerStack(source="t")
    reader = stack.open_layer(digest="sha256:" + "0" * 64, diff_id=None)
    reader.feed(blob)
    reader.close()
    return stack


@pytest.mark.parametrize("kind", [tarfile.REGTYPE, tarfile.GNUTYPE_SPARSE])
def test_a_10_gib_member_header_without_its_data_is_truncated(kind: bytes) -> None:
    info = tarfile.TarInfo("var/lib/dpkg/status")
    info.size = 10 << 30
    info.type = kind
    with pytest.raises(LayerError, match="truncated"):
        _feed(info.tobuf(format=tarfile.GNU_FORMAT) + b"Package: x\n")


def test_a_layer_cut_mid_member_is_truncated(tmp_path: Path) -> None:
    raw = tar([*BASE, ("var/lib/dpkg/status", "f", b"Package: a\n" * 1000)])
    with pytest.raises(LayerError, match="truncated"):
        read_base(image(tmp_path, [raw[:1836]]), platform="linux/amd64")


def test_a_dpkg_status_over_the_cap_is_a_clear_error(tmp_path: Path) -> None:
    big = b"Package: a\nStatus: install ok installed\nVersion: 1\n\n" * 700_000  # 36 MB
    with pytest.raises(LayerError, match=r"/var/lib/dpkg/status is .* over lockpin's cap"):
        read(tmp_path, [*BASE, ("var/lib/dpkg/status", "f", big)])


def test_a_gzip_bomb_of_an_unwanted_file_is_skipped_in_bounded_memory() -> None:
    import gzip
    import tracemalloc

    raw = tar([*BASE, ("usr/share/zeros", "f", b"\0" * (64 << 20))])
    bomb = gzip.compress(raw, 9)
    assert len(bomb) < 1 << 20
    tracemalloc.start()
    try:
        stack = LayerStack(source="t")
        reader = stack.open_layer(
            digest="sha256:" + "0" * 64, diff_id="sha256:" + hashlib.sha256(raw).hexdigest()
        )
        for i in range(0, len(bomb), 65536):
            reader.feed(bomb[i : i + 65536])
        reader.close()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del raw
    assert peak < 16 << 20  # the 64 MiB inflated were never held
    assert stack.files().read("/etc/os-release") == OS_RELEASE


def test_a_diff_id_that_does_not_match_is_refused(tmp_path: Path) -> None:
    # the blob is gzip but the config's diff_id is that of the compressed bytes
    import gzip

    from fixtures.oci import OCI_LAYER_GZIP

    blob = gzip.compress(tar(BASE), mtime=0)
    with pytest.raises(LockpinError, match=r"uncompresses to sha256:.*refusing"):
        read_base(image(tmp_path, [blob], media_type=OCI_LAYER_GZIP), platform="linux/amd64")


# -- media types --------------------------------------------------------------------------------


def test_a_layer_of_unknown_media_type_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="'application/x-evil', not an image layer"):
        read_base(
            image(tmp_path, [tar(BASE)], media_type="application/x-evil"), platform="linux/amd64"
        )


@pytest.mark.parametrize(
    "media_type",
    [
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
    ],
)
def test_a_foreign_layer_is_refused_and_its_urls_never_followed(
    tmp_path: Path, media_type: str
) -> None:
    # the URL is a loopback port nobody listens on: following it would be a
    # network error, not this refusal
    ref = image(tmp_path, [tar(BASE)], media_type=media_type, urls=["http://127.0.0.1:9/x"])
    with pytest.raises(ManifestError, match="never downloads layers from the URLs"):
        read_base(ref, platform="linux/amd64")


def test_urls_on_an_ordinary_layer_are_ignored(tmp_path: Path) -> None:
    ref = image(tmp_path, [tar(BASE)], urls=["http://127.0.0.1:9/x"])
    assert read_base(ref, platform="linux/amd64").codename == "bookworm"


# -- os-release values flow into locks and URLs -------------------------------------------------


@pytest.mark.parametrize(
    "os_release",
    [
        b'ID=debian\nVERSION_CODENAME="bookworm\\"\\n# x"\n',
        b'ID=debian\nVERSION_CODENAME="bookworm\x0bbase = \\"evil\\""\n',
        b"ID=debian\nVERSION_CODENAME=../../../evil\n",
        b'ID="debian ]\n[x"\nVERSION_CODENAME=bookworm\n',
        b"ID=debian\nVERSION_CODENAME=bookworm\nID_LIKE='ubuntu #x'\n",
        b"ID=debian\nVERSION_CODENAME=bookworm\x00\n",
        b"ID=debian\nVERSION_CODENAME=bookworm/../../x\n",
    ],
)
def test_os_release_values_that_are_not_identifiers_are_refused(
    tmp_path: Path, os_release: bytes
) -> None:
    with pytest.raises(ManifestError, match="not an os-release identifier"):
        read(tmp_path, [("etc/os-release", "f", os_release)])


def test_os_release_values_of_real_distributions_are_read(tmp_path: Path) -> None:
    text = (
        b'PRETTY_NAME="Ubuntu 24.04.1 LTS"\nNAME="Ubuntu"\nVERSION_ID="24.04"\n'
        b'VERSION="24.04.1 LTS (Noble Numbat)"\nVERSION_CODENAME=noble\nID=ubuntu\n'
        b"ID_LIKE=debian\nUBUNTU_CODENAME=noble\n"
    )
    base = read(tmp_path, [("etc/os-release", "f", text)])
    assert (base.apt_distribution, base.codename) == ("ubuntu", "noble")  # type: ignore[attr-defined]


@pytest.mark.usefixtures("isolated")
def test_an_injected_os_release_writes_no_lock(
    tmp_path: Path, index_server: IndexServer, capsys: pytest.CaptureFixture[str]
) -> None:
    hostile = b'ID=debian\nVERSION_CODENAME="bookworm\\"\\n[[x]]"\n'
    ref = image(tmp_path / "img", [tar([("etc/os-release", "f", hostile)])])
    Path("requirements.in").write_text("newpy\n")
    Path("apt.in").write_text("curl\n")
    for argv in (
        ["compile", "requirements.in", "-o", "req.txt", "-i", index_server.simple_url],
        ["apt", "compile", "apt.in", "-o", "apt.lock"],
    ):
        result = run_cli(capsys, *argv, "--base", ref, "--platform", "linux/amd64")
        assert result.code == 2, result.both
        assert result.err.startswith("lockpin: error: ")
        assert "not an os-release identifier" in result.err
        assert "Traceback" not in result.err
        assert result.err.count("lockpin: error:") == 1
    assert not Path("req.txt").exists()
    assert not Path("apt.lock").exists()


@pytest.mark.usefixtures("isolated")
def test_the_lock_header_holds_only_checked_values(
    tmp_path: Path, index_server: IndexServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """PRETTY_NAME is free text in os-release(5): it may say anything, and never
    reaches the lock."""
    text = b'ID=debian\nVERSION_CODENAME=bookworm\nPRETTY_NAME="x\\"\\n# injected"\n'
    libc = (
        "usr/lib/x86_64-linux-gnu/libc.so.6",
        "f",
        b"\x7fELF GNU C Library (Debian GLIBC 2.36-9) stable release version 2.36.\n",
    )
    ref = image(tmp_path / "img", [tar([("etc/os-release", "f", text), libc])])
    Path("requirements.in").write_text("newpy\n")
    result = run_cli(
        capsys,
        "compile",
        "requirements.in",
        "-o",
        "req.txt",
        "--base",
        ref,
        "--platform",
        "linux/amd64",
        "-i",
        index_server.simple_url,
    )
    assert result.code == 0, result.both
    lock = Path("req.txt").read_text()
    assert "injected" not in lock
    [header] = [line for line in lock.splitlines() if line.startswith("# base image: ")]
    assert header.endswith(": Python 3.12.1, glibc 2.36, debian bookworm")
