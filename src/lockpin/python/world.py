"""The real :class:`~lockpin.python.provider.World`: the index client and the
metadata fetcher driven from a background event loop, fetching ahead.

When a requirement is discovered, ``discovered`` starts (without waiting) the
fetch of its project page, picks the release the resolver will most likely
choose, fetches that release's metadata and recurses into its dependencies.
By the time resolvelib asks, the answer is usually already in memory.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from packaging.utils import NormalizedName, canonicalize_name

from ..progress import Event, NullReporter
from .models import DistFile
from .provider import Candidate, Req
from .releases import releases_of, usable_release

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Mapping, Sequence

    from packaging.version import Version

    from .._async import LoopThread
    from ..progress import Reporter
    from .fetch import MetadataFetcher
    from .index import IndexClient
    from .metadata import CoreMetadata
    from .target import Target

__all__ = ["IndexWorld", "best_file"]

log = logging.getLogger(__name__)


def best_file(files: Sequence[DistFile], target: Target) -> DistFile | None:
    """The file whose metadata stands for the release: the most preferred
    compatible wheel, else the wheel most like the target
    (:func:`~lockpin.python.standin.stand_in_wheels`), else the sdist."""
    wheels = [(target.wheel_priority(f.filename), f) for f in files if f.is_wheel]
    compatible = [(p, f) for p, f in wheels if p is not None]
    if compatible:
        return min(compatible, key=lambda pf: (pf[0], pf[1].filename))[1]
    if wheels:
        from .standin import stand_in_wheels

        ranked = stand_in_wheels([f for _, f in wheels], target=target)
        return ranked[0] if ranked else sorted((f for _, f in wheels), key=lambda f: f.filename)[0]
    sdists = sorted((f for f in files if not f.is_wheel), key=lambda f: f.filename)
    return sdists[0] if sdists else None


class IndexWorld:
    def __init__(
        self,
        loop: LoopThread,
        client: IndexClient,
        fetcher: MetadataFetcher,
        *,
        target: Target,
        exclude_newer: dt.datetime | None,
        preferred: Mapping[NormalizedName, Version],
        reporter: Reporter | None = None,
    ) -> None:
        self.loop = loop
        self.client = client
        self.fetcher = fetcher
        self.target = target
        self.exclude_newer = exclude_newer
        self.preferred = preferred
        self._meta: dict[tuple[NormalizedName, str], asyncio.Future[CoreMetadata]] = {}
        self._speculated: set[tuple[NormalizedName, frozenset[NormalizedName]]] = set()
        # sdist-only picks met while fetching ahead, read once a certain requirement asks
        self._sdist_only: dict[tuple[NormalizedName, frozenset[NormalizedName]], Candidate] = {}
        self._reporter = reporter or NullReporter()

    def retarget(self, target: Target) -> None:
        """Reuse fetched data for the next target of a multi-platform lock."""
        self.target = target
        self._speculated.clear()
        self._sdist_only.clear()

    # -- World protocol (called from the resolver thread) --------------------------------------

    def versions(self, name: NormalizedName) -> Sequence[DistFile]:
        page = self.loop.run(self.client.project_page(name))
        return page.files

    def metadata(self, candidate: Candidate) -> CoreMetadata:
        async def wait() -> CoreMetadata:
            return await self._metadata(
                candidate.name, str(candidate.version), candidate.files, candidate.url
            )

        return self.loop.run(wait())

    def prefetch(self, candidates: Sequence[Candidate]) -> None:
        """Start reading these releases' metadata without waiting (the resolver is
        about to walk through them); failures resurface when asked for."""
        for c in candidates:
            if c.url is None:
                self.loop.spawn(self._prefetch_one(c))

    async def _prefetch_one(self, c: Candidate) -> None:
        try:
            await self._metadata(c.name, str(c.version), c.files, None)
        except Exception:  # a real request raises it again
            return

    def discovered(self, req: Req) -> None:
        """A requirement of the input or of a release the resolver pinned."""
        self._discover(req, certain=True)

    def _discover(self, req: Req, *, certain: bool) -> None:
        """Fetch ahead for ``req``. Only a ``certain`` requirement (not one met while
        fetching ahead, on a release the resolver may never pin) may start reading an
        sdist: that downloads it and may run its build code."""
        if req.url is not None:
            return
        # Keyed by extras too: `jsonschema[format]` discovered after plain
        # `jsonschema` still needs its extra dependencies fetched ahead.
        key = (req.name, req.extras)
        if key not in self._speculated:
            self._speculated.add(key)
            self.loop.spawn(self._speculate(req, certain=certain))
        elif (
            certain
            and (held := self._sdist_only.pop(key, None)) is not None
            and req.specifier.contains(held.version, prereleases=True)
        ):
            self.loop.spawn(self._prefetch_one(held))

    # -- loop side -----------------------------------------------------------------------------

    def _metadata(
        self, name: NormalizedName, version: str, files: Sequence[DistFile], url: str | None
    ) -> asyncio.Future[CoreMetadata]:
        key = (name, url or version)
        fut = self._meta.get(key)
        if fut is None:
            fut = asyncio.ensure_future(self._fetch_metadata(name, files, url))
            self._meta[key] = fut
        return fut

    async def _fetch_metadata(
        self, name: NormalizedName, files: Sequence[DistFile], url: str | None
    ) -> CoreMetadata:
        f = (
            DistFile(filename=url.split("#")[0].rsplit("/", 1)[-1], url=url.split("#")[0])
            if url
            else best_file(files, self.target)
        )
        if f is None:
            from ..errors import IndexResponseError

            raise IndexResponseError(f"{name} has no file to read metadata from.", url=name)
        if url is None and not f.is_wheel:
            # No wheel fits the target: another wheel of the release may tell its
            # dependencies without building the sdist (lockpin.python.standin).
            meta = await self.fetcher.fetch_sdist(f, await self._stand_ins(name, f))
        else:
            meta = await self.fetcher.fetch(f)
        self._reporter.report(Event("metadata", name))
        return meta

    async def _stand_ins(self, name: NormalizedName, sdist: DistFile) -> tuple[DistFile, ...]:
        from .models import parse_filename
        from .standin import stand_in_wheels

        parsed = parse_filename(sdist.filename)
        if parsed is None:
            return ()
        page = await self.client.project_page(name)
        files = next((fs for v, fs in releases_of(page.files) if v == parsed[1]), ())
        return stand_in_wheels(
            files, version=parsed[1], target=self.target, exclude_newer=self.exclude_newer
        )

    async def _speculate(self, req: Req, *, certain: bool) -> None:
        try:
            page = await self.client.project_page(req.name)
        except Exception:
            return
        self._reporter.report(Event("page", req.name))
        # The release the resolver will most likely take: the existing pin when the
        # project has it, else the newest final release the requirement admits.
        want = self.preferred.get(req.name)
        pick = None
        for version, files in releases_of(page.files):
            if version != want and (
                pick is not None
                or version.is_prerelease
                or not req.specifier.contains(version, prereleases=True)
            ):
                continue
            info = usable_release(
                version, files, target=self.target, exclude_newer=self.exclude_newer
            )
            if info is None or info.yanked:
                continue
            pick = info
            if want is None or version == want:
                break
        if pick is None:
            return
        if not any(f.is_wheel for f in pick.files):
            # No wheel for the target: its metadata may take a build. Started now for a
            # requirement known to be needed (the resolver would wait for it later; the
            # builder stops it when the run ends), held back until then otherwise.
            held = Candidate(req.name, pick.version, req.extras, tuple(pick.files))
            if not certain:
                self._sdist_only[(req.name, req.extras)] = held
                return
        try:
            meta = await self._metadata(req.name, str(pick.version), pick.files, None)
        except Exception:
            return
        for r in meta.requires_dist:
            if r.marker is not None and not self.target.evaluate(r.marker, req.extras):
                continue
            dep = Req(
                canonicalize_name(r.name),
                r.specifier,
                frozenset(canonicalize_name(e) for e in r.extras),
                r.url,
            )
            self._discover(dep, certain=False)
