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

Trust. Metadata decides which dependencies enter a lock, so each source is
checked as far as it can be:

* a ``.metadata`` file whose sha256 the page states must have that sha256;
* a file read whole (the wheel fallback, every sdist, every local file) is
  checked against the page's size and sha256 *before* anything is read from it
  (:meth:`~lockpin.net.http.Http.download`);
* metadata read by range requests cannot be checked against the wheel's sha256
  without downloading the whole wheel, which is what range requests avoid. As in
  pip and uv, it is taken on the index's word: exactly as trustworthy as TLS to
  that index. The lock still pins the page's hashes, so pip installs nothing
  else; a lying index can at worst make the dependency set wrong. What is cheap
  is still checked: the size the server reports for the file must be the page's.
* whatever the source, the metadata's Name and Version must be the file name's
  (pip and uv check this too): one file's metadata cannot stand in for another's.

Cache (kind ``metadata-v2``, kept forever), keyed by what was verified, never by
a hash nobody checked:

* ``sha256:<digest>``: metadata read from complete file bytes whose sha256
  lockpin computed or checked itself. Any page naming that digest may use it:
  the lock pins that digest and pip installs nothing else.
* ``core-metadata:<digest>``: a ``.metadata`` file that matched the hash its page
  stated, re-hashed on every hit.
* ``url:<scheme>://<host>:<port><path>|<page sha256>`` (credentials, query and
  fragment dropped): everything else, i.e. one index's word about one of its
  URLs. It answers only for that URL on that index.

Local (``file:``) files are always read and hashed (cheap), so a rebuilt file in a
``--find-links`` directory never meets the metadata of its predecessor. Failed
builds (``build-failed-v2``) are keyed by the sdist's content sha256 as well. The
first cache generation, keyed by the page's unverified sha256, is never read.

Limits: metadata over :data:`MAX_METADATA_BYTES` or with more than
:data:`MAX_REQUIRES_DIST` ``Requires-Dist`` lines, and sdist ``PKG-INFO`` /
``pyproject.toml`` members over :data:`MAX_SDIST_MEMBER_BYTES`, are refused with
an error naming the URL.
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
from urllib.parse import urlsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from ..errors import (
    BuildError,
    IndexError_,
    IntegrityError,
    InvalidMetadataError,
    LockpinError,
    NetworkError,
)
from ..net.redact import redact_url, split_auth
from .models import parse_filename

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from ..net.http import Http, Response
    from .models import DistFile

__all__ = [
    "MAX_METADATA_BYTES",
    "MAX_REQUIRES_DIST",
    "MAX_SDIST_MEMBER_BYTES",
    "CoreMetadata",
    "MetadataFetcher",
    "check_identity",
    "metadata_from_pyproject",
    "parse_core_metadata",
    "read_sdist_metadata",
    "wheel_metadata_from_zip",
]

log = logging.getLogger(__name__)

_TAIL = 64 * 1024
#: Largest METADATA / PKG-INFO read (real ones are a few KiB; long READMEs reach ~1 MiB).
MAX_METADATA_BYTES = 16 << 20
#: Most ``Requires-Dist`` lines accepted (the largest real projects have ~1,000).
MAX_REQUIRES_DIST = 10_000
#: Largest ``PKG-INFO`` / ``pyproject.toml`` read from an sdist.
MAX_SDIST_MEMBER_BYTES = 1 << 20
_KIND = "metadata-v2"
_FAILED_KIND = "build-failed-v2"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
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


def wheel_metadata_from_zip(data: bytes, *, source: str) -> bytes:
    """The ``*.dist-info/METADATA`` member of a whole wheel (exactly one)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
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
                return content
    except (
        zipfile.BadZipFile,
        OSError,
        zlib.error,
        EOFError,
        NotImplementedError,
        RuntimeError,
    ) as exc:
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
        csize, usize = struct.unpack_from("<II", tail, pos + 20)
        nlen, xlen, clen = struct.unpack_from("<HHH", tail, pos + 28)
        offset = struct.unpack_from("<I", tail, pos + 42)[0]
        name = tail[pos + 46 : pos + 46 + nlen].decode("utf-8", "replace")
        if _DIST_INFO_METADATA.match(name):
            if member is not None:
                raise InvalidMetadataError(
                    f"{source} has several .dist-info/METADATA files; a wheel has one.",
                    url=source,
                )
            if offset == 0xFFFFFFFF or csize == 0xFFFFFFFF:
                return None
            if max(csize, usize) > MAX_METADATA_BYTES:
                raise _too_big(source, "METADATA", max(csize, usize), MAX_METADATA_BYTES)
            member = _Member(offset, csize, method, nlen)
        pos += 46 + nlen + xlen + clen
    return member


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
        # Bounded: a few KiB of deflate can claim to expand to gigabytes.
        inflater = zlib.decompressobj(-15)
        try:
            content = inflater.decompress(data, MAX_METADATA_BYTES + 1)
        except zlib.error as exc:
            raise IndexError_(f"{source}: METADATA does not inflate ({exc}).", url=source) from exc
        if len(content) > MAX_METADATA_BYTES:
            raise _too_big(source, "METADATA", None, MAX_METADATA_BYTES)
        return content
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
    its dependencies are dynamic and only a PEP 517 build can tell.

    Only reads members (nothing is written), each at most
    :data:`MAX_SDIST_MEMBER_BYTES`; scanning stops once both are found.
    """
    wanted = {"PKG-INFO", "pyproject.toml"}
    members: dict[str, bytes] = {}

    def too_big(member: str) -> IndexError_:
        return IndexError_(
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
    except (
        tarfile.TarError,
        zipfile.BadZipFile,
        OSError,
        EOFError,
        zlib.error,
        NotImplementedError,
        RuntimeError,
    ) as exc:
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


def _origin_url(url: str) -> str:
    """``scheme://host:port/path`` of ``url``: no credentials, query or fragment, the
    default port spelled out, so one file of one index has one spelling."""
    parts = urlsplit(split_auth(url)[0])
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = {"http": 80, "https": 443}.get(scheme, 0)
    return f"{scheme}://{host}:{port}{parts.path}"


def _advertised(f: DistFile) -> str | None:
    """The sha256 the page states for the file's ``.metadata``, when well formed."""
    if not isinstance(f.core_metadata, dict):
        return None
    digest = f.core_metadata.get("sha256")
    if not isinstance(digest, str) or not _SHA256.match(digest.lower()):
        return None
    return digest.lower()


class MetadataFetcher:
    """Fetches (and caches) core metadata of index files through :class:`Http`.

    ``build_metadata`` is the PEP 517 fallback for dynamic sdists: it receives
    the sdist bytes and filename and returns METADATA bytes. ``max_file_bytes``
    caps a whole file downloaded to read its metadata (default: the HTTP layer's
    download cap). See the module docstring for what is verified and how the
    cache is keyed.
    """

    def __init__(
        self,
        http: Http,
        *,
        build_metadata: Callable[[bytes, str], Awaitable[bytes]] | None = None,
        max_file_bytes: int | None = None,
    ) -> None:
        self.http = http
        self._build = build_metadata
        self._max_file_bytes = max_file_bytes
        self.stats: dict[str, int] = {
            "metadata": 0,
            "range": 0,
            "download": 0,
            "sdist": 0,
            "build": 0,
            "cache": 0,
        }

    # -- cache keys ------------------------------------------------------------------------

    @staticmethod
    def _url_key(f: DistFile) -> str:
        return f"url:{_origin_url(f.url)}|{(f.sha256 or '-').lower()}"

    def _cached(self, key: str) -> bytes | None:
        cache = self.http.cache
        if cache is None:
            return None
        entry = cache.get(_KIND, key)
        return entry.body if entry is not None else None

    def _lookup(self, f: DistFile) -> bytes | None:
        """Metadata known before any I/O, from entries that answer for this file."""
        remote = not f.url.startswith("file:")
        advertised = _advertised(f) if remote else None
        if advertised is not None:  # the usual hit on PyPI: one look-up
            body = self._cached(f"core-metadata:{advertised}")
            if body is not None and hashlib.sha256(body).hexdigest() == advertised:
                return body
        if f.sha256 and (body := self._cached(f"sha256:{f.sha256.lower()}")) is not None:
            return body
        if not remote:
            return None  # read and hashed on every run: a local file can change
        return self._cached(self._url_key(f))

    # -- fetching --------------------------------------------------------------------------

    async def fetch(self, f: DistFile) -> CoreMetadata:
        source = redact_url(f.url)
        raw = self._lookup(f)
        keys: tuple[str, ...] = ()
        if raw is not None:
            self.stats["cache"] += 1
        else:
            raw, keys = await (self._wheel(f) if f.is_wheel else self._sdist(f))
        meta = parse_core_metadata(raw, source=source)
        check_identity(meta, f.filename, source=source)
        cache = self.http.cache
        if cache is not None:
            for key in keys:
                cache.put(_KIND, key, raw)
        return meta

    async def _whole_file(self, f: DistFile) -> tuple[bytes, str]:
        """The file's bytes, checked against the page's size and sha256 before
        anything reads them, and their sha256."""
        blob = await self.http.download(
            f.url, sha256=f.sha256, size=f.size, max_bytes=self._max_file_bytes
        )
        digest = f.sha256.lower() if f.sha256 else hashlib.sha256(blob).hexdigest()
        return blob, digest

    def _content_keys(self, f: DistFile, digest: str) -> tuple[str, ...]:
        """Where metadata read from verified bytes is stored: by content, and for a
        remote file the page gave no hash for, by URL too (so that a warm run need
        not download it again to learn its hash)."""
        if f.sha256 or f.url.startswith("file:"):
            return (f"sha256:{digest}",)
        return (f"sha256:{digest}", self._url_key(f))

    def _check_whole(self, f: DistFile, data: bytes) -> str:
        """Check a whole body that arrived by other means than :meth:`Http.download`."""
        source = redact_url(f.url)
        if f.size is not None and len(data) != f.size:
            raise IntegrityError(
                f"{source} is {len(data)} bytes, but the index page says {f.size}; lockpin "
                "refuses it. The index, a proxy or a mirror is serving altered data.",
                url=source,
                expected=str(f.size),
                actual=str(len(data)),
            )
        digest = hashlib.sha256(data).hexdigest()
        if f.sha256 and digest != f.sha256.lower():
            raise IntegrityError(
                f"{source} does not match its declared sha256 (expected {f.sha256.lower()}, "
                f"got {digest}); lockpin refuses it. The index, a proxy or a mirror is serving "
                "altered data: report it, or use another index.",
                url=source,
                expected=f.sha256.lower(),
                actual=digest,
            )
        return digest

    async def _wheel(self, f: DistFile) -> tuple[bytes, tuple[str, ...]]:
        source = redact_url(f.url)
        remote = not f.url.startswith("file:")
        if remote and f.core_metadata is not False:
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
                if len(resp.content) > MAX_METADATA_BYTES:
                    raise _too_big(
                        source, "the .metadata file", len(resp.content), MAX_METADATA_BYTES
                    )
                expected = _advertised(f)
                if expected is not None:
                    actual = hashlib.sha256(resp.content).hexdigest()
                    if actual != expected:
                        raise IntegrityError(
                            f"{source}.metadata does not match the sha256 the index states "
                            f"for it (expected {expected}, got {actual}); the index or a proxy "
                            "is serving altered data.",
                            url=source + ".metadata",
                            expected=expected,
                            actual=actual,
                        )
                self.stats["metadata"] += 1
                key = f"core-metadata:{expected}" if expected else self._url_key(f)
                return resp.content, (key,)
        if remote:
            found = await self._range_metadata(f)
            if found is not None:
                log.debug("read the metadata of %s with range requests", f.filename)
                self.stats["range"] += 1
                return found
        self.stats["download"] += 1
        log.info("reading the metadata of %s by downloading it", f.filename)
        blob, digest = await self._whole_file(f)
        if not f.sha256 and (body := self._cached(f"sha256:{digest}")) is not None:
            self.stats["cache"] += 1
            return body, ()
        return wheel_metadata_from_zip(blob, source=source), self._content_keys(f, digest)

    async def _range_metadata(self, f: DistFile) -> tuple[bytes, tuple[str, ...]] | None:
        source = redact_url(f.url)
        try:
            resp = await self.http.get_range(f.url, suffix=_TAIL)
        except LockpinError:
            return None
        if resp.status == 200:
            # The server ignored Range and sent the whole wheel: check it like a download.
            digest = self._check_whole(f, resp.content)
            keys = self._content_keys(f, digest)
            return wheel_metadata_from_zip(resp.content, source=source), keys
        if resp.status != 206:
            return None
        total = _total_size(resp.headers.get("content-range", ""))
        if total is not None and f.size is not None and total != f.size:
            # The one check range requests allow: the file is not the one on the page.
            raise IntegrityError(
                f"{source} is {total} bytes on the server, but the index page says {f.size}; "
                "lockpin refuses it. The index, a proxy or a mirror is serving altered data.",
                url=source,
                expected=str(f.size),
                actual=str(total),
            )
        total = total or f.size
        if total is None:
            return None
        tail = resp.content
        tail_start = total - len(tail)
        directory = _central_directory(tail)
        if directory is not None and directory[0] < tail_start:
            # A large wheel: the central directory starts before the tail we read.
            if tail_start - directory[0] > MAX_METADATA_BYTES:
                return None  # implausible: read the whole file (checked) instead
            more = await self.http.get_range(f.url, start=directory[0], end=tail_start - 1)
            if more.status != 206 or len(more.content) != tail_start - directory[0]:
                return None
            tail = more.content + tail
            tail_start = directory[0]
        member = _find_metadata_member(tail, tail_start, source=source)
        if member is None:
            return None
        keys = (self._url_key(f),)
        need_end = member.offset + 30 + member.name_len + 1024 + member.compressed_size
        if member.offset >= tail_start and need_end - tail_start <= len(tail) + 1024:
            blob = tail[member.offset - tail_start :]
            try:
                return _extract(member, blob, source=source), keys
            except IndexError_:
                pass
        resp2 = await self.http.get_range(f.url, start=member.offset, end=min(need_end, total - 1))
        if resp2.status != 206:
            return None
        return _extract(member, resp2.content, source=source), keys

    async def _sdist(self, f: DistFile) -> tuple[bytes, tuple[str, ...]]:
        source = redact_url(f.url)
        self.stats["sdist"] += 1
        blob, digest = await self._whole_file(f)
        if not f.sha256 and (body := self._cached(f"sha256:{digest}")) is not None:
            self.stats["cache"] += 1
            return body, ()
        keys = self._content_keys(f, digest)
        parsed = parse_filename(f.filename)
        meta = read_sdist_metadata(
            blob, filename=f.filename, source=source, version=parsed[1] if parsed else None
        )
        if meta is not None:
            return _render_metadata(meta), keys
        if self._build is None:
            raise IndexError_(
                f"{f.filename} has dynamic metadata and PEP 517 builds are disabled.", url=source
            )
        self.stats["build"] += 1
        cache = self.http.cache
        failed_key = f"sha256:{digest}"
        if cache is not None:
            failed = cache.get(_FAILED_KIND, failed_key)
            if failed is not None:  # same bytes, same failure: do not rebuild them each run
                raise BuildError(failed.body.decode("utf-8", "replace"))
        try:
            return await self._build(blob, f.filename), keys
        except BuildError as exc:
            # Remember only failures of the sdist's own build code; installing build
            # requirements can fail for passing reasons (network, index) and is retried.
            transient = str(exc).startswith(("installing build", "creating a build"))
            if cache is not None and not transient:
                cache.put(_FAILED_KIND, failed_key, str(exc).encode())
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
