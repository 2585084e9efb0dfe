"""The closure of requested Debian/Ubuntu packages, planned as ``apt-get install
--no-install-recommends`` plans it inside the image.

Pure: the archive is seen through the :class:`~lockpin.apt.models.Universe`
protocol, the image's dpkg status as a list of installed packages.

The plan follows apt's own marking algorithm (apt-pkg ``depcache.cc``,
``pkgDepCache::MarkInstall`` and its ``MarkInstall_*`` helpers, apt 2.6), so that
the versions lockpin pins are the versions ``apt-get install`` would pick:

* one *candidate* version per package (``policy.cc`` ``GetCandidateVer``): the
  version of the highest default pin priority, the highest of those (a suite
  has 500, a ``NotAutomatic`` one such as experimental 1, a
  ``ButAutomaticUpgrades`` one such as backports 100:
  :attr:`~lockpin.apt.models.Package.pin_priority`); an installed version
  (priority 100) stays the candidate unless a newer one has a higher priority,
  and nothing older is a candidate, so nothing is downgraded
  (:func:`_apt_candidate`). A package only a backports suite has is installable
  (that version is its only candidate); a dependency only a backports version
  satisfies is not, as in apt. Of a version that several suites carry, the
  first suite in the order of the sources is the one recorded (apt downloads it
  from there). A requested relation (``name=version`` takes that version, from
  any suite) or a preference (the pin of an existing lock) may choose another
  version.
* every requested package is marked first (``TryToInstall``), then their
  dependencies are installed one requested package after the other
  (``doAutoInstall``), depth first, in the order apt stores a version's
  relations: Pre-Depends, Depends, Conflicts, Breaks, Recommends.
* an OR-group already satisfied by what is installed or marked needs nothing;
  otherwise the candidates that satisfy it (``getAllPossibleSolutions``): those
  of installed packages first, then new ones, each alternative's providers ordered
  as ``CompareProviders`` orders them; the first one that can be installed wins.
  Only candidate versions count: a dependency that only an older version would
  satisfy is unsatisfiable (apt-get says "but 2.0 is to be installed").
* a package whose Depends cannot be satisfied by the candidates is not
  installable (``IsInstallOkDependenciesSatisfiableByCandidates``), and the next
  alternative is tried; a package being installed is protected from changes by
  its own dependencies, and protection propagates down single-solution chains
  of a requested package.
* Conflicts/Breaks: a conflicting marked package is unmarked, a conflicting
  installed one upgraded when its candidate escapes the conflict, else removed
  (``MarkInstall_RemoveConflictsIfNotUpgradeable``); upgrading an installed
  package upgrades its installed reverse dependencies that the new version would
  break (``MarkInstall_CollectReverseDepends``) and the other installed binaries
  of its source at the same source version (``MarkInstall_UpgradeOtherBinaries``).
* new installs nothing reaches any more (after an alternative fell through) are
  dropped again, as apt-get's ``DoAutomaticRemove`` drops them.

Where apt would hand a broken plan to its problem resolver (``algorithms.cc``),
lockpin stops with a :class:`~lockpin.errors.ResolutionError` that names the
chain of packages that led there. One deliberate look-ahead apt's marking lacks:
among several candidates of an OR-group, those that conflict with a package
already marked or installed (and not upgradable out of the conflict) are tried
last, which is where apt's problem resolver usually ends up.

Multi-Arch: only the native architecture and ``all`` exist here. ``foo:any`` is
satisfied by ``foo`` when that version is ``Multi-Arch: allowed`` and by the
``Provides`` of ``Multi-Arch: allowed`` packages (apt's implicit ``foo:any``
provides, ``deblistparser.cc`` ``ParseProvides``); ``foo:native`` and
``foo:<native arch>`` are plain ``foo``.
"""

from __future__ import annotations

import difflib
import functools
import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import NoSuchPackageError, NoSuchVersionError, ResolutionError
from .models import DEFAULT_PIN_PRIORITY, INSTALLED_PIN_PRIORITY
from .relation import Relation
from .version import compare_versions, satisfies, version_key

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

    from .models import Package, Universe
    from .relation import Relations

__all__ = [
    "ProviderTie",
    "Removal",
    "Resolution",
    "Resolved",
    "apt_package_order",
    "base_from_archive",
    "resolve",
]


@dataclass(frozen=True, slots=True)
class Resolved:
    """One package of the plan.

    ``required_by`` holds the requested names (as written in ``apt.in``) whose
    closure pulled it in, sorted; a requested package lists itself.
    ``upgrade_of`` is the installed version it replaces, else ``None``.
    """

    package: Package
    required_by: tuple[str, ...]
    upgrade_of: str | None = None

    @property
    def name(self) -> str:
        return self.package.name

    @property
    def version(self) -> str:
        return self.package.version


@dataclass(frozen=True, slots=True)
class Removal:
    """An installed package the plan removes (apt-get: "The following packages
    will be REMOVED"): ``package`` is the installed version, ``by`` the planned
    package that forces it out and ``reason`` what of ``by`` does, as a phrase
    that follows its name (``"conflicts with zz"``, ``"breaks zz (<< 2)"``)."""

    package: Package
    by: str
    reason: str

    @property
    def name(self) -> str:
        return self.package.name


@dataclass(frozen=True, slots=True)
class ProviderTie:
    """A dependency on ``virtual`` that several providers satisfy equally well by
    every rule apt ranks them by, so that apt's package ids decide
    (``CompareProviders``' last word) and, without them (``package_order``),
    lockpin's choice ``chosen`` is a guess among ``candidates`` (sorted, with
    ``chosen``). ``needed_by`` is the package whose dependency it is."""

    virtual: str
    chosen: str
    candidates: tuple[str, ...]
    needed_by: str


@dataclass(frozen=True, slots=True)
class Resolution:
    """What ``apt-get install`` would do for one architecture.

    ``packages``: what it would unpack, sorted by name. ``satisfied_by_base``:
    requested names already installed at the version that would be chosen
    (apt-get: "is already the newest version"), sorted. ``removals``: installed
    packages it would remove because a planned one conflicts with them and no
    candidate of theirs escapes the conflict, with who and why, sorted by name.
    ``selected``: ``(virtual, real)`` for each requested virtual name replaced by
    its only provider (apt-get: "Note, selecting 'real' instead of 'virtual'").
    ``ties``: choices among equal providers that apt would make by its package
    ids, which ``resolve`` was not given (:class:`ProviderTie`), sorted.
    """

    architecture: str
    packages: tuple[Resolved, ...]
    satisfied_by_base: tuple[str, ...] = ()
    removals: tuple[Removal, ...] = ()
    selected: tuple[tuple[str, str], ...] = ()
    ties: tuple[ProviderTie, ...] = ()

    @property
    def removed(self) -> tuple[Package, ...]:
        """The installed packages of :attr:`removals`."""
        return tuple(r.package for r in self.removals)

    def warnings(self) -> tuple[str, ...]:
        """What the user should hear about this plan: each removal (apt-get prints
        them too) and each choice among tied providers lockpin had to guess."""
        out: list[str] = []
        for removal in self.removals:
            planned = self.get(removal.by)
            by = f"{removal.by} {planned.version}" if planned is not None else removal.by
            out.append(
                f"the plan REMOVES installed {removal.name} {removal.package.version}: "
                f"{by} {removal.reason} (apt-get says: The following packages will be "
                "REMOVED). The lock records it under [[removals]], and the exported "
                f"script's apt-get removes it. If the image needs {removal.name}, drop "
                f"the request that pulls in {removal.by}, or pin other versions in apt.in."
            )
        for tie in self.ties:
            others = ", ".join(c for c in tie.candidates if c != tie.chosen)
            out.append(
                f"{tie.needed_by} depends on {tie.virtual}, which {tie.chosen} and "
                f"{others} provide equally well by apt's rules: apt-get would take the "
                "one its package cache happens to number last, which lockpin does not "
                f"see, and lockpin took {tie.chosen}. List the provider you want in "
                "apt.in to make the choice yours."
            )
        return tuple(out)

    def get(self, name: str) -> Resolved | None:
        """The planned package ``name``, or ``None``."""
        for item in self.packages:
            if item.package.name == name:
                return item
        return None

    def versions(self) -> dict[str, str]:
        """``{name: version}`` of the plan."""
        return {item.package.name: item.package.version for item in self.packages}


# ---------------------------------------------------------------------------
# relation matching (one architecture: native + all)

_PRIORITY_RANK = {"required": 1, "important": 2, "standard": 3, "optional": 4, "extra": 5}
_SUGGEST_CAP = 5


def _arch_plain(qualifier: str | None, native: str) -> bool:
    """Whether an architecture qualifier means "this architecture" (or none at all)."""
    return qualifier is None or qualifier in {"native", native}


def _real_matches(version: Package, rel: Relation, native: str) -> bool:
    """Whether the real package version ``version`` (named ``rel.name``) satisfies ``rel``."""
    if rel.arch_qualifier == "any":
        # apt gives `foo:any` only the implicit provides of M-A: allowed versions
        if version.multi_arch != "allowed":
            return False
    elif not _arch_plain(rel.arch_qualifier, native):
        return False
    if rel.op is None or rel.version is None:
        return True
    return satisfies(version.version, rel.op, rel.version)


def _provides_matches(version: Package, rel: Relation, native: str) -> bool:
    """Whether a ``Provides`` entry of ``version`` satisfies ``rel``.

    A versioned relation is satisfied only by a versioned provide (Policy 7.5).
    """
    for provide in version.provides:
        if provide.name != rel.name:
            continue
        if rel.arch_qualifier == "any":
            if not (
                provide.arch_qualifier == "any"
                or (provide.arch_qualifier is None and version.multi_arch == "allowed")
            ):
                continue
        elif not _arch_plain(rel.arch_qualifier, native) or not _arch_plain(
            provide.arch_qualifier, native
        ):
            continue
        if rel.op is None or rel.version is None:
            return True
        if provide.version is not None and satisfies(provide.version, rel.op, rel.version):
            return True
    return False


def _source_of(version: Package) -> tuple[str, str]:
    """``(source name, source version)``: ``Source: name (version)`` or the binary's own."""
    text = version.source.strip()
    if not text:
        return version.name, version.version
    name, _, rest = text.partition("(")
    source_version = rest.rstrip(") ").strip() if rest else version.version
    return name.strip() or version.name, source_version or version.version


def _is_important_flag(version: Package) -> bool:
    return any(
        key.lower() in {"protected", "important"} and value.strip().lower() == "yes"
        for key, value in version.extra
    )


def _sort_versions(versions: Iterable[Package]) -> list[Package]:
    """Highest version first; one version that several suites carry keeps the order
    of the sources (the universe's order), so that its first entry is the suite
    apt downloads it from (its ``VerFile`` list is in the order the indexes were
    read; apt-get download takes the first, whatever the suites' priorities)."""
    return sorted(versions, key=lambda p: version_key(p.version), reverse=True)


def _apt_candidate(versions: Sequence[Package], current: Package | None) -> Package | None:
    """apt's candidate (``policy.cc`` ``GetCandidateVer``) under its default pin
    priorities, without pins of the user's.

    ``versions`` are the archive's, sorted by :func:`_sort_versions`. Walking them
    from the highest, a version becomes the candidate when one of its suites gives
    it a higher priority than every version seen before (so: the highest
    priority wins, and among equal priorities the highest version). The installed
    version (priority 100 from the dpkg status, or its suites' if higher) ends the
    walk: nothing older is ever a candidate, and a newer version replaces it only
    when its priority is higher than 100, or equal to an installed version no suite
    has any more (a ``NotAutomatic`` suite's priority 1 never does; a
    ``ButAutomaticUpgrades`` one's 100 only then). Returns the chosen version's
    first entry (the suite apt downloads it from), or ``current`` itself.
    """
    entries = list(versions)
    if current is not None:
        # the dpkg status lists the installed version after every index
        entries = _sort_versions([*entries, current])
    best: Package | None = None
    top = 0
    for _key, same in itertools.groupby(entries, key=lambda p: version_key(p.version)):
        files = list(same)
        is_installed = current is not None and any(p is current for p in files)
        for entry in files:
            priority = INSTALLED_PIN_PRIORITY if entry is current else entry.pin_priority
            if priority > top:
                best, top = files[0], priority
        if is_installed:
            if best is None:
                best = files[0]
            break
    return best


def _group_text(group: Sequence[Relation]) -> str:
    return " | ".join(str(rel) for rel in group)


# ---------------------------------------------------------------------------
# the marking state

_KEEP, _INSTALL, _DELETE = 0, 1, 2
_MAX_DEPTH = 3000

#: relation fields in the order apt stores them (deblistparser.cc NewVersion)
_FIELDS = ("pre_depends", "depends", "conflicts", "breaks", "recommends")
_KIND_TEXT = {
    "pre_depends": "pre-depends on",
    "depends": "depends on",
    "conflicts": "conflicts with",
    "breaks": "breaks",
    "recommends": "recommends",
}


class _Node:
    """apt's per-package ``StateCache``: current, candidate and install version, mode."""

    __slots__ = ("candidate", "current", "install", "mode", "name", "protected", "versions")

    def __init__(self, name: str, versions: list[Package], current: Package | None) -> None:
        self.name = name
        self.versions = versions  # archive versions, highest first
        self.current = current
        self.candidate: Package | None = None
        self.install: Package | None = current
        self.mode = _KEEP
        self.protected = False

    def inst_ver(self, which: int) -> Package | None:
        if which == 0:
            return self.current
        if which == 1:
            return self.install
        return self.candidate


_NOW, _INST, _CAND = 0, 1, 2


class _Solver:
    def __init__(
        self,
        universe: Universe,
        installed: Sequence[Package],
        *,
        with_recommends: bool,
        preferences: Mapping[str, str],
        package_order: Mapping[str, int] | None = None,
    ) -> None:
        self.universe = universe
        self.package_order: Mapping[str, int] = package_order or {}
        self.native = universe.architecture
        self.with_recommends = with_recommends
        self.preferences = preferences
        self.installed: dict[str, Package] = {}
        for pkg in installed:
            if pkg.architecture in (self.native, "all"):
                self.installed[pkg.name] = pkg
        self._installed_provides: dict[str, set[str]] = {}
        self._installed_by_source: dict[str, list[str]] = {}
        self._installed_rdeps: dict[str, list[tuple[str, Relation, str]]] = {}
        for pkg in self.installed.values():
            for provide in pkg.provides:
                self._installed_provides.setdefault(provide.name, set()).add(pkg.name)
            self._installed_by_source.setdefault(_source_of(pkg)[0], []).append(pkg.name)
            for field in ("pre_depends", "depends", "recommends"):
                for group in getattr(pkg, field):
                    for rel in group:
                        self._installed_rdeps.setdefault(rel.name, []).append(
                            (pkg.name, rel, field)
                        )
        self.nodes: dict[str, _Node | None] = {}
        self._providers: dict[str, tuple[str, ...]] = {}
        #: name -> the package whose dependency marked it (None: requested)
        self.why: dict[str, str | None] = {}
        #: marks that are not dependencies: an upgrade done because of another package
        self.extra_edges: dict[str, set[str]] = {}
        self.requested: dict[str, str] = {}  # real name -> requested name
        #: installed name -> (the package that removes it, why: "conflicts with zz")
        self.removed_by: dict[str, tuple[str, str]] = {}
        #: (package, installed package it upgrades) -> why: "breaks zz (<< 2)"
        self.upgrade_reasons: dict[tuple[str, str], str] = {}
        #: choices among equal providers that package_order did not decide
        self.ties: list[ProviderTie] = []
        #: name -> (the protected package whose Conflicts/Breaks discarded its
        #: candidate, the field, the relation)
        self.discarded_by: dict[str, tuple[str, str, str]] = {}

    # -- lookups -----------------------------------------------------------

    def node(self, name: str) -> _Node | None:
        try:
            return self.nodes[name]
        except KeyError:
            pass
        versions = [
            p for p in self.universe.versions(name) if p.architecture in (self.native, "all")
        ]
        current = self.installed.get(name)
        if not versions and current is None:
            self.nodes[name] = None
            return None
        node = _Node(name, _sort_versions(versions), current)
        node.candidate = self._default_candidate(node)
        self.nodes[name] = node
        return node

    def _normalize(self, node: _Node, version: Package | None) -> Package | None:
        """The installed package stands for its own version in any suite."""
        if (
            version is not None
            and node.current is not None
            and compare_versions(version.version, node.current.version) == 0
        ):
            return node.current
        return version

    def _default_candidate(self, node: _Node) -> Package | None:
        wanted = self.preferences.get(node.name)
        if wanted is not None:
            for version in node.versions:
                if version.version == wanted and (
                    node.current is None
                    or compare_versions(version.version, node.current.version) >= 0
                ):
                    return self._normalize(node, version)
        return self._normalize(node, _apt_candidate(node.versions, node.current))

    def provider_names(self, name: str) -> tuple[str, ...]:
        try:
            return self._providers[name]
        except KeyError:
            pass
        names = {
            p.name for p in self.universe.providers(name) if p.architecture in (self.native, "all")
        }
        names |= self._installed_provides.get(name, set())
        result = tuple(sorted(names))
        self._providers[name] = result
        return result

    # -- relation state ------------------------------------------------------

    def atom_ok(self, rel: Relation, parent: str, which: int, *, negative: bool = False) -> bool:
        """apt's ``CheckDep``: is ``rel`` matched by the now/install/candidate versions?

        For a negative relation the result means "the conflict is hit"; a package
        never conflicts with itself or with what it provides itself.
        """
        node = self.node(rel.name)
        if node is not None and not (negative and rel.name == parent):
            version = node.inst_ver(which)
            if version is not None and _real_matches(version, rel, self.native):
                return True
        for provider in self.provider_names(rel.name):
            if negative and provider == parent:
                continue
            pnode = self.node(provider)
            if pnode is None:
                continue
            version = pnode.inst_ver(which)
            if version is not None and _provides_matches(version, rel, self.native):
                return True
        return False

    def group_ok(self, group: Sequence[Relation], parent: str, which: int) -> bool:
        return any(self.atom_ok(rel, parent, which) for rel in group)

    def matching(
        self, rel: Relation, parent: str, which: int, *, negative: bool = False
    ) -> list[str]:
        """Names whose now/install/candidate version matches ``rel``, real package first."""
        found: list[str] = []
        node = self.node(rel.name)
        if node is not None and not (negative and rel.name == parent):
            version = node.inst_ver(which)
            if version is not None and _real_matches(version, rel, self.native):
                found.append(rel.name)
        for provider in self.provider_names(rel.name):
            if provider in found or (negative and provider == parent):
                continue
            pnode = self.node(provider)
            if pnode is None:
                continue
            version = pnode.inst_ver(which)
            if version is not None and _provides_matches(version, rel, self.native):
                found.append(provider)
        return found

    def groups(self, version: Package) -> Iterator[tuple[str, tuple[Relation, ...]]]:
        """``(field, OR-group)`` of the relations apt acts on, in apt's order."""
        for field in _FIELDS:
            if field == "recommends" and not self.with_recommends:
                continue
            relations: Relations = getattr(version, field)
            if field in ("conflicts", "breaks"):
                # negative relations have no alternatives; treat each atom alone
                for group in relations:
                    for rel in group:
                        yield field, (rel,)
            else:
                yield from ((field, group) for group in relations)

    def broken(self, node: _Node, *, policy: bool = False) -> bool:
        """``InstBroken``/``InstPolicyBroken``: the install version's relations fail."""
        version = node.install
        if version is None:
            return False
        for field, group in self.groups(version):
            if field == "recommends" and not policy:
                continue
            if field in ("conflicts", "breaks"):
                if self.atom_ok(group[0], node.name, _INST, negative=True):
                    return True
            elif not self.group_ok(group, node.name, _INST):
                return True
        return False

    # -- provider order ------------------------------------------------------

    def compare_providers(self, target: str, a: str, b: str) -> int:
        """depcache.cc ``CompareProviders``: negative when ``a`` is preferred."""
        # apt's last word is the package's id in its cache: the one created later wins
        # (see apt_package_order); without that order, the name sorting last stands in
        return self.rank_providers(target, a, b) or self.order_compare(b, a)

    def rank_providers(self, target: str, a: str, b: str) -> int:
        """``CompareProviders`` up to its last word (0: the package ids decide)."""
        na, nb = self.node(a), self.node(b)
        assert na is not None
        assert nb is not None
        if na.protected != nb.protected:
            return -1 if na.protected else 1
        va, vb = na.candidate, nb.candidate
        assert va is not None
        assert vb is not None
        if va.multi_arch == "same" or vb.multi_arch == "same":
            inst_a = va.multi_arch == "same" and na.current is not None
            inst_b = vb.multi_arch == "same" and nb.current is not None
            if inst_a != inst_b:
                return -1 if inst_a else 1
        if (na.current is None) != (nb.current is None):
            return -1 if na.current is not None else 1
        if (a == target) != (b == target):
            return -1 if a == target else 1
        ess_a = va.essential or (na.current is not None and na.current.essential)
        ess_b = vb.essential or (nb.current is not None and nb.current.essential)
        if ess_a != ess_b:
            return -1 if ess_a else 1
        imp_a, imp_b = _is_important_flag(va), _is_important_flag(vb)
        if imp_a != imp_b:
            return -1 if imp_a else 1
        pa = _PRIORITY_RANK.get(va.priority, 0)
        pb = _PRIORITY_RANK.get(vb.priority, 0)
        if pa != pb:
            return -1 if pa < pb else 1
        return 0

    def guessed_ties(
        self, group: Sequence[Relation], parent: str, choices: Sequence[str]
    ) -> dict[str, str]:
        """``{"a b": virtual}`` for each pair of ``choices`` whose candidates provide
        an alternative of ``group`` equally well (:meth:`rank_providers`) and whose
        order ``package_order`` does not give: which apt takes is not known."""
        pairs: dict[str, str] = {}
        for rel in group:
            found = [n for n in self.matching(rel, parent, _CAND) if n in choices and n != rel.name]
            for a, b in itertools.combinations(found, 2):
                known = a in self.package_order and b in self.package_order
                if not known and self.rank_providers(rel.name, a, b) == 0:
                    pairs.setdefault(f"{a} {b}", rel.name)
                    pairs.setdefault(f"{b} {a}", rel.name)
        return pairs

    def order_key(self, name: str) -> tuple[int, str]:
        """Sort key of apt's package ids (``package_order``), names after them."""
        position = self.package_order.get(name)
        if position is None:
            return (len(self.package_order), name)
        return (position, "")

    def order_compare(self, a: str, b: str) -> int:
        """Negative when ``a`` comes first in apt's package order."""
        ka, kb = self.order_key(a), self.order_key(b)
        return -1 if ka < kb else (1 if ka > kb else 0)

    def solutions(self, group: Sequence[Relation], parent: str) -> list[str]:
        """``getAllPossibleSolutions(..., CANDIDATE, sorted=true)`` for a positive group."""
        upgrades: list[str] = []
        new: list[str] = []
        for rel in group:
            found = self.matching(rel, parent, _CAND)
            found.sort(
                key=functools.cmp_to_key(functools.partial(self.compare_providers, rel.name))
            )
            for name in found:
                node = self.node(name)
                assert node is not None
                (upgrades if node.current is not None else new).append(name)
        result: list[str] = []
        for name in upgrades + new:
            if name in result:
                continue
            node = self.node(name)
            assert node is not None
            if node.protected and (
                node.mode == _DELETE or (node.mode == _KEEP and node.current is None)
            ):
                continue
            result.append(name)
        return result

    def conflicts_with_plan(self, name: str) -> bool:
        """The look-ahead: would ``name``'s candidate hit a Conflicts/Breaks with a
        marked package (either way round), or with an installed one whose own
        candidate is hit too (so that apt would have to remove it)?"""
        node = self.node(name)
        assert node is not None
        version = node.candidate
        if version is None:
            return False
        for field in ("conflicts", "breaks"):
            for group in getattr(version, field):
                for rel in group:
                    for other in self.matching(rel, name, _INST, negative=True):
                        onode = self.node(other)
                        assert onode is not None
                        if onode.mode == _INSTALL or onode.protected:
                            return True
                        ocand = onode.candidate
                        if (
                            ocand is None
                            or ocand is onode.current
                            or (
                                _real_matches(ocand, rel, self.native)
                                or _provides_matches(ocand, rel, self.native)
                            )
                        ):
                            return True
        provided = {p.name for p in version.provides}
        for other_name, marked in self.nodes.items():
            if marked is None or other_name == name or marked.install is None:
                continue
            if marked.mode != _INSTALL:
                continue
            for field in ("conflicts", "breaks"):
                for group in getattr(marked.install, field):
                    for rel in group:
                        if rel.name == name and _real_matches(version, rel, self.native):
                            return True
                        if rel.name in provided and _provides_matches(version, rel, self.native):
                            return True
        return False

    # -- marking (depcache.cc) ------------------------------------------------

    def mode_change_ok(self, node: _Node, mode: int, depth: int, from_user: bool) -> bool:
        if depth > _MAX_DEPTH:
            return False
        if not node.versions and node.current is None:
            return False
        if from_user or node.mode == mode:
            return True
        if node.protected:
            return False
        essential = (node.current is not None and node.current.essential) or (
            node.candidate is not None and node.candidate.essential
        )
        return not (mode == _DELETE and essential)

    def state_change(self, node: _Node, parent: str | None) -> None:
        if node.protected and node.install is node.candidate:
            return
        node.mode = _INSTALL
        node.install = node.candidate
        if node.candidate is node.current:
            node.mode = _KEEP
        elif node.name not in self.why:
            self.why[node.name] = parent

    def mark_keep(self, node: _Node, depth: int, *, from_user: bool = False) -> bool:
        if not self.mode_change_ok(node, _KEEP, depth, from_user):
            return False
        if node.mode == _KEEP:
            return True
        node.mode = _KEEP
        node.install = node.current
        return True

    def mark_delete(self, node: _Node, depth: int) -> bool:
        if not self.mode_change_ok(node, _DELETE, depth, False):
            return False
        if node.mode == _DELETE or node.install is None:
            return True
        if node.current is None and node.name in self.requested:
            return False  # IsDeleteOkProtectInstallRequests
        node.mode = _KEEP if node.current is None else _DELETE
        node.install = None
        return True

    def discard_candidate(self, node: _Node) -> None:
        node.candidate = node.install

    def discard_install(self, node: _Node) -> None:
        if node.mode == _KEEP and node.install is node.candidate is node.current:
            return
        node.install = node.current
        node.mode = _KEEP
        self.discard_candidate(node)

    def install_ok(self, node: _Node, auto_inst: bool) -> bool:
        """``IsInstallOkDependenciesSatisfiableByCandidates``."""
        if not auto_inst:
            return True
        version = node.candidate
        if version is None or version is node.current:
            return True
        for field, group in self.groups(version):
            if field not in ("pre_depends", "depends"):
                continue
            if any(
                self.atom_ok(rel, node.name, _INST) or self.atom_ok(rel, node.name, _CAND)
                for rel in group
            ):
                continue
            if not node.protected:
                # the candidate can never be installed: forget it (apt #735967)
                node.candidate = node.current
                if node.mode != _DELETE:
                    node.mode = _KEEP
                    node.install = node.current
            return False
        return True

    def mark_install(
        self,
        name: str,
        *,
        auto_inst: bool = True,
        depth: int = 0,
        from_user: bool = True,
        parent: str | None = None,
    ) -> bool:
        node = self.node(name)
        if node is None:
            return False
        if (
            node.protected
            and node.mode == _KEEP
            and node.candidate is not None
            and node.candidate is node.current
        ):
            pass  # only here to protect its dependencies
        elif not self.mode_change_ok(node, _INSTALL, depth, from_user):
            return False
        if node.candidate is None:
            return False
        if not node.protected and not self.broken(node, policy=True):
            if node.candidate is node.current:
                if node.install is None:
                    return self.mark_keep(node, depth + 1, from_user=from_user)
                return True
            if node.mode == _INSTALL:
                return True
        if not self.install_ok(node, auto_inst):
            return False
        if from_user:
            self.state_change(node, parent)
        fail_early = not node.protected and not from_user
        failed = False
        to_install: list[tuple[str, tuple[Relation, ...]]] = []
        to_upgrade: list[str] = []
        delayed_remove: list[str] = []
        if auto_inst:
            version = node.candidate
            to_remove: list[tuple[str, Relation]] = []
            self.collect_dependencies(node, version, to_install, to_remove)
            if not self.remove_conflicts(
                node, depth, to_remove, to_upgrade, delayed_remove, from_user=from_user
            ):
                if fail_early:
                    return False
                failed = True
            self.collect_reverse_depends(node, version, to_upgrade)
        if not from_user:
            self.state_change(node, parent)
        if not auto_inst:
            return not failed
        already_protected = node.protected
        node.protected = True
        try:
            self.upgrade_other_binaries(node, depth)
            if not self.upgrade_or_remove(
                node, depth, to_upgrade, propagate=already_protected, from_user=from_user
            ):
                if fail_early:
                    self.discard_install(node)
                    return False
                failed = True
            if not self.install_dependencies(
                node, depth, to_install, propagate=already_protected, from_user=from_user
            ):
                if fail_early:
                    self.discard_install(node)
                    return False
                failed = True
            for other in delayed_remove:
                onode = self.node(other)
                assert onode is not None
                if not self.mark_delete(onode, depth):
                    if fail_early:
                        self.discard_install(node)
                        return False
                    failed = True
        finally:
            if not already_protected:
                node.protected = False
        return not failed

    def collect_dependencies(
        self,
        node: _Node,
        version: Package,
        to_install: list[tuple[str, tuple[Relation, ...]]],
        to_remove: list[tuple[str, Relation]],
    ) -> None:
        for field, group in self.groups(version):
            if field in ("conflicts", "breaks"):
                # a protected package acts on every Conflicts/Breaks, hit or not: the
                # candidates it names are discarded before anything can mark them
                if node.protected or self.atom_ok(group[0], node.name, _INST, negative=True):
                    to_remove.append((field, group[0]))
                continue
            if self.group_ok(group, node.name, _INST) and not node.protected:
                continue
            to_install.append((field, group))

    def remove_conflicts(
        self,
        node: _Node,
        depth: int,
        to_remove: list[tuple[str, Relation]],
        to_upgrade: list[str],
        delayed_remove: list[str],
        *,
        from_user: bool,
    ) -> bool:
        """``MarkInstall_RemoveConflictsIfNotUpgradeable``."""
        propagate = node.protected
        failed = False
        bad: set[str] = set()
        for field, rel in to_remove:
            for other in self.matching(rel, node.name, _CAND, negative=True):
                onode = self.node(other)
                assert onode is not None
                if onode.candidate is not onode.current:
                    if onode.mode == _INSTALL and not self.mark_keep(onode, depth):
                        failed = True
                        if not propagate and not from_user:
                            break
                    elif propagate:
                        self.discard_candidate(onode)
                        if onode.current is None:
                            onode.protected = True
                        self.discarded_by.setdefault(other, (node.name, field, str(rel)))
                    else:
                        bad.add(other)
                elif not self.delete_not_upgradeable(onode, depth, propagate, delayed_remove):
                    failed = True
                    if not propagate and not from_user:
                        break
                else:
                    self.removed_by.setdefault(other, (node.name, f"{_KIND_TEXT[field]} {rel}"))
            if failed and not propagate and not from_user:
                break
            for other in self.matching(rel, node.name, _NOW, negative=True):
                onode = self.node(other)
                assert onode is not None
                if (
                    onode.candidate is not onode.current
                    and onode.candidate is not None
                    and other not in bad
                ):
                    to_upgrade.append(other)
                    self.upgrade_reasons.setdefault(
                        (node.name, other), f"{_KIND_TEXT[field]} {rel}"
                    )
                elif onode.candidate is onode.current:
                    pass
                elif not self.delete_not_upgradeable(onode, depth, propagate, delayed_remove):
                    failed = True
                    if not propagate and not from_user:
                        break
                else:
                    self.removed_by.setdefault(other, (node.name, f"{_KIND_TEXT[field]} {rel}"))
            if failed and not propagate and not from_user:
                break
        return not failed

    def delete_not_upgradeable(
        self, node: _Node, depth: int, propagate: bool, delayed_remove: list[str]
    ) -> bool:
        """``MarkInstall_MarkDeleteForNotUpgradeable``."""
        if not propagate:
            if node.mode == _DELETE:
                return True
            if not self.mode_change_ok(node, _DELETE, depth, False):
                return False
            if node.current is None and node.name in self.requested:
                return False
            delayed_remove.append(node.name)
            return True
        if node.mode != _DELETE and not self.mark_delete(node, depth + 1):
            return False
        self.discard_candidate(node)
        node.protected = True
        return True

    def collect_reverse_depends(self, node: _Node, version: Package, to_upgrade: list[str]) -> None:
        """``MarkInstall_CollectReverseDepends``: installed packages this upgrade breaks."""
        current = node.current
        if current is None:
            return
        for parent, rel, field in self._installed_rdeps.get(node.name, ()):
            pnode = self.node(parent)
            if pnode is None or pnode.mode == _INSTALL or pnode.current is None:
                continue
            if field == "recommends" and not self.with_recommends:
                continue
            if rel.arch_qualifier == "any" or rel.op is None or rel.version is None:
                continue  # `foo:any` targets apt's pseudo package foo:any, not foo
            if not satisfies(current.version, rel.op, rel.version) or satisfies(
                version.version, rel.op, rel.version
            ):
                continue
            if parent not in to_upgrade:
                to_upgrade.append(parent)
                self.extra_edges.setdefault(node.name, set()).add(parent)
                self.upgrade_reasons.setdefault(
                    (node.name, parent),
                    f"replaces {current.version}, and installed {parent} {_KIND_TEXT[field]} {rel}",
                )

    def upgrade_other_binaries(self, node: _Node, depth: int) -> None:
        """``MarkInstall_UpgradeOtherBinaries``: keep a source's installed binaries in step."""
        version = node.candidate
        if version is None:
            return
        source, source_version = _source_of(version)
        targets: list[str] = []
        for other in sorted(self._installed_by_source.get(source, ())):
            if other == node.name:
                continue
            onode = self.node(other)
            if onode is None or onode.current is None:
                continue
            cand = onode.candidate
            if cand is None or cand is onode.current:
                continue
            if onode.mode == _INSTALL and onode.install is cand:
                continue
            if _source_of(cand) != (source, source_version):
                continue
            targets.append(other)
        for other in targets:
            self.extra_edges.setdefault(node.name, set()).add(other)
            self.mark_install(
                other, auto_inst=False, depth=depth + 1, from_user=False, parent=node.name
            )
        for other in targets:
            self.mark_install(other, depth=depth + 1, from_user=False, parent=node.name)

    def upgrade_or_remove(
        self, node: _Node, depth: int, to_upgrade: list[str], *, propagate: bool, from_user: bool
    ) -> bool:
        """``MarkInstall_UpgradeOrRemoveConflicts``."""
        failed = False
        for other in to_upgrade:
            onode = self.node(other)
            assert onode is not None
            self.extra_edges.setdefault(node.name, set()).add(other)
            if onode.mode != _INSTALL and not self.mark_install(
                other, depth=depth + 1, from_user=False, parent=node.name
            ):
                if not self.mark_delete(onode, depth + 1):
                    failed = True
                    if not propagate and not from_user:
                        break
                    continue
                reason = self.upgrade_reasons.get((node.name, other), "needs it upgraded")
                self.removed_by.setdefault(
                    other, (node.name, f"{reason}, and {other} cannot be upgraded")
                )
                if propagate:
                    onode.protected = True
        return not failed

    def install_dependencies(
        self,
        node: _Node,
        depth: int,
        to_install: list[tuple[str, tuple[Relation, ...]]],
        *,
        propagate: bool,
        from_user: bool,
    ) -> bool:
        """``MarkInstall_InstallDependencies``."""
        failed = False
        for field, group in to_install:
            found = self.group_ok(group, node.name, _INST)
            if found and not propagate:
                continue
            critical = field in ("pre_depends", "depends")
            if found:
                if not critical:
                    continue
                choices = self.cand_and_inst(group, node.name)
                if len(choices) != 1:
                    continue
                only = self.node(choices[0])
                assert only is not None
                if only.protected:
                    continue
                only.protected = True
                if not self.mark_install(
                    only.name, depth=depth + 1, from_user=False, parent=node.name
                ):
                    failed = True
                continue
            if node.current is not None and not critical and not self.new_important(node, group):
                continue
            choices = self.solutions(group, node.name)
            ties: dict[str, str] = {}
            if len(choices) > 1:
                # lockpin's look-ahead: conflicting choices last
                clear = [c for c in choices if not self.conflicts_with_plan(c)]
                choices = clear + [c for c in choices if c not in clear]
                ties = self.guessed_ties(group, node.name, choices)
            for index, choice in enumerate(choices):
                cnode = self.node(choice)
                assert cnode is not None
                if propagate and critical and len(choices) == 1:
                    if not self.mark_install(
                        choice,
                        auto_inst=False,
                        depth=depth + 1,
                        from_user=False,
                        parent=node.name,
                    ):
                        continue
                    cnode.protected = True
                if not self.mark_install(
                    choice, depth=depth + 1, from_user=False, parent=node.name
                ):
                    continue
                found = True
                # the choices tried before failed; an untried equal one apt might take
                tied = [c for c in choices[index + 1 :] if f"{choice} {c}" in ties]
                if tied:
                    self.ties.append(
                        ProviderTie(
                            virtual=ties[f"{choice} {tied[0]}"],
                            chosen=choice,
                            candidates=tuple(sorted({choice, *tied})),
                            needed_by=node.name,
                        )
                    )
                break
            if not found and critical:
                failed = True
                if not propagate and not from_user:
                    break
        return not failed

    def cand_and_inst(self, group: Sequence[Relation], parent: str) -> list[str]:
        """``getAllPossibleSolutions(..., CANDANDINST, sorted=false)``, as distinct versions."""
        seen: list[tuple[str, str]] = []
        for rel in group:
            for which in (_CAND, _NOW):
                for name in self.matching(rel, parent, which):
                    node = self.node(name)
                    assert node is not None
                    version = node.inst_ver(which)
                    assert version is not None
                    if node.protected and (
                        node.mode == _DELETE or (node.mode == _KEEP and node.current is None)
                    ):
                        continue
                    key = (name, version.version)
                    if key not in seen:
                        seen.append(key)
        return [name for name, _ in seen]

    def new_important(self, node: _Node, group: Sequence[Relation]) -> bool:
        """For an upgrade: follow a Recommends only when it is new, or was satisfied."""
        current = node.current
        assert current is not None
        target = group[0].name
        for old_group in current.recommends:
            if not any(rel.name == target for rel in old_group):
                continue
            return self.group_ok(old_group, node.name, _NOW)
        return True

    # -- after marking ---------------------------------------------------------

    def reachable(self, roots: Iterable[str], *, fields: Sequence[str]) -> set[str]:
        """Names reachable from ``roots`` through the install versions' relations
        (``MarkPackage`` of ``MarkAndSweep``)."""
        seen: set[str] = set()
        stack = list(roots)
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            node = self.node(name)
            if node is None or node.install is None:
                continue
            seen.add(name)
            for field in fields:
                for group in getattr(node.install, field):
                    for rel in group:
                        stack.extend(self.matching(rel, name, _INST))
        return seen

    def upgrade_broken_installed(self) -> None:
        """The first pass of apt's problem resolver (``ResolveInternal`` with
        ``BrokenFix``, before any scoring): every installed package the plan breaks
        (a new package it conflicts with, a dependency no longer met) and that is not
        marked already is set to its candidate, dependencies not followed, until
        nothing changes. What stays broken after that is an error here."""
        again = True
        while again:
            again = False
            for name in sorted(self.installed, key=self.order_key):
                node = self.node(name)
                if node is None or node.mode != _KEEP or node.install is None:
                    continue
                if not self.broken(node):
                    continue
                culprit = self._breaker(node)
                self.mark_install(name, auto_inst=False, from_user=False, parent=culprit)
                if node.mode == _INSTALL and self.broken(node):
                    # apt's scoring would take over from here, and lockpin stops: the
                    # error is clearer about the installed version than its candidate
                    node.mode = _KEEP
                    node.install = node.current
                elif node.mode == _INSTALL:
                    again = True
                    if culprit is not None:
                        self.extra_edges.setdefault(culprit, set()).add(name)

    def _breaker(self, node: _Node) -> str | None:
        """A planned package that an installed ``node``'s Conflicts/Breaks hit."""
        version = node.install
        assert version is not None
        for field in ("conflicts", "breaks"):
            for group in getattr(version, field):
                for rel in group:
                    for other in self.matching(rel, node.name, _INST, negative=True):
                        onode = self.node(other)
                        if onode is not None and onode.mode == _INSTALL:
                            return other
        return None

    def sweep(self) -> None:
        """``DoAutomaticRemove``: new installs nothing needs any more are not installed."""
        # no extended_states in an image built by debootstrap: every installed package
        # is manually installed, so a root
        roots = sorted({*self.requested, *self.installed})
        # APT::AutoRemove::RecommendsImportant is true by default
        keep = self.reachable(roots, fields=("pre_depends", "depends", "recommends"))
        for name, node in self.nodes.items():
            if (
                node is not None
                and node.mode == _INSTALL
                and node.current is None
                and name not in keep
            ):
                node.mode = _KEEP
                node.install = None


# ---------------------------------------------------------------------------
# explanations


def _versions_text(node: _Node | None) -> str:
    if node is None:
        return "no suite has it"
    parts = [f"{p.version} ({p.suite or '?'})" for p in node.versions]
    if node.current is not None and not any(
        p.version == node.current.version for p in node.versions
    ):
        parts.append(f"{node.current.version} (installed)")
    return ", ".join(parts) if parts else "none"


class _Explainer:
    def __init__(self, solver: _Solver) -> None:
        self.s = solver

    def path(self, name: str) -> list[str]:
        """The packages that led to marking ``name``, from a requested (or installed) one."""
        path = [name]
        parent = self.s.why.get(name)
        while parent is not None and parent not in path:
            path.append(parent)
            parent = self.s.why.get(parent)
        path.reverse()
        return path

    def root(self, name: str) -> str:
        first = self.path(name)[0]
        return self.s.requested.get(first, first)

    def describe(self, name: str) -> str:
        node = self.s.node(name)
        assert node is not None
        version = node.install or node.candidate
        text = f"{name} {version.version if version else '?'}"
        path = self.path(name)
        if path[0] not in self.s.requested and self.s.installed.get(path[0]) is not None:
            if len(path) == 1:
                return f"{text} (installed)"
            return f"{text} (required by installed {' → '.join(path)})"
        return f"{text} (required by {' → '.join(path)})"

    def alternative(self, rel: Relation, parent: str, depth: int) -> str:
        """Why no candidate satisfies ``rel``."""
        s = self.s
        node = s.node(rel.name)
        providers = [p for p in s.provider_names(rel.name) if p != parent]
        if node is None and not providers:
            return f"{rel.name} is in no suite"
        reasons: list[str] = []
        if node is not None and node.mode == _DELETE and rel.name in s.removed_by:
            culprit, reason = s.removed_by[rel.name]
            current = node.current.version if node.current is not None else "?"
            return (
                f"{rel.name} {current} (installed) would have to be removed: "
                f"{self.describe(culprit)} {reason}"
            )
        discarded = self.discarded(rel.name)
        if discarded:
            reasons.append(discarded)
        elif node is not None:
            cand = node.candidate
            if cand is not None and not _real_matches(cand, rel, s.native):
                if rel.arch_qualifier == "any" and cand.multi_arch != "allowed":
                    reasons.append(
                        f"{rel.name} {cand.version} is Multi-Arch: {cand.multi_arch}, not "
                        "allowed, so it does not satisfy :any"
                    )
                else:
                    others = [p for p in node.versions if _real_matches(p, rel, s.native)]
                    if others:
                        other = others[0]
                        low = (
                            f", whose pin priority {other.pin_priority} is below the "
                            f"{DEFAULT_PIN_PRIORITY} of the release's suites"
                            if other.pin_priority < DEFAULT_PIN_PRIORITY
                            else ""
                        )
                        reasons.append(
                            f"{rel.name} {cand.version} would be installed (apt-get takes "
                            "only the candidate for a dependency; to get "
                            f"{other.version} (from {other.suite or '?'}{low}), pin "
                            f"{rel.name} (= {other.version}) in apt.in)"
                        )
                    else:
                        reasons.append(
                            f"no version of {rel.name} satisfies it; the versions that exist "
                            f"are {_versions_text(node)}"
                        )
            elif cand is None:
                reasons.append(f"{rel.name} has no installable version ({_versions_text(node)})")
            elif depth < 4:
                reasons.append(self.uninstallable(rel.name, depth + 1))
        if providers and node is None:
            matching = [
                p
                for p in providers
                if (pn := s.node(p)) is not None
                and pn.candidate is not None
                and _provides_matches(pn.candidate, rel, s.native)
            ]
            gone = [text for p in providers if (text := self.discarded(p))]
            if not matching and gone:
                reasons.extend(gone[:3])
            elif not matching:
                if rel.op is not None:
                    reasons.append(
                        f"{rel.name} is virtual and no candidate provides a version "
                        f"{rel.op} {rel.version} (unversioned Provides never count)"
                    )
                else:
                    reasons.append(f"{rel.name} is virtual and no candidate provides it")
            elif depth < 4:
                reasons.extend(self.uninstallable(p, depth + 1) for p in matching[:3])
        return "; ".join(r for r in reasons if r) or f"{rel} cannot be installed"

    def discarded(self, name: str) -> str:
        """Why ``name`` has no candidate any more, when a Conflicts/Breaks took it."""
        s = self.s
        node = s.node(name)
        if node is None or name not in s.discarded_by or not node.versions:
            return ""
        if node.candidate is not None and node.candidate is not node.current:
            return ""
        culprit, field, conflict = s.discarded_by[name]
        return (
            f"{name} {node.versions[0].version} cannot be installed: "
            f"{self.describe(culprit)} {_KIND_TEXT[field]} {conflict}"
        )

    def uninstallable(self, name: str, depth: int) -> str:
        s = self.s
        node = s.node(name)
        if node is None or node.candidate is None:
            return f"{name} has no installable version"
        version = node.candidate
        for field, group in s.groups(version):
            if field not in ("pre_depends", "depends"):
                continue
            if s.group_ok(group, name, _INST) or s.group_ok(group, name, _CAND):
                continue
            why = "; ".join(self.alternative(rel, name, depth) for rel in group)
            return f"{name} {version.version} {_KIND_TEXT[field]} {_group_text(group)}: {why}"
        for field in ("conflicts", "breaks"):
            for group in getattr(version, field):
                for rel in group:
                    hit = s.matching(rel, name, _INST, negative=True)
                    if hit:
                        return (
                            f"{name} {version.version} {_KIND_TEXT[field]} {rel}, and "
                            + ", ".join(self.describe(h) for h in hit)
                            + " is planned or installed"
                        )
        return f"{name} {version.version} cannot be installed"

    def _installed_text(self, name: str) -> str:
        node = self.s.node(name)
        assert node is not None
        assert node.current is not None
        essential = " (Essential: yes)" if node.current.essential else ""
        return f"{name} {node.current.version} is installed in the base{essential}"

    def problems(self) -> list[str]:
        s = self.s
        conflicts: list[str] = []
        missing: list[str] = []
        for name in sorted(n for n, node in s.nodes.items() if node is not None):
            node = s.nodes[name]
            assert node is not None
            version = node.install
            if version is None or (node.mode == _KEEP and not s.broken(node)):
                continue
            kept = node.mode == _KEEP
            for field, group in s.groups(version):
                if field == "recommends":
                    continue
                kind = _KIND_TEXT[field]
                if field in ("conflicts", "breaks"):
                    rel = group[0]
                    for other in s.matching(rel, name, _INST, negative=True):
                        onode = s.node(other)
                        assert onode is not None
                        if kept:
                            conflicts.append(
                                f"cannot install {self.root(other)}: {self.describe(other)} "
                                f"would be installed, and {self._installed_text(name)}, "
                                f"which {kind} {rel}"
                            )
                        elif onode.mode == _KEEP:
                            conflicts.append(
                                f"cannot install {self.root(name)}: {self.describe(name)} "
                                f"{kind} {rel}, and {self._installed_text(other)}; apt-get "
                                "would not remove it"
                            )
                        else:
                            conflicts.append(
                                f"cannot install {self.root(name)} and {self.root(other)} "
                                f"together: {self.describe(name)} {kind} {rel}, and "
                                f"{self.describe(other)} would be installed"
                            )
                elif not s.group_ok(group, name, _INST):
                    why = "; ".join(self.alternative(rel, name, 0) for rel in group)
                    if kept:
                        missing.append(
                            f"the plan would break {name} {version.version} (installed), "
                            f"which {kind} {_group_text(group)}: {why}"
                        )
                    else:
                        missing.append(
                            f"cannot install {self.root(name)}: {self.describe(name)} "
                            f"{kind} {_group_text(group)}, which cannot be satisfied: {why}"
                        )
        return conflicts + missing


def _raise_problems(solver: _Solver, target: str) -> None:
    problems = _Explainer(solver).problems()
    if not problems:
        return
    shown = problems[:5]
    more = f"\n  … and {len(problems) - 5} more" if len(problems) > 5 else ""
    raise ResolutionError(
        "the packages cannot be installed together:\n  "
        + "\n  ".join(shown)
        + more
        + "\napt-get would refuse too (or have its problem resolver remove installed "
        "packages). Drop one of the requests, or pin other versions "
        "in apt.in (name (= version)).",
        target=target,
    )


# ---------------------------------------------------------------------------
# requests


def _choose_requested(
    solver: _Solver, name: str, relations: Sequence[Relation], node: _Node
) -> Package:
    """The version a request installs: the candidate when it satisfies every relation
    naming the package, else the highest version that does (``apt-get install
    pkg=ver`` takes exactly ``ver``)."""
    native = solver.native

    def fits(version: Package) -> bool:
        return all(_real_matches_versionless(version, rel, native) for rel in relations)

    candidate = node.candidate
    if candidate is not None and fits(candidate):
        return candidate
    pool = list(node.versions)
    if node.current is not None and not any(
        compare_versions(p.version, node.current.version) == 0 for p in pool
    ):
        pool.append(node.current)
    for version in _sort_versions(pool):
        if fits(version):
            normalized = solver._normalize(node, version)
            assert normalized is not None
            return normalized
    wanted = ", ".join(str(rel) for rel in relations)
    raise NoSuchVersionError(
        name,
        wanted,
        f"no suite has a version of {name} that satisfies {wanted}; the versions "
        f"that exist are: {_versions_text(node)}. Change the version in apt.in.",
    )


def _real_matches_versionless(version: Package, rel: Relation, native: str) -> bool:
    # a request's arch qualifier only selects the architecture (the universe has one)
    if rel.op is None or rel.version is None:
        return True
    return satisfies(version.version, rel.op, rel.version)


def _requested_virtual(solver: _Solver, rel: Relation) -> str:
    """apt-get's ``tryVirtualPackage``: the one package whose candidate provides ``rel``."""
    matching: list[tuple[str, str]] = []
    for provider in solver.provider_names(rel.name):
        pnode = solver.node(provider)
        if pnode is None or pnode.candidate is None:
            continue
        if _provides_matches(pnode.candidate, rel, solver.native):
            flag = " [installed]" if pnode.current is pnode.candidate else ""
            matching.append((provider, f"{provider} {pnode.candidate.version}{flag}"))
    if len(matching) == 1:
        return matching[0][0]
    if matching:
        raise ResolutionError(
            f"{rel.name} is a virtual package provided by: "
            + ", ".join(text for _, text in matching)
            + '. Name one of them in apt.in instead (apt-get refuses too: "You should '
            'explicitly select one to install").',
            target=solver.native,
        )
    providers = solver.provider_names(rel.name)
    if providers:
        raise NoSuchPackageError(
            f"{rel.name} is a virtual package, and no candidate version of its providers "
            f"({', '.join(providers)}) provides {rel}. Name a provider in apt.in instead.",
            package=rel.name,
            architecture=solver.native,
            close=providers[:_SUGGEST_CAP],
        )
    close = tuple(
        difflib.get_close_matches(rel.name, list(solver.universe.names()), n=_SUGGEST_CAP)
    )
    message = f"no suite of the archive has a package {rel.name} for {solver.native}"
    message += ("; did you mean " + ", ".join(close) + "?") if close else "."
    message += " Check the name, or add the component or suite that has it."
    raise NoSuchPackageError(message, package=rel.name, architecture=solver.native, close=close)


def resolve(
    universe: Universe,
    requests: Sequence[Relation],
    *,
    installed: Sequence[Package] = (),
    with_recommends: bool = False,
    preferences: Mapping[str, str] | None = None,
    package_order: Mapping[str, int] | None = None,
) -> Resolution:
    """Plan ``apt-get install`` of ``requests`` into a system holding ``installed``.

    ``preferences`` (name → version, an existing lock's pins) replace the
    candidate of a package when the universe still has that version and it is
    not older than the installed one. ``with_recommends`` follows Recommends as
    ``--install-recommends`` does. ``package_order`` is apt's package ids
    (:func:`apt_package_order`): apt breaks ties between equally good providers
    by them and walks the requested packages in their order; names it lacks
    come after it, by name.

    Raises :class:`~lockpin.errors.NoSuchPackageError` for a requested name no
    suite has, :class:`~lockpin.errors.NoSuchVersionError` when no version of a
    requested package satisfies its relation, and
    :class:`~lockpin.errors.ResolutionError` when the packages cannot be
    installed together (a virtual name with several providers, an unsatisfiable
    dependency, a conflict).
    """
    solver = _Solver(
        universe,
        installed,
        with_recommends=with_recommends,
        preferences=preferences or {},
        package_order=package_order,
    )
    native = universe.architecture
    target = native
    by_name: dict[str, list[Relation]] = {}
    selected: list[tuple[str, str]] = []
    for asked_rel in requests:
        rel = asked_rel
        if not _arch_plain(rel.arch_qualifier, native) and rel.arch_qualifier not in (
            "any",
            "all",
        ):
            raise NoSuchPackageError(
                f"{rel}: only {native} is resolved here; drop the :{rel.arch_qualifier} "
                "qualifier or resolve for that platform.",
                package=rel.name,
                architecture=native,
            )
        asked = name = rel.name
        if solver.node(name) is None:
            name = _requested_virtual(solver, rel)
            selected.append((asked, name))
            # the provider is requested by name: the virtual's version was checked
            rel = Relation(name=name)
        by_name.setdefault(name, []).append(rel)
        solver.requested.setdefault(name, asked)

    # TryToInstall: set each candidate, protect it and mark it (without dependencies)
    for name, relations in by_name.items():
        node = solver.node(name)
        assert node is not None
        if any(r.op is not None for r in relations) and relations[0].name == name:
            node.candidate = _choose_requested(solver, name, relations, node)
        node.protected = True
        solver.why[name] = None
        solver.mark_install(name, auto_inst=False)
    # doAutoInstall, in the order apt's package set iterates (its package ids)
    for name in sorted(by_name, key=solver.order_key):
        solver.mark_install(name)
    solver.upgrade_broken_installed()
    # a broken plan would go to apt's problem resolver; a broken package nothing needs
    # is dropped by the sweep first (as the resolver would drop it), the rest is an error
    solver.sweep()
    _raise_problems(solver, target)
    return _result(solver, selected)


def _result(solver: _Solver, selected: list[tuple[str, str]]) -> Resolution:
    planned = {
        name: node
        for name, node in solver.nodes.items()
        if node is not None
        and node.mode == _INSTALL
        and node.install is not None
        and node.install is not node.current
    }
    fields: tuple[str, ...] = ("pre_depends", "depends")
    if solver.with_recommends:
        fields = (*fields, "recommends")
    required_by: dict[str, set[str]] = {name: set() for name in planned}
    for name, requested_as in solver.requested.items():
        seen: set[str] = set()
        stack = [name]
        while stack:
            current = stack.pop()
            if current in seen or current not in planned:
                continue
            seen.add(current)
            required_by[current].add(requested_as)
            node = planned[current]
            assert node.install is not None
            for field in fields:
                for group in getattr(node.install, field):
                    for rel in group:
                        hits = solver.matching(rel, current, _INST)
                        if hits:
                            stack.extend(hits)
                            break
            stack.extend(sorted(solver.extra_edges.get(current, ())))
    # packages planned only through an edge this walk cannot see: their marker's owners
    for name in sorted(planned):
        if required_by[name]:
            continue
        parent = solver.why.get(name)
        hops = 0
        while parent is not None and hops < 1000 and not required_by.get(parent):
            parent = solver.why.get(parent)
            hops += 1
        if parent is not None and required_by.get(parent):
            required_by[name] = set(required_by[parent])
    packages = tuple(
        Resolved(
            package=_archive_version(node),
            required_by=tuple(sorted(required_by[name])),
            upgrade_of=node.current.version if node.current is not None else None,
        )
        for name, node in sorted(planned.items())
    )
    satisfied = tuple(
        sorted(
            requested_as
            for name, requested_as in solver.requested.items()
            if name not in planned
            and (kept := solver.nodes.get(name)) is not None
            and kept.current is not None
            and kept.install is kept.current
        )
    )
    removals = tuple(
        Removal(
            package=node.current,
            by=solver.removed_by.get(name, ("?", ""))[0],
            reason=solver.removed_by.get(name, ("?", "conflicts with it"))[1],
        )
        for name, node in sorted(solver.nodes.items())
        if node is not None and node.mode == _DELETE and node.current is not None
    )
    ties = sorted(
        {tie for tie in solver.ties if tie.chosen in planned},
        key=lambda t: (t.virtual, t.needed_by, t.chosen),
    )
    return Resolution(
        architecture=solver.native,
        packages=packages,
        satisfied_by_base=satisfied,
        removals=removals,
        selected=tuple(selected),
        ties=tuple(ties),
    )


def _archive_version(node: _Node) -> Package:
    version = node.install
    assert version is not None
    return version


# ---------------------------------------------------------------------------
# apt's package ids


def apt_package_order(
    indexes: Iterable[Iterable[Package]], installed: Iterable[Package] = ()
) -> dict[str, int]:
    """The order in which apt's cache generator creates its packages, name → id.

    apt (``pkgcachegen.cc``) numbers a package when it first meets the name:
    reading each ``Packages`` index in ``sources.list`` order and then the dpkg
    status, stanza by stanza, it creates the stanza's own package, then the
    targets of its Pre-Depends, Depends, Conflicts, Breaks, Recommends (a
    Conflicts/Breaks target only when no package of that name exists yet), then
    its Provides. ``foo:any`` targets apt's pseudo package ``foo:any``, which
    creates no ``foo``. Fields lockpin does not keep (Suggests, Replaces,
    Enhances) are not seen, so a name only they mention is numbered later than
    apt numbers it. ``indexes``: the packages of each index, in file order.
    """
    order: dict[str, int] = {}

    def see(name: str) -> None:
        if name not in order:
            order[name] = len(order)

    for stanzas in (*indexes, installed):
        for package in stanzas:
            see(package.name)
            for field in _FIELDS:
                negative = field in ("conflicts", "breaks")
                for group in getattr(package, field):
                    for rel in group:
                        if rel.arch_qualifier == "any" or (negative and rel.name in order):
                            continue
                        see(rel.name)
            for provide in package.provides:
                if provide.arch_qualifier != "any":
                    see(provide.name)
    return order


# ---------------------------------------------------------------------------
# the default base


def base_from_archive(universe: Universe) -> list[Package]:
    """What ``debootstrap --variant=minbase`` installs, as the default base.

    Every package whose candidate is ``Priority: required`` or ``Essential: yes``,
    plus ``apt``, and the closure of their Depends and Pre-Depends taken the way
    debootstrap takes it (``functions``, ``resolve_deps``): the first alternative
    of each OR-group when it is a real package, versions ignored. ``usrmerge`` is
    never taken (debootstrap excludes it from bookworm on and installs
    ``usr-is-merged`` instead, the next alternative). Each is the candidate
    version (the highest of the highest-priority suites: never a backports
    one), with its real suite; the resolver treats
    every package it is given as installed.
    """
    native = universe.architecture

    def candidate(name: str) -> Package | None:
        versions = [p for p in universe.versions(name) if p.architecture in (native, "all")]
        return _apt_candidate(_sort_versions(versions), None)

    chosen: dict[str, Package] = {}
    stack: list[str] = []
    # An archive's universe knows (from its packed index) a superset of the names
    # that can qualify: parsing those ~100 stanzas, not all ~63,000, is what keeps a
    # warm run fast.
    required_names = getattr(universe, "required_names", None)
    for name in required_names() if callable(required_names) else universe.names():
        versions = universe.versions(name)
        if not any(p.priority == "required" or p.essential for p in versions):
            continue
        best = candidate(name)
        if best is not None and (best.priority == "required" or best.essential):
            stack.append(name)
    stack.append("apt")
    while stack:
        name = stack.pop()
        if name in chosen:
            continue
        best = candidate(name)
        if best is None:
            continue
        chosen[name] = best
        for group in (*best.pre_depends, *best.depends):
            pick = _debootstrap_pick(group, exists=lambda n: bool(universe.versions(n)))
            if pick is not None and pick not in chosen:
                stack.append(pick)
    return [chosen[name] for name in sorted(chosen)]


def _debootstrap_pick(group: Sequence[Relation], *, exists: Callable[[str], bool]) -> str | None:
    for rel in group:
        if rel.name == "usrmerge":
            continue
        return rel.name if exists(rel.name) else None
    return None
