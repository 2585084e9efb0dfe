"""The fault proxy (:mod:`fixtures.fault_proxy`) seen by plain clients (``http.client``,
``urllib``, ``httpx``): what it forwards unchanged (methods, headers, bodies, ``Range``
and ``206``, keep-alive, redirects kept behind it) and each fault kind as a client
observes it, with its counting, matching order, logs and seeded chaos."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import urllib.error
import urllib.request
from typing import TYPE_CHECKING

import httpx
import pytest

from fixtures.fault_proxy import TRANSIENT, FaultProxy
from fixtures.http_server import LoopbackServer, Response, not_found

if TYPE_CHECKING:
    from collections.abc import Iterator

DATA = bytes(range(256)) * 4  # 1024 bytes


class Upstream(LoopbackServer):
    """``/data`` (honours ``Range``), ``/echo`` (the request headers as JSON),
    ``/moved`` (302 to ``/data``), ``POST /post`` (the body back)."""

    def _route(self, path: str, query: str, headers: dict[str, str]) -> Response:
        if path == "/data":
            wanted = headers.get("range", "")
            if wanted.startswith("bytes="):
                first, _, last = wanted.removeprefix("bytes=").partition("-")
                start, end = int(first), int(last) if last else len(DATA) - 1
                return Response(
                    206,
                    DATA[start : end + 1],
                    {"Content-Range": f"bytes {start}-{end}/{len(DATA)}", "X-Kind": "data"},
                )
            return Response(200, DATA, {"Content-Type": "application/octet-stream"})
        if path == "/echo":
            return Response(200, json.dumps(headers).encode(), {"Content-Type": "application/json"})
        if path == "/moved":
            return Response(302, b"", {"Location": f"{self.url}/data"})
        return not_found()

    def _route_post(self, path: str, query: str, headers: dict[str, str], body: bytes) -> Response:
        return Response(201, b"got " + body, {"Content-Type": "text/plain"})


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    with Upstream() as server:
        yield server


@pytest.fixture
def proxy(upstream: Upstream) -> Iterator[FaultProxy]:
    with FaultProxy(upstream.url) as server:
        yield server


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:  # loopback only
            return resp.status, resp.read(), {k.lower(): v for k, v in resp.headers.items()}
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), {k.lower(): v for k, v in exc.headers.items()}


# -- forwarding ---------------------------------------------------------------------------------


def test_forwards_bodies_headers_and_ranges_unchanged(proxy: FaultProxy) -> None:
    assert proxy.url.startswith("http://127.0.0.1:")
    assert not proxy.url.endswith("/")
    status, body, headers = get(proxy.url + "/data")
    assert (status, body) == (200, DATA)
    assert headers["content-type"] == "application/octet-stream"
    assert headers["content-length"] == str(len(DATA))
    status, body, headers = get(proxy.url + "/data", {"Range": "bytes=10-19"})
    assert (status, body) == (206, DATA[10:20])
    assert headers["content-range"] == f"bytes 10-19/{len(DATA)}"
    _, echoed, _ = get(
        proxy.url + "/echo?x=1",
        {"Authorization": "Bearer abc", "Accept": "application/x-thing"},
    )
    seen = json.loads(echoed)
    assert seen["authorization"] == "Bearer abc"
    assert seen["accept"] == "application/x-thing"
    assert get(proxy.url + "/nothing")[0] == 404
    assert proxy.requests[-1] == ("GET", "/nothing")
    assert ("GET", "/echo?x=1") in proxy.requests
    assert proxy.injected == []
    assert proxy.errors == []


def test_head_post_and_keep_alive(proxy: FaultProxy) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", int(proxy.url.rsplit(":", 1)[1]))
    try:
        connection.request("HEAD", "/data")
        head = connection.getresponse()
        assert head.read() == b""
        assert (head.status, head.getheader("Content-Length")) == (200, str(len(DATA)))
        connection.request("POST", "/post", body=b"a=1", headers={"Content-Length": "3"})
        posted = connection.getresponse()
        assert (posted.status, posted.read()) == (201, b"got a=1")
        connection.request("GET", "/data")
        assert connection.getresponse().read() == DATA
        # one connection carried all three
        assert connection.sock is not None
    finally:
        connection.close()
    assert [m for m, _ in proxy.requests] == ["HEAD", "POST", "GET"]


def test_a_redirect_to_the_upstream_stays_behind_the_proxy(proxy: FaultProxy) -> None:
    status, body, _ = get(proxy.url + "/moved")
    assert (status, body) == (200, DATA)
    assert proxy.requests == [("GET", "/moved"), ("GET", "/data")]


def test_only_loopback_upstreams() -> None:
    with pytest.raises(ValueError, match="loopback"):
        FaultProxy("http://example.org")


# -- each fault kind --------------------------------------------------------------------------


def test_status_with_retry_after_and_counting(proxy: FaultProxy) -> None:
    proxy.inject("status", prefix="/data", times=2, status=503)
    proxy.inject("status", prefix="/echo", status=429, retry_after=1)
    assert get(proxy.url + "/data")[0] == 503
    assert get(proxy.url + "/data")[0] == 503
    assert get(proxy.url + "/data")[:2] == (200, DATA)
    status, body, headers = get(proxy.url + "/echo")
    assert (status, headers["retry-after"]) == (429, "1")
    assert body == b"injected failure 429\n"
    assert get(proxy.url + "/echo")[0] == 200  # times=1 by default
    assert proxy.injected == [("status503", "/data")] * 2 + [("status429", "/echo")]


def test_forever_until_clear(proxy: FaultProxy) -> None:
    proxy.inject("status", prefix="/data", times=None, status=500)
    assert [get(proxy.url + "/data")[0] for _ in range(4)] == [500] * 4
    proxy.clear()
    assert get(proxy.url + "/data")[0] == 200


def test_reset_gives_no_answer(proxy: FaultProxy) -> None:
    proxy.inject("reset", prefix="/data")
    with pytest.raises((ConnectionError, http.client.RemoteDisconnected, urllib.error.URLError)):
        get(proxy.url + "/data")
    with httpx.Client() as client:
        proxy.inject("reset", prefix="/data")
        with pytest.raises(httpx.TransportError):
            client.get(proxy.url + "/data")
        assert client.get(proxy.url + "/data").content == DATA
    assert proxy.injected == [("reset", "/data")] * 2


def test_cut_sends_the_full_length_and_part_of_the_body(proxy: FaultProxy) -> None:
    proxy.inject("cut", prefix="/data", keep=100)
    connection = http.client.HTTPConnection("127.0.0.1", int(proxy.url.rsplit(":", 1)[1]))
    try:
        connection.request("GET", "/data")
        resp = connection.getresponse()
        assert resp.getheader("Content-Length") == str(len(DATA))
        with pytest.raises(http.client.IncompleteRead) as info:
            resp.read()
        assert info.value.partial == DATA[:100]
    finally:
        connection.close()
    # the default keeps half
    proxy.inject("cut", prefix="/data")
    got: list[bytes] = []
    with (
        httpx.Client() as client,
        client.stream("GET", proxy.url + "/data") as streamed,
        pytest.raises(httpx.RemoteProtocolError),
    ):
        got.extend(streamed.iter_raw())
    assert b"".join(got) == DATA[:512]


def test_stall_is_a_timeout_for_an_impatient_client(proxy: FaultProxy) -> None:
    proxy.inject("stall", prefix="/data", seconds=5.0)
    with pytest.raises((TimeoutError, socket.timeout, urllib.error.URLError)):
        urllib.request.urlopen(proxy.url + "/data", timeout=0.3)  # loopback only
    assert get(proxy.url + "/data")[:2] == (200, DATA)


def test_content_type_and_tamper(proxy: FaultProxy) -> None:
    proxy.inject("content_type", prefix="/data", value="text/html")
    status, body, headers = get(proxy.url + "/data")
    assert (status, body, headers["content-type"]) == (200, DATA, "text/html")
    proxy.inject(
        "tamper",
        prefix="/data",
        edit=lambda b: b[:10] + b"extra",
        headers={"Content-Type": None, "X-Added": "yes"},
    )
    status, body, headers = get(proxy.url + "/data")
    assert (status, body) == (200, DATA[:10] + b"extra")
    assert headers["content-length"] == "15"
    assert "content-type" not in headers
    assert headers["x-added"] == "yes"
    assert [k for k, _ in proxy.injected] == ["content_type", "tamper"]


def test_an_edit_that_fails_is_recorded(proxy: FaultProxy) -> None:
    proxy.inject("tamper", prefix="/data", edit=lambda b: b.decode().encode())
    with pytest.raises((ConnectionError, http.client.HTTPException, urllib.error.URLError)):
        get(proxy.url + "/data")
    [error] = proxy.errors
    assert error.startswith("GET /data: UnicodeDecodeError(")
    assert get(proxy.url + "/data")[:2] == (200, DATA)


def test_first_injected_first_and_by_method(proxy: FaultProxy) -> None:
    proxy.inject("status", prefix="/", status=502)
    proxy.inject("status", prefix="/data", status=504)
    proxy.inject("status", prefix="/data", status=500, method="HEAD")
    assert get(proxy.url + "/data")[0] == 502
    assert get(proxy.url + "/data")[0] == 504
    assert get(proxy.url + "/data")[0] == 200
    request = urllib.request.Request(proxy.url + "/data", method="HEAD")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=10)  # loopback only
    info.value.close()
    assert info.value.code == 500


def test_unknown_kinds_are_refused(proxy: FaultProxy) -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        proxy.inject("explode")
    with pytest.raises(ValueError, match="value="):
        proxy.inject("content_type")
    with pytest.raises(ValueError, match="chaos draws"):
        proxy.chaos(rate=0.5, kinds=("stall",))


# -- chaos ------------------------------------------------------------------------------------


def _chaos_run(proxy: FaultProxy, seed: int) -> list[tuple[str, str]]:
    proxy.clear_log()
    proxy.chaos(rate=0.5, seed=seed)
    with httpx.Client() as client:
        for _ in range(40):
            with contextlib.suppress(httpx.TransportError):
                client.get(proxy.url + "/data")
    proxy.clear()
    return proxy.injected


def test_chaos_draws_transient_faults_by_seed(proxy: FaultProxy) -> None:
    first = _chaos_run(proxy, 7)
    assert first == _chaos_run(proxy, 7)
    assert first != _chaos_run(proxy, 8)
    assert {kind for kind, _ in first} <= set(TRANSIENT)
    assert 5 < len(first) < 35


def test_chaos_never_more_than_max_in_a_row(proxy: FaultProxy) -> None:
    proxy.chaos(rate=1.0, seed=1, max_in_a_row=2)
    with httpx.Client() as client:
        outcomes = []
        for _ in range(9):
            try:
                outcomes.append(client.get(proxy.url + "/data").status_code)
            except httpx.TransportError:
                outcomes.append(0)
    ok = [i for i, code in enumerate(outcomes) if code == 200]
    assert ok == [2, 5, 8]
    assert len(proxy.injected) == 6
