"""Core metadata: parsing (pure) and retrieval for wheels and sdists.

Retrieval order for a wheel, cheapest first:

1. ``<file-url>.metadata`` (PEP 658/714), probed even when the page does not
   advertise it (many index fronts serve it without saying so), its hash
   checked when the page gives one;
2. an HTTP range request for the tail of the wheel: the zip central directory,
   and usually the ``METADATA`` member itself, which wheels store last;
3. the whole wheel.

For an sdist: static ``PKG-INFO`` (Metadata-Version >= 2.2 with no dynamic
dependencies), then a static ``[project]`` table in ``pyproject.toml``, then a
PEP 517 ``prepare_metadata_for_build_wheel`` in an isolated environment.

Metadata is immutable for a given file, so it is cached forever, keyed by the
file's sha256 (or URL when the index gives no hash).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import re
import struct
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from ..errors import BuildError, IndexError_, InvalidMetadataError, LockpinError, NetworkError
from ..net.redact import redact_url

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from ..net.http import Http, Response
    from .models import DistFile

__all__ = [
    "CoreMetadata",
    "MetadataFetcher",
    "metadata_from_pyproject",
    "parse_core_metadata",
    "read_sdist_metadata",
    "wheel_metadata_from_zip",
]

log = logging.getLogger(__name__)

_TAIL = 64 * 1024
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


def parse_core_metadata(data: bytes | str, *, source: str) -> CoreMetadata:
    """Parse an email-header METADATA/PKG-INFO; invalid requirement lines are an error
    naming ``source`` (a redacted URL or file name)."""
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
    reqs: list[Requirement] = []
    for line in raw.get("requires-dist", []):
        try:
            reqs.append(Requirement(line))
        except InvalidRequirement as exc:
            raise InvalidMetadataError(
                f"metadata from {source} has an invalid Requires-Dist {line!r}: {exc}",
                url=source,
            ) from exc
    return CoreMetadata(
        name=canonicalize_name(name),
        version=version,
        requires_dist=tuple(reqs),
        requires_python=first("requires-python") or None,
        provides_extra=tuple(canonicalize_name(e) for e in raw.get("provides-extra", [])),
        metadata_version=first("metadata-version"),
        dynamic=tuple(d.lower() for d in raw.get("dynamic", [])),
    )


def wheel_metadata_from_zip(data: bytes, *, source: str) -> bytes:
    """The ``*.dist-info/METADATA`` member of a whole wheel."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for info in zf.infolist():
                if _DIST_INFO_METADATA.match(info.filename):
                    return zf.read(info)
    except (zipfile.BadZipFile, OSError, zlib.error) as exc:
        raise IndexError_(f"{source} is not a valid wheel ({exc}).", url=source) from exc
    raise IndexError_(f"{source} has no .dist-info/METADATA.", url=source)


@dataclass(frozen=True, slots=True)
class _Member:
    offset: int
    compressed_size: int
    method: int
    name_len: int


def _central_directory(tail: bytes) -> tuple[int, int] | None:
    """``(offset, size)`` of the zip central directory, from the EOCD record."""
    eocd = tail.rfind(b"PK\x05\x06")
    if eocd < 0 or len(tail) - eocd < 22:
        return None
    cd_size, cd_offset = struct.unpack_from("<II", tail, eocd + 12)
    if cd_offset == 0xFFFFFFFF or cd_size == 0xFFFFFFFF:
        return None  # zip64: let the caller fall back to a full download
    return cd_offset, cd_size


def _find_metadata_member(tail: bytes, tail_start: int) -> _Member | None:
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
    while pos + 46 <= min(end, len(tail)):
        if tail[pos : pos + 4] != b"PK\x01\x02":
            return None
        method = struct.unpack_from("<H", tail, pos + 10)[0]
        csize = struct.unpack_from("<I", tail, pos + 20)[0]
        nlen, xlen, clen = struct.unpack_from("<HHH", tail, pos + 28)
        offset = struct.unpack_from("<I", tail, pos + 42)[0]
        name = tail[pos + 46 : pos + 46 + nlen].decode("utf-8", "replace")
        if _DIST_INFO_METADATA.match(name):
            if offset == 0xFFFFFFFF or csize == 0xFFFFFFFF:
                return None
            return _Member(offset, csize, method, nlen)
        pos += 46 + nlen + xlen + clen
    return None


def _extract(member: _Member, blob: bytes, *, source: str) -> bytes:
    """``blob`` starts at the member's local header."""
    if blob[:4] != b"PK\x03\x04":
        raise IndexError_(f"{source}: bad local zip header for METADATA.", url=source)
    nlen, xlen = struct.unpack_from("<HH", blob, 26)
    data = blob[30 + nlen + xlen : 30 + nlen + xlen + member.compressed_size]
    if len(data) != member.compressed_size:
        raise IndexError_(f"{source}: short read of METADATA.", url=source)
    if member.method == 0:
        return data
    if member.method == 8:
        return zlib.decompress(data, -15)
    raise IndexError_(f"{source}: METADATA uses zip method {member.method}.", url=source)


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
        raise IndexError_(
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
    its dependencies are dynamic and only a PEP 517 build can tell."""
    members: dict[str, bytes] = {}
    try:
        if filename.endswith(".zip"):
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                for info in zf.infolist():
                    parts = info.filename.split("/")
                    if len(parts) == 2 and parts[1] in {"PKG-INFO", "pyproject.toml"}:
                        members[parts[1]] = zf.read(info)
        else:
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tf:
                for ti in tf:
                    parts = ti.name.split("/")
                    if (
                        len(parts) == 2
                        and parts[1] in {"PKG-INFO", "pyproject.toml"}
                        and ti.isfile()
                    ):
                        fh = tf.extractfile(ti)
                        if fh is not None:
                            members[parts[1]] = fh.read()
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
        raise IndexError_(f"{source} is not a readable sdist ({exc}).", url=source) from exc
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


class MetadataFetcher:
    """Fetches (and caches) core metadata of index files through :class:`Http`.

    ``build_metadata`` is the PEP 517 fallback for dynamic sdists: it receives
    the sdist bytes and filename and returns METADATA bytes.
    """

    def __init__(
        self,
        http: Http,
        *,
        build_metadata: Callable[[bytes, str], Awaitable[bytes]] | None = None,
    ) -> None:
        self.http = http
        self._build = build_metadata
        self.stats: dict[str, int] = {
            "metadata": 0,
            "range": 0,
            "download": 0,
            "sdist": 0,
            "build": 0,
            "cache": 0,
        }

    def _cache_key(self, f: DistFile) -> str:
        return f"sha256:{f.sha256}" if f.sha256 else f"url:{f.url}"

    async def fetch(self, f: DistFile) -> CoreMetadata:
        cache = self.http.cache
        key = self._cache_key(f)
        source = redact_url(f.url)
        if cache is not None:
            entry = cache.get("metadata", key)
            if entry is not None:
                self.stats["cache"] += 1
                return parse_core_metadata(entry.body, source=source)
        raw = await (self._wheel(f) if f.is_wheel else self._sdist(f))
        meta = parse_core_metadata(raw, source=source)
        if cache is not None:
            cache.put("metadata", key, raw)
        return meta

    async def _wheel(self, f: DistFile) -> bytes:
        source = redact_url(f.url)
        if f.core_metadata is not False and not f.url.startswith("file:"):
            try:
                resp: Response | None = await self.http.get(
                    f.url + ".metadata", ok_statuses=frozenset({200, 404, 403, 410})
                )
            except NetworkError as exc:
                # The probe is an optimization (and often of a URL the index never
                # advertised): a front that fails on it must not fail the lock. The
                # wheel itself has the metadata; if the host is down, that fails too.
                log.info("%s.metadata: %s; reading the wheel instead", source, exc)
                resp = None
            if resp is not None and resp.status == 200:
                expected = (
                    f.core_metadata.get("sha256") if isinstance(f.core_metadata, dict) else None
                )
                if expected and hashlib.sha256(resp.content).hexdigest() != expected:
                    raise IndexError_(
                        f"{source}.metadata does not match the sha256 the index states for it; "
                        "the index or a proxy is serving altered data.",
                        url=source,
                    )
                self.stats["metadata"] += 1
                return resp.content
        if not f.url.startswith("file:"):
            data = await self._range_metadata(f)
            if data is not None:
                log.debug("read the metadata of %s with range requests", f.filename)
                self.stats["range"] += 1
                return data
        self.stats["download"] += 1
        log.info("reading the metadata of %s by downloading it", f.filename)
        blob = b"".join([chunk async for chunk in self.http.stream(f.url)])
        return wheel_metadata_from_zip(blob, source=source)

    async def _range_metadata(self, f: DistFile) -> bytes | None:
        source = redact_url(f.url)
        try:
            resp = await self.http.get_range(f.url, suffix=_TAIL)
        except LockpinError:
            return None
        if resp.status == 200:
            return wheel_metadata_from_zip(resp.content, source=source)
        if resp.status != 206:
            return None
        total = _total_size(resp.headers.get("content-range", "")) or f.size
        if total is None:
            return None
        tail = resp.content
        tail_start = total - len(tail)
        directory = _central_directory(tail)
        if directory is not None and directory[0] < tail_start:
            # A large wheel: the central directory starts before the tail we read.
            more = await self.http.get_range(f.url, start=directory[0], end=tail_start - 1)
            if more.status != 206 or len(more.content) != tail_start - directory[0]:
                return None
            tail = more.content + tail
            tail_start = directory[0]
        member = _find_metadata_member(tail, tail_start)
        if member is None:
            return None
        need_end = member.offset + 30 + member.name_len + 1024 + member.compressed_size
        if member.offset >= tail_start and need_end - tail_start <= len(tail) + 1024:
            blob = tail[member.offset - tail_start :]
            try:
                return _extract(member, blob, source=source)
            except IndexError_:
                pass
        resp2 = await self.http.get_range(f.url, start=member.offset, end=min(need_end, total - 1))
        if resp2.status != 206:
            return None
        return _extract(member, resp2.content, source=source)

    async def _sdist(self, f: DistFile) -> bytes:
        source = redact_url(f.url)
        self.stats["sdist"] += 1
        blob = b"".join([chunk async for chunk in self.http.stream(f.url)])
        from .models import parse_filename

        parsed = parse_filename(f.filename)
        meta = read_sdist_metadata(
            blob, filename=f.filename, source=source, version=parsed[1] if parsed else None
        )
        if meta is not None:
            return _render_metadata(meta)
        if self._build is None:
            raise IndexError_(
                f"{f.filename} has dynamic metadata and PEP 517 builds are disabled.", url=source
            )
        self.stats["build"] += 1
        cache = self.http.cache
        key = self._cache_key(f)
        if cache is not None:
            failed = cache.get("build-failed", key)
            if failed is not None:  # same file, same failure: do not rebuild it each run
                raise BuildError(failed.body.decode("utf-8", "replace"))
        try:
            return await self._build(blob, f.filename)
        except BuildError as exc:
            # Remember only failures of the sdist's own build code; installing build
            # requirements can fail for passing reasons (network, index) and is retried.
            transient = str(exc).startswith(("installing build", "creating a build"))
            if cache is not None and f.sha256 and not transient:
                cache.put("build-failed", key, str(exc).encode())
            raise


def _total_size(content_range: str) -> int | None:
    _, _, total = content_range.rpartition("/")
    return int(total) if total.isdigit() else None


def _render_metadata(meta: CoreMetadata) -> bytes:
    """Serialize (for the cache) the fields lockpin uses."""
    lines = ["Metadata-Version: 2.2", f"Name: {meta.name}"]
    if meta.version is not None:
        lines.append(f"Version: {meta.version}")
    if meta.requires_python:
        lines.append(f"Requires-Python: {meta.requires_python}")
    lines.extend(f"Provides-Extra: {e}" for e in meta.provides_extra)
    lines.extend(f"Requires-Dist: {r}" for r in meta.requires_dist)
    return ("\n".join(lines) + "\n").encode()
