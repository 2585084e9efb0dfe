"""Plain value types for what an index serves (PEP 503 / PEP 691 / PEP 700)."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Literal, Protocol, overload, runtime_checkable

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

if TYPE_CHECKING:
    import datetime as _dt
    from collections.abc import Collection

__all__ = [
    "ARCHIVE_SUFFIXES",
    "DIGEST_HEX_LENGTHS",
    "DIST_SUFFIXES",
    "SDIST_SUFFIXES",
    "WHEEL_SUFFIX",
    "DeferredFiles",
    "DistFile",
    "FileKind",
    "Formats",
    "PageTimes",
    "ProjectPage",
    "ReleaseGrouped",
    "Releases",
    "accepts_format",
    "formats_for",
    "group_releases",
    "is_dist_filename",
    "is_plain_filename",
    "is_sha256",
    "parse_filename",
    "valid_digest",
    "version_of",
    "version_text",
]

FileKind = Literal["wheel", "sdist"]

# -- what a distribution file is called ----------------------------------------------------------

#: The one suffix of a wheel.
WHEEL_SUFFIX: Final = ".whl"
#: Suffixes of the sdists lockpin reads (pip installs all four; PyPI still serves old
#: ``.tar.bz2`` and ``.tgz`` releases).
SDIST_SUFFIXES: Final = (".tar.gz", ".zip", ".tar.bz2", ".tgz")
#: Every distribution file lockpin reads from a page or a direct reference.
DIST_SUFFIXES: Final = (WHEEL_SUFFIX, *SDIST_SUFFIXES)
#: What pip takes for an archive when it decides whether requirement text is a path
#: (``foo-1.0.tar.xz`` is a file, not a project name): the distributions and the
#: other archive formats pip can unpack.
ARCHIVE_SUFFIXES: Final = (*DIST_SUFFIXES, ".tbz", ".tar.xz", ".txz", ".tar")

#: Which kinds of file a project may be installed from: ``"wheel"`` under
#: ``--only-binary``, ``"sdist"`` under ``--no-binary``.
Formats = Literal["any", "wheel", "sdist"]


def formats_for(name: str, *, only_binary: Collection[str], no_binary: Collection[str]) -> Formats:
    """The formats project ``name`` (canonical) may be installed from. Both sets hold
    canonical names or ``":all:"``; ``--only-binary`` wins when both name the project."""
    if ":all:" in only_binary or name in only_binary:
        return "wheel"
    if ":all:" in no_binary or name in no_binary:
        return "sdist"
    return "any"


def accepts_format(filename: str, formats: Formats) -> bool:
    """``filename`` is of a kind ``formats`` allows (anything but a wheel counts as an
    sdist: the page parsers let nothing else through)."""
    if formats == "any":
        return True
    return filename.endswith(WHEEL_SUFFIX) == (formats == "wheel")


class PageTimes:
    """Whether the page that listed a file gives upload times (PEP 700) at all;
    shared by the page's files.

    ``--exclude-newer`` needs them: on a page that gives upload times for some
    files, a file without a usable one is suspicious and is excluded; on a page
    that gives none (HTML, ``--find-links``) the cut-off cannot be applied, which
    is said once per project (:attr:`warned`).
    """

    __slots__ = ("given", "url", "warned")

    def __init__(self, url: str, *, given: bool) -> None:
        self.url = url
        self.given = given
        #: projects already warned about (the cut-off cannot be applied to them)
        self.warned: set[str] = set()


@dataclass(frozen=True, slots=True)
class DistFile:
    """One file of one release as an index lists it.

    ``hashes`` maps lower-case algorithm names to lower-case hex digests; the
    page parsers keep only well-formed digests of known algorithms
    (:func:`valid_digest`), so a ``sha256`` here is always 64 hex digits.
    ``core_metadata`` is ``True``/``False`` when the index said
    so, a ``{algo: digest}`` dict when it gave hashes, and ``None`` when it said
    nothing (the ``.metadata`` URL may exist anyway: probe it).
    """

    filename: str
    url: str
    hashes: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    requires_python: str | None = None
    yanked: bool = False
    yanked_reason: str | None = None
    size: int | None = None
    upload_time: _dt.datetime | None = None
    core_metadata: bool | dict[str, str] | None = field(default=None, hash=False, compare=False)
    #: the listing page's upload times (``None``: not from a page, e.g. a direct URL)
    page_times: PageTimes | None = field(default=None, hash=False, compare=False, repr=False)

    @property
    def sha256(self) -> str | None:
        return self.hashes.get("sha256")

    @property
    def is_wheel(self) -> bool:
        return self.filename.endswith(WHEEL_SUFFIX)

    def uploaded_after(self, cutoff: _dt.datetime | None) -> bool:
        """Uploaded after ``cutoff`` (``--exclude-newer``).

        A file without a usable upload time counts as uploaded after it when its
        page gives upload times for other files (a missing or junk time there is
        suspicious); when the page gives none (a local find-links file, an HTML
        index) it never does: see :attr:`PageTimes.warned`.
        """
        if cutoff is None:
            return False
        if self.upload_time is None:
            return self.page_times is not None and self.page_times.given
        return self.upload_time > cutoff


class DeferredFiles(Sequence[DistFile]):
    """A read-only sequence of files built only when first read (see
    :mod:`lockpin.python.pages`): subclasses say where the files come from."""

    __slots__ = ()

    def _source(self) -> Sequence[DistFile]:
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self._source())

    @overload
    def __getitem__(self, index: int) -> DistFile: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[DistFile]: ...
    def __getitem__(self, index: int | slice) -> DistFile | Sequence[DistFile]:
        return self._source()[index]

    def __iter__(self) -> Iterator[DistFile]:
        return iter(self._source())


#: A project's files grouped by release, newest first.
Releases = Sequence[tuple[Version, Sequence[DistFile]]]


@runtime_checkable
class ReleaseGrouped(Protocol):
    """A file list that knows its grouping by release (the lazily parsed pages of
    :mod:`lockpin.python.pages`): grouped once, by filename alone, so that files of
    releases nobody looks at are never built."""

    def releases(self) -> Releases:
        """The files grouped by release, newest first (the same object every call)."""
        ...


class _Group(DeferredFiles):
    """Some files of a list, by index: reading them materializes only these."""

    __slots__ = ("_files", "_indices", "_list")

    def __init__(self, files: Sequence[DistFile], indices: list[int]) -> None:
        self._files = files
        self._indices = indices
        self._list: list[DistFile] | None = None

    def __len__(self) -> int:
        return len(self._indices)

    def _source(self) -> Sequence[DistFile]:
        if self._list is None:
            files = self._files
            self._list = [files[i] for i in self._indices]
        return self._list


def group_releases(files: Sequence[DistFile], filenames: Sequence[str] | None = None) -> Releases:
    """``files`` grouped by release, newest first, without judging them.

    ``filenames`` (the filenames of ``files``, in order) lets a lazy list be grouped
    without building its files; a file whose version does not parse is left out.
    """
    names = [f.filename for f in files] if filenames is None else filenames
    by_version: dict[Version, list[int]] = defaultdict(list)
    for i, filename in enumerate(names):
        version = version_of(version_text(filename))
        if version is not None:
            by_version[version].append(i)
    return sorted(
        ((v, _Group(files, idx)) for v, idx in by_version.items()),
        key=lambda vf: vf[0],
        reverse=True,
    )


@dataclass(frozen=True, slots=True)
class ProjectPage:
    """A project's file list from one index page (already merged across pages)."""

    name: NormalizedName
    url: str
    files: Sequence[DistFile]


def parse_filename(filename: str) -> tuple[NormalizedName, Version, FileKind] | None:
    """Name, version and kind of a distribution filename; ``None`` if it is not one.

    Non-standard files (``.exe``, ``.egg``, ``.rpm``, legacy sdists that cannot
    be split unambiguously) are ignored, like pip does.
    """
    try:
        if filename.endswith(WHEEL_SUFFIX):
            name, version, _build, _tags = parse_wheel_filename(filename)
            return name, version, "wheel"
        if filename.endswith(_PACKAGING_SDIST_SUFFIXES):
            name, version = parse_sdist_filename(filename)
            return name, version, "sdist"
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return _parse_legacy_sdist(filename)
    # .tar.bz2 / .tgz sdists (old releases on PyPI) are installable by pip too.
    return _parse_legacy_sdist(filename)


def _parse_legacy_sdist(filename: str) -> tuple[NormalizedName, Version, FileKind] | None:
    """Old sdists such as ``Foo_Bar-1.0.tar.gz`` whose name packaging rejects."""
    for ext in SDIST_SUFFIXES:
        if filename.endswith(ext):
            stem = filename[: -len(ext)]
            break
    else:
        return None
    name, sep, version = stem.rpartition("-")
    if not sep or not name:
        return None
    try:
        return canonicalize_name(name), Version(version), "sdist"
    except InvalidVersion:
        return None


#: The sdist suffixes ``packaging.utils.parse_sdist_filename`` accepts (the others
#: are split by :func:`_parse_legacy_sdist`).
_PACKAGING_SDIST_SUFFIXES: Final = (".tar.gz", ".zip")
_VERSIONS: dict[str, Version | None] = {}


def version_text(filename: str) -> str | None:
    """The version part of a wheel or sdist filename, as written, by plain string
    splitting: the hot path of grouping tens of thousands of files per lock."""
    if filename.endswith(WHEEL_SUFFIX):
        parts = filename[:-4].split("-")
        return parts[1] if len(parts) in (5, 6) else None
    for ext in SDIST_SUFFIXES:
        if filename.endswith(ext):
            return filename[: -len(ext)].rpartition("-")[2] or None
    return None


def version_of(text: str | None) -> Version | None:
    """``Version(text)``, parsed once per distinct string; ``None`` when invalid."""
    if text is None:
        return None
    try:
        return _VERSIONS[text]
    except KeyError:
        pass
    try:
        version: Version | None = Version(text)
    except InvalidVersion:
        version = None
    _VERSIONS[text] = version
    return version


# -- what a page may put into a lock -----------------------------------------------------------

#: hashlib names an index may use (PEP 503/691) and the length of their hex digests
DIGEST_HEX_LENGTHS: dict[str, int] = {
    "md5": 32,
    "sha1": 40,
    "sha224": 56,
    "sha256": 64,
    "sha384": 96,
    "sha512": 128,
    "sha3_224": 56,
    "sha3_256": 64,
    "sha3_384": 96,
    "sha3_512": 128,
    "blake2s": 64,
    "blake2b": 128,
}
_HEX = re.compile(r"[0-9a-fA-F]+")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def valid_digest(algorithm: str, digest: object) -> bool:
    """``digest`` is hex of the exact length ``algorithm`` produces (either case).

    Anything else (a shorter value, ``z`` digits, a value carrying a newline and a
    second requirement line) must never be written next to ``--hash=``.
    """
    length = DIGEST_HEX_LENGTHS.get(algorithm)
    return (
        length is not None
        and isinstance(digest, str)
        and len(digest) == length
        and _HEX.fullmatch(digest) is not None
    )


def is_sha256(value: object) -> bool:
    """A normalized sha256 digest: exactly 64 lower-case hex digits."""
    return isinstance(value, str) and _SHA256.fullmatch(value) is not None


# A distribution filename is a plain basename of these characters only: project
# names, PEP 440 versions and wheel tags need nothing else, and this excludes
# every path separator, whitespace and control character by construction.
_FILENAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+!-]{0,254}")
_NAME_CACHE: dict[str, NormalizedName] = {}


def is_plain_filename(filename: str) -> bool:
    """Only the characters a distribution filename needs (no separators, spaces
    or control characters), and at most 255 of them."""
    return _FILENAME.fullmatch(filename) is not None


def is_dist_filename(filename: str, project: str | None = None) -> bool:
    """``filename`` is a plain wheel or sdist basename (of ``project`` when given).

    Cheap string checks only (the version is parsed once per distinct string):
    pages list tens of thousands of files. It agrees with :func:`parse_filename`
    on the name and version of every filename it accepts.
    """
    if not is_plain_filename(filename):
        return False
    if filename.endswith(WHEEL_SUFFIX):
        parts = filename[:-4].split("-")
        if len(parts) not in (5, 6) or not all(parts):
            return False
        if len(parts) == 6 and not parts[2][0].isdigit():
            return False  # a build tag starts with a digit
        name_part, version = parts[0], parts[1]
    else:
        for ext in SDIST_SUFFIXES:
            if filename.endswith(ext):
                name_part, _, version = filename[: -len(ext)].rpartition("-")
                break
        else:
            return False
    if not name_part or version_of(version) is None:
        return False
    if project is None:
        return True
    canonical = _NAME_CACHE.get(name_part)
    if canonical is None:
        if len(_NAME_CACHE) > 4096:  # a hostile page may spell the name many ways
            _NAME_CACHE.clear()
        canonical = _NAME_CACHE[name_part] = canonicalize_name(name_part)
    return canonical == project
