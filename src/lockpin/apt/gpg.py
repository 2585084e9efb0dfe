"""Check an archive's signature with the real ``gpgv``, judged as apt judges it.

``gpgv`` runs in a private temporary home directory against the keyring given
(``--keyring``; an ASCII-armored ``.asc`` key is first converted with ``gpg
--dearmor``, since ``gpgv`` reads binary keyrings only), under a timeout. Its
``[GNUPG:]`` status lines are read as apt's ``gpgv`` method reads them
(:func:`judge_status`): at least one good signature by a key of the keyring,
made with a trusted digest, and no bad one. Signatures by keys not in the
keyring, expired or revoked keys, or weak digests do not count; they do not
fail the check when another signature is good (Debian signs with two keys, and
a keyring may hold only one of them).

What is parsed afterwards is exactly what the signature covers: the text
``gpgv`` itself writes out (``--output``) after verifying it, checked to be
the same bytes as :func:`lockpin.apt.release.split_clearsigned` finds, so an
InRelease with unsigned text around the signed part cannot smuggle fields in.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InputError, IntegrityError
from .distro import DEFAULT_KEYRINGS, keyring_help
from .release import ReleaseError, split_clearsigned

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .distro import Distribution

__all__ = [
    "GPGV_TIMEOUT",
    "Verdict",
    "Verified",
    "judge_status",
    "keyring_files",
    "verify_clearsigned",
    "verify_detached",
]

#: Seconds one gpgv run may take; it takes milliseconds.
GPGV_TIMEOUT = 60.0

_PREFIX = "[GNUPG:] "
#: OpenPGP hash algorithm ids apt does not trust for archive signatures (MD5,
#: SHA-1, RIPEMD-160); a signature made with one of them does not count.
_UNTRUSTED_DIGESTS = {"1": "MD5", "2": "SHA1", "3": "RIPEMD160"}
_ARMORED = b"-----BEGIN PGP PUBLIC KEY BLOCK-----"


@dataclass(frozen=True, slots=True)
class Verdict:
    """What gpgv's status lines say. ``signed_by`` holds the primary key
    fingerprints of the good signatures; the other fields describe the
    signatures that do not count, as ``KEYID`` or ``KEYID (reason)``."""

    signed_by: tuple[str, ...] = ()
    bad: tuple[str, ...] = ()
    worthless: tuple[str, ...] = ()
    no_pubkey: tuple[str, ...] = ()
    nodata: bool = False

    @property
    def ok(self) -> bool:
        """apt's rule: at least one good signature and no bad one."""
        return bool(self.signed_by) and not self.bad and not self.nodata

    def summary(self) -> str:
        """The reasons the check failed (or its signers), for messages."""
        parts: list[str] = []
        if self.nodata:
            parts.append("no signed data found (NODATA)")
        if self.bad:
            parts.append("BAD signature from " + ", ".join(self.bad))
        if self.no_pubkey:
            parts.append("signed by key(s) not in the keyring: " + ", ".join(self.no_pubkey))
        if self.worthless:
            parts.append("signature(s) that do not count: " + ", ".join(self.worthless))
        if not parts and not self.signed_by:
            parts.append("no signature found")
        if not parts:
            parts.append("good signature by " + ", ".join(self.signed_by))
        return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class Verified:
    """A verified file: ``text`` is exactly what the good signature(s) cover,
    ``signed_by`` the primary fingerprints of the keys that made them."""

    text: bytes
    signed_by: tuple[str, ...]


def _same_key(fingerprint: str, key_id: str) -> bool:
    """GOODSIG gives a long key id (or a fingerprint), VALIDSIG a fingerprint."""
    return fingerprint.upper().endswith(key_id.upper())


def judge_status(status: str) -> Verdict:
    """Judge gpgv's ``--status-fd`` output as apt does (``methods/gpgv.cc``).

    ``GOODSIG`` counts only with a ``VALIDSIG`` of the same key whose digest
    is trusted; ``BADSIG`` fails the check whatever else is there;
    ``EXPKEYSIG``, ``EXPSIG``, ``REVKEYSIG``, ``ERRSIG`` (other than a missing
    key) and weak digests make a signature worthless; ``NO_PUBKEY`` names a
    signer missing from the keyring; ``NODATA`` means nothing signed was found.
    """
    good: list[str] = []
    valid: list[tuple[str, str]] = []  # (signing key fingerprint, primary fingerprint)
    bad: list[str] = []
    worthless: list[str] = []
    errsig: list[str] = []
    no_pubkey: list[str] = []
    untrusted: list[str] = []
    nodata = False
    for raw in status.splitlines():
        if not raw.startswith(_PREFIX):
            continue
        keyword, _, rest = raw[len(_PREFIX) :].partition(" ")
        args = rest.split()
        if keyword == "BADSIG":
            bad.append(rest.strip())
        elif keyword == "ERRSIG" and args:
            errsig.append(args[0])
        elif keyword == "NO_PUBKEY" and args:
            no_pubkey.append(args[0])
            errsig = [k for k in errsig if not _same_key(k, args[0])]
        elif keyword == "NODATA":
            nodata = True
        elif keyword in {"EXPKEYSIG", "EXPSIG", "REVKEYSIG"}:
            reason = {
                "EXPKEYSIG": "expired key",
                "EXPSIG": "expired signature",
                "REVKEYSIG": "revoked key",
            }[keyword]
            worthless.append(f"{rest.strip()} ({reason})")
        elif keyword == "GOODSIG" and args:
            good.append(args[0])
        elif keyword == "VALIDSIG" and len(args) >= 8:
            fingerprint = args[0]
            primary = args[9] if len(args) > 9 else fingerprint
            digest = args[7]
            if digest in _UNTRUSTED_DIGESTS:
                untrusted.append(fingerprint)
                worthless.append(
                    f"{fingerprint} (untrusted digest algorithm {_UNTRUSTED_DIGESTS[digest]})"
                )
            else:
                valid.append((fingerprint, primary))
    worthless.extend(f"{key} (could not be checked)" for key in errsig)
    signed_by = sorted(
        {
            primary
            for fingerprint, primary in valid
            if fingerprint not in untrusted and any(_same_key(fingerprint, k) for k in good)
        }
    )
    return Verdict(
        signed_by=tuple(signed_by),
        bad=tuple(bad),
        worthless=tuple(worthless),
        no_pubkey=tuple(no_pubkey),
        nodata=nodata,
    )


def keyring_files(keyring: str, *, distribution: Distribution | None = None) -> tuple[Path, ...]:
    """The keyring files to check against: ``keyring`` itself, or the key
    files (``*.gpg``, ``*.pgp``, ``*.asc``) of a directory such as
    ``/etc/apt/trusted.gpg.d``.

    A missing default keyring of ``distribution`` is an
    :class:`~lockpin.errors.InputError` saying how to install it (the ``.pgp``
    name newer keyring packages use is tried too).
    """
    path = Path(keyring).expanduser()
    candidates = [path]
    if distribution is not None and keyring == DEFAULT_KEYRINGS[distribution]:
        candidates.append(path.with_suffix(".pgp"))
    for candidate in candidates:
        if candidate.is_dir():
            files = tuple(
                sorted(
                    p
                    for p in candidate.iterdir()
                    if p.suffix in {".gpg", ".pgp", ".asc"} and p.is_file()
                )
            )
            if not files:
                raise InputError(f"keyring directory {candidate} holds no .gpg/.pgp/.asc key.")
            return files
        if candidate.is_file():
            return (candidate,)
    if distribution is not None and keyring == DEFAULT_KEYRINGS[distribution]:
        raise InputError(
            f"the {distribution.capitalize()} archive keyring {keyring} is not installed, so "
            f"signatures cannot be checked. {keyring_help(distribution)}"
        )
    raise InputError(f"keyring {keyring} does not exist; pass an existing --keyring FILE.")


def _tool(name: str, package: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise InputError(
            f"{name} is not installed; lockpin needs it to check archive signatures. "
            f"Install it: apt-get install {package}."
        )
    return found


def _environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GNUPG")}
    env.update({"LC_ALL": "C", "LANGUAGE": "C", "GNUPGHOME": str(home)})
    return env


def _binary_keyrings(
    files: Sequence[Path], workdir: Path, *, timeout: float, url: str
) -> list[Path]:
    """``files`` as keyrings gpgv reads: armored keys are dearmored into ``workdir``."""
    out: list[Path] = []
    for number, path in enumerate(files):
        try:
            head = path.read_bytes()[:4096]
        except OSError as exc:
            raise InputError(f"cannot read keyring {path}: {exc.strerror or exc}") from exc
        if _ARMORED not in head:
            out.append(path)
            continue
        gpg = _tool("gpg", "gpg")
        target = workdir / f"keyring-{number}.gpg"
        try:
            result = subprocess.run(
                [
                    gpg,
                    "--batch",
                    "--homedir",
                    str(workdir),
                    "--dearmor",
                    "-o",
                    str(target),
                    str(path),
                ],
                capture_output=True,
                timeout=timeout,
                env=_environment(workdir),
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise IntegrityError(
                f"{url}: gpg --dearmor {path} did not finish within {timeout:.0f}s.", url=url
            ) from None
        if result.returncode != 0 or not target.is_file():
            raise InputError(
                f"keyring {path} looks ASCII-armored but gpg --dearmor failed: "
                f"{result.stderr.decode(errors='replace').strip()[:300]}"
            )
        out.append(target)
    return out


def _run_gpgv(
    args: Sequence[str], keyrings: Sequence[Path], workdir: Path, *, timeout: float, url: str
) -> str:
    gpgv = _tool("gpgv", "gpgv")
    command = [gpgv, "--homedir", str(workdir), "--status-fd", "1"]
    for keyring in keyrings:
        command += ["--keyring", str(keyring.resolve())]
    try:
        result = subprocess.run(
            [*command, *args],
            capture_output=True,
            timeout=timeout,
            env=_environment(workdir),
            cwd=workdir,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise IntegrityError(
            f"{url}: gpgv did not finish checking the signature within {timeout:.0f}s; "
            "lockpin refuses the unverified file.",
            url=url,
            expected="a verified signature",
            actual="gpgv timed out",
        ) from None
    return result.stdout.decode("utf-8", "replace")


def _refusal(url: str, verdict: Verdict, keyring: str) -> IntegrityError:
    advice = (
        "The file may have been altered, or your keyring lacks the archive's key: "
        f"verify the keyring ({keyring}), or pass the archive's key with --keyring FILE."
    )
    if verdict.bad:
        advice = (
            "The file was altered after it was signed (or the mirror is broken or hostile); "
            "lockpin refuses it. Try another mirror."
        )
    return IntegrityError(
        f"{url}: the signature does not verify: {verdict.summary()}. {advice}",
        url=url,
        expected=f"a good signature by a key in {keyring}",
        actual=verdict.summary(),
    )


def _workdir() -> tempfile.TemporaryDirectory[str]:
    # Short paths: gpg's agent sockets (never started by gpgv, but by gpg
    # --dearmor on some versions) must fit in 108 bytes.
    return tempfile.TemporaryDirectory(prefix="lockpin-gpgv-")


def verify_clearsigned(
    data: bytes,
    *,
    keyring: str,
    url: str,
    distribution: Distribution | None = None,
    timeout: float = GPGV_TIMEOUT,
) -> Verified:
    """Verify a clearsigned ``InRelease`` and return the text its signature covers.

    ``url`` (redacted) names the file in errors. Raises
    :class:`~lockpin.errors.IntegrityError` when the signature does not verify
    or the message has unsigned parts, :class:`~lockpin.errors.InputError`
    when gpgv or the keyring is missing.
    """
    try:
        split = split_clearsigned(data)
    except ReleaseError as exc:
        raise IntegrityError(
            f"{url}: not a valid clearsigned InRelease ({exc}); lockpin refuses it.",
            url=url,
            expected="a clearsigned message",
            actual=str(exc),
        ) from exc
    files = keyring_files(keyring, distribution=distribution)
    with _workdir() as tmp:
        workdir = Path(tmp)
        keyrings = _binary_keyrings(files, workdir, timeout=timeout, url=url)
        (workdir / "InRelease").write_bytes(data)
        status = _run_gpgv(
            ["--output", "signed.txt", "InRelease"], keyrings, workdir, timeout=timeout, url=url
        )
        verdict = judge_status(status)
        if not verdict.ok:
            raise _refusal(url, verdict, keyring)
        try:
            signed = (workdir / "signed.txt").read_bytes()
        except OSError:
            signed = None
    if signed is None or signed != split.text:
        # gpgv verified one text, lockpin would parse another: refuse both.
        raise IntegrityError(
            f"{url}: the text gpgv verified differs from the text of the message; "
            "lockpin refuses the file (it may carry unsigned content).",
            url=url,
            expected="the signed text",
            actual="other text",
        )
    return Verified(text=signed, signed_by=verdict.signed_by)


def verify_detached(
    data: bytes,
    signature: bytes,
    *,
    keyring: str,
    url: str,
    distribution: Distribution | None = None,
    timeout: float = GPGV_TIMEOUT,
) -> Verified:
    """Verify a ``Release`` file against its detached ``Release.gpg``."""
    files = keyring_files(keyring, distribution=distribution)
    with _workdir() as tmp:
        workdir = Path(tmp)
        keyrings = _binary_keyrings(files, workdir, timeout=timeout, url=url)
        (workdir / "Release").write_bytes(data)
        (workdir / "Release.gpg").write_bytes(signature)
        status = _run_gpgv(["Release.gpg", "Release"], keyrings, workdir, timeout=timeout, url=url)
    verdict = judge_status(status)
    if not verdict.ok:
        raise _refusal(url, verdict, keyring)
    return Verified(text=data, signed_by=verdict.signed_by)
