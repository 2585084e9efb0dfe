"""lockpin.net.http: retries, timeouts, refused connections, credentials, the plain-http
policy and redaction in errors — against real local servers (MockTransport only for what a
local server cannot do: a redirect to a non-loopback host)."""

from __future__ import annotations

import asyncio
import base64
import time
from typing import TYPE_CHECKING

import httpx
import pytest

from lockpin.errors import LockpinError, NetworkError, UnsafeURLError
from lockpin.net.http import Http, HttpConfig, Response
from lockpin.python.pages import ACCEPT
from support import closed_port, dir_state, run_cli, run_subprocess, sha256_file

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from fixtures.index_server import IndexServer

SECRET = "s3cr3t-Pa55"
FAST = HttpConfig(backoff=0.01, retries=2, timeout=5.0)


def get(url: str, config: HttpConfig = FAST, **kwargs: object) -> Response:
    async def run() -> Response:
        async with Http(config) as http:
            return await http.get(url, **kwargs)  # type: ignore[arg-type]

    return asyncio.run(run())


def sha256_of(url: str, config: HttpConfig = FAST) -> tuple[str, int]:
    async def run() -> tuple[str, int]:
        async with Http(config) as http:
            return await http.sha256_of(url)

    return asyncio.run(run())


def paths(server: IndexServer, prefix: str = "") -> list[str]:
    return [r.path for r in server.requests if r.path.startswith(prefix)]


# -- plain-http policy -----------------------------------------------------------------------

ALLOWED = [
    "https://pypi.org/simple/",
    "http://127.0.0.1:8080/simple/",
    "http://127.1.2.3/simple/",
    "http://localhost/simple/",
    "http://[::1]:9000/simple/",
    "file:///srv/wheels/",
    "https://user:pw@private.example/simple/",
]
REFUSED = [
    "http://pypi.org/simple/",
    "http://10.0.0.5/simple/",
    "http://user:pw@private.example/simple/",
    "http://localhost.evil.example/simple/",
]


@pytest.mark.parametrize("url", ALLOWED)
def test_check_url_allows(url: str) -> None:
    Http(HttpConfig()).check_url(url)


@pytest.mark.parametrize("url", REFUSED)
def test_check_url_refuses_plain_http_to_other_hosts(url: str) -> None:
    with pytest.raises(UnsafeURLError) as info:
        Http(HttpConfig()).check_url(url)
    message = str(info.value)
    assert "--allow-insecure-host" in message
    assert ":pw@" not in message


def test_allow_insecure_host_is_per_host() -> None:
    http = Http(HttpConfig(allow_insecure_hosts=frozenset({"mirror.internal"})))
    http.check_url("http://mirror.internal/simple/")
    http.check_url("http://mirror.internal:8080/simple/")
    with pytest.raises(UnsafeURLError):
        http.check_url("http://other.internal/simple/")


@pytest.mark.parametrize("url", ["ftp://mirror.example/simple/", "gopher://x/", "mailto:a@b"])
def test_check_url_refuses_other_schemes(url: str) -> None:
    with pytest.raises(NetworkError, match="unsupported URL scheme"):
        Http(HttpConfig()).check_url(url)


def test_refused_url_is_never_requested() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200)

    async def run() -> None:
        async with Http(FAST, transport=httpx.MockTransport(handler)) as http:
            await http.get("http://pypi.example/simple/a/")

    with pytest.raises(UnsafeURLError):
        asyncio.run(run())
    assert seen == []


@pytest.mark.parametrize("what", ["page", "download"])
def test_redirect_to_a_plain_http_host_is_refused_before_it_is_requested(what: str) -> None:
    """An https index (or its file host) redirecting to plain http elsewhere must not be
    followed: the downloaded bytes would be hashed into the lockfile."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if request.url.host == "idx.example":
            return httpx.Response(302, headers={"Location": "http://evil.example/x"})
        return httpx.Response(200, content=b"attacker bytes")

    async def run() -> object:
        async with Http(FAST, transport=httpx.MockTransport(handler)) as http:
            if what == "page":
                return await http.get("https://idx.example/simple/a/")
            return await http.sha256_of("https://idx.example/files/a-1.0.tar.gz")

    with pytest.raises(UnsafeURLError, match=r"http://evil\.example/x"):
        asyncio.run(run())
    assert all("evil.example" not in url for url in seen)


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_cli_allow_insecure_host(
    index_server: IndexServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    how: str,
) -> None:
    # 0.0.0.0 is not a loopback address for the policy, yet Linux connects it locally.
    index = index_server.simple_url.replace("127.0.0.1", "0.0.0.0")
    req = tmp_path / "requirements.txt"
    req.write_text("beta==1.0\n")
    args = ["hash", str(req), "-o", "-", "--no-cache", "-i", index]
    refused = run_cli(capsys, *args)
    assert refused.code == 2
    assert f"refusing plain-http URL {index}beta/" in refused.err
    if how == "flag":
        allowed = run_cli(capsys, *args, "--allow-insecure-host", "0.0.0.0")
    else:
        monkeypatch.setenv("LOCKPIN_ALLOW_INSECURE_HOST", "mirror.internal, 0.0.0.0")
        allowed = run_cli(capsys, *args)
    assert allowed.code == 0, allowed.err
    assert allowed.out.startswith("beta==1.0 \\\n    --hash=sha256:")


def test_cli_refuses_a_plain_http_index(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("alpha==1.0\n")
    result = run_cli(
        capsys, "hash", str(req), "--no-cache", "-i", f"http://user:{SECRET}@pypi.invalid/simple"
    )
    assert result.code == 2
    assert "refusing plain-http URL http://pypi.invalid/simple/alpha/" in result.err
    assert SECRET not in result.both


# -- retries ----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429, 408])
def test_transient_status_is_retried_then_succeeds(
    make_index: Callable[..., IndexServer], status: int
) -> None:
    server = make_index()
    server.fail("/simple/alpha/", status, times=1)
    resp = get(server.simple_url + "alpha/", headers={"Accept": ACCEPT})
    assert resp.status == 200
    assert b"alpha-1.0" in resp.content
    assert paths(server, "/simple/alpha/") == ["/simple/alpha/"] * 2


def test_endless_500_is_a_network_error_naming_the_url(
    make_index: Callable[..., IndexServer],
) -> None:
    server = make_index()
    server.fail("/simple/", 500, times=None)
    url = server.simple_url + "alpha/"
    with pytest.raises(NetworkError) as info:
        get(url, HttpConfig(backoff=0.01, retries=3))
    assert info.value.url == url
    assert url in str(info.value)
    assert "4 attempt(s)" in str(info.value)
    assert "HTTP 500" in str(info.value)
    assert len(paths(server, "/simple/alpha/")) == 4


def test_retries_back_off(make_index: Callable[..., IndexServer]) -> None:
    server = make_index()
    server.fail("/simple/alpha/", 503, times=None)
    started = time.monotonic()
    with pytest.raises(NetworkError):
        get(server.simple_url + "alpha/", HttpConfig(backoff=0.1, retries=2))
    # Two waits: 0.1 s and 0.2 s, each scaled by a jitter factor in [0.5, 1.5).
    assert time.monotonic() - started >= 0.15
    assert len(paths(server, "/simple/alpha/")) == 3


@pytest.mark.parametrize("status", [404, 403, 410])
def test_client_errors_are_returned_without_retrying(
    make_index: Callable[..., IndexServer], status: int
) -> None:
    server = make_index()
    server.fail("/simple/alpha/", status, times=None)
    resp = get(server.simple_url + "alpha/", ok_statuses=frozenset({200, 404}))
    assert resp.status == status
    assert len(paths(server, "/simple/alpha/")) == 1


def test_retries_zero_means_one_attempt(make_index: Callable[..., IndexServer]) -> None:
    server = make_index()
    server.fail("/simple/alpha/", 503, times=1)
    with pytest.raises(NetworkError, match="1 attempt"):
        get(server.simple_url + "alpha/", HttpConfig(retries=0))
    assert len(paths(server, "/simple/alpha/")) == 1


def test_download_is_retried_on_5xx(make_index: Callable[..., IndexServer], dist_dir: Path) -> None:
    server = make_index()
    filename = "nohash-1.0-py3-none-any.whl"
    server.fail("/files/" + filename, 503, times=2)
    digest, size = sha256_of(server.file_url(filename))
    assert digest == sha256_file(dist_dir / filename)
    assert size == (dist_dir / filename).stat().st_size
    assert len(paths(server, "/files/")) == 3


def test_download_endless_5xx_and_404_are_network_errors(
    make_index: Callable[..., IndexServer],
) -> None:
    server = make_index()
    failing = server.file_url("nohash-1.0-py3-none-any.whl")
    server.fail("/files/nohash-", 500, times=None)
    with pytest.raises(NetworkError, match="failed after 3 attempt"):
        sha256_of(failing)
    missing = server.file_url("nothere-1.0-py3-none-any.whl")
    with pytest.raises(NetworkError, match="HTTP 404") as info:
        sha256_of(missing)
    assert info.value.url == missing
    assert paths(server, "/files/nothere") == ["/files/nothere-1.0-py3-none-any.whl"]


def test_connection_refused_is_a_clear_network_error() -> None:
    url = f"http://127.0.0.1:{closed_port()}/simple/alpha/"
    with pytest.raises(NetworkError) as info:
        get(url)
    message = str(info.value)
    assert url in message
    assert "ConnectError" in message
    assert "3 attempt(s)" in message


def test_timeout_is_retried_then_reported(make_index: Callable[..., IndexServer]) -> None:
    server = make_index()
    server.slow("/simple/alpha/", 3.0)
    url = server.simple_url + "alpha/"
    with pytest.raises(NetworkError) as info:
        get(url, HttpConfig(timeout=0.2, retries=1, backoff=0.01))
    assert "Timeout" in str(info.value)
    assert url in str(info.value)
    assert len(paths(server, "/simple/alpha/")) == 2
    # Other paths are not slow: the same client settings work there.
    assert get(server.simple_url + "beta/", HttpConfig(timeout=2.0, retries=0)).status == 200


def test_redirects_are_followed(index_server: IndexServer) -> None:
    resp = get(index_server.simple_url + "moved/", headers={"Accept": ACCEPT})
    assert resp.status == 200
    assert resp.url == index_server.url + "/elsewhere/moved/"
    resp = get(index_server.simple_url + "Foo.Bar_baz/", headers={"Accept": ACCEPT})
    assert resp.url == index_server.simple_url + "foo-bar-baz/"


def test_user_agent_and_byte_counter(index_server: IndexServer) -> None:
    counted: list[int] = []

    async def run() -> tuple[Response, int]:
        cfg = HttpConfig(user_agent="lockpin/test-ua")
        async with Http(cfg, on_bytes=counted.append) as http:
            resp = await http.get(index_server.simple_url + "beta/")
            return resp, http.bytes_fetched

    index_server.clear_log()
    resp, fetched = asyncio.run(run())
    assert fetched == len(resp.content) == sum(counted)
    assert index_server.requests[-1].headers["user-agent"] == "lockpin/test-ua"


def test_file_urls_are_read_from_disk(dist_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("<a href='x-1.0.tar.gz'>x</a>")
    resp = get((tmp_path / "site").as_uri() + "/")
    assert resp.status == 200
    assert resp.content_type == "text/html"
    assert get((tmp_path / "nothing.html").as_uri()).status == 404
    assert get(tmp_path.as_uri() + "/").status == 404  # a directory without index.html
    wheel = dist_dir / "alpha-1.0-py3-none-any.whl"
    assert sha256_of(wheel.as_uri()) == (sha256_file(wheel), wheel.stat().st_size)


# -- credentials --------------------------------------------------------------------------------


def auth_header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def private(make_index: Callable[..., IndexServer]) -> IndexServer:
    return make_index(auth=("user", SECRET))


def test_credentials_in_the_url_are_sent_as_basic_auth(private: IndexServer) -> None:
    url = private.simple_url.replace("://", f"://user:{SECRET}@") + "alpha/"
    resp = get(url, HttpConfig(use_netrc=False))
    assert resp.status == 200
    assert SECRET not in resp.url
    assert private.requests[-1].headers["authorization"] == auth_header("user", SECRET)


def test_index_credentials_apply_to_files_on_the_same_host(
    private: IndexServer, dist_dir: Path
) -> None:
    async def run() -> tuple[str, int]:
        async with Http(HttpConfig(use_netrc=False)) as http:
            bare = http.add_credentials(private.simple_url.replace("://", f"://user:{SECRET}@"))
            assert bare == private.simple_url
            return await http.sha256_of(private.file_url("nohash-1.0-py3-none-any.whl"))

    digest, _ = asyncio.run(run())
    assert digest == sha256_file(dist_dir / "nohash-1.0-py3-none-any.whl")


def test_netrc_credentials(
    private: IndexServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.1\n  login user\n  password {SECRET}\n")
    monkeypatch.setenv("NETRC", str(netrc))
    assert get(private.simple_url + "alpha/").status == 200
    assert private.requests[-1].headers["authorization"] == auth_header("user", SECRET)
    # use_netrc=False: the same request is unauthenticated.
    assert get(private.simple_url + "alpha/", HttpConfig(use_netrc=False)).status == 401


def test_unreadable_netrc_is_ignored_with_a_warning(
    private: IndexServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("this is not a netrc file\n")
    monkeypatch.setenv("NETRC", str(netrc))
    assert get(private.simple_url + "alpha/").status == 401
    assert "ignoring unreadable netrc" in caplog.text


def test_without_credentials_the_server_says_401(
    private: IndexServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NETRC", str(tmp_path / "no-such-netrc"))
    assert get(private.simple_url + "alpha/").status == 401


def test_errors_never_contain_the_password(make_index: Callable[..., IndexServer]) -> None:
    server = make_index(auth=("user", SECRET))
    server.fail("/simple/", 500, times=None)
    url = server.simple_url.replace("://", f"://user:{SECRET}@") + "alpha/"
    with pytest.raises(NetworkError) as info:
        get(url, HttpConfig(backoff=0.01, retries=1))
    assert SECRET not in str(info.value)
    assert SECRET not in info.value.url
    assert "user:****@127.0.0.1" in str(info.value)
    refused = f"http://user:{SECRET}@127.0.0.1:{closed_port()}/simple/"
    with pytest.raises(NetworkError) as info:
        get(refused, HttpConfig(backoff=0.01, retries=0))
    assert SECRET not in str(info.value)


# -- the same failures through the CLI: exit 2, one clear line, no traceback -------------------


def hash_args(req: Path, index: str, *extra: str) -> list[str]:
    return ["hash", str(req), "--no-cache", "--index-url", index, "--retries", "1", *extra]


@pytest.fixture
def req(tmp_path: Path) -> Path:
    path = tmp_path / "requirements.txt"
    path.write_text("alpha==1.0\n")
    return path


def test_cli_endless_500_exits_2_naming_the_url(
    make_index: Callable[..., IndexServer], req: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = make_index()
    server.fail("/simple/alpha/", 500, times=None)
    before = dir_state(req.parent)
    result = run_cli(capsys, *hash_args(req, server.simple_url))
    assert result.code == 2
    assert result.err.startswith("lockpin: error: ")
    assert f"GET {server.simple_url}alpha/ failed after 2 attempt(s): HTTP 500" in result.err
    assert result.out == ""
    assert dir_state(req.parent) == before


def test_cli_500_once_then_success(
    make_index: Callable[..., IndexServer], req: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = make_index()
    server.fail("/simple/alpha/", 500, times=1)
    result = run_cli(capsys, *hash_args(req, server.simple_url))
    assert result.code == 0, result.err
    assert "--hash=sha256:" in req.read_text()


def test_cli_connection_refused(req: Path, capsys: pytest.CaptureFixture[str]) -> None:
    index = f"http://127.0.0.1:{closed_port()}/simple/"
    result = run_cli(capsys, *hash_args(req, index, "--retries", "0"))
    assert result.code == 2
    assert f"{index}alpha/" in result.err
    assert "ConnectError" in result.err


def test_cli_timeout(
    make_index: Callable[..., IndexServer], req: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = make_index()
    server.slow("/simple/alpha/", 3.0)
    result = run_cli(capsys, *hash_args(req, server.simple_url, "--timeout", "0.2"))
    assert result.code == 2
    assert "Timeout" in result.err
    assert f"{server.simple_url}alpha/" in result.err


def test_subprocess_network_failure_has_no_traceback(
    make_index: Callable[..., IndexServer], req: Path
) -> None:
    server = make_index(auth=("user", SECRET))
    server.fail("/simple/alpha/", 503, times=None)
    index = server.simple_url.replace("://", f"://user:{SECRET}@")
    result = run_subprocess(*hash_args(req, index, "--retries", "0"))
    assert result.code == 2
    assert "Traceback" not in result.err
    assert result.err.count("\n") == 1, result.err
    assert f"GET {server.simple_url}alpha/ failed" in result.err
    assert "HTTP 503" in result.err
    assert SECRET not in result.both


def test_lockpin_errors_all_have_exit_codes() -> None:
    assert NetworkError("x", url="u").exit_code == 2
    assert issubclass(UnsafeURLError, LockpinError)
