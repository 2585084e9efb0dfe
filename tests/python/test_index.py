"""lockpin.python.index.IndexClient against real local indexes: the same assertions for a
PEP 691 JSON index and a PEP 503 HTML-only one."""

from __future__ import annotations

import asyncio
import hashlib
import io
import zipfile
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from fixtures.dists import build_wheel
from lockpin.errors import IndexResponseError, NetworkError, NoSuchProjectError
from lockpin.net.http import Http, HttpConfig
from lockpin.python.index import IndexClient, IndexConfig
from support import build_two_index_files, sha256_file

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

    from fixtures.index_server import IndexServer
    from lockpin.python.models import DistFile, ProjectPage

T = TypeVar("T")
FAST = HttpConfig(backoff=0.01, retries=1, timeout=10.0)


def with_client(
    index: IndexConfig, action: Callable[[IndexClient], Awaitable[T]], http: HttpConfig = FAST
) -> T:
    async def run() -> T:
        async with Http(http) as client_http:
            return await action(IndexClient(client_http, index))

    return asyncio.run(run())


def page_of(index_url: str, name: str, **config: Any) -> ProjectPage:
    return with_client(IndexConfig(index_url=index_url, **config), lambda c: c.project_page(name))


def by_name(page: ProjectPage) -> dict[str, DistFile]:
    return {f.filename: f for f in page.files}


def wheel_metadata_sha256(path: Path) -> str:
    with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return hashlib.sha256(archive.read(name)).hexdigest()


@pytest.fixture(params=["json", "html"])
def server(request: pytest.FixtureRequest) -> IndexServer:
    """The standard set, from the PEP 691 index and from the HTML-only one."""
    name = "index_server" if request.param == "json" else "html_index_server"
    srv: IndexServer = request.getfixturevalue(name)
    srv.clear_log()
    return srv


def is_json(server: IndexServer) -> bool:
    return not server.html_only


# -- what a page says about each file ------------------------------------------------------------


def test_every_file_field(server: IndexServer, dist_dir: Path) -> None:
    page = page_of(server.simple_url, "alpha")
    files = by_name(page)
    assert page.name == "alpha"
    assert set(files) == {p.name for p in dist_dir.glob("alpha-*")}
    for filename, f in files.items():
        on_disk = dist_dir / filename
        assert f.url == server.file_url(filename), "relative URLs resolved to the file"
        assert f.hashes == {"sha256": sha256_file(on_disk)}
        assert f.sha256 == sha256_file(on_disk)
        if is_json(server):  # PEP 700 fields exist only in JSON
            assert f.size == on_disk.stat().st_size
            assert f.upload_time is not None
            assert f.upload_time.tzinfo is not None
        else:
            assert f.size is None
            assert f.upload_time is None
        if filename.endswith(".whl"):
            assert f.core_metadata == {"sha256": wheel_metadata_sha256(on_disk)}
        else:
            assert f.core_metadata is None

    assert files["alpha-1.0-py3-none-any.whl"].requires_python == ">=3.8"
    assert files["alpha-1.1.tar.gz"].requires_python == ">=3.8"
    assert files["alpha-2.0-py3-none-any.whl"].requires_python is None
    assert not files["alpha-1.1-py3-none-any.whl"].yanked
    assert files["alpha-1.1-py3-none-any.whl"].yanked_reason is None
    yanked = files["alpha-2.0-py3-none-any.whl"]
    assert yanked.yanked
    assert yanked.yanked_reason == "broken"
    if is_json(server):
        assert files["alpha-1.1-py3-none-any.whl"].upload_time == datetime(
            2024, 6, 1, tzinfo=timezone.utc
        )


def test_json_is_asked_for_first(server: IndexServer) -> None:
    page_of(server.simple_url, "beta")
    (request,) = [r for r in server.requests if r.path == "/simple/beta/"]
    accept = request.headers["accept"]
    assert accept.startswith("application/vnd.pypi.simple.v1+json")
    assert "text/html" in accept  # and HTML is acceptable as the fallback


def test_metadata_not_advertised(server: IndexServer) -> None:
    assert only_file(page_of(server.simple_url, "hidden")).core_metadata is None
    assert only_file(page_of(server.simple_url, "nometa")).core_metadata is None


def only_file(page: ProjectPage) -> DistFile:
    assert len(page.files) == 1
    return page.files[0]


@pytest.mark.parametrize("spelling", ["Foo.Bar_baz", "foo-bar-baz", "FOO__bar..BAZ", "foo_bar.baz"])
def test_pep503_name_normalization(server: IndexServer, dist_dir: Path, spelling: str) -> None:
    page = page_of(server.simple_url, spelling)
    assert page.name == "foo-bar-baz"
    assert set(by_name(page)) == {
        "foo_bar_baz-0.1-py3-none-any.whl",
        "foo_bar_baz-0.1.tar.gz",
    }
    # The normalized URL is requested directly, not reached through the 301.
    assert [r.path for r in server.requests if r.path.startswith("/simple/")] == [
        "/simple/foo-bar-baz/"
    ]


def test_redirected_page_is_followed(server: IndexServer, dist_dir: Path) -> None:
    page = page_of(server.simple_url, "moved")
    assert page.url == server.url + "/elsewhere/moved/"
    f = only_file(page)
    assert f.url == server.file_url("moved-1.0-py3-none-any.whl")
    assert f.sha256 == sha256_file(dist_dir / "moved-1.0-py3-none-any.whl")


@pytest.mark.parametrize("html_only", [True, False])
def test_relative_urls_resolve_against_the_final_page_url(
    make_index: Callable[..., IndexServer], tmp_path: Path, html_only: bool
) -> None:
    # /simple/deep/ answers 302 to /deep/, whose HTML says href="../files/…": resolved
    # against the URL asked for, that would be /simple/files/… (a 404).
    wheel = build_wheel(tmp_path, "deep", "1.0")
    srv = make_index(root=tmp_path, standard=False, html_only=html_only)
    srv.add_project("deep", page_path="/deep/")
    srv.add_file(wheel)
    f = only_file(page_of(srv.simple_url, "deep"))
    assert f.url == srv.file_url(wheel.name)


def test_unknown_project(server: IndexServer) -> None:
    with pytest.raises(NoSuchProjectError) as info:
        page_of(server.simple_url, "does-not-exist")
    assert info.value.project == "does-not-exist"
    assert info.value.indexes == (server.simple_url,)
    assert server.simple_url in str(info.value)
    assert "--extra-index-url" in str(info.value)


def test_index_url_without_trailing_slash(server: IndexServer) -> None:
    page = page_of(server.simple_url.rstrip("/"), "beta")
    assert [f.filename for f in page.files] == ["beta-1.0-py3-none-any.whl"]


def test_concurrent_requests_for_one_project_share_a_fetch(server: IndexServer) -> None:
    async def action(client: IndexClient) -> list[ProjectPage]:
        client.prefetch("Beta")
        return list(await asyncio.gather(*(client.project_page(n) for n in ("beta", "BETA"))))

    first, second = with_client(IndexConfig(index_url=server.simple_url), action)
    assert first is second
    assert [r.path for r in server.requests].count("/simple/beta/") == 1


# -- sha256: from the index, or computed by downloading --------------------------------------


def sha256_all(index: IndexConfig, name: str) -> dict[str, str]:
    """``{filename: sha256}`` of every file of a project (see :func:`sha256_list`)."""
    return dict(sha256_list(index, name))


def sha256_list(index: IndexConfig, name: str) -> list[tuple[str, str]]:
    """``(filename, sha256)`` of every file; a filename may repeat across indexes."""

    async def action(client: IndexClient) -> list[tuple[str, str]]:
        page = await client.project_page(name)
        digests = await asyncio.gather(*(client.sha256(f) for f in page.files))
        return list(zip([f.filename for f in page.files], digests, strict=True))

    return with_client(index, action)


def test_sha256_from_the_index_downloads_nothing(server: IndexServer, dist_dir: Path) -> None:
    digests = sha256_all(IndexConfig(index_url=server.simple_url), "alpha")
    assert digests == {name: sha256_file(dist_dir / name) for name in digests}
    assert [r.path for r in server.requests if r.path.startswith("/files/")] == []


@pytest.mark.parametrize("project", ["nohash", "nohash2"])
def test_missing_sha256_is_computed_by_downloading(
    server: IndexServer, dist_dir: Path, project: str
) -> None:
    filename = f"{project}-1.0-py3-none-any.whl"
    page = page_of(server.simple_url, project)
    assert "sha256" not in only_file(page).hashes
    if project == "nohash":
        assert set(only_file(page).hashes) == {"md5"}
    server.clear_log()
    digests = sha256_all(IndexConfig(index_url=server.simple_url), project)
    assert digests == {filename: hashlib.sha256((dist_dir / filename).read_bytes()).hexdigest()}
    downloads = [r for r in server.requests if r.path.startswith("/files/")]
    assert [(r.method, r.path) for r in downloads] == [("GET", f"/files/{filename}")]


def test_one_download_per_file_even_when_asked_twice(server: IndexServer) -> None:
    async def action(client: IndexClient) -> set[str]:
        (f,) = (await client.project_page("nohash2")).files
        return set(await asyncio.gather(client.sha256(f), client.sha256(f), client.sha256(f)))

    assert len(with_client(IndexConfig(index_url=server.simple_url), action)) == 1
    assert len([r for r in server.requests if r.path.startswith("/files/")]) == 1


# -- faults ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["json", "html"])
def test_invalid_page_is_an_index_error(make_index: Callable[..., IndexServer], kind: str) -> None:
    srv = make_index()
    srv.invalid("/simple/alpha/", kind)  # type: ignore[arg-type]
    with pytest.raises(IndexResponseError) as info:
        page_of(srv.simple_url, "alpha")
    assert info.value.url == srv.simple_url + "alpha/"


def test_retry_then_success_through_the_client(make_index: Callable[..., IndexServer]) -> None:
    srv = make_index()
    srv.fail("/simple/alpha/", 502, times=1)
    page = page_of(srv.simple_url, "alpha", extra_index_urls=())
    assert len(page.files) == 5


def test_auth_required_is_explained(
    make_index: Callable[..., IndexServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NETRC", str(tmp_path / "absent"))
    srv = make_index(auth=("user", "pw-xyz"))
    with pytest.raises(NetworkError, match="needs credentials"):
        page_of(srv.simple_url, "alpha")
    with_creds = srv.simple_url.replace("://", "://user:pw-xyz@")
    page = page_of(with_creds, "alpha")
    assert len(page.files) == 5
    with pytest.raises(NetworkError) as info:
        page_of(srv.simple_url.replace("://", "://user:WRONG-pw@"), "alpha")
    assert "WRONG-pw" not in str(info.value)


# -- several indexes and find-links ----------------------------------------------------------


@pytest.fixture
def two_indexes(
    make_index: Callable[..., IndexServer], tmp_path: Path
) -> tuple[IndexServer, IndexServer, dict[str, Path]]:
    """Two indexes serving ``shared 1.0`` with different files; ``onlysecond`` on the second."""
    files = build_two_index_files(tmp_path)
    first = make_index(root=tmp_path / "first", standard=False)
    second = make_index(root=tmp_path / "second", standard=False, html_only=True)
    first.add_file(files["first-wheel"])
    for key in ("second-wheel", "second-sdist", "onlysecond"):
        second.add_file(files[key])
    return first, second, files


def test_first_index_that_has_the_project_wins(
    two_indexes: tuple[IndexServer, IndexServer, dict[str, Path]],
) -> None:
    first, second, files = two_indexes
    config = IndexConfig(index_url=first.simple_url, extra_index_urls=(second.simple_url,))
    assert sha256_list(config, "shared") == [
        ("shared-1.0-py3-none-any.whl", sha256_file(files["first-wheel"]))
    ]
    assert only_file(
        with_client(config, lambda c: c.project_page("onlysecond"))
    ).url == second.file_url(files["onlysecond"].name)


def test_unsafe_best_match_merges_every_index(
    two_indexes: tuple[IndexServer, IndexServer, dict[str, Path]],
) -> None:
    first, second, files = two_indexes
    config = IndexConfig(
        index_url=first.simple_url,
        extra_index_urls=(second.simple_url,),
        index_strategy="unsafe-best-match",
    )
    digests = [digest for _, digest in sha256_list(config, "shared")]
    # a filename both indexes list is taken from the first one only
    assert sorted(digests) == sorted(sha256_file(files[k]) for k in ("first-wheel", "second-sdist"))


def test_no_index_without_find_links_knows_nothing(index_server: IndexServer) -> None:
    with pytest.raises(NoSuchProjectError, match="no index configured"):
        page_of(index_server.simple_url, "alpha", no_index=True)


def test_find_links_local_directory(dist_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a distribution")
    for name in ("beta-1.0-py3-none-any.whl", "alpha-1.0.tar.gz"):
        (tmp_path / name).write_bytes((dist_dir / name).read_bytes())
    config = IndexConfig(no_index=True, find_links=(str(tmp_path),))
    page = with_client(config, lambda c: c.project_page("beta"))
    f = only_file(page)
    assert f.filename == "beta-1.0-py3-none-any.whl"
    assert f.url.startswith("file:")
    assert sha256_all(config, "alpha") == {
        "alpha-1.0.tar.gz": sha256_file(dist_dir / "alpha-1.0.tar.gz")
    }


def test_find_links_html_page(index_server: IndexServer, dist_dir: Path) -> None:
    config = IndexConfig(no_index=True, find_links=(index_server.links_url,))
    index_server.clear_log()
    digests = sha256_all(config, "nohash")
    filename = "nohash-1.0-py3-none-any.whl"
    assert digests == {filename: sha256_file(dist_dir / filename)}
    paths = [r.path for r in index_server.requests]
    assert paths == ["/links/", f"/files/{filename}"]  # no /simple/ request, one download


def test_find_links_add_to_the_index(
    index_server: IndexServer, tmp_path: Path, dist_dir: Path
) -> None:
    extra = build_wheel(tmp_path, "beta", "1.0", tag="py311-none-any")
    config = IndexConfig(index_url=index_server.simple_url, find_links=(str(tmp_path),))
    page = with_client(config, lambda c: c.project_page("beta"))
    assert sorted(f.filename for f in page.files) == sorted(
        ["beta-1.0-py3-none-any.whl", extra.name]
    )


def test_missing_find_links_page_is_an_error(index_server: IndexServer) -> None:
    config = IndexConfig(no_index=True, find_links=(index_server.url + "/no-such-links/",))
    with pytest.raises(NetworkError, match="--find-links location"):
        with_client(config, lambda c: c.project_page("beta"))
