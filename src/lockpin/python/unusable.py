"""Why a release cannot be used on a target, in words (pure, no I/O).

The resolver only needs to know *that* a release is unusable
(:func:`~lockpin.python.releases.usable_release` returns ``None``); a person
reading a conflict needs to know *why*: "no cp312 wheel for linux/amd64, and its
sdist fails to build", "Requires-Python <3.12", "yanked", "uploaded after
--exclude-newer". :func:`why_unusable` says it for one release from its files;
:func:`unusable_lines` gives the lines of a conflict explanation for the newest
releases a requirement allows that the target cannot use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from .models import WHEEL_SUFFIX

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Iterable, Mapping, Sequence

    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    from .models import DistFile
    from .releases import VersionInfo
    from .target import Target

__all__ = ["JudgedReleases", "unusable_lines", "why_unusable"]


class JudgedReleases(Protocol):
    """What :class:`~lockpin.python.releases.ProjectReleases` offers."""

    @property
    def releases(self) -> Sequence[tuple[Version, Sequence[DistFile]]]: ...

    def info(self, version: Version, files: Sequence[DistFile]) -> VersionInfo | None: ...


def _cut_off(value: dt.datetime) -> str:
    """As the lock's header writes it: ``2026-10-01T00:00:00Z``."""
    import datetime

    return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def why_unusable(
    files: Sequence[DistFile],
    *,
    target: Target,
    exclude_newer: dt.datetime | None = None,
    usable: bool = False,
    build_failure: str | None = None,
) -> str:
    """Why a release with ``files`` is of no use on ``target``.

    ``usable``: the release has files the target installs (then it was left out
    for its metadata, ``build_failure``, or by ``--only-binary``/``--no-binary``);
    ``build_failure``: the first line of why its metadata could not be read.
    """
    if not files:
        return "it has no files"
    in_time = [f for f in files if not f.uploaded_after(exclude_newer)]
    if not in_time and exclude_newer is not None:
        return f"all its files were uploaded after --exclude-newer {_cut_off(exclude_newer)}"
    fits_python = [f for f in in_time if target.supports_python(f.requires_python)]
    if not fits_python:
        specs = sorted({f.requires_python or "" for f in in_time} - {""})
        return (
            f"Requires-Python {' / '.join(specs)} (the target has Python {target.python_version})"
        )
    wheels = [f for f in fits_python if f.filename.endswith(WHEEL_SUFFIX)]
    has_sdist = any(not f.filename.endswith(WHEEL_SUFFIX) for f in fits_python)
    tagged = any(target.wheel_priority(w.filename) is not None for w in wheels)
    python = "cp" + target.python_minor.replace(".", "")
    no_wheel = f"no {python} wheel for {target.platform}" if wheels else "no wheel"
    if build_failure is not None:
        if tagged or not has_sdist:
            return f"its metadata cannot be read ({build_failure})"
        return f"{no_wheel}, and its sdist fails to build ({build_failure})"
    if usable:
        return "its metadata cannot be read"
    if not tagged and not has_sdist:
        return f"{no_wheel} and no sdist"
    if tagged and has_sdist:
        return "its files are left out by --only-binary/--no-binary"
    if tagged:
        return "its wheels are left out by --no-binary, and it has no sdist"
    return f"{no_wheel}, and its sdist is left out by --only-binary"


def unusable_lines(
    name: str,
    project: JudgedReleases,
    specifiers: Iterable[SpecifierSet],
    *,
    target: Target,
    exclude_newer: dt.datetime | None = None,
    unusable: Mapping[str, str] | None = None,
    limit: int = 3,
) -> list[str]:
    """``  name 1.0: <why>`` for the newest ``limit`` releases that every one of
    ``specifiers`` allows but the target cannot use (no file for it, yanked,
    metadata that does not build), newest first. Pre-releases count only when
    a specifier names one (``==2.0b1``)."""
    specs = list(specifiers)
    failures = unusable or {}
    out: list[str] = []
    for version, files in project.releases:
        if not all(s.contains(version, prereleases=True) for s in specs):
            continue
        if version.is_prerelease and not any(s.prereleases for s in specs):
            continue
        info = project.info(version, files)
        failure = failures.get(f"{name}=={version}")
        first = failure.strip().splitlines()[0][:200] if failure and failure.strip() else None
        if info is not None and failure is None:
            if not info.yanked:
                continue
            why = "yanked" + (f" ({info.yanked_reason})" if info.yanked_reason else "")
        else:
            why = why_unusable(
                files,
                target=target,
                exclude_newer=exclude_newer,
                usable=info is not None,
                build_failure=first,
            )
        out.append(f"  {name} {version}: {why}")
        if len(out) >= limit:
            break
    return out
