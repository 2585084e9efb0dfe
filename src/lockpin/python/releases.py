"""Releases as the resolver sees them: a project's files grouped by release and
judged for one target (pure, no I/O).

A file counts for a release when it was uploaded before ``--exclude-newer`` and
the target installs it (:meth:`~lockpin.python.target.Target.installs`: wheel tags,
the file's ``Requires-Python``, ``--only-binary``/``--no-binary``); a release is
yanked when all its usable files are (PEP 592). Judging is lazy, newest first: a
resolver usually needs only the first few releases of hundreds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..net.redact import redact_url
from .models import DistFile, ReleaseGrouped, group_releases, parse_filename

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable, Iterable, Sequence

    from packaging.version import Version

    from .models import Formats, Releases
    from .target import Target

__all__ = ["ProjectReleases", "VersionInfo", "releases_of", "usable_release"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class VersionInfo:
    """A release as a candidate source: its files usable on the target."""

    version: Version
    files: tuple[DistFile, ...]
    yanked: bool = False
    yanked_reason: str | None = None


def releases_of(files: Sequence[DistFile]) -> Releases:
    """All files grouped by release, newest first, without judging them.

    A lazily parsed page (:class:`~lockpin.python.models.ReleaseGrouped`) answers
    from its own grouping, made from filenames alone, so files of releases nobody
    looks at are never built.
    """
    if isinstance(files, ReleaseGrouped):
        return files.releases()
    return group_releases(files)


def usable_release(
    version: Version,
    files: Iterable[DistFile],
    *,
    target: Target,
    exclude_newer: dt.datetime | None = None,
    formats: Formats = "any",
) -> VersionInfo | None:
    """The release's files usable on ``target``, or ``None`` when there are none.

    A file counts when it was uploaded before ``exclude_newer`` and the target installs
    it (:meth:`~lockpin.python.target.Target.installs`, with ``formats`` from
    ``--only-binary``/``--no-binary``). A release is yanked when all its usable
    files are (PEP 592).

    A file without a usable upload time is left out when its page gives upload
    times for other files, and kept when the page gives none (HTML indexes,
    ``--find-links``): then the cut-off cannot be applied to the project, which
    is warned about once (:meth:`~lockpin.python.models.DistFile.uploaded_after`).
    """
    usable = [
        f
        for f in files
        if not f.uploaded_after(exclude_newer) and target.installs(f, formats=formats)
    ]
    if not usable:
        return None
    if exclude_newer is not None:
        _warn_untimed(usable)
    yanked = all(f.yanked for f in usable)
    reason = next((f.yanked_reason for f in usable if f.yanked_reason), None) if yanked else None
    return VersionInfo(version, tuple(usable), yanked, reason)


def _warn_untimed(files: Iterable[DistFile]) -> None:
    """Say once per project and page that ``--exclude-newer`` could not be applied
    to files kept without an upload time."""
    for f in files:
        times = f.page_times
        if f.upload_time is not None or times is None or times.given:
            continue
        parsed = parse_filename(f.filename)
        project = parsed[0] if parsed else f.filename
        if project in times.warned:
            continue
        times.warned.add(project)
        log.warning(
            "--exclude-newer cannot be applied to %s: %s gives no upload times, so its "
            "files are considered whatever their age. Use an index that serves PEP 700 "
            "upload times (JSON pages) to apply the cut-off.",
            project,
            redact_url(times.url),
        )


class ProjectReleases:
    """A project's releases, judged for the target lazily, newest first: the
    resolver usually needs only the first few of hundreds.

    ``judge`` decides one release (usually :func:`usable_release` with the
    target and cut-off bound); each release is judged at most once.
    """

    def __init__(
        self,
        files: Sequence[DistFile],
        judge: Callable[[Version, Sequence[DistFile]], VersionInfo | None],
    ) -> None:
        self.releases = releases_of(files)
        self._judge = judge
        self._infos: dict[Version, VersionInfo | None] = {}

    def info(self, version: Version, files: Sequence[DistFile]) -> VersionInfo | None:
        """The judgement of one release (``files`` are its files, from :attr:`releases`)."""
        try:
            return self._infos[version]
        except KeyError:
            info = self._infos[version] = self._judge(version, files)
            return info

    def usable(self, limit: int) -> list[VersionInfo]:
        """The newest ``limit`` releases usable on the target, newest first."""
        out = []
        for version, files in self.releases:
            info = self.info(version, files)
            if info is not None:
                out.append(info)
                if len(out) >= limit:
                    break
        return out
