"""Signature checks with the real gpgv (lockpin.apt.gpg), judged as apt judges them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from fixtures.apt_archive import GpgKey, break_signature, make_gpg_key
from lockpin.apt import distro
from lockpin.apt.gpg import judge_status, keyring_files, verify_clearsigned, verify_detached
from lockpin.errors import InputError, IntegrityError

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

RELEASE = b"Origin: Test\nSuite: bookworm\nCodename: bookworm\nSHA256:\n " + b"a" * 64 + b" 1 x\n"
URL = "http://127.0.0.1:9/debian/dists/bookworm/InRelease"


@pytest.fixture(scope="module")
def expired_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GpgKey]:
    """A key made in 2020 that expired a day later (gpg's faked system time)."""
    key = make_gpg_key(
        tmp_path_factory.mktemp("expired"), "expired key", expire="1d", faked_time="20200101T000000"
    )
    yield key
    key.close()


def test_good_signature(apt_key: GpgKey) -> None:
    signed = apt_key.clearsign(RELEASE)
    verified = verify_clearsigned(signed, keyring=str(apt_key.keyring), url=URL)
    assert verified.text == RELEASE
    assert verified.signed_by == (apt_key.fingerprint,)


def test_armored_keyring_and_keyring_directory(apt_key: GpgKey, tmp_path: Path) -> None:
    signed = apt_key.clearsign(RELEASE)
    assert verify_clearsigned(signed, keyring=str(apt_key.armored), url=URL).text == RELEASE
    directory = tmp_path / "trusted.gpg.d"
    directory.mkdir()
    (directory / "archive.asc").write_bytes(apt_key.armored.read_bytes())
    (directory / "notes.txt").write_text("not a key")
    assert keyring_files(str(directory)) == (directory / "archive.asc",)
    assert verify_clearsigned(signed, keyring=str(directory), url=URL).text == RELEASE


def test_changed_signed_text_is_a_bad_signature(apt_key: GpgKey) -> None:
    signed = break_signature(apt_key.clearsign(RELEASE))
    with pytest.raises(IntegrityError, match="BAD signature") as caught:
        verify_clearsigned(signed, keyring=str(apt_key.keyring), url=URL)
    assert caught.value.url == URL
    assert "BAD" in caught.value.actual
    assert "altered" in str(caught.value)


def test_unknown_key(apt_key: GpgKey, apt_other_key: GpgKey) -> None:
    signed = apt_other_key.clearsign(RELEASE)
    with pytest.raises(IntegrityError, match="not in the keyring") as caught:
        verify_clearsigned(signed, keyring=str(apt_key.keyring), url=URL)
    message = str(caught.value)
    assert apt_other_key.fingerprint[-16:] in message
    assert "--keyring" in message
    assert str(apt_key.keyring) in message


def test_one_good_signature_is_enough_beside_an_unknown_key(
    apt_key: GpgKey, apt_other_key: GpgKey
) -> None:
    # Debian signs with two keys; a keyring holding one of them is enough (as for apt).
    signed = apt_key.clearsign(RELEASE)
    both = apt_other_key.clearsign(RELEASE)
    # Two signature blocks over the same text: gpgv checks each.
    first_sig = signed[signed.index(b"-----BEGIN PGP SIGNATURE-----") :]
    other_sig = both[both.index(b"-----BEGIN PGP SIGNATURE-----") :]
    double = signed[: signed.index(b"-----BEGIN PGP SIGNATURE-----")] + first_sig + other_sig
    verified = verify_clearsigned(double, keyring=str(apt_key.keyring), url=URL)
    assert verified.signed_by == (apt_key.fingerprint,)


def test_expired_key(expired_key: GpgKey) -> None:
    signed = expired_key.clearsign(RELEASE, faked_time="20200101T010000")
    with pytest.raises(IntegrityError, match="expired key"):
        verify_clearsigned(signed, keyring=str(expired_key.keyring), url=URL)


def test_revoked_key(tmp_path: Path) -> None:
    key = make_gpg_key(tmp_path / "k", "revoked key")
    try:
        signed = key.clearsign(RELEASE)
        assert verify_clearsigned(signed, keyring=str(key.keyring), url=URL).text == RELEASE
        revoked = key.revoke()
        with pytest.raises(IntegrityError, match="revoked key"):
            verify_clearsigned(signed, keyring=str(revoked), url=URL)
    finally:
        key.close()


def test_sha1_signature_does_not_count(apt_key: GpgKey) -> None:
    signed = apt_key.clearsign(RELEASE, digest="SHA1")
    with pytest.raises(IntegrityError, match="untrusted digest algorithm SHA1"):
        verify_clearsigned(signed, keyring=str(apt_key.keyring), url=URL)


@pytest.mark.parametrize(
    "smuggle",
    [
        lambda signed: b"Origin: Evil\n\n" + signed,
        lambda signed: signed + b"\nOrigin: Evil\nSHA256:\n " + b"b" * 64 + b" 1 x\n",
        lambda signed: signed.replace(b"\n\nOrigin: Test", b"\n\nOrigin: Test\n-Evil: x", 1),
    ],
)
def test_unsigned_content_is_refused(apt_key: GpgKey, smuggle: object) -> None:
    signed = apt_key.clearsign(RELEASE)
    tampered = smuggle(signed)  # type: ignore[operator]
    with pytest.raises(IntegrityError, match=r"InRelease|unsigned|signature"):
        verify_clearsigned(tampered, keyring=str(apt_key.keyring), url=URL)


def test_not_signed_at_all(apt_key: GpgKey) -> None:
    with pytest.raises(IntegrityError, match="not a valid clearsigned"):
        verify_clearsigned(RELEASE, keyring=str(apt_key.keyring), url=URL)


def test_detached_signature(apt_key: GpgKey, apt_other_key: GpgKey) -> None:
    signature = apt_key.detach_sign(RELEASE)
    verified = verify_detached(RELEASE, signature, keyring=str(apt_key.keyring), url=URL)
    assert verified.text == RELEASE
    assert verified.signed_by == (apt_key.fingerprint,)
    with pytest.raises(IntegrityError, match="BAD signature"):
        verify_detached(RELEASE + b"X: y\n", signature, keyring=str(apt_key.keyring), url=URL)
    other = apt_other_key.detach_sign(RELEASE)
    with pytest.raises(IntegrityError, match="not in the keyring"):
        verify_detached(RELEASE, other, keyring=str(apt_key.keyring), url=URL)


def test_missing_keyring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InputError, match="does not exist"):
        keyring_files(str(tmp_path / "nope.gpg"))
    default = str(tmp_path / "debian-archive-keyring.gpg")
    monkeypatch.setitem(distro.DEFAULT_KEYRINGS, "debian", default)
    with pytest.raises(InputError, match="apt-get install debian-archive-keyring"):
        keyring_files(default, distribution="debian")
    # Newer keyring packages name it .pgp.
    (tmp_path / "debian-archive-keyring.pgp").write_bytes(b"key")
    assert keyring_files(default, distribution="debian") == (
        tmp_path / "debian-archive-keyring.pgp",
    )
    empty = tmp_path / "empty.d"
    empty.mkdir()
    with pytest.raises(InputError, match="holds no"):
        keyring_files(str(empty))


def test_missing_gpgv(apt_key: GpgKey, monkeypatch: pytest.MonkeyPatch) -> None:
    signed = apt_key.clearsign(RELEASE)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(InputError, match="apt-get install gpgv"):
        verify_clearsigned(signed, keyring=str(apt_key.keyring), url=URL)


FPR_A = "A" * 24 + "1111111111111111"
FPR_A_PRIMARY = "C" * 40
FPR_B = "B" * 24 + "2222222222222222"


def _validsig(fpr: str, digest: str = "8", primary: str = FPR_A_PRIMARY) -> str:
    return f"[GNUPG:] VALIDSIG {fpr} 2026-01-01 1 0 4 0 22 {digest} 01 {primary}"


@pytest.mark.parametrize(
    ("lines", "ok", "field", "value"),
    [
        (
            ["[GNUPG:] GOODSIG 1111111111111111 A <a@x>", _validsig(FPR_A)],
            True,
            "signed_by",
            (FPR_A_PRIMARY,),
        ),
        # GOODSIG without VALIDSIG: gpg could not tell which key; not good.
        (["[GNUPG:] GOODSIG 1111111111111111 A <a@x>"], False, "signed_by", ()),
        # A good signature and a bad one: bad wins.
        (
            [
                "[GNUPG:] GOODSIG 1111111111111111 A <a@x>",
                _validsig(FPR_A),
                "[GNUPG:] BADSIG 2222222222222222 B <b@x>",
            ],
            False,
            "bad",
            ("2222222222222222 B <b@x>",),
        ),
        # A good signature and one by an unknown key: fine (apt too).
        (
            [
                "[GNUPG:] ERRSIG 2222222222222222 22 8 01 1 9 -",
                "[GNUPG:] NO_PUBKEY 2222222222222222",
                "[GNUPG:] GOODSIG 1111111111111111 A <a@x>",
                _validsig(FPR_A),
            ],
            True,
            "no_pubkey",
            ("2222222222222222",),
        ),
        # Only an unknown key.
        (
            [
                "[GNUPG:] ERRSIG 2222222222222222 22 8 01 1 9 -",
                "[GNUPG:] NO_PUBKEY 2222222222222222",
            ],
            False,
            "worthless",
            (),
        ),
        # ERRSIG for another reason (unsupported algorithm) makes the signature worthless.
        (
            ["[GNUPG:] ERRSIG 2222222222222222 99 8 01 1 4 -"],
            False,
            "worthless",
            ("2222222222222222 (could not be checked)",),
        ),
        (
            ["[GNUPG:] EXPKEYSIG 1111111111111111 A <a@x>", _validsig(FPR_A)],
            False,
            "worthless",
            ("1111111111111111 A <a@x> (expired key)",),
        ),
        (
            ["[GNUPG:] REVKEYSIG 1111111111111111 A <a@x>"],
            False,
            "worthless",
            ("1111111111111111 A <a@x> (revoked key)",),
        ),
        (
            ["[GNUPG:] EXPSIG 1111111111111111 A <a@x>"],
            False,
            "worthless",
            ("1111111111111111 A <a@x> (expired signature)",),
        ),
        # A weak digest removes the signature from the good ones.
        (
            ["[GNUPG:] GOODSIG 1111111111111111 A <a@x>", _validsig(FPR_A, digest="2")],
            False,
            "worthless",
            (f"{FPR_A} (untrusted digest algorithm SHA1)",),
        ),
        # A VALIDSIG of another key than the GOODSIG does not vouch for it.
        (
            ["[GNUPG:] GOODSIG 1111111111111111 A <a@x>", _validsig(FPR_B)],
            False,
            "signed_by",
            (),
        ),
        (["[GNUPG:] NODATA 1"], False, "nodata", True),
        (["gpgv: some text", "not a status line"], False, "signed_by", ()),
    ],
)
def test_judge_status(lines: list[str], ok: bool, field: str, value: object) -> None:
    verdict = judge_status("\n".join(lines) + "\n")
    assert verdict.ok is ok
    assert getattr(verdict, field) == value
    assert verdict.summary()
