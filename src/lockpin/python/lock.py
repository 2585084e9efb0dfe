"""The :class:`Lock` value and its renderings (pure: no I/O).

``to_requirements_txt`` follows pip-compile's layout so existing tooling and
reviewers read it unchanged (:func:`render_requirement` writes one block, for
``lockpin hash`` too); ``to_pylock`` writes PEP 751, validated by
``packaging.pylock``.

Both renderers check every value they write (defence in depth behind the page
parsers): names are canonical, versions normalized, hashes ``sha256`` hex, and
no value can start a new line. Anything else raises :class:`LockpinError`
rather than reach a lockfile; free text in comments is escaped.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import InputError, LockpinError
from ..net.redact import redact_url
from .index import PYPI_SIMPLE, IndexConfig
from .models import DIST_SUFFIXES, WHEEL_SUFFIX, is_sha256, valid_digest
from .reqfile import is_vcs_url, join_marker, split_marker

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from packaging.pylock import Package
    from packaging.specifiers import SpecifierSet
    from packaging.utils import NormalizedName
    from packaging.version import Version

    from .target import Target

__all__ = [
    "Lock",
    "LockedBase",
    "LockedFile",
    "LockedPackage",
    "format_exclude_newer",
    "read_pylock_bases",
    "render_requirement",
    "same_lock_content",
]


@dataclass(frozen=True, slots=True)
class LockedFile:
    filename: str
    url: str
    sha256: str
    size: int | None = None
    upload_time: dt.datetime | None = None
    requires_python: str | None = None

    @property
    def is_wheel(self) -> bool:
        return self.filename.endswith(WHEEL_SUFFIX)


@dataclass(frozen=True, slots=True)
class LockedPackage:
    """One pinned release. ``marker`` is set when only some targets use it.

    ``direct`` is the requirement text for a VCS or local-path requirement that
    is pinned as given and cannot be hashed.
    """

    name: NormalizedName
    version: Version | None
    files: tuple[LockedFile, ...] = ()
    via: tuple[str, ...] = ()
    marker: str | None = None
    url: str | None = None
    direct: str | None = None
    targets: tuple[str, ...] = ()

    def hashes(self, targets: tuple[Target, ...] | None = None) -> tuple[str, ...]:
        files = self.files
        if targets:
            files = tuple(f for f in files if any(t.installs(f) for t in targets))
        return tuple(sorted({f.sha256 for f in files}))


_DIGEST = re.compile(r"sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128}")
_PLATFORM = re.compile(r"[a-z0-9_]+/[a-z0-9_]+(?:/[a-z0-9_]+)?")
_PYTHON = re.compile(r"[0-9]+\.[0-9]+(?:\.[0-9]+)?")
_LIBC_VERSION = re.compile(r"[0-9]+\.[0-9]+")
_WORD = re.compile(r"[a-z0-9][a-z0-9._+-]*")
_SNAPSHOT = re.compile(r"[0-9]{8}T[0-9]{6}Z")
_REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]*")
#: the keys of a ``[[tool.lockpin.bases]]`` entry, in the order written
_BASE_KEYS = (
    "reference",
    "pinned",
    "digest",
    "manifest-digest",
    "platform",
    "python-version",
    "libc",
    "libc-version",
    "distribution",
    "codename",
    "snapshot",
)
_REQUIRED_BASE_KEYS = frozenset(_BASE_KEYS[:5])


@dataclass(frozen=True, slots=True)
class LockedBase:
    """The base image one target of a lock was read from, as the lock records it
    (from :meth:`lockpin.image.base.BaseImage.locked`): ``reference`` normalised
    (``docker.io/library/python:3.12-slim``), ``pinned`` as a ``FROM`` writes it
    (``python:3.12-slim@sha256:…``), ``digest`` what it resolved to (an index's),
    ``manifest_digest`` the platform's manifest, and what was read there."""

    reference: str
    pinned: str
    digest: str
    manifest_digest: str
    platform: str
    python_version: str | None = None
    libc: str | None = None
    libc_version: str | None = None
    distribution: str | None = None
    codename: str | None = None
    snapshot: str | None = None

    def describe(self) -> str:
        """One line for headers: ``python:3.12-slim@sha256:… (linux/amd64):
        Python 3.12.7, glibc 2.36, debian bookworm``."""
        facts = []
        if self.python_version:
            facts.append(f"Python {self.python_version}")
        if self.libc is not None:
            facts.append(f"{self.libc} {self.libc_version}")
        if self.distribution is not None:
            facts.append(" ".join(x for x in (self.distribution, self.codename) if x))
        if self.snapshot:
            facts.append(f"snapshot {self.snapshot}")
        return f"{self.pinned} ({self.platform})" + (": " + ", ".join(facts) if facts else "")

    def to_table(self) -> dict[str, str]:
        """The ``[[tool.lockpin.bases]]`` entry: fixed key order, no empty keys;
        every value checked (:class:`~lockpin.errors.LockpinError` otherwise)."""
        values = {
            "reference": self.reference,
            "pinned": self.pinned,
            "digest": self.digest,
            "manifest-digest": self.manifest_digest,
            "platform": self.platform,
            "python-version": self.python_version,
            "libc": self.libc,
            "libc-version": self.libc_version,
            "distribution": self.distribution,
            "codename": self.codename,
            "snapshot": self.snapshot,
        }
        table = {k: v for k, v in values.items() if v is not None}
        problem = _base_problem(table)
        if problem is not None:
            raise LockpinError(
                f"refusing to write the lock: its base image {self.pinned!a} has {problem} "
                "(a lockpin bug, or data from a hostile image that slipped past its checks). "
                "Nothing was written; please report this."
            )
        return table

    @classmethod
    def from_table(cls, table: object, *, source: str) -> LockedBase:
        """An entry read back (``source`` names it in errors), checked as written."""
        if not isinstance(table, dict):
            raise InputError(f"{source}: a [[tool.lockpin.bases]] entry is not a table.")
        problem = _base_problem(table)
        if problem is not None:
            raise InputError(
                f"{source}: [[tool.lockpin.bases]] entry {ascii(table.get('pinned', ''))[:120]} "
                f"has {problem}. Do not edit the lock by hand: make it again with lockpin "
                "compile --base."
            )
        get = table.get
        return cls(
            reference=table["reference"],
            pinned=table["pinned"],
            digest=table["digest"],
            manifest_digest=table["manifest-digest"],
            platform=table["platform"],
            python_version=get("python-version"),
            libc=get("libc"),
            libc_version=get("libc-version"),
            distribution=get("distribution"),
            codename=get("codename"),
            snapshot=get("snapshot"),
        )


def _base_problem(table: Mapping[str, object]) -> str | None:
    """What is wrong with a bases entry (``None``: nothing)."""
    unknown = sorted(set(table) - set(_BASE_KEYS))
    if unknown:
        return f"unknown key(s) {', '.join(ascii(k) for k in unknown)}"
    missing = sorted(_REQUIRED_BASE_KEYS - set(table))
    if missing:
        return f"no {', '.join(missing)}"
    shapes = {
        "reference": _REFERENCE,
        "pinned": _REFERENCE,
        "digest": _DIGEST,
        "manifest-digest": _DIGEST,
        "platform": _PLATFORM,
        "python-version": _PYTHON,
        "libc-version": _LIBC_VERSION,
        "distribution": _WORD,
        "codename": _WORD,
        "snapshot": _SNAPSHOT,
    }
    for key, value in table.items():
        if not isinstance(value, str):
            return f"a {key} that is not a string"
        shape = shapes.get(key)
        if key == "libc":
            if value not in ("glibc", "musl"):
                return f"libc {ascii(value)[:40]} (glibc or musl)"
        elif shape is not None and shape.fullmatch(value) is None:
            return f"an invalid {key} {ascii(value)[:80]}"
    if ("libc" in table) != ("libc-version" in table):
        return "libc without libc-version, or the other way round"
    pinned = str(table["pinned"])
    if not pinned.endswith("@" + str(table["digest"])):
        return "a pinned reference that does not end with its digest"
    return None


def read_pylock_bases(data: Mapping[str, object], *, source: str) -> tuple[LockedBase, ...]:
    """The base images a parsed pylock.toml records (``[[tool.lockpin.bases]]``),
    validated: :class:`~lockpin.errors.InputError` naming ``source`` for an entry
    lockpin would not have written. ``()`` for a lock without them (or not
    lockpin's)."""
    tool = data.get("tool")
    ours = tool.get("lockpin") if isinstance(tool, dict) else None
    if not isinstance(ours, dict) or "bases" not in ours:
        return ()
    entries = ours["bases"]
    if not isinstance(entries, list):
        raise InputError(f"{source}: tool.lockpin.bases is not an array of tables.")
    return tuple(LockedBase.from_table(e, source=source) for e in entries)


def format_exclude_newer(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def render_requirement(text: str, hashes: Sequence[str], trailer: Sequence[str] = ()) -> str:
    """One requirement block in pip-compile's layout: ``text \\`` then one indented
    ``--hash=sha256:`` line per digest (each but the last continued), then the
    ``trailer`` lines (``# via`` annotations, comments) as given; ``text`` alone
    when there are no hashes.

    A digest that is not 64 hex digits raises :class:`InputError`: nothing but one
    token may follow ``--hash=``.
    """
    if not hashes:
        return "\n".join([text, *trailer])
    lines = [f"{text} \\"]
    for i, digest in enumerate(hashes):
        if not valid_digest("sha256", digest):
            raise InputError(
                f"refusing to write --hash=sha256:{ascii(digest)[1:-1]} for {text}: "
                "a sha256 digest is 64 hex digits. Fix or remove that hash."
            )
        lines.append(f"    --hash=sha256:{digest}" + (" \\" if i + 1 < len(hashes) else ""))
    return "\n".join([*lines, *trailer])


@dataclass(frozen=True, slots=True)
class Lock:
    """The result of :func:`lockpin.compile`: every pin for every target."""

    packages: tuple[LockedPackage, ...]
    targets: tuple[Target, ...]
    exclude_newer: dt.datetime | None = None
    index: IndexConfig = field(default_factory=IndexConfig)
    command: str | None = None
    warnings: tuple[str, ...] = ()
    #: the base images the targets were read from (``BaseImage.locked()``), recorded
    #: in the requirements header and in pylock's ``[[tool.lockpin.bases]]``; set
    #: like ``command``, after the resolution
    bases: tuple[LockedBase, ...] = ()
    #: ``--only-binary``/``--no-binary`` as the resolution applied them (canonical
    #: names or ``":all:"``): written into the lock, since pip installs from it
    #: with them and ``lockpin verify`` expects only the files they allow
    only_binary: frozenset[str] = frozenset()
    no_binary: frozenset[str] = frozenset()

    def get(self, name: str) -> LockedPackage | None:
        from packaging.utils import canonicalize_name

        key = canonicalize_name(name)
        return next((p for p in self.packages if p.name == key), None)

    # -- requirements.txt --------------------------------------------------------------------

    def _header(self) -> list[str]:
        lines = ["#"]
        if len(self.targets) == 1:
            lines.append(
                "# This file is autogenerated by lockpin for "
                + _comment(self.targets[0].describe())
            )
        else:
            lines.append("# This file is autogenerated by lockpin for these targets:")
            lines.extend(f"#   {_comment(t.describe())}" for t in self.targets)
        if self.command:
            lines += ["# by the following command:", "#", f"#    {_comment(self.command)}", "#"]
        if self.bases:
            lines.extend(f"# base image: {_comment(b.describe())}" for b in self.bases)
            lines.append("#")
        if self.exclude_newer is not None:
            lines.append(f"# exclude-newer: {format_exclude_newer(self.exclude_newer)}")
        indexes = self.index.indexes
        if indexes:
            lines.append(f"# index: {_comment(', '.join(redact_url(u) for u in indexes))}")
        if self.exclude_newer is not None or indexes:
            lines.append("#")
        return lines

    def _index_lines(self) -> list[str]:
        lines: list[str] = []
        cfg = self.index
        if cfg.no_index:
            lines.append("--no-index")
        elif cfg.index_url.rstrip("/") != PYPI_SIMPLE.rstrip("/"):
            lines.append(f"--index-url {_option_value(redact_url(cfg.index_url))}")
        if not cfg.no_index:
            lines.extend(
                f"--extra-index-url {_option_value(redact_url(u))}" for u in cfg.extra_index_urls
            )
        lines.extend(f"--find-links {_option_value(redact_url(u))}" for u in cfg.find_links)
        only, no = self.binary_options()
        # ":all:" first: pip reads these lines in order, and ":all:" resets the other
        # option; a name written after it is then an exception to it.
        for option, names in (("--no-binary", no), ("--only-binary", only)):
            lines.extend(f"{option} {n}" for n in names if n == ":all:")
        for option, names in (("--no-binary", no), ("--only-binary", only)):
            lines.extend(f"{option} {_binary_name(option, n)}" for n in names if n != ":all:")
        return lines

    def binary_options(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """``(only_binary, no_binary)`` as written into the lock, sorted: what pip,
        reading them, applies as lockpin did. Under ``--only-binary :all:`` every
        project is installed from wheels (``--only-binary`` wins, see
        :func:`~lockpin.python.models.formats_for`), so no ``--no-binary`` name is
        written (pip would let such a name beat ``:all:``); a ``--no-binary`` name
        also named by ``--only-binary`` is left out the same way."""
        only = tuple(sorted(self.only_binary))
        no = () if ":all:" in self.only_binary else tuple(sorted(self.no_binary - self.only_binary))
        return only, no

    def to_requirements_txt(
        self, *, header: bool = True, annotate: bool = True, target_hashes_only: bool = False
    ) -> str:
        out: list[str] = []
        if header:
            out.extend(self._header())
        index_lines = self._index_lines()
        if index_lines:
            out.extend(index_lines)
        if out:
            out.append("")
        targets = self.targets if target_hashes_only else None
        for pkg in self.packages:
            _check_package(pkg)
            if pkg.direct is not None:
                first = pkg.direct
            elif pkg.url is not None:
                first = f"{pkg.name} @ {redact_url(pkg.url)}"
            else:
                first = f"{pkg.name}=={pkg.version}"
            via: list[str] = []
            if annotate and len(pkg.via) == 1:
                via.append(f"    # via {_comment(pkg.via[0])}")
            elif annotate and pkg.via:
                via.append("    # via")
                via.extend(f"    #   {_comment(v)}" for v in pkg.via)
            hashes = pkg.hashes(targets) if pkg.direct is None else ()
            out.append(render_requirement(join_marker(first, pkg.marker), hashes, via))
        return "\n".join(out) + "\n"

    # -- pylock.toml -------------------------------------------------------------------------

    def to_pylock(self, *, target_hashes_only: bool = False) -> str:
        import tomli_w
        from packaging.markers import Marker
        from packaging.pylock import Package, PackageSdist, PackageWheel, Pylock
        from packaging.version import Version

        targets = self.targets if target_hashes_only else None
        packages = []
        index_url = None if self.index.no_index else redact_url(self.index.index_url)
        for pkg in self.packages:
            _check_package(pkg)
            if pkg.direct is not None:
                packages.append(_direct_package(pkg))
                continue
            files = [f for f in pkg.files if targets is None or any(t.installs(f) for t in targets)]
            wheels = [
                PackageWheel(
                    name=f.filename,
                    url=redact_url(f.url),
                    size=f.size,
                    upload_time=f.upload_time,
                    hashes={"sha256": f.sha256},
                )
                for f in files
                if f.is_wheel
            ]
            sdists = [f for f in files if not f.is_wheel]
            sdist = (
                PackageSdist(
                    name=sdists[0].filename,
                    url=redact_url(sdists[0].url),
                    size=sdists[0].size,
                    upload_time=sdists[0].upload_time,
                    hashes={"sha256": sdists[0].sha256},
                )
                if sdists
                else None
            )
            packages.append(
                Package(
                    name=pkg.name,
                    version=pkg.version,
                    marker=Marker(pkg.marker) if pkg.marker else None,
                    index=index_url if pkg.url is None and pkg.direct is None else None,
                    wheels=wheels or None,
                    sdist=sdist,
                )
            )
        environments = [Marker(_target_marker(t)) for t in self.targets]
        tool: dict[str, object] = {
            "targets": [t.describe() for t in self.targets],
        }
        if self.exclude_newer is not None:
            tool["exclude-newer"] = format_exclude_newer(self.exclude_newer)
        if self.command:
            tool["command"] = self.command
        only, no = self.binary_options()
        if only:  # PEP 751 has no place for them: pip's names, in lockpin's table
            tool["only-binary"] = list(only)
        if no:
            tool["no-binary"] = list(no)
        if self.bases:
            tool["bases"] = [b.to_table() for b in self.bases]
        lock = Pylock(
            lock_version=Version("1.0"),
            environments=environments,
            requires_python=_requires_python(self.targets),
            created_by="lockpin",
            packages=packages,
            tool={"lockpin": tool},
        )
        lock.validate()
        text = tomli_w.dumps(dict(lock.to_dict()))
        if self.bases:  # what is written must read back as written
            from .. import _toml

            again = read_pylock_bases(_toml.loads(text), source="pylock.toml")
            if again != self.bases:  # pragma: no cover - a bug
                raise LockpinError("the [[tool.lockpin.bases]] written do not read back")
        return text


_COMMAND_BLOCK = re.compile(r"^# by the following command:\n#\n#    [^\n]*\n#\n", re.M)


def same_lock_content(current: str, wanted: str, *, pylock: bool = False) -> bool:
    """Whether the lock text ``current`` (on disk) says what ``wanted`` says: the same
    text but for the command line recorded in the header (``-o`` or
    ``--output-file``, option order, absolute or relative paths: the same lock made
    another way). Pins, hashes, markers, option lines, targets, ``exclude-newer``
    and annotations are all compared. For a ``pylock`` (pylock.toml),
    ``tool.lockpin.command`` is what is left out."""
    if current == wanted:
        return True
    if not pylock:
        return _COMMAND_BLOCK.sub("", current, count=1) == _COMMAND_BLOCK.sub("", wanted, count=1)
    from .. import _toml

    try:
        old, new = _toml.loads(current), _toml.loads(wanted)
    except _toml.TOMLDecodeError:
        return False
    for data in (old, new):
        tool = data.get("tool")
        ours = tool.get("lockpin") if isinstance(tool, dict) else None
        if isinstance(ours, dict):
            ours.pop("command", None)
    return bool(old == new)


# -- what may be written -----------------------------------------------------------------------

_CANONICAL_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
# Every character that starts a new line for str.splitlines() (which is how pip
# reads a requirements file), and every other control character.
_LINE_BREAKING = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _comment(text: str) -> str:
    """Free text for a ``#`` comment, on one line whatever it holds."""
    return _LINE_BREAKING.sub(lambda m: ascii(m.group())[1:-1], text)


def _option_value(url: str) -> str:
    if _LINE_BREAKING.search(url) or any(c.isspace() for c in url):
        raise InputError(
            f"the index or find-links location {url!a} holds whitespace or control "
            "characters and cannot be written to a requirements file. Fix the URL or path."
        )
    return url


def _binary_name(option: str, name: str) -> str:
    if _CANONICAL_NAME.fullmatch(name) is None:
        raise LockpinError(
            f"refusing to write the lock: {option} {name!a} is not a canonical project "
            "name (a lockpin bug). Nothing was written; please report this."
        )
    return name


def _refused(pkg: LockedPackage, what: str, value: object) -> LockpinError:
    shown = ascii(value if len(str(value)) <= 200 else str(value)[:200] + "...")
    return LockpinError(
        f"refusing to write the lock: the {what} of {str(pkg.name)!a} is {shown}, "
        "which is not a value lockpin writes (a lockpin bug, or data from a hostile index "
        "that slipped past its checks). Nothing was written; please report this."
    )


def _check_package(pkg: LockedPackage) -> None:
    """Every name, version, marker, URL and hash of ``pkg`` is one that cannot
    change the meaning of the lock: a canonical name, a normalized version, a
    ``sha256`` of 64 hex digits, single-line requirement text."""
    from packaging.version import InvalidVersion, Version

    if not isinstance(pkg.name, str) or _CANONICAL_NAME.fullmatch(pkg.name) is None:
        raise _refused(pkg, "name", pkg.name)
    if pkg.direct is not None:
        if _LINE_BREAKING.search(pkg.direct):
            raise _refused(pkg, "requirement", pkg.direct)
    elif pkg.url is not None:
        url = redact_url(pkg.url)
        if _LINE_BREAKING.search(url) or any(c.isspace() for c in url):
            raise _refused(pkg, "URL", url)
    else:
        text = str(pkg.version) if isinstance(pkg.version, Version) else ""
        try:
            normalized = str(Version(text))
        except InvalidVersion:
            normalized = None
        if normalized != text:
            raise _refused(pkg, "version", pkg.version)
    if pkg.marker is not None and _LINE_BREAKING.search(pkg.marker):
        raise _refused(pkg, "marker", pkg.marker)
    for f in pkg.files:
        if not is_sha256(f.sha256):
            raise _refused(pkg, f"sha256 of {f.filename}", f.sha256)


def _direct_package(pkg: LockedPackage) -> Package:
    """A VCS, editable or local-path requirement (pinned as given) as a PEP 751 package.

    A local directory becomes a ``directory`` entry. VCS requirements and local
    archives cannot be written: PEP 751 requires a VCS commit id and an archive's
    hashes, and lockpin resolves neither.
    """
    from packaging.markers import InvalidMarker, Marker
    from packaging.pylock import Package, PackageDirectory

    text = pkg.direct or ""
    editable = text.startswith("-e ")
    where, marker_text = split_marker(text[3:] if editable else text)
    if is_vcs_url(where):
        raise InputError(
            f"{redact_url(text)}: a VCS requirement cannot be written to pylock.toml "
            "(PEP 751 records its commit id, which lockpin does not resolve). Use "
            "--format requirements, or refer to an archive: name @ https://…/<commit>.tar.gz."
        )
    path = where.partition("#")[0]
    if path.lower().startswith("file:"):
        from urllib.parse import unquote, urlsplit

        path = unquote(urlsplit(path).path)
    if path.lower().endswith(DIST_SUFFIXES):
        raise InputError(
            f"{text}: a local archive needs its hash in pylock.toml; refer to it as "
            "name @ file:///absolute/path so that lockpin hashes it."
        )
    marker = None
    if marker_text:
        try:
            marker = Marker(marker_text)
        except InvalidMarker:
            marker = None
    return Package(
        name=pkg.name,
        marker=marker,
        directory=PackageDirectory(path=path, editable=True if editable else None),
    )


def _requires_python(targets: tuple[Target, ...]) -> SpecifierSet | None:
    from packaging.specifiers import SpecifierSet

    minors = sorted({t.python_minor for t in targets})
    return SpecifierSet(",".join(f"=={m}.*" for m in minors)) if len(minors) == 1 else None


def _target_marker(target: Target) -> str:
    """The target as an ``environments`` entry: platform and Python minor version.

    ``python_version`` (not ``python_full_version``), like ``requires-python =
    "==3.12.*"``: a lock for ``--python-version 3.12`` must install on the 3.12.x
    of the image, and installers (uv) refuse environments that do not match.
    """
    env = target.markers()
    return (
        f"sys_platform == '{env['sys_platform']}' and "
        f"platform_machine == '{env['platform_machine']}' and "
        f"python_version == '{env['python_version']}'"
    )


def target_selector(target: Target, others: tuple[Target, ...]) -> str:
    """A marker true on ``target`` and false on every other target of the lock."""
    env = target.markers()
    same_os = all(o.markers()["sys_platform"] == env["sys_platform"] for o in others)
    machine = f"platform_machine == '{env['platform_machine']}'"
    return machine if same_os else f"sys_platform == '{env['sys_platform']}' and {machine}"
