"""The one HTTP layer: PyPI, private indexes, find-links pages and (later)
Debian mirrors and OCI registries all go through :class:`Http`.

It owns timeouts, retries with backoff, HTTP/2, credentials (in the URL, learnt
from an index URL for the files below it, or ``~/.netrc``), the plain-http
policy, credential redaction in every error, the on-disk cache and byte
counters for progress reporting. ``file://`` URLs are served from disk so that
local indexes and ``--find-links`` directories behave like remote ones.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import unquote, urlsplit

from ..errors import NetworkError, OfflineError, UnsafeURLError
from .cache import CacheEntry, DiskCache
from .redact import redact_url, split_auth

if TYPE_CHECKING:
    import ssl
    from collections.abc import AsyncIterator, Callable, Mapping

    import httpx

__all__ = ["Http", "HttpConfig", "Response", "file_url_path"]

log = logging.getLogger(__name__)

_RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
CacheMode = Literal["page", "none"]


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


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


async def _back_off(config: HttpConfig, attempt: int, url: str, last: str) -> None:
    """Exponential backoff with jitter before retry number ``attempt + 1``."""
    delay = config.backoff * (2**attempt) * (0.5 + random.random())
    log.debug("retrying %s in %.2fs after %s", redact_url(url), delay, last)
    await asyncio.sleep(delay)


def _gave_up(url: str, attempts: int, last: str) -> NetworkError:
    return NetworkError(
        f"GET {redact_url(url)} failed after {attempts} attempt(s): {last}. "
        "Check the URL and your network or proxy settings, then retry.",
        url=redact_url(url),
    )


class Http:
    """Async HTTP client shared by every fetch of one lockpin run.

    Use as ``async with Http(config) as http:``. ``transport`` is the test seam
    (``httpx.MockTransport`` for fault cases); production uses the real network.
    """

    def __init__(
        self,
        config: HttpConfig | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        on_bytes: Callable[[int], None] | None = None,
    ) -> None:
        self.config = config or HttpConfig()
        self._transport = transport
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
                # Redirects included: refuse before a byte goes to a plain-http host.
                self.check_url(str(request.url))

            self._client = httpx.AsyncClient(
                http2=http2,
                timeout=httpx.Timeout(self.config.timeout, connect=min(10.0, self.config.timeout)),
                limits=limits,
                transport=self._transport,
                follow_redirects=True,
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
        resp = await self._request(url, req_headers)
        if resp.status_code == 304 and entry is not None and self._cache is not None:
            self._cache.touch(
                "pages",
                key,
                entry,
                cache_control=resp.headers.get("cache-control", entry.meta.get("cache_control")),
            )
            return self._from_entry(url, entry, key)
        result = Response(
            url=str(resp.url),
            status=resp.status_code,
            content=resp.content,
            headers={k.lower(): v for k, v in resp.headers.items()},
        )
        if (
            cache == "page"
            and self._cache is not None
            and resp.status_code == 200
            and "no-store" not in resp.headers.get("cache-control", "").lower()
        ):
            body_id = f"{time.time():.6f}-{len(resp.content)}"
            result = Response(
                url=result.url,
                status=result.status,
                content=result.content,
                headers=result.headers,
                cache_token=f"{key}|{body_id}",
            )
            self._cache.put(
                "pages",
                key,
                resp.content,
                {
                    "body_id": body_id,
                    "url": result.url,
                    "content_type": resp.headers.get("content-type", ""),
                    "etag": resp.headers.get("etag"),
                    "last_modified": resp.headers.get("last-modified"),
                    "cache_control": resp.headers.get("cache-control"),
                },
            )
        if resp.status_code not in ok_statuses and resp.status_code >= 500:
            raise NetworkError(
                f"GET {redact_url(url)} answered HTTP {resp.status_code}.", url=redact_url(url)
            )
        return result

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
            data = path.read_bytes()
        except FileNotFoundError:
            return Response(url=url, status=404, content=b"")
        except OSError as exc:
            raise NetworkError(f"cannot read {path}: {exc}", url=url) from exc
        ctype = "text/html" if path.suffix in {".html", ".htm"} else ""
        if path.suffix == ".json":
            ctype = "application/vnd.pypi.simple.v1+json"
        return Response(url=url, status=200, content=data, headers={"content-type": ctype})

    async def _request(
        self, url: str, headers: Mapping[str, str], *, method: str = "GET"
    ) -> httpx.Response:
        import httpx

        bare, auth = self._auth_for(url)
        client = self._get_client()
        attempts = self.config.retries + 1
        last = ""
        for attempt in range(attempts):
            try:
                self.requests += 1
                resp = await client.request(
                    method, bare, headers=dict(headers), auth=auth or httpx.USE_CLIENT_DEFAULT
                )
            except httpx.TransportError as exc:
                last = _describe(exc)
            except httpx.InvalidURL as exc:
                raise NetworkError(
                    f"invalid URL {redact_url(url)}: {exc}", url=redact_url(url)
                ) from exc
            else:
                self._count(len(resp.content))
                if resp.url != bare:
                    self.check_url(str(resp.url))
                if resp.status_code not in _RETRY_STATUSES:
                    return resp
                last = f"HTTP {resp.status_code}"
            if attempt + 1 < attempts:
                await _back_off(self.config, attempt, url, last)
        raise _gave_up(url, attempts, last)

    async def get_range(
        self,
        url: str,
        *,
        start: int | None = None,
        suffix: int | None = None,
        end: int | None = None,
    ) -> Response:
        """A byte-range GET; status 206 when the server honoured it, 200 when not."""
        if suffix is not None:
            spec = f"bytes=-{suffix}"
        else:
            spec = f"bytes={start or 0}-{'' if end is None else end}"
        if self.config.offline:
            raise OfflineError(redact_url(url))
        self.check_url(url)
        resp = await self._request(url, {"Range": spec, "Accept-Encoding": "identity"})
        return Response(
            url=str(resp.url),
            status=resp.status_code,
            content=resp.content,
            headers={k.lower(): v for k, v in resp.headers.items()},
        )

    async def stream(self, url: str) -> AsyncIterator[bytes]:
        """Yield the body of ``url`` in chunks (retrying before the first byte only)."""
        import httpx

        if url.startswith("file:"):
            path = file_url_path(url)
            try:
                with path.open("rb") as fh:
                    while chunk := fh.read(1 << 20):
                        yield chunk
            except OSError as exc:
                raise NetworkError(f"cannot read {path}: {exc}", url=url) from exc
            return
        if self.config.offline:
            raise OfflineError(redact_url(url))
        self.check_url(url)
        bare, auth = self._auth_for(url)
        client = self._get_client()
        attempts = self.config.retries + 1
        last = ""
        for attempt in range(attempts):
            try:
                self.requests += 1
                async with client.stream(
                    "GET", bare, auth=auth or httpx.USE_CLIENT_DEFAULT
                ) as resp:
                    if resp.status_code in _RETRY_STATUSES:
                        last = f"HTTP {resp.status_code}"
                    elif resp.status_code != 200:
                        raise NetworkError(
                            f"GET {redact_url(url)} answered HTTP {resp.status_code}.",
                            url=redact_url(url),
                        )
                    else:
                        async for chunk in resp.aiter_bytes(1 << 16):
                            self._count(len(chunk))
                            yield chunk
                        return
            except httpx.TransportError as exc:
                last = _describe(exc)
            if attempt + 1 < attempts:
                await _back_off(self.config, attempt, url, last)
        raise _gave_up(url, attempts, last)

    async def sha256_of(self, url: str) -> tuple[str, int]:
        """Download ``url`` and return ``(sha256 hex, size)``; remembered forever
        in the cache for remote URLs (file URLs are re-read: they can change)."""
        key = split_auth(url)[0]
        remote = not url.startswith("file:")
        if remote and self._cache is not None:
            entry = self._cache.get("sha256", key)
            if entry is not None:
                digest, _, size_text = entry.body.decode().partition(" ")
                if len(digest) == 64 and size_text.isdigit():
                    return digest, int(size_text)
        h = hashlib.sha256()
        size = 0
        async for chunk in self.stream(url):
            h.update(chunk)
            size += len(chunk)
        digest = h.hexdigest()
        if remote and self._cache is not None:
            self._cache.put("sha256", key, f"{digest} {size}".encode())
        return digest, size
