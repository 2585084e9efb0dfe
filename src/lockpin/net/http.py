"""The one HTTP layer: PyPI, private indexes, find-links pages and (later)
Debian mirrors and OCI registries all go through :class:`Http`.

It owns timeouts, retries with backoff, HTTP/2, the on-disk cache, credential
redaction in every error and byte counters for progress reporting, and applies
what its neighbours decide: :mod:`~lockpin.net.config` (the knobs and size
limits), :mod:`~lockpin.net.policy` (which URLs may be fetched),
:mod:`~lockpin.net.auth` (credentials from URLs and ``~/.netrc``) and
:mod:`~lockpin.net.files` (``file:`` URLs, served from disk so that local
indexes and ``--find-links`` directories behave like remote ones).

Bodies are never trusted further than they are checked: every body is read in
a stream under a size cap (``HttpConfig.max_page_bytes`` for pages,
``max_download_bytes`` for downloads), its length is checked against the
response's ``Content-Length``, and a failure part-way through a body either
restarts the whole download with a fresh buffer (:meth:`Http.download`,
:meth:`Http.sha256_of`, :meth:`Http.get`) or ends the stream with an error
(:meth:`Http.stream`) — a consumer never sees bytes of two attempts. Bodies
are decompressed here, not by ``httpx``, one bounded piece at a time (only
``gzip`` and ``deflate`` are asked for or accepted, one coding per response), so
a small compressed body can never inflate past the cap in memory. Every
``httpx`` error becomes a :class:`~lockpin.errors.NetworkError` naming the
redacted URL.

``HttpConfig.deadline`` (``--deadline``) bounds all of it: no attempt starts
after it, each waits at most what is left of it, a back-off that would end past
it gives up at once, and a body still arriving when it passes is dropped; each
ends in :class:`~lockpin.errors.DeadlineError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import hashlib
import logging
import os
import random
import time
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol, TypeVar

from ..errors import IntegrityError, NetworkError, OfflineError
from .auth import Credentials
from .cache import CacheEntry, DiskCache
from .config import HttpConfig, too_large
from .files import FileReply, get_file, get_file_range, iter_file
from .policy import OffHttpRedirect, check_request
from .policy import check_url as _check_url
from .redact import redact_url, split_auth

if TYPE_CHECKING:
    import ssl
    from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping

    import httpx

# HttpConfig lives in lockpin.net.config; it is re-exported here, where users have
# always imported it from.
__all__ = ["Http", "HttpConfig", "Response"]

log = logging.getLogger(__name__)

_RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
#: statuses whose ``Retry-After`` header is honoured (RFC 9110 15.5.20, RFC 6585)
_RETRY_AFTER_STATUSES = frozenset({429, 503})
CacheMode = Literal["page", "none"]
_Method = Literal["GET", "HEAD", "POST"]

_CHUNK = 1 << 16

#: the only content codings asked for, and the only ones decoded (one per response)
_ACCEPT_ENCODING = "gzip, deflate"
_DECODABLE = frozenset({"gzip", "x-gzip", "deflate"})


@dataclass(frozen=True, slots=True)
class Response:
    url: str
    status: int
    content: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    from_cache: bool = False
    #: identifies the cached body (stable across 304 revalidations); lets callers
    #: keep derived data, such as a parsed page, next to it in the cache
    cache_token: str | None = None

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


def _cache_freshness(meta: Mapping[str, object], *, default_ttl: int) -> float | None:
    """Seconds an entry stays fresh; ``None`` means "revalidate before use"."""
    cc = str(meta.get("cache_control") or "").lower()
    directives = {d.strip().split("=", 1)[0]: d.strip() for d in cc.split(",") if d.strip()}
    if "no-cache" in directives:
        return None
    for name in ("s-maxage", "max-age"):
        if name in directives:
            _, _, value = directives[name].partition("=")
            try:
                return float(value.strip().strip('"'))
            except ValueError:
                return None
    if meta.get("etag") or meta.get("last_modified"):
        # The server offers cheap revalidation but no lifetime: use it.
        return None
    return float(default_ttl)


def _ssl_context() -> ssl.SSLContext:
    """The system's trust store (``SSL_CERT_FILE``/``SSL_CERT_DIR`` honoured), so
    corporate CAs installed on the machine work; certifi's bundle when the system
    has none. Loading certifi's bundle also costs ~0.1 s per run."""
    import ssl

    paths = ssl.get_default_verify_paths()
    has_system = any(p and os.path.exists(p) for p in (paths.cafile, paths.capath))
    if has_system:
        return ssl.create_default_context()
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP-date)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(int(value))
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        return None  # RFC 9110 dates are always GMT; a naive one is malformed
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


def _gave_up(
    url: str, attempts: int, last: str, status: int | None = None, method: str = "GET"
) -> NetworkError:
    detail = f"{method} {redact_url(url)} failed after {attempts} attempt(s): {last}."
    return NetworkError(
        f"{detail} Check the URL and your network or proxy settings, then retry.",
        url=redact_url(url),
        status=status,
        detail=detail,
    )


def _status_error(url: str, status: int) -> NetworkError:
    if status in {401, 403}:
        advice = (
            "The server wants credentials: put them in the index URL "
            "(https://user:token@host/...) or in ~/.netrc ($NETRC)."
        )
    elif status in {404, 410}:
        advice = "It is not there (any more): check the URL; a lock naming it may need re-locking."
    else:
        advice = "Check the URL, or retry later."
    detail = f"GET {redact_url(url)} answered HTTP {status}."
    return NetworkError(f"{detail} {advice}", url=redact_url(url), status=status, detail=detail)


class _Sink(Protocol):
    def update(self, data: bytes, /) -> None: ...


_S = TypeVar("_S", bound=_Sink)


class _Buffer:
    """A sink that keeps the bytes (``hashlib`` objects are the other kind)."""

    def __init__(self) -> None:
        self.data = bytearray()

    def update(self, data: bytes, /) -> None:
        self.data += data


@dataclass(slots=True)
class _Head:
    """Status line and headers of the response a body is being read from."""

    url: str = ""
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)


class _BadEncoding(Exception):
    """A body that does not decode as its ``Content-Encoding`` says."""


def _content_coding(url: str, headers: Mapping[str, str]) -> str:
    """The one content coding of a response (``"identity"`` for none).

    A response listing several codings (``gzip, gzip``: each layer multiplies the
    size) or one lockpin did not ask for is refused before its body is read.
    """
    value = headers.get("content-encoding", "")
    codings = [c.strip().lower() for c in value.split(",")]
    codings = [c for c in codings if c and c != "identity"]
    if len(codings) > 1:
        raise NetworkError(
            f"GET {redact_url(url)}: refusing stacked Content-Encoding {value.strip()!r}; "
            "lockpin decodes at most one coding per response. The server or a proxy is "
            "misconfigured or hostile.",
            url=redact_url(url),
        )
    if not codings:
        return "identity"
    if codings[0] not in _DECODABLE:
        raise NetworkError(
            f"GET {redact_url(url)}: refusing Content-Encoding {value.strip()!r}; lockpin "
            f"asked for {_ACCEPT_ENCODING} only. The server or a proxy is misconfigured "
            "or hostile.",
            url=redact_url(url),
        )
    return codings[0]


class _Inflater:
    """Decodes one ``gzip`` or ``deflate`` body in pieces of at most ``_CHUNK``
    bytes: however much a chunk of input would inflate to, no more than one piece
    is held at a time, so the caller's size cap bounds memory. Concatenated gzip
    members (RFC 1952 2.2) are one body; ``deflate`` is zlib-wrapped, or raw
    deflate from servers that get it wrong (as browsers and ``httpx`` accept)."""

    def __init__(self, coding: str) -> None:
        self._raw_fallback = coding == "deflate"
        self._d = zlib.decompressobj(wbits=47)  # 32 + 15: gzip or zlib header
        self._seen = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        if not data:
            return
        first = not self._seen
        self._seen = True
        try:
            yield from self._inflate(data)
        except zlib.error as exc:
            if not (first and self._raw_fallback):
                raise _BadEncoding(str(exc)) from exc
            self._raw_fallback = False
            self._d = zlib.decompressobj(wbits=-15)
            try:
                yield from self._inflate(data)
            except zlib.error as exc2:
                raise _BadEncoding(str(exc2)) from exc2

    def _inflate(self, data: bytes) -> Iterator[bytes]:
        while True:
            piece = self._d.decompress(data, _CHUNK)
            data = self._d.unconsumed_tail
            if piece:
                self._raw_fallback = False
                yield piece
            if self._d.eof:
                rest = self._d.unused_data
                if not rest:
                    return
                # another gzip member follows (or garbage, which fails to decode)
                self._d = zlib.decompressobj(wbits=47)
                data = rest
                continue
            if not data and len(piece) < _CHUNK:
                return  # all input consumed and no output pending

    def finish(self) -> None:
        """At the end of the body: a compressed stream cut short is refused."""
        if self._seen and not self._d.eof:
            raise _BadEncoding("the compressed stream ends early")


class _Interrupted(Exception):
    """A transient failure after the body had started to arrive."""

    def __init__(self, last: str, received: int) -> None:
        super().__init__(last)
        self.last = last
        self.received = received


class _Attempts:
    """The retry budget of one logical fetch, shared by restarts of its body."""

    def __init__(self, http: Http, url: str, method: str = "GET") -> None:
        self.http = http
        self.url = url
        self.method = method
        self.total = http.config.retries + 1
        self.used = 0

    async def failed(
        self, last: str, *, retry_after: float | None = None, status: int | None = None
    ) -> None:
        """Record a failed attempt; back off before the next, or give up (``status``:
        the HTTP status that failed it, if any, kept on the final error)."""
        self.used += 1
        config = self.http.config
        deadline = config.deadline
        if deadline is not None and deadline.passed():
            # the attempt most likely failed because its timeout was cut to the deadline
            raise deadline.error(self.url, self.used)
        if self.used >= self.total:
            raise _gave_up(self.url, self.total, last, status, self.method)
        delay = config.backoff * (2 ** (self.used - 1)) * (0.5 + random.random())
        if retry_after is not None:
            wanted = retry_after
            if wanted > config.max_retry_after:
                log.warning(
                    "%s asks to retry after %.0fs (Retry-After); waiting %.0fs, the cap",
                    redact_url(self.url),
                    wanted,
                    config.max_retry_after,
                )
                wanted = config.max_retry_after
            else:
                log.info("%s asks to retry after %.0fs (Retry-After)", redact_url(self.url), wanted)
            delay = max(delay, wanted)
        if deadline is not None and delay >= deadline.remaining():
            # a back-off that ends past the deadline leaves no time for the retry
            log.debug("not retrying %s: the deadline comes first (%s)", redact_url(self.url), last)
            raise deadline.error(self.url, self.used)
        log.debug("retrying %s in %.2fs after %s", redact_url(self.url), delay, last)
        await self.http._sleep(delay)


class Http:
    """Async HTTP client shared by every fetch of one lockpin run.

    Use as ``async with Http(config) as http:``. ``transport`` is the test seam
    (``httpx.MockTransport`` for fault cases); production uses the real network.
    ``sleep`` (default :func:`asyncio.sleep`) is awaited for every back-off, so
    tests can see the waits without waiting.
    """

    def __init__(
        self,
        config: HttpConfig | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        on_bytes: Callable[[int], None] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self.config = config or HttpConfig()
        self._transport = transport
        self._sleep: Callable[[float], Awaitable[None]] = sleep or asyncio.sleep
        self._client: httpx.AsyncClient | None = None
        self._cache = DiskCache(self.config.cache_dir) if self.config.cache_dir else None
        self._credentials = Credentials(use_netrc=self.config.use_netrc)
        self._on_bytes = on_bytes
        self.bytes_fetched = 0
        self.requests = 0

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> Http:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    @property
    def cache(self) -> DiskCache | None:
        return self._cache

    def _get_client(self) -> httpx.AsyncClient:
        # httpx (with httpcore, h2 and ssl: ~0.1 s of imports) is loaded only when a
        # request is really made: a warm lock answered from the cache never pays it.
        import httpx

        if self._client is None:
            limits = httpx.Limits(
                max_connections=self.config.max_connections,
                max_keepalive_connections=self.config.max_connections,
            )
            http2 = self.config.http2
            if http2:
                try:
                    import h2  # noqa: F401
                except ImportError:  # pragma: no cover - h2 is a declared dependency
                    http2 = False

            async def _check_each_request(request: httpx.Request) -> None:
                # Redirects included: refuse before a byte goes to a plain-http host,
                # and never follow a redirect off http(s) (to file:, ftp:, ...).
                check_request(str(request.url), self.config)

            self._client = httpx.AsyncClient(
                http2=http2,
                timeout=httpx.Timeout(self.config.timeout, connect=min(10.0, self.config.timeout)),
                limits=limits,
                transport=self._transport,
                follow_redirects=True,
                max_redirects=self.config.max_redirects,
                headers={"User-Agent": self.config.user_agent, "Accept-Encoding": _ACCEPT_ENCODING},
                trust_env=True,
                verify=_ssl_context(),
                event_hooks={"request": [_check_each_request]},
            )
        return self._client

    # -- credentials and policy ------------------------------------------------------------

    def add_credentials(self, url: str) -> str:
        """Remember credentials embedded in an index URL; return the URL without them.

        Files under the same host (a private index serving its own files) get
        the same credentials, as pip does (:class:`~lockpin.net.auth.Credentials`).
        """
        return self._credentials.remember(url)

    def _auth_for(self, url: str) -> tuple[str, httpx.BasicAuth | None]:
        import httpx

        bare, auth = self._credentials.for_url(url)
        return bare, (httpx.BasicAuth(*auth) if auth is not None else None)

    def check_url(self, url: str) -> None:
        """Refuse plain http to non-loopback hosts unless the user allowed the host
        (``HOST``: any port; ``HOST:PORT``: that port only); see
        :func:`lockpin.net.policy.check_url`."""
        _check_url(url, self.config)

    # -- requests --------------------------------------------------------------------------

    def _timeout_within_deadline(self, url: str, attempts: _Attempts) -> httpx.Timeout | None:
        """The timeout of the next attempt at ``url`` when ``config.deadline`` cuts
        the configured one short (``None``: the client's own); past the deadline,
        the error instead."""
        import httpx

        deadline = self.config.deadline
        if deadline is None:
            return None
        left = deadline.remaining()
        if left <= 0:
            raise deadline.error(url, attempts.used)
        if left >= self.config.timeout:
            return None
        return httpx.Timeout(left, connect=min(10.0, left))

    def _count(self, n: int) -> None:
        self.bytes_fetched += n
        if self._on_bytes is not None:
            self._on_bytes(n)

    async def get(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        cache: CacheMode = "none",
        ok_statuses: frozenset[int] = frozenset({200}),
        max_bytes: int | None = None,
        what: str = "a page",
    ) -> Response:
        """GET with retries. Statuses outside ``ok_statuses`` (after retries) are
        returned as-is when they are 4xx so callers can tell 404 from failure.
        ``max_bytes`` (default ``config.max_page_bytes``) caps the body: a registry
        manifest or a token is refused at its small cap, not at a page's; ``what``
        names the body in that error."""
        limit = self.config.max_page_bytes if max_bytes is None else max_bytes
        if url.startswith("file:"):
            return self._file_response(url, get_file(url, limit=limit))
        self.check_url(url)
        key = f"{split_auth(url)[0]}|{(headers or {}).get('Accept', '')}"
        entry: CacheEntry | None = None
        if cache == "page" and self._cache is not None:
            entry = self._cache.get("pages", key)
            if self.config.offline:
                if entry is None:
                    raise OfflineError(redact_url(url))
                return self._from_entry(url, entry, key)
            if entry is not None and not self.config.refresh:
                fresh_for = _cache_freshness(entry.meta, default_ttl=self.config.max_age)
                if fresh_for is not None and time.time() - entry.stored_at < fresh_for:
                    return self._from_entry(url, entry, key)
        elif self.config.offline:
            raise OfflineError(redact_url(url))

        req_headers = dict(headers or {})
        if entry is not None:
            if entry.meta.get("etag"):
                req_headers["If-None-Match"] = str(entry.meta["etag"])
            if entry.meta.get("last_modified"):
                req_headers["If-Modified-Since"] = str(entry.meta["last_modified"])
        resp = await self._fetch_response(url, req_headers, limit=limit, what=what)
        if resp.status == 304 and entry is not None and self._cache is not None:
            self._cache.touch(
                "pages",
                key,
                entry,
                cache_control=resp.headers.get("cache-control", entry.meta.get("cache_control")),
            )
            return self._from_entry(url, entry, key)
        if (
            cache == "page"
            and self._cache is not None
            and resp.status == 200
            and "no-store" not in resp.headers.get("cache-control", "").lower()
        ):
            body_id = f"{time.time():.6f}-{len(resp.content)}"
            resp = Response(
                url=resp.url,
                status=resp.status,
                content=resp.content,
                headers=resp.headers,
                cache_token=f"{key}|{body_id}",
            )
            self._cache.put(
                "pages",
                key,
                resp.content,
                {
                    "body_id": body_id,
                    "url": resp.url,
                    "content_type": resp.headers.get("content-type", ""),
                    "etag": resp.headers.get("etag"),
                    "last_modified": resp.headers.get("last-modified"),
                    "cache_control": resp.headers.get("cache-control"),
                },
            )
        if resp.status not in ok_statuses and resp.status >= 500:
            raise _status_error(url, resp.status)
        return resp

    @staticmethod
    def _from_entry(url: str, entry: CacheEntry, key: str) -> Response:
        body_id = entry.meta.get("body_id")
        return Response(
            url=str(entry.meta.get("url") or url),
            status=200,
            content=entry.body,
            headers={"content-type": str(entry.meta.get("content_type", ""))},
            from_cache=True,
            cache_token=f"{key}|{body_id}" if body_id else None,
        )

    @staticmethod
    def _file_response(url: str, reply: FileReply) -> Response:
        return Response(url=url, status=reply.status, content=reply.content, headers=reply.headers)

    # -- the one request loop ----------------------------------------------------------------

    async def _chunks(
        self,
        url: str,
        headers: Mapping[str, str],
        attempts: _Attempts,
        head: _Head,
        *,
        limit: int,
        what: str,
        require_ok: bool,
        method: _Method = "GET",
        content: bytes | None = None,
    ) -> AsyncIterator[bytes]:
        """The body of ONE response to ``GET url``, in chunks.

        Connection failures and retryable statuses are retried (through
        ``attempts``) as long as no byte has been yielded. After the first byte a
        transient failure raises :class:`_Interrupted`: only the caller knows
        whether it can start over cleanly. ``head`` is filled in before the first
        chunk. Over ``limit`` bytes (declared or received) is an error at once.
        The body is decoded here, one bounded piece at a time (:class:`_Inflater`),
        and decoded bytes count against ``limit`` too; a response with stacked or
        unrequested content codings is refused unread.
        With ``require_ok``, any status but 200/206 is a :class:`NetworkError`.
        A caller's own ``Authorization`` header (a registry's bearer token) wins over
        credentials of the URL or netrc. ``method="HEAD"`` reads no body.
        ``content`` is a request body (``POST``): sent again whole on a retry, and
        never sent on to a redirect's target (the 3xx is answered as it is).
        """
        import httpx

        bare, auth = self._auth_for(url)
        if any(key.lower() == "authorization" for key in headers):
            auth = None
        client = self._get_client()
        while True:
            received = 0
            last = ""
            retry_after: float | None = None
            status: int | None = None
            deadline = self.config.deadline
            timeout = self._timeout_within_deadline(url, attempts)
            try:
                self.requests += 1
                async with client.stream(
                    method,
                    bare,
                    headers=dict(headers),
                    auth=auth or httpx.USE_CLIENT_DEFAULT,
                    content=content,
                    follow_redirects=False if content is not None else httpx.USE_CLIENT_DEFAULT,
                    timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else timeout,
                ) as resp:
                    head.url = str(resp.url)
                    head.status = resp.status_code
                    head.headers = {k.lower(): v for k, v in resp.headers.items()}
                    if resp.status_code in _RETRY_STATUSES:
                        last = f"HTTP {resp.status_code}"
                        status = resp.status_code
                        if resp.status_code in _RETRY_AFTER_STATUSES:
                            retry_after = _retry_after(resp.headers.get("retry-after"))
                    elif require_ok and resp.status_code not in {200, 206}:
                        raise _status_error(url, resp.status_code)
                    else:
                        # A 304 may state the length of the 200 it stands for (RFC 9110 8.6).
                        bodiless = resp.status_code in {204, 304}
                        declared = None if bodiless else _content_length(resp)
                        if method == "HEAD":
                            return
                        if declared is not None and declared > limit:
                            raise too_large(url, limit, what, declared=declared)
                        coding = _content_coding(url, resp.headers)
                        inflater = None if coding == "identity" else _Inflater(coding)
                        # Under a deadline, every network read comes up as it arrives
                        # (at most 64 KiB: httpcore's read size), so the deadline is
                        # checked per read: one byte at a time never trips a timeout.
                        source = resp.aiter_raw(None if deadline is not None else _CHUNK)
                        if resp.is_stream_consumed:
                            # A body the transport built in memory, already decoded
                            # (``httpx.MockTransport``): nothing left to bound.
                            inflater = None
                            source = resp.aiter_bytes(_CHUNK)
                        raw = 0
                        async for data in source:
                            if deadline is not None and deadline.passed():
                                # a body that trickles in never trips a read timeout
                                raise deadline.error(url, attempts.used + 1)
                            raw += len(data)
                            if raw > limit:
                                raise too_large(url, limit, what)
                            pieces = (data,) if inflater is None else inflater.feed(data)
                            for chunk in pieces:
                                received += len(chunk)
                                if received > limit:
                                    raise too_large(url, limit, what)
                                self._count(len(chunk))
                                yield chunk
                        if inflater is not None:
                            inflater.finish()
                        # Content-Length counts the bytes on the wire: before decoding.
                        if declared is not None and raw != declared:
                            raise IntegrityError(
                                f"{redact_url(url)} declared Content-Length {declared} but "
                                f"sent {raw} bytes; lockpin refuses the body. The server or a "
                                "proxy is broken or hostile.",
                                url=redact_url(url),
                                expected=str(declared),
                                actual=str(raw),
                            )
                        return
            except OffHttpRedirect as exc:
                raise NetworkError(
                    f"GET {redact_url(url)} redirected to {redact_url(exc.target)}: refused, "
                    "only http(s) URLs are fetched from a server. The index or a proxy is "
                    "misconfigured or hostile.",
                    url=redact_url(url),
                ) from None
            except httpx.TooManyRedirects as exc:
                raise NetworkError(
                    f"GET {redact_url(url)} was redirected more than "
                    f"{self.config.max_redirects} times (a redirect loop?); fix the URL or "
                    "the server's redirects.",
                    url=redact_url(url),
                ) from exc
            except httpx.UnsupportedProtocol as exc:
                raise NetworkError(
                    f"GET {redact_url(url)}: {_describe(exc)}; only http(s) URLs are fetched.",
                    url=redact_url(url),
                ) from exc
            except (httpx.TransportError, httpx.DecodingError, _BadEncoding) as exc:
                last = _describe(exc)
                if isinstance(exc, (httpx.DecodingError, _BadEncoding)):
                    last = f"the body does not decode as its Content-Encoding header says ({last})"
                if received:
                    raise _Interrupted(last, received) from exc
            except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
                raise NetworkError(
                    f"GET {redact_url(url)} failed: {_describe(exc)}", url=redact_url(url)
                ) from exc
            await attempts.failed(last, retry_after=retry_after, status=status)

    async def _fetch(
        self,
        url: str,
        headers: Mapping[str, str],
        *,
        limit: int,
        what: str,
        sink: Callable[[], _S],
        require_ok: bool = False,
        method: _Method = "GET",
        content: bytes | None = None,
    ) -> tuple[_Head, _S, int]:
        """GET ``url`` into a fresh ``sink()`` per attempt; a failure part-way through
        the body starts over from byte 0 (counted as a retry), so the sink returned
        holds exactly one complete body. Returns the head, the sink and the length.
        With ``config.deadline``, the whole of it (every attempt, back-off and body)
        ends when the deadline passes, however slowly the bytes arrive."""
        attempts = _Attempts(self, url, method)

        async def every_attempt() -> tuple[_Head, _S, int]:
            while True:
                head = _Head()
                target = sink()
                size = 0
                try:
                    async for chunk in self._chunks(
                        url,
                        headers,
                        attempts,
                        head,
                        limit=limit,
                        what=what,
                        require_ok=require_ok,
                        method=method,
                        content=content,
                    ):
                        target.update(chunk)
                        size += len(chunk)
                except _Interrupted as exc:
                    log.debug(
                        "%s broke off after %d bytes; starting over", redact_url(url), exc.received
                    )
                    await attempts.failed(f"{exc.last} after {exc.received} bytes of the body")
                    continue
                return head, target, size

        deadline = self.config.deadline
        if deadline is None:
            return await every_attempt()
        left = deadline.remaining()
        if left <= 0:
            raise deadline.error(url, attempts.used)
        try:
            # A per-read timeout cannot bound a body that trickles in: bound the whole.
            return await asyncio.wait_for(every_attempt(), timeout=left)
        except asyncio.TimeoutError:
            raise deadline.error(url, attempts.used + 1) from None

    async def _fetch_response(
        self,
        url: str,
        headers: Mapping[str, str],
        *,
        limit: int,
        what: str,
        method: _Method = "GET",
        content: bytes | None = None,
    ) -> Response:
        head, body, _size = await self._fetch(
            url, headers, limit=limit, what=what, sink=_Buffer, method=method, content=content
        )
        return Response(
            url=head.url, status=head.status, content=bytes(body.data), headers=head.headers
        )

    async def head(self, url: str, *, headers: Mapping[str, str] | None = None) -> Response:
        """A HEAD request, retried like :meth:`get`; the response has no content.
        Every status is returned as-is (5xx and 429 after the retries raise), so
        callers can tell 404 from 401. Never cached."""
        if self.config.offline:
            raise OfflineError(redact_url(url))
        self.check_url(url)
        return await self._fetch_response(
            url, dict(headers or {}), limit=0, what="a HEAD response", method="HEAD"
        )

    async def post(
        self,
        url: str,
        *,
        form: Mapping[str, str],
        headers: Mapping[str, str] | None = None,
        max_bytes: int | None = None,
    ) -> Response:
        """POST ``form`` (``application/x-www-form-urlencoded``), for OAuth2 token
        endpoints. Retried like :meth:`get` (the body is sent again whole), the
        answer capped like a page; every status is returned as-is (5xx and 429
        after the retries raise; ``max_bytes`` caps the answer, default
        ``config.max_page_bytes``). The body may hold a secret, so it is never
        logged, never cached, never part of an error, and never sent on to a
        redirect's target: a 3xx is returned as it is."""
        from urllib.parse import urlencode

        if self.config.offline:
            raise OfflineError(redact_url(url))
        self.check_url(url)
        req_headers = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        return await self._fetch_response(
            url,
            req_headers,
            limit=self.config.max_page_bytes if max_bytes is None else max_bytes,
            what="a POST response",
            method="POST",
            content=urlencode(list(form.items())).encode("ascii"),
        )

    async def get_range(
        self,
        url: str,
        *,
        start: int | None = None,
        suffix: int | None = None,
        end: int | None = None,
    ) -> Response:
        """A byte-range GET; status 206 when the server honoured it, 200 when not.
        The body is capped like a page (a server ignoring ``Range`` for a huge file
        ends in a :class:`NetworkError`, never in memory exhaustion)."""
        if suffix is not None:
            spec = f"bytes=-{suffix}"
        else:
            spec = f"bytes={start or 0}-{'' if end is None else end}"
        if url.startswith("file:"):
            reply = get_file_range(
                url, start=start, suffix=suffix, end=end, limit=self.config.max_page_bytes
            )
            return self._file_response(url, reply)
        if self.config.offline:
            raise OfflineError(redact_url(url))
        self.check_url(url)
        return await self._fetch_response(
            url,
            {"Range": spec, "Accept-Encoding": "identity"},
            limit=self.config.max_page_bytes,
            what="a range response",
        )

    async def stream(
        self,
        url: str,
        *,
        max_bytes: int | None = None,
        headers: Mapping[str, str] | None = None,
        resume: bool = False,
    ) -> AsyncIterator[bytes]:
        """Yield the body of ``url`` in chunks (at most ``max_bytes``, default
        ``config.max_download_bytes``), sending ``headers`` with the request
        (``Authorization`` among them is dropped by a redirect to another origin).

        Retries happen only before the first byte is yielded: a failure after it
        ends the stream with a :class:`NetworkError`, so a consumer never sees
        bytes of two attempts. With ``resume``, a body that breaks off part-way is
        fetched again instead (each restart counts against the same retries) and
        the bytes already yielded are skipped: the consumer sees every byte once,
        though not all from one response — only for a consumer that checks the
        whole body at the end (a digest, a lock's hash). A body shorter or longer
        than its ``Content-Length`` ends in :class:`IntegrityError` after the last
        chunk. Prefer :meth:`download` or :meth:`sha256_of`: they start over
        cleanly and check sizes and hashes before anything is used.
        """
        limit = self.config.max_download_bytes if max_bytes is None else max_bytes
        if url.startswith("file:"):
            with contextlib.closing(iter_file(url, limit=limit)) as chunks:
                for chunk in chunks:
                    yield chunk
            return
        if self.config.offline:
            raise OfflineError(redact_url(url))
        self.check_url(url)
        attempts = _Attempts(self, url)
        given = 0  # bytes yielded, over every attempt
        while True:
            seen = 0  # bytes of this attempt's body
            try:
                async for chunk in self._chunks(
                    url,
                    dict(headers or {}),
                    attempts,
                    _Head(),
                    limit=limit,
                    what="a download",
                    require_ok=True,
                ):
                    start, seen = seen, seen + len(chunk)
                    if seen <= given:
                        continue  # yielded already, by an earlier attempt
                    piece = chunk[given - start :] if start < given else chunk
                    given += len(piece)
                    yield piece
                return
            except _Interrupted as exc:
                deadline = self.config.deadline
                if deadline is not None and deadline.passed():
                    raise deadline.error(url, attempts.used + 1) from exc
                if not resume:
                    raise NetworkError(
                        f"GET {redact_url(url)} broke off after {exc.received} bytes of the "
                        f"body: {exc.last}. Retry; the partial body was not used.",
                        url=redact_url(url),
                    ) from exc
                log.debug("%s broke off after %d bytes; fetching it again", redact_url(url), given)
                await attempts.failed(f"{exc.last} after {exc.received} bytes of the body")

    async def _whole(
        self,
        url: str,
        sink: Callable[[], _S],
        *,
        size: int | None,
        max_bytes: int | None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[_S, int]:
        """The whole body of ``url`` in one fresh ``sink()``, and its length, checked
        against ``size`` (a declared size over the cap is refused before any request)."""
        limit = self.config.max_download_bytes if max_bytes is None else max_bytes
        if size is not None and size > limit:
            raise too_large(url, limit, "a download", declared=size)
        target, length = await self._whole_unchecked(url, sink, limit=limit, headers=headers)
        _check_size(url, length, size)
        return target, length

    async def _whole_unchecked(
        self,
        url: str,
        sink: Callable[[], _S],
        *,
        limit: int,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[_S, int]:
        if url.startswith("file:"):
            target = sink()
            size = 0
            async for chunk in self.stream(url, max_bytes=limit):
                target.update(chunk)
                size += len(chunk)
            return target, size
        if self.config.offline:
            raise OfflineError(redact_url(url))
        self.check_url(url)
        _head, target, size = await self._fetch(
            url, dict(headers or {}), limit=limit, what="a download", sink=sink, require_ok=True
        )
        return target, size

    async def download(
        self,
        url: str,
        *,
        sha256: str | None = None,
        size: int | None = None,
        max_bytes: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> bytes:
        """The whole body of url. A failure mid-body restarts the download from byte 0
        with a fresh buffer (counted as a retry). The body length is checked against the
        response's Content-Length and against `size`; the sha256 against `sha256` — a
        mismatch raises IntegrityError naming the redacted URL, expected and actual values
        (never retried silently into success, never cached). Over max_bytes (default:
        ``config.max_download_bytes``, 1 GiB) -> NetworkError naming the URL and the
        limit, without reading the rest. ``headers`` go with the request (and its
        retries; ``Authorization`` is dropped by a redirect to another origin)."""
        body, _length = await self._whole(
            url, _Buffer, size=size, max_bytes=max_bytes, headers=headers
        )
        data = bytes(body.data)
        if sha256 is not None:
            actual = hashlib.sha256(data).hexdigest()
            if actual != sha256.lower():
                raise IntegrityError(
                    f"{redact_url(url)} does not match its declared sha256 (expected "
                    f"{sha256.lower()}, got {actual}); lockpin refuses it. The index, a proxy "
                    "or a mirror is serving altered data: report it, or use another index.",
                    url=redact_url(url),
                    expected=sha256.lower(),
                    actual=actual,
                )
        return data

    async def sha256_of(self, url: str, *, size: int | None = None) -> tuple[str, int]:
        """Download ``url`` and return ``(sha256 hex, size)``, hashing as it streams.

        A failure part-way through starts the hash over from byte 0; the length is
        checked against ``Content-Length`` and ``size`` (:class:`IntegrityError`).
        Only a complete, consistent download is remembered (forever, for remote
        URLs; file URLs are re-read as they can change). A remembered digest whose
        size disagrees with ``size`` is not trusted: the file is downloaded again.
        """
        key = split_auth(url)[0]
        remote = not url.startswith("file:")
        if remote and self._cache is not None:
            entry = self._cache.get("sha256", key)
            if entry is not None:
                digest, _, size_text = entry.body.decode(errors="replace").partition(" ")
                well_formed = len(digest) == 64 and set(digest) <= set("0123456789abcdef")
                if well_formed and size_text.isdigit():
                    if size is None or int(size_text) == size:
                        return digest, int(size_text)
                    log.debug(
                        "cached sha256 of %s is for %s bytes, the index says %d; re-downloading",
                        redact_url(url),
                        size_text,
                        size,
                    )
        hasher, length = await self._whole(url, hashlib.sha256, size=size, max_bytes=None)
        digest = hasher.hexdigest()
        if remote and self._cache is not None:
            self._cache.put("sha256", key, f"{digest} {length}".encode())
        return digest, length


def _content_length(resp: httpx.Response) -> int | None:
    value = resp.headers.get("content-length")
    if value is None:
        return None
    value = value.strip()
    if not value.isdigit():
        # h11 and h2 refuse these before we see them; a transport that does not is
        # broken: refuse rather than guess.
        raise IntegrityError(
            f"{redact_url(str(resp.url))} sent an invalid Content-Length {value!r}.",
            url=redact_url(str(resp.url)),
            expected="a byte count",
            actual=value,
        )
    return int(value)


def _check_size(url: str, actual: int, expected: int | None) -> None:
    if expected is not None and actual != expected:
        raise IntegrityError(
            f"{redact_url(url)} is {actual} bytes but its index declares {expected}; lockpin "
            "refuses it. The index, a proxy or a mirror is serving altered or truncated data: "
            "report it, or use another index.",
            url=redact_url(url),
            expected=str(expected),
            actual=str(actual),
        )
