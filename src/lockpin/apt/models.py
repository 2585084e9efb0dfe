"""Plain values of the apt side: a binary package as an archive's ``Packages`` index
lists it, and the interface the resolver sees the archive through.

Pure: no I/O. The relation fields hold parsed relations
(:mod:`lockpin.apt.relation`): a tuple of OR-groups, each a tuple of
:class:`~lockpin.apt.relation.Relation` (``a | b, c`` is ``((a, b), (c,))``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .relation import Relation, Relations

__all__ = [
    "DEFAULT_PIN_PRIORITY",
    "INSTALLED",
    "INSTALLED_PIN_PRIORITY",
    "MultiArch",
    "Package",
    "Universe",
]

MultiArch = Literal["no", "same", "foreign", "allowed"]

#: ``Package.suite`` of a package read from a dpkg status file (installed in the base).
INSTALLED = "installed"
#: apt's default pin priority of a suite's versions (``Package.pin_priority``)
DEFAULT_PIN_PRIORITY = 500
#: apt's pin priority of the installed version (the dpkg status file)
INSTALLED_PIN_PRIORITY = 100


@dataclass(frozen=True, slots=True)
class Package:
    """One version of one binary package for one architecture, from one suite.

    ``architecture`` is the package's own (``all`` for arch-independent
    packages). ``suite`` is the suite whose index listed it (``bookworm``,
    ``bookworm-security``) or :data:`INSTALLED` for a package of the base's
    dpkg status. ``pin_priority`` is the priority apt gives the versions of
    that suite by default (:attr:`lockpin.apt.release.Release.pin_priority`:
    500, 100 for a ``NotAutomatic``/``ButAutomaticUpgrades`` suite such as
    backports, 1 for a ``NotAutomatic`` one such as experimental); the
    resolver gives an installed package :data:`INSTALLED_PIN_PRIORITY`
    whatever it says. ``origin`` names the archive it came from (the mirror's base
    URL, credentials removed) so that two archives' suites of the same name
    stay apart. ``filename``/``size``/``sha256`` are empty/0 for installed
    packages.
    """

    name: str
    version: str
    architecture: str
    suite: str = ""
    origin: str = ""
    multi_arch: MultiArch = "no"
    essential: bool = False
    priority: str = ""
    depends: Relations = ()
    pre_depends: Relations = ()
    recommends: Relations = ()
    conflicts: Relations = ()
    breaks: Relations = ()
    provides: tuple[Relation, ...] = ()
    filename: str = ""
    size: int = 0
    sha256: str = ""
    source: str = ""
    #: the component (``main``, ``universe``) whose index listed it
    component: str = ""
    pin_priority: int = DEFAULT_PIN_PRIORITY
    extra: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    @property
    def key(self) -> tuple[str, str, str]:
        """``(name, architecture, version)``: what identifies it across suites."""
        return (self.name, self.architecture, self.version)


class Universe(Protocol):
    """Everything installable for one architecture, as the resolver sees it.

    Implemented over the verified ``Packages`` indexes of all suites
    (:mod:`lockpin.apt.archive`) and, in tests, by an in-memory fake.
    """

    @property
    def architecture(self) -> str:
        """The native architecture (``amd64``); packages of it and of ``all`` are seen."""
        ...

    def versions(self, name: str) -> Sequence[Package]:
        """Every version of the real package ``name`` (native arch or ``all``) in
        every suite; empty when no suite lists it. In the order of the sources
        (``sources.list`` order: the release, then -updates, then -security): of
        a version that several suites carry apt downloads the first (its
        ``VerFile`` list is in the order the indexes were read), and that is
        the suite a pin records."""
        ...

    def providers(self, name: str) -> Sequence[Package]:
        """Every package version whose ``Provides`` names ``name``."""
        ...

    def names(self) -> Sequence[str]:
        """Every real package name (for "did you mean" suggestions)."""
        ...
