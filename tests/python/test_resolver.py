"""A resolver that ends: releases ruled out by the input's own requirements are
left out before resolvelib pins them (:mod:`lockpin.python.deadends`), an
impossible set names the chain that makes it so, and giving up names the
projects that churned.

The shapes come from real files: a FastAPI-template backend asks for
``fastapi[standard]`` and ``sentry-sdk<2``; newer ``fastapi[standard]`` needs,
three levels down, ``sentry-sdk>=2.20``. Here ``app`` → ``cli[std]`` → ``cloud``
→ ``sdk>=2`` stands for that chain, and ``c``, with forty ancient sdist-only
releases, for the unrelated ``cssutils`` the old resolver walked into.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, NamedTuple

import pytest
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from fixtures.dists import build_sdist, build_wheel
from lockpin.errors import Conflict, NoSuchProjectError, ResolutionError
from lockpin.net.http import HttpConfig
from lockpin.python.compile import compile_lock
from lockpin.python.index import IndexConfig
from lockpin.python.metadata import CoreMetadata
from lockpin.python.models import DistFile
from lockpin.python.provider import Candidate, Req, Resolution, resolve
from lockpin.python.target import parse_target

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from pathlib import Path

    from fixtures.index_server import IndexServer

AMD64 = parse_target(python_version="3.12", platform="linux/amd64")


class Rel(NamedTuple):
    """One release: its dependencies (``extra == 'x'`` markers for extras), what
    its metadata says of Requires-Python, and its files (wheel tags or "sdist")."""

    version: str
    deps: Sequence[str] = ()
    files: Sequence[str] = ("py3-none-any",)
    metadata_requires_python: str | None = None


Projects = dict[str, list[Rel]]


@dataclass
class FakeWorld:
    """The World protocol over ``name -> releases``, recording metadata reads."""

    projects: Mapping[str, Sequence[Rel]]
    metadata_calls: list[str] = field(default_factory=list)

    def _releases(self, name: NormalizedName) -> Sequence[Rel]:
        for key, rels in self.projects.items():
            if canonicalize_name(key) == name:
                return rels
        raise NoSuchProjectError(name, indexes=("memory://",))

    def versions(self, name: NormalizedName) -> Sequence[DistFile]:
        dist = name.replace("-", "_")
        return [
            DistFile(
                filename=(
                    f"{dist}-{rel.version}.tar.gz"
                    if kind == "sdist"
                    else f"{dist}-{rel.version}-{kind}.whl"
                ),
                url=f"memory://files/{dist}-{rel.version}-{kind}",
                hashes={"sha256": "0" * 64},
            )
            for rel in self._releases(name)
            for kind in rel.files
        ]

    def metadata(self, candidate: Candidate) -> CoreMetadata:
        self.metadata_calls.append(candidate.pin)
        rel = next(
            r for r in self._releases(candidate.name) if Version(r.version) == candidate.version
        )
        reqs = tuple(Requirement(d) for d in rel.deps)
        extras = sorted({e for d in rel.deps for e in _extras_named(d)})
        return CoreMetadata(
            name=candidate.name,
            version=candidate.version,
            requires_dist=reqs,
            requires_python=rel.metadata_requires_python,
            provides_extra=tuple(canonicalize_name(e) for e in extras),
        )

    def discovered(self, req: Req) -> None:
        pass


def _extras_named(dep: str) -> list[str]:
    _, _, marker = dep.partition(";")
    return [part.split("'")[1] for part in marker.split("and") if "extra" in part]


def root(text: str, source: str = "-r requirements.in") -> Req:
    r = Requirement(text)
    extras = frozenset(canonicalize_name(e) for e in r.extras)
    return Req(canonicalize_name(r.name), r.specifier, extras, r.url, source=source)


def run(
    projects: Mapping[str, Sequence[Rel]],
    *roots: str,
    constraints: Sequence[str] = (),
    world: FakeWorld | None = None,
    max_rounds: int = 20000,
) -> Resolution:
    return resolve(
        world or FakeWorld(projects),
        [root(r) for r in roots],
        target=AMD64,
        constraints=[root(c, "-c constraints.txt") for c in constraints],
        max_rounds=max_rounds,
    )


def pins(res: Resolution) -> dict[str, str]:
    return {name: str(c.version) for name, c in res.pins.items()}


def explain(projects: Projects, *roots: str, constraints: Sequence[str] = ()) -> str:
    with pytest.raises(ResolutionError) as info:
        run(projects, *roots, constraints=constraints)
    return str(info.value)


def shaped(
    apps: int = 10, clis: int = 6, clouds: int = 6, sdks: int = 20, olds: int = 40
) -> Projects:
    """The FastAPI-template shape (see the module docstring)."""
    return {
        "app": [Rel(f"2.{i}", ["cli[std]>=1", "c"]) for i in range(apps, 0, -1)]
        + [Rel("1.0", ["cli<1", "c"])],
        "cli": [Rel(f"1.{i}", ["cloud ; extra == 'std'", "tool"]) for i in range(clis, 0, -1)]
        + [Rel("0.9", ["tool"])],
        "cloud": [Rel(f"1.{i}", ["sdk>=2", "tool"]) for i in range(clouds, 0, -1)],
        "sdk": [Rel("2.0")] + [Rel(f"1.{i}", ["tool"]) for i in range(sdks, 0, -1)],
        "tool": [Rel(f"3.{i}") for i in range(5, 0, -1)],
        "c": [Rel("3.0", ["tool"])]
        + [Rel(f"0.{i}", ["tool"], ("sdist",)) for i in range(olds, 0, -1)],
    }


ROOTS = ("app", "sdk[web]<2", "c")


def test_a_release_ruled_out_deep_down_is_skipped_within_a_small_budget() -> None:
    # Before: "gave up after 2000 rounds", 5250 metadata reads, 92 of them old c sdists.
    world = FakeWorld(shaped())
    res = run(world.projects, *ROOTS, world=world, max_rounds=100)
    assert pins(res) == {"app": "1.0", "c": "3.0", "cli": "0.9", "sdk": "1.20", "tool": "3.5"}
    assert not [m for m in world.metadata_calls if m.startswith("c==0.")]
    assert len(world.metadata_calls) < 60


def test_the_newest_release_still_wins_when_nothing_rules_it_out() -> None:
    world = FakeWorld(shaped())
    res = run(world.projects, "app", "c", world=world)
    assert pins(res)["app"] == "2.10"
    assert pins(res)["sdk"] == "2.0"


def test_an_impossible_pin_names_the_whole_chain() -> None:
    text = explain(shaped(), "app==2.5", "sdk[web]<2", "c")
    assert "app==2.5 (required by -r requirements.in)" in text
    assert "whatever else is chosen, app==2.5 requires cli[std]>=1:" in text
    assert "cli[std]==1.6 requires cloud (and the 5 other versions that fit, down to 1.1" in text
    assert "cloud==1.6 requires sdk>=2 (and the 5 other versions that fit, down to 1.1" in text
    assert "but -r requirements.in asks for sdk[web]<2" in text
    # the chain is in the message's order, top to bottom
    assert text.index("app==2.5 requires") < text.index("cloud==1.6 requires")


def test_an_impossible_pin_carries_the_chain_as_data() -> None:
    with pytest.raises(ResolutionError) as info:
        run(shaped(), "app==2.5", "sdk[web]<2", "c")
    conflicts = info.value.conflicts
    assert Conflict("requirement", "cli[std]>=1", "app==2.5", "cli") in conflicts
    assert Conflict("requirement", "sdk>=2", "cloud==1.6", "sdk") in conflicts
    assert Conflict("requirement", "sdk[web]<2", "-r requirements.in", "sdk") in conflicts


def test_a_chain_ending_on_a_constraint_says_so() -> None:
    projects: Projects = {"a": [Rel("2.0", ["b>=2"]), Rel("1.0", ["b"])], "b": [Rel("2.0")]}
    text = explain(projects, "a==2.0", constraints=["b<2"])
    assert "a==2.0 requires b>=2:" in text
    assert "but -c constraints.txt asks for b<2" in text
    with pytest.raises(ResolutionError) as info:
        run(projects, "a==2.0", constraints=["b<2"])
    assert Conflict("constraint", "b<2", "-c constraints.txt", "b") in info.value.conflicts


def test_a_chain_ending_on_requires_python() -> None:
    projects: Projects = {
        "a": [Rel("2.0", ["b>=2"])],
        "b": [Rel("2.0", metadata_requires_python=">=3.13"), Rel("1.0")],
    }
    text = explain(projects, "a")
    assert "b==2.0 requires Python >=3.13 (the target has 3.12.0)" in text
    with pytest.raises(ResolutionError) as info:
        run(projects, "a")
    assert Conflict("requires-python", ">=3.13", "b==2.0") in info.value.conflicts


def test_a_dependency_no_release_matches_is_a_dead_end() -> None:
    projects: Projects = {"a": [Rel("2.0", ["b>=5"]), Rel("1.0", ["b"])], "b": [Rel("1.0")]}
    assert pins(run(projects, "a")) == {"a": "1.0", "b": "1.0"}
    text = explain(projects, "a==2.0")
    assert "no release of b usable on the target matches b>=5" in text


def test_sdist_only_releases_are_never_read_to_rule_them_out() -> None:
    # Reading an sdist's metadata may mean a build: only a release the resolver
    # really tries deserves one, so the check counts such a release as usable.
    projects: Projects = {
        "a": [Rel("2.0", ["b"]), Rel("1.0")],
        "b": [Rel("1.0", ["nothing-fits>=9"], ("sdist",))],
        "nothing-fits": [Rel("1.0")],
    }
    world = FakeWorld(projects)
    with pytest.raises(ResolutionError):
        run(projects, "a==2.0", world=world)
    assert world.metadata_calls.count("b==1.0") == 1  # the resolver's own try, not the check's


def test_cycles_do_not_loop() -> None:
    projects: Projects = {"a": [Rel("1.0", ["b"])], "b": [Rel("1.0", ["a"])]}
    assert pins(run(projects, "a")) == {"a": "1.0", "b": "1.0"}


# -- messages ----------------------------------------------------------------------------------


def test_usable_versions_list_final_releases_before_pre_releases() -> None:
    projects: Projects = {
        "b": [Rel("5.7.0rc1"), Rel("5.7.0b1"), Rel("5.6.0"), Rel("5.5.0")],
    }
    text = explain(projects, "b>=6")
    assert "versions of b usable on this target: 5.6.0, 5.5.0, 5.7.0rc1, 5.7.0b1" in text


CHURN: Projects = {
    # each x pins its own z, every z but the oldest needs w<2, y needs w>=2: a
    # conflict between dependencies, which only backtracking (not the input) finds.
    "x": [Rel(f"1.{i}", [f"z==1.{i}"]) for i in range(30, 0, -1)] + [Rel("1.0", ["z==0.1"])],
    "y": [Rel("1.0", ["w>=2"])],
    "z": [Rel(f"1.{i}", ["w<2"]) for i in range(30, 0, -1)] + [Rel("0.1", ["w"])],
    "w": [Rel("2.0"), Rel("1.0")],
}


def test_giving_up_names_the_projects_that_churned_and_a_bound() -> None:
    with pytest.raises(ResolutionError) as info:
        run(CHURN, "y", "x", max_rounds=20)
    text = str(info.value)
    assert "gave up after 20 rounds of backtracking" in text
    assert "The projects tried most:\n  - x: 7 versions tried (1.30 down to 1.24)" in text
    assert "e.g. x<1.24 to skip the versions already tried, or x==1.30 if" in text
    assert info.value.conflicts == ()


def test_the_churning_set_resolves_with_rounds_enough() -> None:
    assert pins(run(CHURN, "y", "x")) == {"w": "2.0", "x": "1.0", "y": "1.0", "z": "0.1"}


# -- against the fixture index: what is fetched ------------------------------------------------


@pytest.fixture
def shaped_index(
    tmp_path_factory: pytest.TempPathFactory, make_index: Callable[..., IndexServer]
) -> IndexServer:
    where = tmp_path_factory.mktemp("shaped")
    server = make_index(where, standard=False)
    when = datetime(2024, 1, 1, tzinfo=timezone.utc)
    for name, rels in shaped(apps=6, clis=4, clouds=4, sdks=8, olds=12).items():
        for rel in rels:
            deps = list(rel.deps)
            extras: dict[str, list[str]] = {}
            if name == "cli" and rel.version.startswith("1."):
                deps, extras = ["tool"], {"std": ["cloud"]}
            if "sdist" in rel.files:
                path = build_sdist(where, name, rel.version, requires=deps)
            else:
                path = build_wheel(where, name, rel.version, requires=deps, extras=extras)
            server.add_file(path, upload_time=when)
    return server


def test_the_fixture_index_is_asked_for_no_old_sdist(
    shaped_index: IndexServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "requirements.in").write_text("\n".join(ROOTS) + "\n")
    lock = compile_lock(
        ["requirements.in"],
        targets=(parse_target(python_version="3.12", platform="linux/amd64"),),
        index=IndexConfig(index_url=shaped_index.simple_url),
        http=HttpConfig(cache_dir=None),
    )
    got = {p.name: str(p.version) for p in lock.packages}
    assert got == {"app": "1.0", "c": "3.0", "cli": "0.9", "sdk": "1.8", "tool": "3.5"}
    old = [p for p in shaped_index.paths() if "/c-0." in p]
    assert old == []
    # the newest c was read, so the log above does show files being fetched
    assert any("/c-3.0" in p for p in shaped_index.paths())


def test_fetching_ahead_reads_no_sdist(
    make_index: Callable[..., IndexServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a==2.0 is a dead end (b>=2 against the input's b<2) and alone needs the
    # sdist-only s: reading s's metadata ahead could mean a build nobody waits for.
    where = tmp_path / "dists"
    where.mkdir()
    server = make_index(where, standard=False)
    when = datetime(2024, 1, 1, tzinfo=timezone.utc)
    for path in (
        build_wheel(where, "a", "2.0", requires=["s", "b>=2"]),
        build_wheel(where, "a", "1.0", requires=["b"]),
        build_wheel(where, "b", "2.0"),
        build_wheel(where, "b", "1.0"),
        build_sdist(where, "s", "1.0"),
    ):
        server.add_file(path, upload_time=when)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "requirements.in").write_text("a\nb<2\n")
    lock = compile_lock(
        ["requirements.in"],
        targets=(AMD64,),
        index=IndexConfig(index_url=server.simple_url),
        http=HttpConfig(cache_dir=None),
    )
    assert {p.name: str(p.version) for p in lock.packages} == {"a": "1.0", "b": "1.0"}
    assert "/simple/s/" in server.paths()  # its page was fetched ahead, as before
    assert not [p for p in server.paths() if p.startswith("/files/s-")]
