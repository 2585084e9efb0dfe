"""Releases that can never be part of a solution, found before resolvelib pins them
(pure, no I/O of its own).

resolvelib learns nothing from a conflict but the last pins that clashed: when a
new ``fastapi[standard]`` needs, three levels down, ``sentry-sdk>=2.20`` while the
input asks for ``sentry-sdk<2``, it blames ``sentry-sdk`` and walks back through
every release of it and of whatever else was pinned since, never reaching
``fastapi``. The input's own requirements and the constraints hold in every
solution, though, so a release whose dependencies cannot be met under them (no
usable release of a dependency fits both, or every one that fits is itself a
dead end) can be left out of the candidates from the start. That is sound: a
release is called dead only from facts (metadata read, the releases usable on
the target), never from a guess; anything not examined (too deep, too many
releases, a release whose metadata would need a build) counts as alive.

The chain that killed a release is kept as a :class:`DeadEnd`, so that an
impossible resolution says *why* (``fastapi[standard]==0.162.0 requires
fastapi-cli[standard]>=0.0.8; … requires sentry-sdk>=2.20.0; but -r
requirements.in asks for sentry-sdk<2``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence

    from packaging.specifiers import SpecifierSet
    from packaging.utils import NormalizedName
    from packaging.version import Version

__all__ = ["DeadEnd", "DeadEnds", "RootBound", "label"]


class _Requirement(Protocol):
    @property
    def name(self) -> NormalizedName: ...
    @property
    def specifier(self) -> SpecifierSet: ...
    @property
    def extras(self) -> frozenset[NormalizedName]: ...
    @property
    def url(self) -> str | None: ...


class _Candidate(Protocol):
    @property
    def version(self) -> Version: ...
    @property
    def pin(self) -> str: ...
    @property
    def identifier(self) -> str: ...
    def __hash__(self) -> int: ...


C = TypeVar("C", bound="_Candidate")
R = TypeVar("R", bound="_Requirement")


@dataclass(frozen=True, slots=True)
class RootBound:
    """A requirement every solution meets: a root input line or a constraint."""

    name: NormalizedName
    specifier: SpecifierSet
    text: str  # "sentry-sdk[fastapi]<2" as written
    source: str  # "-r requirements.in", "-c constraints.txt"
    constraint: bool = False


@dataclass(frozen=True, slots=True)
class DeadEnd:
    """Why a release can never be used: ``steps`` read top-down as one sentence.

    ``edges`` are the requirements of the chain as (requirement, required by,
    project), ``bounds`` the input's requirements it ends on (none when it ends
    on a release's metadata or on no release at all), ``requires_python`` the
    (specifier, release) it ends on when that release's Requires-Python excludes
    the target.
    """

    steps: tuple[str, ...]
    edges: tuple[tuple[str, str, NormalizedName], ...] = ()
    bounds: tuple[RootBound, ...] = ()
    requires_python: tuple[str, str] | None = None

    def __str__(self) -> str:
        return "; ".join(self.steps)


class DeadEnds(Generic[C, R]):
    """Decides, lazily and memoized, whether a candidate is a dead end.

    ``bounds`` are the requirements every solution meets, per project.
    ``releases(name, extras, wanted)`` gives the candidates of a project usable
    on the target whose version is ``wanted``, newest first (``None`` for a
    project the index does not know); ``dependencies`` reads one candidate's:
    its requirements, the :class:`DeadEnd` that makes it unusable by itself (its
    metadata fails, its Requires-Python excludes the target; see :func:`label`),
    or ``None`` when reading them would be expensive (an sdist-only release).
    ``depth`` bounds how many levels of metadata one question may read, ``width``
    how many releases of one dependency are examined before it counts as alive;
    ``prefetch``, when given, is told which candidates are about to be read, to
    start reading them together.
    """

    def __init__(
        self,
        *,
        bounds: Mapping[NormalizedName, Sequence[RootBound]],
        releases: Callable[
            [NormalizedName, frozenset[NormalizedName], Callable[[Version], bool]],
            Iterable[C] | None,
        ],
        dependencies: Callable[[C], Sequence[R] | DeadEnd | None],
        depth: int = 2,
        width: int = 64,
        prefetch: Callable[[Sequence[C]], None] | None = None,
    ) -> None:
        self.bounds = bounds
        self._releases = releases
        self._dependencies = dependencies
        self.depth = depth
        self.width = width
        self._prefetch = prefetch
        self._dead: dict[Hashable, DeadEnd] = {}
        # candidates and dependencies (name, extras, specifier) known dead, and those
        # known alive with the depth they were examined to
        self._alive: dict[Hashable, int] = {}
        self.examined = 0  # candidates whose dependencies were read, for the log

    def why(self, candidate: C) -> DeadEnd | None:
        """The chain that makes ``candidate`` unusable, or ``None`` when it may be used."""
        return self._why(candidate, self.depth, set())

    def _why(self, candidate: C, depth: int, stack: set[Hashable]) -> DeadEnd | None:
        known = self._dead.get(candidate)
        if known is not None:
            return known
        if self._alive.get(candidate, _NEVER) >= depth or candidate in stack:
            return None
        deps = self._dependencies(candidate)
        self.examined += 1
        if deps is None:
            return None
        if isinstance(deps, DeadEnd):
            self._dead[candidate] = deps
            return deps
        stack.add(candidate)
        try:
            # Shallow first: a dependency nothing fits (the input's own bound
            # against it) needs only its project page, however long the list.
            levels = (-1, depth - 1) if depth > 0 else (-1,)
            for level in levels:
                if level >= 0:
                    # Each dependency's newest fitting release is read next, one after
                    # another: ask for all of them together (pages are in hand by now).
                    self._prefetch_first(deps, level)
                for dep in deps:
                    why = self._dep_dead(dep, level, stack)
                    if why is not None:
                        dead = DeadEnd(
                            (f"{label(candidate)} requires {_text(dep)}", *why.steps),
                            ((_text(dep), candidate.pin, dep.name), *why.edges),
                            why.bounds,
                            why.requires_python,
                        )
                        self._dead[candidate] = dead
                        return dead
        finally:
            stack.discard(candidate)
        self._alive[candidate] = depth
        return None

    def _prefetch_first(self, deps: Sequence[R], depth: int) -> None:
        """Tell ``prefetch`` the newest fitting release of each dependency in ``deps``
        not yet judged to ``depth`` (the ones :meth:`_dep_dead` reads first)."""
        if self._prefetch is None:
            return
        firsts: list[C] = []
        for dep in deps:
            key = (dep.name, dep.extras, str(dep.specifier))
            if dep.url is not None or key in self._dead or self._alive.get(key, _NEVER) >= depth:
                continue
            releases = self._releases(dep.name, dep.extras, _contains(dep.specifier))
            if releases is None:
                continue
            bounds = self.bounds.get(dep.name, ())
            for cand in releases:
                if all(b.specifier.contains(cand.version, True) for b in bounds):
                    if cand not in self._dead and self._alive.get(cand, _NEVER) < depth:
                        firsts.append(cand)
                    break
        if len(firsts) > 1:
            self._prefetch(firsts)

    def _dep_dead(self, dep: R, depth: int, stack: set[Hashable]) -> DeadEnd | None:
        """Why no release can meet ``dep`` (the chain after "X requires dep"), or None."""
        if dep.url is not None:
            return None  # a direct reference: one file, judged when it is pinned
        key = (dep.name, dep.extras, str(dep.specifier))
        known = self._dead.get(key)
        if known is not None:
            return known
        if self._alive.get(key, _NEVER) >= depth:
            return None
        why = self._dep_dead_uncached(dep, depth, stack)
        if why is not None:
            self._dead[key] = why
        else:  # at worst an assumption made inside a cycle: only costs pruning
            self._alive[key] = depth
        return why

    def _dep_dead_uncached(self, dep: R, depth: int, stack: set[Hashable]) -> DeadEnd | None:
        bounds = self.bounds.get(dep.name, ())
        spec = dep.specifier
        releases = self._releases(dep.name, dep.extras, lambda v: spec.contains(v, True))
        if releases is None:
            return None  # an unknown project: the resolver says so when it matters
        it = iter(releases)
        matching = False  # a release meets ``dep`` alone

        def next_fitting() -> C | None:
            nonlocal matching
            for cand in it:
                matching = True
                if all(b.specifier.contains(cand.version, True) for b in bounds):
                    return cand
            return None

        whys: list[tuple[C, DeadEnd]] = []
        pending: list[C] = []
        while (cand := pending.pop(0) if pending else next_fitting()) is not None:
            if depth < 0 or len(whys) >= self.width:
                return None  # something fits and looking further is not allowed
            if whys and not pending and self._prefetch is not None:
                # The newest did not fit: the next ones are likely read too, so ask
                # for them together rather than one round trip at a time.
                pending = [c for c in (next_fitting() for _ in range(_WINDOW - 1)) if c]
                self._prefetch([cand, *pending])
            why = self._why(cand, depth, stack)
            if why is None:
                return None
            whys.append((cand, why))
        if not whys:
            if matching:
                asks = ", ".join(f"{b.source} asks for {b.text}" for b in bounds)
                return DeadEnd((f"but {asks}",), bounds=tuple(bounds))
            return DeadEnd((f"no release of {dep.name} usable on the target matches {_text(dep)}",))
        first = whys[0][1]
        if len(whys) == 1:
            return first
        head, *rest = first.steps
        others = f"{len(whys) - 1} other version" + ("s" if len(whys) > 2 else "")
        oldest = whys[-1][0].version
        return DeadEnd(
            (f"{head} (and the {others} that fit, down to {oldest}, cannot be used either)", *rest),
            first.edges,
            first.bounds,
            first.requires_python,
        )


#: Below any depth a question is asked at (-1 is "page only, no metadata").
_NEVER = -2
#: How many releases' metadata to ask for at once once the newest one failed.
_WINDOW = 8


def _contains(spec: SpecifierSet) -> Callable[[Version], bool]:
    """``spec`` as a predicate (pre-releases admitted, as everywhere here)."""
    return lambda v: spec.contains(v, True)


def label(candidate: _Candidate) -> str:
    """A release as a chain names it: ``fastapi[standard]==0.162.0``."""
    return f"{candidate.identifier}=={candidate.version}"


def _text(req: _Requirement) -> str:
    extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
    return f"{req.name}{extras}{req.specifier}"
