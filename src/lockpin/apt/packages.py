"""From deb822 stanzas to :class:`~lockpin.apt.models.Package` values: an archive's
``Packages`` index entries and the installed entries of a dpkg status file.

Pure. Every field lockpin relies on is checked, because it becomes part of a
lock, a URL or a file name: the package name (Policy 5.6.1), the version
(:mod:`lockpin.apt.version`), the architecture, the relation fields
(:mod:`lockpin.apt.relation`), ``Filename`` (the pool-path rule the lock
applies too, :mod:`lockpin.apt.poolpath`: a relative path of
``A-Za-z0-9._+~%-`` and ``/``, no ``/`` at the start, no empty, ``.`` or ``..``
segment, also not percent-encoded, no whitespace or control character),
``Size`` (a decimal number below 2**63, the lock's TOML integer) and
``SHA256`` (64 hex digits, kept lower-case). A stanza that fails raises
:class:`PackageStanzaError` naming the package and the field.

A dpkg status file (:func:`parse_status`) is read as apt reads it, which the
real ``apt-get -s`` confirms: a package counts as installed in every state but
``not-installed`` and ``config-files``, whatever the selection (``install``,
``hold``, ``deinstall``, ``purge``) and the ``reinstreq`` flag. So
``unpacked`` and ``half-configured`` packages satisfy dependencies (apt only
adds a ``Conf`` step for them), and so do ``half-installed`` ones and those
with pending or awaited triggers. A ``Status`` that is not three of dpkg's words
(``want flag state``) is an error, as dpkg refuses it too (apt stops with "is
not ok and I don't know how to fix it" on a flag other than ``ok`` or
``reinstreq``). The name of an installed entry follows dpkg's own rule, laxer
than Policy's (a letter or digit first, then letters, digits and ``+ - . _``;
dpkg folds it to lower case, and so does lockpin): a locally built package
that dpkg installed must not make the base unreadable.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final, cast

from .._text import clip
from .deb822 import iter_stanzas
from .models import INSTALLED, MultiArch, Package
from .poolpath import pool_path_problem
from .relation import RelationError, parse_provides, parse_relations
from .version import InvalidVersion, parse_version

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .relation import Relation, Relations

__all__ = [
    "PackageStanzaError",
    "is_installed_status",
    "package_from_stanza",
    "parse_status",
]

_NAME: Final = re.compile(r"[a-z0-9][a-z0-9+.-]+")
#: dpkg's rule (``dpkg --validate-pkgname``), for the entries of a status file
_DPKG_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9+._-]*")
_ARCH: Final = re.compile(r"[a-z0-9][a-z0-9-]*")
_SHA256: Final = re.compile(r"[0-9a-fA-F]{64}")
# at most 19 digits: int() stays cheap and the value fits the lock's 64-bit integer
_SIZE: Final = re.compile(r"[0-9]{1,19}")
_MAX_SIZE: Final = 2**63 - 1
_MULTI_ARCH: Final = frozenset({"no", "same", "foreign", "allowed"})
_RELATION_FIELDS: Final = (
    ("depends", "Depends"),
    ("pre-depends", "Pre-Depends"),
    ("recommends", "Recommends"),
    ("conflicts", "Conflicts"),
    ("breaks", "Breaks"),
)
#: dpkg states of a package whose files are on disk and configured, which dpkg
#: counts as satisfying a dependency (pending triggers do not undo that).
_WANTS: Final = ("unknown", "install", "hold", "deinstall", "purge")
_FLAGS: Final = ("ok", "reinstreq")
_STATES: Final = (
    "not-installed",
    "config-files",
    "half-installed",
    "unpacked",
    "half-configured",
    "triggers-awaited",
    "triggers-pending",
    "installed",
)
#: the states in which apt counts a package's version as installed (module docstring)
_INSTALLED_STATES: Final = frozenset(_STATES[2:])


class PackageStanzaError(ValueError):
    """A stanza that is not a usable package entry. ``package`` is its name (``""``
    when it has none), ``field`` the field at fault (``Package``, ``SHA256``...)."""

    def __init__(self, message: str, *, package: str, field: str) -> None:
        self.package = package
        self.field = field
        who = f"package {clip(package, 80)!r}" if package else "a package entry"
        super().__init__(f"{who}: field {field}: {clip(message, 400)}")


def package_from_stanza(
    fields: Mapping[str, str],
    *,
    suite: str,
    origin: str,
    component: str = "",
    installed: bool = False,
) -> Package:
    """The :class:`Package` of one stanza (lower-cased field names, as
    :func:`~lockpin.apt.deb822.parse_stanza` gives them).

    ``Package``, ``Version`` and ``Architecture`` are mandatory; so are
    ``Filename``, ``Size`` and ``SHA256`` unless ``installed`` (a dpkg status
    entry, which has no file). ``Multi-Arch`` defaults to ``no`` (an unknown value
    counts as ``no``, as apt does), ``Source`` keeps the source name only.
    """
    name = fields.get("package", "")
    if not name:
        raise PackageStanzaError("missing", package="", field="Package")
    if installed and _DPKG_NAME.fullmatch(name) is not None:
        name = name.lower()
    elif _NAME.fullmatch(name) is None:
        raise PackageStanzaError(
            "not a valid package name (lower-case letters, digits, + - . only, at least "
            "two characters, starting with a letter or digit)",
            package=name,
            field="Package",
        )
    version = _required(fields, "version", "Version", name)
    try:
        parse_version(version)
    except InvalidVersion as exc:
        raise PackageStanzaError(exc.reason, package=name, field="Version") from None
    architecture = _required(fields, "architecture", "Architecture", name)
    if _ARCH.fullmatch(architecture) is None:
        raise PackageStanzaError(
            f"not a valid architecture name: {architecture!r}", package=name, field="Architecture"
        )

    relations: dict[str, Relations] = {}
    for key, label in _RELATION_FIELDS:
        text = fields.get(key)
        if text:
            try:
                relations[key] = parse_relations(text)
            except RelationError as exc:
                raise PackageStanzaError(str(exc), package=name, field=label) from None
    provides: tuple[Relation, ...] = ()
    if fields.get("provides"):
        try:
            provides = parse_provides(fields["provides"])
        except RelationError as exc:
            raise PackageStanzaError(str(exc), package=name, field="Provides") from None

    multi_arch = fields.get("multi-arch", "no").lower()
    essential = fields.get("essential", "no").lower()
    if essential not in ("yes", "no"):
        raise PackageStanzaError(
            f"must be 'yes' or 'no', not {fields['essential']!r}", package=name, field="Essential"
        )
    source = fields.get("source", "").split("(", 1)[0].strip()
    if source and _NAME.fullmatch(source) is None:
        raise PackageStanzaError(
            f"not a valid source name: {source!r}", package=name, field="Source"
        )

    filename = ""
    size = 0
    sha256 = ""
    if not installed:
        filename = _required(fields, "filename", "Filename", name)
        _check_filename(filename, name)
        size_text = _required(fields, "size", "Size", name)
        if _SIZE.fullmatch(size_text) is None or int(size_text) > _MAX_SIZE:
            raise PackageStanzaError(
                f"not a size in bytes: {size_text!r}", package=name, field="Size"
            )
        size = int(size_text)
        sha256 = _required(fields, "sha256", "SHA256", name)
        if _SHA256.fullmatch(sha256) is None:
            raise PackageStanzaError(
                f"not a sha256 digest (64 hex digits): {sha256!r}", package=name, field="SHA256"
            )
        sha256 = sha256.lower()

    return Package(
        name=name,
        version=version,
        architecture=architecture,
        suite=suite,
        origin=origin,
        multi_arch=cast("MultiArch", multi_arch) if multi_arch in _MULTI_ARCH else "no",
        essential=essential == "yes",
        priority=fields.get("priority", ""),
        depends=relations.get("depends", ()),
        pre_depends=relations.get("pre-depends", ()),
        recommends=relations.get("recommends", ()),
        conflicts=relations.get("conflicts", ()),
        breaks=relations.get("breaks", ()),
        provides=provides,
        filename=filename,
        size=size,
        sha256=sha256,
        source=source,
        component=component,
    )


def _required(fields: Mapping[str, str], key: str, label: str, name: str) -> str:
    value = fields.get(key, "")
    if not value:
        raise PackageStanzaError("missing or empty", package=name, field=label)
    if "\n" in value:
        raise PackageStanzaError("must be a single line", package=name, field=label)
    return value


def _check_filename(filename: str, name: str) -> None:
    """``Filename`` is joined to the mirror's URL and names the downloaded file:
    only a plain relative path can do that safely (:mod:`lockpin.apt.poolpath`,
    the rule the lock applies too)."""
    problem = pool_path_problem(filename)
    if problem is not None:
        raise PackageStanzaError(
            f"{filename!r} is not a plain relative path: {problem}", package=name, field="Filename"
        )


def is_installed_status(status: str) -> bool:
    """Whether a dpkg ``Status`` value (``want flag state``) means the package is
    installed, as apt reads it: any state but ``not-installed`` and
    ``config-files``, whatever the selection and flag (module docstring).
    :class:`ValueError` when it is not three of dpkg's words."""
    words = status.split()
    if len(words) != 3:
        raise ValueError(f"{status!r} is not 'want flag state' (e.g. 'install ok installed')")
    for word, allowed, what in zip(
        words, (_WANTS, _FLAGS, _STATES), ("want", "flag", "state"), strict=True
    ):
        if word not in allowed:
            raise ValueError(
                f"{word!r} in {status!r} is not a dpkg {what}: one of {', '.join(allowed)}"
            )
    return words[2] in _INSTALLED_STATES


def parse_status(text: str) -> list[Package]:
    """The installed packages of a dpkg status file (``/var/lib/dpkg/status``),
    in file order, with ``suite`` :data:`~lockpin.apt.models.INSTALLED`.

    Entries that are not installed (states ``not-installed`` and ``config-files``)
    are skipped without further checks; every other entry is one (module
    docstring). Raises :class:`~lockpin.apt.deb822.Deb822Error` or
    :class:`PackageStanzaError` (both ``ValueError``) for a malformed file.
    """
    packages = []
    for fields in iter_stanzas(text):
        name = fields.get("package", "")
        status = fields.get("status")
        if status is None:
            raise PackageStanzaError(
                "missing (not a dpkg status file?)", package=name, field="Status"
            )
        try:
            installed = is_installed_status(status)
        except ValueError as exc:
            raise PackageStanzaError(str(exc), package=name, field="Status") from None
        if installed:
            packages.append(package_from_stanza(fields, suite=INSTALLED, origin="", installed=True))
    return packages
