"""The archive layer end to end (:mod:`lockpin.apt.archive` through
:func:`lockpin.apt_compile`), against the real signed fixture archive on 127.0.0.1:
trust (signatures, keys, sizes and sha256s, Valid-Until, the suite a Release is
for, unsigned mirrors), how indexes are fetched (by-hash, .xz/.gz/plain) and the
cache (warm runs, ``offline``, ``refresh``, a damaged cache entry).

Every archive here that a test breaks is private (``make_apt_archive``)."""

from __future__ import annotations

import gc
import hashlib
import json
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from fixtures.apt_archive import (
    FIXED_DATE,
    break_signature,
    replace_suite,
    standard_suites,
)
from fixtures.apt_support import compile_from
from lockpin.errors import (
    IndexResponseError,
    IntegrityError,
    LockpinError,
    NetworkError,
    OfflineError,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from fixtures.apt_archive import GpgKey, ServedArchive, SuiteSpec
    from lockpin.apt.compile import AptCompileResult

    MakeArchive = Callable[..., ServedArchive]

SNAPSHOT = "20240601T000000Z"


def pins(result: AptCompileResult) -> dict[tuple[str, str], str]:
    return {(p.platform, p.name): p.version for p in result.lock.packages}


def inrelease_path(archive: ServedArchive, suite: str = "bookworm") -> str:
    return archive.built.dists(suite) + "InRelease"


def served_bytes(archive: ServedArchive, path: str) -> bytes:
    return (archive.built.root / path.lstrip("/")).read_bytes()


def index_requests(archive: ServedArchive) -> list[str]:
    """The Packages files (any compression, by-hash or not) requested so far."""
    return [p for p in archive.server.paths() if "/binary-" in p]


def assert_names_url_and_advice(exc: LockpinError, url: str, *advice: str) -> None:
    message = str(exc)
    assert url in message, message
    for word in advice:
        assert word in message, message


# -- trust ---------------------------------------------------------------------------------------


def test_a_good_archive_resolves_and_records_its_evidence(
    apt_archive: ServedArchive, tmp_path: Path
) -> None:
    result = compile_from(apt_archive, tmp_path, "mailer")
    assert pins(result) == {
        ("linux/amd64", "mailer"): "8.1.2-0.1",
        ("linux/amd64", "mta-light"): "4.96-15",
    }
    evidence = {s.suite: s for s in result.lock.suites}
    assert sorted(evidence) == ["bookworm", "bookworm-security", "bookworm-updates"]
    for suite, record in evidence.items():
        served = served_bytes(apt_archive, inrelease_path(apt_archive, suite))
        assert record.inrelease_sha256 == hashlib.sha256(served).hexdigest()
        assert record.date == "Sat, 01 Jun 2024 00:00:00 UTC"
    assert evidence["bookworm-security"].url == apt_archive.security_mirror.rstrip("/")


def test_a_bad_signature_is_refused(make_apt_archive: MakeArchive, tmp_path: Path) -> None:
    archive = make_apt_archive()
    path = inrelease_path(archive)
    archive.server.swap(path, break_signature(served_bytes(archive, path)))
    with pytest.raises(IntegrityError) as info:
        compile_from(archive, tmp_path, "mailer")
    assert_names_url_and_advice(
        info.value, archive.url + path, "does not verify", "altered", "another mirror"
    )
    # apt does not fall back to Release + Release.gpg when an InRelease is bad
    assert not [p for p in archive.server.paths() if p.endswith("/Release.gpg")]


def test_a_refused_answer_is_never_reused(make_apt_archive: MakeArchive, tmp_path: Path) -> None:
    archive = make_apt_archive()
    path = inrelease_path(archive)
    archive.server.swap(path, break_signature(served_bytes(archive, path)))
    with pytest.raises(IntegrityError):
        compile_from(archive, tmp_path, "mailer")
    # The mirror is repaired: the next run (same cache, no --refresh) asks again.
    archive.server.clear_faults()
    archive.server.clear_log()
    result = compile_from(archive, tmp_path, "mailer")
    assert pins(result)[("linux/amd64", "mailer")] == "8.1.2-0.1"
    assert path in archive.server.paths()


def test_a_cached_inrelease_that_no_longer_verifies_is_fetched_again(
    make_apt_archive: MakeArchive, apt_other_key: GpgKey, tmp_path: Path
) -> None:
    archive = make_apt_archive()
    compile_from(archive, tmp_path, "mailer")
    archive.server.clear_log()
    # Another keyring: the cached InRelease does not verify with it; the archive is
    # asked (and refused: it is signed by the archive's key, not this one).
    with pytest.raises(IntegrityError) as info:
        compile_from(archive, tmp_path, "mailer", keyring=apt_other_key.keyring)
    assert str(apt_other_key.keyring) in str(info.value)
    assert inrelease_path(archive) in archive.server.paths()


def test_a_key_not_in_the_keyring_is_refused(
    make_apt_archive: MakeArchive, apt_other_key: GpgKey, apt_key: GpgKey, tmp_path: Path
) -> None:
    archive = make_apt_archive(key=apt_other_key)
    with pytest.raises(IntegrityError) as info:
        compile_from(archive, tmp_path, "mailer", keyring=apt_key.keyring)
    assert_names_url_and_advice(info.value, archive.url, "InRelease", "--keyring")
    assert str(apt_key.keyring) in str(info.value)
    # Nothing the unverified Release lists was fetched.
    assert index_requests(archive) == []


def _tampered_same_size(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 1])


def _tampered_longer(data: bytes) -> bytes:
    return data + b"\0"


@pytest.mark.parametrize(
    ("tamper", "what"),
    [
        pytest.param(_tampered_same_size, "sha256", id="sha256"),
        pytest.param(_tampered_longer, "size", id="size"),
    ],
)
def test_a_tampered_packages_is_refused(
    make_apt_archive: MakeArchive,
    tmp_path: Path,
    tamper: Callable[[bytes], bytes],
    what: str,
) -> None:
    archive = make_apt_archive()
    # Every URL that serves bookworm's amd64 index, in any compression.
    for path in archive.built.packages_paths("bookworm", "amd64"):
        archive.server.swap(path, tamper(served_bytes(archive, path)))
    with pytest.raises(IntegrityError) as info:
        compile_from(archive, tmp_path, "mailer")
    message = str(info.value)
    assert archive.url + archive.built.dists("bookworm") + "main/binary-amd64/" in message
    listed = served_bytes(
        archive, archive.built.dists("bookworm") + "main/binary-amd64/Packages.xz"
    )
    if what == "sha256":
        assert hashlib.sha256(listed).hexdigest() in message
        assert info.value.expected == hashlib.sha256(listed).hexdigest()
    else:
        assert f"{len(listed) + 1} bytes" in message
        assert str(len(listed)) in message
    assert "lockpin refuses it" in message
    # An index that failed its check is never retried into success elsewhere (the
    # canonical name, another compression): one request, the by-hash one.
    tried = [p for p in index_requests(archive) if "/bookworm/main/binary-amd64/" in p]
    assert len(tried) == 1
    assert "/by-hash/SHA256/" in tried[0]


def test_a_packages_the_release_does_not_list_is_refused(
    make_apt_archive: MakeArchive, tmp_path: Path
) -> None:
    archive = make_apt_archive()
    release = archive.release_text("bookworm")
    kept = b"".join(
        line for line in release.splitlines(keepends=True) if b"binary-arm64/" not in line
    )
    archive.serve_release("bookworm", kept)
    with pytest.raises(IndexResponseError) as info:
        compile_from(archive, tmp_path, "mailer", platforms=("linux/arm64",))
    assert_names_url_and_advice(
        info.value, archive.url + inrelease_path(archive), "main/binary-arm64/Packages", "mirror"
    )


def test_a_listed_packages_the_mirror_lacks_is_a_network_error(
    make_apt_archive: MakeArchive, tmp_path: Path
) -> None:
    archive = make_apt_archive()
    archive.server.fail(archive.built.dists("bookworm") + "main/binary-amd64/")
    with pytest.raises(NetworkError) as info:
        compile_from(archive, tmp_path, "mailer")
    message = str(info.value)
    assert "bookworm/main/binary-amd64" in message
    assert archive.url + archive.built.dists("bookworm") + "main/binary-amd64/" in message
    assert "404" in message


def _expiring(valid_for: timedelta) -> list[SuiteSpec]:
    return standard_suites(valid_until=FIXED_DATE + valid_for)


def test_an_expired_valid_until_is_refused(make_apt_archive: MakeArchive, tmp_path: Path) -> None:
    archive = make_apt_archive(_expiring(timedelta(days=7)))
    with pytest.raises(IntegrityError) as info:
        compile_from(archive, tmp_path, "mailer")
    assert_names_url_and_advice(
        info.value, archive.url + "/debian", "Valid-Until", "Sat, 08 Jun 2024", "--snapshot"
    )


def test_a_valid_until_still_ahead_is_accepted_and_recorded(
    make_apt_archive: MakeArchive, tmp_path: Path
) -> None:
    archive = make_apt_archive(_expiring(timedelta(days=7)))
    result = compile_from(archive, tmp_path, "mailer", now=FIXED_DATE + timedelta(days=1))
    assert {s.valid_until for s in result.lock.suites} == {"Sat, 08 Jun 2024 00:00:00 UTC"}


def test_an_expired_valid_until_is_accepted_from_a_snapshot(
    make_apt_archive: MakeArchive, tmp_path: Path
) -> None:
    # The snapshot service's layout: archive/<archive>/<stamp>/dists/...
    suites = [
        replace_suite(spec, archive=f"archive/{spec.archive}/{SNAPSHOT}")
        for spec in _expiring(timedelta(days=7))
    ]
    archive = make_apt_archive(suites)
    result = compile_from(
        archive,
        tmp_path,
        "mailer",
        mirror=None,
        security_mirror=None,
        snapshot=SNAPSHOT,
        snapshot_url=archive.url,
    )
    assert pins(result)[("linux/amd64", "mailer")] == "8.1.2-0.1"
    assert result.lock.snapshot == SNAPSHOT
    urls = {p.url for p in result.lock.packages}
    assert all(u.startswith(f"{archive.url}/archive/debian/{SNAPSHOT}/pool/") for u in urls)


def test_a_release_for_another_suite_is_refused(
    make_apt_archive: MakeArchive, tmp_path: Path
) -> None:
    archive = make_apt_archive()
    # A validly signed InRelease, but bookworm's, served as bookworm-updates' (a replay).
    updates = inrelease_path(archive, "bookworm-updates")
    archive.server.swap(updates, served_bytes(archive, inrelease_path(archive)))
    with pytest.raises(IntegrityError) as info:
        compile_from(archive, tmp_path, "mailer")
    assert_names_url_and_advice(
        info.value, archive.url + updates, "'bookworm'", "not 'bookworm-updates'", "refuses"
    )


def test_a_release_dated_in_the_future_is_refused(
    make_apt_archive: MakeArchive, tmp_path: Path
) -> None:
    archive = make_apt_archive()
    with pytest.raises(IntegrityError) as info:
        compile_from(archive, tmp_path, "mailer", now=FIXED_DATE - timedelta(hours=1))
    assert_names_url_and_advice(info.value, archive.url, "in the future", "clock")


def _unsigned() -> list[SuiteSpec]:
    return [replace_suite(s, inrelease=False, release_gpg=False) for s in standard_suites()]


def test_an_unsigned_archive_is_refused(make_apt_archive: MakeArchive, tmp_path: Path) -> None:
    archive = make_apt_archive(_unsigned())
    with pytest.raises(IntegrityError) as info:
        compile_from(archive, tmp_path, "mailer")
    assert_names_url_and_advice(
        info.value, archive.url + "/debian", "Release.gpg", "--insecure-skip-verify"
    )


def test_insecure_skip_verify_takes_an_unsigned_archive_and_warns(
    make_apt_archive: MakeArchive, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    archive = make_apt_archive(_unsigned())
    result = compile_from(archive, tmp_path, "mailer", keyring=None, insecure_skip_verify=True)
    assert pins(result)[("linux/amd64", "mailer")] == "8.1.2-0.1"
    assert any("NOT checked" in w for w in result.warnings)
    # The evidence is the Release that was used (there is no InRelease).
    release = archive.release_text("bookworm")
    evidence = {s.suite: s.inrelease_sha256 for s in result.lock.suites}
    assert evidence["bookworm"] == hashlib.sha256(release).hexdigest()


def test_release_and_release_gpg_without_an_inrelease(
    make_apt_archive: MakeArchive, tmp_path: Path
) -> None:
    archive = make_apt_archive([replace_suite(s, inrelease=False) for s in standard_suites()])
    result = compile_from(archive, tmp_path, "mailer")
    assert pins(result)[("linux/amd64", "mailer")] == "8.1.2-0.1"
    assert any(p.endswith("/bookworm/Release.gpg") for p in archive.server.paths())


# -- fetching the indexes ------------------------------------------------------------------------


def test_by_hash_is_used_when_offered(make_apt_archive: MakeArchive, tmp_path: Path) -> None:
    archive = make_apt_archive()
    compile_from(archive, tmp_path, "mailer")
    fetched = index_requests(archive)
    assert fetched
    assert all("/by-hash/SHA256/" in p for p in fetched), fetched
    xz = hashlib.sha256(
        served_bytes(archive, archive.built.dists("bookworm") + "main/binary-amd64/Packages.xz")
    ).hexdigest()
    assert archive.built.dists("bookworm") + f"main/binary-amd64/by-hash/SHA256/{xz}" in fetched


def test_canonical_names_without_by_hash(make_apt_archive: MakeArchive, tmp_path: Path) -> None:
    archive = make_apt_archive([replace_suite(s, by_hash=False) for s in standard_suites()])
    compile_from(archive, tmp_path, "mailer")
    fetched = index_requests(archive)
    assert fetched
    assert all(p.endswith("/Packages.xz") for p in fetched), fetched


def test_a_missing_by_hash_file_falls_back_to_the_canonical_name(
    make_apt_archive: MakeArchive, tmp_path: Path
) -> None:
    archive = make_apt_archive()
    archive.server.fail(archive.built.dists("bookworm") + "main/binary-amd64/by-hash/")
    result = compile_from(archive, tmp_path, "mailer")
    assert pins(result)[("linux/amd64", "mailer")] == "8.1.2-0.1"
    assert archive.built.dists("bookworm") + "main/binary-amd64/Packages.xz" in index_requests(
        archive
    )


@pytest.mark.parametrize(
    ("missing", "used"),
    [
        pytest.param((".xz",), ".gz", id="xz-missing"),
        pytest.param((".xz", ".gz"), "", id="only-plain"),
    ],
)
def test_compression_fallback(
    make_apt_archive: MakeArchive,
    apt_archive: ServedArchive,
    tmp_path: Path,
    missing: tuple[str, ...],
    used: str,
) -> None:
    suites = [replace_suite(s, compressions=("", ".gz", ".xz")) for s in standard_suites()]
    archive = make_apt_archive(suites)
    directory = archive.built.dists("bookworm") + "main/binary-amd64/"
    for suffix in missing:
        body = served_bytes(archive, directory + "Packages" + suffix)
        archive.server.fail(directory + "Packages" + suffix)
        archive.server.fail(directory + "by-hash/SHA256/" + hashlib.sha256(body).hexdigest())
    result = compile_from(archive, tmp_path, "mailer", "greeter")
    used_body = served_bytes(archive, directory + "Packages" + used)
    fetched = [p for p in index_requests(archive) if p.startswith(directory)]
    assert fetched[-1] == directory + "by-hash/SHA256/" + hashlib.sha256(used_body).hexdigest()
    # The same pins as from the standard archive, whichever file carried the text.
    reference = compile_from(apt_archive, tmp_path, "mailer", "greeter", cache="ref")
    assert [(p.name, p.version, p.sha256) for p in result.lock.packages] == [
        (p.name, p.version, p.sha256) for p in reference.lock.packages
    ]


def _xz_suites(layout: str) -> list[SuiteSpec]:
    return [replace_suite(s, xz_layout=layout) for s in standard_suites()]


@pytest.mark.parametrize("layout", ["two-streams", "padded"])
def test_a_multi_stream_xz_index_is_read_whole(
    make_apt_archive: MakeArchive, apt_archive: ServedArchive, tmp_path: Path, layout: str
) -> None:
    """Ubuntu's Packages.xz files are two concatenated xz streams (the second empty),
    which the xz format allows, with NUL stream padding between and after streams:
    the whole text is read, from the .xz itself (no fallback to another file)."""
    archive = make_apt_archive(_xz_suites(layout))
    directory = archive.built.dists("bookworm") + "main/binary-amd64/"
    xz = served_bytes(archive, directory + "Packages.xz")
    assert len(xz) > len(served_bytes(apt_archive, directory + "Packages.xz"))  # the layout
    result = compile_from(archive, tmp_path, "mailer", "greeter")
    fetched = [p for p in index_requests(archive) if p.startswith(directory)]
    assert fetched == [directory + "by-hash/SHA256/" + hashlib.sha256(xz).hexdigest()]
    reference = compile_from(apt_archive, tmp_path, "mailer", "greeter", cache="ref")
    assert [(p.name, p.version, p.sha256) for p in result.lock.packages] == [
        (p.name, p.version, p.sha256) for p in reference.lock.packages
    ]


@pytest.mark.parametrize(
    ("layout", "reason"),
    [
        ("garbage-after", "Input format not supported"),
        ("truncated", "ends early"),
        ("odd-padding", "padding"),
    ],
)
def test_a_broken_xz_index_is_refused_though_its_sha256_is_signed(
    make_apt_archive: MakeArchive, tmp_path: Path, layout: str, reason: str
) -> None:
    """What follows a stream must be stream padding (NUL bytes, in fours, as the
    real xz and apt's liblzma require) or another stream: bytes after the text
    (Python's lzma.decompress would silently drop them) and a cut stream are refused."""
    archive = make_apt_archive(_xz_suites(layout))
    with pytest.raises(IntegrityError) as info:
        compile_from(archive, tmp_path, "mailer")
    assert_names_url_and_advice(info.value, archive.url, "does not decompress", reason)
    assert "Packages.xz" in str(info.value) or "by-hash/SHA256/" in str(info.value)


# -- the cache -----------------------------------------------------------------------------------


def test_a_warm_run_downloads_no_index(make_apt_archive: MakeArchive, tmp_path: Path) -> None:
    archive = make_apt_archive()
    cold = compile_from(archive, tmp_path, "mailer", "fetcher")
    archive.server.clear_log()
    warm = compile_from(archive, tmp_path, "mailer", "fetcher")
    # Within the page cache's lifetime nothing at all is asked.
    assert archive.server.paths() == []
    assert warm.lock.to_toml() == cold.lock.to_toml()


def test_refresh_refetches_inrelease_but_no_verified_index(
    make_apt_archive: MakeArchive, tmp_path: Path
) -> None:
    archive = make_apt_archive()
    cold = compile_from(archive, tmp_path, "mailer")
    archive.server.clear_log()
    warm = compile_from(archive, tmp_path, "mailer", refresh=True)
    asked = archive.server.paths()
    assert sorted(p for p in asked if p.endswith("/InRelease")) == sorted(
        inrelease_path(archive, s) for s in ("bookworm", "bookworm-updates", "bookworm-security")
    )
    assert index_requests(archive) == []
    assert warm.lock.to_toml() == cold.lock.to_toml()


def test_refresh_sees_a_new_inrelease(make_apt_archive: MakeArchive, tmp_path: Path) -> None:
    archive = make_apt_archive()
    compile_from(archive, tmp_path, "mailer")
    # The archive moves on: bookworm re-signed with a later Date.
    release = archive.release_text("bookworm").replace(
        b"Date: Sat, 01 Jun 2024 00:00:00 UTC", b"Date: Sun, 02 Jun 2024 00:00:00 UTC"
    )
    archive.serve_release("bookworm", release)
    stale = compile_from(archive, tmp_path, "mailer", now=FIXED_DATE + timedelta(days=2))
    fresh = compile_from(
        archive, tmp_path, "mailer", refresh=True, now=FIXED_DATE + timedelta(days=2)
    )
    dates = {s.suite: s.date for s in fresh.lock.suites}
    assert dates["bookworm"] == "Sun, 02 Jun 2024 00:00:00 UTC"
    assert {s.suite: s.date for s in stale.lock.suites}["bookworm"] == (
        "Sat, 01 Jun 2024 00:00:00 UTC"
    )


def test_offline_works_from_the_cache(make_apt_archive: MakeArchive, tmp_path: Path) -> None:
    archive = make_apt_archive()
    online = compile_from(archive, tmp_path, "mailer", "greeter")
    archive.server.clear_log()
    offline = compile_from(archive, tmp_path, "mailer", "greeter", offline=True)
    assert archive.server.paths() == []
    assert offline.lock.to_toml() == online.lock.to_toml()


def test_offline_without_a_cache_fails_clearly(
    apt_archive: ServedArchive, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    before = len(apt_archive.server.requests)
    with pytest.raises(OfflineError) as info:
        compile_from(apt_archive, tmp_path, "mailer", offline=True)
    assert_names_url_and_advice(
        info.value, apt_archive.url + "/debian", "InRelease", "without --offline"
    )
    assert len(apt_archive.server.requests) == before
    # Every suite failed alike; none of those failures is left for asyncio to log
    # as a stray "Task exception was never retrieved" traceback.
    gc.collect()
    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []


def test_offline_refuses_a_tampered_cached_inrelease(
    make_apt_archive: MakeArchive, tmp_path: Path
) -> None:
    archive = make_apt_archive()
    compile_from(archive, tmp_path, "mailer")
    damaged = 0
    for entry in (tmp_path / "cache").glob("v1/apt-release/*/*"):
        # Rewritten as a whole, the cache's own sha256 in the header made to agree (someone
        # who can write the cache can do that): only the signature check can tell.
        header, _, body = entry.read_bytes().partition(b"\n")
        tampered = body.replace(b"Date: Sat,", b"Date: Sun,", 1)
        meta = json.loads(header)
        meta["sha256"] = hashlib.sha256(tampered).hexdigest()
        entry.write_bytes(json.dumps(meta).encode() + b"\n" + tampered)
        damaged += tampered != body
    assert damaged
    with pytest.raises(IntegrityError) as info:
        compile_from(archive, tmp_path, "mailer", offline=True)
    assert "does not verify" in str(info.value)


def test_a_damaged_cached_index_is_fetched_again(
    make_apt_archive: MakeArchive, tmp_path: Path
) -> None:
    archive = make_apt_archive()
    cold = compile_from(archive, tmp_path, "mailer")
    entries = sorted((tmp_path / "cache").glob("v1/apt-packages/*/*"))
    assert entries
    for entry in entries:
        data = bytearray(entry.read_bytes())
        data[-2] ^= 0x20  # same size, other text: only the sha256 can tell
        entry.write_bytes(bytes(data))
    archive.server.clear_log()
    again = compile_from(archive, tmp_path, "mailer")
    assert len(index_requests(archive)) == len(entries)
    assert again.lock.to_toml() == cold.lock.to_toml()
    # ...and the cache holds the verified text again: the next run asks nothing.
    archive.server.clear_log()
    compile_from(archive, tmp_path, "mailer")
    assert archive.server.paths() == []
