"""Table tests of the zip-tail reader: the wheel METADATA read from the end of a zip.

Every archive here is a real zip written by :mod:`zipfile` in memory (then, for the hostile
rows, patched at a named field). Each row is read three ways:

* ``read_tail``: the pure steps of a range read, as ``MetadataFetcher`` takes them: the last
  64 KiB, the end-of-central-directory record, the central directory (read again from its
  start when it begins before the window), the member's local header;
* the fetcher itself, ranges served from a ``file:`` URL (no network);
* :func:`wheel_metadata_from_zip`, the reader of a whole wheel.

Each returns the exact METADATA bytes, ``None`` (range reading gives up: download the wheel) or
a lockpin error naming the file; never another exception.
"""

from __future__ import annotations

import asyncio
import bz2
import gzip
import hashlib
import io
import lzma
import random
import struct
import tarfile
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from packaging.version import Version

from fixtures.index_server import FixtureResponse
from lockpin.errors import IndexResponseError, InvalidMetadataError, LockpinError
from lockpin.net import Http
from lockpin.python.fetch import MetadataFetcher
from lockpin.python.metadata import (
    MAX_METADATA_BYTES,
    CoreMetadata,
    _central_directory,
    _extract,
    _find_metadata_member,
    _Member,
    read_sdist_metadata,
    wheel_metadata_from_zip,
)
from lockpin.python.models import DistFile

if TYPE_CHECKING:
    from collections.abc import Callable

    from _pytest.mark import ParameterSet

    from fixtures.index_server import IndexServer

SOURCE = "https://files.example/simple/p/p-1.0-py3-none-any.whl"
WINDOW = 64 * 1024  # the fetcher's first range request: bytes=-65536
META = b"Metadata-Version: 2.1\nName: p\nVersion: 1.0\nRequires-Dist: q>=1\n"
METADATA = "p-1.0.dist-info/METADATA"
STORED, DEFLATED, BZIP2 = zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2
EOCD, CD_ENTRY, LOCAL = b"PK\x05\x06", b"PK\x01\x02", b"PK\x03\x04"


def noise(n: int, seed: int = 0) -> bytes:
    """Incompressible, reproducible bytes."""
    return random.Random(seed).randbytes(n)


# -- building and patching real archives -------------------------------------------------------


@dataclass(frozen=True)
class Member:
    name: str
    data: bytes
    method: int = DEFLATED
    zip64: bool = False
    extra: bytes = b""  # the extra field, in the local header and the directory entry


def build(members: list[Member], *, comment: bytes = b"") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for m in members:
            info = zipfile.ZipInfo(m.name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = m.method
            info.extra = m.extra
            with zf.open(info, "w", force_zip64=m.zip64) as fh:
                fh.write(m.data)
        zf.comment = comment
    return buf.getvalue()


def wheel(*extra: Member, first: Member | None = None, last: Member | None = None) -> bytes:
    """A small wheel laid out as wheel builders do (``RECORD`` last), with ``extra`` members."""
    members = [
        *([first] if first else []),
        Member("p/__init__.py", b"x = 1\n" * 50),
        *extra,
        Member("p-1.0.dist-info/WHEEL", b"Wheel-Version: 1.0\n"),
        *([last] if last else []),
        Member("p-1.0.dist-info/RECORD", b""),
    ]
    return build(members)


def eocd_at(data: bytes) -> int:
    pos = data.rfind(EOCD)
    assert pos >= 0
    return pos


def patch_eocd(data: bytes, *, size: int | None = None, offset: int | None = None) -> bytes:
    out = bytearray(data)
    pos = eocd_at(data)
    if size is not None:
        struct.pack_into("<I", out, pos + 12, size)
    if offset is not None:
        struct.pack_into("<I", out, pos + 16, offset)
    return bytes(out)


def cd_entry_at(data: bytes, name: str) -> int:
    pos = data.find(CD_ENTRY)
    while pos >= 0:
        nlen = struct.unpack_from("<H", data, pos + 28)[0]
        if data[pos + 46 : pos + 46 + nlen] == name.encode():
            return pos
        pos = data.find(CD_ENTRY, pos + 4)
    raise AssertionError(f"no central directory entry for {name}")


def patch_cd(
    data: bytes,
    name: str,
    *,
    method: int | None = None,
    csize: int | None = None,
    usize: int | None = None,
    offset: int | None = None,
) -> bytes:
    out = bytearray(data)
    pos = cd_entry_at(data, name)
    for field_at, fmt, value in (
        (10, "<H", method),
        (20, "<I", csize),
        (24, "<I", usize),
        (42, "<I", offset),
    ):
        if value is not None:
            struct.pack_into(fmt, out, pos + field_at, value)
    return bytes(out)


def member_offset(data: bytes, name: str) -> int:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return zf.getinfo(name).header_offset


def member_data_range(data: bytes, name: str) -> tuple[int, int]:
    offset = member_offset(data, name)
    nlen, xlen = struct.unpack_from("<HH", data, offset + 26)
    csize = struct.unpack_from("<I", data, cd_entry_at(data, name) + 20)[0]
    start = offset + 30 + nlen + xlen
    return start, start + csize


def corrupt_metadata_data(data: bytes) -> bytes:
    start, end = member_data_range(data, METADATA)
    return data[:start] + b"\xff" * (end - start) + data[end:]


# -- the three readers -------------------------------------------------------------------------


def read_tail(data: bytes, *, window: int = WINDOW) -> bytes | None:
    """The pure steps of the fetcher's range read over ``data`` (the whole file)."""
    tail = data[-window:]
    tail_start = len(data) - len(tail)
    directory = _central_directory(tail)
    if directory is not None and directory[0] < tail_start:
        tail, tail_start = data[directory[0] :], directory[0]  # the second range request
    member = _find_metadata_member(tail, tail_start, source=SOURCE)
    if member is None:
        return None
    return _extract(member, data[member.offset :], source=SOURCE)


def read_with_fetcher(data: bytes, tmp_path: Path) -> bytes | None:
    path = tmp_path / "p-1.0-py3-none-any.whl"
    path.write_bytes(data)
    dist = DistFile(path.name, path.as_uri(), size=len(data))

    async def run() -> bytes | None:
        async with Http() as http:
            found = await MetadataFetcher(http)._range_metadata(dist)
        return None if found is None else found[0]

    return asyncio.run(run())


def read_whole(data: bytes) -> bytes | None:
    return wheel_metadata_from_zip(data, source=SOURCE)


#: What a reader gives: the METADATA bytes, None, or (lockpin error type, text in its message).
Outcome = bytes | None | tuple[type[IndexResponseError], str]


def check(read: Callable[[], bytes | None], expected: Outcome, *, source: str = SOURCE) -> None:
    if isinstance(expected, tuple):
        kind, text = expected
        with pytest.raises(kind, match=text) as info:
            read()
        assert info.value.url == source  # the error names the file
    else:
        assert read() == expected


# -- the table ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    id: str
    make: Callable[[], bytes]
    tail: Outcome  # read_tail and the fetcher
    whole: Outcome  # wheel_metadata_from_zip

    @property
    def param(self) -> ParameterSet:
        return pytest.param(self, id=self.id)


BIG_META = META + b"Description: " + noise(100_000).hex().encode() + b"\n"
TWO = (InvalidMetadataError, "several .dist-info/METADATA|2 .dist-info/METADATA")
NO_META = (IndexResponseError, "has no .dist-info/METADATA")
NOT_A_ZIP = (IndexResponseError, "is not a valid wheel")


def _many_members() -> bytes:
    # ~700 central directory entries of ~150 bytes: the directory is over 100 KiB,
    # so it starts before the 64 KiB window.
    names = [Member(f"p/{'m' * 90}_{i:04d}.py", b"", STORED) for i in range(700)]
    return wheel(*names, last=Member(METADATA, META))


def _comment_with_a_fake_eocd() -> bytes:
    # A comment holding a well-formed-looking EOCD record whose directory is nowhere.
    fake = EOCD + struct.pack("<HHHHIIH", 0, 0, 1, 1, 46, 3, 0)
    data = wheel(last=Member(METADATA, META))
    return build_with_comment(data, fake)


def _cut_inside_the_directory() -> bytes:
    data = wheel(last=Member(METADATA, META))
    return data[: cd_entry_at(data, METADATA) + 20]


def _patched(
    *, method: int | None = None, usize: int | None = None, csize_off_by: int = 0
) -> Callable[[], bytes]:
    """A wheel whose METADATA central directory entry states another method, size or
    compressed size (the true one plus ``csize_off_by``)."""

    def make() -> bytes:
        data = wheel(last=Member(METADATA, META))
        start, end = member_data_range(data, METADATA)
        csize = end - start + csize_off_by if csize_off_by else None
        return patch_cd(data, METADATA, method=method, usize=usize, csize=csize)

    return make


def _stored_byte_flipped() -> bytes:
    data = wheel(last=Member(METADATA, META, STORED))
    return Flip(member_data_range(data, METADATA)[0] + 3, 0x01)(data)


def _offset_past_the_local_header() -> bytes:
    data = wheel(last=Member(METADATA, META))
    return patch_cd(data, METADATA, offset=member_offset(data, METADATA) + 1)


def build_with_comment(data: bytes, comment: bytes) -> bytes:
    pos = eocd_at(data)
    return data[: pos + 20] + struct.pack("<H", len(comment)) + comment


ROWS = [
    Row("stored-last", lambda: wheel(last=Member(METADATA, META, STORED)), META, META),
    Row("deflated-last", lambda: wheel(last=Member(METADATA, META)), META, META),
    Row(
        "the-very-last-member",
        lambda: build([Member("p/a.py", b"a"), Member(METADATA, META)]),
        META,
        META,
    ),
    Row("the-only-member", lambda: build([Member(METADATA, META, STORED)]), META, META),
    Row("first", lambda: wheel(first=Member(METADATA, META)), META, META),
    Row("middle", lambda: wheel(Member(METADATA, META), Member("p/x.py", b"y")), META, META),
    Row(
        "comment-after-eocd",
        lambda: build_with_comment(wheel(last=Member(METADATA, META)), b"signed by\x00" * 100),
        META,
        META,
    ),
    # zipfile is fooled as well: both give up, neither reads a wrong member
    Row("comment-with-a-fake-eocd", _comment_with_a_fake_eocd, None, NOT_A_ZIP),
    Row("directory-starts-before-the-window", _many_members, META, META),
    Row(
        "member-data-before-the-window",
        lambda: wheel(Member("p/blob.bin", noise(200_000), STORED), first=Member(METADATA, META)),
        META,
        META,
    ),
    Row(  # the fetcher's first guess of the local header's length falls short
        "long-local-extra-field-before-the-window",
        lambda: wheel(
            Member("p/blob.bin", noise(200_000), STORED),
            first=Member(METADATA, META, extra=struct.pack("<HH", 0xCAFE, 4996) + noise(4996)),
        ),
        META,
        META,
    ),
    Row(
        "metadata-larger-than-the-window",
        lambda: wheel(last=Member(METADATA, BIG_META, STORED)),
        BIG_META,
        BIG_META,
    ),
    Row(
        "zip64-local-extra",
        lambda: wheel(last=Member(METADATA, META, zip64=True)),
        META,
        META,
    ),
    Row(
        "zip64-eocd-marker",
        lambda: patch_eocd(wheel(last=Member(METADATA, META)), offset=0xFFFFFFFF),
        None,
        NOT_A_ZIP,  # zipfile's ValueError (a negative seek), caught
    ),
    Row(
        "zip64-eocd-size-marker",
        lambda: patch_eocd(wheel(last=Member(METADATA, META)), size=0xFFFFFFFF),
        None,
        NOT_A_ZIP,
    ),
    Row(
        "zip64-member-offset-marker",
        lambda: patch_cd(wheel(last=Member(METADATA, META)), METADATA, offset=0xFFFFFFFF),
        None,
        NOT_A_ZIP,
    ),
    Row("truncated-eocd", lambda: wheel(last=Member(METADATA, META))[:-5], None, NOT_A_ZIP),
    Row(
        "truncated-in-the-directory",
        _cut_inside_the_directory,
        None,
        NOT_A_ZIP,
    ),
    Row("no-metadata", wheel, None, NO_META),
    Row(
        "metadata-not-at-top-level",
        lambda: wheel(Member("vendor/q-1.0.dist-info/METADATA", META)),
        None,
        NO_META,
    ),
    Row(
        "metadata-look-alike-names",
        lambda: wheel(Member("p-1.0.dist-info/METADATA.orig", META), Member("METADATA", META)),
        None,
        NO_META,
    ),
    Row(
        "two-dist-info-metadata",
        lambda: wheel(Member("q-2.0.dist-info/METADATA", META), last=Member(METADATA, META)),
        TWO,
        TWO,
    ),
    Row(
        "bzip2-member",
        lambda: wheel(last=Member(METADATA, META, BZIP2)),
        (IndexResponseError, "METADATA uses zip method 12"),
        META,
    ),
    Row(
        "deflate-stream-broken",
        lambda: corrupt_metadata_data(wheel(last=Member(METADATA, META))),
        (IndexResponseError, "METADATA does not inflate"),
        NOT_A_ZIP,
    ),
    Row(
        "directory-points-past-the-local-header",
        _offset_past_the_local_header,
        (IndexResponseError, "bad local zip header"),
        NOT_A_ZIP,
    ),
    Row(
        "directory-claims-over-the-size-cap",
        _patched(usize=MAX_METADATA_BYTES + 1),
        (InvalidMetadataError, "larger than"),
        (InvalidMetadataError, "larger than"),
    ),
    Row(
        "directory-names-another-method",
        _patched(method=12),
        (IndexResponseError, "METADATA uses zip method 12"),
        NOT_A_ZIP,
    ),
    Row("directory-overstates-compressed-size", _patched(csize_off_by=+20), META, META),
    Row(
        "directory-understates-compressed-size",  # "Requires-Dist: q>=1" read as "q"
        _patched(csize_off_by=-5),
        (IndexResponseError, "METADATA does not inflate: its deflate stream is cut short"),
        NOT_A_ZIP,
    ),
    Row(
        "directory-understates-size",
        _patched(usize=len(META) - 5),
        (IndexResponseError, "METADATA is 63 bytes, but its zip directory entry says 58"),
        NOT_A_ZIP,
    ),
    Row(
        "stored-byte-flipped",
        _stored_byte_flipped,
        (IndexResponseError, "METADATA has CRC-32 [0-9a-f]{8}, but its zip directory entry"),
        NOT_A_ZIP,
    ),
    Row(
        "metadata-over-the-size-cap",
        lambda: wheel(last=Member(METADATA, b"\0" * (MAX_METADATA_BYTES + 1))),
        (InvalidMetadataError, "METADATA"),
        (InvalidMetadataError, "METADATA"),
    ),
]


@pytest.mark.parametrize("row", [r.param for r in ROWS])
def test_tail_reader(row: Row) -> None:
    data = row.make()
    check(lambda: read_tail(data), row.tail)


@pytest.mark.parametrize("row", [r.param for r in ROWS])
def test_fetcher_range_read_from_a_file_url(row: Row, tmp_path: Path) -> None:
    data = row.make()
    source = (tmp_path / "p-1.0-py3-none-any.whl").as_uri()
    check(lambda: read_with_fetcher(data, tmp_path), row.tail, source=source)


@pytest.mark.parametrize("row", [r.param for r in ROWS])
def test_whole_wheel_reader(row: Row) -> None:
    data = row.make()
    check(lambda: read_whole(data), row.whole)


def test_the_table_builds_what_its_rows_say() -> None:
    """The fixtures are what their names claim, or the rows above prove nothing."""
    many = _many_members()
    cd_offset, _ = _central_directory(many[-WINDOW:]) or (0, 0)
    assert cd_offset < len(many) - WINDOW
    blob = wheel(Member("p/blob.bin", noise(200_000), STORED), first=Member(METADATA, META))
    assert member_offset(blob, METADATA) < len(blob) - WINDOW
    with zipfile.ZipFile(io.BytesIO(wheel(last=Member(METADATA, META, STORED)))) as zf:
        assert zf.getinfo(METADATA).compress_type == STORED
    deflated = wheel(last=Member(METADATA, META))
    with zipfile.ZipFile(io.BytesIO(deflated)) as zf:
        assert zf.getinfo(METADATA).compress_type == DEFLATED
    assert META not in deflated  # really compressed, so the reader must inflate
    local = member_offset(z64 := wheel(last=Member(METADATA, META, zip64=True)), METADATA)
    assert struct.unpack_from("<I", z64, local + 18)[0] == 0xFFFFFFFF  # zip64 local sizes


# -- the pieces, on hand-made records ----------------------------------------------------------


def eocd(cd_size: int, cd_offset: int, comment: bytes = b"") -> bytes:
    return EOCD + struct.pack("<HHHHIIH", 0, 0, 1, 1, cd_size, cd_offset, len(comment)) + comment


@pytest.mark.parametrize(
    ("tail", "expected"),
    [
        pytest.param(b"", None, id="empty"),
        pytest.param(b"junk" * 10, None, id="no-signature"),
        pytest.param(eocd(46, 7), (7, 46), id="bare-record"),
        pytest.param(b"x" * 100 + eocd(50, 3, b"a comment"), (3, 50), id="with-comment"),
        pytest.param(eocd(46, 7)[:21], None, id="record-cut-short"),
        pytest.param(eocd(0xFFFFFFFF, 7), None, id="zip64-size"),
        pytest.param(eocd(46, 0xFFFFFFFF), None, id="zip64-offset"),
        pytest.param(eocd(1, 2) + eocd(3, 4), (4, 3), id="last-record-wins"),
    ],
)
def test_central_directory(tail: bytes, expected: tuple[int, int] | None) -> None:
    assert _central_directory(tail) == expected


def cd_record(
    name: bytes,
    *,
    offset: int,
    csize: int = 10,
    usize: int = 10,
    method: int = 8,
    extra: int = 0,
    crc: int = 0xC0FFEE,
) -> bytes:
    """One central directory entry (46 bytes + name + ``extra`` bytes of extra field)."""
    head = struct.pack(
        "<4sHHHHHHIIIHHHHHII",
        CD_ENTRY, 20, 20, 0, method, 0, 0, crc, csize, usize, len(name), extra, 0, 0, 0, 0, offset,
    )  # fmt: skip
    return head + name + b"\0" * extra


def directory(*records: bytes, at: int = 0) -> bytes:
    """``records`` as a central directory starting at file offset ``at``, then the EOCD."""
    body = b"".join(records)
    return body + eocd(len(body), at)


MD = b"p-1.0.dist-info/METADATA"


@pytest.mark.parametrize(
    ("tail", "tail_start", "expected"),
    [
        pytest.param(
            directory(cd_record(MD, offset=5, csize=7, usize=9, crc=0x12345678)),
            0,
            _Member(
                offset=5, compressed_size=7, method=8, name_len=len(MD), crc32=0x12345678, size=9
            ),
            id="only-entry",
        ),
        pytest.param(
            directory(
                cd_record(b"p/a.py", offset=0, extra=4),
                cd_record(MD, offset=300, method=0),
                cd_record(b"p-1.0.dist-info/RECORD", offset=400),
            ),
            0,
            _Member(
                offset=300, compressed_size=10, method=0, name_len=len(MD), crc32=0xC0FFEE, size=10
            ),
            id="middle-entry-after-an-extra-field",
        ),
        pytest.param(
            b"\0" * 40 + directory(cd_record(MD, offset=9), at=1040),
            1000,
            _Member(
                offset=9, compressed_size=10, method=8, name_len=len(MD), crc32=0xC0FFEE, size=10
            ),
            id="directory-inside-a-later-tail",
        ),
        pytest.param(
            directory(cd_record(MD, offset=9), at=10), 1000, None, id="directory-before-the-tail"
        ),
        pytest.param(directory(cd_record(b"p/a.py", offset=0)), 0, None, id="no-metadata"),
        pytest.param(
            directory(cd_record(b"x/p-1.0.dist-info/METADATA", offset=0)), 0, None, id="nested"
        ),
        pytest.param(
            directory(cd_record(MD, offset=0xFFFFFFFF)), 0, None, id="zip64-member-offset"
        ),
        pytest.param(
            directory(cd_record(MD, offset=0, csize=0xFFFFFFFF)), 0, None, id="zip64-member-size"
        ),
        pytest.param(
            directory(cd_record(MD, offset=0, usize=0xFFFFFFFF)),
            0,
            None,
            id="zip64-member-uncompressed-size",  # not "over the size cap"
        ),
        pytest.param(
            directory(b"PK\x01\x03" + cd_record(MD, offset=0)[4:]), 0, None, id="bad-signature"
        ),
        pytest.param(
            directory(cd_record(MD, offset=0))[:60] + eocd(46 + len(MD), 0),
            0,
            None,
            id="directory-cut-short",
        ),
        pytest.param(eocd(0, 0), 0, None, id="empty-directory"),
        pytest.param(b"no end record", 0, None, id="no-eocd"),
    ],
)
def test_find_metadata_member(tail: bytes, tail_start: int, expected: _Member | None) -> None:
    assert _find_metadata_member(tail, tail_start, source=SOURCE) == expected


@pytest.mark.parametrize(
    ("records", "message"),
    [
        pytest.param(
            [cd_record(MD, offset=0), cd_record(b"q-2.dist-info/METADATA", offset=50)],
            "several .dist-info/METADATA",
            id="two",
        ),
        pytest.param(
            [cd_record(MD, offset=0, usize=MAX_METADATA_BYTES + 1)],
            "METADATA",
            id="claims-over-the-cap",
        ),
    ],
)
def test_find_metadata_member_refuses(records: list[bytes], message: str) -> None:
    with pytest.raises(InvalidMetadataError, match=message) as info:
        _find_metadata_member(directory(*records), 0, source=SOURCE)
    assert info.value.url == SOURCE


def local(payload: bytes, *, name: bytes = MD, extra: bytes = b"") -> bytes:
    """A local file header followed by ``payload``."""
    head = struct.pack(
        "<4sHHHHHIIIHH", LOCAL, 20, 0, 0, 0, 0, 0, len(payload), 0, len(name), len(extra)
    )
    return head + name + extra + payload


def deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush()


def member(payload: bytes, method: int, content: bytes = META) -> _Member:
    """The directory entry of ``payload``, stored with ``method``, holding ``content``."""
    return _Member(
        offset=0,
        compressed_size=len(payload),
        method=method,
        name_len=len(MD),
        crc32=zlib.crc32(content),
        size=len(content),
    )


BOMB_CONTENT = b"\0" * (MAX_METADATA_BYTES + 1)
BOMB = deflate(BOMB_CONTENT)
DEFLATED_META = deflate(META)


@pytest.mark.parametrize(
    ("m", "blob", "expected"),
    [
        pytest.param(member(META, 0), local(META), META, id="stored"),
        pytest.param(member(deflate(META), 8), local(deflate(META)), META, id="deflated"),
        pytest.param(
            member(META, 0), local(META, extra=b"\x01\x00\x10\x00" + b"\xff" * 16), META,
            id="zip64-local-extra",
        ),
        pytest.param(
            member(META, 0), local(META) + b"PK\x03\x04trailing", META, id="followed-by-more"
        ),
        pytest.param(
            member(META, 0), local(META)[:-1], (IndexResponseError, "short read"), id="short"
        ),
        pytest.param(
            member(META, 0), b"PK\x01\x02" + local(META)[4:], (IndexResponseError, "bad local zip"),
            id="not-a-local-header",
        ),
        pytest.param(
            member(META, 12), local(META), (IndexResponseError, "zip method 12"), id="bzip2",
        ),
        pytest.param(
            member(b"\xff" * 8, 8), local(b"\xff" * 8), (IndexResponseError, "does not inflate"),
            id="broken-deflate",
        ),
        pytest.param(
            member(BOMB, 8, BOMB_CONTENT), local(BOMB), (InvalidMetadataError, "METADATA"),
            id="inflates-past-cap",
        ),
        # The entry is the reference: the content must be exactly what it states.
        pytest.param(
            member(DEFLATED_META[:-4], 8), local(DEFLATED_META[:-4]),
            (IndexResponseError, "deflate stream is cut short"), id="deflate-stream-cut",
        ),
        pytest.param(
            member(META, 0, META[:-1]), local(META),
            (IndexResponseError, "is 63 bytes, but its zip directory entry says 62"),
            id="larger-than-the-entry-says",
        ),
        pytest.param(
            member(DEFLATED_META, 8, META + b"\n"), local(DEFLATED_META),
            (IndexResponseError, "is 63 bytes, but its zip directory entry says 64"),
            id="smaller-than-the-entry-says",
        ),
        pytest.param(
            member(META, 0, META.upper()), local(META), (IndexResponseError, "CRC-32"),
            id="another-crc",
        ),
        # Bytes after the end of the deflate stream, inside the stated compressed size (an
        # overstated size): ignored like zipfile does, as the size and CRC-32 vouch for
        # the content.
        pytest.param(
            member(DEFLATED_META + b"junk", 8), local(DEFLATED_META + b"junk"), META,
            id="bytes-after-the-deflate-stream",
        ),
    ],
)  # fmt: skip
def test_extract(m: _Member, blob: bytes, expected: Outcome) -> None:
    check(lambda: _extract(m, blob, source=SOURCE), expected)


@pytest.mark.parametrize("size", [0, 3, 4, 14, 29])
def test_extract_of_a_local_header_cut_inside_its_fixed_part(size: int) -> None:
    blob = local(META)[:size]
    with pytest.raises(IndexResponseError, match="METADATA") as info:
        _extract(member(META, 0), blob, source=SOURCE)
    assert info.value.url == SOURCE


def _points_at_a_header_cut_by_the_end() -> bytes:
    data = build_with_comment(wheel(last=Member(METADATA, META)), LOCAL)
    return patch_cd(data, METADATA, offset=len(data) - len(LOCAL))


def test_fetcher_on_a_local_header_cut_by_the_end_of_the_file(tmp_path: Path) -> None:
    # The directory points at the last 4 bytes of the file, which spell a local header: the
    # file itself is cut (a download would hold no more), so an error, not a fallback.
    with pytest.raises(IndexResponseError, match=r"METADATA.*cut short") as info:
        read_with_fetcher(_points_at_a_header_cut_by_the_end(), tmp_path)
    assert info.value.url == (tmp_path / "p-1.0-py3-none-any.whl").as_uri()


def test_fetcher_downloads_the_wheel_when_a_range_is_answered_short(
    make_index: Callable[..., IndexServer], tmp_path: Path
) -> None:
    """A server answering a member's range with fewer bytes than asked (a consistent 206,
    Content-Range included) is not a damaged wheel: the fetcher reads the whole file."""
    data = wheel(Member("p/blob.bin", noise(200_000), STORED), first=Member(METADATA, META))
    path = tmp_path / "p-1.0-py3-none-any.whl"
    path.write_bytes(data)
    server = make_index(tmp_path, standard=False)
    server.add_file(path.name, metadata="absent")
    shortened: list[str] = []

    def half_of_each_range(
        method: str, _path: str, headers: dict[str, str]
    ) -> FixtureResponse | None:
        spec = headers.get("range", "")
        if method != "GET" or not spec.startswith("bytes=") or spec.startswith("bytes=-"):
            return None  # the tail (a suffix range) and the download are served honestly
        first, _, last = spec.removeprefix("bytes=").partition("-")
        start, end = int(first), int(last)
        body = data[start : start + (end - start + 1) // 2]
        shortened.append(spec)
        return FixtureResponse(
            206,
            body,
            {
                "Content-Type": "application/octet-stream",
                "Content-Range": f"bytes {start}-{start + len(body) - 1}/{len(data)}",
            },
        )

    server.override("/files/", half_of_each_range)
    dist = DistFile(
        path.name,
        server.file_url(path.name),
        hashes={"sha256": hashlib.sha256(data).hexdigest()},
        size=len(data),
    )

    async def run() -> tuple[CoreMetadata, dict[str, int]]:
        async with Http() as http:
            fetcher = MetadataFetcher(http)
            return await fetcher.fetch(dist), fetcher.stats

    meta, stats = asyncio.run(run())
    assert [str(r) for r in meta.requires_dist] == ["q>=1"]
    assert shortened  # the member was asked for by range, and answered short
    assert (stats["range"], stats["download"]) == (0, 1)
    assert any("range" not in r.headers for r in server.requests if r.path.endswith(".whl"))


# -- random archives ---------------------------------------------------------------------------

NAMES = [
    METADATA,
    "q-2.0.dist-info/METADATA",
    "vendor/r-1.dist-info/METADATA",
    "p-1.0.dist-info/RECORD",
    "p/__init__.py",
    "p/data.bin",
    "METADATA",
]
members = st.lists(
    st.builds(
        Member,
        name=st.sampled_from(NAMES),
        data=st.one_of(st.binary(max_size=300), st.integers(0, 90_000).map(noise)),
        method=st.sampled_from([STORED, DEFLATED]),
        zip64=st.booleans(),
    ),
    max_size=6,
    unique_by=lambda m: m.name,
)


@dataclass(frozen=True)
class Cut:
    """The last ``n`` bytes lost (a short download, a truncated mirror copy)."""

    n: int

    def __call__(self, data: bytes) -> bytes:
        return data[: -self.n]


@dataclass(frozen=True)
class Flip:
    """One byte changed anywhere (bit rot, a hostile edit)."""

    at: int
    mask: int

    def __call__(self, data: bytes) -> bytes:
        out = bytearray(data)
        out[self.at % len(out)] ^= self.mask
        return bytes(out)


@dataclass(frozen=True)
class Prefix:
    """Bytes before the archive: every offset in the directory is now wrong."""

    junk: bytes

    def __call__(self, data: bytes) -> bytes:
        return self.junk + data


damages = st.one_of(
    st.builds(Cut, st.integers(1, 200)),
    st.builds(Flip, st.integers(0, 1 << 20), st.integers(1, 255)),
    st.builds(Prefix, st.binary(min_size=1, max_size=64)),
)
comments = st.binary(max_size=40).filter(lambda c: EOCD not in c)


def outcome(read: Callable[[], bytes | None]) -> bytes | LockpinError | None:
    """What a reader did; any exception other than a lockpin error propagates (and fails)."""
    try:
        return read()
    except LockpinError as exc:
        return exc


def readers(data: bytes) -> dict[str, Callable[[], bytes | None]]:
    def fetcher() -> bytes | None:
        with tempfile.TemporaryDirectory() as tmp:
            return read_with_fetcher(data, Path(tmp))

    return {
        "tail": lambda: read_tail(data),
        "fetcher": fetcher,
        "whole": lambda: read_whole(data),
    }


RANDOM = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,  # the suite must be green on every run: the same examples each time
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@RANDOM
@given(members, comments)
def test_random_intact_archives(ms: list[Member], comment: bytes) -> None:
    data = build(ms, comment=comment)
    metas = [
        m.data for m in ms if m.name.count("/") == 1 and m.name.endswith(".dist-info/METADATA")
    ]
    for name, read in readers(data).items():
        got = outcome(read)
        if len(metas) == 1:
            assert got == metas[0], name
        elif metas:
            assert isinstance(got, InvalidMetadataError), (name, got)
        elif name == "whole":
            assert isinstance(got, IndexResponseError), got
            assert "has no .dist-info/METADATA" in str(got)
        else:
            assert got is None, (name, got)


def check_damaged(
    ms: list[Member], comment: bytes, damage: Cut | Flip | Prefix, *names: str
) -> None:
    data = damage(build(ms, comment=comment))
    for name, read in readers(data).items():
        if name not in names:
            continue
        got = outcome(read)
        assert got is None or isinstance(got, bytes | LockpinError), (name, got)
        if isinstance(got, LockpinError):
            assert isinstance(got, IndexResponseError), (name, got)  # names the file by its URL
            assert got.url.endswith(".whl"), (name, got.url)


@RANDOM
@given(members, comments, damages)
def test_random_damaged_archives_by_range_reads(
    ms: list[Member], comment: bytes, damage: Cut | Flip | Prefix
) -> None:
    check_damaged(ms, comment, damage, "tail", "fetcher")


@RANDOM
@given(members, comments, damages)
@example(  # found by hypothesis: one flipped bit in the directory entry's offset
    ms=[
        Member(METADATA, b"", STORED, zip64=True),
        Member("vendor/r-1.dist-info/METADATA", b"", STORED, zip64=True),
    ],
    comment=b"",
    damage=Flip(314, 2),
)
def test_random_damaged_archives_read_whole(
    ms: list[Member], comment: bytes, damage: Cut | Flip | Prefix
) -> None:
    check_damaged(ms, comment, damage, "whole")


# -- sdists: the same archive formats, read whole ----------------------------------------------

PKG_INFO = b"Metadata-Version: 2.2\nName: p\nVersion: 1.0\nRequires-Dist: q>=1\n"
SDIST_SOURCE = "https://files.example/simple/p/p-1.0"


def sdist(ext: str) -> bytes:
    members = [("p-1.0/PKG-INFO", PKG_INFO), ("p-1.0/setup.py", noise(3000))]
    buf = io.BytesIO()
    if ext == ".zip":
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in members:
                zf.writestr(name, data)
        return buf.getvalue()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    compress: dict[str, Callable[[bytes], bytes]] = {
        ".tar.gz": gzip.compress,
        ".tar.bz2": bz2.compress,
        ".tar.xz": lzma.compress,
    }
    return compress[ext](buf.getvalue())


SDIST_SUFFIXES = [".zip", ".tar.gz", ".tar.bz2", ".tar.xz"]


def read_sdist(data: bytes, ext: str) -> CoreMetadata | None:
    return read_sdist_metadata(
        data, filename="p-1.0" + ext, source=SDIST_SOURCE + ext, version=Version("1.0")
    )


@pytest.mark.parametrize("ext", SDIST_SUFFIXES)
def test_intact_sdist(ext: str) -> None:
    meta = read_sdist(sdist(ext), ext)
    assert meta is not None
    assert [str(r) for r in meta.requires_dist] == ["q>=1"]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(  # zipfile's ValueError (a negative seek), as for wheels
            lambda: patch_eocd(sdist(".zip"), offset=0xFFFFFFFF), "not a readable sdist",
            id="zip64-eocd-marker",
        ),
        pytest.param(
            lambda: corrupt_member(sdist(".zip"), "p-1.0/PKG-INFO"), "not a readable sdist",
            id="member-data-broken",
        ),
        pytest.param(lambda: sdist(".zip")[:-30], "not a readable sdist", id="truncated"),
    ],
)  # fmt: skip
def test_damaged_zip_sdist(make: Callable[[], bytes], message: str) -> None:
    with pytest.raises(IndexResponseError, match=message) as info:
        read_sdist(make(), ".zip")
    assert info.value.url == SDIST_SOURCE + ".zip"


def corrupt_member(data: bytes, name: str) -> bytes:
    start, end = member_data_range(data, name)
    return data[:start] + b"\xff" * (end - start) + data[end:]


@RANDOM
@given(st.sampled_from(SDIST_SUFFIXES), damages)
def test_random_damaged_sdists(ext: str, damage: Cut | Flip | Prefix) -> None:
    """Metadata, ``None`` (dynamic: build it) or an error naming the file; nothing else."""
    error: LockpinError | None = None
    try:
        read_sdist(damage(sdist(ext)), ext)
    except LockpinError as exc:  # any other exception fails the test
        error = exc
    if error is not None:
        assert isinstance(error, IndexResponseError), error
        assert error.url == SDIST_SOURCE + ext
