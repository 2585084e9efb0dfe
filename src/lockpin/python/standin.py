"""Which wheels of a release may lend their metadata to its sdist (pure: no I/O).

A release with no wheel for the target (``gevent==20.9.0`` on CPython 3.12: wheels up
to cp39 only) would need a PEP 517 build of its sdist to learn its dependencies,
and that build often fails on the machine that locks (no compiler, no ``proj``
executable, a Cython too new for the code). The release's other wheels carry core
metadata for the same name and version, which is what pip's and uv's resolvers
read too. :func:`stand_in_wheels` orders them by how much they resemble the target;
:func:`comparison_partner` picks a second one to check the first against; the
fetcher (:meth:`~lockpin.python.fetch.MetadataFetcher.fetch_sdist`) reads both and
uses them only when they agree.

Why a second wheel: a few projects compute ``Requires-Dist`` at build time per
interpreter or platform (an ``numpy>=X`` bound that follows the Python version, a
dependency added only on one OS without a marker). Two wheels that differ show the
metadata is not the release's but the build's: then only a build for the target
can tell, and the sdist is built. The lock never hashes a stand-in: its hashes stay
those of the files the target installs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from .models import parse_filename

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Iterable, Sequence

    from packaging.tags import Tag
    from packaging.version import Version

    from .metadata import CoreMetadata
    from .models import DistFile
    from .target import Target

__all__ = ["comparison_partner", "same_dependencies", "stand_in_wheels"]

# Spellings of one machine in wheel platform tags and in ``platform_machine``.
_MACHINES = {
    "amd64": "x86_64",
    "x86_64": "x86_64",
    "x64": "x86_64",
    "arm64": "aarch64",
    "aarch64": "aarch64",
    "i386": "x86",
    "i686": "x86",
    "x86": "x86",
    "win32": "x86",
    "armv7l": "armv7l",
    "ppc64le": "ppc64le",
    "ppc64": "ppc64",
    "s390x": "s390x",
    "riscv64": "riscv64",
}


def _family(platform: str) -> str | None:
    """The ``sys_platform`` a wheel platform tag is for; ``None`` for ``any``."""
    if platform == "any":
        return None
    if platform.startswith(("manylinux", "musllinux", "linux")):
        return "linux"
    if platform.startswith("macosx"):
        return "darwin"
    if platform.startswith("win"):
        return "win32"
    return platform.partition("_")[0]


def _machine(platform: str) -> str | None:
    """The machine a wheel platform tag is for; ``None`` for any or several."""
    if platform == "any" or platform.endswith(("universal", "universal2", "intel")):
        return None
    if platform == "win32":
        return "x86"
    for known, canonical in _MACHINES.items():
        if platform.endswith("_" + known):
            return canonical
    return platform.rpartition("_")[2]


def _tag_rank(tag: Tag, *, sys_platform: str, machine: str, minor: int) -> tuple[int, ...]:
    """Lower is more like the target: Python 3 (a Python 2 wheel's dependencies
    are another era's), same OS, same machine, CPython or generic, then the nearest
    Python version, older ones first (a wheel for an older interpreter is what the
    project shipped while the target's did not yet exist)."""
    family = _family(tag.platform)
    arch = _machine(tag.platform)
    interpreter = tag.interpreter
    kind = interpreter.rstrip("0123456789")
    digits = interpreter[len(kind) :]
    major = int(digits[0]) if digits else 3
    wheel_minor = int(digits[1:]) if len(digits) > 1 else minor
    return (
        0 if major == 3 else 1,
        0 if family in (None, sys_platform) else 1,
        0 if arch in (None, machine) else 1,
        0 if kind in ("cp", "py") else 1,
        0 if wheel_minor <= minor else 1,
        abs(minor - wheel_minor),
    )


def _rank(filename: str, target: Target) -> tuple[int, ...] | None:
    try:
        _name, _version, _build, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return None
    markers = target.markers()
    sys_platform = markers.get("sys_platform", "")
    raw_machine = markers.get("platform_machine", "").lower()
    machine = _MACHINES.get(raw_machine, raw_machine)
    minor = target.python_version.release[1] if len(target.python_version.release) > 1 else 0
    ranks = [_tag_rank(t, sys_platform=sys_platform, machine=machine, minor=minor) for t in tags]
    return min(ranks) if ranks else None


def stand_in_wheels(
    files: Iterable[DistFile],
    *,
    version: Version | None = None,
    target: Target,
    exclude_newer: dt.datetime | None = None,
) -> tuple[DistFile, ...]:
    """The wheels of release ``version`` among ``files`` (all of them with
    ``version`` ``None``) that may lend it their metadata, most like ``target``
    first (ties by file name, so the order is the same on every run).

    Wheels uploaded after ``exclude_newer`` are left out (the cut-off says what
    the lock may know about), and so are yanked ones when any other is left.
    """
    found: list[tuple[tuple[int, ...], str, DistFile]] = []
    for f in files:
        if not f.is_wheel or f.uploaded_after(exclude_newer):
            continue
        parsed = parse_filename(f.filename)
        if parsed is None or (version is not None and parsed[1] != version):
            continue
        rank = _rank(f.filename, target)
        if rank is not None:
            found.append((rank, f.filename, f))
    found.sort(key=lambda item: (item[2].yanked, item[0], item[1]))
    return tuple(f for _rank_, _name, f in found)


def _tags_of(filename: str) -> frozenset[Tag]:
    try:
        return parse_wheel_filename(filename)[3]
    except InvalidWheelFilename:
        return frozenset()


def comparison_partner(wheels: Sequence[DistFile]) -> DistFile | None:
    """The wheel to check ``wheels[0]``'s metadata against: the next one, in the
    order :func:`stand_in_wheels` gives, built for another interpreter (the usual
    reason metadata differs: the target's interpreter is not the first wheel's),
    else for another platform; ``None`` when the release has one kind of wheel."""
    if len(wheels) < 2:
        return None
    first = _tags_of(wheels[0].filename)
    interpreters = {t.interpreter for t in first}
    others = [w for w in wheels[1:] if _tags_of(w.filename) != first]
    for w in others:
        if not ({t.interpreter for t in _tags_of(w.filename)} & interpreters):
            return w
    return others[0] if others else None


def same_dependencies(a: CoreMetadata, b: CoreMetadata) -> bool:
    """Whether two wheels' metadata say the same about dependencies: the same
    ``Requires-Dist`` (as a set, spelled normalized), ``Requires-Python`` and extras."""
    return (
        {str(r) for r in a.requires_dist} == {str(r) for r in b.requires_dist}
        and (a.requires_python or "").replace(" ", "") == (b.requires_python or "").replace(" ", "")
        and set(a.provides_extra) == set(b.provides_extra)
    )
