"""The environment a lock is made for: the image's interpreter and platform.

lockpin resolves for the Python inside the container image, not for the Python
running lockpin. A :class:`Target` names that interpreter (a CPython version)
and platform (a Docker platform such as ``linux/arm64`` or a wheel platform tag
such as ``manylinux_2_36_x86_64``) and answers the questions a resolver asks:
which wheel tags install there (:meth:`Target.wheel_priority`), does a
release's ``Requires-Python`` admit it (:meth:`Target.supports_python`), does
a file install there at all (:meth:`Target.installs`, the one place that rule
lives), and does a PEP 508 marker hold there (:meth:`Target.evaluate`).

Everything here is computed from the two inputs alone, except for the
``"host"`` platform, which describes the running interpreter.
"""

from __future__ import annotations

import functools
import logging
import re
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

from packaging import markers as _markers
from packaging import tags as _tags
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from lockpin.errors import InputError

from .models import WHEEL_SUFFIX, accepts_format

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from packaging.markers import Marker
    from packaging.tags import Tag

    from .models import Formats

__all__ = ["IndexedFile", "Target", "host_target", "parse_target"]

logger = logging.getLogger(__name__)

_OsKind = Literal["linux", "macos", "windows", "host"]

_MIN_MINOR = 8  # 3.8 dropped the "m" ABI suffix; older ABIs would need other tags.

#: glibc ceilings for Docker's linux platforms. amd64/arm64/ppc64le/s390x match
#: uv's ``*-unknown-linux-gnu`` targets (manylinux_2_28) and riscv64 its
#: manylinux_2_39; armv7l and i686 use the oldest manylinux image that builds
#: them today (manylinux_2_31 for armv7l: there has never been a manylinux2014
#: armv7l image, so a 2_17 ceiling would reject nearly every armv7l wheel).
_DOCKER_ARCHES: dict[str, tuple[str, int]] = {
    "amd64": ("x86_64", 28),
    "arm64": ("aarch64", 28),
    "arm/v7": ("armv7l", 31),
    "386": ("i686", 28),
    "ppc64le": ("ppc64le", 28),
    "s390x": ("s390x", 28),
    "riscv64": ("riscv64", 39),
}

#: Spellings Docker (containerd) normalizes to the canonical ones above.
_DOCKER_ALIASES: dict[str, str] = {
    "amd64/v1": "amd64",
    "amd64/v2": "amd64",
    "amd64/v3": "amd64",
    "amd64/v4": "amd64",
    "x86_64": "amd64",
    "x86-64": "amd64",
    "arm64/v8": "arm64",
    "aarch64": "arm64",
    "arm": "arm/v7",
    "armhf": "arm/v7",
    "i386": "386",
}

_GLIBC_ARCHES = frozenset(
    {"x86_64", "i686", "aarch64", "armv7l", "ppc64", "ppc64le", "s390x", "riscv64", "loongarch64"}
)
_MUSL_ARCHES = frozenset(
    {"x86_64", "i686", "aarch64", "armv7l", "ppc64le", "s390x", "riscv64", "loongarch64"}
)
#: PEP 513/571/599 names for the glibc versions they pinned.
_LEGACY_MANYLINUX = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
_LEGACY_MANYLINUX_ARCHES = {
    "manylinux2014": _GLIBC_ARCHES - {"riscv64", "loongarch64"},
    "manylinux2010": frozenset({"x86_64", "i686"}),
    "manylinux1": frozenset({"x86_64", "i686"}),
}
_LEGACY_MANYLINUX_GLIBC = {name: minor for minor, name in _LEGACY_MANYLINUX.items()}
_WINDOWS_MACHINES = {"win_amd64": "AMD64", "win32": "x86", "win_arm64": "ARM64"}

_MANYLINUX_RE = re.compile(r"manylinux_(?P<major>\d+)_(?P<minor>\d+)_(?P<arch>[a-z0-9_]+)")
_LEGACY_RE = re.compile(r"(?P<name>manylinux(?:2014|2010|1))_(?P<arch>[a-z0-9_]+)")
_MUSLLINUX_RE = re.compile(r"musllinux_(?P<major>\d+)_(?P<minor>\d+)_(?P<arch>[a-z0-9_]+)")
_LINUX_RE = re.compile(r"linux_(?P<arch>[a-z0-9_]+)")
_MACOS_RE = re.compile(r"macosx_(?P<major>\d+)_(?P<minor>\d+)_(?P<arch>arm64|x86_64)")

_ACCEPTED_FORMS = (
    "Use a Docker platform (linux/amd64, linux/arm64, linux/arm/v7, linux/386, "
    "linux/ppc64le, linux/s390x, linux/riscv64), a wheel platform tag "
    "(manylinux_2_36_x86_64, manylinux2014_aarch64, musllinux_1_2_x86_64, linux_x86_64, "
    "macosx_11_0_arm64, win_amd64, win32, win_arm64), or 'host' for this machine."
)


class IndexedFile(Protocol):
    """A distribution file as an index lists it: what :meth:`Target.installs` reads
    (:class:`~lockpin.python.models.DistFile`, a lock's files, a hash result's)."""

    @property
    def filename(self) -> str: ...

    @property
    def requires_python(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class _Platform:
    """A parsed platform: what the markers and the wheel tags need to know."""

    label: str  # canonical spelling, the value of Target.platform
    os: _OsKind
    machine: str  # platform_machine ("" for host: taken from the running system)
    platform_tags: tuple[str, ...]  # most preferred first ("()" for host)


@dataclass(frozen=True, slots=True)
class _Environment:
    """Everything derived from (version, platform), built once per pair."""

    markers: Mapping[str, str]
    tags: tuple[Tag, ...]
    implementation: str
    primary_platform: str  # the platform tag describe() shows
    release: Version  # the version without its pre-release part, for Requires-Python
    # "interpreter-abi-platform" (lower case) -> rank: matching wheel filenames by
    # plain string lookups is ~10x faster than building Tag objects per file.
    text_priority: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class Target:
    """The interpreter and platform of the image a lock is made for.

    ``python_version`` is a full CPython version (``3.12`` is normalized to
    ``3.12.0``); ``platform`` is a canonical label: a Docker platform
    (``linux/amd64``), a wheel platform tag (``manylinux_2_36_x86_64``) or
    ``"host"``. Build one with :func:`parse_target` or :func:`host_target`;
    constructing it directly validates the same way and raises
    :class:`~lockpin.errors.InputError` for what it does not understand.

    Two targets are equal when version and platform are; the derived marker
    environment and tag table are cached per pair.
    """

    python_version: Version
    platform: str
    _env: _Environment = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        version = _normalize_version(self.python_version)
        spec = _parse_platform(self.platform)
        object.__setattr__(self, "python_version", version)
        object.__setattr__(self, "platform", spec.label)
        object.__setattr__(self, "_env", _environment(str(version), spec.label))

    def __reduce__(self) -> tuple[type[Target], tuple[Version, str]]:
        # Rebuild from the two inputs: the environment is derived (and cached),
        # so pickles stay small and never carry a stale tag table.
        return (Target, (self.python_version, self.platform))

    @property
    def python_minor(self) -> str:
        """``"3.12"``: the ``python_version`` marker value."""
        major, minor = self.python_version.release[:2]
        return f"{major}.{minor}"

    def markers(self) -> dict[str, str]:
        """The PEP 508 marker environment (a fresh dict; ``extra`` not included)."""
        return dict(self._env.markers)

    def tags(self) -> tuple[Tag, ...]:
        """Wheel tags this target installs, most preferred first."""
        return self._env.tags

    def wheel_priority(self, filename: str) -> int | None:
        """Rank of the best tag of wheel ``filename`` in :meth:`tags`; lower is better.

        ``None`` when no tag of the wheel fits this target, or when the name is
        not a valid wheel filename (pip skips those too).
        """
        if not filename.endswith(WHEEL_SUFFIX):
            return None
        parts = filename[:-4].split("-")
        if len(parts) not in (5, 6) or not all(parts):
            return None
        table = self._env.text_priority
        best: int | None = None
        interpreters, abis, platforms = (p.lower().split(".") for p in parts[-3:])
        for interpreter in interpreters:
            for abi in abis:
                for plat in platforms:
                    rank = table.get(f"{interpreter}-{abi}-{plat}")
                    if rank is not None and (best is None or rank < best):
                        best = rank
        if best is None:
            return None
        try:
            parse_wheel_filename(filename)  # reject what pip would reject
        except InvalidWheelFilename:
            return None
        return best

    def installs(self, file: IndexedFile, *, formats: Formats = "any") -> bool:
        """Whether pip would install ``file`` here: a wheel with a tag of this target
        or an sdist (of the kinds ``formats`` allows: ``"wheel"`` for
        ``--only-binary``, ``"sdist"`` for ``--no-binary``), whose ``Requires-Python``
        admits this interpreter. Anything that is not a wheel counts as an sdist: the
        page parsers let nothing else through.
        """
        filename = file.filename
        if not accepts_format(filename, formats):
            return False
        if filename.endswith(WHEEL_SUFFIX) and self.wheel_priority(filename) is None:
            return False
        return self.supports_python(file.requires_python)

    def supports_python(self, requires_python: str | None) -> bool:
        """Whether a ``Requires-Python`` value admits this target's interpreter.

        The release part of the version is checked (``3.13.0rc1`` counts as
        ``3.13.0``, as pip does), with pre-release versions allowed. A missing,
        empty or invalid specifier admits every version: pip ignores invalid
        ones too, and old releases on PyPI carry values like ``>=3.6.*``.
        """
        if requires_python is None:
            return True
        specifier = _requires_python(requires_python)
        if specifier is None:
            return True
        return specifier.contains(self._env.release, prereleases=True)

    def evaluate(self, marker: Marker, extras: Iterable[str] = ()) -> bool:
        """Whether ``marker`` holds on this target when ``extras`` are requested.

        With no extras, ``extra`` is the empty string, so ``extra == "x"`` is
        false. With extras, the marker holds when it holds for at least one of
        them evaluated alone, which is how pip selects an extra's dependencies.
        Names are compared normalized (``Foo_Bar`` matches ``foo-bar``).
        Comparisons the marker grammar cannot decide raise
        :class:`packaging.markers.UndefinedComparison`.
        """
        environment: dict[str, str] = dict(self._env.markers)
        selected = tuple(extras)
        if not selected:
            environment["extra"] = ""
            return marker.evaluate(environment)
        for extra in selected:
            environment["extra"] = extra
            if marker.evaluate(environment):
                return True
        return False

    def describe(self) -> str:
        """One line for lockfile headers, e.g.
        ``CPython 3.12.0 on linux/amd64 (manylinux_2_28_x86_64)``."""
        head = f"{self._env.implementation} {self.python_version} on {self.platform}"
        primary = self._env.primary_platform
        if primary and primary != self.platform:
            return f"{head} ({primary})"
        return head


def parse_target(*, python_version: str | None = None, platform: str | None = None) -> Target:
    """Build a :class:`Target` from command-line style strings.

    ``python_version`` is ``"3.12"`` (taken as 3.12.0) or ``"3.12.7"``; ``None``
    means the running interpreter's version. ``platform`` is a Docker platform,
    a wheel platform tag or ``"host"``; ``None`` means the running machine.
    Raises :class:`~lockpin.errors.InputError` for anything else.
    """
    version = _running_version() if python_version is None else _parse_version_text(python_version)
    return Target(version, "host" if platform is None else platform)


def host_target() -> Target:
    """The running interpreter on the running machine (pip's view of it)."""
    return Target(_running_version(), "host")


# -- versions ---------------------------------------------------------------


def _parse_version_text(text: str) -> Version:
    stripped = text.strip()
    if stripped.endswith("t") and stripped[:-1].replace(".", "").isdigit():
        raise InputError(
            f"--python-version {text!r}: free-threaded CPython is not supported yet; "
            "give the version without the 't' (e.g. 3.13)."
        )
    try:
        version = Version(stripped)
    except InvalidVersion:
        raise InputError(
            f"--python-version {text!r} is not a Python version; use e.g. 3.12 or 3.12.7."
        ) from None
    return _normalize_version(version, shown=text)


def _normalize_version(version: Version, *, shown: str | None = None) -> Version:
    """Check a CPython version and pad it to three release parts (3.12 → 3.12.0)."""
    if not isinstance(version, Version):
        raise TypeError(f"python_version must be a packaging Version, not {type(version).__name__}")
    what = f"--python-version {shown if shown is not None else str(version)!r}"
    if version.epoch or version.post is not None or version.dev is not None or version.local:
        raise InputError(f"{what}: use a plain CPython version such as 3.12 or 3.12.7.")
    release = version.release
    if not 2 <= len(release) <= 3:
        raise InputError(f"{what}: give major.minor or major.minor.micro, e.g. 3.12 or 3.12.7.")
    major, minor = release[0], release[1]
    micro = release[2] if len(release) == 3 else 0
    if major != 3 or minor < _MIN_MINOR:
        raise InputError(f"{what}: lockpin supports CPython 3.{_MIN_MINOR} and newer.")
    pre = "" if version.pre is None else f"{version.pre[0]}{version.pre[1]}"
    return Version(f"{major}.{minor}.{micro}{pre}")


def _running_version() -> Version:
    info = sys.version_info
    pre = {"alpha": "a", "beta": "b", "candidate": "rc"}.get(info.releaselevel)
    suffix = f"{pre}{info.serial}" if pre else ""
    return Version(f"{info.major}.{info.minor}.{info.micro}{suffix}")


# -- platforms --------------------------------------------------------------


def _unknown_platform(text: str, why: str = "") -> InputError:
    reason = f" ({why})" if why else ""
    return InputError(
        f"--platform {text!r} is not a platform lockpin knows{reason}. {_ACCEPTED_FORMS}"
    )


@functools.cache
def _parse_platform(text: str) -> _Platform:
    value = text.strip().lower()
    if value == "host":
        return _Platform("host", "host", "", ())
    if value.startswith("linux/"):
        arch = value.removeprefix("linux/")
        arch = _DOCKER_ALIASES.get(arch, arch)
        if arch not in _DOCKER_ARCHES:
            raise _unknown_platform(text, f"Docker architecture {arch!r} is not supported")
        machine, ceiling = _DOCKER_ARCHES[arch]
        return _Platform(f"linux/{arch}", "linux", machine, _manylinux_ladder(machine, ceiling))
    if match := _MANYLINUX_RE.fullmatch(value):
        arch, major, minor = match["arch"], int(match["major"]), int(match["minor"])
        _check_arch(text, arch, _GLIBC_ARCHES)
        floor = _glibc_floor(arch)
        if major != 2 or minor < floor:
            raise _unknown_platform(text, f"manylinux for {arch} starts at glibc 2.{floor}")
        return _Platform(value, "linux", arch, _manylinux_ladder(arch, minor))
    if match := _LEGACY_RE.fullmatch(value):
        name, arch = match["name"], match["arch"]
        _check_arch(text, arch, _LEGACY_MANYLINUX_ARCHES[name])
        ladder = _manylinux_ladder(arch, _LEGACY_MANYLINUX_GLIBC[name])
        return _Platform(value, "linux", arch, ladder)
    if match := _MUSLLINUX_RE.fullmatch(value):
        arch, major, minor = match["arch"], int(match["major"]), int(match["minor"])
        _check_arch(text, arch, _MUSL_ARCHES)
        if major != 1:
            raise _unknown_platform(text, "musllinux tags exist for musl 1.x only")
        musl = tuple(f"musllinux_1_{m}_{arch}" for m in range(minor, -1, -1))
        return _Platform(value, "linux", arch, (*musl, f"linux_{arch}"))
    if match := _LINUX_RE.fullmatch(value):
        arch = match["arch"]
        _check_arch(text, arch, _GLIBC_ARCHES)
        return _Platform(value, "linux", arch, (value,))
    if match := _MACOS_RE.fullmatch(value):
        arch, major, minor = match["arch"], int(match["major"]), int(match["minor"])
        if major < 10 or (arch == "arm64" and major < 11):
            raise _unknown_platform(text, f"no macOS {major}.{minor} for {arch}")
        ladder = tuple(_tags.mac_platforms((major, minor), arch))
        return _Platform(value, "macos", arch, ladder)
    if value in _WINDOWS_MACHINES:
        return _Platform(value, "windows", _WINDOWS_MACHINES[value], (value,))
    raise _unknown_platform(text)


def _check_arch(text: str, arch: str, allowed: frozenset[str]) -> None:
    if arch not in allowed:
        raise _unknown_platform(
            text, f"architecture {arch!r} is not one of {', '.join(sorted(allowed))}"
        )


def _glibc_floor(arch: str) -> int:
    # manylinux1 (glibc 2.5) and manylinux2010 (2.12) only ever covered x86.
    return 5 if arch in {"x86_64", "i686"} else 17


def _manylinux_ladder(arch: str, ceiling: int) -> tuple[str, ...]:
    """manylinux_2_<ceiling> down to the oldest, legacy aliases after their
    equivalent, then ``linux_<arch>``: last, unlike pip on a host, because a
    wheel built on some other Linux says nothing about the image's glibc."""
    ladder: list[str] = []
    for minor in range(ceiling, _glibc_floor(arch) - 1, -1):
        ladder.append(f"manylinux_2_{minor}_{arch}")
        legacy = _LEGACY_MANYLINUX.get(minor)
        if legacy is not None and arch in _LEGACY_MANYLINUX_ARCHES[legacy]:
            ladder.append(f"{legacy}_{arch}")
    ladder.append(f"linux_{arch}")
    return tuple(ladder)


# -- environments -----------------------------------------------------------

_OS_MARKERS: dict[_OsKind, dict[str, str]] = {
    "linux": {"os_name": "posix", "sys_platform": "linux", "platform_system": "Linux"},
    "macos": {"os_name": "posix", "sys_platform": "darwin", "platform_system": "Darwin"},
    "windows": {"os_name": "nt", "sys_platform": "win32", "platform_system": "Windows"},
}


@functools.cache
def _environment(version_text: str, label: str) -> _Environment:
    version = Version(version_text)
    spec = _parse_platform(label)
    if spec.os == "host" and version == _running_version():
        markers = _host_markers()
        tags = tuple(_tags.sys_tags())
        implementation = markers["platform_python_implementation"]
    elif spec.os == "host":
        # The running machine with another CPython: host platforms, target version.
        markers = {**_host_markers(), **_cpython_markers(version)}
        tags = _cpython_tags(version, tuple(_tags.platform_tags()))
        implementation = "CPython"
    else:
        markers = {
            **_OS_MARKERS[spec.os],
            **_cpython_markers(version),
            "platform_machine": spec.machine,
            # The kernel release and build string of whatever host will run the
            # image are unknowable at lock time (a container shares the host's
            # kernel). With "", version comparisons (even !=) are false and
            # substring tests find nothing, so no dependency hinges on a guess.
            "platform_release": "",
            "platform_version": "",
        }
        tags = _cpython_tags(version, spec.platform_tags)
        implementation = "CPython"
    markers = dict(sorted(markers.items()))
    # "interpreter-abi-platform" -> the rank of its first (best) occurrence
    text_priority: dict[str, int] = {}
    for rank, tag in enumerate(tags):
        text_priority.setdefault(str(tag), rank)
    # packaging ranks linux_<arch> first on a host; name the manylinux level instead.
    platforms = [tag.platform for tag in tags if tag.platform != "any"]
    primary = next(
        (p for p in platforms if not p.startswith("linux_")), platforms[0] if platforms else ""
    )
    release = Version(".".join(str(part) for part in version.release))
    return _Environment(markers, tags, implementation, primary, release, text_priority)


@functools.lru_cache(maxsize=4096)
def _requires_python(text: str) -> SpecifierSet | None:
    """Parsed ``Requires-Python``; ``None`` for empty or invalid values.

    Cached because every file of a release repeats the same few strings.
    """
    if not text.strip():
        return None
    try:
        return SpecifierSet(text)
    except InvalidSpecifier:
        logger.debug("ignoring invalid Requires-Python %r", text)
        return None


def _host_markers() -> dict[str, str]:
    # Environment is a TypedDict whose values are all str; copy it into a plain dict.
    return {key: str(value) for key, value in _markers.default_environment().items()}


def _cpython_markers(version: Version) -> dict[str, str]:
    major, minor = version.release[:2]
    return {
        "implementation_name": "cpython",
        "implementation_version": str(version),
        "platform_python_implementation": "CPython",
        "python_full_version": str(version),
        "python_version": f"{major}.{minor}",
    }


def _cpython_tags(version: Version, platforms: tuple[str, ...]) -> tuple[Tag, ...]:
    """The ordering pip uses: cpXY ABI, abi3 (this and older minors), none,
    then pure-Python tags for the platforms, then ``-any``."""
    py = (version.release[0], version.release[1])
    interpreter = f"cp{py[0]}{py[1]}"
    specific = _tags.cpython_tags(py, abis=[interpreter], platforms=platforms)
    generic = _tags.compatible_tags(py, interpreter, platforms)
    return (*specific, *generic)
