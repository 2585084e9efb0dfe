"""Resolution: the resolvelib provider and the pure rules around it.

The provider never does I/O itself: it asks a :class:`World` (the index as a
synchronous, blocking view) for versions and metadata, and tells it which
names it has just discovered so that a real world can fetch ahead.
Tests pass an in-memory world; production passes :class:`lockpin.python.world.IndexWorld`.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from resolvelib import AbstractProvider, BaseReporter, ResolutionImpossible, ResolutionTooDeep
from resolvelib import Resolver as _Resolver

from ..errors import NoSuchProjectError, ResolutionError
from .models import DistFile, parse_filename

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence

    from packaging.version import Version
    from resolvelib.resolvers import RequirementInformation

    from .metadata import CoreMetadata
    from .target import Target

__all__ = [
    "Candidate",
    "Req",
    "Resolution",
    "VersionInfo",
    "World",
    "group_versions",
    "resolve",
]

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
class VersionInfo:
    """A release as a candidate source: its files usable on the target."""

    version: Version
    files: tuple[DistFile, ...]
    yanked: bool = False
    yanked_reason: str | None = None


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


def group_versions(
    files: Iterable[DistFile],
    *,
    target: Target,
    exclude_newer: dt.datetime | None = None,
    only_binary: bool = False,
) -> list[VersionInfo]:
    """Group a project's files into releases usable on ``target``, newest first.

    A file counts when it was uploaded before ``exclude_newer`` (files without
    an upload time, such as local find-links, are kept), its Requires-Python
    admits the target, and it is a wheel compatible with the target or an
    sdist (unless ``only_binary``). A release is yanked when all its usable
    files are (PEP 592).
    """
    by_version: dict[Version, list[DistFile]] = defaultdict(list)
    for f in files:
        parsed = parse_filename(f.filename)
        if parsed is None:
            continue
        _name, version, kind = parsed
        if (
            exclude_newer is not None
            and f.upload_time is not None
            and f.upload_time > exclude_newer
        ):
            continue
        if kind == "wheel":
            if target.wheel_priority(f.filename) is None:
                continue
        elif only_binary:
            continue
        if not target.supports_python(f.requires_python):
            continue
        by_version[version].append(f)
    out = []
    for version, vfiles in by_version.items():
        yanked = all(f.yanked for f in vfiles)
        reason = next((f.yanked_reason for f in vfiles if f.yanked_reason), None)
        out.append(VersionInfo(version, tuple(vfiles), yanked, reason if yanked else None))
    out.sort(key=lambda v: v.version, reverse=True)
    return out


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
        constraints: Mapping[NormalizedName, list[Req]],
        preferred: Mapping[NormalizedName, Version],
        root_order: Mapping[NormalizedName, int],
    ) -> None:
        self.world = world
        self.target = target
        self.exclude_newer = exclude_newer
        self.pre = pre
        self.only_binary = only_binary
        self.constraints = constraints
        self.preferred = preferred
        self.root_order = root_order
        self._versions: dict[NormalizedName, list[VersionInfo]] = {}
        self.rejected: dict[NormalizedName, list[Version]] = {}

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
        causes = {c.requirement.name for c in backtrack_causes}
        name = reqs[0].name if reqs else canonicalize_name(identifier.split("[", maxsplit=1)[0])
        return (
            not direct,
            not pinned,
            name not in causes,
            not upper,
            self.root_order.get(name, len(self.root_order)),
            identifier,
        )

    def _infos(self, name: NormalizedName) -> list[VersionInfo]:
        infos = self._versions.get(name)
        if infos is None:
            files = self.world.versions(name)
            only = ":all:" in self.only_binary or name in self.only_binary
            infos = group_versions(
                files, target=self.target, exclude_newer=self.exclude_newer, only_binary=only
            )
            self._versions[name] = infos
        return infos

    def find_matches(
        self,
        identifier: str,
        requirements: Mapping[str, Iterator[Req]],
        incompatibilities: Mapping[str, Iterator[Candidate]],
    ) -> list[Candidate]:
        reqs = list(requirements[identifier])
        name = reqs[0].name
        extras = reqs[0].extras
        bad = {c.version for c in incompatibilities[identifier]}
        url_reqs = [r for r in reqs if r.url]
        if url_reqs:
            return self._direct_candidates(name, extras, url_reqs[0].url or "", bad)
        try:
            infos = self._infos(name)
        except NoSuchProjectError as exc:
            parents = sorted({r.parent or r.source or "the input" for r in reqs})
            raise NoSuchProjectError(
                name, indexes=exc.indexes, required_by=f"required by {', '.join(parents)}"
            ) from exc
        specs = [r.specifier for r in reqs] + [c.specifier for c in self.constraints.get(name, [])]
        explicit_pre = (
            self.pre is True
            or (isinstance(self.pre, frozenset) and name in self.pre)
            or any(s.prereleases for s in specs if any(True for _ in s))
        )
        if not explicit_pre and infos and all(i.version.is_prerelease for i in infos):
            explicit_pre = True  # if-necessary: a project with only pre-releases
        exact = set().union(*(_exact_pins(s) for s in specs)) if specs else set()
        out: list[Candidate] = []
        for info in infos:
            v = info.version
            if v in bad:
                continue
            if v.is_prerelease and not explicit_pre:
                continue
            if not all(s.contains(v, prereleases=True) for s in specs):
                continue
            if info.yanked and not any(v == type(v)(e) for e in exact if _valid(e)):
                continue
            out.append(Candidate(name, v, extras, info.files, None, info.yanked_reason))
        want = self.preferred.get(name)
        if want is not None:
            out.sort(key=lambda c: c.version != want)
        if not out:
            self.rejected[name] = [i.version for i in infos[:10]]
        return out

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
        meta = self.world.metadata(candidate)
        for r in meta.requires_dist:
            if r.marker is not None and not self.target.evaluate(r.marker, candidate.extras):
                continue
            req = Req(
                canonicalize_name(r.name),
                r.specifier,
                frozenset(canonicalize_name(e) for e in r.extras),
                r.url,
                parent=parent,
            )
            deps.append(req)
            self.world.discovered(req)
        return deps


def _valid(text: str) -> bool:
    from packaging.version import InvalidVersion, Version

    try:
        Version(text)
    except InvalidVersion:
        return False
    return True


def _same_url(a: str, b: str) -> bool:
    return a.split("#", maxsplit=1)[0].rstrip("/") == b.split("#", maxsplit=1)[0].rstrip("/")


def _zero() -> Version:
    from packaging.version import Version

    return Version("0")


_ZERO = _zero()


def resolve(
    world: World,
    roots: Sequence[Req],
    *,
    target: Target,
    constraints: Sequence[Req] = (),
    exclude_newer: dt.datetime | None = None,
    pre: bool | frozenset[NormalizedName] = False,
    only_binary: frozenset[str] = frozenset(),
    preferred: Mapping[NormalizedName, Version] | None = None,
    max_rounds: int = 20000,
) -> Resolution:
    """Resolve ``roots`` for ``target``; raise ResolutionError with an explanation."""
    by_name: dict[NormalizedName, list[Req]] = defaultdict(list)
    for c in constraints:
        by_name[c.name].append(c)
    order: dict[NormalizedName, int] = {}
    for r in roots:
        order.setdefault(r.name, len(order))
        world.discovered(r)
    provider = _Provider(
        world,
        target=target,
        exclude_newer=exclude_newer,
        pre=pre,
        only_binary=only_binary,
        constraints=by_name,
        preferred=preferred or {},
        root_order=order,
    )
    resolver: _Resolver[Req, Candidate, str] = _Resolver(provider, BaseReporter())
    try:
        result = resolver.resolve(list(roots), max_rounds=max_rounds)
    except ResolutionImpossible as exc:
        raise ResolutionError(_explain(exc.causes, provider, target)) from None
    except ResolutionTooDeep:
        raise ResolutionError(
            f"resolution for {target.describe()} gave up after {max_rounds} rounds of "
            "backtracking. Add tighter bounds to the requirements that change most."
        ) from None

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
            if c.source:
                parents[name].add(c.source)
    return Resolution(
        target=target,
        pins=dict(sorted(pins.items())),
        parents={n: frozenset(parents.get(n, set())) for n in sorted(pins)},
    )


def _explain(
    causes: Collection[RequirementInformation[Req, Candidate]],
    provider: _Provider,
    target: Target,
) -> str:
    lines = [f"the requirements cannot be satisfied together for {target.describe()}:"]
    seen: set[str] = set()
    names: list[NormalizedName] = []
    for cause in causes:
        req = cause.requirement
        who = cause.parent.pin if cause.parent is not None else (req.source or "the input")
        line = f"  - {req} (required by {who})"
        if line not in seen:
            seen.add(line)
            lines.append(line)
        if req.name not in names:
            names.append(req.name)
    for name in names:
        infos = provider._versions.get(name)
        if infos is None:
            continue
        available = ", ".join(str(i.version) for i in infos[:12]) or "none"
        more = f" (+{len(infos) - 12} older)" if len(infos) > 12 else ""
        lines.append(f"  versions of {name} usable on this target: {available}{more}")
    extra = []
    if provider.exclude_newer is not None:
        extra.append(f"--exclude-newer {provider.exclude_newer.isoformat()}")
    lines.append(
        "Loosen one of the conflicting requirements"
        + (f", or check the target ({target.describe()})" if target else "")
        + (f" and {extra[0]}" if extra else "")
        + "."
    )
    return "\n".join(lines)
