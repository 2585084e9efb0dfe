"""lockpin.image.layers: layer tars read as streams, whiteouts, links, hostile archives."""

from __future__ import annotations

import gzip
import hashlib
import sys
import tarfile
from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixtures.oci import Dir as D
from fixtures.oci import Entry as Member
from fixtures.oci import File as F
from fixtures.oci import Hardlink as H
from fixtures.oci import Symlink as L
from fixtures.oci import tar_bytes
from lockpin.errors import IntegrityError, LayerError
from lockpin.image.layers import (
    DEFAULT_MAX_FILE_BYTES,
    MAX_SYMLINK_HOPS,
    ImageFiles,
    LayerStack,
    default_want,
    normalize_path,
)

if TYPE_CHECKING:
    from collections.abc import Sequence


def diff_id(tar: bytes) -> str:
    return "sha256:" + hashlib.sha256(tar).hexdigest()


def read(
    *layers: bytes | Sequence[Member],
    compress: str = "none",
    chunk: int = 65536,
    check: bool = True,
    max_file_bytes: int | None = None,
) -> ImageFiles:
    stack = LayerStack(
        source="test/image:1",
        max_file_bytes=DEFAULT_MAX_FILE_BYTES if max_file_bytes is None else max_file_bytes,
    )
    for n, layer in enumerate(layers):
        tar = layer if isinstance(layer, bytes) else tar_bytes(layer)
        blob = compressed(tar, compress)
        reader = stack.open_layer(
            digest=f"sha256:{n:064x}", diff_id=diff_id(tar) if check else None
        )
        for start in range(0, len(blob), chunk):
            reader.feed(blob[start : start + chunk])
        reader.close()
    return stack.files()


def compressed(tar: bytes, how: str) -> bytes:
    if how == "gzip":
        return gzip.compress(tar, mtime=0)
    if how == "gzip2":  # two gzip members, as some writers produce
        half = len(tar) // 2
        return gzip.compress(tar[:half], mtime=0) + gzip.compress(tar[half:], mtime=0)
    if how == "zstd":
        zstandard = pytest.importorskip("zstandard")
        data: bytes = zstandard.ZstdCompressor().compress(tar)
        return data
    return tar


OS_RELEASE = b"ID=debian\nVERSION_CODENAME=bookworm\n"


# -- reading, compressions, chunking --------------------------------------------------------


@pytest.mark.parametrize("compress", ["none", "gzip", "gzip2", "zstd"])
@pytest.mark.parametrize("chunk", [1, 7, 512, 65536])
def test_reads_wanted_files_in_every_compression_and_chunking(compress: str, chunk: int) -> None:
    big = bytes(range(256)) * 400  # an unwanted member, skipped as it streams past
    files = read(
        [
            D("etc"),
            F("etc/os-release", OS_RELEASE),
            F("usr/share/big.bin", big),
            F("var/lib/dpkg/status", b"Package: a\n"),
        ],
        compress=compress,
        chunk=chunk,
    )
    assert files.read("/etc/os-release") == OS_RELEASE
    assert files.read("/var/lib/dpkg/status") == b"Package: a\n"
    assert files.read("/usr/share/big.bin") is None  # not kept
    assert files.paths() == ("/etc/os-release", "/var/lib/dpkg/status")


def test_name_only_files_are_noted_without_their_bytes() -> None:
    files = read(
        [F("usr/local/bin/python3.12", b"\x7fELF" * 1000), L("usr/local/bin/python3", "python3.12")]
    )
    assert files.is_file("/usr/local/bin/python3")
    assert files.realpath("/usr/local/bin/python3") == "/usr/local/bin/python3.12"
    assert files.read("/usr/local/bin/python3.12") is None
    assert files.listdir("/usr/local/bin") == ("python3", "python3.12")


@pytest.mark.parametrize(
    ("path", "want"),
    [
        ("/etc/os-release", "data"),
        ("/usr/lib/os-release", "data"),
        ("/var/lib/dpkg/status", "data"),
        ("/var/lib/dpkg/status.d/libc6", "data"),
        ("/etc/apt/sources.list.d/debian.sources", "data"),
        ("/lib/apk/db/installed", "data"),
        ("/usr/lib/x86_64-linux-gnu/libc.so.6", "data"),
        ("/lib64/libc.so.6", "data"),
        ("/lib/x86_64-linux-gnu/libc-2.31.so", "name"),
        ("/lib/ld-musl-aarch64.so.1", "name"),
        ("/usr/local/bin/python3.12", "name"),
        ("/usr/bin/python3", "name"),
        ("/usr/local/lib/libpython3.12.so.1.0", "name"),
        ("/usr/lib/x86_64-linux-gnu/libpython3.11.so.1", "name"),
        ("/usr/bin/python2.7", None),
        ("/home/x/libc.so.6", None),
        ("/usr/lib/a/b/libc.so.6", None),
        ("/var/lib/dpkg/status-old", None),
        ("/etc/os-release.d/x", None),
    ],
)
def test_default_want(path: str, want: str | None) -> None:
    assert default_want(path) == want


# -- integrity and malformed archives --------------------------------------------------------


def test_diff_id_mismatch_is_refused() -> None:
    tar = tar_bytes([F("etc/os-release", OS_RELEASE)])
    stack = LayerStack(source="test/image:1")
    reader = stack.open_layer(digest="sha256:" + "a" * 64, diff_id="sha256:" + "0" * 64)
    reader.feed(gzip.compress(tar))
    with pytest.raises(IntegrityError) as info:
        reader.close()
    assert info.value.expected == "sha256:" + "0" * 64
    assert info.value.actual == diff_id(tar)  # of the uncompressed bytes
    assert "sha256:" + "a" * 64 in str(info.value)


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"this is not a tar archive at all" * 20, "bad header checksum"),
        (
            gzip.compress(tar_bytes([F("etc/os-release", OS_RELEASE)]))[:-12],
            "gzip stream is truncated",
        ),
        (b"\x1f\x8b" + b"\x00" * 100, "not valid gzip"),
        (tar_bytes([F("etc/os-release", OS_RELEASE * 100)])[:700], "truncated"),
        (tar_bytes([F("etc/os-release", OS_RELEASE)])[:100], "truncated"),
    ],
)
def test_malformed_layers_are_clear_errors(blob: bytes, message: str) -> None:
    stack = LayerStack(source="test/image:1")
    reader = stack.open_layer(digest="sha256:" + "b" * 64, diff_id=None)

    def feed_and_close() -> None:
        reader.feed(blob)
        reader.close()

    with pytest.raises(LayerError) as info:
        feed_and_close()
    assert message in str(info.value)
    assert info.value.layer == "sha256:" + "b" * 64
    assert str(info.value).startswith("test/image:1: layer sha256:")


def test_a_huge_member_header_without_its_data_is_truncated_not_buffered() -> None:
    info = tarfile.TarInfo("usr/share/huge")
    info.size = 10 * 1024**3  # 10 GiB promised, none delivered
    header = info.tobuf(tarfile.GNU_FORMAT)
    stack = LayerStack()
    reader = stack.open_layer(digest="sha256:" + "c" * 64, diff_id=None)
    reader.feed(header + b"\0" * 4096)
    with pytest.raises(LayerError, match="truncated"):
        reader.close()


def test_a_wanted_file_over_the_cap_is_refused_when_read() -> None:
    files = read([F("var/lib/dpkg/status", b"x" * 5000)], max_file_bytes=1000)
    with pytest.raises(LayerError, match="over lockpin's cap"):
        files.read("/var/lib/dpkg/status")


def test_an_empty_layer_and_a_layer_without_end_blocks_are_fine() -> None:
    tar = tar_bytes([F("etc/os-release", OS_RELEASE)])
    without_end = tar[: 512 + 512]  # header + one data block, no end-of-archive marker
    files = read(b"", without_end, check=False)
    assert files.read("/etc/os-release") == OS_RELEASE


def test_zstd_without_a_module_names_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "zstandard", None)
    monkeypatch.setitem(sys.modules, "compression", None)
    stack = LayerStack(source="test/image:1")
    reader = stack.open_layer(digest="sha256:" + "d" * 64, diff_id=None)
    with pytest.raises(LayerError) as info:
        reader.feed(b"\x28\xb5\x2f\xfd" + b"\0" * 20)
    assert "pip install zstandard" in str(info.value)
    assert "sha256:" + "d" * 64 in str(info.value)


def test_gzip_bomb_is_inflated_in_bounded_pieces() -> None:
    # 64 MiB of zeros compress to ~64 KiB: the reader must never hold it whole.
    tar = tar_bytes([F("usr/share/zeros", b"\0" * (64 * 1024 * 1024))])
    files = read(tar, compress="gzip")
    assert files.paths() == ()


# -- whiteouts and the layer stack -----------------------------------------------------------


def test_whiteout_of_a_later_layer_deletes_the_file() -> None:
    files = read(
        [F("var/lib/dpkg/status", b"old"), F("etc/os-release", OS_RELEASE)],
        [F("var/lib/dpkg/.wh.status")],
    )
    assert files.read("/var/lib/dpkg/status") is None
    assert files.read("/etc/os-release") == OS_RELEASE


def test_whiteout_never_deletes_its_own_layers_entries_whatever_the_order() -> None:
    files = read(
        [F("var/lib/dpkg/status", b"old")],
        [F("var/lib/dpkg/status", b"new"), F("var/lib/dpkg/.wh.status")],
    )
    assert files.read("/var/lib/dpkg/status") == b"new"


def test_whiteout_of_a_directory_deletes_everything_below() -> None:
    files = read(
        [F("etc/apt/sources.list.d/a.list", b"a"), F("etc/apt/sources.list.d/b.sources", b"b")],
        [F("etc/apt/.wh.sources.list.d")],
        [F("etc/apt/sources.list.d/c.list", b"c")],
    )
    assert files.listdir("/etc/apt/sources.list.d") == ("c.list",)


def test_opaque_directory_hides_earlier_layers_only() -> None:
    files = read(
        [F("var/lib/dpkg/status.d/a", b"a"), F("var/lib/dpkg/status.d/b", b"b")],
        [F("var/lib/dpkg/status.d/c", b"c"), F("var/lib/dpkg/status.d/.wh..wh..opq")],
    )
    assert files.listdir("/var/lib/dpkg/status.d") == ("c",)


def test_a_file_over_a_directory_hides_its_children() -> None:
    files = read(
        [F("etc/apt/sources.list.d/a.list", b"a")],
        [F("etc/apt/sources.list.d", b"not a directory any more")],
    )
    assert files.listdir("/etc/apt/sources.list.d") == ()
    assert files.read("/etc/apt/sources.list.d/a.list") is None


def test_a_later_unwanted_file_replaces_a_kept_symlink() -> None:
    files = read(
        [L("etc/os-release", "../usr/lib/os-release"), F("usr/lib/os-release", OS_RELEASE)],
        [F("etc/os-release", b"ID=alpine\n")],
    )
    assert files.read("/etc/os-release") == b"ID=alpine\n"


# -- links ------------------------------------------------------------------------------------


def test_relative_and_absolute_symlinks_resolve_inside_the_root() -> None:
    files = read(
        [
            F("usr/lib/os-release", OS_RELEASE),
            L("etc/os-release", "../usr/lib/os-release"),
            L("etc/apt/sources.list", "/usr/lib/os-release"),
            L("var/lib/dpkg/status", "../../../../../../../usr/lib/os-release"),
        ]
    )
    assert files.read("/etc/os-release") == OS_RELEASE
    assert files.read("/etc/apt/sources.list") == OS_RELEASE
    assert files.read("/var/lib/dpkg/status") == OS_RELEASE  # ".." stops at the root
    assert files.link_target("/etc/os-release") == "../usr/lib/os-release"


def test_members_are_written_through_directory_symlinks_of_earlier_layers() -> None:
    # merged /usr: /lib -> usr/lib, and a later layer writes lib/<triplet>/libc.so.6
    files = read(
        [L("lib", "usr/lib"), D("usr/lib")],
        [F("lib/x86_64-linux-gnu/libc.so.6", b"GNU C Library")],
    )
    assert files.paths() == ("/lib", "/usr/lib/x86_64-linux-gnu/libc.so.6")
    assert files.read("/lib/x86_64-linux-gnu/libc.so.6") == b"GNU C Library"


def test_symlink_loops_do_not_resolve() -> None:
    files = read([L("etc/os-release", "os-release2"), L("etc/os-release2", "os-release")])
    assert files.realpath("/etc/os-release") is None
    assert files.read("/etc/os-release") is None
    assert not files.exists("/etc/os-release")


def test_a_long_chain_of_links_is_a_loop() -> None:
    chain = [L(f"etc/l{i}", f"l{i + 1}") for i in range(MAX_SYMLINK_HOPS + 1)]
    files = read([*chain, F(f"etc/l{MAX_SYMLINK_HOPS + 1}", b"end")])
    assert files.realpath("/etc/l1") is not None
    assert files.realpath("/etc/l0") is None


def test_hard_links_copy_their_target() -> None:
    files = read(
        [F("usr/lib/os-release", OS_RELEASE), H("etc/os-release", "usr/lib/os-release")],
    )
    assert files.read("/etc/os-release") == OS_RELEASE


def test_hard_link_to_an_unkept_file_is_present_without_bytes() -> None:
    files = read(
        [F("usr/bin/python3.11", b"ELF"), H("usr/local/bin/python3.11", "usr/bin/python3.11")]
    )
    assert files.exists("/usr/local/bin/python3.11")


# -- hostile member names ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "../etc/os-release",
        "../../../../etc/os-release",
        "/etc/os-release",
        "./etc//os-release",
        "etc/./x/../os-release",
    ],
)
def test_member_names_stay_inside_the_root(name: str) -> None:
    files = read([F(name, OS_RELEASE)])
    assert files.paths() == ("/etc/os-release",)


def test_long_names_in_pax_and_gnu_headers() -> None:
    deep = "/".join(["d" * 50] * 4)  # 203 characters: over ustar's 100+155 split
    for fmt in (tarfile.PAX_FORMAT, tarfile.GNU_FORMAT):
        tar = tar_bytes(
            [
                F("etc/os-release", OS_RELEASE),
                L("etc/apt/sources.list", "/" + deep + "/x"),
                F(deep + "/x", b"y"),
            ],
            fmt=fmt,
        )
        files = read(tar)
        assert files.link_target("/etc/apt/sources.list") == "/" + deep + "/x"
        assert files.read("/etc/os-release") == OS_RELEASE


def test_a_path_too_deep_is_ignored() -> None:
    deep = "/".join(["a"] * 100) + "/etc/os-release"
    files = read([F(deep, b"x"), F("etc/os-release", OS_RELEASE)])
    assert files.paths() == ("/etc/os-release",)


# -- path normalisation (properties) -------------------------------------------------------------

_SEGMENT = st.sampled_from(["", ".", "..", "a", "b", "etc", "..."]) | st.text(
    alphabet="abc.-_", min_size=1, max_size=4
)


@given(st.lists(_SEGMENT, max_size=12), st.booleans())
def test_normalize_path_properties(parts: list[str], absolute: bool) -> None:
    name = ("/" if absolute else "") + "/".join(parts)
    path = normalize_path(name)
    assert path.startswith("/")
    components = path.split("/")[1:] if path != "/" else []
    assert all(c not in ("", ".", "..") for c in components)
    assert normalize_path(path) == path  # idempotent
    assert normalize_path("../" + name) == path  # the root is the ceiling
    if ".." not in parts:
        assert components == [p for p in parts if p not in ("", ".")]
