"""``lockpin.apt_verify`` end to end against the real signed fixture archive: a
lock the archive still serves, versions the archive dropped (from its indexes,
from its pool), a sha256 altered in the lock, rebuilt ``.deb`` files, and
``download=True`` hashing every ``.deb``."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import TYPE_CHECKING, Any

import pytest

import lockpin
from fixtures.apt_archive import break_signature, build_archive, replace_suite, standard_suites
from fixtures.apt_support import compile_from
from lockpin.apt.compile import INSECURE_WARNING
from lockpin.errors import InputError, IntegrityError
from lockpin.net.config import HttpConfig

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from fixtures.apt_archive import DebCache, ServedArchive
    from lockpin.apt.lock import AptLock
    from lockpin.apt.verify import AptVerifyResult

    MakeArchive = Callable[..., ServedArchive]

LINES = ("greeter", "mailer", "fetcher")
PLATFORMS = ("linux/amd64", "linux/arm64")


def write_lock(archive: ServedArchive, tmp_path: Path) -> tuple[Path, AptLock]:
    result = compile_from(archive, tmp_path, *LINES, platforms=PLATFORMS)
    path = tmp_path / "apt.lock"
    path.write_text(result.lock.to_toml())
    return path, result.lock


def verify(archive: ServedArchive, lock: Path, tmp_path: Path, **options: Any) -> AptVerifyResult:
    return lockpin.apt_verify(
        lock,
        keyring=archive.key.keyring,
        http=HttpConfig(cache_dir=tmp_path / "verify-cache", retries=0),
        **options,
    )


def pool_requests(archive: ServedArchive) -> list[str]:
    return [p for p in archive.server.paths() if "/pool/" in p]


def test_a_lock_the_archive_still_serves(apt_archive: ServedArchive, tmp_path: Path) -> None:
    path, lock = write_lock(apt_archive, tmp_path)
    before = len(pool_requests(apt_archive))
    result = verify(apt_archive, path, tmp_path)
    assert result.ok
    assert result.problems == ()
    assert result.checked == len(lock.packages) == 12
    # Checked against the signed indexes: no .deb was downloaded.
    assert result.downloaded == 0
    assert len(pool_requests(apt_archive)) == before


def test_download_hashes_every_deb(apt_archive: ServedArchive, tmp_path: Path) -> None:
    path, lock = write_lock(apt_archive, tmp_path)
    apt_archive.server.clear_log()
    result = verify(apt_archive, path, tmp_path, download=True)
    assert result.ok
    assert result.downloaded == len(lock.packages)
    fetched = sorted(pool_requests(apt_archive))
    assert fetched == sorted("/" + p.url.split("/", 3)[3] for p in lock.packages)


def _drop_greeter(debs: DebCache, archive: ServedArchive, *, from_pool: bool) -> None:
    """Rebuild ``archive`` in place with greeter 2.10-3 (amd64) replaced by 2.11-1."""
    suites = standard_suites()
    bookworm = suites[0]
    packages = {arch: list(pkgs) for arch, pkgs in bookworm.packages.items()}
    packages["amd64"] = [p for p in packages["amd64"] if p["name"] != "greeter"]
    packages["amd64"].append({"name": "greeter", "version": "2.11-1"})
    suites[0] = replace_suite(bookworm, packages=packages)
    build_archive(archive.built.root, suites, key=archive.key, debs=debs)
    if from_pool:
        (archive.built.root / "debian/pool/main/g/greeter/greeter_2.10-3_amd64.deb").unlink()


def test_a_version_the_archive_dropped(
    make_apt_archive: MakeArchive, apt_debs: DebCache, tmp_path: Path
) -> None:
    archive = make_apt_archive()
    path, _lock = write_lock(archive, tmp_path)
    _drop_greeter(apt_debs, archive, from_pool=True)
    result = verify(archive, path, tmp_path)
    assert not result.ok
    assert result.checked == 12
    [problem] = result.problems
    assert (problem.platform, problem.package) == ("linux/amd64", "greeter=2.10-3")
    message = str(problem)
    assert "no longer listed" in message
    assert "2.11-1 (bookworm)" in message
    assert archive.url + "/debian/pool/main/g/greeter/greeter_2.10-3_amd64.deb" in message
    assert "404" in message


def test_a_deb_checked_before_is_asked_for_again(
    make_apt_archive: MakeArchive, apt_debs: DebCache, tmp_path: Path
) -> None:
    archive = make_apt_archive()
    path, _lock = write_lock(archive, tmp_path)
    assert verify(archive, path, tmp_path, download=True).ok
    _drop_greeter(apt_debs, archive, from_pool=True)
    # Same cache: the sha256 remembered from the first download does not answer
    # whether the pool still has the file.
    result = verify(archive, path, tmp_path, download=True)
    assert [p.package for p in result.problems] == ["greeter=2.10-3"]
    assert result.downloaded == 11


def test_a_version_dropped_from_the_index_but_still_in_the_pool_warns(
    make_apt_archive: MakeArchive, apt_debs: DebCache, tmp_path: Path
) -> None:
    archive = make_apt_archive()
    path, _lock = write_lock(archive, tmp_path)
    _drop_greeter(apt_debs, archive, from_pool=False)
    result = verify(archive, path, tmp_path)
    assert result.ok
    assert result.downloaded == 1
    [warning] = result.warnings
    assert "greeter=2.10-3 (linux/amd64)" in warning
    assert "2.11-1 (bookworm)" in warning
    assert "--snapshot" in warning


def test_an_altered_sha256_in_the_lock(apt_archive: ServedArchive, tmp_path: Path) -> None:
    path, lock = write_lock(apt_archive, tmp_path)
    target = next(p for p in lock.packages if p.name == "mailer" and p.platform == "linux/arm64")
    altered = dataclasses.replace(target, sha256="0" * 64)
    packages = tuple(altered if p is target else p for p in lock.packages)
    path.write_text(dataclasses.replace(lock, packages=packages).to_toml())
    result = verify(apt_archive, path, tmp_path)
    [problem] = result.problems
    assert (problem.platform, problem.package) == ("linux/arm64", "mailer=8.1.2-0.1")
    assert target.sha256 in problem.message
    assert "0" * 64 in problem.message
    assert "-P mailer" in problem.message


def test_a_rebuilt_deb_is_caught_by_download_only(
    make_apt_archive: MakeArchive, tmp_path: Path
) -> None:
    archive = make_apt_archive()
    path, lock = write_lock(archive, tmp_path)
    mailer = next(p for p in lock.packages if p.name == "mailer" and p.platform == "linux/amd64")
    deb_path = mailer.url.split("/", 3)[3]
    data = (archive.built.root / deb_path).read_bytes()
    archive.server.swap("/" + deb_path, data[:-1] + bytes([data[-1] ^ 1]))
    # The signed index still lists the locked sha256: without downloading, all is well.
    assert verify(archive, path, tmp_path).ok
    result = verify(archive, path, tmp_path, download=True)
    [problem] = result.problems
    assert problem.package == "mailer=8.1.2-0.1"
    assert mailer.url in problem.message
    assert hashlib.sha256(data[:-1] + bytes([data[-1] ^ 1])).hexdigest() in problem.message
    assert result.downloaded == len(lock.packages) - 1


def test_an_archive_that_no_longer_verifies_is_an_error(
    make_apt_archive: MakeArchive, tmp_path: Path
) -> None:
    archive = make_apt_archive()
    path, _lock = write_lock(archive, tmp_path)
    inrelease = archive.built.dists("bookworm") + "InRelease"
    data = (archive.built.root / inrelease.lstrip("/")).read_bytes()
    archive.server.swap(inrelease, break_signature(data))
    with pytest.raises(IntegrityError) as info:
        verify(archive, path, tmp_path)
    assert archive.url + inrelease in str(info.value)


# -- trust recorded in the lock -----------------------------------------------------------


def test_a_lock_of_an_unsigned_mirror_is_verified_without_signatures_and_warns(
    make_apt_archive: MakeArchive, tmp_path: Path
) -> None:
    """--insecure-skip-verify travels with the lock: verify takes the unsigned
    mirror too (it used to fail, suggesting an option it did not have), with the
    warning compile gives."""
    unsigned = [replace_suite(s, inrelease=False, release_gpg=False) for s in standard_suites()]
    archive = make_apt_archive(unsigned)
    compiled = compile_from(
        archive, tmp_path, *LINES, platforms=PLATFORMS, keyring=None, insecure_skip_verify=True
    )
    assert INSECURE_WARNING in compiled.warnings
    path = tmp_path / "apt.lock"
    path.write_text(compiled.lock.to_toml())
    assert "insecure-skip-verify = true" in path.read_text()
    result = lockpin.apt_verify(path, http=HttpConfig(cache_dir=tmp_path / "v", retries=0))
    assert result.ok, result.problems
    assert result.checked == len(compiled.lock.packages)
    assert INSECURE_WARNING in result.warnings


def test_insecure_skip_verify_on_verify_skips_the_keyring(
    apt_archive: ServedArchive, tmp_path: Path
) -> None:
    path, _ = write_lock(apt_archive, tmp_path)
    result = lockpin.apt_verify(
        path,
        insecure_skip_verify=True,  # no keyring given, and none asked for
        http=HttpConfig(cache_dir=tmp_path / "v", retries=0),
    )
    assert result.ok
    assert result.warnings[0] == INSECURE_WARNING


def test_a_lock_of_an_own_keyring_needs_a_keyring_to_verify(
    apt_archive: ServedArchive, tmp_path: Path
) -> None:
    path, lock = write_lock(apt_archive, tmp_path)
    keyring = apt_archive.key.keyring
    assert lock.keyring_name == keyring.name
    apt_archive.server.clear_log()
    with pytest.raises(InputError, match="compiled with a keyring of its own") as info:
        lockpin.apt_verify(path, http=HttpConfig(cache_dir=tmp_path / "v", retries=0))
    assert f"{keyring.name} (sha256 {lock.keyring_sha256})" in str(info.value)
    assert "--keyring FILE" in str(info.value)
    assert apt_archive.server.paths() == []  # said before anything was fetched
    # the same key under another name: verified, with a warning naming both
    other = tmp_path / "renamed.gpg"
    other.write_bytes(keyring.read_bytes())
    result = lockpin.apt_verify(
        path, keyring=other, http=HttpConfig(cache_dir=tmp_path / "v", retries=0)
    )
    assert result.ok
    assert len(result.warnings) == 1
    assert "renamed.gpg" in result.warnings[0]
    assert f"{keyring.name} (sha256 {lock.keyring_sha256})" in result.warnings[0]
    assert verify(apt_archive, path, tmp_path).warnings == ()  # the recorded keyring: quiet


def test_an_own_keyring_that_is_the_installed_default_needs_no_option(
    apt_archive: ServedArchive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Compiled with a copy of a keyring (the Ubuntu keyring from its .deb on a Debian
    host), verified where the distribution's keyring is that same key (an Ubuntu CI
    runner): the recorded sha256 matches the installed default, so no --keyring."""
    from lockpin.apt.distro import DEFAULT_KEYRINGS

    path, lock = write_lock(apt_archive, tmp_path)
    assert lock.keyring_sha256 is not None
    # this machine's "installed" Debian keyring is the fixture's key, under another path
    installed = tmp_path / "usr-share-keyrings" / "debian-archive-keyring.gpg"
    installed.parent.mkdir()
    installed.write_bytes(apt_archive.key.keyring.read_bytes())
    monkeypatch.setitem(DEFAULT_KEYRINGS, "debian", str(installed))
    result = lockpin.apt_verify(path, http=HttpConfig(cache_dir=tmp_path / "v", retries=0))
    assert result.ok
    assert result.warnings == ()
    # another key installed there: the option is asked for again
    installed.write_bytes(b"not the key")
    with pytest.raises(InputError, match="compiled with a keyring of its own"):
        lockpin.apt_verify(path, http=HttpConfig(cache_dir=tmp_path / "v", retries=0))
