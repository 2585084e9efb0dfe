"""``lockpin apt compile``: from ``apt.in`` to an :class:`~lockpin.apt.lock.AptLock`.

Orchestration only: read the inputs, load the verified archive
(:mod:`lockpin.apt.archive`), resolve each platform's closure
(:mod:`lockpin.apt.resolve`) and assemble the lock. Nothing is written here: the
caller (the CLI, or a build tool) decides where the text goes, atomically.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from .._async import run_sync
from .._io import read_text
from ..errors import InputError, NoSuchPackageError

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime
    from os import PathLike
    from pathlib import Path

    from ..net.config import HttpConfig
    from ..progress import Reporter
    from .archive import Archive
    from .distro import Distribution, Sources
    from .lock import AptLock
    from .models import Package

__all__ = [
    "INSECURE_WARNING",
    "AptBase",
    "AptCompileResult",
    "apt_compile",
    "default_keyring_digest",
    "keyring_digest",
    "keyring_record",
]

log = logging.getLogger(__name__)

#: The warning of a run with ``insecure_skip_verify`` (compile and verify alike).
INSECURE_WARNING = (
    "--insecure-skip-verify: InRelease signatures were NOT checked; nothing vouches "
    "that these pins are the archive's. Use it only for a local unsigned mirror."
)
# what a keyring's file name may keep in the lock (anything else becomes "_")
_NAME_CHARS = re.compile(r"[^A-Za-z0-9._+~@-]")


@dataclass(frozen=True, slots=True)
class AptCompileResult:
    """What :func:`apt_compile` found: the new ``lock``, the ``previous`` lock it
    started from (``None`` without one) and ``warnings`` for the user."""

    lock: AptLock
    previous: AptLock | None
    warnings: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        """Whether the pins differ from the previous lock's (evidence aside)."""
        return self.previous is None or not self.previous.same_content(self.lock)


class AptBase(Protocol):
    """One platform of a base image as apt compile reads it
    (:class:`lockpin.image.base.BaseImage`): ``platform`` (``linux/amd64``),
    ``pinned`` (the reference with its digest), ``dpkg_status`` (the installed
    set; ``None`` when the image has no dpkg), ``apt_distribution`` (``debian``,
    ``ubuntu`` or ``None``), ``codename`` and ``snapshot`` (of its apt sources)."""

    @property
    def platform(self) -> str: ...

    @property
    def pinned(self) -> str: ...

    @property
    def dpkg_status(self) -> str | None: ...

    @property
    def apt_distribution(self) -> str | None: ...

    @property
    def codename(self) -> str: ...

    @property
    def snapshot(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class _FromBase:
    """What the base images decide: release, distribution, snapshot, the lock's
    ``base`` value and each Debian architecture's installed packages."""

    release: str
    distro: str
    snapshot: str | None
    base_id: str
    installed: dict[str, list[Package]]
    platforms: list[str]
    warnings: list[str]


def _from_base(
    bases: Sequence[AptBase],
    *,
    release: str | None,
    distro: str | None,
    snapshot: str | None,
    mirror: str | None,
) -> _FromBase:
    from .distro import debian_arch
    from .packages import parse_status

    first = bases[0]
    pinned = {b.pinned for b in bases}
    if len(pinned) != 1:
        raise InputError(f"the base images differ ({', '.join(sorted(pinned))}); name one.")
    where = first.pinned
    kinds = {b.apt_distribution for b in bases}
    codenames = {b.codename for b in bases}
    if None in kinds or len(kinds) != 1 or len(codenames) != 1 or not first.codename:
        raise InputError(
            f"the base image {where} is not a Debian or Ubuntu release lockpin can name "
            "(its /etc/os-release gives no ID debian/ubuntu with a VERSION_CODENAME); "
            "pass --release and --base-status instead."
        )
    image_release = first.codename
    if release is not None and release.strip() != image_release:
        raise InputError(
            f"--release {release} disagrees with the base image {where}, which is "
            f"{image_release}. Drop --release, or lock for another base."
        )
    image_distro = first.apt_distribution
    assert image_distro is not None
    if distro is not None and distro.strip().lower() != image_distro:
        raise InputError(
            f"--distro {distro} disagrees with the base image {where}, which is {image_distro}."
        )
    warnings: list[str] = []
    stamps = sorted({b.snapshot for b in bases if b.snapshot})
    if snapshot is None and mirror is None and stamps:
        snapshot = stamps[0]
        if len(stamps) > 1:
            warnings.append(
                f"the base image's platforms name different snapshots ({', '.join(stamps)}); "
                f"using {stamps[0]}."
            )
    installed: dict[str, list[Package]] = {}
    platforms: list[str] = []
    for base in bases:
        if base.dpkg_status is None:
            raise InputError(
                f"the base image {where} ({base.platform}) has no dpkg status "
                "(/var/lib/dpkg/status): apt cannot tell what it has installed."
            )
        try:
            installed[debian_arch(base.platform)] = parse_status(base.dpkg_status)
        except ValueError as exc:
            raise InputError(
                f"the base image {where} ({base.platform}): its dpkg status does not parse ({exc})."
            ) from exc
        platforms.append(base.platform)
    return _FromBase(
        release=image_release,
        distro=image_distro,
        snapshot=snapshot,
        base_id=f"image:{where}",
        installed=installed,
        platforms=platforms,
        warnings=warnings,
    )


def _read_previous(existing: str | PathLike[str] | None) -> AptLock | None:
    from .lock import AptLock

    if existing is None:
        return None
    text = read_text(existing, what="lock")
    try:
        return AptLock.from_toml(text, filename=str(existing))
    except InputError as exc:
        raise InputError(
            f"{exc} The existing lock cannot be read, so its pins cannot be kept: fix it, "
            "or delete it (or pass another -o) to lock from scratch.",
        ) from exc


def keyring_digest(keyring: str, *, distribution: Distribution | None = None) -> tuple[str, str]:
    """``(file name, sha256)`` of a keyring: of the file, or for a directory of its
    ``sha256sum``-style listing (``<sha256>  <file name>`` lines of its key files,
    sorted). Only the last path component is kept: the rest of a path says nothing
    about the key, and may say too much. ``distribution``: ``keyring`` is that
    distribution's default, found as :func:`lockpin.apt.gpg.keyring_files` finds it.
    :class:`InputError` for a missing or unreadable keyring."""
    from pathlib import Path

    from .gpg import keyring_files

    files = keyring_files(keyring, distribution=distribution)
    try:
        digests = [(hashlib.sha256(f.read_bytes()).hexdigest(), f.name) for f in files]
    except OSError as exc:
        raise InputError(
            f"cannot read keyring {keyring}: {exc.strerror or exc}; pass a readable --keyring FILE."
        ) from exc
    path = Path(keyring).expanduser()
    if path.is_dir():
        listing = "".join(
            f"{digest}  {name}\n" for digest, name in sorted(digests, key=lambda d: d[1])
        )
        return _keyring_name(path), hashlib.sha256(listing.encode()).hexdigest()
    return _keyring_name(files[0]), digests[0][0]


def _keyring_name(path: Path) -> str:
    given = path.name if path.name not in ("", ".", "..") else path.resolve().name
    name = _NAME_CHARS.sub("_", given)[:100]
    return name if name not in ("", ".", "..") else "keyring"


def keyring_record(sources: Sources) -> tuple[str, str] | None:
    """:func:`keyring_digest` of the keyring ``sources`` are checked against when it
    is the user's own, for the lock (:attr:`~lockpin.apt.lock.AptLock.keyring_name`);
    ``None`` for the distribution's keyring, or when signatures are not checked."""
    from .distro import DEFAULT_KEYRINGS

    if sources.insecure_skip_verify or sources.keyring is None:
        return None
    if sources.keyring == DEFAULT_KEYRINGS[sources.distribution]:
        return None
    return keyring_digest(sources.keyring)


def default_keyring_digest(distribution: Distribution) -> tuple[str, str] | None:
    """:func:`keyring_digest` of ``distribution``'s archive keyring on this machine,
    ``None`` when it is not installed (or not readable)."""
    from .distro import DEFAULT_KEYRINGS

    try:
        return keyring_digest(DEFAULT_KEYRINGS[distribution], distribution=distribution)
    except InputError:
        return None


def _archive_hosts(sources: Sources, architectures: Sequence[str]) -> set[str]:
    """The hosts whose plain-http answers the archive signature vouches for."""
    hosts: set[str] = set()
    for arch in architectures:
        for suite in sources.suites_for(arch):
            parts = urlsplit(suite.base_url)
            if parts.hostname:
                hosts.add(
                    parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
                )
    return hosts


def apt_http_config(
    http: HttpConfig | None, sources: Sources, architectures: Sequence[str]
) -> HttpConfig:
    """``http`` with the archive's hosts allowed over plain http, as apt does: every
    byte used is checked against the signed InRelease (unless verification is off,
    in which case the user asked for an unsigned mirror and was warned)."""
    import dataclasses

    from ..net.config import HttpConfig

    config = http or HttpConfig()
    hosts = _archive_hosts(sources, architectures)
    return dataclasses.replace(
        config, allow_insecure_hosts=config.allow_insecure_hosts | frozenset(hosts)
    )


async def _load(
    config: HttpConfig,
    sources: Sources,
    architectures: Sequence[str],
    reporter: Reporter | None,
    now: datetime | None,
) -> Archive:
    from ..net.http import Http
    from .archive import load_archive

    async with Http(config) as http:
        return await load_archive(http, sources, architectures, reporter=reporter, now=now)


def load(
    sources: Sources,
    architectures: Sequence[str],
    *,
    http: HttpConfig | None = None,
    reporter: Reporter | None = None,
    now: datetime | None = None,
) -> Archive:
    """Fetch and verify the archive's indexes for ``architectures`` (blocking)."""
    config = apt_http_config(http, sources, architectures)
    return run_sync(_load(config, sources, architectures, reporter, now))


def _check_platforms(platforms: Sequence[str]) -> list[tuple[str, str]]:
    """``[(platform, debian arch)]`` in the order given, duplicates refused."""
    from .distro import debian_arch, oci_platform

    pairs: list[tuple[str, str]] = []
    seen: dict[str, str] = {}
    for given in platforms:
        arch = debian_arch(given)
        platform = oci_platform(arch)
        if arch in seen:
            raise InputError(
                f"platform {given!r} is named twice (as {seen[arch]!r} too); name each once."
            )
        seen[arch] = given
        pairs.append((platform, arch))
    return pairs


def _missing_on(
    exc: NoSuchPackageError, platform: str, archive: Archive, pairs: Sequence[tuple[str, str]]
) -> NoSuchPackageError:
    """``exc`` (a package missing for ``platform``), saying on which of the
    lock's other platforms the archive does have it: an architecture-specific
    package in a multi-platform apt.in is a common case, and "did you mean" of a
    name the user spelt right is no help."""
    elsewhere = [
        other
        for other, arch in pairs
        if other != platform and archive.universe(arch).versions(exc.package)
    ]
    if not elsewhere:
        return exc
    return NoSuchPackageError(
        f"{exc.package} is not available for {platform}: the archive has it for "
        f"{', '.join(elsewhere)} only. apt.in applies to every platform of the lock: "
        "lock that package in a separate apt.in for the platforms that have it, or "
        "drop it.",
        package=exc.package,
        architecture=exc.architecture,
        close=exc.close,
    )


def apt_compile(
    src: str | PathLike[str],
    *,
    release: str | None = None,
    platforms: Sequence[str] = (),
    distro: str | None = None,
    components: Sequence[str] = (),
    suites: Sequence[str] = (),
    mirror: str | None = None,
    security_mirror: str | None = None,
    snapshot: str | None = None,
    snapshot_url: str | None = None,
    keyring: str | PathLike[str] | None = None,
    insecure_skip_verify: bool = False,
    with_recommends: bool = False,
    base_status: str | PathLike[str] | None = None,
    base_images: Sequence[AptBase] = (),
    existing: str | PathLike[str] | None = None,
    upgrade: bool = False,
    upgrade_packages: Sequence[str] = (),
    http: HttpConfig | None = None,
    reporter: Reporter | None = None,
    now: datetime | None = None,
) -> AptCompileResult:
    """Resolve the packages listed in ``src`` (an ``apt.in``) for every platform.

    ``release`` (``bookworm``, ``noble``) and ``platforms`` (``linux/amd64``,
    ``arm64``) default to the ``existing`` lock's; ``existing`` also supplies the
    pins kept unless ``upgrade`` (all) or ``upgrade_packages`` (those names).
    Packages installed in the base are left out: those of ``base_status`` (the
    image's ``/var/lib/dpkg/status``), else the release's Essential and
    ``Priority: required`` set. ``base_images`` (one
    :class:`~lockpin.image.base.BaseImage` per platform, from
    :func:`lockpin.read_base`) decides instead: the release and distribution from
    its os-release (an explicit ``release`` or ``distro`` must agree), the
    snapshot its apt sources name (unless ``snapshot`` or ``mirror`` is given),
    the platforms (when none are given) and each platform's installed set; the
    lock's ``base`` records the pinned image. Raises :class:`~lockpin.errors.InputError` for
    bad input, :class:`~lockpin.errors.IntegrityError` for an archive that fails
    verification, :class:`~lockpin.errors.NoSuchPackageError` and
    :class:`~lockpin.errors.NoSuchVersionError` for a name or version no suite
    has (exit code 2, like a Python project or version no index has), and
    :class:`~lockpin.errors.ResolutionError` (exit code 1) when the closure
    cannot be planned.
    """
    from .distro import sources_for
    from .inputs import parse_apt_in

    requests = parse_apt_in(read_text(src, what="package list"), filename=str(src))
    if not requests:
        raise InputError(f"{src}: lists no package; add one package name per line.")
    previous = _read_previous(existing)
    warnings: list[str] = []
    from_base: _FromBase | None = None
    if base_images:
        if base_status is not None:
            raise InputError("--base and --base-status exclude each other: the image has one.")
        from_base = _from_base(
            base_images, release=release, distro=distro, snapshot=snapshot, mirror=mirror
        )
        release, distro, snapshot = from_base.release, from_base.distro, from_base.snapshot
        platforms = list(platforms) or from_base.platforms
        warnings.extend(from_base.warnings)

    if release is None:
        if previous is None:
            raise InputError(
                "name the release to resolve against: --release bookworm (Debian) or "
                "--release noble (Ubuntu)."
            )
        release = previous.release
    if not platforms:
        if previous is None:
            raise InputError(
                "name the target platform(s): --platform linux/amd64 (repeatable), or --arch amd64."
            )
        platforms = list(previous.platforms)
    pairs = _check_platforms(platforms)

    sources = sources_for(
        release=release,
        distro=distro,
        components=("main", *[c for c in components if c != "main"]),
        suites=list(suites) or None,
        mirror=mirror,
        security_mirror=security_mirror,
        snapshot=snapshot,
        snapshot_url=snapshot_url,
        keyring=keyring,
        insecure_skip_verify=insecure_skip_verify,
    )
    if insecure_skip_verify:
        warnings.append(INSECURE_WARNING)

    installed_from_status: list[Package] | None = None
    base_id = "default" if from_base is None else from_base.base_id
    if from_base is not None:
        missing = [p for p, arch in pairs if arch not in from_base.installed]
        if missing:
            raise InputError(
                f"the base image was not read for {', '.join(missing)}: read it for every "
                "platform of the lock."
            )
    if base_status is not None:
        from .packages import parse_status

        status_text = read_text(base_status, what="dpkg status file")
        try:
            installed_from_status = parse_status(status_text)
        except ValueError as exc:
            raise InputError(
                f"{base_status}: not a dpkg status file ({exc}). Pass the base image's "
                "/var/lib/dpkg/status.",
            ) from exc
        base_id = "status:" + hashlib.sha256(status_text.encode()).hexdigest()

    archive = load(sources, [arch for _, arch in pairs], http=http, reporter=reporter, now=now)

    unknown_upgrades = set(upgrade_packages)
    results = []
    for platform, arch in pairs:
        from .resolve import base_from_archive, resolve

        universe = archive.universe(arch)
        if from_base is not None:
            installed = from_base.installed[arch]
        elif installed_from_status is not None:
            installed = installed_from_status
        else:
            installed = base_from_archive(universe)
        preferences: dict[str, str] = {}
        if previous is not None and not upgrade and previous.release == release:
            preferences = dict(previous.pins(platform))
            for name in upgrade_packages:
                if preferences.pop(name, None) is not None:
                    unknown_upgrades.discard(name)
        try:
            resolution = resolve(
                universe,
                [r.relation for r in requests],
                installed=installed,
                with_recommends=with_recommends,
                preferences=preferences,
            )
        except NoSuchPackageError as exc:
            raise _missing_on(exc, platform, archive, pairs) from exc
        results.append((platform, resolution))
        # removals (recorded in the lock too) and guessed provider ties
        warnings.extend(f"{platform}: {text}" for text in resolution.warnings())
    if previous is not None and not upgrade:
        for name in sorted(unknown_upgrades):
            warnings.append(f"-P {name}: the existing lock pins no package of that name.")

    from .lock import build_lock

    keyring_of = keyring_record(sources)
    lock = build_lock(
        sources=sources,
        platforms=[p for p, _ in pairs],
        requests=requests,
        resolutions=results,
        evidence=archive.evidence,
        download_url=archive.download_url,
        with_recommends=with_recommends,
        base=base_id,
        keyring_name=keyring_of[0] if keyring_of else None,
        keyring_sha256=keyring_of[1] if keyring_of else None,
    )
    return AptCompileResult(lock=lock, previous=previous, warnings=tuple(warnings))
