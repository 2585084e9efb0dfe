"""Retrieval of core metadata for index files: :class:`MetadataFetcher`.

Parsing is :mod:`lockpin.python.metadata`'s (pure); this module decides where the
bytes come from, checks them, and caches them.

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

For an sdist whose release has wheels, none of them for the target
(:meth:`MetadataFetcher.fetch_sdist`): the metadata of the wheel most like the
target (:func:`~lockpin.python.standin.stand_in_wheels`) first, read as above,
and checked against a second wheel built for another interpreter or platform
when the release has one; the sdist only when they disagree or cannot be read.
Which wheel lent its metadata is kept in :attr:`MetadataFetcher.borrowed`.

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
  is still checked: the size the server reports for the file must be the page's,
  and the METADATA member must inflate completely to the size and CRC-32 its zip
  directory entry states (a damaged member is an error; a range answered short
  falls back to downloading the wheel).
* whatever the source, the metadata's Name and Version must be the file name's
  (:func:`~lockpin.python.metadata.check_identity`).

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
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ..errors import BuildError, IndexResponseError, IntegrityError, LockpinError, NetworkError
from ..net.redact import redact_url, split_auth
from .metadata import (
    MAX_METADATA_BYTES,
    CoreMetadata,
    _central_directory,
    _extract,
    _find_metadata_member,
    _local_span,
    _too_big,
    check_identity,
    parse_core_metadata,
    read_sdist_metadata,
    wheel_metadata_from_zip,
)
from .models import parse_filename
from .standin import comparison_partner, same_dependencies

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

    from ..net.http import Http, Response
    from .models import DistFile

__all__ = ["MetadataFetcher"]

log = logging.getLogger(__name__)

#: Bytes of a wheel's tail asked for first (the central directory and, usually, METADATA).
_TAIL = 64 * 1024
_KIND = "metadata-v2"
_FAILED_KIND = "build-failed-v2"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


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
    download cap). ``build_key`` names what a build's outcome depends on besides
    the sdist (:meth:`~lockpin.python.build.MetadataBuilder.cache_key`: the
    interpreter), so that a failure remembered for one interpreter is not replayed
    for another. See the module docstring for what is verified and how the cache
    is keyed.

    ``borrowed`` maps ``(name, version)`` of a release read through
    :meth:`fetch_sdist` to the wheel file name whose metadata stood in for it.
    """

    def __init__(
        self,
        http: Http,
        *,
        build_metadata: Callable[[bytes, str], Awaitable[bytes]] | None = None,
        build_key: Callable[[], str] | None = None,
        max_file_bytes: int | None = None,
    ) -> None:
        self.http = http
        self._build = build_metadata
        self._build_key = build_key
        self._max_file_bytes = max_file_bytes
        self.borrowed: dict[tuple[str, str], str] = {}
        self.stats: dict[str, int] = {
            "metadata": 0,
            "range": 0,
            "download": 0,
            "sdist": 0,
            "build": 0,
            "cache": 0,
            "stand-in": 0,
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

    async def fetch_sdist(self, sdist: DistFile, stand_ins: Sequence[DistFile]) -> CoreMetadata:
        """Metadata of ``sdist``'s release, from the wheels in ``stand_ins`` (most
        like the target first, none installable there) when they allow, else from
        the sdist itself.

        The first wheel's metadata is used when the release has no wheel of another
        kind (:func:`~lockpin.python.standin.comparison_partner`) or when that one's
        says the same about dependencies; when they differ, the metadata depends on
        the build, and only the sdist can tell. Metadata already known for the sdist
        itself (the cache) wins over any wheel's.
        """
        source = redact_url(sdist.url)
        known = self._lookup(sdist)
        if known is not None or not stand_ins:
            return await self.fetch(sdist)
        first, partner = stand_ins[0], comparison_partner(stand_ins)
        wanted = [first] if partner is None else [first, partner]
        found = await asyncio.gather(*(self.fetch(w) for w in wanted), return_exceptions=True)
        for w, result in zip(wanted, found, strict=True):
            if isinstance(result, BaseException) and not isinstance(result, LockpinError):
                raise result
            if isinstance(result, LockpinError):
                log.info("%s: cannot read %s (%s); building the sdist", source, w.filename, result)
                return await self.fetch(sdist)
        meta = found[0]
        assert isinstance(meta, CoreMetadata)
        check_identity(meta, sdist.filename, source=source)
        if partner is not None:
            other = found[1]
            assert isinstance(other, CoreMetadata)
            if not same_dependencies(meta, other):
                note = (
                    f"the dependencies in {first.filename} and {partner.filename} differ, so "
                    f"lockpin cannot take {sdist.filename}'s from a wheel for another "
                    "interpreter or platform"
                )
                log.info("%s: %s; building the sdist", source, note)
                try:
                    return await self.fetch(sdist)
                except BuildError as exc:
                    raise BuildError(
                        f"{exc}\n({note}.)", filename=exc.filename, transient=exc.transient
                    ) from exc
        self.stats["stand-in"] += 1
        if meta.version is not None:
            self.borrowed[(meta.name, str(meta.version))] = first.filename
        log.info(
            "%s: no wheel for the target; read its dependencies from %s instead of building it%s",
            sdist.filename,
            first.filename,
            f" (the same as {partner.filename}'s)" if partner is not None else "",
        )
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
        # The member's local header and data, from the tail when it holds them, else by
        # range requests: first a guess (the local extra field is rarely over 1 KiB), then,
        # once the header tells, exactly what is missing. A range answered short is the
        # server's fault (download the wheel instead); a member cut by the end of the file
        # is the file's (an error, as the whole file would give).
        blob = tail[member.offset - tail_start :] if member.offset >= tail_start else b""
        guess = 30 + member.name_len + 1024 + member.compressed_size
        for _ in range(2):
            end = min(member.offset + (_local_span(member, blob) or guess), total)
            if member.offset + len(blob) >= end:
                break  # all that is needed, or all the file has
            more = await self.http.get_range(f.url, start=member.offset, end=end - 1)
            if more.status != 206 or len(more.content) != end - member.offset:
                return None
            blob = more.content
        return _extract(member, blob, source=source), keys

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
            raise IndexResponseError(
                f"{f.filename} has dynamic metadata and PEP 517 builds are disabled.", url=source
            )
        self.stats["build"] += 1
        cache = self.http.cache
        failed_key = f"sha256:{digest}"
        if self._build_key is not None:
            failed_key += "|" + await asyncio.to_thread(self._build_key)
        if cache is not None:
            failed = cache.get(_FAILED_KIND, failed_key)
            if failed is not None:  # same bytes, same failure: do not rebuild them each run
                raise BuildError(failed.body.decode("utf-8", "replace"), filename=f.filename)
        try:
            return await self._build(blob, f.filename), keys
        except BuildError as exc:
            # Remember only failures of the sdist's own build code; its build environment
            # can fail for passing reasons (network, index, time) and is retried.
            if cache is not None and not exc.transient:
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
