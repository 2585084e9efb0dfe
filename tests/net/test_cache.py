"""lockpin.net.cache.DiskCache, and the page freshness rules of the HTTP layer against a
real local index (Cache-Control, ETag revalidation, the TTL path, --offline, --refresh)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import TYPE_CHECKING

import pytest

from lockpin.errors import OfflineError
from lockpin.net.cache import CacheEntry, DiskCache, default_cache_dir
from lockpin.net.http import Http, HttpConfig, Response
from lockpin.python.pages import ACCEPT
from support import dir_state, run_cli, sha256_file

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from fixtures.index_server import IndexServer

# -- DiskCache -----------------------------------------------------------------------------------


def must_get(cache: DiskCache, kind: str, key: str) -> CacheEntry:
    entry = cache.get(kind, key)
    assert entry is not None, (kind, key)
    return entry


def entry_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_put_get_round_trip(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path)
    before = time.time()
    cache.put(
        "pages", "https://idx.example/simple/a/|json", b"\x00body\nwith newline", {"etag": "x"}
    )
    entry = cache.get("pages", "https://idx.example/simple/a/|json")
    assert entry is not None
    assert entry.body == b"\x00body\nwith newline"
    assert entry.meta["etag"] == "x"
    assert entry.meta["key"] == "https://idx.example/simple/a/|json"
    assert entry.meta["size"] == len(entry.body)
    assert before <= entry.stored_at <= time.time()
    # The key is hashed into the path: nothing of the URL appears on disk as a name.
    (path,) = entry_files(tmp_path)
    assert "idx.example" not in str(path.relative_to(tmp_path))
    assert path.parts[-4:-2] == ("v1", "pages")


def test_kinds_and_keys_are_separate(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path)
    cache.put("pages", "k", b"page")
    cache.put("sha256", "k", b"digest")
    cache.put("pages", "k2", b"other")
    assert must_get(cache, "pages", "k").body == b"page"
    assert must_get(cache, "sha256", "k").body == b"digest"
    assert must_get(cache, "pages", "k2").body == b"other"
    assert cache.get("metadata", "k") is None
    assert cache.get("pages", "missing") is None


def test_put_replaces_and_leaves_no_temp_files(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path)
    cache.put("pages", "k", b"one")
    cache.put("pages", "k", b"two")
    assert must_get(cache, "pages", "k").body == b"two"
    files = entry_files(tmp_path)
    assert len(files) == 1
    assert not files[0].name.startswith(".tmp-")


def test_stored_at_can_be_given(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path)
    cache.put("pages", "k", b"x", {"stored_at": 1000.0})
    assert must_get(cache, "pages", "k").stored_at == 1000.0


def test_touch_keeps_the_body_and_refreshes_metadata(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path)
    cache.put("pages", "k", b"body", {"etag": '"a"', "stored_at": 1000.0, "cache_control": None})
    old = cache.get("pages", "k")
    assert old is not None
    cache.touch("pages", "k", old, cache_control="max-age=5")
    new = cache.get("pages", "k")
    assert new is not None
    assert new.body == b"body"
    assert new.meta["etag"] == '"a"'
    assert new.meta["cache_control"] == "max-age=5"
    assert new.stored_at > 1000.0


def _corrupt_variants(header: bytes, body: bytes) -> dict[str, bytes]:
    meta = json.loads(header)
    wrong_key = json.dumps({**meta, "key": "another-key"}).encode()
    return {
        "garbage": b"\x89PNG\r\n\x1a\n\x00\x00",
        "empty": b"",
        "no-header-line": header,
        "header-not-json": b"{not json\n" + body,
        "header-not-object": b"[1, 2]\n" + body,
        "truncated-body": header + b"\n" + body[:-3],
        "too-long-body": header + b"\n" + body + b"junk",
        "key-mismatch": wrong_key + b"\n" + body,
    }


@pytest.mark.parametrize(
    "variant",
    [
        "garbage",
        "empty",
        "no-header-line",
        "header-not-json",
        "header-not-object",
        "truncated-body",
        "too-long-body",
        "key-mismatch",
    ],
)
def test_corrupt_entry_is_discarded_not_fatal(tmp_path: Path, variant: str) -> None:
    cache = DiskCache(tmp_path)
    cache.put("pages", "k", b"the page body")
    (path,) = entry_files(tmp_path)
    header, _, body = path.read_bytes().partition(b"\n")
    path.write_bytes(_corrupt_variants(header, body)[variant])

    assert cache.get("pages", "k") is None
    assert not path.exists()  # deleted, so the next run does not trip over it again
    cache.put("pages", "k", b"fresh")  # and the slot is usable again
    assert must_get(cache, "pages", "k").body == b"fresh"


def test_unwritable_cache_is_not_fatal(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")
    cache = DiskCache(blocker)
    with caplog.at_level(logging.WARNING, logger="lockpin.net.cache"):
        cache.put("pages", "k", b"x")
    assert cache.get("pages", "k") is None
    assert "cannot write cache entry" in caplog.text


def test_default_cache_dir_honours_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCKPIN_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("LOCKPIN_CACHE_DIR")
    assert default_cache_dir().name == "lockpin"


# -- freshness through Http against a real server -------------------------------------------------


def fetch(config: HttpConfig, url: str, *, times: int = 1) -> list[Response]:
    async def run() -> list[Response]:
        async with Http(config) as http:
            return [
                await http.get(url, headers={"Accept": ACCEPT}, cache="page") for _ in range(times)
            ]

    return asyncio.run(run())


def page_requests(server: IndexServer, project: str) -> list[dict[str, str]]:
    return [r.headers for r in server.requests if r.path == f"/simple/{project}/"]


def config(tmp_path: Path, **changes: object) -> HttpConfig:
    options: dict[str, object] = {"cache_dir": tmp_path / "cache", "backoff": 0.01}
    options.update(changes)
    return HttpConfig(**options)  # type: ignore[arg-type]


def test_max_age_serves_from_cache_without_a_request(
    make_index: Callable[..., IndexServer], tmp_path: Path
) -> None:
    server = make_index(cache_control="max-age=600, public")
    url = server.simple_url + "alpha/"
    (first,) = fetch(config(tmp_path), url)
    (second,) = fetch(config(tmp_path), url)
    assert not first.from_cache
    assert second.from_cache
    assert second.content == first.content
    assert second.content_type == first.content_type == "application/vnd.pypi.simple.v1+json"
    assert len(page_requests(server, "alpha")) == 1


def test_max_age_zero_refetches(make_index: Callable[..., IndexServer], tmp_path: Path) -> None:
    server = make_index(cache_control="max-age=0")
    url = server.simple_url + "alpha/"
    fetch(config(tmp_path), url)
    (second,) = fetch(config(tmp_path), url)
    assert not second.from_cache
    assert len(page_requests(server, "alpha")) == 2


@pytest.mark.parametrize(
    "cache_control", [pytest.param("no-cache", id="no-cache"), pytest.param(None, id="etag-only")]
)
def test_etag_revalidation_sends_a_conditional_request(
    make_index: Callable[..., IndexServer], tmp_path: Path, cache_control: str | None
) -> None:
    server = make_index(etag=True, cache_control=cache_control)
    url = server.simple_url + "alpha/"
    (first,) = fetch(config(tmp_path), url)
    (second,) = fetch(config(tmp_path), url)
    requests = page_requests(server, "alpha")
    assert len(requests) == 2
    assert "if-none-match" not in requests[0]
    assert requests[1]["if-none-match"].startswith('"')
    assert second.from_cache  # the server answered 304: body from the cache
    assert second.content == first.content


def test_changed_page_replaces_the_cached_one_after_revalidation(
    make_index: Callable[..., IndexServer], tmp_path: Path, dist_dir: Path
) -> None:
    server = make_index(root=dist_dir, standard=False, etag=True, cache_control="no-cache")
    server.add_file("alpha-1.0-py3-none-any.whl")
    url = server.simple_url + "alpha/"
    (first,) = fetch(config(tmp_path), url)
    server.add_file("alpha-1.1-py3-none-any.whl")
    (second,) = fetch(config(tmp_path), url)
    (third,) = fetch(config(tmp_path), url)
    assert b"alpha-1.1" not in first.content
    assert not second.from_cache
    assert b"alpha-1.1" in second.content
    assert third.from_cache
    assert third.content == second.content


def test_ttl_path_when_the_server_sends_no_cache_headers(
    index_server: IndexServer, tmp_path: Path
) -> None:
    url = index_server.simple_url + "beta/"
    assert "cache-control" not in {k.lower() for k in fetch(config(tmp_path), url)[0].headers}
    cache = DiskCache(tmp_path / "cache")
    key = f"{url}|{ACCEPT}"
    entry = cache.get("pages", key)
    assert entry is not None
    assert entry.meta["cache_control"] is None
    assert entry.meta["etag"] is None

    # Younger than max_age: served from the cache, no request.
    index_server.clear_log()
    cache.put("pages", key, entry.body, {**entry.meta, "stored_at": time.time() - 500})
    (young,) = fetch(config(tmp_path, max_age=600), url)
    assert young.from_cache
    assert page_requests(index_server, "beta") == []

    # Older than max_age: fetched again.
    cache.put("pages", key, entry.body, {**entry.meta, "stored_at": time.time() - 700})
    (old,) = fetch(config(tmp_path, max_age=600), url)
    assert not old.from_cache
    assert len(page_requests(index_server, "beta")) == 1


def test_max_age_zero_config_disables_the_ttl(index_server: IndexServer, tmp_path: Path) -> None:
    url = index_server.simple_url + "beta/"
    fetch(config(tmp_path, max_age=0), url)
    (second,) = fetch(config(tmp_path, max_age=0), url)
    assert not second.from_cache


def test_no_store_is_not_cached(make_index: Callable[..., IndexServer], tmp_path: Path) -> None:
    server = make_index(cache_control="no-store")
    url = server.simple_url + "alpha/"
    fetch(config(tmp_path), url)
    assert not (tmp_path / "cache").exists() or entry_files(tmp_path / "cache") == []


def test_json_and_html_answers_are_cached_under_different_keys(
    index_server: IndexServer, tmp_path: Path
) -> None:
    url = index_server.simple_url + "alpha/"

    async def run() -> tuple[Response, Response]:
        async with Http(config(tmp_path)) as http:
            as_json = await http.get(url, headers={"Accept": ACCEPT}, cache="page")
            as_html = await http.get(url, headers={"Accept": "text/html"}, cache="page")
            return as_json, as_html

    as_json, as_html = asyncio.run(run())
    assert as_json.content_type.endswith("+json")
    assert as_html.content_type == "text/html"
    assert len(entry_files(tmp_path / "cache")) == 2


def test_corrupt_page_entry_is_refetched(index_server: IndexServer, tmp_path: Path) -> None:
    url = index_server.simple_url + "beta/"
    (good,) = fetch(config(tmp_path), url)
    (path,) = entry_files(tmp_path / "cache")
    path.write_bytes(path.read_bytes()[:-10])  # torn write
    index_server.clear_log()
    (again,) = fetch(config(tmp_path), url)
    assert not again.from_cache
    assert again.content == good.content
    assert len(page_requests(index_server, "beta")) == 1


def test_offline_is_served_from_the_cache(
    make_index: Callable[..., IndexServer], tmp_path: Path
) -> None:
    server = make_index(cache_control="no-cache", etag=True)
    url = server.simple_url + "alpha/"
    (online,) = fetch(config(tmp_path), url)
    server.stop()  # no network at all now
    (offline,) = fetch(config(tmp_path, offline=True), url)
    assert offline.from_cache
    assert offline.content == online.content


def test_offline_missing_entry_raises_offline_error(
    index_server: IndexServer, tmp_path: Path
) -> None:
    url = index_server.simple_url + "alpha/"
    index_server.clear_log()
    with pytest.raises(OfflineError) as info:
        fetch(config(tmp_path, offline=True), url)
    assert url in str(info.value)
    assert "--offline" in str(info.value)
    with pytest.raises(OfflineError):
        fetch(config(tmp_path, offline=True, cache_dir=None), url)
    assert index_server.requests == []


def test_offline_sha256_uses_the_cache_or_refuses(
    index_server: IndexServer, tmp_path: Path, dist_dir: Path
) -> None:
    filename = "nohash-1.0-py3-none-any.whl"
    url = index_server.file_url(filename)

    async def digest(cfg: HttpConfig) -> tuple[str, int]:
        async with Http(cfg) as http:
            return await http.sha256_of(url)

    with pytest.raises(OfflineError):
        asyncio.run(digest(config(tmp_path, offline=True)))
    online = asyncio.run(digest(config(tmp_path)))
    index_server.clear_log()
    offline = asyncio.run(digest(config(tmp_path, offline=True)))
    assert (
        online
        == offline
        == (sha256_file(dist_dir / filename), (dist_dir / filename).stat().st_size)
    )
    assert index_server.requests == []


def test_sha256_of_is_remembered(index_server: IndexServer, tmp_path: Path) -> None:
    url = index_server.file_url("nohash2-1.0-py3-none-any.whl")

    async def twice() -> list[tuple[str, int]]:
        out = []
        for _ in range(2):
            async with Http(config(tmp_path)) as http:
                out.append(await http.sha256_of(url))
        return out

    index_server.clear_log()
    first, second = asyncio.run(twice())
    assert first == second
    assert [r.path for r in index_server.requests] == ["/files/nohash2-1.0-py3-none-any.whl"]


def test_refresh_revalidates_a_fresh_entry(
    make_index: Callable[..., IndexServer], tmp_path: Path
) -> None:
    server = make_index(cache_control="max-age=600", etag=True)
    url = server.simple_url + "alpha/"
    fetch(config(tmp_path), url)
    (cached,) = fetch(config(tmp_path), url)
    assert cached.from_cache
    assert len(page_requests(server, "alpha")) == 1
    (refreshed,) = fetch(config(tmp_path, refresh=True), url)
    requests = page_requests(server, "alpha")
    assert len(requests) == 2
    assert "if-none-match" in requests[1]
    assert refreshed.from_cache  # 304
    assert refreshed.content == cached.content


# -- the same through the CLI --------------------------------------------------------------------


def test_cli_offline_after_a_warm_run(
    make_index: Callable[..., IndexServer],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = make_index()
    req = tmp_path / "requirements.txt"
    req.write_text("alpha==1.0\nnohash==1.0\n")
    cache = str(tmp_path / "cache")
    common = ["--index-url", server.simple_url, "--cache-dir", cache]
    warm = run_cli(capsys, "hash", str(req), "-o", str(tmp_path / "warm.txt"), *common)
    assert warm.code == 0, warm.err
    server.stop()
    cold = run_cli(
        capsys, "hash", str(req), "-o", str(tmp_path / "offline.txt"), "--offline", *common
    )
    assert cold.code == 0, cold.err
    assert (tmp_path / "offline.txt").read_text() == (tmp_path / "warm.txt").read_text()


def test_cli_offline_with_an_empty_cache_is_a_clear_error(
    index_server: IndexServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("alpha==1.0\n")
    before = dir_state(tmp_path)
    result = run_cli(
        capsys,
        "hash",
        str(req),
        "--index-url",
        index_server.simple_url,
        "--cache-dir",
        str(tmp_path / "cache"),
        "--offline",
    )
    assert result.code == 2
    assert "--offline" in result.err
    assert index_server.simple_url + "alpha/" in result.err
    assert "Traceback" not in result.err
    assert dir_state(tmp_path) == before


def test_cli_refresh_revalidates(
    make_index: Callable[..., IndexServer], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = make_index(cache_control="max-age=600", etag=True)
    req = tmp_path / "requirements.txt"
    req.write_text("beta==1.0\n")
    common = [
        "--index-url",
        server.simple_url,
        "--cache-dir",
        str(tmp_path / "cache"),
        "-o",
        str(tmp_path / "out.txt"),
    ]
    assert run_cli(capsys, "hash", str(req), *common).code == 0
    assert run_cli(capsys, "hash", str(req), *common).code == 0
    assert len(page_requests(server, "beta")) == 1
    assert run_cli(capsys, "hash", str(req), "--refresh", *common).code == 0
    requests = page_requests(server, "beta")
    assert len(requests) == 2
    assert "if-none-match" in requests[1]
