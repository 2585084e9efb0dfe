"""The resolvelib provider and :func:`resolve` (no I/O of its own).

The provider asks a :class:`World` (the index as a synchronous, blocking view)
for a project's files and a candidate's metadata, and tells it which names it
has just discovered so that a real world can fetch ahead. Tests pass an
in-memory world; production passes :class:`lockpin.python.world.IndexWorld`.
Which releases are candidates is :mod:`lockpin.python.releases`' judgement;
why a resolution is impossible is told by :mod:`lockpin.python.explain`.

Preference order is pip's: direct references, then ``==`` pins, then projects
of the last conflict, then upper-bounded ones, then the user's order.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version
from resolvelib import AbstractProvider, BaseReporter, ResolutionImpossible, ResolutionTooDeep
from resolvelib import Resolver as _Resolver

from ..errors import BuildError, InvalidMetadataError, NoSuchProjectError
from .deadends import DeadEnd, DeadEnds, RootBound, label
from .explain import PYTHON_PROJECT, UNUSABLE_PROJECT, explain_churn, explain_conflict
from .models import DistFile, formats_for, parse_filename
from .releases import ProjectReleases, VersionInfo, usable_release

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

    from resolvelib.resolvers import RequirementInformation

    from .metadata import CoreMetadata
    from .target import Target

__all__ = ["Candidate", "Prefetching", "Req", "Resolution", "World", "resolve"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Req:
    """One requirement edge: from a root input (``parent`` None) or a candidate."""

    name: NormalizedName
    specifier: SpecifierSet = field(default_factory=SpecifierSet)
    extras: frozenset[NormalizedName] = frozenset()
    url: str | None = None
    parent: str | None = None  # "flask==3.0.0" or None for roots
    source: str | None = None  # "-r requirements.in" for roots
    location: str | None = field(default=None, compare=False)  # "requirements.in:3"

    @property
    def identifier(self) -> str:
        return _ident(self.name, self.extras)

    def __str__(self) -> str:
        extras = f"[{','.join(sorted(self.extras))}]" if self.extras else ""
        if self.url:
            return f"{self.name}{extras} @ {self.url}"
        return f"{self.name}{extras}{self.specifier}"


def _ident(name: str, extras: frozenset[NormalizedName]) -> str:
    return f"{name}[{','.join(sorted(extras))}]" if extras else name


@dataclass(frozen=True, slots=True)
class Candidate:
    name: NormalizedName
    version: Version
    extras: frozenset[NormalizedName] = frozenset()
    files: tuple[DistFile, ...] = field(default=(), compare=False, hash=False)
    url: str | None = None
    yanked_reason: str | None = field(default=None, compare=False, hash=False)

    @property
    def identifier(self) -> str:
        return _ident(self.name, self.extras)

    @property
    def pin(self) -> str:
        return f"{self.name}=={self.version}"


class World(Protocol):
    """The index as the resolver sees it (blocking calls)."""

    def versions(self, name: NormalizedName) -> Sequence[DistFile]:
        """Every file of the project (raises NoSuchProjectError)."""

    def metadata(self, candidate: Candidate) -> CoreMetadata:
        """Core metadata of the candidate's release."""

    def discovered(self, req: Req) -> None:
        """A new requirement appeared: a real world may start fetching for it."""


@runtime_checkable
class Prefetching(Protocol):
    """A world that can start reading metadata before it is asked for."""

    def prefetch(self, candidates: Sequence[Candidate]) -> None:
        """Start reading these candidates' metadata without waiting (errors wait
        for :meth:`World.metadata`)."""


#: How many older releases to prefetch once a release turns out unusable.
_WINDOW = 8
#: The largest batch asked for at once while backtracking through one project.
_MAX_WINDOW = 32


def _exact_pins(specifier: SpecifierSet) -> set[str]:
    return {
        s.version for s in specifier if s.operator in {"==", "==="} and not s.version.endswith(".*")
    }


def _has_upper_bound(specifier: SpecifierSet) -> bool:
    return any(s.operator in {"<", "<=", "~=", "==", "==="} for s in specifier)


@dataclass(frozen=True, slots=True)
class Resolution:
    """The pins of one target with, for each name, who required it."""

    target: Target
    pins: Mapping[NormalizedName, Candidate]
    parents: Mapping[NormalizedName, frozenset[str]]  # names and "-r file" labels


class _Provider(AbstractProvider):  # type: ignore[type-arg]
    def __init__(
        self,
        world: World,
        *,
        target: Target,
        exclude_newer: dt.datetime | None,
        pre: bool | frozenset[NormalizedName],
        only_binary: frozenset[str],
        no_binary: frozenset[str] = frozenset(),
        constraints: Mapping[NormalizedName, list[Req]],
        preferred: Mapping[NormalizedName, Version],
        root_order: Mapping[NormalizedName, int],
        bounds: Mapping[NormalizedName, Sequence[RootBound]] | None = None,
    ) -> None:
        self.world = world
        self.target = target
        self.exclude_newer = exclude_newer
        self.pre = pre
        self.only_binary = only_binary
        self.no_binary = no_binary
        self.constraints = constraints
        self.preferred = preferred
        self.root_order = root_order
        self.projects: dict[NormalizedName, ProjectReleases] = {}
        self.tried: dict[NormalizedName, list[Version]] = defaultdict(list)
        self.unusable: dict[str, str] = {}  # "name==version" -> why its metadata failed
        # every distinct requirement met per project, to explain a conflict even when
        # resolvelib's last causes are only releases skipped on the way
        self.seen_requirements: dict[NormalizedName, dict[str, Req]] = {}
        # releases left out because the input's own requirements rule them out,
        # however deep (newest first per project, each with its chain)
        self.dead_ends: dict[NormalizedName, list[DeadEnd]] = defaultdict(list)
        self.dead: DeadEnds[Candidate, Req] = DeadEnds(
            bounds=bounds or {},
            releases=self._usable,
            dependencies=self._peek_dependencies,
            prefetch=self._prefetch,
        )
        self.attempts: dict[NormalizedName, int] = defaultdict(int)  # candidates pinned
        self._prefetched: set[Candidate] = set()
        self._windows: dict[NormalizedName, int] = {}  # next batch size while backtracking
        self._meta: dict[
            tuple[NormalizedName, Version, str | None],
            CoreMetadata | BuildError | InvalidMetadataError,
        ] = {}

    # -- resolvelib interface -----------------------------------------------------------------

    def identify(self, requirement_or_candidate: Req | Candidate) -> str:
        return requirement_or_candidate.identifier

    def get_preference(
        self,
        identifier: str,
        resolutions: Mapping[str, Candidate],
        candidates: Mapping[str, Iterator[Candidate]],
        information: Mapping[str, Iterator[RequirementInformation[Req, Candidate]]],
        backtrack_causes: Sequence[RequirementInformation[Req, Candidate]],
    ) -> Any:
        infos = list(information[identifier])
        reqs = [i.requirement for i in infos]
        direct = any(r.url for r in reqs)
        pinned = any(_exact_pins(r.specifier) for r in reqs)
        upper = any(_has_upper_bound(r.specifier) for r in reqs)
        causes = _cause_names(backtrack_causes)
        name = reqs[0].name if reqs else canonicalize_name(identifier.split("[", maxsplit=1)[0])
        return (
            not direct,
            not pinned,
            name not in causes,
            not upper,
            self.root_order.get(name, len(self.root_order)),
            identifier,
        )

    def narrow_requirement_selection(
        self,
        identifiers: Iterable[str],
        resolutions: Mapping[str, Candidate],
        candidates: Mapping[str, Iterator[Candidate]],
        information: Mapping[str, Iterator[RequirementInformation[Req, Candidate]]],
        backtrack_causes: Sequence[RequirementInformation[Req, Candidate]],
    ) -> Iterable[str]:
        # After a conflict, work on the projects it involved (the requirements
        # and the releases that required them) before anything else, so that
        # resolvelib changes a culprit instead of re-pinning bystanders.
        idents = list(identifiers)
        if not backtrack_causes:
            return idents
        causes = _cause_names(backtrack_causes)
        involved = [i for i in idents if _name_of(i) in causes]
        return involved or idents

    def _project(self, name: NormalizedName) -> ProjectReleases:
        project = self.projects.get(name)
        if project is None:
            formats = formats_for(name, only_binary=self.only_binary, no_binary=self.no_binary)
            target, cutoff = self.target, self.exclude_newer

            def judge(version: Version, files: Sequence[DistFile]) -> VersionInfo | None:
                return usable_release(
                    version, files, target=target, exclude_newer=cutoff, formats=formats
                )

            project = ProjectReleases(self.world.versions(name), judge)
            self.projects[name] = project
        return project

    def find_matches(
        self,
        identifier: str,
        requirements: Mapping[str, Iterator[Req]],
        incompatibilities: Mapping[str, Iterator[Candidate]],
    ) -> Callable[[], Iterator[Candidate]] | list[Candidate]:
        if identifier in (PYTHON_PROJECT, UNUSABLE_PROJECT):
            return []  # only added when a release's Requires-Python excludes the target
        reqs = list(requirements[identifier])
        name = reqs[0].name
        extras = reqs[0].extras
        seen = self.seen_requirements.setdefault(name, {})
        for r in reqs:
            seen.setdefault(str(r), r)
        bad = {c.version for c in incompatibilities[identifier]}
        url_reqs = [r for r in reqs if r.url]
        if url_reqs:
            return self._direct_candidates(name, extras, url_reqs[0].url or "", bad)
        try:
            project = self._project(name)
        except NoSuchProjectError as exc:
            parents = sorted({r.parent or r.location or r.source or "the input" for r in reqs})
            raise NoSuchProjectError(
                name, indexes=exc.indexes, required_by=f"required by {', '.join(parents)}"
            ) from exc
        specs = [r.specifier for r in reqs] + [c.specifier for c in self.constraints.get(name, [])]
        explicit_pre = (
            self.pre is True
            or (isinstance(self.pre, frozenset) and name in self.pre)
            or any(s.prereleases for s in specs if any(True for _ in s))
        )
        exact = {v for s in specs for e in _exact_pins(s) if (v := _parse(e)) is not None}
        want = self.preferred.get(name)
        no_final_fits: list[bool] = []  # computed on the first pre-release met

        def fits(version: Version) -> bool:
            return all(s.contains(version, prereleases=True) for s in specs)

        def pre_allowed() -> bool:
            # pip's rule (packaging's SpecifierSet.filter): without --pre or a specifier
            # naming a pre-release, pre-releases are candidates only when no final
            # release usable on the target satisfies the specifiers (which covers a
            # project that has only pre-releases).
            if not no_final_fits:
                no_final_fits.append(
                    not any(
                        not v.is_prerelease and fits(v) and project.info(v, fs) is not None
                        for v, fs in project.releases
                    )
                )
            return no_final_fits[0]

        def acceptable(version: Version, files: Sequence[DistFile]) -> Candidate | None:
            if version in bad:
                return None
            if not fits(version):
                return None
            if (
                version.is_prerelease
                and not explicit_pre
                and version not in exact
                and not pre_allowed()
            ):
                return None
            info = project.info(version, files)
            if info is None or (info.yanked and version not in exact):
                return None
            return Candidate(name, version, extras, info.files, None, info.yanked_reason)

        def candidates() -> Iterator[Candidate]:
            first = None
            if want is not None:
                files = next((fs for v, fs in project.releases if v == want), None)
                if files is not None and (first := acceptable(want, files)) is not None:
                    if self._alive(first):
                        yield first
                    else:
                        first = None
            releases = project.releases
            yielded = 1 if first is not None else 0
            ahead = 0  # releases[:ahead] were asked for together already
            for i, (version, files) in enumerate(releases):
                if first is not None and version == first.version:
                    continue
                cand = acceptable(version, files)
                if cand is None:
                    continue
                if (
                    (yielded or self.attempts[name] > 1)
                    and cand not in self._prefetched
                    and isinstance(self.world, Prefetching)
                ):
                    # Backtracking through this project (the release before this one
                    # was given and not kept, or it was pinned before): the older
                    # releases are likely read one after another next, so ask for a
                    # batch together, a bigger one each time (uv's batch prefetch).
                    window = self._windows.get(name, _WINDOW)
                    nxt = (acceptable(v, fs) for v, fs in releases[i : i + window])
                    self._prefetch([c for c in nxt if c is not None])
                    self._windows[name] = min(window * 2, _MAX_WINDOW)
                    ahead = i + window
                if self._alive(cand):
                    yielded += 1
                    yield cand
                elif i + 1 >= ahead:
                    # Older releases are read next: ask for a few of them together.
                    nxt = (acceptable(v, fs) for v, fs in releases[i + 1 : i + 1 + _WINDOW])
                    self._prefetch([c for c in nxt if c is not None])
                    ahead = i + 1 + _WINDOW

        return candidates

    def _alive(self, cand: Candidate) -> bool:
        why = self.dead.why(cand)
        if why is None:
            return True
        ends = self.dead_ends[cand.name]
        if why not in ends:
            if not ends:
                log.info("leaving out %s: %s", cand.pin, why)
            ends.append(why)
        return False

    def _prefetch(self, candidates: Sequence[Candidate]) -> None:
        if isinstance(self.world, Prefetching):
            # Only wheels: reading an sdist's metadata may mean a build, which only a
            # candidate the resolver really tries deserves.
            todo = [
                c
                for c in candidates
                if c not in self._prefetched and any(f.is_wheel for f in c.files)
            ]
            self._prefetched.update(todo)
            if todo:
                self.world.prefetch(todo)

    def _usable(
        self,
        name: NormalizedName,
        extras: frozenset[NormalizedName],
        wanted: Callable[[Version], bool],
    ) -> Iterator[Candidate] | None:
        """The releases of ``name`` usable on the target whose version is ``wanted``,
        newest first (None: an unknown project)."""
        try:
            project = self._project(name)
        except NoSuchProjectError:
            return None  # the resolver raises it, naming who required it, if it matters

        want = self.preferred.get(name)

        def each() -> Iterator[Candidate]:
            # The existing lock's pin first, as the resolver takes it: checking it
            # alone is usually enough to know a dependency can be met.
            if want is not None:
                for version, files in project.releases:
                    if version == want:
                        if wanted(version) and (info := project.info(version, files)):
                            yield Candidate(name, version, extras, info.files)
                        break
            for version, files in project.releases:
                # the version first: judging files for the target costs more
                if version != want and wanted(version) and (info := project.info(version, files)):
                    yield Candidate(name, version, extras, info.files)

        return each()

    def _peek_dependencies(self, candidate: Candidate) -> list[Req] | DeadEnd | None:
        """The candidate's requirements for a dead-end check; None when only a build
        (an sdist-only release) or a direct reference could tell."""
        if candidate.url is not None or not any(f.is_wheel for f in candidate.files):
            return None
        try:
            meta = self._metadata(candidate)
        except (BuildError, InvalidMetadataError) as exc:
            reason = self._unusable(candidate, exc)
            return DeadEnd((f"{label(candidate)} has metadata that cannot be read: {reason}",))
        self._tried(candidate)
        deps = self._requirements(candidate, meta)
        if isinstance(deps, SpecifierSet):
            return DeadEnd(
                (
                    f"{label(candidate)} requires Python {deps} "
                    f"(the target has {self.target.python_version})",
                ),
                requires_python=(str(deps), candidate.pin),
            )
        return deps

    def _metadata(self, candidate: Candidate) -> CoreMetadata:
        """The world's answer, asked once per release (the dead-end check and the
        resolver both read it)."""
        key = (candidate.name, candidate.version, candidate.url)
        known = self._meta.get(key)
        if known is None:
            try:
                known = self.world.metadata(candidate)
            except (BuildError, InvalidMetadataError) as exc:
                known = exc
            self._meta[key] = known
        if isinstance(known, Exception):
            raise known
        return known

    def _unusable(self, candidate: Candidate, exc: Exception) -> str:
        """Record (and say once) that a release's metadata cannot be read; its first line."""
        reason = str(exc).strip()
        if candidate.pin not in self.unusable:
            log.warning("skipping %s: %s", candidate.pin, reason.splitlines()[0].rstrip(":"))
            self.unusable[candidate.pin] = reason
        return reason.splitlines()[0].rstrip(":") if reason else type(exc).__name__

    def _tried(self, candidate: Candidate) -> None:
        tried = self.tried[candidate.name]
        if candidate.version not in tried:
            tried.append(candidate.version)

    def _requirements(self, candidate: Candidate, meta: CoreMetadata) -> list[Req] | SpecifierSet:
        """The candidate's dependencies on the target, or the Requires-Python that
        excludes the target."""
        if meta.requires_python and not self.target.supports_python(meta.requires_python):
            return SpecifierSet(meta.requires_python)
        # One requirement per (project, extras, URL): resolvelib re-reads every
        # requirement of a project each time one more is added, so N lines naming one
        # project (duplicated in a METADATA, or spelled N ways) would cost N² work.
        # Their specifiers are intersected, which is what N requirements mean.
        merged: dict[
            tuple[NormalizedName, frozenset[NormalizedName], str | None], list[SpecifierSet]
        ] = {}
        for r in meta.requires_dist:
            if r.marker is not None and not self.target.evaluate(r.marker, candidate.extras):
                continue
            key = (
                canonicalize_name(r.name),
                frozenset(canonicalize_name(e) for e in r.extras),
                r.url,
            )
            merged.setdefault(key, []).append(r.specifier)
        deps = []
        for (dep_name, dep_extras, dep_url), specs in merged.items():
            spec = specs[0]
            if len(specs) > 1:
                spec = SpecifierSet(",".join(t for t in dict.fromkeys(map(str, specs)) if t))
            deps.append(Req(dep_name, spec, dep_extras, dep_url, parent=candidate.pin))
        return deps

    def _direct_candidates(
        self, name: NormalizedName, extras: frozenset[NormalizedName], url: str, bad: set[Version]
    ) -> list[Candidate]:
        filename = url.split("#", maxsplit=1)[0].rsplit("/", 1)[-1]
        parsed = parse_filename(filename)
        if parsed is not None:
            version = parsed[1]
        else:
            meta = self.world.metadata(Candidate(name, _ZERO, frozenset(), (), url))
            if meta.version is None:
                return []
            version = meta.version
        if version in bad:
            return []
        f = DistFile(filename=filename, url=url.split("#", maxsplit=1)[0])
        return [Candidate(name, version, extras, (f,), url)]

    def is_satisfied_by(self, requirement: Req, candidate: Candidate) -> bool:
        if requirement.url:
            return candidate.url is not None and _same_url(requirement.url, candidate.url)
        return requirement.specifier.contains(candidate.version, prereleases=True)

    def get_dependencies(self, candidate: Candidate) -> list[Req]:
        deps: list[Req] = []
        parent = candidate.pin
        if candidate.extras:
            deps.append(
                Req(
                    candidate.name,
                    SpecifierSet(f"=={candidate.version}"),
                    url=candidate.url,
                    parent=parent,
                )
            )
        try:
            meta = self._metadata(candidate)
        except (BuildError, InvalidMetadataError) as exc:
            if candidate.url is not None:
                raise  # a direct reference the user named must work
            # An old sdist that no longer builds (Python 2 setup.py, a vanished build
            # dependency) or corrupt metadata: that release is unusable, not the whole
            # lock. Backtracking goes on; an explanation names the skipped release.
            first = self._unusable(candidate, exc)
            return [*deps, Req(UNUSABLE_PROJECT, parent=parent, source=first)]
        self._tried(candidate)
        self.attempts[candidate.name] += 1
        found = self._requirements(candidate, meta)
        if isinstance(found, SpecifierSet):
            # The index did not say (find-links pages, old index fronts) but the
            # metadata does: as pip does, the release cannot be used; an unsatisfiable
            # requirement makes resolvelib backtrack and name it in an explanation.
            deps.append(Req(PYTHON_PROJECT, found, parent=parent, source="python"))
            return deps
        for req in found:
            deps.append(req)
            self.world.discovered(req)
        return deps


def _name_of(identifier: str) -> NormalizedName:
    return canonicalize_name(identifier.split("[", maxsplit=1)[0])


def _cause_names(causes: Sequence[RequirementInformation[Req, Candidate]]) -> set[str]:
    names: set[str] = set()
    for c in causes:
        names.add(c.requirement.name)
        if c.parent is not None:
            names.add(c.parent.name)
    return names


def _parse(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def _same_url(a: str, b: str) -> bool:
    return a.split("#", maxsplit=1)[0].rstrip("/") == b.split("#", maxsplit=1)[0].rstrip("/")


#: The version of a direct reference's stand-in candidate while its metadata is read.
_ZERO = Version("0")


def resolve(
    world: World,
    roots: Sequence[Req],
    *,
    target: Target,
    constraints: Sequence[Req] = (),
    exclude_newer: dt.datetime | None = None,
    pre: bool | frozenset[NormalizedName] = False,
    only_binary: frozenset[str] = frozenset(),
    no_binary: frozenset[str] = frozenset(),
    preferred: Mapping[NormalizedName, Version] | None = None,
    max_rounds: int = 20000,
) -> Resolution:
    """Resolve ``roots`` for ``target``; raise ResolutionError with an explanation."""
    by_name: dict[NormalizedName, list[Req]] = defaultdict(list)
    for c in constraints:
        by_name[c.name].append(c)
    order: dict[NormalizedName, int] = {}
    bounds: dict[NormalizedName, list[RootBound]] = defaultdict(list)
    for r in roots:
        order.setdefault(r.name, len(order))
        world.discovered(r)
        if r.url is None and any(True for _ in r.specifier):
            bounds[r.name].append(RootBound(r.name, r.specifier, str(r), r.source or "the input"))
    for c in constraints:
        if c.url is None and any(True for _ in c.specifier):
            bounds[c.name].append(
                RootBound(c.name, c.specifier, str(c), c.source or "a constraint", constraint=True)
            )
    provider = _Provider(
        world,
        target=target,
        exclude_newer=exclude_newer,
        pre=pre,
        only_binary=only_binary,
        no_binary=no_binary,
        constraints=by_name,
        preferred=preferred or {},
        root_order=order,
        bounds=bounds,
    )
    resolver: _Resolver[Req, Candidate, str] = _Resolver(provider, BaseReporter())
    try:
        result = resolver.resolve(list(roots), max_rounds=max_rounds)
    except ResolutionImpossible as exc:
        raise explain_conflict(
            exc.causes,
            target=target,
            seen_requirements=provider.seen_requirements,
            constraints=provider.constraints,
            projects=provider.projects,
            tried=provider.tried,
            unusable=provider.unusable,
            exclude_newer=exclude_newer,
            dead_ends=provider.dead_ends,
        ) from None
    except ResolutionTooDeep:
        raise explain_churn(
            max_rounds, target=target, attempts=provider.attempts, tried=provider.tried
        ) from None

    log.debug(
        "dead-end check read %d releases' dependencies and left out releases of %d projects",
        provider.dead.examined,
        len([n for n, ends in provider.dead_ends.items() if ends]),
    )
    pins: dict[NormalizedName, Candidate] = {}
    for ident, cand in result.mapping.items():
        if "[" not in ident:
            pins[cand.name] = cand
        else:
            pins.setdefault(
                cand.name,
                Candidate(
                    cand.name, cand.version, frozenset(), cand.files, cand.url, cand.yanked_reason
                ),
            )
    parents: dict[NormalizedName, set[str]] = defaultdict(set)
    root_sources: dict[NormalizedName, set[str]] = defaultdict(set)
    for r in roots:
        if r.source:
            root_sources[r.name].add(r.source)
    for ident, cand in result.mapping.items():
        for parent in result.graph.iter_parents(ident):
            if parent is None:
                parents[cand.name].update(root_sources.get(cand.name, set()))
                continue
            pname = canonicalize_name(parent.split("[")[0])
            if pname != cand.name:
                parents[cand.name].add(pname)
    for name in pins:
        for c in by_name.get(name, []):
            # pip-compile's "# via" names constraint files, not --upgrade-package NAME==VER.
            if c.source and c.source.startswith(("-c ", "-r ")):
                parents[name].add(c.source)
    return Resolution(
        target=target,
        pins=dict(sorted(pins.items())),
        parents={n: frozenset(parents.get(n, set())) for n in sorted(pins)},
    )
