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
from lockpin.errors import IntegrityError
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
    src = tmp_path / "apt.in"
    src.write_text("\n".join(LINES) + "\n")
    result = lockpin.apt_compile(
        src,
        release="bookworm",
        platforms=PLATFORMS,
        mirror=archive.mirror,
        security_mirror=archive.security_mirror,
        keyring=archive.key.keyring,
        http=HttpConfig(cache_dir=tmp_path / "cache", retries=0),
    )
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
