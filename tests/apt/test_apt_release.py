"""InRelease/Release parsing (lockpin.apt.release): the clearsigned envelope, the
fields, dates as apt reads them, and apt's index-selection rules."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from lockpin.apt.release import (
    IndexFile,
    Release,
    ReleaseError,
    parse_release,
    parse_release_date,
    split_clearsigned,
)

SIGNATURE = b"""-----BEGIN PGP SIGNATURE-----

iHUEARYIAB0WIQSQ3DH1xLsS7PdLOrjcuOnwiu2jdwUCaw6xXQAKCRDcuOnwiu2j
=a2ZO
-----END PGP SIGNATURE-----
"""

HEAD = b"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n"

RELEASE = """\
Origin: Debian
Label: Debian
Suite: oldstable
Version: 12.15
Codename: bookworm
Date: Sat, 11 Jul 2026 10:16:37 UTC
Acquire-By-Hash: yes
No-Support-for-Architecture-all: Packages
Architectures: all amd64 arm64
Components: main contrib non-free-firmware non-free
Description: Debian 12.15 Released 11 July 2026
MD5Sum:
 0ed6d4c8891eb86358b94bb35d9e4da4  1484322 contrib/Contents-all
SHA256:
 bc442eb8e8251796e139748da1872c050e2d1e93f55655100357f2e68364caf5 22526615 main/binary-all/Packages
 0da67deb70b1e1258897da92f4476b5bf278400fd078516402a2cf0d48027474  5699244 main/binary-all/Packages.gz
 f230d61720e789abf5df55d6026230c6f230d61720e789abf5df55d6026230c6 50060337 main/binary-amd64/Packages
 b838d31986207780a596ce3e8010f90fb838d31986207780a596ce3e8010f90f  8790396 main/binary-amd64/Packages.xz
 a8ed68071e02b40b231febcafb3f55aaa8ed68071e02b40b231febcafb3f55aa 12084798 main/binary-amd64/Packages.gz
 B838D31986207780A596CE3E8010F90FB838D31986207780A596CE3E8010F90F        7 main/binary-arm64/Packages.xz
 0000000000000000000000000000000000000000000000000000000000000000        9 main/binary-amd64/Packages
"""  # noqa: E501 (real Release lines are this long)


def test_split_clearsigned() -> None:
    body = b"Origin: X\n- Suite: dash-escaped\nSHA256:\n abc\n"
    data = HEAD + b"Origin: X\n- - Suite: dash-escaped\nSHA256:\n abc\n" + SIGNATURE
    split = split_clearsigned(data)
    assert split.text == body
    assert split.hashes == ("SHA256",)
    assert split.signature.startswith(b"-----BEGIN PGP SIGNATURE-----\n")
    assert split.signature.endswith(b"-----END PGP SIGNATURE-----\n")


def test_split_clearsigned_accepts_several_signatures_and_trailing_blank_lines() -> None:
    data = HEAD + b"Origin: X\n" + SIGNATURE + SIGNATURE + b"\n\n"
    assert split_clearsigned(data).text == b"Origin: X\n"
    crlf = data.replace(b"\n", b"\r\n")
    assert split_clearsigned(crlf).text == b"Origin: X\n"


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"Origin: X\n", "not a clearsigned"),
        (b"Origin: evil\n" + HEAD + b"Origin: X\n" + SIGNATURE, "before the signed"),
        (HEAD + b"Origin: X\n" + SIGNATURE + b"Origin: evil\n", "after the signature"),
        (HEAD + b"Origin: X\n", "no signature"),
        (HEAD + b"Origin: X\n-----BEGIN PGP SIGNATURE-----\nabc\n", "not closed"),
        (HEAD + b"Origin: X\n-----BEGIN PGP SIGNATURE-----\n-x\n", "dash"),
        (HEAD + b"-----BEGIN PGP SIGNED MESSAGE-----\n" + SIGNATURE, "dash"),
        (
            b"-----BEGIN PGP SIGNED MESSAGE-----\n-Hash: SHA256\n\nOrigin: X\n" + SIGNATURE,
            "armor header",
        ),
        (b"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n", "never end"),
    ],
)
def test_split_clearsigned_refuses(data: bytes, match: str) -> None:
    with pytest.raises(ReleaseError, match=match):
        split_clearsigned(data)


def test_parse_release() -> None:
    release = parse_release(RELEASE)
    assert release.origin == "Debian"
    assert release.suite == "oldstable"
    assert release.codename == "bookworm"
    assert release.version == "12.15"
    assert release.date == "Sat, 11 Jul 2026 10:16:37 UTC"
    assert release.date_time == datetime(2026, 7, 11, 10, 16, 37, tzinfo=timezone.utc)
    assert release.valid_until is None
    assert release.valid_until_time is None
    assert release.architectures == ("all", "amd64", "arm64")
    assert release.components == ("main", "contrib", "non-free-firmware", "non-free")
    assert release.acquire_by_hash
    assert release.no_support_for_architecture_all == ("Packages",)
    # Only SHA256 counts; hashes are lower-cased; the first entry of a path wins.
    assert release.files["main/binary-amd64/Packages"] == IndexFile(
        "main/binary-amd64/Packages", "f230d61720e789abf5df55d6026230c6" * 2, 50060337
    )
    assert release.files["main/binary-arm64/Packages.xz"].sha256 == (
        "b838d31986207780a596ce3e8010f90f" * 2
    )
    assert "contrib/Contents-all" not in release.files
    assert [f.path for f in release.packages_files("main", "amd64")] == [
        "main/binary-amd64/Packages.xz",
        "main/binary-amd64/Packages.gz",
        "main/binary-amd64/Packages",
    ]
    assert [f.path for f in release.packages_files("main", "all")] == [
        "main/binary-all/Packages.gz",
        "main/binary-all/Packages",
    ]
    assert release.packages_files("contrib", "amd64") == []
    assert release.names_suite("bookworm")
    assert release.names_suite("oldstable")
    assert not release.names_suite("bookworm-updates")


def test_parse_release_valid_until() -> None:
    text = RELEASE.replace("Acquire-By-Hash: yes\n", "Valid-Until: Mon, 07 Dec 2026 00:22:33 UTC\n")
    release = parse_release(text)
    assert release.valid_until == "Mon, 07 Dec 2026 00:22:33 UTC"
    assert release.valid_until_time == datetime(2026, 12, 7, 0, 22, 33, tzinfo=timezone.utc)
    assert not release.acquire_by_hash


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("Origin: Debian\nDate: Sat, 11 Jul 2026 10:16:37 UTC\n", "SHA256"),
        (RELEASE.replace("Sat, 11 Jul 2026 10:16:37 UTC", "yesterday"), "weekday"),
        (RELEASE + "Valid-Until: Sat, 11 Jul 2026 10:16:37 +0200\n", "UTC"),
        (RELEASE.replace(" 5699244 main", " 56x99244 main"), "SHA256 line"),
        (RELEASE.replace("0da67deb70b1", "zza67deb70b1"), "sha256"),
        (RELEASE.replace(" main/binary-all/Packages.gz", ""), "SHA256 line"),
        ("Origin Debian\n", "does not parse"),
    ],
)
def test_parse_release_refuses(text: str, match: str) -> None:
    with pytest.raises(ReleaseError, match=match):
        parse_release(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sat, 11 Jul 2026 10:16:37 UTC", datetime(2026, 7, 11, 10, 16, 37)),
        ("Sat, 11 Jul 2026 10:16:37 GMT", datetime(2026, 7, 11, 10, 16, 37)),
        ("sat, 1 jul 2026 1:02:03 Z", datetime(2026, 7, 1, 1, 2, 3)),
        ("Thu, 25 Apr 2024 15:10:33 +0000", datetime(2024, 4, 25, 15, 10, 33)),
        ("Thu, 25 Apr 2024 15:10:33 -0000", datetime(2024, 4, 25, 15, 10, 33)),
        ("Sunday, 06-Nov-94 08:49:37 GMT", datetime(1994, 11, 6, 8, 49, 37)),
        ("Sun Nov  6 08:49:37 1994", datetime(1994, 11, 6, 8, 49, 37)),
    ],
)
def test_parse_release_date(text: str, expected: datetime) -> None:
    assert parse_release_date(text) == expected.replace(tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2026-07-11T10:16:37Z",
        "Sat, 11 Jul 2026 10:16:37 CEST",
        "Sat, 11 Jul 2026 10:16:37 +0100",
        "Sat, 31 Feb 2026 10:16:37 UTC",
        "Sat, 11 Foo 2026 10:16:37 UTC",
        "Sat, 11 Jul 2026 10:16 UTC",
        "Sat, 11 Jul 2026 10:16:37 UTC extra",
        "Sa, 11 Jul 2026 10:16:37 UTC",
        "Saturday 11-Jul-26 10:16:37 GMT",
        "Sunday, 06-Nov-xx 08:49:37 GMT",
    ],
)
def test_parse_release_date_refuses(text: str) -> None:
    with pytest.raises(ReleaseError):
        parse_release_date(text)


@pytest.mark.parametrize(
    ("architectures", "no_support", "wanted"),
    [
        # Debian's main archive: all in every binary-<arch>, binary-all not fetched.
        (("all", "amd64"), ("Packages",), False),
        # Debian's security archive: no "all" architecture at all.
        (("amd64", "arm64"), (), False),
        # An archive publishing arch-all packages in binary-all only.
        (("all", "amd64"), (), True),
        # No Architectures field: apt assumes every architecture is there.
        ((), (), True),
        # Another index type is excluded, not Packages.
        (("all", "amd64"), ("Contents",), True),
    ],
)
def test_binary_all_rule(
    architectures: tuple[str, ...], no_support: tuple[str, ...], wanted: bool
) -> None:
    release = Release(architectures=architectures, no_support_for_architecture_all=no_support)
    assert release.wants_binary_all is wanted


def test_components_and_architectures() -> None:
    security = Release(components=("updates/main", "updates/contrib"), architectures=("amd64",))
    assert security.has_component("main")
    assert security.has_component("updates/main")
    assert not security.has_component("non-free")
    assert security.supports_architecture("amd64")
    assert not security.supports_architecture("s390x")
    assert Release().has_component("anything")
    assert Release().supports_architecture("anything")


def test_names_suite_for_the_old_security_layout() -> None:
    release = Release(suite="oldoldstable", codename="buster")
    assert release.names_suite("buster/updates")
    assert not release.names_suite("bullseye-security")
