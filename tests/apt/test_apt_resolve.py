"""The closure resolver (lockpin.apt.resolve) over small in-memory archives.

Each case is a table of packages (``pkg("name version", depends=...)``); the
expectations follow what ``apt-get install --no-install-recommends`` plans for the
same table, which tests/apt/test_apt_resolve_aptget.py checks against the real tool.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from fixtures.aptget import TableUniverse, installed_package, make_package
from lockpin.apt.relation import Relation, parse_relations
from lockpin.apt.resolve import Resolution, apt_package_order, base_from_archive, resolve
from lockpin.errors import NoSuchPackageError, NoSuchVersionError, ResolutionError

if TYPE_CHECKING:
    from lockpin.apt.models import Package


pkg = make_package
inst = installed_package


def req(text: str) -> Relation:
    (group,) = parse_relations(text)
    (relation,) = group
    return relation


def plan(
    packages: list[Package],
    requests: list[str],
    *,
    installed: list[Package] | None = None,
    **options: Any,
) -> Resolution:
    # apt's package ids as a Packages file in the table's order would give them
    options.setdefault("package_order", apt_package_order([packages], installed or []))
    return resolve(
        TableUniverse(packages),
        [req(r) for r in requests],
        installed=installed or [],
        **options,
    )


def versions(resolution: Resolution) -> dict[str, str]:
    return {r.package.name: r.package.version for r in resolution.packages}


# --- plain closures ------------------------------------------------------------


def test_closure_takes_the_highest_version_of_any_suite() -> None:
    archive = [
        pkg("aa 1.0", depends="bb (>= 1)"),
        pkg("bb 1.0", depends="cc"),
        pkg("bb 1.1", suite="bookworm-updates", depends="cc"),
        pkg("cc 2.0", arch="all"),
        pkg("unrelated 1.0"),
    ]
    resolution = plan(archive, ["aa"])
    assert versions(resolution) == {"aa": "1.0", "bb": "1.1", "cc": "2.0"}
    b = resolution.get("bb")
    assert b is not None
    assert b.package.suite == "bookworm-updates"
    assert b.upgrade_of is None
    assert [r.package.name for r in resolution.packages] == ["aa", "bb", "cc"]


def test_required_by_lists_the_requested_names_behind_each_package() -> None:
    archive = [
        pkg("aa 1", depends="shared, only-a"),
        pkg("bb 1", pre_depends="shared"),
        pkg("shared 1", depends="deep"),
        pkg("deep 1"),
        pkg("only-a 1"),
    ]
    resolution = plan(archive, ["bb", "aa"])
    by = {r.package.name: r.required_by for r in resolution.packages}
    assert by == {
        "aa": ("aa",),
        "bb": ("bb",),
        "shared": ("aa", "bb"),
        "deep": ("aa", "bb"),
        "only-a": ("aa",),
    }


def test_same_plan_whatever_the_request_order() -> None:
    archive = [
        pkg("aa 1", depends="xx | yy"),
        pkg("bb 1", depends="yy | xx"),
        pkg("xx 1"),
        pkg("yy 1"),
    ]
    first = plan(archive, ["aa", "bb"])
    second = plan(archive, ["bb", "aa"])
    assert first == second
    # a is handled first (apt walks its requests in cache order): x satisfies b too
    assert versions(first) == {"aa": "1", "bb": "1", "xx": "1"}


def test_pre_depends_and_cycles() -> None:
    archive = [
        pkg("aa 1", pre_depends="bb"),
        pkg("bb 1", depends="aa"),
    ]
    assert versions(plan(archive, ["aa"])) == {"aa": "1", "bb": "1"}


# --- OR-groups ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        pytest.param([pkg("xx 1"), pkg("yy 1")], {"xx": "1"}, id="first-alternative"),
        pytest.param([pkg("yy 1")], {"yy": "1"}, id="first-missing"),
        pytest.param([pkg("xx 0.5"), pkg("yy 1")], {"yy": "1"}, id="first-too-old"),
        pytest.param(
            [pkg("xx 1", depends="nowhere"), pkg("yy 1")], {"yy": "1"}, id="first-uninstallable"
        ),
        pytest.param(
            [pkg("xx 1", depends="x-lib (>= 2)"), pkg("x-lib 1"), pkg("yy 1")],
            {"yy": "1"},
            id="first-dependency-too-old",
        ),
    ],
)
def test_alternatives(extra: list[Package], expected: dict[str, str]) -> None:
    archive = [pkg("aa 1", depends="xx (>= 1) | yy"), *extra]
    assert versions(plan(archive, ["aa"])) == {"aa": "1", **expected}


def test_an_alternative_already_installed_needs_nothing() -> None:
    archive = [pkg("aa 1", depends="xx | yy"), pkg("xx 1"), pkg("yy 1")]
    resolution = plan(archive, ["aa"], installed=[inst("yy 1")])
    assert versions(resolution) == {"aa": "1"}


def test_an_alternative_requested_too_needs_nothing() -> None:
    archive = [pkg("aa 1", depends="xx | yy"), pkg("xx 1"), pkg("yy 1")]
    assert versions(plan(archive, ["aa", "yy"])) == {"aa": "1", "yy": "1"}


def test_an_upgrade_of_an_installed_alternative_comes_before_a_new_install() -> None:
    # getAllPossibleSolutions: candidates of installed packages first
    archive = [pkg("aa 1", depends="xx | yy (>= 2)"), pkg("xx 1"), pkg("yy 2")]
    resolution = plan(archive, ["aa"], installed=[inst("yy 1")])
    assert versions(resolution) == {"aa": "1", "yy": "2"}
    y = resolution.get("yy")
    assert y is not None
    assert y.upgrade_of == "1"


def test_a_failed_alternative_leaves_nothing_behind() -> None:
    # x is tried first: its dependency d is marked, then e fails (f is missing), so x
    # is given up; d, needed by nothing any more, is not installed
    archive = [
        pkg("aa 1", depends="xx | yy"),
        pkg("xx 1", depends="dd, ee"),
        pkg("dd 1"),
        pkg("ee 1", depends="ff"),
        pkg("yy 1"),
    ]
    assert versions(plan(archive, ["aa"])) == {"aa": "1", "yy": "1"}


def test_an_alternative_conflicting_with_the_plan_is_tried_last() -> None:
    archive = [
        pkg("aa 1", depends="xx | yy"),
        pkg("bb 1", conflicts="xx"),
        pkg("xx 1"),
        pkg("yy 1"),
    ]
    assert versions(plan(archive, ["aa", "bb"])) == {"aa": "1", "bb": "1", "yy": "1"}


# --- virtual packages ---------------------------------------------------------------


def test_virtual_dependency_with_one_provider() -> None:
    archive = [pkg("aa 1", depends="awk"), pkg("gawk 5", provides="awk")]
    assert versions(plan(archive, ["aa"])) == {"aa": "1", "gawk": "5"}


@pytest.mark.parametrize(
    ("providers", "installed", "chosen"),
    [
        pytest.param(
            [pkg("mawk 1", provides="awk", priority="required"), pkg("gawk 5", provides="awk")],
            [],
            "mawk",
            id="higher-priority",
        ),
        pytest.param(
            [pkg("mawk 1", provides="awk"), pkg("gawk 5", provides="awk", essential=True)],
            [],
            "gawk",
            id="essential",
        ),
        pytest.param(
            [pkg("mawk 1", provides="awk"), pkg("gawk 5", provides="awk")],
            [inst("gawk 4", provides="awk")],
            None,
            id="installed-provider-satisfies",
        ),
        # a tie: apt's CompareProviders takes the package its cache created last
        # (here: the one later in the Packages file), whatever the names
        pytest.param(
            [pkg("mawk 1", provides="awk"), pkg("gawk 5", provides="awk")],
            [],
            "gawk",
            id="tie-later-in-the-index",
        ),
        pytest.param(
            [pkg("gawk 5", provides="awk"), pkg("mawk 1", provides="awk")],
            [],
            "mawk",
            id="tie-later-in-the-index-swapped",
        ),
    ],
)
def test_virtual_dependency_provider_order(
    providers: list[Package], installed: list[Package], chosen: str | None
) -> None:
    resolution = plan([pkg("aa 1", depends="awk"), *providers], ["aa"], installed=installed)
    assert set(versions(resolution)) == {"aa"} | ({chosen} if chosen else set())


def test_a_real_package_of_the_name_comes_before_providers() -> None:
    archive = [
        pkg("aa 1", depends="mta"),
        pkg("mta 1"),
        pkg("exim 1", provides="mta", priority="required"),
    ]
    assert versions(plan(archive, ["aa"])) == {"aa": "1", "mta": "1"}


def test_requested_virtual_with_one_provider_is_replaced_by_it() -> None:
    archive = [pkg("gawk 5", provides="awk")]
    resolution = plan(archive, ["awk"])
    assert versions(resolution) == {"gawk": "5"}
    assert resolution.selected == (("awk", "gawk"),)
    gawk = resolution.get("gawk")
    assert gawk is not None
    assert gawk.required_by == ("awk",)


def test_requested_virtual_with_several_providers_is_refused() -> None:
    archive = [pkg("gawk 5", provides="awk"), pkg("mawk 1.3", provides="awk")]
    with pytest.raises(ResolutionError) as caught:
        plan(archive, ["awk"])
    message = str(caught.value)
    assert "awk is a virtual package provided by: gawk 5, mawk 1.3" in message
    assert "Name one of them" in message


@pytest.mark.parametrize("versioned_first", [False, True])
@pytest.mark.parametrize(
    ("dependency", "chosen"),
    [
        pytest.param("vv (>= 2)", "versioned", id="versioned-relation"),
        # both satisfy it and CompareProviders does not look at the provided version:
        # a tie, which apt breaks by its package ids (the provider created last wins)
        pytest.param("vv", None, id="plain-relation-either"),
        pytest.param("vv (= 2)", "versioned", id="exact"),
    ],
)
def test_versioned_provides(dependency: str, chosen: str | None, versioned_first: bool) -> None:
    providers = [pkg("plain 1", provides="vv"), pkg("versioned 1", provides="vv (= 2)")]
    if versioned_first:
        providers.reverse()
    archive = [pkg("aa 1", depends=dependency), *providers]
    expected = chosen or providers[-1].name
    assert set(versions(plan(archive, ["aa"]))) == {"aa", expected}


def test_unversioned_provides_never_satisfy_a_versioned_relation() -> None:
    archive = [pkg("aa 1", depends="vv (>= 1)"), pkg("plain 1", provides="vv")]
    with pytest.raises(ResolutionError) as caught:
        plan(archive, ["aa"])
    assert "unversioned Provides never count" in str(caught.value)


def test_self_conflict_through_provides_is_ignored() -> None:
    archive = [
        pkg("aa 1", depends="mail-transport-agent"),
        pkg("exim 1", provides="mail-transport-agent", conflicts="mail-transport-agent"),
    ]
    assert versions(plan(archive, ["aa"])) == {"aa": "1", "exim": "1"}


# --- Multi-Arch --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "dependency", "ok"),
    [
        pytest.param(pkg("python3 3.11", ma="allowed"), "python3:any", True, id="allowed-any"),
        pytest.param(pkg("python3 3.11"), "python3:any", False, id="no-any"),
        pytest.param(pkg("python3 3.11", ma="foreign"), "python3:any", False, id="foreign-any"),
        pytest.param(pkg("python3 3.11", ma="same"), "python3:any", False, id="same-any"),
        pytest.param(
            pkg("python3 3.11", ma="allowed"), "python3:any (>= 3.11)", True, id="allowed-versioned"
        ),
        pytest.param(pkg("python3 3.11"), "python3:native", True, id="native"),
        pytest.param(pkg("python3 3.11"), "python3:amd64", True, id="native-arch"),
        pytest.param(pkg("python3 3.11"), "python3:arm64", False, id="other-arch"),
        pytest.param(pkg("python3 3.11", ma="foreign"), "python3", True, id="foreign-plain"),
        pytest.param(pkg("python3 3.11", arch="all", ma="foreign"), "python3", True, id="arch-all"),
        pytest.param(
            pkg("pypy 1", ma="allowed", provides="python3"),
            "python3:any",
            True,
            id="allowed-provider-any",
        ),
        pytest.param(
            pkg("pypy 1", ma="foreign", provides="python3"),
            "python3:any",
            False,
            id="foreign-provider-any",
        ),
    ],
)
def test_multi_arch_qualifiers(target: Package, dependency: str, ok: bool) -> None:
    archive = [pkg("aa 1", depends=dependency), target]
    if ok:
        assert set(versions(plan(archive, ["aa"]))) == {"aa", target.name}
    else:
        with pytest.raises(ResolutionError):
            plan(archive, ["aa"])


def test_any_dependency_satisfied_by_an_installed_allowed_package() -> None:
    archive = [pkg("aa 1", depends="perl:any"), pkg("perl 5.36", ma="allowed")]
    resolution = plan(archive, ["aa"], installed=[inst("perl 5.36", ma="allowed")])
    assert versions(resolution) == {"aa": "1"}


def test_packages_of_another_architecture_are_not_seen() -> None:
    archive = [pkg("aa 1", depends="bb"), pkg("bb 1", arch="arm64")]
    with pytest.raises(ResolutionError):
        plan(archive, ["aa"])


# --- the installed base -------------------------------------------------------------


def test_installed_dependencies_are_not_reinstalled_nor_upgraded() -> None:
    archive = [pkg("aa 1", depends="libc6 (>= 2.30)"), pkg("libc6 2.36-9+deb12u7")]
    resolution = plan(archive, ["aa"], installed=[inst("libc6 2.36-9")])
    assert versions(resolution) == {"aa": "1"}


def test_a_dependency_needing_a_newer_version_upgrades_the_base_and_follows_its_deps() -> None:
    archive = [
        pkg("aa 1", depends="libc6 (>= 2.36-9+deb12u7)"),
        pkg("libc6 2.36-9+deb12u7", depends="libgcc-s1, newlib"),
        pkg("libgcc-s1 12"),
        pkg("newlib 1"),
    ]
    installed = [inst("libc6 2.36-9", depends="libgcc-s1"), inst("libgcc-s1 12")]
    resolution = plan(archive, ["aa"], installed=installed)
    assert versions(resolution) == {"aa": "1", "libc6": "2.36-9+deb12u7", "newlib": "1"}
    libc = resolution.get("libc6")
    assert libc is not None
    assert libc.upgrade_of == "2.36-9"
    assert libc.package.suite == "bookworm"
    assert libc.required_by == ("aa",)
    newlib = resolution.get("newlib")
    assert newlib is not None
    assert newlib.required_by == ("aa",)


def test_an_upgrade_takes_the_other_installed_binaries_of_its_source_along() -> None:
    archive = [
        pkg("aa 1", depends="libc6 (>= 2.36-9+deb12u7)"),
        pkg("libc6 2.36-9+deb12u7", source="glibc"),
        pkg("libc-bin 2.36-9+deb12u7", source="glibc"),
        pkg("libc-l10n 2.36-9+deb12u7", source="glibc", arch="all"),
    ]
    installed = [
        inst("libc6 2.36-9", source="glibc"),
        inst("libc-bin 2.36-9", source="glibc"),
    ]
    resolution = plan(archive, ["aa"], installed=installed)
    assert versions(resolution) == {
        "aa": "1",
        "libc6": "2.36-9+deb12u7",
        "libc-bin": "2.36-9+deb12u7",
    }
    libc_bin = resolution.get("libc-bin")
    assert libc_bin is not None
    assert libc_bin.upgrade_of == "2.36-9"
    assert libc_bin.required_by == ("aa",)


def test_an_upgrade_upgrades_installed_packages_it_would_break() -> None:
    archive = [
        pkg("aa 1", depends="libfoo (>= 2)"),
        pkg("libfoo 2"),
        pkg("foo-tools 2", depends="libfoo (>= 2)"),
    ]
    installed = [inst("libfoo 1"), inst("foo-tools 1", depends="libfoo (<< 2)")]
    resolution = plan(archive, ["aa"], installed=installed)
    assert versions(resolution) == {"aa": "1", "libfoo": "2", "foo-tools": "2"}


@pytest.mark.parametrize(
    ("installed_version", "expected", "base"),
    [
        pytest.param("1.0", {"aa": "1.1"}, (), id="older-is-upgraded"),
        pytest.param("1.1", {}, ("aa",), id="same-is-kept"),
        pytest.param("1.2", {}, ("aa",), id="newer-is-kept"),
    ],
)
def test_requested_package_already_installed(
    installed_version: str, expected: dict[str, str], base: tuple[str, ...]
) -> None:
    archive = [pkg("aa 1.0"), pkg("aa 1.1", suite="bookworm-updates")]
    resolution = plan(archive, ["aa"], installed=[inst(f"aa {installed_version}")])
    assert versions(resolution) == expected
    assert resolution.satisfied_by_base == base
    if expected:
        a = resolution.get("aa")
        assert a is not None
        assert a.upgrade_of == installed_version


# --- conflicts -----------------------------------------------------------------------


def test_conflict_between_requested_packages() -> None:
    archive = [pkg("aa 1.0", conflicts="bb (<< 2)"), pkg("bb 1.5")]
    with pytest.raises(ResolutionError) as caught:
        plan(archive, ["aa", "bb"])
    message = str(caught.value)
    assert "cannot install aa and bb together" in message
    assert "aa 1.0 (required by aa) conflicts with bb (<< 2)" in message
    assert "bb 1.5 (required by bb)" in message
    assert "apt-get would refuse too" in message


def test_conflict_deep_in_a_closure_names_the_chain() -> None:
    archive = [
        pkg("aa 1.0", conflicts="bb (<< 2)"),
        pkg("cc 1", depends="dd"),
        pkg("dd 1", depends="bb"),
        pkg("bb 1.5"),
    ]
    with pytest.raises(ResolutionError) as caught:
        plan(archive, ["aa", "cc"])
    message = str(caught.value)
    # aa, requested, is marked first and discards the candidate of what it conflicts
    # with: cc's chain then finds bb uninstallable
    assert "cannot install cc: dd 1 (required by cc → dd) depends on bb" in message
    assert "bb 1.5 cannot be installed: aa 1.0 (required by aa) conflicts with bb (<< 2)" in message


def test_conflict_met_by_a_newer_version_is_fine() -> None:
    archive = [pkg("aa 1.0", conflicts="bb (<< 2)"), pkg("bb 1.5"), pkg("bb 2.0", suite="updates")]
    assert versions(plan(archive, ["aa", "bb"])) == {"aa": "1.0", "bb": "2.0"}


def test_breaks_on_an_installed_package_upgrades_it() -> None:
    archive = [pkg("aa 1", breaks="zz (<< 2)"), pkg("zz 2")]
    resolution = plan(archive, ["aa"], installed=[inst("zz 1")])
    assert versions(resolution) == {"aa": "1", "zz": "2"}
    z = resolution.get("zz")
    assert z is not None
    assert z.upgrade_of == "1"
    assert z.required_by == ("aa",)


def test_an_installed_package_conflicting_with_a_new_one_is_upgraded_out_of_it() -> None:
    # the first pass of apt's problem resolver: installed packages the plan breaks
    # are set to their candidate
    archive = [pkg("aa 1"), pkg("zz 2")]
    resolution = plan(archive, ["aa"], installed=[inst("zz 1", conflicts="aa")])
    assert versions(resolution) == {"aa": "1", "zz": "2"}
    z = resolution.get("zz")
    assert z is not None
    assert z.upgrade_of == "1"
    assert z.required_by == ("aa",)


def test_an_installed_package_whose_candidate_conflicts_too_is_an_error() -> None:
    archive = [pkg("aa 1"), pkg("zz 2", conflicts="aa")]
    with pytest.raises(ResolutionError) as caught:
        plan(archive, ["aa"], installed=[inst("zz 1", conflicts="aa")])
    assert (
        "aa 1 (required by aa) would be installed, and zz 1 is installed in the base, "
        "which conflicts with aa"
    ) in str(caught.value)


def test_apt_package_order_numbers_names_as_apt_meets_them() -> None:
    first = [
        pkg("aa 1", depends="vv, bb:any", conflicts="cc", recommends="dd"),
        pkg("ee 1", provides="ww", breaks="aa"),
    ]
    second = [pkg("bb 1"), pkg("cc 1")]
    order = apt_package_order([first, second], [inst("zz 1", depends="yy")])
    # bb:any is apt's pseudo package, not bb; a Breaks of a known name creates nothing
    assert list(order) == ["aa", "vv", "cc", "dd", "ee", "ww", "bb", "zz", "yy"]
    assert order == {name: i for i, name in enumerate(order)}


def test_conflict_with_an_installed_package_nothing_needs_removes_it() -> None:
    archive = [pkg("aa 1", conflicts="zz")]
    resolution = plan(archive, ["aa"], installed=[inst("zz 1")])
    assert versions(resolution) == {"aa": "1"}
    assert [p.name for p in resolution.removed] == ["zz"]


@pytest.mark.parametrize(
    "installed",
    [
        pytest.param([inst("zz 1", essential=True)], id="essential"),
        pytest.param([inst("zz 1"), inst("needs-z 1", depends="zz")], id="needed"),
    ],
)
def test_conflict_with_an_installed_package_that_must_stay(installed: list[Package]) -> None:
    archive = [pkg("aa 1", conflicts="zz")]
    with pytest.raises(ResolutionError) as caught:
        plan(archive, ["aa"], installed=installed)
    message = str(caught.value)
    assert "aa 1 (required by aa) conflicts with zz" in message
    assert "zz 1" in message
    assert "installed" in message


# --- unsatisfiable ---------------------------------------------------------------------


def test_unsatisfiable_dependency_names_the_chain_and_the_versions() -> None:
    archive = [
        pkg("aa 1", depends="bb"),
        pkg("bb 1", depends="cc (>= 2)"),
        pkg("cc 1.0"),
        pkg("cc 1.5", suite="bookworm-updates"),
    ]
    with pytest.raises(ResolutionError) as caught:
        plan(archive, ["aa"])
    message = str(caught.value)
    assert "cannot install aa: bb 1 (required by aa → bb) depends on cc (>= 2)" in message
    assert "no version of cc satisfies it" in message
    assert "1.5 (bookworm-updates), 1.0 (bookworm)" in message


def test_only_the_candidate_counts_not_an_older_version() -> None:
    # apt-get: "Depends: c (< 2) but 2.0 is to be installed"
    archive = [pkg("aa 1", depends="cc (<< 2)"), pkg("cc 1.0"), pkg("cc 2.0")]
    with pytest.raises(ResolutionError) as caught:
        plan(archive, ["aa"])
    message = str(caught.value)
    assert "cc 2.0 would be installed" in message
    assert "pin cc (= 1.0) in apt.in" in message


def test_missing_dependency() -> None:
    with pytest.raises(ResolutionError, match="nowhere is in no suite"):
        plan([pkg("aa 1", depends="nowhere")], ["aa"])


# --- recommends -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("with_recommends", "expected"),
    [(False, {"aa": "1"}), (True, {"aa": "1", "rr": "1", "r-dep": "1"})],
)
def test_recommends(with_recommends: bool, expected: dict[str, str]) -> None:
    archive = [
        pkg("aa 1", recommends="rr, missing"),
        pkg("rr 1", depends="r-dep"),
        pkg("r-dep 1"),
    ]
    resolution = plan(archive, ["aa"], with_recommends=with_recommends)
    assert versions(resolution) == expected


# --- preferences ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("preferences", "installed", "expected"),
    [
        pytest.param({"bb": "1.0"}, [], "1.0", id="kept"),
        pytest.param({"bb": "0.9"}, [], "1.1", id="gone-falls-back"),
        pytest.param({"bb": "1.0"}, [inst("bb 1.0.5")], "1.1", id="older-than-installed"),
        pytest.param({}, [], "1.1", id="none"),
    ],
)
def test_preferences(preferences: dict[str, str], installed: list[Package], expected: str) -> None:
    archive = [
        pkg("aa 1", depends="bb (>= 1.0)"),
        pkg("bb 1.0"),
        pkg("bb 1.1", suite="bookworm-security"),
    ]
    if installed:
        archive[0] = pkg("aa 1", depends="bb (>= 1.0.6)")
    resolution = plan(archive, ["aa"], installed=installed, preferences=preferences)
    assert versions(resolution)["bb"] == expected


def test_preference_that_breaks_a_requested_relation_falls_back() -> None:
    archive = [pkg("bb 1.0"), pkg("bb 1.1"), pkg("bb 1.2")]
    resolution = plan(archive, ["bb (>= 1.1)"], preferences={"bb": "1.0"})
    assert versions(resolution) == {"bb": "1.2"}
    resolution = plan(archive, ["bb (>= 1.1)"], preferences={"bb": "1.1"})
    assert versions(resolution) == {"bb": "1.1"}


# --- requests ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_text", "expected"),
    [
        pytest.param("libpq5", "16.2", id="candidate"),
        pytest.param("libpq5 (>= 15)", "16.2", id="candidate-fits"),
        pytest.param("libpq5 (<< 16)", "15.6", id="highest-that-fits"),
        pytest.param("libpq5 (= 15.5)", "15.5", id="exact"),
    ],
)
def test_requested_version(request_text: str, expected: str) -> None:
    archive = [
        pkg("libpq5 15.5"),
        pkg("libpq5 15.6", suite="bookworm-security"),
        pkg("libpq5 16.2", suite="bookworm-pgdg"),
    ]
    assert versions(plan(archive, [request_text])) == {"libpq5": expected}


def test_requested_version_that_no_suite_has() -> None:
    archive = [pkg("git 1:2.39.2-1.1"), pkg("git 1:2.39.5-0+deb12u1", suite="bookworm-security")]
    with pytest.raises(NoSuchVersionError) as caught:
        plan(archive, ["git (= 1:2.40)"])
    assert caught.value.project == "git"
    message = str(caught.value)
    assert "1:2.39.5-0+deb12u1 (bookworm-security), 1:2.39.2-1.1 (bookworm)" in message


def test_unknown_requested_name_suggests_close_ones() -> None:
    archive = [pkg("postgresql-client 15"), pkg("postgresql-client-15 15.6"), pkg("curl 7")]
    with pytest.raises(NoSuchPackageError) as caught:
        plan(archive, ["postgresql-clients"])
    assert caught.value.package == "postgresql-clients"
    assert caught.value.architecture == "amd64"
    assert caught.value.close[:2] == ("postgresql-client", "postgresql-client-15")
    assert "did you mean postgresql-client" in str(caught.value)


def test_requested_foreign_architecture_is_refused() -> None:
    with pytest.raises(NoSuchPackageError, match="only amd64"):
        plan([pkg("aa 1")], ["aa:arm64"])


# --- the default base --------------------------------------------------------------------


def test_base_from_archive_is_the_minbase_closure() -> None:
    archive = [
        pkg("base-files 12", essential=True, priority="required", depends="mawk | awk"),
        pkg("mawk 1.3", priority="required", provides="awk"),
        pkg("dpkg 1.21", essential=True, priority="required", pre_depends="tar (>= 1.28)"),
        pkg("tar 1.34", essential=True, priority="required"),
        pkg("init-system-helpers 1.65", priority="required", depends="usrmerge | usr-is-merged"),
        pkg("usrmerge 35"),
        pkg("usr-is-merged 35"),
        pkg("apt 2.6.1", priority="important", depends="libapt-pkg6.0, adduser | virtual-x"),
        pkg("libapt-pkg6.0 2.6.1", priority="important"),
        pkg("adduser 3", priority="important"),
        pkg("vim 9", priority="optional", depends="libc6"),
        pkg("libc6 2.36", priority="optional"),
        pkg("libc6 2.36-9+deb12u7", suite="bookworm-security", priority="optional"),
        pkg("curl 7", priority="optional"),
    ]
    base = base_from_archive(TableUniverse(archive))
    assert [(p.name, p.version) for p in base] == [
        ("adduser", "3"),
        ("apt", "2.6.1"),
        ("base-files", "12"),
        ("dpkg", "1.21"),
        ("init-system-helpers", "1.65"),
        ("libapt-pkg6.0", "2.6.1"),
        ("mawk", "1.3"),
        ("tar", "1.34"),
        ("usr-is-merged", "35"),
    ]
    # the resolver treats it as installed
    resolution = resolve(TableUniverse(archive), [req("vim"), req("tar")], installed=base)
    assert versions(resolution) == {"vim": "9", "libc6": "2.36-9+deb12u7"}
    assert resolution.satisfied_by_base == ("tar",)
