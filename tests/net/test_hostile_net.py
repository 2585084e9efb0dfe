"""The HTTP layer against a hostile or broken server (issue 7, items 3, 4, 7, 8, 9).

Faults go through the real local index server (``override`` with ``raw=`` writers for cut
bodies, lying ``Content-Length``, bad gzip, redirects, ``Retry-After``); ``httpx.MockTransport``
only where a real server cannot express the fault (an httpx exception of a given class, a
transport that does not police ``Content-Length``).
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import logging
import os
import random
import threading
import time
import zlib
from email.utils import formatdate
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from fixtures.index_server import FixtureResponse
from lockpin.errors import IntegrityError, LockpinError, NetworkError
from lockpin.net.cache import STALE_TMP_SECONDS, DiskCache
from lockpin.net.http import Http, HttpConfig
from support import run_cli, sha256_file

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from io import BufferedIOBase
    from pathlib import Path

    from fixtures.index_server import IndexServer

FAST = HttpConfig(backoff=0.0, retries=2, timeout=10.0, use_netrc=False)
BLOB = random.Random(7).randbytes(300_000)
BLOB_SHA = hashlib.sha256(BLOB).hexdigest()
METHODS = ["get", "get_range", "stream", "download", "sha256_of"]


def run(
    config: HttpConfig,
    action: Callable[[Http], Awaitable[Any]],
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    sleeps: list[float] | None = None,
) -> Any:
    async def fake_sleep(seconds: float) -> None:
        if sleeps is not None:
            sleeps.append(seconds)

    async def main() -> Any:
        async with Http(config, transport=transport, sleep=fake_sleep) as http:
            return await action(http)

    return asyncio.run(main())


async def call(http: Http, method: str, url: str) -> object:
    """One of the fetching methods of :class:`Http`, each consuming the whole body."""
    if method == "get":
        return await http.get(url)
    if method == "get_range":
        return await http.get_range(url, suffix=100)
    if method == "stream":
        return b"".join([chunk async for chunk in http.stream(url)])
    if method == "download":
        return await http.download(url)
    return await http.sha256_of(url)


def calling(method: str, url: str) -> Callable[[Http], Awaitable[object]]:
    return lambda http: call(http, method, url)


def raw_response(
    body: bytes,
    *,
    status: str = "200 OK",
    headers: dict[str, str] | None = None,
    send: int | None = None,
    content_length: int | None = -1,
) -> Callable[[BufferedIOBase], None]:
    """A writer for ``FixtureResponse(raw=...)``: ``send`` bytes of ``body`` (all by
    default) after headers declaring ``content_length`` (len(body) by default, None: none)."""

    def write(out: BufferedIOBase) -> None:
        lines = [f"HTTP/1.1 {status}", "Connection: close"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        declared = len(body) if content_length == -1 else content_length
        if declared is not None:
            lines.append(f"Content-Length: {declared}")
        out.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        out.write(body if send is None else body[:send])

    return write


def serve_blob(server: IndexServer, *, cut_first: int = 0, cut_at: int = 100_000) -> str:
    """Serve BLOB at /blob/file.bin; the first ``cut_first`` responses stop after
    ``cut_at`` bytes (the connection closes with the declared length unmet)."""
    remaining = [cut_first]
    lock = threading.Lock()

    def respond(method: str, path: str, headers: dict[str, str]) -> FixtureResponse:
        with lock:
            cut = remaining[0] > 0
            remaining[0] -= 1
        if cut:
            return FixtureResponse(200, raw=raw_response(BLOB, send=cut_at))
        return FixtureResponse(200, BLOB, {"Content-Type": "application/octet-stream"})

    server.override("/blob/", respond)
    return server.url + "/blob/file.bin"


def hits(server: IndexServer, prefix: str) -> int:
    return sum(1 for r in server.requests if r.path.startswith(prefix))


# -- item 4: a body broken off part-way is never glued to the next attempt ---------------------


def test_download_restarts_a_cut_body_from_byte_zero(
    make_index: Callable[..., IndexServer],
) -> None:
    server = make_index(standard=False)
    url = serve_blob(server, cut_first=1)
    data = run(FAST, lambda http: http.download(url, sha256=BLOB_SHA, size=len(BLOB)))
    assert data == BLOB
    assert hits(server, "/blob/") == 2


def test_sha256_of_a_cut_body_is_the_true_digest_and_only_that_is_cached(
    make_index: Callable[..., IndexServer], tmp_path: Path
) -> None:
    server = make_index(standard=False)
    url = serve_blob(server, cut_first=2)
    config = HttpConfig(backoff=0.0, retries=2, cache_dir=tmp_path / "cache")
    assert run(config, lambda http: http.sha256_of(url, size=len(BLOB))) == (BLOB_SHA, len(BLOB))
    assert hits(server, "/blob/") == 3
    entry = DiskCache(tmp_path / "cache").get("sha256", url)
    assert entry is not None
    assert entry.body == f"{BLOB_SHA} {len(BLOB)}".encode()


def test_a_body_cut_on_every_attempt_fails_and_caches_nothing(
    make_index: Callable[..., IndexServer], tmp_path: Path
) -> None:
    server = make_index(standard=False)
    url = serve_blob(server, cut_first=100)
    config = HttpConfig(backoff=0.0, retries=2, cache_dir=tmp_path / "cache")
    with pytest.raises(NetworkError) as info:
        run(config, lambda http: http.sha256_of(url))
    assert "failed after 3 attempt(s)" in str(info.value)
    assert "bytes of the body" in str(info.value)
    assert info.value.url == url
    assert DiskCache(tmp_path / "cache").get("sha256", url) is None


def test_stream_never_yields_bytes_of_two_attempts(
    make_index: Callable[..., IndexServer],
) -> None:
    server = make_index(standard=False)
    url = serve_blob(server, cut_first=1)
    received = bytearray()

    async def consume(http: Http) -> None:
        async for chunk in http.stream(url):
            received.extend(chunk)

    with pytest.raises(NetworkError, match="broke off after"):
        run(FAST, consume)
    assert len(received) <= 100_000
    assert BLOB.startswith(bytes(received))
    assert hits(server, "/blob/") == 1


def test_a_resumed_stream_yields_every_byte_once_across_attempts(
    make_index: Callable[..., IndexServer],
) -> None:
    # cut twice at different points: the consumer sees one whole body, no byte twice
    server = make_index(standard=False)
    url = serve_blob(server, cut_first=2, cut_at=120_000)

    async def consume(http: Http) -> bytes:
        return b"".join([chunk async for chunk in http.stream(url, resume=True)])

    assert run(FAST, consume) == BLOB
    assert hits(server, "/blob/") == 3


def test_a_resumed_stream_cut_on_every_attempt_ends_with_the_attempts(
    make_index: Callable[..., IndexServer],
) -> None:
    server = make_index(standard=False)
    url = serve_blob(server, cut_first=100)
    received = bytearray()

    async def consume(http: Http) -> None:
        async for chunk in http.stream(url, resume=True):
            received.extend(chunk)

    with pytest.raises(NetworkError, match=r"failed after 3 attempt\(s\)"):
        run(FAST, consume)
    assert BLOB.startswith(bytes(received))  # the bytes yielded are the body's, in order
    assert hits(server, "/blob/") == 3


def test_stream_retries_before_the_first_byte(make_index: Callable[..., IndexServer]) -> None:
    server = make_index(standard=False)
    url = serve_blob(server, cut_first=1, cut_at=0)

    async def consume(http: Http) -> bytes:
        return b"".join([chunk async for chunk in http.stream(url)])

    assert run(FAST, consume) == BLOB
    assert hits(server, "/blob/") == 2


def test_cli_hash_of_a_hashless_index_survives_a_cut_download(
    make_index: Callable[..., IndexServer],
    dist_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = make_index()
    filename = "nohash2-1.0-py3-none-any.whl"
    data = (dist_dir / filename).read_bytes()
    cut = [True]

    def respond(method: str, path: str, headers: dict[str, str]) -> FixtureResponse | None:
        if cut[0]:
            cut[0] = False
            return FixtureResponse(200, raw=raw_response(data, send=len(data) // 2))
        return None

    server.override("/files/" + filename, respond)
    req = tmp_path / "requirements.txt"
    req.write_text("nohash2==1.0\n")
    result = run_cli(capsys, "hash", str(req), "-i", server.simple_url, "--no-cache")
    assert result.code == 0, result.err
    assert f"--hash=sha256:{sha256_file(dist_dir / filename)}" in req.read_text()
    assert hits(server, "/files/") == 2


# -- declared sizes and hashes -----------------------------------------------------------------


def test_content_length_larger_than_the_body_is_never_accepted(
    make_index: Callable[..., IndexServer],
) -> None:
    server = make_index(standard=False)
    server.override(
        "/blob/",
        lambda m, p, h: FixtureResponse(200, raw=raw_response(BLOB, content_length=len(BLOB) + 50)),
    )
    with pytest.raises(NetworkError, match=r"failed after 3 attempt\(s\)"):
        run(FAST, lambda http: http.download(server.url + "/blob/x"))
    assert hits(server, "/blob/") == 3


def test_content_length_smaller_than_the_body_fails_the_declared_size(
    make_index: Callable[..., IndexServer],
) -> None:
    server = make_index(standard=False)
    server.override(
        "/blob/",
        lambda m, p, h: FixtureResponse(200, raw=raw_response(BLOB, content_length=len(BLOB) - 7)),
    )
    with pytest.raises(IntegrityError) as info:
        run(FAST, lambda http: http.download(server.url + "/blob/x", size=len(BLOB)))
    assert (info.value.expected, info.value.actual) == (str(len(BLOB)), str(len(BLOB) - 7))
    assert info.value.url == server.url + "/blob/x"
    assert hits(server, "/blob/") == 1  # a mismatch is not retried into success


@pytest.mark.parametrize("method", ["download", "stream", "get"])
def test_a_transport_that_ignores_content_length_is_caught(method: str) -> None:
    # h11 and h2 police Content-Length themselves; any other transport is checked here.
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, content=b"abc", headers={"Content-Length": "10"})

    with pytest.raises(IntegrityError, match="Content-Length 10") as info:
        run(
            FAST,
            lambda http: call(http, method, "https://idx.example/f"),
            transport=httpx.MockTransport(handler),
        )
    assert (info.value.expected, info.value.actual) == ("10", "3")
    assert len(seen) == 1


def test_download_checks_sha256_and_size(make_index: Callable[..., IndexServer]) -> None:
    server = make_index(standard=False)
    url = serve_blob(server)
    wrong = "0" * 64
    with pytest.raises(IntegrityError) as info:
        run(FAST, lambda http: http.download(url, sha256=wrong))
    assert (info.value.expected, info.value.actual) == (wrong, BLOB_SHA)
    assert url in str(info.value)
    with pytest.raises(IntegrityError) as info:
        run(FAST, lambda http: http.download(url, size=len(BLOB) + 1))
    assert (info.value.expected, info.value.actual) == (str(len(BLOB) + 1), str(len(BLOB)))
    assert hits(server, "/blob/") == 2


def test_sha256_of_with_a_wrong_size_is_refused_and_not_cached(
    make_index: Callable[..., IndexServer], dist_dir: Path, tmp_path: Path
) -> None:
    server = make_index()
    filename = "nohash2-1.0-py3-none-any.whl"
    server.swap_bytes(filename, b"altered bytes")
    url = server.file_url(filename)
    true_size = (dist_dir / filename).stat().st_size
    config = HttpConfig(backoff=0.0, retries=0, cache_dir=tmp_path / "cache")
    with pytest.raises(IntegrityError, match="declares") as info:
        run(config, lambda http: http.sha256_of(url, size=true_size))
    assert info.value.actual == str(len(b"altered bytes"))
    assert DiskCache(tmp_path / "cache").get("sha256", url) is None


def test_a_cached_digest_of_another_size_is_not_trusted(
    make_index: Callable[..., IndexServer], tmp_path: Path
) -> None:
    server = make_index(standard=False)
    url = serve_blob(server)
    cache = DiskCache(tmp_path / "cache")
    cache.put("sha256", url, f"{'1' * 64} 5".encode())  # a poisoned entry
    config = HttpConfig(backoff=0.0, retries=0, cache_dir=tmp_path / "cache")
    assert run(config, lambda http: http.sha256_of(url, size=len(BLOB))) == (BLOB_SHA, len(BLOB))
    assert hits(server, "/blob/") == 1


# -- item 3: file: URLs are regular files, within the cap --------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_file_url_to_dev_zero_is_refused(method: str) -> None:
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero")
    with pytest.raises(NetworkError, match=r"/dev/zero .*it is a device") as info:
        run(FAST, lambda http: call(http, method, "file:///dev/zero"))
    assert "regular files" in str(info.value)


@pytest.mark.parametrize("method", ["get", "stream", "download", "sha256_of"])
def test_file_url_to_a_fifo_is_refused_without_blocking(method: str, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.whl"
    os.mkfifo(fifo)
    with pytest.raises(NetworkError, match="it is a FIFO"):
        run(FAST, lambda http: call(http, method, fifo.as_uri()))


@pytest.mark.parametrize("method", ["stream", "download", "sha256_of"])
def test_file_url_to_a_directory_is_refused_for_downloads(method: str, tmp_path: Path) -> None:
    with pytest.raises(NetworkError, match="it is a directory"):
        run(FAST, lambda http: call(http, method, tmp_path.as_uri()))


def test_file_urls_over_the_caps_are_refused(tmp_path: Path) -> None:
    big = tmp_path / "big-1.0.tar.gz"
    big.write_bytes(b"x" * 5000)
    page = tmp_path / "index.html"
    page.write_bytes(b"<a>" * 2000)
    config = HttpConfig(max_page_bytes=4096, max_download_bytes=4096)
    for method in ("stream", "download", "sha256_of"):
        with pytest.raises(NetworkError, match="4 KiB limit for a download") as info:
            run(config, calling(method, big.as_uri()))
        assert str(big) in str(info.value)
    with pytest.raises(NetworkError, match="4 KiB limit for a page"):
        run(config, lambda http: http.get(page.as_uri()))
    with pytest.raises(NetworkError, match="4 KiB limit for a page"):
        run(config, lambda http: http.get(tmp_path.as_uri() + "/"))  # its index.html
    assert run(config, lambda http: http.download(big.as_uri(), max_bytes=5000)) == b"x" * 5000


def test_file_url_ranges_are_read_like_a_server_honouring_range(tmp_path: Path) -> None:
    blob = tmp_path / "x-1.0-py3-none-any.whl"
    blob.write_bytes(BLOB)

    async def ranges(http: Http) -> list[tuple[int, bytes, str]]:
        out = []
        for kwargs in ({"suffix": 100}, {"start": 10, "end": 19}, {"start": len(BLOB)}):
            resp = await http.get_range(blob.as_uri(), **kwargs)
            out.append((resp.status, resp.content, resp.headers.get("content-range", "")))
        return out

    total = len(BLOB)
    assert run(FAST, ranges) == [
        (206, BLOB[-100:], f"bytes {total - 100}-{total - 1}/{total}"),
        (206, BLOB[10:20], f"bytes 10-19/{total}"),
        (416, b"", f"bytes */{total}"),
    ]
    with pytest.raises(NetworkError, match="limit for a range response"):
        run(HttpConfig(max_page_bytes=1000), lambda http: http.get_range(blob.as_uri(), start=0))


# -- item 7: caps on what is held in memory ----------------------------------------------------


def endless_body(written: list[int], *, limit: int = 256 << 20) -> Callable[[BufferedIOBase], None]:
    """A close-delimited 200 response that writes until the client hangs up (or ``limit``)."""

    def write(out: BufferedIOBase) -> None:
        out.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n")
        chunk = b"<a href='x'>x</a>\n" * 3641  # ~64 KiB
        while written[0] < limit:
            out.write(chunk)
            written[0] += len(chunk)

    return write


@pytest.mark.parametrize("method", ["get", "get_range", "download"])
def test_an_endless_body_is_cut_at_the_cap_while_streaming(
    make_index: Callable[..., IndexServer], method: str
) -> None:
    server = make_index(standard=False)
    written = [0]
    server.override(
        "/simple/huge/", lambda m, p, h: FixtureResponse(200, raw=endless_body(written))
    )
    url = server.simple_url + "huge/"
    config = HttpConfig(retries=0, max_page_bytes=1 << 20, max_download_bytes=1 << 20)
    with pytest.raises(NetworkError, match="larger than the 1 MiB limit") as info:
        run(config, lambda http: call(http, method, url))
    assert info.value.url == url
    assert "it sent more" in str(info.value)
    # The client stopped reading at the cap: the server could not push the whole
    # 256 MiB (only what fits in the socket buffers beyond the first MiB).
    assert written[0] < 64 << 20


def test_a_declared_length_over_the_cap_is_refused_unread(
    make_index: Callable[..., IndexServer],
) -> None:
    server = make_index(standard=False)
    body = b"y" * (2 << 20)
    server.override("/simple/big/", lambda m, p, h: FixtureResponse(200, body))
    url = server.simple_url + "big/"
    config = HttpConfig(retries=2, max_page_bytes=1 << 20)
    with pytest.raises(NetworkError, match=r"it declares 2097152 bytes"):
        run(config, lambda http: http.get(url))
    assert hits(server, "/simple/big/") == 1  # not retried
    with pytest.raises(NetworkError, match=r"limit for a download \(it declares 9"):
        run(config, lambda http: http.download(url, size=9 << 30))
    assert hits(server, "/simple/big/") == 1  # a declared size over the cap: no request


# -- item 8: every httpx error is a NetworkError -----------------------------------------------


def test_bad_gzip_body_is_retried_then_a_clear_network_error(
    make_index: Callable[..., IndexServer],
) -> None:
    server = make_index(standard=False)
    server.override(
        "/simple/gz/",
        lambda m, p, h: FixtureResponse(
            200, b"this is not gzip", {"Content-Encoding": "gzip", "Content-Type": "text/html"}
        ),
    )
    url = server.simple_url + "gz/"
    for method in METHODS:
        server.clear_log()
        with pytest.raises(NetworkError) as info:
            run(FAST, calling(method, url))
        assert "does not decode as its Content-Encoding" in str(info.value), method
        assert url in str(info.value)
        assert hits(server, "/simple/gz/") == 3, method


def test_bad_gzip_once_then_good_succeeds(make_index: Callable[..., IndexServer]) -> None:
    server = make_index()
    once = [True]

    def respond(method: str, path: str, headers: dict[str, str]) -> FixtureResponse | None:
        if once[0]:
            once[0] = False
            return FixtureResponse(200, b"\x1f\x8b garbage", {"Content-Encoding": "gzip"})
        return None

    server.override("/simple/alpha/", respond)
    resp = run(FAST, lambda http: http.get(server.simple_url + "alpha/"))
    assert resp.status == 200
    assert b"alpha-1.0" in resp.content


@pytest.mark.parametrize("method", METHODS)
def test_redirect_loop_is_a_network_error_not_retried(
    make_index: Callable[..., IndexServer], method: str
) -> None:
    server = make_index(standard=False)
    server.override("/loop/", lambda m, p, h: FixtureResponse(302, headers={"Location": p}))
    url = server.url + "/loop/x"
    config = HttpConfig(backoff=0.0, retries=3, max_redirects=5)
    with pytest.raises(NetworkError, match=r"redirected more than 5 times") as info:
        run(config, lambda http: call(http, method, url))
    assert info.value.url == url
    assert hits(server, "/loop/") == 6


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://mirror.example/x.whl"])
def test_redirect_off_http_is_refused_after_one_request(
    make_index: Callable[..., IndexServer], method: str, target: str
) -> None:
    server = make_index(standard=False)
    server.override("/away/", lambda m, p, h: FixtureResponse(302, headers={"Location": target}))
    url = server.url + "/away/x"
    with pytest.raises(NetworkError, match=f"GET {url} redirected to .*: refused") as info:
        run(FAST, lambda http: call(http, method, url))
    assert target.partition(":")[0] + "://" in str(info.value)
    assert info.value.url == url
    assert hits(server, "/away/") == 1


TRANSIENT = [
    httpx.ReadError("connection reset"),
    httpx.RemoteProtocolError("peer closed connection"),
    httpx.ReadTimeout("timed out"),
    httpx.ProxyError("proxy said no"),
    httpx.DecodingError("bad brotli"),
]
FINAL = [
    httpx.UnsupportedProtocol("no such protocol"),
    httpx.TooManyRedirects("too many"),
    httpx.InvalidURL("bad url"),
    httpx.StreamClosed(),
    httpx.LocalProtocolError("illegal header"),
]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    ("exc", "retried"),
    [(e, True) for e in TRANSIENT] + [(e, e is FINAL[-1]) for e in FINAL],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else str(v),
)
def test_every_httpx_error_becomes_a_network_error(
    method: str, exc: Exception, retried: bool
) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        raise exc

    url = "https://user:s3cr3t@idx.example/files/a-1.0.tar.gz"
    with pytest.raises(NetworkError) as info:
        run(FAST, lambda http: call(http, method, url), transport=httpx.MockTransport(handler))
    assert not isinstance(info.value, (httpx.HTTPError, httpx.InvalidURL))
    assert "s3cr3t" not in str(info.value)
    assert "https://user:****@idx.example/files/a-1.0.tar.gz" in str(info.value)
    assert type(exc).__name__ in str(info.value) or "redirected" in str(info.value)
    # LocalProtocolError is a TransportError (retried); the others of FINAL are not.
    assert len(seen) == (3 if retried else 1)


@pytest.mark.parametrize("fault", ["gzip", "loop", "file-redirect", "cut"])
def test_cli_reports_hostile_responses_in_one_line(
    make_index: Callable[..., IndexServer],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fault: str,
) -> None:
    server = make_index()
    answers = {
        "gzip": FixtureResponse(200, b"not gzip", {"Content-Encoding": "gzip"}),
        "loop": FixtureResponse(302, headers={"Location": "/simple/alpha/"}),
        "file-redirect": FixtureResponse(302, headers={"Location": "file:///etc/passwd"}),
        "cut": FixtureResponse(200, raw=raw_response(b"<html>" * 100, send=50)),
    }
    server.override("/simple/alpha/", lambda m, p, h: answers[fault])
    req = tmp_path / "requirements.txt"
    req.write_text("alpha==1.0\n")
    before = req.read_text()
    args = ["hash", str(req), "-i", server.simple_url, "--no-cache", "--retries", "1"]
    result = run_cli(capsys, *args)
    assert result.code == 2
    assert result.err.startswith("lockpin: error: ")
    assert result.err.count("\n") == 1, result.err
    assert "Traceback" not in result.err
    assert f"{server.simple_url}alpha/" in result.err
    assert req.read_text() == before


class _BreaksOff(httpx.AsyncByteStream):
    def __init__(self, parts: list[bytes], error: Exception | None) -> None:
        self.parts = parts
        self.error = error

    async def __aiter__(self) -> Any:
        for part in self.parts:
            yield part
        if self.error is not None:
            raise self.error


def breaking_transport(
    body: bytes, failures: int, error: Exception
) -> tuple[httpx.MockTransport, list[int]]:
    """Serves ``body``; the first ``failures`` responses raise ``error`` after half of it."""
    count = [0]

    def handler(request: httpx.Request) -> httpx.Response:
        count[0] += 1
        if count[0] <= failures:
            stream = _BreaksOff([body[: len(body) // 2]], error)
        else:
            stream = _BreaksOff([body[: len(body) // 2], body[len(body) // 2 :]], None)
        return httpx.Response(200, stream=stream)

    return httpx.MockTransport(handler), count


@pytest.mark.parametrize(
    "error", [httpx.ReadError("reset"), httpx.DecodingError("bad gzip"), httpx.ReadTimeout("slow")]
)
def test_mid_body_httpx_errors_restart_downloads_cleanly(error: Exception) -> None:
    transport, count = breaking_transport(BLOB, 2, error)
    url = "https://idx.example/f.whl"
    assert run(FAST, lambda http: http.sha256_of(url), transport=transport) == (
        BLOB_SHA,
        len(BLOB),
    )
    assert count[0] == 3
    transport, count = breaking_transport(BLOB, 1, error)
    assert run(FAST, lambda http: http.download(url, sha256=BLOB_SHA), transport=transport) == BLOB
    transport, count = breaking_transport(BLOB, 1, error)
    with pytest.raises(NetworkError, match=r"broke off after \d+ bytes of the body"):
        run(FAST, lambda http: call(http, "stream", url), transport=transport)
    assert count[0] == 1


# -- item 9: Retry-After -----------------------------------------------------------------------


@pytest.mark.parametrize("status", [503, 429])
def test_retry_after_seconds_is_honoured(
    make_index: Callable[..., IndexServer], status: int
) -> None:
    server = make_index()
    server.fail("/simple/alpha/", status, times=1, retry_after=10)
    sleeps: list[float] = []
    resp = run(FAST, lambda http: http.get(server.simple_url + "alpha/"), sleeps=sleeps)
    assert resp.status == 200
    assert len(sleeps) == 1
    assert sleeps[0] >= 10


def test_retry_after_http_date_is_honoured(make_index: Callable[..., IndexServer]) -> None:
    server = make_index()
    when = formatdate(time.time() + 30, usegmt=True)
    once = [True]

    def respond(method: str, path: str, headers: dict[str, str]) -> FixtureResponse | None:
        if once[0]:
            once[0] = False
            return FixtureResponse(503, b"busy", {"Retry-After": when})
        return None

    server.override("/files/", respond)
    sleeps: list[float] = []
    url = server.file_url("nohash2-1.0-py3-none-any.whl")
    run(FAST, lambda http: http.sha256_of(url), sleeps=sleeps)
    assert len(sleeps) == 1
    assert 20 <= sleeps[0] <= 31  # the date has one-second resolution


def test_retry_after_is_capped_and_logged(
    make_index: Callable[..., IndexServer], caplog: pytest.LogCaptureFixture
) -> None:
    server = make_index()
    server.fail("/simple/alpha/", 429, times=2, retry_after=86400)
    sleeps: list[float] = []
    config = HttpConfig(backoff=0.0, retries=3, max_retry_after=7.0)
    with caplog.at_level(logging.INFO, logger="lockpin.net.http"):
        run(config, lambda http: http.get(server.simple_url + "alpha/"), sleeps=sleeps)
    assert sleeps == [7.0, 7.0]
    assert "asks to retry after 86400s (Retry-After); waiting 7s, the cap" in caplog.text


@pytest.mark.parametrize("value", ["soon", "-5", "Wed, 21 Oct 2015 07:28:00 GMT"])
def test_unusable_or_past_retry_after_falls_back_to_backoff(
    make_index: Callable[..., IndexServer], value: str
) -> None:
    server = make_index()
    once = [True]

    def respond(method: str, path: str, headers: dict[str, str]) -> FixtureResponse | None:
        if once[0]:
            once[0] = False
            return FixtureResponse(503, b"busy", {"Retry-After": value})
        return None

    server.override("/simple/alpha/", respond)
    sleeps: list[float] = []
    config = HttpConfig(backoff=0.5, retries=1)
    assert (
        run(config, lambda http: http.get(server.simple_url + "alpha/"), sleeps=sleeps).status
        == 200
    )
    assert len(sleeps) == 1
    assert 0.25 <= sleeps[0] < 0.75  # the jittered backoff, nothing from the header


def test_retry_after_is_ignored_on_other_statuses(make_index: Callable[..., IndexServer]) -> None:
    server = make_index()
    server.fail("/simple/alpha/", 500, times=1, retry_after=30)
    sleeps: list[float] = []
    config = HttpConfig(backoff=0.0, retries=1)
    run(config, lambda http: http.get(server.simple_url + "alpha/"), sleeps=sleeps)
    assert sleeps == [0.0]


# -- item 9: orphaned temporary files in the cache ---------------------------------------------


@pytest.fixture
def cache_dir_with_orphans(tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    root = tmp_path / "cache"
    DiskCache(root).put("sha256", "https://idx.example/a", b"x")
    (entry,) = [p for p in root.rglob("*") if p.is_file()]
    stale = entry.parent / ".tmp-stale"
    fresh = entry.parent / ".tmp-fresh"
    stale.write_bytes(b"half an entry")
    fresh.write_bytes(b"being written")
    old = time.time() - STALE_TMP_SECONDS - 60
    os.utime(stale, (old, old))
    other = entry.parent / "not-a-tmp"
    other.write_bytes(b"keep")
    os.utime(other, (old, old))
    return root, stale, fresh, other


def test_stale_tmp_files_are_removed_by_the_first_write_of_a_run(
    cache_dir_with_orphans: tuple[Path, Path, Path, Path],
) -> None:
    root, stale, fresh, other = cache_dir_with_orphans
    cache = DiskCache(root)  # a new run
    cache.put("sha256", "https://idx.example/a", b"y")
    assert not stale.exists()
    assert fresh.exists()  # may belong to a writer still at work
    assert other.exists()
    # Once per directory per run: a later stale file waits for the next run.
    stale.write_bytes(b"again")
    old = time.time() - STALE_TMP_SECONDS - 60
    os.utime(stale, (old, old))
    cache.put("sha256", "https://idx.example/a", b"z")
    assert stale.exists()
    assert DiskCache.sweep(stale.parent) == 1
    assert not stale.exists()


def test_sha256_of_sweeps_the_directory_it_writes(
    make_index: Callable[..., IndexServer], tmp_path: Path
) -> None:
    server = make_index(standard=False)
    url = serve_blob(server)
    root = tmp_path / "cache"
    DiskCache(root).put("sha256", url, b"placeholder")
    (entry,) = [p for p in root.rglob("*") if p.is_file()]
    entry.unlink()
    stale = entry.parent / ".tmp-orphan"
    stale.write_bytes(b"")
    old = time.time() - 2 * STALE_TMP_SECONDS
    os.utime(stale, (old, old))
    config = HttpConfig(backoff=0.0, retries=0, cache_dir=root)
    assert run(config, lambda http: http.sha256_of(url))[0] == BLOB_SHA
    assert not stale.exists()
    assert [p.name for p in entry.parent.iterdir()] == [entry.name]


def test_errors_are_lockpin_errors() -> None:
    assert issubclass(IntegrityError, LockpinError)
    assert IntegrityError("x", url="u").exit_code == 2


# -- content codings: nothing inflates past the cap, stacked codings are refused ---------------


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=9, mtime=0)


def encoded(body: bytes, coding: str) -> Callable[[str, str, dict[str, str]], FixtureResponse]:
    return lambda m, p, h: FixtureResponse(
        200, body, {"Content-Encoding": coding, "Content-Type": "text/html"}
    )


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("coding", ["gzip, gzip", "gzip,deflate", "br", "zstd", "compress"])
def test_stacked_or_unrequested_codings_are_refused_unread(
    make_index: Callable[..., IndexServer], method: str, coding: str
) -> None:
    server = make_index(standard=False)
    server.override("/simple/enc/", encoded(gzipped(gzipped(b"<html>" * 1000)), coding))
    url = server.simple_url + "enc/"
    with pytest.raises(NetworkError) as info:
        run(FAST, calling(method, url))
    word = "stacked " if "," in coding else ""
    assert f"refusing {word}Content-Encoding {coding!r}" in str(info.value)
    assert info.value.url == url
    assert hits(server, "/simple/enc/") == 1  # not retried
    # Only codings lockpin bounds itself are asked for.
    sent = server.requests[-1].headers.get("accept-encoding")
    assert sent == ("identity" if method == "get_range" else "gzip, deflate")


@pytest.mark.parametrize("where", ["page"])
def test_cli_refuses_a_stacked_gzip_bomb_in_one_line(
    make_index: Callable[..., IndexServer],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    where: str,
) -> None:
    server = make_index()
    # 4 GiB of spaces under two gzip layers is a few KiB on the wire.
    inner = zlib.compressobj(9, zlib.DEFLATED, 31)
    layer = b"".join(inner.compress(b" " * (1 << 24)) for _ in range(256)) + inner.flush()
    bomb = gzipped(layer)
    assert len(bomb) < 64 << 10
    prefix = "/simple/alpha/" if where == "page" else "/files/"

    def respond(method: str, path: str, headers: dict[str, str]) -> FixtureResponse | None:
        if where == "metadata" and not path.endswith(".metadata"):
            return None
        return encoded(bomb, "gzip, gzip")(method, path, headers)

    server.override(prefix, respond)
    (tmp_path / "requirements.in").write_text("alpha\n")
    result = run_cli(
        capsys,
        "compile",
        str(tmp_path / "requirements.in"),
        "-o",
        "-",
        "-i",
        server.simple_url,
        "--no-cache",
        "--python-version",
        "3.12",
        "--platform",
        "linux/amd64",
    )
    assert result.code == 2, result.err
    assert result.err.startswith("lockpin: error: ")
    assert "Traceback" not in result.err
    assert "refusing stacked Content-Encoding 'gzip, gzip'" in result.err
    bombed = [r.path for r in server.requests if r.path.startswith(prefix)]
    bombed = [p for p in bombed if where == "page" or p.endswith(".metadata")]
    assert len(bombed) == 1, bombed  # refused once, not retried
    assert server.url + bombed[0] in result.err


@pytest.mark.parametrize("method", ["get", "get_range", "stream", "download", "sha256_of"])
def test_a_single_layer_gzip_bomb_stops_at_the_cap(
    make_index: Callable[..., IndexServer], method: str
) -> None:
    server = make_index(standard=False)
    bomb = gzipped(b"\0" * (64 << 20))  # 64 MiB inflating from ~64 KiB
    assert len(bomb) < 1 << 20  # the wire size is under the cap: only decoding can exceed it
    server.override("/simple/bomb/", encoded(bomb, "gzip"))
    url = server.simple_url + "bomb/"
    config = HttpConfig(retries=0, max_page_bytes=1 << 20, max_download_bytes=1 << 20)
    seen: list[int] = []

    async def action(http: Http) -> object:
        http._on_bytes = seen.append
        return await call(http, method, url)

    with pytest.raises(NetworkError, match="larger than the 1 MiB limit") as info:
        run(config, action)
    assert "it sent more" in str(info.value)
    assert info.value.url == url
    # Decoded in bounded pieces: none larger than one chunk, and no more than the cap in all.
    assert seen
    assert max(seen) <= 1 << 16
    assert sum(seen) <= 1 << 20


def test_a_bomb_in_one_small_read_is_still_decoded_in_bounded_pieces() -> None:
    # One raw chunk that inflates to 16 MiB: the decoder hands it out piece by piece.
    from lockpin.net.http import _Inflater

    inflater = _Inflater("gzip")
    pieces = inflater.feed(gzipped(b"\0" * (16 << 20)))
    sizes = [len(next(pieces)) for _ in range(3)]
    assert sizes == [1 << 16] * 3


@pytest.mark.parametrize("form", ["gzip", "x-gzip", "gzip-members", "deflate", "raw-deflate"])
def test_compressed_pages_still_work(make_index: Callable[..., IndexServer], form: str) -> None:
    server = make_index()
    page = run(FAST, lambda http: http.get(server.simple_url + "alpha/"))
    assert b"alpha-1.0" in page.content
    html = page.content * 40  # several decoder pieces
    raw = zlib.compressobj(9, zlib.DEFLATED, -15)
    bodies = {
        "gzip": (gzipped(html), "gzip"),
        "x-gzip": (gzipped(html), "x-gzip"),
        "gzip-members": (gzipped(html[:1000]) + gzipped(html[1000:]), "gzip"),
        "deflate": (zlib.compress(html), "deflate"),
        "raw-deflate": (raw.compress(html) + raw.flush(), "deflate"),
    }
    body, coding = bodies[form]
    server.override("/simple/alpha/", encoded(body, coding))
    for method in METHODS:
        got = run(FAST, calling(method, server.simple_url + "alpha/"))
        if method == "get":
            assert isinstance(got, type(page))
            assert got.content == html, method
        elif method == "get_range":
            continue  # asks for identity; a server that compresses anyway is decoded too
        elif method == "sha256_of":
            assert got == (hashlib.sha256(html).hexdigest(), len(html))
        else:
            assert got == html, method


def test_a_truncated_gzip_body_is_refused(make_index: Callable[..., IndexServer]) -> None:
    server = make_index(standard=False)
    body = gzipped(b"<html>" * 5000)
    server.override("/simple/cut/", encoded(body[: len(body) // 2], "gzip"))
    with pytest.raises(NetworkError, match="does not decode as its Content-Encoding"):
        run(FAST, lambda http: http.get(server.simple_url + "cut/"))
    assert hits(server, "/simple/cut/") == 3
