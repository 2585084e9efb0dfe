"""Fetch and verify an archive's indexes, as apt does, and serve them as a
:class:`~lockpin.apt.models.Universe`.

For every suite of the :class:`~lockpin.apt.distro.Sources` (per
architecture: Ubuntu's ports archive serves the others than amd64/i386):

1. ``dists/<suite>/InRelease`` is fetched (unless the last one that verified
   is younger than the HTTP config's ``max_age`` and ``refresh`` is off: a run
   within that lifetime asks nothing; only verified metadata is kept, so a bad
   answer is never reused), its signature checked with
   ``gpgv`` (:mod:`lockpin.apt.gpg`) and only the text the signature covers is
   parsed (:mod:`lockpin.apt.release`). The Release must be of the suite asked
   for, not dated in the future, and not past its ``Valid-Until`` (unless the
   sources are a snapshot, whose Valid-Until has passed by design). Without an
   InRelease, ``Release`` + ``Release.gpg`` are used, as apt does.
2. ``<component>/binary-<arch>/Packages`` (and ``binary-all`` when apt would
   fetch it: :attr:`~lockpin.apt.release.Release.wants_binary_all`) is fetched
   as ``.xz``, else ``.gz``, else uncompressed, as the Release lists them,
   through ``by-hash/SHA256/<hash>`` when the Release offers it, with
   :meth:`~lockpin.net.http.Http.download` checking size and sha256 before a
   byte is used. It is decompressed under a cap and checked again against the
   Release's uncompressed entry.
3. The verified text is cached forever, by its sha256, with a compact index of
   where each package's stanzas are (:mod:`lockpin.apt.packed`): a warm run
   reads and re-hashes the text and loads the index, and parses only the
   stanzas the resolver asks for.

``--offline`` works from the cache alone: the last InRelease that verified
(kept apart from the page cache, so a bad answer since cannot displace it) is
verified again, and the indexes it names are read from the cache.

Every failure names the URL (credentials redacted) and what to do.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import logging
import lzma
import posixpath
import time
import zlib
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import IndexResponseError, IntegrityError, NetworkError, OfflineError
from ..net.redact import redact_url
from ..progress import Event, NullReporter
from .deb822 import Deb822Error, parse_stanza
from .distro import Suite
from .gpg import keyring_files, verify_clearsigned, verify_detached
from .models import DEFAULT_PIN_PRIORITY
from .packed import (
    PackagesIndex,
    PackedError,
    index_packages,
    pack_index,
    sha256_hex,
    unpack_index,
)
from .release import Release, ReleaseError, parse_release, split_clearsigned

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable, Sequence

    from ..net.cache import CacheEntry, DiskCache
    from ..net.http import Http
    from ..progress import Reporter
    from .distro import Sources
    from .models import Package

__all__ = [
    "MAX_FUTURE",
    "MAX_INDEX_BYTES",
    "Archive",
    "ArchiveUniverse",
    "SuiteEvidence",
    "load_archive",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Largest decompressed ``Packages`` index accepted (Debian's main/amd64: ~50 MB).
MAX_INDEX_BYTES = 1 << 30
#: How far in the future a Release's ``Date`` may be (apt's ``Max-FutureTime``).
MAX_FUTURE = timedelta(seconds=10)

#: Cache kinds: verified metadata by URL; index text and packed index by sha256.
_RELEASE_KIND = "apt-release"
_TEXT_KIND = "apt-packages"
_PACKED_KIND = "apt-packed"


@dataclass(frozen=True, slots=True)
class SuiteEvidence:
    """What one suite's pins were resolved from: the sha256 of the exact
    ``InRelease`` bytes fetched (of ``Release`` where there is no InRelease),
    its ``Date`` and ``Valid-Until`` as written, and which of the requested
    ``architectures`` were fetched from this ``base_url`` (no credentials)."""

    suite: str
    base_url: str
    inrelease_sha256: str
    date: str
    valid_until: str | None = None
    architectures: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Target:
    """One ``Packages`` index to fetch; ``arch`` is ``all`` for ``binary-all``;
    ``pin_priority`` is what apt gives its versions by default (from the suite's
    Release: :attr:`~lockpin.apt.release.Release.pin_priority`)."""

    suite: str
    base_url: str
    component: str
    arch: str
    pin_priority: int = DEFAULT_PIN_PRIORITY

    @property
    def label(self) -> str:
        """Names it in progress events (never a URL: URLs may carry credentials)."""
        return f"{self.suite}/{self.component}/binary-{self.arch}"


class _Index:
    """One verified ``Packages`` text with its packed index; stanzas parsed on demand."""

    __slots__ = ("_parsed", "index", "target", "text", "url")

    def __init__(self, target: _Target, url: str, text: bytes, index: PackagesIndex) -> None:
        self.target = target
        self.url = url
        self.text = text
        self.index = index
        self._parsed: dict[int, Package | None] = {}

    def packages(self, offsets: tuple[int, ...]) -> list[Package]:
        out: list[Package] = []
        for start, end in PackagesIndex.spans(offsets):
            if start not in self._parsed:
                self._parsed[start] = self._parse(start, end)
            package = self._parsed[start]
            if package is not None:
                out.append(package)
        return out

    def _parse(self, start: int, end: int) -> Package | None:
        from .packages import PackageStanzaError, package_from_stanza

        text = self.text[start:end].decode("utf-8", "replace")
        try:
            fields = parse_stanza(text)
            package = package_from_stanza(
                fields,
                suite=self.target.suite,
                origin=self.target.base_url,
                component=self.target.component,
            )
            if self.target.pin_priority != package.pin_priority:
                package = replace(package, pin_priority=self.target.pin_priority)
            return package
        except (Deb822Error, PackageStanzaError) as exc:
            # Like a release whose metadata does not parse on the Python side: the
            # package is left out, and the user is told which and where.
            name = text.partition("\n")[0][:80]
            log.warning("%s: skipping a malformed stanza (%s): %s", self.url, name, exc)
            return None


class ArchiveUniverse:
    """The :class:`~lockpin.apt.models.Universe` of one architecture: packages
    of that architecture and of ``all``, from every suite, parsed lazily and
    remembered; in the order of the sources (``indexes`` are given in the
    order of :meth:`~lockpin.apt.distro.Sources.suites_for`), each package
    with its suite's default pin priority."""

    def __init__(self, architecture: str, indexes: Sequence[_Index]) -> None:
        self._architecture = architecture
        self._indexes = tuple(indexes)
        self._versions: dict[str, tuple[Package, ...]] = {}
        self._providers: dict[str, tuple[Package, ...]] = {}
        self._names: tuple[str, ...] | None = None
        self._required: tuple[str, ...] | None = None

    @property
    def architecture(self) -> str:
        return self._architecture

    def _fits(self, package: Package) -> bool:
        return package.architecture in (self._architecture, "all")

    @staticmethod
    def _unique(packages: Iterable[Package]) -> tuple[Package, ...]:
        # An arch-all package may be listed by binary-<arch> and binary-all alike.
        seen: set[tuple[str, str, str, str, str, str]] = set()
        out: list[Package] = []
        for p in packages:
            key = (p.name, p.architecture, p.version, p.suite, p.origin, p.sha256)
            if key not in seen:
                seen.add(key)
                out.append(p)
        return tuple(out)

    def versions(self, name: str) -> Sequence[Package]:
        found = self._versions.get(name)
        if found is None:
            candidates: list[Package] = []
            for index in self._indexes:
                offsets = index.index.names.get(name)
                if offsets:
                    candidates.extend(
                        p for p in index.packages(offsets) if p.name == name and self._fits(p)
                    )
            found = self._versions[name] = self._unique(candidates)
        return found

    def providers(self, name: str) -> Sequence[Package]:
        found = self._providers.get(name)
        if found is None:
            candidates: list[Package] = []
            for index in self._indexes:
                offsets = index.index.provides.get(name)
                if offsets:
                    candidates.extend(
                        p
                        for p in index.packages(offsets)
                        if self._fits(p) and any(r.name == name for r in p.provides)
                    )
            found = self._providers[name] = self._unique(candidates)
        return found

    def required_names(self) -> Sequence[str]:
        """Names of which some version says ``Essential: yes`` or ``Priority:
        required`` (a superset: check the versions), sorted; read from the
        packed indexes, so finding the default base parses ~100 stanzas rather
        than all of them."""
        if self._required is None:
            names: set[str] = set()
            for index in self._indexes:
                names.update(index.index.required)
            self._required = tuple(sorted(names))
        return self._required

    def names(self) -> Sequence[str]:
        if self._names is None:
            names: set[str] = set()
            for index in self._indexes:
                names.update(index.index.names)
            self._names = tuple(sorted(names))
        return self._names


class Archive:
    """The verified indexes of a set of :class:`~lockpin.apt.distro.Sources`
    for some architectures (:func:`load_archive`)."""

    def __init__(
        self,
        sources: Sources,
        evidence: Sequence[SuiteEvidence],
        indexes: dict[str, list[_Index]],
    ) -> None:
        self.sources = sources
        self._evidence = tuple(sorted(evidence, key=lambda e: (e.suite, e.base_url)))
        self._indexes = indexes
        self._universes: dict[str, ArchiveUniverse] = {}

    @property
    def evidence(self) -> tuple[SuiteEvidence, ...]:
        """One record per suite and archive URL, sorted by suite then URL."""
        return self._evidence

    @property
    def architectures(self) -> tuple[str, ...]:
        return tuple(self._indexes)

    def universe(self, architecture: str) -> ArchiveUniverse:
        """Everything installable on ``architecture`` (one of those loaded)."""
        if architecture not in self._indexes:
            loaded = ", ".join(self._indexes) or "none"
            raise ValueError(f"architecture {architecture!r} was not loaded (loaded: {loaded})")
        found = self._universes.get(architecture)
        if found is None:
            found = self._universes[architecture] = ArchiveUniverse(
                architecture, self._indexes[architecture]
            )
        return found

    def download_url(self, package: Package) -> str:
        """Where the ``.deb`` of ``package`` (listed by this archive) is fetched:
        its archive's base URL and its ``Filename``."""
        filename = package.filename
        if not package.origin or not filename:
            raise ValueError(f"{package.name} {package.version} has no archive file")
        parts = filename.split("/")
        if filename.startswith("/") or "://" in filename or ".." in parts or "" in parts:
            raise IndexResponseError(
                f"{package.origin}: the index gives {package.name} {package.version} the "
                f"file name {filename!r}, which leaves the archive; lockpin refuses it.",
                url=package.origin,
            )
        return package.origin + posixpath.normpath(filename)


# -- fetching ------------------------------------------------------------------------------


@dataclass
class _Context:
    http: Http
    sources: Sources
    reporter: Reporter
    now: datetime
    keyring: str
    cache: DiskCache | None = field(default=None)
    #: index texts being fetched or read, by cache key (shared by identical indexes)
    texts: dict[str, asyncio.Future[tuple[str, bytes, PackagesIndex]]] = field(default_factory=dict)


async def _first_error(awaitables: Iterable[Awaitable[T]]) -> list[T]:
    """Run concurrently and wait for all; raise the failure of the first one in
    the order given.

    Not the first to fail in time: which suite fails first is a race, and the
    same inputs must give the same error (several suites often fail alike, e.g.
    a keyring that lacks the archive's key). The others are bounded by the
    HTTP layer's timeouts, so waiting for them costs little."""
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    if not tasks:
        return []
    try:
        await asyncio.wait(tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    # Retrieve every failure: one left unretrieved is logged by asyncio as a
    # stray traceback.
    errors = [
        error for task in tasks if not task.cancelled() and (error := task.exception()) is not None
    ]
    if errors:
        raise errors[0]
    return [task.result() for task in tasks]


def _missing_suite(suite: Suite, url: str) -> NetworkError:
    return NetworkError(
        f"{url}: the suite {suite.name!r} does not exist at {redact_url(suite.base_url)} "
        "(HTTP 404). If this mirror does not carry it, name the suites it has (--suite), "
        "or point --mirror/--security-mirror at one that does; a release past its end of "
        "life has moved (Debian: http://archive.debian.org/debian/, Ubuntu: "
        "http://old-releases.ubuntu.com/ubuntu/).",
        url=url,
    )


@dataclass(frozen=True, slots=True)
class _Meta:
    """The metadata file of a suite as fetched: ``data`` is the exact bytes (an
    InRelease, or a Release with its detached ``signature``)."""

    url: str
    data: bytes
    signature: bytes | None = None


async def _get(ctx: _Context, url: str) -> tuple[int, bytes]:
    # Not through the page cache: it would keep an answer that then fails
    # verification (a bad signature, an expired Release) and serve it again until
    # it goes stale. The verified metadata is kept by _remember instead.
    response = await ctx.http.get(url, cache="none")
    if response.status >= 400 and response.status != 404:
        raise NetworkError(
            f"GET {redact_url(url)} answered HTTP {response.status}.", url=redact_url(url)
        )
    return response.status, response.content


async def _fetch_meta(ctx: _Context, suite: Suite) -> _Meta:
    inrelease = suite.inrelease_url
    status, data = await _get(ctx, inrelease)
    if status == 200:
        return _Meta(url=inrelease, data=data)
    # No InRelease (older or hand-made archives): Release + Release.gpg, as apt does.
    release_url = f"{suite.base_url}dists/{suite.name}/Release"
    status, data = await _get(ctx, release_url)
    if status != 200:
        raise _missing_suite(suite, redact_url(inrelease))
    if ctx.sources.insecure_skip_verify:
        return _Meta(url=release_url, data=data)
    status, signature = await _get(ctx, release_url + ".gpg")
    if status != 200:
        raise IntegrityError(
            f"{redact_url(release_url)} has neither an InRelease nor a Release.gpg "
            "signature: lockpin refuses an unsigned archive. Use a signed mirror (or "
            "--insecure-skip-verify for a local unsigned one, at your own risk).",
            url=redact_url(release_url),
            expected="a signed Release",
            actual="no signature",
        )
    return _Meta(url=release_url, data=data, signature=signature)


def _remember(ctx: _Context, suite: Suite, meta: _Meta) -> None:
    """Keep the verified metadata, for the runs shortly after and for ``--offline``."""
    if ctx.cache is None:
        return
    extra: dict[str, Any] = {"url": meta.url}
    if meta.signature is not None:
        extra["signature"] = base64.b64encode(meta.signature).decode("ascii")
    ctx.cache.put(_RELEASE_KIND, suite.inrelease_url, meta.data, extra)


def _recall(ctx: _Context, suite: Suite) -> _Meta:
    if ctx.cache is None:
        raise OfflineError(redact_url(suite.inrelease_url))
    entry = ctx.cache.get(_RELEASE_KIND, suite.inrelease_url)
    if entry is None:
        raise OfflineError(redact_url(suite.inrelease_url))
    return _meta_of(suite, entry)


def _recall_fresh(ctx: _Context, suite: Suite, max_age: int) -> _Meta | None:
    """The last verified metadata of ``suite`` if it was fetched less than
    ``max_age`` seconds ago (a run shortly after another asks nothing)."""
    if ctx.cache is None:
        return None
    entry = ctx.cache.get(_RELEASE_KIND, suite.inrelease_url)
    if entry is None or not 0 <= time.time() - entry.stored_at < max_age:
        return None
    return _meta_of(suite, entry)


def _meta_of(suite: Suite, entry: CacheEntry) -> _Meta:
    signature = entry.meta.get("signature")
    return _Meta(
        url=str(entry.meta.get("url") or suite.inrelease_url),
        data=entry.body,
        signature=base64.b64decode(signature) if isinstance(signature, str) else None,
    )


def _signed_text(ctx: _Context, meta: _Meta) -> bytes:
    """The text to parse: what the signature covers (unless verification is off)."""
    url = redact_url(meta.url)
    distribution = ctx.sources.distribution if ctx.sources.keyring is None else None
    if ctx.sources.insecure_skip_verify:
        if meta.data.lstrip().startswith(b"-----BEGIN PGP SIGNED MESSAGE-----"):
            try:
                return split_clearsigned(meta.data).text
            except ReleaseError as exc:
                raise IntegrityError(
                    f"{url}: not a valid clearsigned message ({exc}).",
                    url=url,
                    expected="a clearsigned message",
                    actual=str(exc),
                ) from exc
        return meta.data
    if meta.signature is not None:
        return verify_detached(
            meta.data,
            meta.signature,
            keyring=ctx.keyring,
            url=url,
            distribution=distribution,
        ).text
    return verify_clearsigned(
        meta.data, keyring=ctx.keyring, url=url, distribution=distribution
    ).text


def _check_release(ctx: _Context, suite: Suite, meta: _Meta, text: bytes) -> Release:
    url = redact_url(meta.url)
    try:
        release = parse_release(text.decode("utf-8", "replace"))
    except ReleaseError as exc:
        raise IndexResponseError(
            f"{url}: the Release does not parse ({exc}); the archive is broken. Try "
            "another mirror.",
            url=url,
        ) from exc
    if not release.names_suite(suite.name):
        raise IntegrityError(
            f"{url}: this Release is for suite {release.suite or '?'!r} (codename "
            f"{release.codename or '?'!r}), not {suite.name!r}: the mirror served another "
            "suite's file (misconfigured, or replaying an old one). lockpin refuses it.",
            url=url,
            expected=suite.name,
            actual=release.suite or release.codename,
        )
    moment = release.date_time
    if moment is not None and moment > ctx.now + MAX_FUTURE:
        raise IntegrityError(
            f"{url}: the Release is dated {release.date}, in the future (now "
            f"{_http_date(ctx.now)}). Check this machine's clock; otherwise the mirror "
            "is broken or hostile.",
            url=url,
            expected=f"a Date before {_http_date(ctx.now)}",
            actual=release.date,
        )
    until = release.valid_until_time
    if until is not None and ctx.sources.snapshot is None and ctx.now > until:
        raise IntegrityError(
            f"{url}: the Release expired: Valid-Until {release.valid_until}, now "
            f"{_http_date(ctx.now)}. The mirror is out of date (or replaying an old file): "
            "use another mirror, or pin a --snapshot. Check this machine's clock too.",
            url=url,
            expected=f"Valid-Until after {_http_date(ctx.now)}",
            actual=str(release.valid_until),
        )
    return release


def _http_date(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%a, %d %b %Y %H:%M:%S UTC")


async def _checked(ctx: _Context, suite: Suite, meta: _Meta) -> Release:
    text = await asyncio.to_thread(_signed_text, ctx, meta)
    return _check_release(ctx, suite, meta, text)


async def _load_release(ctx: _Context, suite: Suite) -> tuple[Release, _Meta]:
    config = ctx.http.config
    if config.offline:
        meta = _recall(ctx, suite)
        return await _checked(ctx, suite, meta), meta
    if not config.refresh:
        recalled = _recall_fresh(ctx, suite, config.max_age)
        if recalled is not None:
            # Verified again (the keyring, the clock or the cache file may have changed
            # since); if it no longer passes, the archive is asked, as it would be anyway.
            try:
                return await _checked(ctx, suite, recalled), recalled
            except (IntegrityError, IndexResponseError) as exc:
                log.info(
                    "%s: the cached copy no longer verifies (%s); fetching it again",
                    redact_url(recalled.url),
                    exc,
                )
    meta = await _fetch_meta(ctx, suite)
    release = await _checked(ctx, suite, meta)
    await asyncio.to_thread(_remember, ctx, suite, meta)
    return release, meta


def _decompress(data: bytes, path: str, url: str) -> bytes:
    """``data`` decompressed by its suffix, refusing more than :data:`MAX_INDEX_BYTES`."""
    limit = MAX_INDEX_BYTES
    try:
        if path.endswith(".xz"):
            # Concatenated streams are one valid .xz file (Ubuntu's Packages.xz ends
            # with an empty second stream); stream padding is NUL bytes.
            parts: list[bytes] = []
            size = 0
            rest = data
            while True:
                xz = lzma.LZMADecompressor()
                part = xz.decompress(rest, max_length=limit + 1 - size)
                size += len(part)
                parts.append(part)
                if size > limit:
                    raise _TooLarge
                if not xz.eof:
                    raise ValueError("the xz stream ends early")
                rest = xz.unused_data.lstrip(b"\0")
                if (len(xz.unused_data) - len(rest)) % 4:  # as xz and apt's liblzma
                    raise ValueError("the xz stream padding is not a multiple of 4 bytes")
                if not rest:
                    return b"".join(parts)
        if path.endswith(".gz"):
            pieces: list[bytes] = []
            total = 0
            inflater = zlib.decompressobj(wbits=47)
            rest = data
            while rest:
                piece = inflater.decompress(rest, limit + 1 - total)
                total += len(piece)
                pieces.append(piece)
                if total > limit:
                    raise _TooLarge
                if inflater.eof:
                    rest = inflater.unused_data
                    inflater = zlib.decompressobj(wbits=47)  # another gzip member
                else:
                    rest = inflater.unconsumed_tail
                    if not rest:
                        raise ValueError("the gzip stream ends early")
            return b"".join(pieces)
    except _TooLarge:
        raise IndexResponseError(
            f"{url} decompresses to more than {limit >> 20} MiB; lockpin stopped. The "
            "archive is broken or hostile.",
            url=url,
        ) from None
    except (lzma.LZMAError, zlib.error, gzip.BadGzipFile, ValueError, EOFError) as exc:
        raise IntegrityError(
            f"{url} matches its signed sha256 but does not decompress ({exc}); the archive "
            "published a broken file. Try another mirror.",
            url=url,
            expected="a valid compressed index",
            actual=str(exc),
        ) from exc
    return data


class _TooLarge(Exception):
    pass


def _from_cache(
    cache: DiskCache | None, key: str, expected: tuple[str, int] | None
) -> tuple[bytes, PackagesIndex] | None:
    """A cached index text (re-hashed: the cache holds only verified text, and a
    damaged entry is a miss) and its packed index (rebuilt when unusable)."""
    if cache is None:
        return None
    entry = cache.get(_TEXT_KIND, key)
    if entry is None:
        return None
    text = entry.body
    digest = sha256_hex(text)
    recorded = entry.meta.get("text_sha256")
    if digest != recorded or (expected is not None and (digest, len(text)) != expected):
        log.warning("cached index %s is damaged; fetching it again", key)
        return None
    packed = cache.get(_PACKED_KIND, digest)
    if packed is not None:
        try:
            return text, unpack_index(packed.body, sha256=digest, size=len(text))
        except PackedError as exc:
            log.debug("rebuilding the packed index of %s: %s", key, exc)
    index = index_packages(text)
    cache.put(_PACKED_KIND, digest, pack_index(index, sha256=digest, size=len(text)))
    return text, index


def _store(cache: DiskCache | None, key: str, text: bytes) -> PackagesIndex:
    index = index_packages(text)
    if cache is not None:
        digest = sha256_hex(text)
        cache.put(_TEXT_KIND, key, text, {"text_sha256": digest})
        cache.put(_PACKED_KIND, digest, pack_index(index, sha256=digest, size=len(text)))
    return index


async def _download_index(
    ctx: _Context, target: _Target, release: Release, url_of: Callable[[str], str]
) -> tuple[str, bytes]:
    """The first listed compression of the index that downloads, checked."""
    files = release.packages_files(target.component, target.arch)
    failures: list[str] = []
    for entry in files:
        urls = [url_of(entry.path)]
        if release.acquire_by_hash:
            directory = posixpath.dirname(entry.path)
            urls.insert(0, url_of(f"{directory}/by-hash/SHA256/{entry.sha256}"))
        for url in urls:
            try:
                data = await ctx.http.download(url, sha256=entry.sha256, size=entry.size)
            except NetworkError as exc:
                # A missing by-hash file or compression: try the next, as apt does. An
                # IntegrityError is never retried into success elsewhere.
                failures.append(exc.detail)
                continue
            ctx.reporter.report(Event("index", target.label, len(data)))
            text = await asyncio.to_thread(_decompress, data, entry.path, redact_url(url))
            return redact_url(url), text
    raise NetworkError(
        f"none of the listed files of {target.label} could be fetched from "
        f"{redact_url(target.base_url)}: " + " | ".join(failures) + " Check the mirror URL "
        "and your network or proxy settings, then retry.",
        url=redact_url(url_of(files[0].path)) if files else redact_url(target.base_url),
    )


async def _load_index(ctx: _Context, target: _Target, release: Release) -> _Index:
    stem = f"{target.component}/binary-{target.arch}/Packages"
    plain = release.files.get(stem)
    # The uncompressed text's sha256 when the Release lists it (the same text is
    # then one entry whichever compression was fetched), else the compressed file's.
    key = (plain or release.packages_files(target.component, target.arch)[0]).sha256
    # Identical indexes (two architectures' empty ones) are fetched once per run.
    pending = ctx.texts.get(key)
    if pending is None:
        pending = ctx.texts[key] = asyncio.ensure_future(_index_text(ctx, target, release, key))
    url, text, index = await asyncio.shield(pending)
    return _Index(target, url, text, index)


async def _index_text(
    ctx: _Context, target: _Target, release: Release, key: str
) -> tuple[str, bytes, PackagesIndex]:
    def url_of(path: str) -> str:
        return f"{target.base_url}dists/{target.suite}/{path}"

    stem = f"{target.component}/binary-{target.arch}/Packages"
    plain = release.files.get(stem)
    expected = (plain.sha256, plain.size) if plain is not None else None
    shown = redact_url(
        url_of(
            plain.path if plain else release.packages_files(target.component, target.arch)[0].path
        )
    )
    cached = await asyncio.to_thread(_from_cache, ctx.cache, key, expected)
    if cached is not None:
        return shown, cached[0], cached[1]
    if ctx.http.config.offline:
        raise OfflineError(shown)
    url, text = await _download_index(ctx, target, release, url_of)
    if plain is not None and (len(text), sha256_hex(text)) != (plain.size, plain.sha256):
        actual = f"{sha256_hex(text)} ({len(text)} bytes)"
        raise IntegrityError(
            f"{url} decompresses to other text than the Release lists for {stem} (expected "
            f"{plain.sha256} ({plain.size} bytes), got {actual}); lockpin refuses it. The "
            "mirror is broken or hostile: try another.",
            url=url,
            expected=plain.sha256,
            actual=actual,
        )
    index = await asyncio.to_thread(_store, ctx.cache, key, text)
    return url, text, index


def _targets(
    suite: Suite, release: Release, architectures: Sequence[str], url: str
) -> list[_Target]:
    targets: list[_Target] = []
    for component in suite.components:
        if not release.has_component(component):
            log.warning(
                "%s lists no component %r (it has %s); skipping it, as apt does",
                url,
                component,
                ", ".join(release.components) or "none",
            )
            continue
        arches = [a for a in architectures if release.supports_architecture(a)]
        if release.wants_binary_all:
            arches.append("all")
        for arch in arches:
            if not release.packages_files(component, arch):
                raise IndexResponseError(
                    f"{url} lists no {component}/binary-{arch}/Packages index although it "
                    f"names the component and architecture; the archive is broken or the "
                    "suite is wrong. Try another mirror or --suite.",
                    url=url,
                )
            targets.append(
                _Target(suite.name, suite.base_url, component, arch, release.pin_priority)
            )
    return targets


async def _load_suite(
    ctx: _Context, suite: Suite, architectures: Sequence[str]
) -> tuple[SuiteEvidence, list[_Index]]:
    release, meta = await _load_release(ctx, suite)
    url = redact_url(meta.url)
    if ctx.sources.insecure_skip_verify:
        log.warning(
            "--insecure-skip-verify: the signature of %s was NOT checked; nothing vouches "
            "for the packages it lists",
            url,
        )
    unsupported = [a for a in architectures if not release.supports_architecture(a)]
    if unsupported:
        log.info("%s does not carry %s; skipping it there", url, ", ".join(unsupported))
    targets = _targets(suite, release, architectures, url)
    indexes = await _first_error(_load_index(ctx, target, release) for target in targets)
    evidence = SuiteEvidence(
        suite=suite.name,
        base_url=suite.base_url,
        inrelease_sha256=hashlib.sha256(meta.data).hexdigest(),
        date=release.date,
        valid_until=release.valid_until,
        architectures=tuple(sorted(architectures)),
    )
    return evidence, indexes


async def load_archive(
    http: Http,
    sources: Sources,
    architectures: Sequence[str],
    *,
    reporter: Reporter | None = None,
    now: datetime | None = None,
) -> Archive:
    """Fetch and verify every suite's InRelease and ``Packages`` indexes for
    ``architectures`` (Debian names), concurrently; see the module docstring.

    ``now`` (default: the current time) is what ``Date`` and ``Valid-Until``
    are checked against. Raises :class:`~lockpin.errors.IntegrityError` for
    anything that fails verification, :class:`~lockpin.errors.NetworkError`
    for what cannot be fetched (a suite missing at its mirror included),
    :class:`~lockpin.errors.OfflineError` for what ``--offline`` lacks, and
    :class:`~lockpin.errors.InputError` for a missing keyring or ``gpgv``.
    """
    arches = list(dict.fromkeys(architectures))
    if not arches:
        raise ValueError("load_archive needs at least one architecture")
    if not sources.insecure_skip_verify:
        # Before any request: a missing keyring or gpgv is the user's to fix.
        distribution = sources.distribution if sources.keyring is None else None
        keyring_files(sources.keyring_path, distribution=distribution)
    ctx = _Context(
        http=http,
        sources=sources,
        reporter=reporter or NullReporter(),
        now=now or datetime.now(timezone.utc),
        keyring=sources.keyring_path,
        cache=http.cache,
    )
    # Suites by (name, base URL): Ubuntu's ports archive serves some architectures.
    plan: dict[tuple[str, str], tuple[Suite, list[str]]] = {}
    for arch in arches:
        for suite in sources.suites_for(arch):
            bare = http.add_credentials(suite.base_url)
            key = (suite.name, bare)
            if key not in plan:
                plan[key] = (Suite(suite.name, bare, suite.components), [])
            plan[key][1].append(arch)
    try:
        loaded = await _first_error(
            _load_suite(ctx, suite, suite_arches) for suite, suite_arches in plan.values()
        )
    finally:
        # Shared fetches nobody awaits any more (after a failure): stop them, and
        # collect their outcome so that no error is left unretrieved.
        for future in ctx.texts.values():
            future.cancel()
        await asyncio.gather(*ctx.texts.values(), return_exceptions=True)
    indexes: dict[str, list[_Index]] = {arch: [] for arch in arches}
    for (_evidence, suite_indexes), (_suite, suite_arches) in zip(
        loaded, plan.values(), strict=True
    ):
        for index in suite_indexes:
            for arch in suite_arches:
                if index.target.arch in (arch, "all"):
                    indexes[arch].append(index)
    return Archive(sources, [evidence for evidence, _ in loaded], indexes)
