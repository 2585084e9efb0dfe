"""lockpin.net.http, what the registry client added: request headers on download and
stream, HEAD, a caller's Authorization winning over netrc credentials, Authorization
never following a redirect to another origin, and the HTTP status kept on the error."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import pytest

from fixtures.http_server import LoopbackServer, Response
from lockpin.errors import NetworkError
from lockpin.net.http import Http, HttpConfig

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterator
    from pathlib import Path

FAST = HttpConfig(backoff=0.01, retries=1, timeout=5.0, use_netrc=False)


class Echo(LoopbackServer):
    """``/echo``: the request headers as JSON; ``/to?URL``: a 302 to URL."""

    def _route(self, path: str, query: str, headers: dict[str, str]) -> Response:
        if path == "/echo":
            body = json.dumps(headers, sort_keys=True).encode()
            return Response(200, body, {"Content-Type": "application/json", "X-Seen": "1"})
        if path == "/to":
            return Response(302, b"", {"Location": query})
        return Response(404, b"no\n")


@pytest.fixture
def servers() -> Iterator[tuple[Echo, Echo]]:
    with Echo() as a, Echo() as b:
        yield a, b


def run(body: Callable[[Http], Awaitable[Any]], config: HttpConfig = FAST) -> Any:
    async def go() -> Any:
        async with Http(config) as http:
            return await body(http)

    return asyncio.run(go())


def test_download_and_stream_send_headers(servers: tuple[Echo, Echo]) -> None:
    a, _ = servers
    got = json.loads(run(lambda h: h.download(f"{a.url}/echo", headers={"X-Token": "t1"})))
    assert got["x-token"] == "t1"

    async def stream(h: Http) -> bytes:
        return b"".join([c async for c in h.stream(f"{a.url}/echo", headers={"X-Token": "t2"})])

    assert json.loads(run(stream))["x-token"] == "t2"


def test_head(servers: tuple[Echo, Echo]) -> None:
    a, _ = servers
    resp = run(lambda h: h.head(f"{a.url}/echo", headers={"Accept": "x/y"}))
    assert resp.status == 200
    assert resp.content == b""
    assert resp.headers["x-seen"] == "1"
    assert a.requests[-1].method == "HEAD"
    assert a.requests[-1].headers["accept"] == "x/y"
    missing = run(lambda h: h.head(f"{a.url}/nothing"))
    assert missing.status == 404


def test_authorization_is_not_sent_to_another_origin(servers: tuple[Echo, Echo]) -> None:
    a, b = servers
    url = f"{a.url}/to?{b.url}/echo"
    headers = {"Authorization": "Bearer secret-token", "X-Other": "kept"}
    got = json.loads(run(lambda h: h.download(url, headers=headers)))
    assert "authorization" not in got
    assert got["x-other"] == "kept"
    assert a.requests[-1].headers["authorization"] == "Bearer secret-token"
    # A redirect on the same origin keeps it.
    same = json.loads(run(lambda h: h.download(f"{a.url}/to?{a.url}/echo", headers=headers)))
    assert same["authorization"] == "Bearer secret-token"


def test_a_callers_authorization_wins_over_netrc(
    servers: tuple[Echo, Echo], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, _ = servers
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login u password p\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    config = HttpConfig(backoff=0.01, retries=1, timeout=5.0, use_netrc=True)
    plain = json.loads(run(lambda h: h.download(f"{a.url}/echo"), config))
    assert plain["authorization"].startswith("Basic ")
    mine = {"Authorization": "Bearer t"}
    got = json.loads(run(lambda h: h.download(f"{a.url}/echo", headers=mine), config))
    assert got["authorization"] == "Bearer t"


@pytest.mark.parametrize("status", [429, 503])
def test_the_status_is_kept_on_the_error(servers: tuple[Echo, Echo], status: int) -> None:
    a, _ = servers
    a.fail("/echo", status, times=None, retry_after=0)
    with pytest.raises(NetworkError) as info:
        run(lambda h: h.get(f"{a.url}/echo"))
    assert info.value.status == status
    with pytest.raises(NetworkError) as info:
        run(lambda h: h.download(f"{a.url}/echo"))
    assert info.value.status == status


def test_a_4xx_download_keeps_its_status(servers: tuple[Echo, Echo]) -> None:
    a, _ = servers
    with pytest.raises(NetworkError, match="HTTP 404") as info:
        run(lambda h: h.download(f"{a.url}/nothing"))
    assert info.value.status == 404


# -- POST (OAuth2 token requests) ---------------------------------------------------------------


class Poster(Echo):
    """POST ``/echo``: the body back; POST ``/to?URL``: a 307 to URL (which would
    resend the body); ``/flaky``: 503 once, then the body."""

    def __init__(self) -> None:
        super().__init__()
        self.bodies: list[bytes] = []
        self.flaky = 1

    def _route_post(self, path: str, query: str, headers: dict[str, str], body: bytes) -> Response:
        self.bodies.append(body)
        if path == "/to":
            return Response(307, b"", {"Location": query})
        if path == "/flaky" and self.flaky:
            self.flaky -= 1
            return Response(503, b"busy\n")
        return Response(200, body, {"Content-Type": headers.get("content-type", "")})


def test_post_sends_a_form_retries_and_is_never_cached(tmp_path: Path) -> None:
    config = HttpConfig(
        backoff=0.01, retries=1, timeout=5.0, use_netrc=False, cache_dir=tmp_path / "c"
    )
    with Poster() as server:
        form = {"grant_type": "refresh_token", "refresh_token": "s3cr&t=x"}
        resp = run(lambda h: h.post(f"{server.url}/flaky", form=form), config)
        assert resp.status == 200
        assert resp.content == b"grant_type=refresh_token&refresh_token=s3cr%26t%3Dx"
        assert resp.headers["content-type"] == "application/x-www-form-urlencoded"
        assert server.bodies == [resp.content] * 2  # the 503 was retried, body sent again
        assert [r.method for r in server.requests] == ["POST", "POST"]
    cached = [p for p in (tmp_path / "c").rglob("*") if p.is_file()]
    assert not any(b"s3cr" in p.read_bytes() for p in cached)


def test_post_never_follows_a_redirect(servers: tuple[Echo, Echo]) -> None:
    _, other = servers
    with Poster() as server:
        resp = run(lambda h: h.post(f"{server.url}/to?{other.url}/echo", form={"secret": "x"}))
        assert resp.status == 307
    assert other.requests == []  # the body never went to the redirect's target


def test_post_answers_are_capped_and_errors_name_post() -> None:
    with Poster() as server:
        with pytest.raises(NetworkError, match="larger than"):
            run(lambda h: h.post(f"{server.url}/echo", form={"a": "b" * 100}, max_bytes=10))
        server.fail("/echo", 503, times=None)
        with pytest.raises(NetworkError, match=r"^POST ") as info:
            run(lambda h: h.post(f"{server.url}/echo", form={"refresh_token": "s3cr"}))
        assert "s3cr" not in str(info.value)
