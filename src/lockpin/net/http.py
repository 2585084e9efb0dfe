"""The one HTTP layer: PyPI, private indexes, find-links pages and (later)
Debian mirrors and OCI registries all go through :class:`Http`.

It owns timeouts, retries with backoff, HTTP/2, credentials (in the URL, learnt
from an index URL for the files below it, or ``~/.netrc``), the plain-http
policy, credential redaction in every error, the on-disk cache and byte
counters for progress reporting. ``file://`` URLs are served from disk so that
local indexes and ``--find-links`` directories behave like remote ones (regular
files only).

Bodies are never trusted further than they are checked: every body is read in
a stream under a size cap (pages: :data:`DEFAULT_MAX_PAGE_BYTES`, downloads:
:data:`DEFAULT_MAX_DOWNLOAD_BYTES`), its length is checked against the
response's ``Content-Length``, and a failure part-way through a body either
restarts the whole download with a fresh buffer (:meth:`Http.download`,
:meth:`Http.sha256_of`, :meth:`Http.get`) or ends the stream with an error
(:meth:`Http.stream`) — a consumer never sees bytes of two attempts. Every
``httpx`` error becomes a :class:`~lockpin.errors.NetworkError` naming the
redacted URL.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import ipaddress
import logging
import os
import random
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, TypeVar
from urllib.parse import unquote, urlsplit

from ..errors import IntegrityError, NetworkError, OfflineError, UnsafeURLError
from .cache import CacheEntry, DiskCache
from .redact import redact_url, split_auth

if TYPE_CHECKING:
    import ssl
    from collections.abc import AsyncIterator, Awaitable, Callable, Mapping

    import httpx

__all__ = [
    "DEFAULT_MAX_DOWNLOAD_BYTES",
    "DEFAULT_MAX_PAGE_BYTES",
    "DEFAULT_MAX_RETRY_AFTER",
    "Http",
    "HttpConfig",
    "Response",
    "file_url_path",
]

log = logging.getLogger(__name__)

_RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
#: statuses whose ``Retry-After`` header is honoured (RFC 9110 15.5.20, RFC 6585)
_RETRY_AFTER_STATUSES = frozenset({429, 503})
CacheMode = Literal["page", "none"]

#: Largest index page (or range response) read into memory: PyPI's biggest
#: project pages are a few MiB; 64 MiB leaves room and still bounds a hostile one.
DEFAULT_MAX_PAGE_BYTES = 64 << 20
#: Largest file downloaded (to hash it or read its metadata).
DEFAULT_MAX_DOWNLOAD_BYTES = 1 << 30
#: Longest wait a ``Retry-After`` header may impose, in seconds.
DEFAULT_MAX_RETRY_AFTER = 60.0
_CHUNK = 1 << 16


@dataclass(frozen=True, slots=True)
class HttpConfig:
    """Every knob of the HTTP layer; the CLI maps its flags onto this."""

    timeout: float = 30.0
    retries: int = 3
    backoff: float = 0.4
    max_connections: int = 32
    http2: bool = True
    allow_insecure_hosts: frozenset[str] = frozenset()
    cache_dir: Path | None = None
    offline: bool = False
    refresh: bool = False
    max_age: int = 600
    use_netrc: bool = True
    user_agent: str = "lockpin"
    #: cap on a page, ``.metadata`` file or range response held in memory
    max_page_bytes: int = DEFAULT_MAX_PAGE_BYTES
    #: cap on a downloaded file (:meth:`Http.download`, :meth:`Http.sha256_of`)
    max_download_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES
    #: cap on the wait a server's ``Retry-After`` may ask for
    max_retry_after: float = DEFAULT_MAX_RETRY_AFTER
    max_redirects: int = 20


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


def _is_loopback(host: str) -> bool:
    if host in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


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


def file_url_path(url: str) -> Path:
    """The local path of a ``file:`` URL (urllib.request is imported only here)."""
    from urllib.request import url2pathname

    return Path(url2pathname(unquote(urlsplit(url).path)))


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


def _size_text(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    return f"{n} bytes"


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


def _too_large(url: str, limit: int, what: str, *, declared: int | None = None) -> NetworkError:
    seen = f"it declares {declared} bytes" if declared is not None else "it sent more"
    return NetworkError(
        f"{redact_url(url)} is larger than the {_size_text(limit)} limit for {what} ({seen}); "
        "lockpin stopped reading it. The source may be broken or hostile; if the file is "
        "genuine, raise the limit (HttpConfig.max_page_bytes / max_download_bytes).",
        url=redact_url(url),
    )


def _gave_up(url: str, attempts: int, last: str) -> NetworkError:
    return NetworkError(
        f"GET {redact_url(url)} failed after {attempts} attempt(s): {last}. "
        "Check the URL and your network or proxy settings, then retry.",
        url=redact_url(url),
    )


def _status_error(url: str, status: int) -> NetworkError:
    return NetworkError(f"GET {redact_url(url)} answered HTTP {status}.", url=redact_url(url))


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


class _Interrupted(Exception):
    """A transient failure after the body had started to arrive."""

    def __init__(self, last: str, received: int) -> None:
        super().__init__(last)
        self.last = last
        self.received = received


class _OffHttp(Exception):
    """A redirect led off http(s); raised by the request hook, reported by the caller."""

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.target = target


class _Attempts:
    """The retry budget of one logical fetch, shared by restarts of its body."""

    def __init__(self, http: Http, url: str) -> None:
        self.http = http
        self.url = url
        self.total = http.config.retries + 1
        self.used = 0

    async def failed(self, last: str, *, retry_after: float | None = None) -> None:
        """Record a failed attempt; back off before the next, or give up."""
        self.used += 1
        if self.used >= self.total:
            raise _gave_up(self.url, self.total, last)
        config = self.http.config
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
        log.debug("retrying %s in %.2fs after %s", redact_url(self.url), delay, last)
        await self.http._sleep(delay)


def _open_regular(path: Path, url: str) -> int:
    """A read-only descriptor of ``path`` if it is a regular file, else a clear error.

    ``O_NONBLOCK`` makes opening a FIFO return at once (instead of waiting for a
    writer), and the type is checked on the open descriptor, so nothing can be
    swapped in between the check and the read.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        os.close(fd)
        raise
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = (
            "a directory"
            if stat.S_ISDIR(mode)
            else "a FIFO"
            if stat.S_ISFIFO(mode)
            else "a device"
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "a socket"
            if stat.S_ISSOCK(mode)
            else "not a regular file"
        )
        raise NetworkError(
            f"refusing to read {path} ({redact_url(url)}): it is {kind}. lockpin reads only "
            "regular files from file: URLs; point the index or --find-links at a directory "
            "of distribution files.",
            url=redact_url(url),
        )
    return fd


def _read_file(path: Path, url: str, *, limit: int, what: str) -> bytes:
    fd = _open_regular(path, url)
    with os.fdopen(fd, "rb") as fh:
        declared = os.fstat(fh.fileno()).st_size
        if declared > limit:
            raise _too_large(url, limit, what, declared=declared)
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise _too_large(url, limit, what)
    return data


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
        self._credentials: dict[str, tuple[str, str]] = {}
        self._netrc: object | None = None
        self._netrc_loaded = False
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
                url = str(request.url)
                if request.url.scheme not in {"http", "https"}:
                    raise _OffHttp(url)
                self.check_url(url)

            self._client = httpx.AsyncClient(
                http2=http2,
                timeout=httpx.Timeout(self.config.timeout, connect=min(10.0, self.config.timeout)),
                limits=limits,
                transport=self._transport,
                follow_redirects=True,
                max_redirects=self.config.max_redirects,
                headers={"User-Agent": self.config.user_agent},
                trust_env=True,
                verify=_ssl_context(),
                event_hooks={"request": [_check_each_request]},
            )
        return self._client

    # -- credentials and policy ------------------------------------------------------------

    def add_credentials(self, url: str) -> str:
        """Remember credentials embedded in an index URL; return the URL without them.

        Files under the same host (a private index serving its own files) get
        the same credentials, as pip does.
        """
        bare, auth = split_auth(url)
        if auth is not None:
            host = urlsplit(bare).netloc
            self._credentials.setdefault(host, auth)
        return bare

    def _auth_for(self, url: str) -> tuple[str, httpx.BasicAuth | None]:
        import httpx

        bare, auth = split_auth(url)
        host = urlsplit(bare).netloc
        if auth is None:
            auth = self._credentials.get(host)
        if auth is None and self.config.use_netrc:
            auth = self._netrc_auth(urlsplit(bare).hostname or "")
        return bare, (httpx.BasicAuth(*auth) if auth is not None else None)

    def _netrc_auth(self, host: str) -> tuple[str, str] | None:
        if not self._netrc_loaded:
            self._netrc_loaded = True
            import netrc
            import os

            path = os.environ.get("NETRC") or str(Path.home() / ".netrc")
            try:
                self._netrc = netrc.netrc(path)
            except (OSError, netrc.NetrcParseError) as exc:
                if Path(path).exists():
                    log.warning("ignoring unreadable netrc file %s: %s", path, exc)
                self._netrc = None
        if self._netrc is None or not host:
            return None
        import netrc

        assert isinstance(self._netrc, netrc.netrc)
        found = self._netrc.authenticators(host)
        if found is None:
            return None
        login, _account, password = found
        return (login or "", password or "")

    def check_url(self, url: str) -> None:
        """Refuse plain http to non-loopback hosts unless the user allowed the host."""
        parts = urlsplit(url)
        if parts.scheme == "http":
            host = parts.hostname or ""
            if not _is_loopback(host) and host not in self.config.allow_insecure_hosts:
                raise UnsafeURLError(redact_url(url))
        elif parts.scheme not in {"https", "file"}:
            raise NetworkError(
                f"unsupported URL scheme in {redact_url(url)}: use https:// (or file://).",
                url=redact_url(url),
            )

    # -- requests --------------------------------------------------------------------------

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
    ) -> Response:
        """GET with retries. Statuses outside ``ok_statuses`` (after retries) are
        returned as-is when they are 4xx so callers can tell 404 from failure."""
        if url.startswith("file:"):
            return self._get_file(url)
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
        resp = await self._fetch_response(
            url, req_headers, limit=self.config.max_page_bytes, what="a page"
        )
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

    def _get_file(self, url: str) -> Response:
        path = file_url_path(url)
        if path.is_dir():
            index = path / "index.html"
            if index.is_file():
                path = index
            else:
                return Response(url=url, status=404, content=b"")
        try:
            data = _read_file(path, url, limit=self.config.max_page_bytes, what="a page")
        except FileNotFoundError:
            return Response(url=url, status=404, content=b"")
        except OSError as exc:
            raise NetworkError(f"cannot read {path}: {exc}", url=redact_url(url)) from exc
        ctype = "text/html" if path.suffix in {".html", ".htm"} else ""
        if path.suffix == ".json":
            ctype = "application/vnd.pypi.simple.v1+json"
        return Response(url=url, status=200, content=data, headers={"content-type": ctype})

    def _file_range(
        self, url: str, *, start: int | None, suffix: int | None, end: int | None
    ) -> Response:
        """A range of a regular file, answered as a server honouring ``Range`` would."""
        path = file_url_path(url)
        try:
            fd = _open_regular(path, url)
        except FileNotFoundError:
            return Response(url=url, status=404, content=b"")
        except OSError as exc:
            raise NetworkError(f"cannot read {path}: {exc}", url=redact_url(url)) from exc
        with os.fdopen(fd, "rb") as fh:
            total = os.fstat(fh.fileno()).st_size
            if suffix is not None:
                first, last = max(0, total - suffix), total - 1
            else:
                first, last = start or 0, total - 1 if end is None else min(end, total - 1)
            if first > last:
                return Response(
                    url=url, status=416, content=b"", headers={"content-range": f"bytes */{total}"}
                )
            limit = self.config.max_page_bytes
            if last - first + 1 > limit:
                raise _too_large(url, limit, "a range response", declared=last - first + 1)
            fh.seek(first)
            data = fh.read(last - first + 1)
        return Response(
            url=url,
            status=206,
            content=data,
            headers={"content-range": f"bytes {first}-{first + len(data) - 1}/{total}"},
        )

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
    ) -> AsyncIterator[bytes]:
        """The body of ONE response to ``GET url``, in chunks.

        Connection failures and retryable statuses are retried (through
        ``attempts``) as long as no byte has been yielded. After the first byte a
        transient failure raises :class:`_Interrupted`: only the caller knows
        whether it can start over cleanly. ``head`` is filled in before the first
        chunk. Over ``limit`` bytes (declared or received) is an error at once.
        With ``require_ok``, any status but 200/206 is a :class:`NetworkError`.
        """
        import httpx

        bare, auth = self._auth_for(url)
        client = self._get_client()
        while True:
            received = 0
            last = ""
            retry_after: float | None = None
            try:
                self.requests += 1
                async with client.stream(
                    "GET", bare, headers=dict(headers), auth=auth or httpx.USE_CLIENT_DEFAULT
                ) as resp:
                    head.url = str(resp.url)
                    head.status = resp.status_code
                    head.headers = {k.lower(): v for k, v in resp.headers.items()}
                    if resp.status_code in _RETRY_STATUSES:
                        last = f"HTTP {resp.status_code}"
                        if resp.status_code in _RETRY_AFTER_STATUSES:
                            retry_after = _retry_after(resp.headers.get("retry-after"))
                    elif require_ok and resp.status_code not in {200, 206}:
                        raise _status_error(url, resp.status_code)
                    else:
                        # A 304 may state the length of the 200 it stands for (RFC 9110 8.6).
                        bodiless = resp.status_code in {204, 304}
                        declared = None if bodiless else _content_length(resp)
                        if declared is not None and declared > limit:
                            raise _too_large(url, limit, what, declared=declared)
                        async for chunk in resp.aiter_bytes(_CHUNK):
                            received += len(chunk)
                            if received > limit:
                                raise _too_large(url, limit, what)
                            self._count(len(chunk))
                            yield chunk
                        # Content-Length counts the bytes on the wire: before decoding.
                        encoded = resp.headers.get("content-encoding", "identity").strip()
                        raw = received if encoded in {"", "identity"} else resp.num_bytes_downloaded
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
            except _OffHttp as exc:
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
            except (httpx.TransportError, httpx.DecodingError) as exc:
                last = _describe(exc)
                if isinstance(exc, httpx.DecodingError):
                    last = f"the body does not decode as its Content-Encoding header says ({last})"
                if received:
                    raise _Interrupted(last, received) from exc
            except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
                raise NetworkError(
                    f"GET {redact_url(url)} failed: {_describe(exc)}", url=redact_url(url)
                ) from exc
            await attempts.failed(last, retry_after=retry_after)

    async def _fetch(
        self,
        url: str,
        headers: Mapping[str, str],
        *,
        limit: int,
        what: str,
        sink: Callable[[], _S],
        require_ok: bool = False,
    ) -> tuple[_Head, _S, int]:
        """GET ``url`` into a fresh ``sink()`` per attempt; a failure part-way through
        the body starts over from byte 0 (counted as a retry), so the sink returned
        holds exactly one complete body. Returns the head, the sink and the length."""
        attempts = _Attempts(self, url)
        while True:
            head = _Head()
            target = sink()
            size = 0
            try:
                async for chunk in self._chunks(
                    url, headers, attempts, head, limit=limit, what=what, require_ok=require_ok
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

    async def _fetch_response(
        self, url: str, headers: Mapping[str, str], *, limit: int, what: str
    ) -> Response:
        head, body, _size = await self._fetch(url, headers, limit=limit, what=what, sink=_Buffer)
        return Response(
            url=head.url, status=head.status, content=bytes(body.data), headers=head.headers
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
            return self._file_range(url, start=start, suffix=suffix, end=end)
        if self.config.offline:
            raise OfflineError(redact_url(url))
        self.check_url(url)
        return await self._fetch_response(
            url,
            {"Range": spec, "Accept-Encoding": "identity"},
            limit=self.config.max_page_bytes,
            what="a range response",
        )

    async def stream(self, url: str, *, max_bytes: int | None = None) -> AsyncIterator[bytes]:
        """Yield the body of ``url`` in chunks (at most ``max_bytes``, default
        ``config.max_download_bytes``).

        Retries happen only before the first byte is yielded: a failure after it
        ends the stream with a :class:`NetworkError`, so a consumer never sees
        bytes of two attempts. A body shorter or longer than its
        ``Content-Length`` ends in :class:`IntegrityError` after the last chunk.
        Prefer :meth:`download` or :meth:`sha256_of`: they start over cleanly
        and check sizes and hashes before anything is used.
        """
        limit = self.config.max_download_bytes if max_bytes is None else max_bytes
        if url.startswith("file:"):
            path = file_url_path(url)
            try:
                fd = _open_regular(path, url)
                with os.fdopen(fd, "rb") as fh:
                    declared = os.fstat(fh.fileno()).st_size
                    if declared > limit:
                        raise _too_large(url, limit, "a download", declared=declared)
                    received = 0
                    while chunk := fh.read(1 << 20):
                        received += len(chunk)
                        if received > limit:
                            raise _too_large(url, limit, "a download")
                        yield chunk
            except OSError as exc:
                raise NetworkError(f"cannot read {path}: {exc}", url=redact_url(url)) from exc
            return
        if self.config.offline:
            raise OfflineError(redact_url(url))
        self.check_url(url)
        attempts = _Attempts(self, url)
        try:
            async for chunk in self._chunks(
                url, {}, attempts, _Head(), limit=limit, what="a download", require_ok=True
            ):
                yield chunk
        except _Interrupted as exc:
            raise NetworkError(
                f"GET {redact_url(url)} broke off after {exc.received} bytes of the body: "
                f"{exc.last}. Retry; the partial body was not used.",
                url=redact_url(url),
            ) from exc

    async def _whole(
        self, url: str, sink: Callable[[], _S], *, size: int | None, max_bytes: int | None
    ) -> tuple[_S, int]:
        """The whole body of ``url`` in one fresh ``sink()``, and its length, checked
        against ``size`` (a declared size over the cap is refused before any request)."""
        limit = self.config.max_download_bytes if max_bytes is None else max_bytes
        if size is not None and size > limit:
            raise _too_large(url, limit, "a download", declared=size)
        target, length = await self._whole_unchecked(url, sink, limit=limit)
        _check_size(url, length, size)
        return target, length

    async def _whole_unchecked(
        self, url: str, sink: Callable[[], _S], *, limit: int
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
            url, {}, limit=limit, what="a download", sink=sink, require_ok=True
        )
        return target, size

    async def download(
        self,
        url: str,
        *,
        sha256: str | None = None,
        size: int | None = None,
        max_bytes: int | None = None,
    ) -> bytes:
        """The whole body of url. A failure mid-body restarts the download from byte 0
        with a fresh buffer (counted as a retry). The body length is checked against the
        response's Content-Length and against `size`; the sha256 against `sha256` — a
        mismatch raises IntegrityError naming the redacted URL, expected and actual values
        (never retried silently into success, never cached). Over max_bytes (default:
        ``config.max_download_bytes``, 1 GiB) -> NetworkError naming the URL and the
        limit, without reading the rest."""
        body, _length = await self._whole(url, _Buffer, size=size, max_bytes=max_bytes)
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
