"""Resolution: the resolvelib provider and the pure rules around it.

The provider never does I/O itself: it asks a :class:`World` (the index as a
synchronous, blocking view) for versions and metadata, and tells it which
names it has just discovered so that a real world can fetch ahead.
Tests pass an in-memory world; production passes :class:`lockpin.python.world.IndexWorld`.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from resolvelib import AbstractProvider, BaseReporter, ResolutionImpossible, ResolutionTooDeep
from resolvelib import Resolver as _Resolver

from ..errors import BuildError, InvalidMetadataError, NoSuchProjectError, ResolutionError
from .models import DeferredFiles, DistFile, parse_filename, version_of, version_text

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable, Collection, Iterable, Iterator, Mapping

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


class _Group(DeferredFiles):
    """Some files of a page, by index: reading them materializes only these."""

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


def releases_of(files: Sequence[DistFile]) -> list[tuple[Version, Sequence[DistFile]]]:
    """All files grouped by release, newest first, without judging them.

    Pages parsed lazily (:class:`~lockpin.python.pages.LazyFiles`) are grouped by
    their filenames alone, so files of releases nobody looks at are never built.
    """
    cached = getattr(files, "releases_cache", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    names: list[str] | None = getattr(files, "filenames", None)
    if names is None:
        names = [f.filename for f in files]
    by_version: dict[Version, list[int]] = defaultdict(list)
    for i, filename in enumerate(names):
        version = version_of(version_text(filename))
        if version is not None:
            by_version[version].append(i)
    result: list[tuple[Version, Sequence[DistFile]]] = sorted(
        ((v, _Group(files, idx)) for v, idx in by_version.items()),
        key=lambda vf: vf[0],
        reverse=True,
    )
    if hasattr(files, "releases_cache"):
        files.releases_cache = result
    return result


def usable_release(
    version: Version,
    files: Iterable[DistFile],
    *,
    target: Target,
    exclude_newer: dt.datetime | None = None,
    only_binary: bool = False,
    no_binary: bool = False,
) -> VersionInfo | None:
    """The release's files usable on ``target``, or ``None`` when there are none.

    A file counts when it was uploaded before ``exclude_newer`` (files without
    an upload time, such as local find-links, are kept), its Requires-Python
    admits the target, and it is a wheel compatible with the target (unless
    ``no_binary``) or an sdist (unless ``only_binary``). A release is yanked
    when all its usable files are (PEP 592).
    """
    usable: list[DistFile] = []
    for f in files:
        if (
            exclude_newer is not None
            and f.upload_time is not None
            and f.upload_time > exclude_newer
        ):
            continue
        if f.filename.endswith(".whl"):
            if no_binary or target.wheel_priority(f.filename) is None:
                continue
        elif only_binary:
            continue
        if not target.supports_python(f.requires_python):
            continue
        usable.append(f)
    if not usable:
        return None
    yanked = all(f.yanked for f in usable)
    reason = next((f.yanked_reason for f in usable if f.yanked_reason), None) if yanked else None
    return VersionInfo(version, tuple(usable), yanked, reason)


def group_versions(
    files: Iterable[DistFile],
    *,
    target: Target,
    exclude_newer: dt.datetime | None = None,
    only_binary: bool = False,
) -> list[VersionInfo]:
    """Every release usable on ``target``, newest first (see :func:`usable_release`)."""
    out = []
    for version, vfiles in releases_of(files if isinstance(files, Sequence) else list(files)):
        info = usable_release(
            version, vfiles, target=target, exclude_newer=exclude_newer, only_binary=only_binary
        )
        if info is not None:
            out.append(info)
    return out


class _Project:
    """A project's releases, judged for the target lazily, newest first: the
    resolver usually needs only the first few of hundreds."""

    def __init__(
        self,
        files: Sequence[DistFile],
        judge: Callable[[Version, Sequence[DistFile]], VersionInfo | None],
    ) -> None:
        self.releases = releases_of(files)
        self._judge = judge
        self._infos: dict[Version, VersionInfo | None] = {}

    def info(self, version: Version, files: Sequence[DistFile]) -> VersionInfo | None:
        try:
            return self._infos[version]
        except KeyError:
            info = self._infos[version] = self._judge(version, files)
            return info

    def usable(self, limit: int) -> list[VersionInfo]:
        out = []
        for version, files in self.releases:
            info = self.info(version, files)
            if info is not None:
                out.append(info)
                if len(out) >= limit:
                    break
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
        no_binary: frozenset[str] = frozenset(),
        constraints: Mapping[NormalizedName, list[Req]],
        preferred: Mapping[NormalizedName, Version],
        root_order: Mapping[NormalizedName, int],
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
        self._projects: dict[NormalizedName, _Project] = {}
        self.tried: dict[NormalizedName, list[Version]] = defaultdict(list)
        self.unusable: dict[str, str] = {}  # "name==version" -> why its metadata failed
        # every distinct requirement met per project, to explain a conflict even when
        # resolvelib's last causes are only releases skipped on the way
        self.seen_requirements: dict[NormalizedName, dict[str, Req]] = {}

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

    def _project(self, name: NormalizedName) -> _Project:
        project = self._projects.get(name)
        if project is None:
            only = ":all:" in self.only_binary or name in self.only_binary
            no = not only and (":all:" in self.no_binary or name in self.no_binary)
            target, cutoff = self.target, self.exclude_newer

            def judge(version: Version, files: Sequence[DistFile]) -> VersionInfo | None:
                return usable_release(
                    version,
                    files,
                    target=target,
                    exclude_newer=cutoff,
                    only_binary=only,
                    no_binary=no,
                )

            project = _Project(self.world.versions(name), judge)
            self._projects[name] = project
        return project

    def find_matches(
        self,
        identifier: str,
        requirements: Mapping[str, Iterator[Req]],
        incompatibilities: Mapping[str, Iterator[Candidate]],
    ) -> Callable[[], Iterator[Candidate]] | list[Candidate]:
        if identifier in (_PYTHON, _UNUSABLE):
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
                    yield first
            for version, files in project.releases:
                if first is not None and version == first.version:
                    continue
                cand = acceptable(version, files)
                if cand is not None:
                    yield cand

        return candidates

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
            meta = self.world.metadata(candidate)
        except (BuildError, InvalidMetadataError) as exc:
            if candidate.url is not None:
                raise  # a direct reference the user named must work
            # An old sdist that no longer builds (Python 2 setup.py, a vanished build
            # dependency) or corrupt metadata: that release is unusable, not the whole
            # lock. Backtracking goes on; an explanation names the skipped release.
            reason = str(exc).strip()
            log.warning("skipping %s: %s", candidate.pin, reason.splitlines()[0].rstrip(":"))
            self.unusable[candidate.pin] = reason
            return [*deps, Req(_UNUSABLE, parent=parent, source=reason.splitlines()[0])]
        tried = self.tried[candidate.name]
        if candidate.version not in tried:
            tried.append(candidate.version)
        if meta.requires_python and not self.target.supports_python(meta.requires_python):
            # The index did not say (find-links pages, old index fronts) but the
            # metadata does: as pip does, the release cannot be used; an unsatisfiable
            # requirement makes resolvelib backtrack and name it in an explanation.
            deps.append(
                Req(_PYTHON, SpecifierSet(meta.requires_python), parent=parent, source="python")
            )
            return deps
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
        for (dep_name, dep_extras, dep_url), specs in merged.items():
            spec = specs[0]
            if len(specs) > 1:
                spec = SpecifierSet(",".join(t for t in dict.fromkeys(map(str, specs)) if t))
            req = Req(
                dep_name,
                spec,
                dep_extras,
                dep_url,
                parent=parent,
            )
            deps.append(req)
            self.world.discovered(req)
        return deps


def _parse(text: str) -> Version | None:
    from packaging.version import InvalidVersion, Version

    try:
        return Version(text)
    except InvalidVersion:
        return None


def _same_url(a: str, b: str) -> bool:
    return a.split("#", maxsplit=1)[0].rstrip("/") == b.split("#", maxsplit=1)[0].rstrip("/")


def _zero() -> Version:
    from packaging.version import Version

    return Version("0")


_ZERO = _zero()

#: The pseudo-project of a Requires-Python that excludes the target (never a real name).
_PYTHON = NormalizedName("<python>")
#: The pseudo-project of a release whose metadata cannot be read or built.
_UNUSABLE = NormalizedName("<unusable>")


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
    for r in roots:
        order.setdefault(r.name, len(order))
        world.discovered(r)
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
            # pip-compile's "# via" names constraint files, not --upgrade-package NAME==VER.
            if c.source and c.source.startswith(("-c ", "-r ")):
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
    parent_names: list[NormalizedName] = []
    for cause in causes:
        req = cause.requirement
        who = cause.parent.pin if cause.parent is not None else (req.source or "the input")
        if req.name == _UNUSABLE:
            if cause.parent is not None and cause.parent.name not in names:
                names.append(cause.parent.name)
            continue  # summarized below: the conflict is what the user needs first
        if req.name == _PYTHON:
            line = (
                f"  - {who} requires Python {req.specifier} "
                f"(the target has {target.python_version})"
            )
        else:
            line = f"  - {req} (required by {who})"
            if req.name not in names:
                names.append(req.name)
        if line not in seen:
            seen.add(line)
            lines.append(line)
        if cause.parent is not None and cause.parent.name not in parent_names:
            parent_names.append(cause.parent.name)
    for name in names:
        reqs_on = provider.seen_requirements.get(name, {})
        for req in reqs_on.values():
            who = req.parent or req.source or "the input"
            line = f"  - {req} (required by {who})"
            if line not in seen and len(reqs_on) <= 12:
                seen.add(line)
                lines.append(line)
    for name in names:
        for c in provider.constraints.get(name, []):
            line = f"  - {c} (constraint from {c.source or 'the input'})"
            if line not in seen:
                seen.add(line)
                lines.append(line)
    for name in names:
        project = provider._projects.get(name)
        if project is None:
            continue
        infos = project.usable(13)
        available = ", ".join(str(i.version) for i in infos[:12]) or "none"
        more = " (and older)" if len(infos) > 12 else ""
        lines.append(f"  versions of {name} usable on this target: {available}{more}")
    for name in parent_names:
        tried = sorted(provider.tried.get(name, []), reverse=True)
        if tried and name not in names:
            lines.append(f"  versions of {name} tried: {', '.join(str(v) for v in tried)}")
    if provider.unusable:
        skipped = sorted(provider.unusable)
        shown = ", ".join(skipped[:8]) + (
            f" and {len(skipped) - 8} more" if len(skipped) > 8 else ""
        )
        lines.append(f"  skipped because their metadata could not be read or built: {shown}")
        first = provider.unusable[skipped[0]].splitlines()
        lines.append(f"  {skipped[0]}: " + "\n    ".join(first[:1] + first[1:][-12:]))
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
