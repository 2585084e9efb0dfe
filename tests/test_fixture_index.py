"""The local index fixture behaves like a real index: checked with plain httpx and real pip."""

from __future__ import annotations

import asyncio
import base64
import email.parser
import hashlib
import io
import json
import sys
import tarfile
import zipfile
from html.parser import HTMLParser
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from packaging.utils import canonicalize_name
from pyproject_hooks import BuildBackendHookCaller, quiet_subprocess_runner

from fixtures.dists import build_sdist, build_wheel, dist_name
from fixtures.index_server import HTML_TYPE, JSON_TYPE

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from fixtures.index_server import IndexServer
    from support import PipEnv

PIP_ACCEPT = f"{JSON_TYPE}, {HTML_TYPE}; q=0.1, text/html; q=0.01"


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.anchors.append(dict(attrs))


def anchors(page: str) -> dict[str, dict[str, str | None]]:
    """Attributes of a page's anchors, keyed by the last segment of their href's path."""
    parser = _Anchors()
    parser.feed(page)
    return {
        urlsplit(a["href"] or "").path.rstrip("/").rsplit("/", 1)[-1]: a for a in parser.anchors
    }


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def get_json(client: httpx.Client, url: str) -> dict[str, object]:
    response = client.get(url, headers={"Accept": JSON_TYPE})
    assert response.status_code == 200
    assert response.headers["content-type"] == JSON_TYPE
    data: dict[str, object] = response.json()
    return data


def files_by_name(page: dict[str, object]) -> dict[str, dict[str, object]]:
    files = page["files"]
    assert isinstance(files, list)
    return {f["filename"]: f for f in files}


# -- distributions -------------------------------------------------------------


def test_wheel_is_deterministic_and_its_record_is_correct(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    wheel = build_wheel(first, "Foo.Bar_baz", "0.1", requires=["alpha>=1"], extras={"x": ["b"]})
    again = build_wheel(second, "Foo.Bar_baz", "0.1", requires=["alpha>=1"], extras={"x": ["b"]})
    assert wheel.name == "foo_bar_baz-0.1-py3-none-any.whl"
    assert wheel.read_bytes() == again.read_bytes()

    with zipfile.ZipFile(wheel) as archive:
        record = archive.read("foo_bar_baz-0.1.dist-info/RECORD").decode().splitlines()
        for line in record:
            path, digest, size = line.rsplit(",", 2)
            if path.endswith("/RECORD"):
                assert digest == size == ""
                continue
            data = archive.read(path)
            expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            assert digest == "sha256=" + expected.decode()
            assert int(size) == len(data)
        assert sorted(line.split(",")[0] for line in record) == sorted(archive.namelist())
        metadata = email.parser.Parser().parsestr(
            archive.read("foo_bar_baz-0.1.dist-info/METADATA").decode()
        )
    assert metadata["Name"] == "Foo.Bar_baz"
    assert metadata.get_all("Requires-Dist") == ["alpha>=1", 'b; extra == "x"']
    assert metadata.get_all("Provides-Extra") == ["x"]


def test_sdist_is_deterministic(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = build_sdist(tmp_path / "a", "Foo.Bar_baz", "0.1", requires=["alpha"])
    second = build_sdist(tmp_path / "b", "Foo.Bar_baz", "0.1", requires=["alpha"])
    assert first.name == "foo_bar_baz-0.1.tar.gz"
    assert first.read_bytes() == second.read_bytes()


def test_tinybackend_prepares_metadata_the_sdist_keeps_dynamic(tmp_path: Path) -> None:
    sdist = build_sdist(
        tmp_path,
        "dyn",
        "1.0",
        requires=["beta>=1.0"],
        extras={"fast": ["alpha"]},
        dynamic=["Requires-Dist", "Provides-Extra"],
        static_pyproject=False,
    )
    with tarfile.open(sdist) as archive:
        # filter= exists from 3.10.12/3.11.4 on; newer Pythons warn without it.
        if hasattr(tarfile, "data_filter"):
            archive.extractall(tmp_path, filter="data")
        else:
            archive.extractall(tmp_path)
    source = tmp_path / "dyn-1.0"
    pkg_info = email.parser.Parser().parsestr((source / "PKG-INFO").read_text())
    assert pkg_info.get_all("Dynamic") == ["Requires-Dist", "Provides-Extra"]
    assert pkg_info.get_all("Requires-Dist") is None
    assert 'dynamic = ["dependencies", "optional-dependencies"]' in (
        (source / "pyproject.toml").read_text()
    )

    hooks = BuildBackendHookCaller(
        str(source), "tinybackend", backend_path=["."], runner=quiet_subprocess_runner
    )
    assert hooks.get_requires_for_build_wheel() == []
    out = tmp_path / "out"
    out.mkdir()
    dist_info = hooks.prepare_metadata_for_build_wheel(str(out))
    built = email.parser.Parser().parsestr((out / dist_info / "METADATA").read_text())
    assert built.get_all("Requires-Dist") == ["beta>=1.0", 'alpha; extra == "fast"']

    wheel = hooks.build_wheel(str(out))
    assert wheel == "dyn-1.0-py3-none-any.whl"
    with zipfile.ZipFile(out / wheel) as archive:
        assert "dyn/__init__.py" in archive.namelist()
        assert archive.read(f"{dist_info}/METADATA") == (out / dist_info / "METADATA").read_bytes()


# -- pages ---------------------------------------------------------------------


def test_json_page_lists_files_with_pep_700_fields(
    index_server: IndexServer, dist_dir: Path, client: httpx.Client
) -> None:
    page = get_json(client, index_server.simple_url + "alpha/")
    assert page["meta"] == {"api-version": "1.1"}
    assert page["name"] == "alpha"
    assert page["versions"] == ["1.0", "1.1", "2.0"]
    files = files_by_name(page)
    assert set(files) == {p.name for p in dist_dir.glob("alpha-*")}

    wheel = files["alpha-1.1-py3-none-any.whl"]
    data = (dist_dir / "alpha-1.1-py3-none-any.whl").read_bytes()
    assert wheel["url"] == index_server.url + "/files/alpha-1.1-py3-none-any.whl"
    assert wheel["hashes"] == {"sha256": hashlib.sha256(data).hexdigest()}
    assert wheel["size"] == len(data)
    assert wheel["upload-time"] == "2024-06-01T00:00:00.000000Z"
    assert wheel["requires-python"] == ">=3.8"
    assert wheel["yanked"] is False
    assert files["alpha-2.0-py3-none-any.whl"]["yanked"] == "broken"
    assert files["alpha-2.0-py3-none-any.whl"]["requires-python"] is None

    metadata = client.get(str(wheel["url"]) + ".metadata")
    assert metadata.status_code == 200
    assert wheel["core-metadata"] == {"sha256": hashlib.sha256(metadata.content).hexdigest()}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert metadata.content == archive.read("alpha-1.1.dist-info/METADATA")
    assert "core-metadata" not in files["alpha-1.1.tar.gz"]


def test_html_page_has_relative_urls_that_resolve_to_the_files(
    index_server: IndexServer, dist_dir: Path, client: httpx.Client
) -> None:
    page_url = index_server.simple_url + "alpha/"
    response = client.get(page_url, headers={"Accept": "text/html"})
    assert response.headers["content-type"].startswith("text/html")
    links = anchors(response.text)
    assert set(links) == {p.name for p in dist_dir.glob("alpha-*")}

    link = links["alpha-1.0-py3-none-any.whl"]
    href = link["href"] or ""
    assert href.startswith("../../files/")
    url, _, fragment = urljoin(page_url, href).partition("#")
    content = client.get(url).content
    assert fragment == "sha256=" + hashlib.sha256(content).hexdigest()
    assert link["data-requires-python"] == ">=3.8"
    meta = client.get(url + ".metadata").content
    assert link["data-core-metadata"] == "sha256=" + hashlib.sha256(meta).hexdigest()
    assert link["data-dist-info-metadata"] == link["data-core-metadata"]
    assert links["alpha-2.0-py3-none-any.whl"]["data-yanked"] == "broken"
    assert "data-yanked" not in link


@pytest.mark.parametrize(
    ("accept", "query", "expected"),
    [
        (PIP_ACCEPT, "", JSON_TYPE),
        (JSON_TYPE, "", JSON_TYPE),
        ("application/vnd.pypi.simple.latest+json", "", JSON_TYPE),
        (f"{JSON_TYPE}; q=0.5, text/html", "", "text/html; charset=utf-8"),
        (f"{JSON_TYPE}, {HTML_TYPE}", "", JSON_TYPE),  # equal q: JSON wins
        (f"{HTML_TYPE}, {JSON_TYPE}; q=0.9", "", HTML_TYPE),
        ("*/*", "", "text/html; charset=utf-8"),
        ("", "", "text/html; charset=utf-8"),
        ("text/html", "?format=json", JSON_TYPE),
        (JSON_TYPE, f"?format={HTML_TYPE}", "text/html; charset=utf-8"),
    ],
)
def test_content_negotiation(
    index_server: IndexServer, client: httpx.Client, accept: str, query: str, expected: str
) -> None:
    response = client.get(index_server.simple_url + "beta/" + query, headers={"Accept": accept})
    assert response.status_code == 200
    assert response.headers["content-type"] == expected
    assert response.headers["vary"] == "Accept"
    if expected == JSON_TYPE:
        assert response.json()["name"] == "beta"
    else:
        assert "beta-1.0-py3-none-any.whl" in anchors(response.text)


def test_html_only_server_ignores_accept(
    html_index_server: IndexServer, client: httpx.Client
) -> None:
    url = html_index_server.simple_url + "alpha/?format=json"
    response = client.get(url, headers={"Accept": JSON_TYPE})
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "alpha-1.1-py3-none-any.whl" in anchors(response.text)


def test_root_listing_in_both_formats(index_server: IndexServer, client: httpx.Client) -> None:
    page = get_json(client, index_server.simple_url)
    projects = page["projects"]
    assert isinstance(projects, list)
    names = {p["name"] for p in projects}
    assert {"alpha", "Foo.Bar_baz", "dynsdist", "platwheel", "nometa"} <= names
    links = anchors(client.get(index_server.simple_url).text)
    assert links["foo-bar-baz"]["href"] == "foo-bar-baz/"
    assert set(links) == {canonicalize_name(name) for name in names}


def test_find_links_page_lists_every_file_without_hashes(
    index_server: IndexServer, dist_dir: Path, client: httpx.Client
) -> None:
    response = client.get(index_server.links_url)
    links = anchors(response.text)
    assert set(links) == {p.name for p in dist_dir.iterdir()}
    href = links["beta-1.0-py3-none-any.whl"]["href"] or ""
    assert "#" not in href
    assert client.get(urljoin(index_server.links_url, href)).status_code == 200


def test_hash_modes(index_server: IndexServer, dist_dir: Path, client: httpx.Client) -> None:
    md5_file = files_by_name(get_json(client, index_server.simple_url + "nohash/"))
    data = (dist_dir / "nohash-1.0-py3-none-any.whl").read_bytes()
    assert md5_file["nohash-1.0-py3-none-any.whl"]["hashes"] == {
        "md5": hashlib.md5(data).hexdigest()
    }
    no_hash = files_by_name(get_json(client, index_server.simple_url + "nohash2/"))
    assert no_hash["nohash2-1.0-py3-none-any.whl"]["hashes"] == {}
    html_page = client.get(index_server.simple_url + "nohash2/").text
    assert "#" not in (anchors(html_page)["nohash2-1.0-py3-none-any.whl"]["href"] or "")


@pytest.mark.parametrize(
    ("project", "advertised", "served"),
    [("beta", True, True), ("hidden", False, True), ("nometa", False, False)],
)
def test_metadata_modes(
    index_server: IndexServer, client: httpx.Client, project: str, advertised: bool, served: bool
) -> None:
    filename = f"{project}-1.0-py3-none-any.whl"
    entry = files_by_name(get_json(client, index_server.simple_url + project + "/"))[filename]
    assert ("core-metadata" in entry) is advertised
    assert ("dist-info-metadata" in entry) is advertised
    link = anchors(client.get(index_server.simple_url + project + "/").text)[filename]
    assert ("data-core-metadata" in link) is advertised
    response = client.get(index_server.file_url(filename) + ".metadata")
    assert response.status_code == (200 if served else 404)
    if served:
        assert response.content.startswith(b"Metadata-Version: 2.1\nName: " + project.encode())


def test_platform_wheels_and_sdist_are_listed(
    index_server: IndexServer, client: httpx.Client
) -> None:
    files = files_by_name(get_json(client, index_server.simple_url + "platwheel/"))
    assert sorted(files) == [
        "platwheel-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "platwheel-1.0-cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
        "platwheel-1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "platwheel-1.0-cp312-cp312-win_amd64.whl",
        "platwheel-1.0.tar.gz",
    ]


# -- redirects and errors -----------------------------------------------------


def test_non_normalized_name_redirects_permanently(
    index_server: IndexServer, client: httpx.Client
) -> None:
    response = client.get(index_server.simple_url + "Foo.Bar_baz/")
    assert response.status_code == 301
    assert response.headers["location"] == "/simple/foo-bar-baz/"
    page = get_json(client, index_server.simple_url + "foo-bar-baz/")
    assert page["name"] == "foo-bar-baz"
    assert set(files_by_name(page)) == {
        "foo_bar_baz-0.1-py3-none-any.whl",
        "foo_bar_baz-0.1.tar.gz",
    }
    metadata = client.get(index_server.file_url("foo_bar_baz-0.1-py3-none-any.whl") + ".metadata")
    assert b"\nName: Foo.Bar_baz\n" in metadata.content


def test_moved_project_page_is_found_through_a_redirect(
    index_server: IndexServer, client: httpx.Client
) -> None:
    response = client.get(index_server.simple_url + "moved/", follow_redirects=True)
    assert [r.status_code for r in response.history] == [302]
    assert response.url.path == "/elsewhere/moved/"
    href = anchors(response.text)["moved-1.0-py3-none-any.whl"]["href"] or ""
    assert client.get(urljoin(str(response.url), href)).status_code == 200


@pytest.mark.parametrize("path", ["/simple/no-such-project/", "/files/nope.whl", "/other"])
def test_unknown_paths_are_404(index_server: IndexServer, client: httpx.Client, path: str) -> None:
    assert client.get(index_server.url + path).status_code == 404


# -- files and ranges ------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "start", "stop"),
    [("bytes=10-19", 10, 20), ("bytes=-22", -22, None), ("bytes=100-", 100, None)],
)
def test_range_requests_return_exact_bytes(
    index_server: IndexServer,
    dist_dir: Path,
    client: httpx.Client,
    header: str,
    start: int,
    stop: int | None,
) -> None:
    filename = "nometa-1.0-py3-none-any.whl"
    data = (dist_dir / filename).read_bytes()
    response = client.get(index_server.file_url(filename), headers={"Range": header})
    assert response.status_code == 206
    assert response.content == data[start:stop]
    first = start % len(data)
    assert response.headers["content-range"] == (
        f"bytes {first}-{first + len(response.content) - 1}/{len(data)}"
    )
    assert response.headers["accept-ranges"] == "bytes"


def test_unsatisfiable_range_is_416(index_server: IndexServer, client: httpx.Client) -> None:
    url = index_server.file_url("beta-1.0-py3-none-any.whl")
    response = client.get(url, headers={"Range": "bytes=100000-"})
    assert response.status_code == 416
    assert response.headers["content-range"].startswith("bytes */")


def test_server_without_range_support_sends_everything(
    make_index: Callable[..., IndexServer], dist_dir: Path, client: httpx.Client
) -> None:
    server = make_index(ranges=False)
    filename = "nometa-1.0-py3-none-any.whl"
    response = client.get(server.file_url(filename), headers={"Range": "bytes=-22"})
    assert response.status_code == 200
    assert response.content == (dist_dir / filename).read_bytes()
    assert "accept-ranges" not in response.headers
    assert server.requests[-1].headers["range"] == "bytes=-22"


def test_head_reports_length_without_body(index_server: IndexServer, dist_dir: Path) -> None:
    filename = "beta-1.0-py3-none-any.whl"
    with httpx.Client() as client:
        response = client.head(index_server.file_url(filename))
        assert response.status_code == 200
        assert int(response.headers["content-length"]) == (dist_dir / filename).stat().st_size
        assert response.content == b""
        # The connection is still usable afterwards (keep-alive, no stray body).
        assert client.get(index_server.file_url(filename)).status_code == 200


# -- faults, caching, auth, log --------------------------------------------------


def test_fail_n_times_then_succeed(
    make_index: Callable[..., IndexServer], client: httpx.Client
) -> None:
    server = make_index()
    server.fail("/simple/alpha/", status=503, times=2, retry_after=1)
    url = server.simple_url + "alpha/"
    first, second, third = (client.get(url) for _ in range(3))
    assert [first.status_code, second.status_code, third.status_code] == [503, 503, 200]
    assert first.headers["retry-after"] == "1"
    assert client.get(server.simple_url + "beta/").status_code == 200
    server.fail("/files/", times=None)
    for _ in range(3):
        assert client.get(server.file_url("beta-1.0-py3-none-any.whl")).status_code == 500
    server.clear_faults()
    assert client.get(server.file_url("beta-1.0-py3-none-any.whl")).status_code == 200


def test_invalid_pages_keep_their_content_type(
    make_index: Callable[..., IndexServer], client: httpx.Client
) -> None:
    server = make_index()
    server.invalid("/simple/alpha/", kind="json")
    server.invalid("/simple/beta/", kind="html")
    response = client.get(server.simple_url + "alpha/", headers={"Accept": JSON_TYPE})
    assert response.headers["content-type"] == JSON_TYPE
    with pytest.raises(json.JSONDecodeError):
        response.json()
    response = client.get(server.simple_url + "beta/")
    assert response.headers["content-type"].startswith("text/html")
    assert anchors(response.text) == {}


def test_slow_path_delays_only_that_path(make_index: Callable[..., IndexServer]) -> None:
    server = make_index()
    server.slow("/simple/alpha/", 3.0)
    # Behaviour, not timing: a client that gives up after 1 s gets the fast path
    # and times out on the slowed one.
    with httpx.Client(timeout=1.0) as impatient:
        assert impatient.get(server.simple_url + "beta/").status_code == 200
        with pytest.raises(httpx.ReadTimeout):
            impatient.get(server.simple_url + "alpha/")


def test_no_cache_headers_by_default(index_server: IndexServer, client: httpx.Client) -> None:
    response = client.get(index_server.simple_url + "alpha/")
    assert "cache-control" not in response.headers
    assert "etag" not in response.headers


def test_etag_revalidation_answers_304(
    make_index: Callable[..., IndexServer], client: httpx.Client
) -> None:
    server = make_index(etag=True, cache_control="max-age=600, public")
    url = server.simple_url + "alpha/"
    first = client.get(url, headers={"Accept": JSON_TYPE})
    assert first.headers["cache-control"] == "max-age=600, public"
    etag = first.headers["etag"]
    again = client.get(url, headers={"Accept": JSON_TYPE, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    # A different representation has a different tag: no false 304.
    html_page = client.get(url, headers={"Accept": "text/html", "If-None-Match": etag})
    assert html_page.status_code == 200
    assert [r.headers.get("if-none-match") for r in server.requests] == [None, etag, etag]


def test_basic_auth(make_index: Callable[..., IndexServer]) -> None:
    server = make_index(auth=("user", "s3cret"))
    url = server.simple_url + "alpha/"
    with httpx.Client() as anonymous:
        response = anonymous.get(url)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Basic ")
    with httpx.Client(auth=("user", "wrong")) as wrong:
        assert wrong.get(url).status_code == 401
    with httpx.Client(auth=("user", "s3cret")) as authed:
        assert authed.get(url).status_code == 200


def test_request_log_records_and_clears(
    make_index: Callable[..., IndexServer], client: httpx.Client
) -> None:
    server = make_index()
    client.get(server.simple_url + "alpha/?x=1", headers={"Accept": JSON_TYPE})
    client.head(server.file_url("beta-1.0-py3-none-any.whl"))
    log = server.requests
    assert [(r.method, r.path) for r in log] == [
        ("GET", "/simple/alpha/?x=1"),
        ("HEAD", "/files/beta-1.0-py3-none-any.whl"),
    ]
    assert log[0].headers["accept"] == JSON_TYPE
    server.clear_log()
    assert server.requests == []


def test_stop_returns_with_an_idle_keep_alive_connection(
    make_index: Callable[..., IndexServer],
) -> None:
    server = make_index()
    url = server.simple_url + "alpha/"
    with httpx.Client() as client:
        client.get(url)  # leaves an idle pooled connection
        server.stop()  # must not hang on the idle connection (the test would time out)
        with pytest.raises(httpx.TransportError):
            client.get(url)


def test_server_is_configured_for_many_fast_requests() -> None:
    # Without TCP_NODELAY, Nagle + delayed ACK add ~40 ms to every response; with
    # socketserver's default backlog of 5, bursts of parallel connections get SYNs
    # dropped (a 1 s retransmit each). Both settings are checked structurally:
    # the suite asserts behaviour, never durations.
    from fixtures.http_server import _Handler, _HTTPServer

    assert _Handler.disable_nagle_algorithm is True
    assert _HTTPServer.request_queue_size >= 64


def test_many_parallel_connections_are_served(index_server: IndexServer) -> None:
    async def fetch_all() -> list[int]:
        limits = httpx.Limits(max_connections=32)
        async with httpx.AsyncClient(limits=limits, timeout=10) as client:
            urls = [index_server.simple_url + "alpha/"] * 32
            responses = await asyncio.gather(*(client.get(url) for url in urls))
        return [response.status_code for response in responses]

    assert asyncio.run(fetch_all()) == [200] * 32


# -- real pip ----------------------------------------------------------------------


def installed(env: PipEnv) -> dict[str, str]:
    listing = json.loads(env.pip("list", "--format=json").stdout)
    return {dist_name(item["name"]): item["version"] for item in listing}


@pytest.mark.slow
def test_pip_sees_none_of_the_machines_pip_configuration(
    pip_env: PipEnv, run_pip: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    # This machine sets find-links, a constraints file and a cert globally.
    listing = run_pip(pip_env.path, "config", "list").stdout
    assert "find-links" not in listing
    assert "constraint" not in listing
    assert "cert" not in listing
    assert "no-input='1'" in listing


@pytest.mark.slow
def test_pip_installs_a_pinned_wheel(
    make_index: Callable[..., IndexServer], pip_env: PipEnv
) -> None:
    server = make_index()
    pip_env.pip("install", "--no-deps", "--index-url", server.simple_url, "alpha==1.1")
    assert pip_env.run("import alpha; print(alpha.__version__)").strip() == "1.1"
    fetched = {r.path: r.headers.get("accept", "") for r in server.requests}
    assert fetched["/simple/alpha/"].startswith(JSON_TYPE)  # pip prefers PEP 691
    assert "/files/alpha-1.1-py3-none-any.whl" in fetched


@pytest.mark.slow
def test_pip_builds_sdists_offline_through_tinybackend(
    index_server: IndexServer, pip_env: PipEnv
) -> None:
    # dynsdist's only route to its dependency (beta) is the PEP 517 build;
    # beta then pulls alpha, and pip must skip the yanked alpha 2.0.
    pip_env.pip("install", "--index-url", index_server.simple_url, "onlysdist", "dynsdist")
    versions = installed(pip_env)
    assert versions["onlysdist"] == "1.0"
    assert versions["dynsdist"] == "1.0"
    assert versions["beta"] == "1.0"
    assert versions["alpha"] == "1.1"
    assert pip_env.run("import dynsdist; print(dynsdist.__version__)").strip() == "1.0"


@pytest.mark.slow
def test_pip_against_html_only_index_honours_requires_python(
    html_index_server: IndexServer, pip_env: PipEnv
) -> None:
    pip_env.pip("install", "--index-url", html_index_server.simple_url, "newpy", "withextras[fast]")
    versions = installed(pip_env)
    # newpy 1.0 requires Python >= 3.13; the venv runs this interpreter.
    assert versions["newpy"] == ("1.0" if sys.version_info >= (3, 13) else "0.9")
    assert versions["withextras"] == "1.0"
    assert versions["beta"] == "1.0"
