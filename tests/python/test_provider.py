"""The resolver's rules against an in-memory :class:`World` (no HTTP).

Each project is a list of releases; a release becomes one ``DistFile`` per
file kind (a pure wheel by default) plus a :class:`CoreMetadata`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple, TypedDict

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from lockpin.errors import (
    BuildError,
    Conflict,
    InvalidMetadataError,
    NetworkError,
    NoSuchProjectError,
    ResolutionError,
)
from lockpin.python.metadata import CoreMetadata
from lockpin.python.models import DistFile
from lockpin.python.provider import Candidate, Req, Resolution, resolve
from lockpin.python.releases import releases_of, usable_release
from lockpin.python.target import Target, parse_target

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from typing_extensions import Unpack


def utc(year: int, month: int = 1, day: int = 1) -> dt.datetime:
    return dt.datetime(year, month, day, tzinfo=dt.timezone.utc)


class Rel(NamedTuple):
    """One release: the five fields of the brief plus the files it ships.

    ``files`` holds wheel tags (``py3-none-any``, ``cp312-cp312-win_amd64``)
    or ``"sdist"``. ``metadata_requires_python`` is what the release's
    metadata says when the index page does not carry it (find-links pages).
    """

    version: str
    deps: Sequence[str] = ()
    requires_python: str | None = None
    upload_time: dt.datetime | None = None
    yanked: bool | str = False
    files: Sequence[str] = ("py3-none-any",)
    metadata_requires_python: str | None = None


Projects = dict[str, list["Rel | tuple[object, ...]"]]


@dataclass
class FakeWorld:
    """The World protocol over a dict ``name -> releases``."""

    projects: Mapping[str, Sequence[Rel | tuple[object, ...]]]
    metadata_calls: list[str] = field(default_factory=list)
    discovered_names: list[str] = field(default_factory=list)
    url_metadata: dict[str, CoreMetadata] = field(default_factory=dict)

    def _releases(self, name: NormalizedName) -> list[Rel]:
        for key, rels in self.projects.items():
            if canonicalize_name(key) == name:
                return [r if isinstance(r, Rel) else Rel(*r) for r in rels]  # type: ignore[arg-type]
        raise NoSuchProjectError(name, indexes=("memory://",))

    def versions(self, name: NormalizedName) -> Sequence[DistFile]:
        files = []
        for rel in self._releases(name):
            dist = name.replace("-", "_")
            for kind in rel.files:
                filename = (
                    f"{dist}-{rel.version}.tar.gz"
                    if kind == "sdist"
                    else f"{dist}-{rel.version}-{kind}.whl"
                )
                files.append(
                    DistFile(
                        filename=filename,
                        url=f"memory://files/{filename}",
                        hashes={"sha256": "0" * 64},
                        requires_python=rel.requires_python,
                        yanked=bool(rel.yanked),
                        yanked_reason=rel.yanked if isinstance(rel.yanked, str) else None,
                        upload_time=rel.upload_time,
                    )
                )
        return files

    def metadata(self, candidate: Candidate) -> CoreMetadata:
        self.metadata_calls.append(f"{candidate.name}=={candidate.version}")
        if candidate.url is not None:
            return self.url_metadata[candidate.url]
        for rel in self._releases(candidate.name):
            if Version(rel.version) == candidate.version:
                reqs = tuple(Requirement(d) for d in rel.deps)
                extras = sorted(
                    {
                        canonicalize_name(str(m[2]))
                        for r in reqs
                        if r.marker is not None
                        for m in _marker_atoms(r.marker._markers)
                        if str(m[0]) == "extra"
                    }
                )
                return CoreMetadata(
                    name=candidate.name,
                    version=candidate.version,
                    requires_dist=reqs,
                    requires_python=rel.metadata_requires_python or rel.requires_python,
                    provides_extra=tuple(extras),
                )
        raise AssertionError(f"no release {candidate.pin}")

    def discovered(self, req: Req) -> None:
        self.discovered_names.append(req.name)


def _marker_atoms(markers: object) -> Iterable[tuple[object, object, object]]:
    if isinstance(markers, tuple):
        yield markers
    elif isinstance(markers, list):
        for m in markers:
            yield from _marker_atoms(m)


AMD64 = parse_target(python_version="3.12", platform="linux/amd64")
ARM64 = parse_target(python_version="3.12", platform="linux/arm64")
WIN = parse_target(python_version="3.12", platform="win_amd64")


def root(text: str, source: str = "-r requirements.in") -> Req:
    r = Requirement(text)
    return Req(
        canonicalize_name(r.name),
        r.specifier,
        frozenset(canonicalize_name(e) for e in r.extras),
        r.url,
        source=source,
    )


class ResolveOptions(TypedDict, total=False):
    """The keyword arguments of :func:`resolve` that :func:`run` passes through."""

    exclude_newer: dt.datetime | None
    pre: bool | frozenset[NormalizedName]
    only_binary: frozenset[str]
    no_binary: frozenset[str]
    preferred: Mapping[NormalizedName, Version] | None
    max_rounds: int


class RunOptions(ResolveOptions, total=False):
    """Every keyword argument of :func:`run`."""

    target: Target
    constraints: Sequence[str]
    world: FakeWorld | None


def run(
    projects: Mapping[str, Sequence[Rel | tuple[object, ...]]],
    *roots: str,
    target: Target = AMD64,
    constraints: Sequence[str] = (),
    world: FakeWorld | None = None,
    **options: Unpack[ResolveOptions],
) -> Resolution:
    world = world or FakeWorld(projects)
    return resolve(
        world,
        [root(r) for r in roots],
        target=target,
        constraints=[root(c, "-c constraints.txt") for c in constraints],
        **options,
    )


def pins(res: Resolution) -> dict[str, str]:
    return {name: str(c.version) for name, c in res.pins.items()}


def pinned(res: Resolution, name: str) -> Candidate:
    """The pin of ``name`` (written normalized in the tests)."""
    return res.pins[NormalizedName(name)]


def parents_of(res: Resolution, name: str) -> frozenset[str]:
    """Who required ``name`` (written normalized in the tests)."""
    return res.parents[NormalizedName(name)]


def explain(projects: Projects, *roots: str, **kwargs: Unpack[RunOptions]) -> str:
    with pytest.raises(ResolutionError) as info:
        run(projects, *roots, **kwargs)
    return str(info.value)


# -- trees -------------------------------------------------------------------------------------

TREE: Projects = {
    "flask": [
        ("3.0.0", ["werkzeug>=3.0", "jinja2>=3.1.2", "click>=8.1.3", "blinker>=1.6.2"]),
        ("2.3.0", ["werkzeug>=2.3", "jinja2>=3.1.2", "click>=8.1.3"]),
    ],
    "werkzeug": [("3.0.1", ["markupsafe>=2.1.1"]), ("2.3.8", ["markupsafe>=2.1.1"])],
    "jinja2": [("3.1.2", ["MarkupSafe>=2.0"])],
    "click": [("8.1.7", [])],
    "blinker": [("1.7.0", [])],
    "markupsafe": [("2.1.3", []), ("2.1.1", [])],
}


def test_simple_tree_pins_newest_and_records_parents() -> None:
    res = run(TREE, "flask")
    assert pins(res) == {
        "blinker": "1.7.0",
        "click": "8.1.7",
        "flask": "3.0.0",
        "jinja2": "3.1.2",
        "markupsafe": "2.1.3",
        "werkzeug": "3.0.1",
    }
    assert list(res.pins) == sorted(res.pins)
    assert parents_of(res, "flask") == {"-r requirements.in"}
    assert parents_of(res, "markupsafe") == {"jinja2", "werkzeug"}
    assert parents_of(res, "click") == {"flask"}
    assert res.target == AMD64


def test_root_and_dependency_both_named_in_parents() -> None:
    res = run(TREE, "flask", "markupsafe<2.1.2")
    assert pins(res)["markupsafe"] == "2.1.1"
    assert parents_of(res, "markupsafe") == {"-r requirements.in", "jinja2", "werkzeug"}


def test_names_are_normalized() -> None:
    res = run({"Foo.Bar_baz": [("0.1", ["Some_Dep"])], "some-dep": [("1", [])]}, "FOO_bar.baz")
    assert pins(res) == {"foo-bar-baz": "0.1", "some-dep": "1"}
    assert parents_of(res, "some-dep") == {"foo-bar-baz"}


def test_discovered_is_told_about_every_requirement() -> None:
    world = FakeWorld(TREE)
    run(TREE, "flask", world=world)
    assert {"flask", "werkzeug", "jinja2", "click", "blinker", "markupsafe"} <= set(
        world.discovered_names
    )


# -- conflicts ---------------------------------------------------------------------------------

CONFLICT: Projects = {
    "a": [("1.0", ["b<2"])],
    "b": [("2.0", []), ("1.0", [])],
    "c": [("1.0", ["b>=2"])],
}


def test_conflict_names_requirements_parents_and_versions() -> None:
    text = explain(CONFLICT, "a", "c")
    assert "cannot be satisfied together for CPython 3.12.0 on linux/amd64" in text
    assert "b<2 (required by a==1.0)" in text
    assert "b>=2 (required by c==1.0)" in text
    assert "versions of b usable on this target: 2.0, 1.0" in text
    assert "Traceback" not in text


def test_conflict_between_root_and_dependency_names_the_input_file() -> None:
    text = explain(CONFLICT, "a", "b>=2")
    assert "b>=2 (required by -r requirements.in)" in text
    assert "b<2 (required by a==1.0)" in text


def test_no_version_matches_root() -> None:
    text = explain({"b": [("1.0", [])]}, "b>=3")
    assert "b>=3 (required by -r requirements.in)" in text
    assert "versions of b usable on this target: 1.0" in text


def test_conflict_lists_the_versions_of_the_parent_that_were_tried() -> None:
    projects: Projects = {
        "a": [("3.0", ["b<2"]), ("2.0", ["b<2"]), ("1.0", ["b<1"])],
        "b": [("2.0", []), ("1.0", []), ("0.5", [])],
    }
    text = explain(projects, "a", "b>=2")
    assert "versions of a tried: 3.0, 2.0, 1.0" in text
    assert "b<1 (required by a==1.0)" in text
    assert "b>=2 (required by -r requirements.in)" in text


def test_explanation_mentions_exclude_newer() -> None:
    text = explain({"b": [("1.0", [], None, utc(2025))]}, "b", exclude_newer=utc(2024))
    assert "versions of b usable on this target: none" in text
    assert "--exclude-newer 2024-01-01" in text


def conflict_error(
    projects: Projects, *roots: str, **kwargs: Unpack[RunOptions]
) -> ResolutionError:
    with pytest.raises(ResolutionError) as info:
        run(projects, *roots, **kwargs)
    return info.value


def test_conflict_carries_its_requirements_as_data() -> None:
    error = conflict_error(CONFLICT, "a", "c")
    assert error.target == AMD64.describe()
    assert error.skipped == ()
    assert set(error.conflicts) == {
        Conflict("requirement", "b<2", "a==1.0", "b", ("2.0", "1.0")),
        Conflict("requirement", "b>=2", "c==1.0", "b", ("2.0", "1.0")),
    }


def test_conflicts_follow_the_explanation_line_by_line() -> None:
    error = conflict_error(PREF, "beta>=2", constraints=["beta<2"])
    listed = [line for line in str(error).splitlines() if line.startswith("  - ")]
    assert len(listed) == len(error.conflicts) == 2
    for line, conflict in zip(listed, error.conflicts, strict=True):
        assert line.startswith(f"  - {conflict.requirement} (")
        assert line.endswith(f" {conflict.required_by})")
    assert error.conflicts[0] == Conflict(
        "requirement", "beta>=2", "-r requirements.in", "beta", ("2.5", "2.0", "1.0")
    )
    assert error.conflicts[1] == Conflict(
        "constraint", "beta<2", "-c constraints.txt", "beta", ("2.5", "2.0", "1.0")
    )


def test_requires_python_conflict_as_data() -> None:
    error = conflict_error(NEWPY, "metaonly>=2")
    assert Conflict("requires-python", ">=3.13", "metaonly==2.0") in error.conflicts
    assert all(c.project is None for c in error.conflicts if c.kind == "requires-python")


def test_usable_versions_are_the_newest_twelve() -> None:
    projects: Projects = {"b": [(f"{n}.0", []) for n in range(20, 0, -1)]}
    error = conflict_error(projects, "b>100")
    (conflict,) = error.conflicts
    assert conflict.usable_versions == tuple(f"{n}.0" for n in range(20, 8, -1))
    assert "(and older)" in str(error)


def test_no_usable_version_is_an_empty_tuple() -> None:
    error = conflict_error({"b": [("1.0", [], None, utc(2025))]}, "b", exclude_newer=utc(2024))
    assert [c.usable_versions for c in error.conflicts] == [()]


def test_giving_up_carries_no_conflicts() -> None:
    with pytest.raises(ResolutionError) as info:
        run(TREE, "flask", max_rounds=3)
    assert (info.value.target, info.value.conflicts) == (AMD64.describe(), ())


def test_unknown_project_names_who_required_it() -> None:
    with pytest.raises(NoSuchProjectError) as info:
        run({"a": [("1.0", ["ghost>=1"])]}, "a")
    assert info.value.project == "ghost"
    assert "required by a==1.0" in str(info.value)


# -- backtracking ------------------------------------------------------------------------------


def test_backtracks_to_an_older_release() -> None:
    projects: Projects = {
        "a": [("2.0", ["b<2"]), ("1.0", ["b"])],
        "b": [("2.1", []), ("2.0", []), ("1.5", [])],
        "c": [("1.0", ["b>=2"])],
    }
    assert pins(run(projects, "a", "c")) == {"a": "1.0", "b": "2.1", "c": "1.0"}


def test_backtracks_through_a_deeper_chain() -> None:
    projects: Projects = {
        "app": [("1.0", ["lib", "tool"])],
        "lib": [("3.0", ["core==3.*"]), ("2.0", ["core==2.*"]), ("1.0", ["core==1.*"])],
        "tool": [("1.0", ["core<3"])],
        "core": [("3.0", []), ("2.5", []), ("2.0", []), ("1.0", [])],
    }
    assert pins(run(projects, "app")) == {"app": "1.0", "core": "2.5", "lib": "2.0", "tool": "1.0"}


def test_too_much_backtracking_is_a_readable_error() -> None:
    with pytest.raises(ResolutionError) as info:
        run(TREE, "flask", max_rounds=3)
    assert "gave up after 3 rounds" in str(info.value)
    assert "Add tighter bounds" in str(info.value)


# -- markers -----------------------------------------------------------------------------------

MARKERS: Projects = {
    "app": [
        (
            "1.0",
            [
                "linux-x86 ; sys_platform == 'linux' and platform_machine == 'x86_64'",
                "linux-arm ; sys_platform == 'linux' and platform_machine == 'aarch64'",
                "winonly ; sys_platform == 'win32'",
                "old ; python_version < '3.11'",
                "new ; python_version >= '3.11'",
                "posix ; os_name == 'posix'",
            ],
        )
    ],
    "linux-x86": [("1.0", [])],
    "linux-arm": [("1.0", [])],
    "winonly": [("1.0", [])],
    "old": [("1.0", [])],
    "new": [("1.0", [])],
    "posix": [("1.0", [])],
}


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (AMD64, {"app", "linux-x86", "new", "posix"}),
        (ARM64, {"app", "linux-arm", "new", "posix"}),
        (WIN, {"app", "winonly", "new"}),
        (
            parse_target(python_version="3.10", platform="linux/amd64"),
            {"app", "linux-x86", "old", "posix"},
        ),
    ],
    ids=["linux-amd64", "linux-arm64", "win-amd64", "py310"],
)
def test_dependency_markers_follow_the_target(target: Target, expected: set[str]) -> None:
    assert set(run(MARKERS, "app", target=target).pins) == expected


# -- extras ------------------------------------------------------------------------------------

EXTRAS: Projects = {
    "web": [
        (
            "1.0",
            [
                "core",
                "speedups ; extra == 'fast'",
                "uvloop ; extra == 'fast' and sys_platform != 'win32'",
                "Redis_Client[hiredis] ; extra == 'Redis-Cache'",
            ],
        )
    ],
    "core": [("1.0", [])],
    "speedups": [("1.0", [])],
    "uvloop": [("1.0", [])],
    "redis-client": [("1.0", ["hiredis ; extra == 'hiredis'"])],
    "hiredis": [("1.0", [])],
    "app": [("1.0", ["web[fast]"])],
}


@pytest.mark.parametrize(
    ("roots", "target", "expected"),
    [
        (["web"], AMD64, {"web", "core"}),
        (["web[fast]"], AMD64, {"web", "core", "speedups", "uvloop"}),
        (["web[fast]"], WIN, {"web", "core", "speedups"}),
        (["web[redis_cache]"], AMD64, {"web", "core", "redis-client", "hiredis"}),
        (
            ["web[fast,redis-cache]"],
            AMD64,
            {"web", "core", "speedups", "uvloop", "redis-client", "hiredis"},
        ),
        (["web", "web[fast]"], AMD64, {"web", "core", "speedups", "uvloop"}),
        (["app"], AMD64, {"app", "web", "core", "speedups", "uvloop"}),
        (["web[nonexistent]"], AMD64, {"web", "core"}),
    ],
)
def test_extras(roots: list[str], target: Target, expected: set[str]) -> None:
    res = run(EXTRAS, *roots, target=target)
    assert set(res.pins) == expected
    # Extras are stripped from the pins.
    assert all(not c.extras for c in res.pins.values())


def test_extra_of_a_dependency_is_attributed_to_the_parent() -> None:
    res = run(EXTRAS, "app")
    assert parents_of(res, "web") == {"app"}
    assert parents_of(res, "speedups") == {"web"}
    assert parents_of(res, "app") == {"-r requirements.in"}


def test_extra_and_base_share_one_version() -> None:
    projects: Projects = {
        "web": [("2.0", ["speedups ; extra == 'fast'"]), ("1.0", ["speedups ; extra == 'fast'"])],
        "speedups": [("1.0", [])],
    }
    assert pins(run(projects, "web[fast]", "web<2")) == {"web": "1.0", "speedups": "1.0"}


# -- yanked (PEP 592) --------------------------------------------------------------------------

YANKED: Projects = {
    "alpha": [
        ("2.0", [], None, None, "broken"),
        ("1.1", []),
        ("1.0", []),
    ],
    "allyanked": [("1.0", [], None, None, True)],
}


@pytest.mark.parametrize(
    ("requirement", "expected"),
    [
        ("alpha", "1.1"),
        ("alpha>=1.0", "1.1"),
        ("alpha==2.0", "2.0"),
        ("alpha===2.0", "2.0"),
        ("alpha==2.*", None),
        ("alpha>=2", None),
        ("allyanked", None),
        ("allyanked==1.0", "1.0"),
    ],
)
def test_yanked_only_when_pinned(requirement: str, expected: str | None) -> None:
    name = canonicalize_name(Requirement(requirement).name)
    if expected is None:
        text = explain(YANKED, requirement)
        assert f"{requirement} (required by -r requirements.in)" in text
    else:
        res = run(YANKED, requirement)
        assert str(res.pins[name].version) == expected


def test_yanked_pin_carries_its_reason() -> None:
    res = run(YANKED, "alpha==2.0")
    assert pinned(res, "alpha").yanked_reason == "broken"
    assert pinned(run(YANKED, "alpha"), "alpha").yanked_reason is None


def test_release_is_yanked_only_when_all_its_files_are() -> None:
    files = [
        DistFile("x-1.0-py3-none-any.whl", "u1", yanked=True),
        DistFile("x-1.0.tar.gz", "u2"),
        DistFile("x-2.0-py3-none-any.whl", "u3", yanked=True, yanked_reason="bad"),
    ]
    infos = {
        str(v): info
        for v, fs in releases_of(files)
        if (info := usable_release(v, fs, target=AMD64)) is not None
    }
    assert not infos["1.0"].yanked
    assert infos["2.0"].yanked
    assert infos["2.0"].yanked_reason == "bad"


# -- pre-releases ------------------------------------------------------------------------------

PRE: Projects = {
    "prerel": [("2.0b1", []), ("1.0", []), ("1.0rc1", []), ("0.9b1", [])],
    "onlypre": [("1.0a2", []), ("1.0a1", [])],
    "dep": [("1.0", ["prerel>=2.0b1"])],
    "dep2": [("1.0", ["prerel"])],
}


@pytest.mark.parametrize(
    ("requirements", "pre", "expected"),
    [
        (["prerel"], False, {"prerel": "1.0"}),
        (["prerel"], True, {"prerel": "2.0b1"}),
        (["prerel"], frozenset({"prerel"}), {"prerel": "2.0b1"}),
        (["prerel"], frozenset({"other"}), {"prerel": "1.0"}),
        (["prerel>=2.0b1"], False, {"prerel": "2.0b1"}),
        (["prerel==2.0b1"], False, {"prerel": "2.0b1"}),
        (["prerel<2"], True, {"prerel": "1.0"}),
        (["prerel<1.0"], False, {"prerel": "0.9b1"}),  # pip: no final release fits
        (["prerel<1.0"], True, {"prerel": "0.9b1"}),  # PEP 440: <1.0 excludes 1.0rc1
        (["prerel<=1.0rc1"], False, {"prerel": "1.0rc1"}),
        (["prerel>1.0"], False, {"prerel": "2.0b1"}),  # pip: no final release fits
        (["onlypre"], False, {"onlypre": "1.0a2"}),
        (["dep"], False, {"dep": "1.0", "prerel": "2.0b1"}),
        (["dep2"], False, {"dep2": "1.0", "prerel": "1.0"}),
    ],
)
def test_prereleases(
    requirements: list[str], pre: bool | frozenset[str], expected: dict[str, str]
) -> None:
    names = pre if isinstance(pre, bool) else frozenset(NormalizedName(n) for n in pre)
    assert pins(run(PRE, *requirements, pre=names)) == expected


def test_prerelease_allowed_by_a_constraint() -> None:
    assert pins(run(PRE, "prerel", constraints=["prerel>=2.0b1"])) == {"prerel": "2.0b1"}


# -- exclude-newer -----------------------------------------------------------------------------

DATED: Projects = {
    "alpha": [
        ("3.0", [], None, utc(2025, 6, 1)),
        ("2.0", [], None, utc(2024, 6, 1)),
        ("1.0", [], None, utc(2023, 1, 1)),
    ],
    "undated": [("1.0", [], None, None)],
}


@pytest.mark.parametrize(
    ("cutoff", "expected"),
    [
        (None, "3.0"),
        (utc(2025, 6, 1), "3.0"),  # uploaded exactly at the cut-off: kept
        (utc(2025, 5, 31), "2.0"),
        (utc(2024), "1.0"),
    ],
)
def test_exclude_newer(cutoff: dt.datetime | None, expected: str) -> None:
    res = run(DATED, "alpha", "undated", exclude_newer=cutoff)
    assert pins(res) == {"alpha": expected, "undated": "1.0"}


def test_exclude_newer_can_make_a_requirement_unsatisfiable() -> None:
    text = explain(DATED, "alpha>=3", exclude_newer=utc(2025))
    assert "alpha>=3 (required by -r requirements.in)" in text
    assert "versions of alpha usable on this target: 2.0, 1.0" in text


# -- requires-python ---------------------------------------------------------------------------

NEWPY: Projects = {
    "newpy": [("1.0", [], ">=3.13"), ("0.9", [], ">=3.8")],
    "bogus": [("1.0", [], ">=3.6.*"), ("0.1", [], "")],  # invalid/empty: ignored as pip does
    "metaonly": [
        Rel("2.0", metadata_requires_python=">=3.13"),
        Rel("1.0", metadata_requires_python=">=3.8"),
    ],
}


@pytest.mark.parametrize(
    ("python", "expected"),
    [("3.12", "0.9"), ("3.13", "1.0"), ("3.12.99", "0.9"), ("3.13.0rc1", "1.0")],
)
def test_requires_python_of_files_against_the_target(python: str, expected: str) -> None:
    target = parse_target(python_version=python, platform="linux/amd64")
    assert pins(run(NEWPY, "newpy", target=target)) == {"newpy": expected}


def test_invalid_requires_python_is_ignored() -> None:
    assert pins(run(NEWPY, "bogus")) == {"bogus": "1.0"}


@pytest.mark.parametrize(("python", "expected"), [("3.12", "1.0"), ("3.13", "2.0")])
def test_requires_python_from_metadata_when_the_page_has_none(python: str, expected: str) -> None:
    target = parse_target(python_version=python, platform="linux/amd64")
    assert pins(run(NEWPY, "metaonly", target=target)) == {"metaonly": expected}


def test_requires_python_conflict_is_explained() -> None:
    text = explain(NEWPY, "newpy>=1.0")
    assert "newpy>=1.0 (required by -r requirements.in)" in text
    assert "versions of newpy usable on this target: 0.9" in text
    text = explain(NEWPY, "metaonly>=2")
    assert "metaonly==2.0 requires Python >=3.13" in text
    assert "3.12.0" in text


def test_wheels_must_fit_the_platform() -> None:
    projects: Projects = {
        "plat": [
            Rel("2.0", files=["cp312-cp312-win_amd64"]),
            Rel("1.5", files=["cp311-cp311-manylinux_2_17_x86_64"]),
            Rel("1.0", files=["cp312-cp312-manylinux_2_17_x86_64", "cp312-cp312-win_amd64"]),
        ]
    }
    assert pins(run(projects, "plat")) == {"plat": "1.0"}
    assert pins(run(projects, "plat", target=WIN)) == {"plat": "2.0"}
    assert "versions of plat usable on this target: none" in explain(projects, "plat", target=ARM64)


# -- preferences (existing pins) ---------------------------------------------------------------

PREF: Projects = {
    "alpha": [("3.0", ["beta>=2"]), ("2.0", ["beta"]), ("1.0", [])],
    "beta": [("2.5", []), ("2.0", []), ("1.0", [])],
}


@pytest.mark.parametrize(
    ("requirements", "preferred", "expected"),
    [
        (["alpha"], {}, {"alpha": "3.0", "beta": "2.5"}),
        (["alpha"], {"alpha": "2.0", "beta": "1.0"}, {"alpha": "2.0", "beta": "1.0"}),
        (["alpha"], {"alpha": "3.0", "beta": "1.0"}, {"alpha": "3.0", "beta": "2.5"}),
        (["alpha>=3"], {"alpha": "2.0", "beta": "2.0"}, {"alpha": "3.0", "beta": "2.0"}),
        (["alpha"], {"alpha": "9.9"}, {"alpha": "3.0", "beta": "2.5"}),
        (["alpha"], {"gamma": "1.0"}, {"alpha": "3.0", "beta": "2.5"}),
    ],
)
def test_existing_pins_are_preferred_while_they_fit(
    requirements: list[str], preferred: dict[str, str], expected: dict[str, str]
) -> None:
    prefs = {canonicalize_name(k): Version(v) for k, v in preferred.items()}
    assert pins(run(PREF, *requirements, preferred=prefs)) == expected


def test_preferred_pins_need_no_extra_metadata() -> None:
    world = FakeWorld(PREF)
    prefs = {NormalizedName("alpha"): Version("2.0"), NormalizedName("beta"): Version("1.0")}
    run(PREF, "alpha", world=world, preferred=prefs)
    assert world.metadata_calls == ["alpha==2.0", "beta==1.0"]


# -- constraints -------------------------------------------------------------------------------


def test_constraints_narrow_but_do_not_add() -> None:
    res = run(PREF, "alpha", constraints=["beta<2.5", "unrelated==1.0"])
    assert pins(res) == {"alpha": "3.0", "beta": "2.0"}
    assert parents_of(res, "beta") == {"-c constraints.txt", "alpha"}
    assert "unrelated" not in res.parents


def test_constraint_forcing_backtracking() -> None:
    assert pins(run(PREF, "alpha", constraints=["beta<2"])) == {"alpha": "2.0", "beta": "1.0"}


def test_conflicting_constraint_is_explained() -> None:
    text = explain(PREF, "beta>=2", constraints=["beta<2"])
    assert "beta>=2 (required by -r requirements.in)" in text
    assert "beta<2 (constraint from -c constraints.txt)" in text


# -- only-binary -------------------------------------------------------------------------------

BINARY: Projects = {
    "mixed": [Rel("2.0", files=["sdist"]), Rel("1.0", files=["py3-none-any", "sdist"])],
    "sdistonly": [Rel("1.0", files=["sdist"])],
}


@pytest.mark.parametrize(
    ("only_binary", "expected"),
    [
        (frozenset(), {"mixed": "2.0"}),
        (frozenset({":all:"}), {"mixed": "1.0"}),
        (frozenset({"mixed"}), {"mixed": "1.0"}),
        (frozenset({"other"}), {"mixed": "2.0"}),
    ],
)
def test_only_binary(only_binary: frozenset[str], expected: dict[str, str]) -> None:
    assert pins(run(BINARY, "mixed", only_binary=only_binary)) == expected


def test_only_binary_refuses_an_sdist_only_project() -> None:
    assert pins(run(BINARY, "sdistonly")) == {"sdistonly": "1.0"}
    text = explain(BINARY, "sdistonly", only_binary=frozenset({":all:"}))
    assert "versions of sdistonly usable on this target: none" in text


def test_files_of_a_candidate_are_those_usable_on_the_target() -> None:
    projects: Projects = {
        "plat": [
            Rel(
                "1.0", files=["cp312-cp312-manylinux_2_17_x86_64", "cp312-cp312-win_amd64", "sdist"]
            )
        ]
    }
    res = run(projects, "plat", only_binary=frozenset({"plat"}))
    assert [f.filename for f in pinned(res, "plat").files] == [
        "plat-1.0-cp312-cp312-manylinux_2_17_x86_64.whl"
    ]


# -- direct references -------------------------------------------------------------------------


def test_direct_url_requirement() -> None:
    url = "https://example.org/pkgs/thing-1.5-py3-none-any.whl"
    world = FakeWorld({"user": [("1.0", ["thing>=1"])], "thing": [("1.0", [])]})
    world.url_metadata[url] = CoreMetadata(
        NormalizedName("thing"), Version("1.5"), (Requirement("core"),), None, ()
    )
    world.projects = {**world.projects, "core": [("1.0", [])]}
    res = run(world.projects, f"thing @ {url}", "user", world=world)
    assert pins(res) == {"core": "1.0", "thing": "1.5", "user": "1.0"}
    assert pinned(res, "thing").url == url
    assert parents_of(res, "thing") == {"-r requirements.in", "user"}


def test_req_str_round_trips() -> None:
    assert str(Req(NormalizedName("a"), SpecifierSet(">=1"), frozenset({NormalizedName("x")}))) == (
        "a[x]>=1"
    )
    assert str(Req(NormalizedName("a"), url="https://h/a.whl")) == "a @ https://h/a.whl"


def test_upgrade_package_constraint_is_not_a_via_source() -> None:
    world = FakeWorld(PREF)
    res = resolve(
        world,
        [root("alpha")],
        target=AMD64,
        constraints=[root("beta==2.0", "--upgrade-package beta==2.0")],
    )
    assert pins(res) == {"alpha": "3.0", "beta": "2.0"}
    assert parents_of(res, "beta") == {"alpha"}


def test_unknown_root_project_names_its_line() -> None:
    req = Req(NormalizedName("ghost"), source="-r requirements.in", location="requirements.in:7")
    with pytest.raises(NoSuchProjectError, match=r"required by requirements.in:7"):
        resolve(FakeWorld({}), [req], target=AMD64)


# -- releases whose metadata cannot be had -----------------------------------------------------


@dataclass
class BrokenWorld(FakeWorld):
    """Some releases fail like an sdist whose PEP 517 build crashes, or whose
    metadata does not parse; others fail like a network error."""

    broken: Mapping[str, Exception] = field(default_factory=dict)

    def metadata(self, candidate: Candidate) -> CoreMetadata:
        error = self.broken.get(candidate.pin)
        if error is not None:
            self.metadata_calls.append(candidate.pin)
            raise error
        return super().metadata(candidate)


@pytest.mark.parametrize(
    "error",
    [
        BuildError("prepare_metadata_for_build_wheel of b-2.0.tar.gz failed (exit 1):\nboom"),
        InvalidMetadataError("metadata from x has an invalid Requires-Dist 'c >= ='", url="x"),
    ],
)
def test_release_without_metadata_is_skipped_for_an_older_one(error: Exception) -> None:
    projects: Projects = {"a": [Rel("1.0", ["b"])], "b": [Rel("2.0"), Rel("1.0")]}
    world = BrokenWorld(projects, broken={"b==2.0": error})
    assert pins(run(projects, "a", world=world)) == {"a": "1.0", "b": "1.0"}
    assert "b==2.0" in world.metadata_calls


def test_only_release_without_metadata_explains_itself() -> None:
    projects: Projects = {"a": [Rel("1.0", ["b"])], "b": [Rel("2.0")]}
    world = BrokenWorld(projects, broken={"b==2.0": BuildError("build of b failed:\nboom")})
    with pytest.raises(ResolutionError) as info:
        run(projects, "a", world=world)
    text = str(info.value)
    assert "skipped because their metadata could not be read or built: b==2.0" in text
    assert "boom" in text
    assert info.value.skipped == ("b==2.0",)


def test_network_errors_are_not_skipped() -> None:
    projects: Projects = {"a": [Rel("1.0", ["b"])], "b": [Rel("2.0"), Rel("1.0")]}
    world = BrokenWorld(projects, broken={"b==2.0": NetworkError("down", url="u")})
    with pytest.raises(NetworkError):
        run(projects, "a", world=world)
