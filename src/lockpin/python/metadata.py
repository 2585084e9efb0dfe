"""Core metadata parsers (pure: bytes in, values out; no network, no file system).

* :func:`parse_core_metadata`: a ``METADATA``/``PKG-INFO`` header block;
* :func:`check_identity`: the metadata's Name and Version must be the file name's
  (pip and uv check this too): one file's metadata cannot stand in for another's;
* :func:`wheel_metadata_from_zip`: the ``*.dist-info/METADATA`` member of a whole
  wheel; ``_central_directory``, ``_find_metadata_member`` and ``_extract`` read it
  from the tail of a wheel fetched by range requests (:mod:`lockpin.python.fetch`);
* :func:`read_sdist_metadata`: an sdist's static ``PKG-INFO`` (Metadata-Version
  >= 2.2 with no dynamic dependencies), else a static ``[project]`` table in its
  ``pyproject.toml`` (:func:`metadata_from_pyproject`); ``None`` when only a
  PEP 517 build can tell.

Retrieving metadata (``.metadata`` files, range requests, downloads, the cache)
is :mod:`lockpin.python.fetch`'s job.

Limits: metadata over :data:`MAX_METADATA_BYTES` or with more than
:data:`MAX_REQUIRES_DIST` ``Requires-Dist`` lines, and sdist ``PKG-INFO`` /
``pyproject.toml`` members over :data:`MAX_SDIST_MEMBER_BYTES`, are refused with
an error naming the source.
"""

from __future__ import annotations

import contextlib
import io
import lzma
import re
import struct
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from typing import BinaryIO

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from ..errors import IndexResponseError, InvalidMetadataError, LockpinError
from .models import parse_filename

__all__ = [
    "MAX_METADATA_BYTES",
    "MAX_REQUIRES_DIST",
    "MAX_SDIST_MEMBER_BYTES",
    "CoreMetadata",
    "check_identity",
    "metadata_from_pyproject",
    "parse_core_metadata",
    "read_sdist_metadata",
    "wheel_metadata_from_zip",
]

#: Largest METADATA / PKG-INFO read (real ones are a few KiB; long READMEs reach ~1 MiB).
MAX_METADATA_BYTES = 16 << 20
#: Most ``Requires-Dist`` lines accepted (the largest real projects have ~1,000).
MAX_REQUIRES_DIST = 10_000
#: Largest ``PKG-INFO`` / ``pyproject.toml`` read from an sdist.
MAX_SDIST_MEMBER_BYTES = 1 << 20
_DIST_INFO_METADATA = re.compile(r"^[^/]+\.dist-info/METADATA$")


@dataclass(frozen=True, slots=True)
class CoreMetadata:
    name: NormalizedName
    version: Version | None
    requires_dist: tuple[Requirement, ...]
    requires_python: str | None
    provides_extra: tuple[NormalizedName, ...]
    metadata_version: str | None = None
    dynamic: tuple[str, ...] = ()


def _headers(data: bytes | str) -> dict[str, list[str]]:
    """The RFC 822 header block of a METADATA/PKG-INFO file.

    The ``email`` package is general and slow; core metadata headers are plain
    ``Name: value`` lines with indented continuations, ending at the first blank
    line (the description body follows).
    """
    text = data.decode("utf-8", "surrogateescape") if isinstance(data, bytes) else data
    fields: dict[str, list[str]] = {}
    key: str | None = None
    for line in text.splitlines():
        if not line:
            break  # the header block ends at the first empty line
        if line[0] in " \t":  # continuation (whitespace-only lines included)
            if key is not None and key in fields:
                fields[key][-1] += " " + line.strip()
            continue
        name, sep, value = line.partition(":")
        if not sep:
            continue
        key = name.strip().lower()
        fields.setdefault(key, []).append(value.strip())
    return fields


def _too_big(source: str, what: str, size: int | None, limit: int) -> InvalidMetadataError:
    seen = f"{size} bytes" if size is not None else "more"
    return InvalidMetadataError(
        f"{what} of {source} is larger than lockpin reads ({seen}, limit {limit >> 20} MiB); "
        "the file is broken or hostile. Use another release, or ask the index to fix it.",
        url=source,
    )


def parse_core_metadata(data: bytes | str, *, source: str) -> CoreMetadata:
    """Parse an email-header METADATA/PKG-INFO; invalid requirement lines are an error
    naming ``source`` (a redacted URL or file name)."""
    if len(data) > MAX_METADATA_BYTES:
        raise _too_big(source, "the metadata", len(data), MAX_METADATA_BYTES)
    raw = _headers(data)

    def first(key: str) -> str | None:
        values = raw.get(key)
        return values[0] if values else None

    name = first("name")
    if not name:
        raise InvalidMetadataError(f"metadata from {source} has no Name field.", url=source)
    version: Version | None
    try:
        text = first("version")
        version = Version(text) if text else None
    except InvalidVersion:
        version = None
    lines = raw.get("requires-dist", [])
    if len(lines) > MAX_REQUIRES_DIST:
        raise InvalidMetadataError(
            f"metadata from {source} has {len(lines)} Requires-Dist lines, more than the "
            f"{MAX_REQUIRES_DIST} lockpin accepts; the file is broken or hostile.",
            url=source,
        )
    reqs: list[Requirement] = []
    # Identical lines add nothing but work (each one parsed, then merged by the
    # resolver): keep the first of each.
    for line in dict.fromkeys(lines):
        try:
            reqs.append(Requirement(line))
        except InvalidRequirement as exc:
            raise InvalidMetadataError(
                f"metadata from {source} has an invalid Requires-Dist {line!r:.200}: {exc}",
                url=source,
            ) from exc
    return CoreMetadata(
        name=canonicalize_name(name),
        version=version,
        requires_dist=tuple(reqs),
        requires_python=first("requires-python") or None,
        provides_extra=tuple(
            canonicalize_name(e) for e in dict.fromkeys(raw.get("provides-extra", []))
        ),
        metadata_version=first("metadata-version"),
        dynamic=tuple(d.lower() for d in raw.get("dynamic", [])),
    )


def check_identity(meta: CoreMetadata, filename: str, *, source: str) -> None:
    """Refuse metadata whose Name or Version is not the file name's (as pip and uv
    do): it belongs to another file, and its dependencies are not this file's."""
    parsed = parse_filename(filename)
    if parsed is None:
        return  # a direct URL such as .../main.zip names no project
    name, version, _kind = parsed
    if meta.name == name and meta.version == version:
        return
    stated = f"{meta.name} {meta.version if meta.version is not None else '(no valid Version)'}"
    raise InvalidMetadataError(
        f"metadata from {source} is for {stated}, but the file name says {name} {version}; "
        "lockpin refuses it (the index, a proxy or the file is broken or hostile).",
        url=source,
    )


#: What a damaged or hostile archive makes :mod:`zipfile` / :mod:`tarfile` and the
#: decompressors raise (besides lockpin's own errors): ``ValueError`` covers a negative seek
#: from a bad offset and undecodable names, ``struct.error`` a cut extra field,
#: ``OverflowError`` a zip64 offset past what a seek takes.
_ARCHIVE_ERRORS = (
    zipfile.BadZipFile,
    tarfile.TarError,
    lzma.LZMAError,
    zlib.error,
    struct.error,
    OSError,
    EOFError,
    ValueError,
    OverflowError,
    NotImplementedError,
    RuntimeError,
)


def wheel_metadata_from_zip(data: bytes | BinaryIO, *, source: str) -> bytes:
    """The ``*.dist-info/METADATA`` member of a whole wheel (exactly one), given as
    bytes or as a seekable binary file.

    A damaged or hostile archive is an :class:`IndexResponseError` naming ``source``;
    :mod:`zipfile` checks the member's CRC-32, and its size must be the directory's.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data) if isinstance(data, bytes) else data) as zf:
            found = [i for i in zf.infolist() if _DIST_INFO_METADATA.match(i.filename)]
            if len(found) > 1:
                raise InvalidMetadataError(
                    f"{source} has {len(found)} .dist-info/METADATA files; a wheel has one.",
                    url=source,
                )
            if found:
                info = found[0]
                if info.file_size > MAX_METADATA_BYTES:
                    raise _too_big(source, "METADATA", info.file_size, MAX_METADATA_BYTES)
                with zf.open(info) as fh:
                    content = fh.read(MAX_METADATA_BYTES + 1)
                if len(content) > MAX_METADATA_BYTES:
                    raise _too_big(source, "METADATA", None, MAX_METADATA_BYTES)
                if len(content) != info.file_size:
                    raise zipfile.BadZipFile(
                        f"METADATA is {len(content)} bytes, its directory entry says "
                        f"{info.file_size}"
                    )
                return content
    except LockpinError:
        raise
    except _ARCHIVE_ERRORS as exc:
        raise IndexResponseError(
            f"{source} is not a valid wheel ({exc}); the file is damaged or not a wheel. "
            "Use another release, or ask the index to fix it.",
            url=source,
        ) from exc
    raise IndexResponseError(f"{source} has no .dist-info/METADATA.", url=source)


@dataclass(frozen=True, slots=True)
class _Member:
    """A METADATA member as its central directory entry states it."""

    offset: int  # of its local header, from the start of the file
    compressed_size: int
    method: int
    name_len: int
    crc32: int
    size: int  # uncompressed


_LOCAL_HEADER = b"PK\x03\x04"
_LOCAL_FIXED = 30  # bytes of a local header before its name and extra field


def _central_directory(tail: bytes) -> tuple[int, int] | None:
    """``(offset, size)`` of the zip central directory, from the EOCD record."""
    eocd = tail.rfind(b"PK\x05\x06")
    if eocd < 0 or len(tail) - eocd < 22:
        return None
    cd_size, cd_offset = struct.unpack_from("<II", tail, eocd + 12)
    if cd_offset == 0xFFFFFFFF or cd_size == 0xFFFFFFFF:
        return None  # zip64: let the caller fall back to a full download
    return cd_offset, cd_size


def _find_metadata_member(tail: bytes, tail_start: int, *, source: str) -> _Member | None:
    """Locate METADATA in the central directory, which must lie inside ``tail``."""
    found = _central_directory(tail)
    if found is None:
        return None
    cd_offset, cd_size = found
    start = cd_offset - tail_start
    if start < 0:
        return None
    pos = start
    end = start + cd_size
    member: _Member | None = None
    while pos + 46 <= min(end, len(tail)):
        if tail[pos : pos + 4] != b"PK\x01\x02":
            return None
        method = struct.unpack_from("<H", tail, pos + 10)[0]
        crc, csize, usize = struct.unpack_from("<III", tail, pos + 16)
        nlen, xlen, clen = struct.unpack_from("<HHH", tail, pos + 28)
        offset = struct.unpack_from("<I", tail, pos + 42)[0]
        name = tail[pos + 46 : pos + 46 + nlen].decode("utf-8", "replace")
        if _DIST_INFO_METADATA.match(name):
            if member is not None:
                raise InvalidMetadataError(
                    f"{source} has several .dist-info/METADATA files; a wheel has one.",
                    url=source,
                )
            if 0xFFFFFFFF in (offset, csize, usize):
                return None  # zip64: the true values are in the extra field; download it
            if max(csize, usize) > MAX_METADATA_BYTES:
                raise _too_big(source, "METADATA", max(csize, usize), MAX_METADATA_BYTES)
            member = _Member(offset, csize, method, nlen, crc, usize)
        pos += 46 + nlen + xlen + clen
    return member


def _local_span(member: _Member, blob: bytes) -> int | None:
    """Bytes from the member's local header to the end of its data, once ``blob`` (which
    starts at that header) holds the header's fixed part; else ``None``."""
    if len(blob) < _LOCAL_FIXED:
        return None
    nlen: int
    xlen: int
    nlen, xlen = struct.unpack_from("<HH", blob, 26)
    return _LOCAL_FIXED + nlen + xlen + member.compressed_size


def _extract(member: _Member, blob: bytes, *, source: str) -> bytes:
    """The member's content; ``blob`` starts at its local header.

    The content must be exactly what the central directory entry states: the deflate
    stream complete, the size and CRC-32 the entry's. A damaged member (a truncated
    stream would turn ``Requires-Dist: q>=1`` into ``q``) is an error naming ``source``.
    Bytes after the end of a deflate stream (a compressed size stated too large) are
    ignored, as :mod:`zipfile` does: the size and CRC-32 vouch for the content.
    """

    def damaged(what: str) -> IndexResponseError:
        return IndexResponseError(
            f"{source}: METADATA {what}; the wheel is damaged or was altered. lockpin "
            "refuses it: use another release, or ask the index to fix the file.",
            url=source,
        )

    if blob[:4] != _LOCAL_HEADER:
        raise IndexResponseError(f"{source}: bad local zip header for METADATA.", url=source)
    span = _local_span(member, blob)
    if span is None:
        raise damaged(f"is cut short: a short read of its local header ({len(blob)} bytes)")
    data = blob[span - member.compressed_size : span]
    if len(data) != member.compressed_size:
        raise damaged(
            f"is cut short: a short read of {len(data)} of {member.compressed_size} bytes"
        )
    if member.method == 0:
        content = data
    elif member.method == 8:
        # Bounded: a few KiB of deflate can claim to expand to gigabytes.
        inflater = zlib.decompressobj(-15)
        try:
            content = inflater.decompress(data, MAX_METADATA_BYTES + 1)
        except zlib.error as exc:
            raise IndexResponseError(
                f"{source}: METADATA does not inflate ({exc}).", url=source
            ) from exc
        if len(content) > MAX_METADATA_BYTES:
            raise _too_big(source, "METADATA", None, MAX_METADATA_BYTES)
        if not inflater.eof:
            raise damaged("does not inflate: its deflate stream is cut short")
    else:
        raise IndexResponseError(f"{source}: METADATA uses zip method {member.method}.", url=source)
    if len(content) != member.size:
        raise damaged(f"is {len(content)} bytes, but its zip directory entry says {member.size}")
    crc = zlib.crc32(content)
    if crc != member.crc32:
        raise damaged(f"has CRC-32 {crc:08x}, but its zip directory entry says {member.crc32:08x}")
    return content


def metadata_from_pyproject(
    text: str, *, fallback_name: str, fallback_version: Version | None, source: str
) -> CoreMetadata | None:
    """Static metadata from ``[project]``; ``None`` when dependencies are dynamic."""
    from .. import _toml

    try:
        data = _toml.loads(text)
    except _toml.TOMLDecodeError:
        return None
    project = data.get("project")
    if not isinstance(project, dict):
        return None
    dynamic = {str(d).lower() for d in project.get("dynamic", [])}
    if dynamic & {"dependencies", "optional-dependencies", "requires-python"}:
        return None
    reqs: list[Requirement] = []
    try:
        for line in project.get("dependencies", []):
            reqs.append(Requirement(line))
        extras: list[NormalizedName] = []
        for extra, lines in (project.get("optional-dependencies") or {}).items():
            extra_name = canonicalize_name(extra)
            extras.append(extra_name)
            for line in lines:
                req = Requirement(line)
                marker = f'extra == "{extra_name}"'
                req = Requirement(
                    f"{str(req).split(';')[0]}; ({req.marker}) and {marker}"
                    if req.marker
                    else f"{req}; {marker}"
                )
                reqs.append(req)
    except InvalidRequirement as exc:
        raise IndexResponseError(
            f"{source}: invalid requirement in pyproject.toml: {exc}", url=source
        ) from exc
    version: Version | None = fallback_version
    if "version" not in dynamic and isinstance(project.get("version"), str):
        with contextlib.suppress(InvalidVersion):
            version = Version(project["version"])
    name = project.get("name") if isinstance(project.get("name"), str) else fallback_name
    rp = project.get("requires-python")
    return CoreMetadata(
        name=canonicalize_name(str(name)),
        version=version,
        requires_dist=tuple(reqs),
        requires_python=rp if isinstance(rp, str) else None,
        provides_extra=tuple(extras),
        metadata_version="pyproject",
    )


def _static_pkg_info(meta: CoreMetadata) -> bool:
    try:
        mv = Version(meta.metadata_version or "0")
    except InvalidVersion:
        return False
    return mv >= Version("2.2") and not ({"requires-dist", "requires-python"} & set(meta.dynamic))


def read_sdist_metadata(
    data: bytes, *, filename: str, source: str, version: Version | None
) -> CoreMetadata | None:
    """Static metadata of an sdist (PKG-INFO, else ``[project]``), or ``None`` when
    its dependencies are dynamic and only a PEP 517 build can tell.

    Only reads members (nothing is written), each at most
    :data:`MAX_SDIST_MEMBER_BYTES`; scanning stops once both are found.
    """
    wanted = {"PKG-INFO", "pyproject.toml"}
    members: dict[str, bytes] = {}

    def too_big(member: str) -> IndexResponseError:
        return IndexResponseError(
            f"{source}: member {member!r} is larger than {MAX_SDIST_MEMBER_BYTES >> 20} MiB; "
            "the sdist is broken or hostile.",
            url=source,
        )

    try:
        if filename.endswith(".zip"):
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                for info in zf.infolist():
                    parts = info.filename.split("/")
                    if len(parts) == 2 and parts[1] in wanted and parts[1] not in members:
                        if info.file_size > MAX_SDIST_MEMBER_BYTES:
                            raise too_big(info.filename)
                        with zf.open(info) as fh:
                            members[parts[1]] = fh.read(MAX_SDIST_MEMBER_BYTES + 1)
                        if len(members[parts[1]]) > MAX_SDIST_MEMBER_BYTES:
                            raise too_big(info.filename)
        else:
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tf:
                for ti in tf:
                    parts = ti.name.split("/")
                    if (
                        len(parts) == 2
                        and parts[1] in wanted
                        and parts[1] not in members
                        and ti.isfile()
                    ):
                        if ti.size > MAX_SDIST_MEMBER_BYTES:
                            raise too_big(ti.name)
                        stream = tf.extractfile(ti)
                        if stream is not None:
                            members[parts[1]] = stream.read(MAX_SDIST_MEMBER_BYTES + 1)
                        if len(members) == len(wanted):
                            break
    except LockpinError:
        raise
    except _ARCHIVE_ERRORS as exc:
        raise IndexResponseError(
            f"{source} is not a readable sdist ({exc}); the file is damaged or not an sdist. "
            "Use another release, or ask the index to fix it.",
            url=source,
        ) from exc
    if "PKG-INFO" in members:
        meta = parse_core_metadata(members["PKG-INFO"], source=source)
        if _static_pkg_info(meta):
            return meta
    if "pyproject.toml" in members:
        name = filename.rsplit("-", 1)[0]
        meta2 = metadata_from_pyproject(
            members["pyproject.toml"].decode("utf-8", "replace"),
            fallback_name=name,
            fallback_version=version,
            source=source,
        )
        if meta2 is not None:
            return meta2
    return None
