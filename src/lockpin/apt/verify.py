"""``lockpin apt verify``: is every pin of an ``apt.lock`` still installable as locked?

The archive drops superseded versions (a point release, a security update); a
build that installs the lock then fails. This check tells before the build does:
for each pin, the lock's sources' *current, verified* indexes must still list the
same version with the same sha256 — or, when they no longer list it, the ``.deb``
must still be in the pool with the recorded size and sha256 (downloaded and
hashed; it will disappear at the next archive clean-up, which is reported as a
warning). ``download=True`` downloads and hashes every ``.deb`` regardless.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .._async import run_sync
from .._io import read_text
from ..errors import InputError, IntegrityError, NetworkError
from ..progress import Event

if TYPE_CHECKING:
    from collections.abc import Mapping
    from os import PathLike

    from ..net.config import HttpConfig
    from ..net.http import Http
    from ..progress import Reporter
    from .lock import AptLock, LockedPackage
    from .models import Package, Universe

__all__ = ["AptProblem", "AptVerifyResult", "apt_verify"]

# Downloads in flight at once when .debs are fetched.
_PARALLEL = 8


@dataclass(frozen=True, slots=True)
class AptProblem:
    """One pin that cannot be installed as locked: ``platform``, ``package``
    (``name=version``) and what is wrong (``message``, naming the URL when one
    was tried)."""

    platform: str
    package: str
    message: str

    def __str__(self) -> str:
        return f"{self.package} ({self.platform}): {self.message}"


@dataclass(frozen=True, slots=True)
class AptVerifyResult:
    """``checked`` pins, the ``problems`` found (empty: the lock is installable),
    how many ``.deb`` files were ``downloaded`` and hashed, and ``warnings``."""

    checked: int
    problems: tuple[AptProblem, ...]
    downloaded: int
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


def _listed(universe: Universe, pin: LockedPackage) -> list[Package]:
    return [
        p
        for p in universe.versions(pin.name)
        if p.version == pin.version and p.architecture == pin.architecture
    ]


def _newest(universe: Universe, pin: LockedPackage) -> str:
    from .version import version_key

    found = sorted(universe.versions(pin.name), key=lambda p: version_key(p.version))
    if not found:
        return "no suite lists the package any more"
    best = found[-1]
    return f"the sources now hold {best.version} ({best.suite})"


async def _download_check(http: Http, pin: LockedPackage, reporter: Reporter | None) -> str | None:
    """``None`` when ``pin.url`` serves exactly the locked bytes, else the problem."""
    try:
        digest, size = await http.sha256_of(pin.url, size=pin.size)
    except IntegrityError as exc:
        return str(exc)
    except NetworkError as exc:
        return f"cannot be downloaded: {exc}"
    if reporter is not None:
        reporter.report(Event("download", pin.url.rsplit("/", 1)[-1], size))
    if digest != pin.sha256:
        return (
            f"{pin.url} now has sha256 {digest}, the lock records {pin.sha256}: the "
            "archive serves other bytes under this version. Do not build with it; "
            "report it to the archive."
        )
    return None


async def _verify(
    lock: AptLock,
    universes: Mapping[str, Universe],
    http: Http,
    download: bool,
    reporter: Reporter | None,
) -> tuple[list[AptProblem], int, list[str]]:
    problems: list[AptProblem] = []
    warnings: list[str] = []
    to_download: list[tuple[LockedPackage, str]] = []  # (pin, why)
    for pin in lock.packages:
        universe = universes[pin.platform]
        listed = _listed(universe, pin)
        if listed:
            if all(p.sha256 != pin.sha256 for p in listed):
                problems.append(
                    AptProblem(
                        pin.platform,
                        f"{pin.name}={pin.version}",
                        f"the signed index now lists sha256 {listed[0].sha256} "
                        f"({listed[0].suite}), the lock records {pin.sha256}: the archive "
                        "rebuilt this version. Re-run lockpin apt compile -P "
                        f"{pin.name} after checking why.",
                    )
                )
                continue
            if download:
                to_download.append((pin, ""))
            continue
        to_download.append((pin, _newest(universe, pin)))

    semaphore = asyncio.Semaphore(_PARALLEL)

    async def check(pin: LockedPackage, why: str) -> tuple[LockedPackage, str, str | None]:
        async with semaphore:
            return pin, why, await _download_check(http, pin, reporter)

    outcomes = await asyncio.gather(*(check(pin, why) for pin, why in to_download))
    downloaded = 0
    for pin, why, problem in outcomes:
        label = f"{pin.name}={pin.version}"
        if problem is None:
            downloaded += 1
            if why:
                warnings.append(
                    f"{label} ({pin.platform}) is no longer listed by the lock's suites "
                    f"({why}); its .deb is still in the pool, until the archive's next "
                    "clean-up. Re-lock soon, or pin a --snapshot."
                )
            continue
        message = f"no longer listed by the lock's suites ({why}); {problem}" if why else problem
        problems.append(AptProblem(pin.platform, label, message))
    return problems, downloaded, warnings


def apt_verify(
    lock_file: str | PathLike[str],
    *,
    download: bool = False,
    keyring: str | PathLike[str] | None = None,
    insecure_skip_verify: bool = False,
    http: HttpConfig | None = None,
    reporter: Reporter | None = None,
) -> AptVerifyResult:
    """Check every pin of ``lock_file`` against the lock's sources, as they are now.

    The sources' InRelease files are verified as ``apt compile`` does (with
    ``keyring``, else the distribution's), unless the lock was compiled with
    ``insecure_skip_verify`` (an unsigned mirror) or it is given here: then
    they are not, and the result warns so. A lock compiled with a keyring of
    its own needs ``keyring`` (an :class:`~lockpin.errors.InputError` says so
    before anything is fetched); one whose sha256 differs from the lock's is a
    warning. Returns an :class:`AptVerifyResult`; raises
    :class:`~lockpin.errors.InputError` for a file that is not an apt.lock, and
    the archive's errors when the sources cannot be verified.
    """
    from ..net.http import Http
    from .compile import (
        INSECURE_WARNING,
        apt_http_config,
        default_keyring_digest,
        keyring_record,
    )
    from .lock import AptLock

    lock = AptLock.from_toml(read_text(lock_file, what="lock"), filename=str(lock_file))
    sources = lock.sources(keyring=keyring, insecure_skip_verify=insecure_skip_verify)
    notes: list[str] = []
    if sources.insecure_skip_verify:
        notes.append(INSECURE_WARNING)
    elif lock.keyring_sha256 is not None:
        recorded = f"{lock.keyring_name} (sha256 {lock.keyring_sha256})"
        # The same key installed as the distribution's keyring (the Ubuntu keyring
        # taken from its .deb on a Debian host, verified on an Ubuntu CI runner): fine.
        default = default_keyring_digest(sources.distribution) if keyring is None else None
        if keyring is None and (default is None or default[1] != lock.keyring_sha256):
            raise InputError(
                f"{lock_file} was compiled with a keyring of its own, {recorded}, not the "
                f"{lock.distribution} archive keyring: pass that keyring with --keyring FILE "
                "(keyring= in Python)."
            )
        if keyring is not None and keyring_record(sources) != (
            lock.keyring_name,
            lock.keyring_sha256,
        ):
            given = keyring_record(sources)
            what = f"{given[0]} (sha256 {given[1]})" if given else "the distribution's"
            notes.append(
                f"--keyring {keyring} is {what}, not the keyring {lock_file} was compiled "
                f"with, {recorded}. The signatures are checked with the one given; if the "
                "archive's key changed, re-run lockpin apt compile to record the new keyring."
            )
    arches = {p: lock.architecture_of(p) for p in lock.platforms}
    config = apt_http_config(http, sources, list(arches.values()))

    # The .deb files are always asked of the archive, never answered from the cache's
    # remembered sha256s: whether the archive still serves them is the question.
    pool_config = dataclasses.replace(config, cache_dir=None)

    async def main() -> tuple[list[AptProblem], int, list[str]]:
        from .archive import load_archive

        async with Http(config) as client, Http(pool_config) as pool:
            archive = await load_archive(client, sources, list(arches.values()), reporter=reporter)
            universes = {p: archive.universe(a) for p, a in arches.items()}
            return await _verify(lock, universes, pool, download, reporter)

    problems, downloaded, warnings = run_sync(main())
    return AptVerifyResult(
        checked=len(lock.packages),
        problems=tuple(problems),
        downloaded=downloaded,
        warnings=(*notes, *warnings),
    )
