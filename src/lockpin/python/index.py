"""The index client: project pages from the configured indexes and find-links,
and the sha256 of every file (from the index, or computed by downloading).

Index order and dependency confusion: by default the **first** index (the
``--index-url`` first, then each ``--extra-index-url`` in order) that knows a
project supplies all of its files; later indexes are not consulted for that
project. This is uv's ``first-index`` strategy: an attacker who uploads a
same-named project to a public index cannot shadow a private one listed first.
``index_strategy="unsafe-best-match"`` merges every index, like pip.
``--find-links`` locations are always added to the candidates.

When several sources are merged, a filename is taken from the first source
that lists it (indexes in order, then find-links); a later file of the same
name, wherever it lives, is ignored: lockpin reads one file's metadata per
filename, and a lock must not accept a different file under that name.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import quote

from packaging.utils import NormalizedName, canonicalize_name

from ..errors import IndexResponseError, InputError, NetworkError, NoSuchProjectError
from ..net.files import file_url_path
from ..net.redact import redact_url
from .models import (
    DistFile,
    PageTimes,
    ProjectPage,
    is_dist_filename,
    is_sha256,
    parse_filename,
)
from .packed import PackedFiles, pack_page
from .pages import ACCEPT, LazyFiles, parse_html_page, parse_page

if TYPE_CHECKING:
    from ..net.http import Http

__all__ = ["PYPI_SIMPLE", "IndexClient", "IndexConfig"]

log = logging.getLogger(__name__)

PYPI_SIMPLE = "https://pypi.org/simple/"


@dataclass(frozen=True, slots=True)
class IndexConfig:
    """Where packages come from. URLs may carry credentials; they are redacted
    whenever printed. ``find_links`` entries are URLs, local directories or
    local HTML files."""

    index_url: str = PYPI_SIMPLE
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    no_index: bool = False
    index_strategy: Literal["first-index", "unsafe-best-match"] = "first-index"

    @property
    def indexes(self) -> tuple[str, ...]:
        if self.no_index:
            return ()
        urls = (self.index_url, *self.extra_index_urls)
        return tuple(dict.fromkeys(u if u.endswith("/") else u + "/" for u in urls))


def _to_url(location: str) -> str:
    """A find-links entry: URL as is, local path to a ``file://`` URL."""
    if "://" in location:
        return location
    path = Path(os.path.expanduser(location)).resolve()
    return path.as_uri() + ("/" if path.is_dir() else "")


class IndexClient:
    """Fetches and merges project pages; one instance per lockpin run.

    Concurrent requests for the same project share one fetch.
    """

    def __init__(self, http: Http, config: IndexConfig | None = None) -> None:
        self.http = http
        self.config = config or IndexConfig()
        self._indexes = tuple(
            http.add_credentials(u) if "@" in u else u for u in self.config.indexes
        )
        for location in self.config.find_links:
            # The files a find-links page links to on its own host get its credentials,
            # as an index's do (and as pip does): else their download answers 401.
            if "://" in location and "@" in location:
                http.add_credentials(location)
        self._pages: dict[NormalizedName, asyncio.Task[ProjectPage]] = {}
        self._find_links: asyncio.Task[tuple[DistFile, ...]] | None = None
        self._hashes: dict[str, asyncio.Task[str]] = {}

    @property
    def redacted_indexes(self) -> tuple[str, ...]:
        return tuple(redact_url(u) for u in self.config.indexes)

    def prefetch(self, name: str) -> None:
        """Start fetching a project's page without waiting for it."""
        key = canonicalize_name(name)
        if key not in self._pages:
            self._pages[key] = asyncio.ensure_future(self._fetch_project(key))

    async def project_page(self, name: str) -> ProjectPage:
        key = canonicalize_name(name)
        self.prefetch(key)
        return await self._pages[key]

    async def _fetch_project(self, name: NormalizedName) -> ProjectPage:
        pages = await asyncio.gather(*(self._fetch_one(base, name) for base in self._indexes))
        found = [p for p in pages if p is not None]
        if self.config.index_strategy == "first-index":
            found = found[:1]
        links = [f for f in await self._find_links_files() if _names(f) == name]
        if not found and not links:
            raise NoSuchProjectError(name, indexes=self.redacted_indexes)
        if len(found) == 1 and not links:
            return found[0]  # keep a lazily parsed page lazy
        files: list[DistFile] = []
        seen: set[str] = set()
        for f in (*(f for page in found for f in page.files), *links):
            if f.filename in seen:
                log.debug("%s: %s is listed by an earlier source; ignored", name, f.url)
                continue
            seen.add(f.filename)
            files.append(f)
        url = (
            found[0].url if found else (self.config.find_links[0] if self.config.find_links else "")
        )
        return ProjectPage(name=name, url=url, files=tuple(files))

    async def _fetch_one(self, base: str, name: NormalizedName) -> ProjectPage | None:
        url = base + quote(name) + "/"
        resp = await self.http.get(
            url,
            headers={"Accept": ACCEPT},
            cache="page",
            ok_statuses=frozenset({200, 404, 410}),
        )
        if resp.status in {404, 410}:
            return None
        if resp.status in {401, 403}:
            raise NetworkError(
                f"{redact_url(url)} answered HTTP {resp.status}: the index needs credentials. "
                "Put them in the index URL (https://user:token@host/simple) or in ~/.netrc.",
                url=redact_url(url),
            )
        if resp.status != 200:
            raise IndexResponseError(
                f"{redact_url(url)} answered HTTP {resp.status}.", url=redact_url(url)
            )
        cache = self.http.cache
        if resp.cache_token is not None and cache is not None:
            entry = cache.get("parsed-pages", resp.cache_token)
            if entry is not None:
                try:
                    return ProjectPage(
                        name=name, url=resp.url, files=PackedFiles(entry.body, resp.url)
                    )
                except (ValueError, EOFError, TypeError):
                    log.debug("discarding an unreadable parsed page for %s", name)
        page = parse_page(resp.content, url=resp.url, content_type=resp.content_type, name=name)
        if resp.cache_token is not None and cache is not None and isinstance(page.files, LazyFiles):
            packed = pack_page(page.files)
            cache.put("parsed-pages", resp.cache_token, packed)
            # The packed form is smaller than the parsed JSON held by LazyFiles:
            # keep that one, so a large lock's memory stays flat. (The page's
            # warning, if any, was logged by the parser already; its entries were
            # checked by the parser and these bytes never left this process.)
            files = PackedFiles(packed, resp.url, replay_notice=False, checked=True)
            return ProjectPage(name=name, url=resp.url, files=files)
        return page

    async def _find_links_files(self) -> tuple[DistFile, ...]:
        if not self.config.find_links:
            return ()
        if self._find_links is None:
            self._find_links = asyncio.ensure_future(self._collect_find_links())
        return await self._find_links

    async def _collect_find_links(self) -> tuple[DistFile, ...]:
        files: list[DistFile] = []
        for location in self.config.find_links:
            url = _to_url(location)
            if url.startswith("file:") and url.endswith("/"):
                files.extend(_directory_files(file_url_path(url)))
                continue
            resp = await self.http.get(url, cache="page", ok_statuses=frozenset({200, 404}))
            if resp.status != 200:
                raise NetworkError(
                    f"--find-links location {redact_url(url)} answered HTTP {resp.status}. "
                    "Check the path or URL.",
                    url=redact_url(url),
                )
            # Its links may point anywhere (any project); a remote page's only at
            # http(s) URLs, never at this machine's files.
            page = parse_html_page(resp.content, url=resp.url, name="find-links", any_project=True)
            files.extend(f for f in page.files if parse_filename(f.filename) is not None)
        return tuple(files)

    async def sha256(self, f: DistFile) -> str:
        """The file's sha256: the index's word when it gives one, else computed by
        downloading the file (never a weaker hash)."""
        stated = f.sha256
        if stated is not None and is_sha256(stated):  # never trust a value unchecked
            return stated
        task = self._hashes.get(f.url)
        if task is None:
            log.info(
                "%s lists no sha256 for %s; downloading it to compute one",
                redact_url(f.url),
                f.filename,
            )
            task = asyncio.ensure_future(self._compute(f))
            self._hashes[f.url] = task
        return await task

    async def _compute(self, f: DistFile) -> str:
        digest, _size = await self.http.sha256_of(f.url)
        return digest


def _directory_files(directory: Path) -> list[DistFile]:
    """The distributions in a local ``--find-links`` directory: regular files only.

    A FIFO or a device (or a symlink to one) would be read forever: it is skipped,
    with a warning. A symlink to a regular file is fine; its target is listed.
    """
    try:
        entries = sorted(directory.iterdir())
    except OSError as exc:
        raise InputError(
            f"--find-links directory {directory} cannot be read ({exc.strerror or exc}). "
            "Check the path and its permissions."
        ) from exc
    files: list[DistFile] = []
    times = PageTimes(str(directory), given=False)  # a directory gives no upload times
    for entry in entries:
        if not is_dist_filename(entry.name) or parse_filename(entry.name) is None:
            continue
        try:
            target = entry.resolve()
            info = os.stat(target)
        except (OSError, RuntimeError):  # dangling, a symlink loop, or removed meanwhile
            log.debug("skipping %s: cannot stat it", entry)
            continue
        if not stat.S_ISREG(info.st_mode):
            log.warning("--find-links: skipping %s, which is not a regular file", entry)
            continue
        files.append(
            DistFile(filename=entry.name, url=target.as_uri(), size=info.st_size, page_times=times)
        )
    return files


def _names(f: DistFile) -> NormalizedName | None:
    parsed = parse_filename(f.filename)
    return parsed[0] if parsed else None
