"""``lockpin.apt_compile`` end to end against the real signed fixture archive:
resolution through the archive's own indexes (virtual packages, alternatives,
Provides, upgrades of a base, conflicts, missing names and versions, several
platforms, components, Recommends) and the lock it assembles (deterministic
bytes, pins kept on a re-run and moved by ``upgrade``/``upgrade_packages``).

What the CLI adds (writing, ``--check``, ``--dry-run``) is in
``tests/cli/test_cli_apt.py``; the archive's trust and cache in
``test_apt_archive.py``."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import pytest

import lockpin
from fixtures.apt_archive import build_archive, replace_suite, standard_suites
from fixtures.apt_support import OLD_BASE, compile_from, status_text
from lockpin.errors import (
    InputError,
    NoSuchPackageError,
    NoSuchVersionError,
    ResolutionError,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path

    from fixtures.apt_archive import DebCache, ServedArchive, SuiteSpec
    from lockpin.apt.compile import AptCompileResult

    MakeArchive = Callable[..., ServedArchive]


def pins(result: AptCompileResult, platform: str = "linux/amd64") -> dict[str, str]:
    return {p.name: p.version for p in result.lock.packages if p.platform == platform}


def status_file(tmp_path: Path, installed: Mapping[str, tuple[str, str]]) -> Path:
    """A dpkg status file of ``installed`` (name -> (version, architecture))."""
    path = tmp_path / "status"
    path.write_text(status_text(installed))
    return path


# -- resolution through the archive --------------------------------------------------------------


def test_a_virtual_package_with_one_provider(apt_archive: ServedArchive, tmp_path: Path) -> None:
    # nawk (the only provider of awk) is in the default base (Priority: required)...
    assert pins(compile_from(apt_archive, tmp_path, "needs-awk")) == {"needs-awk": "1.0"}
    # ...and pulled in by the virtual dependency when the base lacks it.
    empty = status_file(tmp_path, {})
    result = compile_from(apt_archive, tmp_path, "needs-awk", base_status=empty)
    assert pins(result)["nawk"] == "1.3.4-3"
    nawk = next(p for p in result.lock.packages if p.name == "nawk")
    assert nawk.required_by == ("needs-awk",)


def test_alternatives_take_the_first_then_a_provider(
    apt_archive: ServedArchive, tmp_path: Path
) -> None:
    assert pins(compile_from(apt_archive, tmp_path, "mailer")) == {
        "mailer": "8.1.2-0.1",
        "mta-light": "4.96-15",
    }
    # mta-heavy (requested) provides mail-transport-agent and conflicts with the
    # first alternative: apt takes the provider that is already in the plan.
    assert pins(compile_from(apt_archive, tmp_path, "mailer", "mta-heavy")) == {
        "mailer": "8.1.2-0.1",
        "mta-heavy": "3.7.10-0",
    }


def test_versioned_provides_and_any(apt_archive: ServedArchive, tmp_path: Path) -> None:
    result = compile_from(apt_archive, tmp_path, "json-user", "pyish-tool")
    assert pins(result) == {
        "json-user": "1.0",
        "perlish": "5.36.0-7",
        "pyish-tool": "1.0",
        "pyish": "3.11.2-1",
    }
    by_name = {p.name: p for p in result.lock.packages}
    assert by_name["json-user"].architecture == "all"
    assert by_name["perlish"].architecture == "amd64"


def test_an_unsatisfiable_versioned_provides_names_the_chain(
    apt_archive: ServedArchive, tmp_path: Path
) -> None:
    with pytest.raises(ResolutionError) as info:
        compile_from(apt_archive, tmp_path, "json-too-new")
    message = str(info.value)
    assert "json-too-new" in message
    assert "libjsonish-perl (>= 5.0)" in message
    assert info.value.exit_code == 1


def test_the_highest_version_of_every_suite(apt_archive: ServedArchive, tmp_path: Path) -> None:
    result = compile_from(apt_archive, tmp_path, "fetcher")
    assert pins(result) == {
        "fetcher": "7.88.1-10+deb12u5",
        "libfetch4": "7.88.1-10+deb12u5",
        "opensslish": "3.0.13-1~deb12u1",
    }
    assert {p.suite for p in result.lock.packages} == {"bookworm-security"}
    fetcher = next(p for p in result.lock.packages if p.name == "fetcher")
    assert fetcher.url == (
        apt_archive.security_mirror + "pool/main/f/fetch/fetcher_7.88.1-10+deb12u5_amd64.deb"
    )
    served = (apt_archive.built.root / fetcher.url.split("/", 3)[3]).read_bytes()
    assert (fetcher.size, fetcher.sha256) == (len(served), hashlib.sha256(served).hexdigest())


def test_an_upgrade_of_a_base_package_from_a_status_file(
    apt_archive: ServedArchive, tmp_path: Path
) -> None:
    base = status_file(tmp_path, OLD_BASE)
    result = compile_from(apt_archive, tmp_path, "mailer", "tzinfo", base_status=base)
    by_name = {p.name: p for p in result.lock.packages}
    # mta-light needs libtiny6 (>= 2.0): the installed 1.9-1 is upgraded.
    assert by_name["libtiny6"].version == "2.1-1"
    assert by_name["libtiny6"].upgrade_of == "1.9-1"
    # A requested package installed in an older version is upgraded to the candidate.
    assert by_name["tzinfo"].version == "2024a-0+deb12u1"
    assert by_name["tzinfo"].suite == "bookworm-updates"
    assert by_name["tzinfo"].upgrade_of == "2023c-8"
    # What the base has in a good enough version is not installed again.
    assert "tiny-data" not in by_name
    assert "base-tiny" not in by_name
    assert result.lock.base == "status:" + hashlib.sha256(base.read_bytes()).hexdigest()


def test_a_status_file_that_is_not_one(apt_archive: ServedArchive, tmp_path: Path) -> None:
    bad = tmp_path / "status"
    bad.write_text("Package: x\nVersion: 1\n")
    with pytest.raises(InputError) as info:
        compile_from(apt_archive, tmp_path, "mailer", base_status=bad)
    assert str(bad) in str(info.value)
    assert "/var/lib/dpkg/status" in str(info.value)


def test_a_conflict_between_requested_packages(apt_archive: ServedArchive, tmp_path: Path) -> None:
    with pytest.raises(ResolutionError) as info:
        compile_from(apt_archive, tmp_path, "mta-light", "mta-heavy")
    message = str(info.value)
    assert "mta-light" in message
    assert "mta-heavy" in message
    assert "onflict" in message


def test_a_conflict_deep_in_the_closure_names_the_chain(
    apt_archive: ServedArchive, tmp_path: Path
) -> None:
    # fetcher's candidate needs exactly its own libfetch4; the older one is requested.
    with pytest.raises(ResolutionError) as info:
        compile_from(apt_archive, tmp_path, "fetcher", "libfetch4=7.88.1-10")
    message = str(info.value)
    assert "fetcher" in message
    assert "libfetch4 (= 7.88.1-10+deb12u5)" in message
    assert "7.88.1-10" in message


def test_a_missing_package_suggests_close_names(apt_archive: ServedArchive, tmp_path: Path) -> None:
    with pytest.raises(NoSuchPackageError) as info:
        compile_from(apt_archive, tmp_path, "mailr")
    assert info.value.package == "mailr"
    assert "mailer" in info.value.close
    assert "mailer" in str(info.value)
    assert info.value.exit_code == 2  # a typo in the input, as for a Python project


def test_an_unavailable_version_lists_those_that_exist_and_their_suites(
    apt_archive: ServedArchive, tmp_path: Path
) -> None:
    with pytest.raises(NoSuchVersionError) as info:
        compile_from(apt_archive, tmp_path, "opensslish=3.0.12-1")
    message = str(info.value)
    assert "3.0.12-1" in message
    assert "3.0.11-1~deb12u2 (bookworm)" in message
    assert "3.0.13-1~deb12u1 (bookworm-security)" in message


def test_a_requested_version_that_exists_is_pinned(
    apt_archive: ServedArchive, tmp_path: Path
) -> None:
    result = compile_from(apt_archive, tmp_path, "opensslish=3.0.11-1~deb12u2", "epochy (>= 1:2)")
    assert pins(result) == {"opensslish": "3.0.11-1~deb12u2", "epochy": "1:2.0-1"}
    epochy = next(p for p in result.lock.packages if p.name == "epochy")
    assert epochy.filename.endswith("/epochy_2.0-1_all.deb")


def test_a_multi_platform_lock(apt_archive: ServedArchive, tmp_path: Path) -> None:
    result = compile_from(
        apt_archive, tmp_path, "greeter", "mailer", platforms=("linux/arm64", "linux/amd64")
    )
    assert result.lock.platforms == ("linux/amd64", "linux/arm64")
    assert pins(result, "linux/amd64")["greeter"] == "2.10-3"
    assert pins(result, "linux/arm64")["greeter"] == "2.10-2"
    for platform, arch in (("linux/amd64", "amd64"), ("linux/arm64", "arm64")):
        locked = [p for p in result.lock.packages if p.platform == platform]
        assert {p.architecture for p in locked} == {arch}
        assert all(p.url.endswith(f"_{arch}.deb") for p in locked)
    assert {s.architectures for s in result.lock.suites} == {("amd64", "arm64")}


def test_a_package_missing_on_one_platform_names_it(
    apt_archive: ServedArchive, tmp_path: Path
) -> None:
    with pytest.raises(NoSuchPackageError) as info:
        compile_from(apt_archive, tmp_path, "cpu-tool", platforms=("linux/amd64", "linux/arm64"))
    assert info.value.architecture == "arm64"
    message = str(info.value)
    assert message.startswith("cpu-tool is not available for linux/arm64")
    assert "for linux/amd64 only" in message
    assert "separate apt.in" in message
    # A name no platform has keeps its "did you mean".
    with pytest.raises(NoSuchPackageError) as info:
        compile_from(apt_archive, tmp_path, "cpu-tol", platforms=("linux/amd64", "linux/arm64"))
    assert "did you mean cpu-tool" in str(info.value)


def test_the_debian_arch_spelling_is_the_same_lock(
    apt_archive: ServedArchive, tmp_path: Path
) -> None:
    oci = compile_from(apt_archive, tmp_path, "greeter", platforms=("linux/arm64",))
    debian = compile_from(apt_archive, tmp_path, "greeter", platforms=("arm64",))
    assert debian.lock.platforms == ("linux/arm64",)
    assert debian.lock.to_toml() == oci.lock.to_toml()


def test_a_platform_named_twice_is_refused(apt_archive: ServedArchive, tmp_path: Path) -> None:
    before = len(apt_archive.server.requests)
    with pytest.raises(InputError) as info:
        compile_from(apt_archive, tmp_path, "greeter", platforms=("linux/amd64", "amd64"))
    assert "twice" in str(info.value)
    assert len(apt_archive.server.requests) == before


def _with_contrib() -> list[SuiteSpec]:
    suites = standard_suites()
    bookworm = suites[0]
    packages = {arch: list(pkgs) for arch, pkgs in bookworm.packages.items()}
    packages["amd64"].append(
        {"name": "nonfree-ish", "version": "1.0", "component": "contrib", "depends": "mailer"}
    )
    suites[0] = replace_suite(bookworm, packages=packages, components=("main", "contrib"))
    return suites


def test_component(make_apt_archive: MakeArchive, tmp_path: Path) -> None:
    archive = make_apt_archive(_with_contrib())
    with pytest.raises(NoSuchPackageError):
        compile_from(archive, tmp_path, "nonfree-ish")
    result = compile_from(archive, tmp_path, "nonfree-ish", components=["contrib"])
    assert pins(result) == {"nonfree-ish": "1.0", "mailer": "8.1.2-0.1", "mta-light": "4.96-15"}
    assert result.lock.components == ("contrib", "main")
    nonfree = next(p for p in result.lock.packages if p.name == "nonfree-ish")
    assert nonfree.filename.startswith("pool/contrib/")
    # Suites that lack the component (-updates, -security) are skipped, as apt does.
    assert any("/dists/bookworm/contrib/" in p for p in archive.server.paths())


def test_with_recommends(apt_archive: ServedArchive, tmp_path: Path) -> None:
    without = compile_from(apt_archive, tmp_path, "fetcher")
    assert "certs" not in pins(without)
    assert not without.lock.with_recommends
    result = compile_from(apt_archive, tmp_path, "fetcher", with_recommends=True)
    assert pins(result)["certs"] == "20230311"
    assert result.lock.with_recommends
    # certs' own dependencies are met: opensslish by fetcher's, debconf by the base.
    assert set(pins(result)) == {"fetcher", "libfetch4", "opensslish", "certs"}


# -- the lock ------------------------------------------------------------------------------------


def test_the_same_inputs_give_the_same_bytes_cold_or_warm(
    apt_archive: ServedArchive, tmp_path: Path
) -> None:
    lines = ("mailer", "fetcher", "greeter", "json-user")
    platforms = ("linux/amd64", "linux/arm64")
    first = compile_from(apt_archive, tmp_path, *lines, platforms=platforms, cache="a")
    warm = compile_from(apt_archive, tmp_path, *lines, platforms=platforms, cache="a")
    other = compile_from(apt_archive, tmp_path, *lines, platforms=platforms[::-1], cache="b")
    text = first.lock.to_toml()
    assert warm.lock.to_toml() == text
    assert other.lock.to_toml() == text
    assert text.endswith("\n")
    assert "\r" not in text
    # The order of apt.in is kept in the header: what the user asked, as written.
    assert first.lock.requested == lines


def test_a_lock_round_trips_through_its_text(apt_archive: ServedArchive, tmp_path: Path) -> None:
    result = compile_from(apt_archive, tmp_path, "mailer", "fetcher", platforms=("amd64", "arm64"))
    text = result.lock.to_toml()
    again = lockpin.AptLock.from_toml(text, filename="apt.lock")
    assert again == result.lock
    assert again.to_toml() == text


def _moved_on(debs: DebCache, archive: ServedArchive) -> None:
    """Rebuild ``archive`` in place: newer greeter and mailer in bookworm-updates."""
    suites = standard_suites()
    updates = suites[1]
    packages = {arch: list(pkgs) for arch, pkgs in updates.packages.items()}
    packages["amd64"] = [
        {"name": "greeter", "version": "2.11-1"},
        {
            "name": "mailer",
            "version": "8.1.3-1",
            "depends": "mta-light | mail-transport-agent, libtiny6",
        },
    ]
    suites[1] = replace_suite(updates, packages=packages)
    build_archive(archive.built.root, suites, key=archive.key, debs=debs)


def test_pins_are_kept_on_a_rerun_and_moved_by_upgrade(
    make_apt_archive: MakeArchive, apt_debs: DebCache, tmp_path: Path
) -> None:
    archive = make_apt_archive()
    first = compile_from(archive, tmp_path, "greeter", "mailer")
    assert (pins(first)["greeter"], pins(first)["mailer"]) == ("2.10-3", "8.1.2-0.1")
    lock = tmp_path / "apt.lock"
    lock.write_text(first.lock.to_toml())
    _moved_on(apt_debs, archive)

    kept = compile_from(archive, tmp_path, "greeter", "mailer", existing=lock, refresh=True)
    assert pins(kept) == pins(first)
    assert not kept.changed
    # The evidence is of the archive as it is now, even for kept pins.
    assert kept.lock.suites != first.lock.suites

    one = compile_from(
        archive, tmp_path, "greeter", "mailer", existing=lock, upgrade_packages=["greeter"]
    )
    assert (pins(one)["greeter"], pins(one)["mailer"]) == ("2.11-1", "8.1.2-0.1")
    assert one.changed

    everything = compile_from(archive, tmp_path, "greeter", "mailer", existing=lock, upgrade=True)
    assert (pins(everything)["greeter"], pins(everything)["mailer"]) == ("2.11-1", "8.1.3-1")

    # A fresh lock (no existing one) takes the newest too.
    assert pins(compile_from(archive, tmp_path, "greeter", "mailer")) == pins(everything)


def test_upgrade_of_a_name_the_lock_lacks_warns(apt_archive: ServedArchive, tmp_path: Path) -> None:
    first = compile_from(apt_archive, tmp_path, "greeter")
    lock = tmp_path / "apt.lock"
    lock.write_text(first.lock.to_toml())
    result = compile_from(
        apt_archive, tmp_path, "greeter", existing=lock, upgrade_packages=["greetr"]
    )
    assert any("-P greetr" in w for w in result.warnings)
    assert not result.changed


def test_release_and_platforms_default_to_the_existing_locks(
    apt_archive: ServedArchive, tmp_path: Path
) -> None:
    first = compile_from(apt_archive, tmp_path, "greeter", platforms=("arm64",))
    lock = tmp_path / "apt.lock"
    lock.write_text(first.lock.to_toml())
    again = compile_from(
        apt_archive, tmp_path, "greeter", release=None, platforms=(), existing=lock
    )
    assert again.lock.platforms == ("linux/arm64",)
    assert again.lock.release == "bookworm"
    assert not again.changed


def test_an_existing_lock_that_does_not_parse(apt_archive: ServedArchive, tmp_path: Path) -> None:
    lock = tmp_path / "apt.lock"
    lock.write_text("lock-version = 1\nbogus = 3\n")
    with pytest.raises(InputError) as info:
        compile_from(apt_archive, tmp_path, "greeter", existing=lock)
    assert "apt.lock" in str(info.value)
    assert "delete it" in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", "lists no package", id="empty"),
        pytest.param("mailer | mta-light\n", "apt.in:1", id="alternatives"),
        pytest.param("# x\nmailer\nmailer (>= 1)\n", "apt.in:3", id="twice"),
    ],
)
def test_bad_package_lists_fail_before_any_request(
    apt_archive: ServedArchive, tmp_path: Path, text: str, expected: str
) -> None:
    src = tmp_path / "apt.in"
    src.write_text(text)
    before = len(apt_archive.server.requests)
    with pytest.raises(InputError) as info:
        lockpin.apt_compile(
            src,
            release="bookworm",
            platforms=["amd64"],
            mirror=apt_archive.mirror,
            keyring=apt_archive.key.keyring,
        )
    assert expected in str(info.value)
    assert len(apt_archive.server.requests) == before
