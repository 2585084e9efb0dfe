"""apt's default pin priorities, the suite a pin records, removals and provider ties.

* **Priorities** (apt_preferences(5)): a Release's ``NotAutomatic: yes`` gives its
  versions priority 1, ``ButAutomaticUpgrades: yes`` 100, others 500
  (:attr:`lockpin.apt.release.Release.pin_priority`); the resolver's candidate is the
  highest priority, then the highest version, and an installed version (100) is
  replaced only by a higher priority. The differential tier
  (``test_apt_resolve_aptget.py``, scenarios ``backports-*``/``experimental-*`` and
  the random universes) proves the choices against the real apt-get; here the
  parsing, and the same rules end to end through the signed fixture archive with a
  ``bookworm-backports`` suite.
* **The suite of a pin**: of a version that several suites carry, apt downloads the
  first in ``sources.list`` order (checked with the real ``apt-get download
  --print-uris``), and the pin records that suite, not the first by name.
* **Removals** and **provider ties** come back from ``apt_compile`` as warnings, and
  removals are recorded in the lock.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pytest

import lockpin
from fixtures.apt_archive import (
    AptArchiveServer,
    ServedArchive,
    SuiteSpec,
    build_archive,
    standard_suites,
)
from fixtures.aptget import (
    AptGetOracle,
    TableUniverse,
    flat_release,
    installed_package,
    make_package,
)
from lockpin.apt.lock import AptLock, LockedRemoval
from lockpin.apt.relation import Relation
from lockpin.apt.release import parse_release
from lockpin.apt.resolve import apt_package_order, resolve
from lockpin.errors import ResolutionError
from lockpin.net.config import HttpConfig

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from fixtures.apt_archive import DebCache, GpgKey
    from lockpin.apt.compile import AptCompileResult
    from lockpin.apt.models import Package

pkg = make_package
inst = installed_package
BACKPORTS = {"NotAutomatic": "yes", "ButAutomaticUpgrades": "yes"}


# -- the Release fields ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "priority"),
    [
        ({}, 500),
        ({"NotAutomatic": "yes"}, 1),
        ({"NotAutomatic": "yes", "ButAutomaticUpgrades": "yes"}, 100),
        # apt 2.6 gives the flag alone 100 as well (test_apt_resolve_aptget's
        # but-automatic-upgrades-alone scenario shows the real apt-get doing so)
        ({"ButAutomaticUpgrades": "yes"}, 100),
        ({"NotAutomatic": "no"}, 500),
        ({"NotAutomatic": "Yes"}, 1),
        ({"NotAutomatic": "true"}, 1),
        ({"NotAutomatic": "1"}, 1),
        ({"NotAutomatic": "yes", "ButAutomaticUpgrades": "no"}, 1),
    ],
)
def test_a_releases_fields_give_apts_default_priority(
    fields: dict[str, str], priority: int
) -> None:
    release = parse_release(flat_release("bookworm-backports", b"", fields))
    assert release.pin_priority == priority


# -- the suite a pin records ----------------------------------------------------------------


def _in_suites(*suites: str, version: str = "8.5.0-2ubuntu10.6") -> dict[str, list[Package]]:
    """``curl`` at one version in each of ``suites`` (in that order), each with its own
    pool file name, so that a URL says which suite it is from."""
    return {
        suite: [
            replace(
                pkg(f"curl {version}"), suite=suite, filename=f"pool/{suite}/curl_{version}.deb"
            )
        ]
        for suite in suites
    }


@pytest.mark.parametrize(
    "order",
    [
        ("noble", "noble-updates", "noble-security"),
        ("noble", "noble-security", "noble-updates"),
    ],
)
def test_a_version_several_suites_carry_is_pinned_from_the_first_source(
    order: tuple[str, ...],
) -> None:
    suites = _in_suites(*order[1:])
    suites = {"noble": [pkg("curl 8.5.0-2ubuntu10", suite="noble")], **suites}
    universe = TableUniverse([p for listed in suites.values() for p in listed])
    plan = resolve(universe, [Relation("curl")])
    (curl,) = plan.packages
    assert curl.version == "8.5.0-2ubuntu10.6"
    assert curl.package.suite == order[1]  # not the first by name


@pytest.mark.skipif(shutil.which("apt-get") is None, reason="needs apt-get")
def test_apt_get_downloads_from_the_first_source_whatever_its_priority(
    tmp_path: Path,
) -> None:
    oracle = AptGetOracle(tmp_path)
    for order, releases in (
        (("noble-updates", "noble-security"), {}),
        (("noble-security", "noble-updates"), {}),
        # a backports suite listed first is still where apt fetches the file from
        (("bookworm-backports", "bookworm"), {"bookworm-backports": BACKPORTS}),
    ):
        suites = _in_suites(*order)
        uris = oracle.download_uris(suites, ["curl=8.5.0-2ubuntu10.6"], releases=releases)
        assert uris["curl"].endswith(f"/pool/{order[0]}/curl_8.5.0-2ubuntu10.6.deb"), uris
        priority = {s: parse_release(flat_release(s, b"", releases.get(s))) for s in suites}
        universe = TableUniverse(
            replace(p, pin_priority=priority[p.suite].pin_priority)
            for listed in suites.values()
            for p in listed
        )
        (curl,) = resolve(universe, [Relation("curl")]).packages
        assert curl.package.suite == order[0]


# -- removals and ties, on tables -----------------------------------------------------------


def test_a_removal_names_the_package_that_forces_it_out() -> None:
    universe = TableUniverse([pkg("aa 1", conflicts="zz"), pkg("bb 1", breaks="yy (<< 2)")])
    plan = resolve(
        universe, [Relation("aa"), Relation("bb")], installed=[inst("zz 1"), inst("yy 1")]
    )
    assert [(r.name, r.package.version, r.by, r.reason) for r in plan.removals] == [
        ("yy", "1", "bb", "breaks yy (<< 2)"),
        ("zz", "1", "aa", "conflicts with zz"),
    ]
    assert [p.name for p in plan.removed] == ["yy", "zz"]
    texts = plan.warnings()
    assert len(texts) == 2
    assert texts[1].startswith("the plan REMOVES installed zz 1: aa 1 conflicts with zz")


def test_a_removal_after_a_failed_upgrade_says_why() -> None:
    # aa breaks zz << 2; zz's candidate 2 would escape but cannot be installed
    universe = TableUniverse([pkg("aa 1", breaks="zz (<< 2)"), pkg("zz 2", depends="nowhere")])
    plan = resolve(universe, [Relation("aa")], installed=[inst("zz 1")])
    (removal,) = plan.removals
    assert (removal.name, removal.by) == ("zz", "aa")
    assert removal.reason == "breaks zz (<< 2), and zz cannot be upgraded"


def _tie_universe() -> list[Package]:
    return [
        pkg("mailer 1", depends="mail-transport-agent"),
        pkg("postfix 3", provides="mail-transport-agent"),
        pkg("exim4 4", provides="mail-transport-agent"),
        pkg("nullmailer 2", provides="mail-transport-agent", priority="extra"),
    ]


def test_a_tie_among_providers_without_apts_package_ids_is_reported() -> None:
    plan = resolve(TableUniverse(_tie_universe()), [Relation("mailer")])
    (tie,) = plan.ties
    # nullmailer's Priority ranks it below: not part of the tie
    assert tie.virtual == "mail-transport-agent"
    assert tie.candidates == ("exim4", "postfix")
    assert tie.needed_by == "mailer"
    assert tie.chosen in plan.versions()
    (text,) = plan.warnings()
    assert "mailer depends on mail-transport-agent" in text
    assert "List the provider you want in apt.in" in text


@pytest.mark.parametrize(
    ("requests", "order"),
    [
        (["mailer"], True),  # apt's package ids given: no guess
        (["mailer", "postfix"], False),  # the user chose
    ],
)
def test_no_tie_is_reported_when_nothing_is_guessed(requests: list[str], order: bool) -> None:
    packages = _tie_universe()
    plan = resolve(
        TableUniverse(packages),
        [Relation(r) for r in requests],
        package_order=apt_package_order([packages]) if order else None,
    )
    assert plan.ties == ()
    assert plan.warnings() == ()


# -- end to end: the signed fixture archive with a backports suite --------------------------

BACKPORTS_SUITES = ["bookworm", "bookworm-updates", "bookworm-security", "bookworm-backports"]


def _spec(**fields: Any) -> dict[str, Any]:
    return fields


def _archive_suites() -> list[SuiteSpec]:
    main, updates, security = standard_suites()
    # the security update of opensslish is in -updates too (Ubuntu does this with
    # every security fix): the same file in two archives
    openssl = [p for p in security.packages["amd64"] if p["name"] == "opensslish"]
    updates = replace(updates, packages={**updates.packages, "amd64": openssl, "arm64": openssl})
    greeter = _spec(name="greeter", version="2.12-1~bpo12+1")
    backports = SuiteSpec(
        "bookworm-backports",
        {
            "amd64": [greeter],
            "arm64": [greeter],
            "all": [
                _spec(name="newtool", version="1.0-1~bpo12+1", depends="greeter"),
                _spec(name="needs-new-greeter", version="1.0", depends="greeter (>= 2.12)"),
                _spec(name="needs-mta", version="1.0", depends="mail-transport-agent"),
            ],
        },
        extra_fields=BACKPORTS,
    )
    return [main, updates, security, backports]


@pytest.fixture(scope="module")
def archive(
    tmp_path_factory: pytest.TempPathFactory, apt_key: GpgKey, apt_debs: DebCache
) -> Iterator[ServedArchive]:
    root = tmp_path_factory.mktemp("apt-backports")
    built = build_archive(root, _archive_suites(), key=apt_key, debs=apt_debs)
    with AptArchiveServer(root) as server:
        yield ServedArchive(built, server, apt_key)


def compile_lines(
    archive: ServedArchive, tmp_path: Path, *lines: str, **options: Any
) -> AptCompileResult:
    src = tmp_path / "apt.in"
    src.write_text("".join(f"{line}\n" for line in lines))
    arguments: dict[str, Any] = {
        "release": "bookworm",
        "platforms": ["linux/amd64"],
        "suites": BACKPORTS_SUITES,
        "mirror": archive.mirror,
        "security_mirror": archive.security_mirror,
        "keyring": archive.key.keyring,
        "http": HttpConfig(cache_dir=tmp_path / "cache", retries=0),
    }
    arguments.update(options)
    return lockpin.apt_compile(src, **arguments)


def pinned(result: AptCompileResult) -> dict[str, tuple[str, str]]:
    return {p.name: (p.version, p.suite) for p in result.lock.packages}


def test_backports_is_not_the_candidate(archive: ServedArchive, tmp_path: Path) -> None:
    result = compile_lines(archive, tmp_path, "greeter")
    assert pinned(result) == {"greeter": ("2.10-3", "bookworm")}
    assert "bookworm-backports" in {s.suite for s in result.lock.suites}
    assert result.warnings == ()


def test_backports_on_request_and_for_what_only_it_has(
    archive: ServedArchive, tmp_path: Path
) -> None:
    result = compile_lines(archive, tmp_path, "greeter=2.12-1~bpo12+1", "newtool")
    assert pinned(result) == {
        "greeter": ("2.12-1~bpo12+1", "bookworm-backports"),
        "newtool": ("1.0-1~bpo12+1", "bookworm-backports"),
    }
    greeter = next(p for p in result.lock.packages if p.name == "greeter")
    assert greeter.url == f"{archive.mirror.rstrip('/')}/{greeter.filename}"
    # a package only backports has takes its dependencies from the release
    result = compile_lines(archive, tmp_path, "newtool")
    assert pinned(result)["greeter"] == ("2.10-3", "bookworm")


def test_a_dependency_only_backports_satisfies_fails_as_apt_fails(
    archive: ServedArchive, tmp_path: Path
) -> None:
    with pytest.raises(ResolutionError) as caught:
        compile_lines(archive, tmp_path, "needs-new-greeter")
    message = str(caught.value)
    assert "greeter 2.10-3 would be installed" in message
    assert "2.12-1~bpo12+1 (from bookworm-backports, whose pin priority 100" in message
    assert "pin greeter (= 2.12-1~bpo12+1) in apt.in" in message
    # ... which works
    result = compile_lines(archive, tmp_path, "needs-new-greeter", "greeter (= 2.12-1~bpo12+1)")
    assert pinned(result)["greeter"] == ("2.12-1~bpo12+1", "bookworm-backports")


def test_a_version_in_updates_and_security_is_pinned_from_updates(
    archive: ServedArchive, tmp_path: Path
) -> None:
    result = compile_lines(archive, tmp_path, "opensslish")
    openssl = next(p for p in result.lock.packages if p.name == "opensslish")
    assert (openssl.version, openssl.suite) == ("3.0.13-1~deb12u1", "bookworm-updates")
    # the release's archive (as apt's sources.list order gives it), not debian-security
    assert openssl.url.startswith(archive.mirror.rstrip("/") + "/pool/")
    security = archive.security_mirror.rstrip("/")
    assert not openssl.url.startswith(security)


def _status(tmp_path: Path, *names: tuple[str, str, str]) -> Path:
    stanzas = [
        f"Package: {name}\nStatus: install ok installed\nPriority: optional\n"
        f"Architecture: amd64\nVersion: {version}\n{extra}Description: {name}\n"
        for name, version, extra in names
    ]
    path = tmp_path / "status"
    path.write_text("\n".join(stanzas))
    return path


def test_a_removal_is_a_warning_and_is_in_the_lock(archive: ServedArchive, tmp_path: Path) -> None:
    status = _status(
        tmp_path,
        ("libtiny6", "2.1-1", "Multi-Arch: same\nDepends: tiny-data (>= 1.0)\n"),
        ("tiny-data", "1.0", ""),
        (
            "mta-light",
            "4.96-15",
            "Provides: mail-transport-agent\nConflicts: mta-heavy\nDepends: libtiny6 (>= 2.0)\n",
        ),
    )
    result = compile_lines(archive, tmp_path, "mta-heavy", base_status=status)
    assert pinned(result) == {"mta-heavy": ("3.7.10-0", "bookworm")}
    assert result.lock.removals == (
        LockedRemoval("linux/amd64", "mta-light", "4.96-15", "mta-heavy"),
    )
    (warning,) = result.warnings
    assert warning.startswith(
        "linux/amd64: the plan REMOVES installed mta-light 4.96-15: mta-heavy 3.7.10-0 "
        "conflicts with mta-light"
    )
    text = result.lock.to_toml()
    assert '[[removals]]\nplatform = "linux/amd64"\nname = "mta-light"\n' in text
    assert AptLock.from_toml(text, filename="apt.lock") == result.lock


def test_a_guessed_provider_tie_is_a_warning(archive: ServedArchive, tmp_path: Path) -> None:
    result = compile_lines(archive, tmp_path, "needs-mta")
    (warning,) = result.warnings
    chosen = next(name for name in ("mta-heavy", "mta-light") if name in pinned(result))
    assert re.match(
        r"linux/amd64: needs-mta depends on mail-transport-agent, which mta-\w+ and "
        r"mta-\w+ provide equally well",
        warning,
    ), warning
    assert f"lockpin took {chosen}" in warning
    # naming one settles it
    settled = compile_lines(archive, tmp_path, "needs-mta", "mta-light")
    assert settled.warnings == ()
    assert "mta-light" in pinned(settled)
