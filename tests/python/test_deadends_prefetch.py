"""The dead-end check asks for metadata together, not one round trip at a time.

Before it reads its dependencies' newest fitting releases one after another, it
names all of them to ``prefetch`` (the world starts those reads concurrently);
releases already judged, direct references and releases nothing fits are not
named.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from lockpin.python.deadends import DeadEnds, RootBound

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence


@dataclass(frozen=True)
class Cand:
    name: NormalizedName
    version: Version

    @property
    def pin(self) -> str:
        return f"{self.name}=={self.version}"

    @property
    def identifier(self) -> str:
        return self.name


@dataclass(frozen=True)
class Dep:
    name: NormalizedName
    specifier: SpecifierSet = field(default_factory=SpecifierSet)
    extras: frozenset[NormalizedName] = frozenset()
    url: str | None = None


def dep(text: str, url: str | None = None) -> Dep:
    name, _, spec = text.partition(" ")
    return Dep(canonicalize_name(name), SpecifierSet(spec), url=url)


#: name -> version -> dependencies (newest first when listed)
WORLD: dict[str, dict[str, list[Dep]]] = {
    "app": {"1.0": [dep("a"), dep("b >=2"), dep("c"), dep("d", url="https://x/d.whl")]},
    "a": {"3.0": [], "2.0": []},
    "b": {"2.5": [], "1.0": []},
    "c": {"9.0": [dep("x")]},
    "x": {"1.0": []},
}


def make(
    bounds: dict[NormalizedName, Sequence[RootBound]] | None = None,
) -> tuple[DeadEnds[Cand, Dep], list[list[str]], list[str]]:
    asked: list[list[str]] = []
    read: list[str] = []

    def releases(
        name: NormalizedName, extras: frozenset[NormalizedName], wanted: Callable[[Version], bool]
    ) -> Iterator[Cand] | None:
        if name not in WORLD:
            return None
        vs = sorted((Version(v) for v in WORLD[name]), reverse=True)
        return (Cand(name, v) for v in vs if wanted(v))

    def dependencies(c: Cand) -> list[Dep]:
        read.append(c.pin)
        return WORLD[c.name][str(c.version)]

    def prefetch(cands: Sequence[Cand]) -> None:
        asked.append([c.pin for c in cands])

    dead = DeadEnds[Cand, Dep](
        bounds=bounds or {}, releases=releases, dependencies=dependencies, prefetch=prefetch
    )
    return dead, asked, read


def test_the_newest_fitting_release_of_each_dependency_is_asked_for_at_once() -> None:
    dead, asked, read = make()
    assert dead.why(Cand(canonicalize_name("app"), Version("1.0"))) is None
    # one batch, before any of them is read; the direct reference is not in it
    assert asked[0] == ["a==3.0", "b==2.5", "c==9.0"]
    assert read[0] == "app==1.0"
    assert set(read[1:4]) == {"a==3.0", "b==2.5", "c==9.0"}


def test_a_bound_decides_which_release_is_asked_for() -> None:
    bound = RootBound(canonicalize_name("a"), SpecifierSet("<3"), "a<3", "-r in")
    dead, asked, _ = make({canonicalize_name("a"): [bound]})
    assert dead.why(Cand(canonicalize_name("app"), Version("1.0"))) is None
    assert asked[0] == ["a==2.0", "b==2.5", "c==9.0"]


def test_nothing_already_judged_is_asked_for_again() -> None:
    dead, asked, _ = make()
    app = Cand(canonicalize_name("app"), Version("1.0"))
    assert dead.why(app) is None
    n = len(asked)
    assert dead.why(app) is None
    assert len(asked) == n  # memoized: no second batch
