"""Where a Debian or Ubuntu release's archive lives: suites, mirrors, snapshots,
keyrings and platform names.

Pure: no I/O (whether a keyring file exists is checked by
:mod:`lockpin.apt.gpg`, which reads it). :func:`sources_for` turns what the
user said (``--release bookworm``, ``--mirror``, ``--snapshot``...) into a
:class:`Sources` value; :meth:`Sources.suites_for` lists the suites fetched for
one architecture, as ``deb`` lines of a ``sources.list`` would.

Releases are named by code name (``bookworm``, ``noble``): aliases such as
``stable`` move from one release to the next, and a lock must not.

Snapshots (``--snapshot STAMP``) use the layouts of the two snapshot services,
under :data:`DEFAULT_SNAPSHOT_URLS` or the user's ``--snapshot-url``:

* Debian: ``{base}/archive/debian/{STAMP}/`` and, for ``-security``,
  ``{base}/archive/debian-security/{STAMP}/``;
* Ubuntu: ``{base}/ubuntu/{STAMP}/`` for amd64 and i386 (``-security``
  included: it is one archive there), ``{base}/ubuntu-ports/{STAMP}/`` for the
  other architectures.

Every default URL is plain ``http://``, as apt's own defaults are: the signed
InRelease vouches for every byte used (lockpin allows plain http to the
archive's hosts for that reason, :func:`lockpin.apt.compile.apt_http_config`),
and a slim image, where the exported script runs, has no CA certificates to
check https with. An ``https://`` URL given by the user is used as given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from ..errors import InputError
from ..net.redact import split_auth

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from os import PathLike

__all__ = [
    "DEBIAN_RELEASES",
    "DEFAULT_KEYRINGS",
    "DEFAULT_SNAPSHOT_URLS",
    "UBUNTU_RELEASES",
    "Distribution",
    "Sources",
    "Suite",
    "debian_arch",
    "keyring_help",
    "oci_platform",
    "sources_for",
]

Distribution = Literal["debian", "ubuntu"]

#: Debian code names, oldest first. ``sid`` is unstable (the name ``unstable`` is
#: accepted for it: it never becomes a release). ``buster`` has left the mirrors
#: for archive.debian.org.
DEBIAN_RELEASES = ("buster", "bullseye", "bookworm", "trixie", "forky", "duke", "sid")
#: Ubuntu code names, oldest first.
UBUNTU_RELEASES = (
    "bionic",
    "focal",
    "jammy",
    "noble",
    "oracular",
    "plucky",
    "questing",
    "resolute",
)
#: Debian's names that move between releases: refused, with the code name to use.
_DEBIAN_ALIASES = {
    "stable": "trixie",
    "oldstable": "bookworm",
    "oldoldstable": "bullseye",
    "testing": "forky",
}
_UBUNTU_ALIASES = frozenset({"devel", "lts", "latest"})

#: The archive keyring apt uses for each distribution.
DEFAULT_KEYRINGS: Mapping[Distribution, str] = {
    "debian": "/usr/share/keyrings/debian-archive-keyring.gpg",
    "ubuntu": "/usr/share/keyrings/ubuntu-archive-keyring.gpg",
}

_DEBIAN_MIRROR = "http://deb.debian.org/debian/"
_DEBIAN_SECURITY = "http://deb.debian.org/debian-security/"
_DEBIAN_ARCHIVED = "http://archive.debian.org/debian/"
_DEBIAN_ARCHIVED_SECURITY = "http://archive.debian.org/debian-security/"
_UBUNTU_MIRROR = "http://archive.ubuntu.com/ubuntu/"
_UBUNTU_SECURITY = "http://security.ubuntu.com/ubuntu/"
_UBUNTU_PORTS = "http://ports.ubuntu.com/ubuntu-ports/"
#: Ubuntu's primary archive serves these architectures; every other one is on ports.
_UBUNTU_PRIMARY_ARCHES = frozenset({"amd64", "i386"})
#: Debian releases whose archive has moved to archive.debian.org.
_DEBIAN_ARCHIVED_RELEASES = frozenset({"buster"})

#: The snapshot services, plain http like the archives (module docstring).
DEFAULT_SNAPSHOT_URLS: Mapping[Distribution, str] = {
    "debian": "http://snapshot.debian.org",
    "ubuntu": "http://snapshot.ubuntu.com",
}

_SNAPSHOT = re.compile(r"\d{8}T\d{6}Z")
_COMPONENT = re.compile(r"[a-z0-9][a-z0-9.+-]*(?:/[a-z0-9][a-z0-9.+-]*)*")
_SUITE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+_-]*(?:/[A-Za-z0-9][A-Za-z0-9.+_-]*)*")

#: OCI platform (``os/arch[/variant]``) -> Debian architecture.
_PLATFORMS: Mapping[str, str] = {
    "linux/amd64": "amd64",
    "linux/arm64": "arm64",
    "linux/arm64/v8": "arm64",
    "linux/arm/v7": "armhf",
    "linux/arm/v5": "armel",
    "linux/386": "i386",
    "linux/ppc64le": "ppc64el",
    "linux/s390x": "s390x",
    "linux/riscv64": "riscv64",
    "linux/mips64le": "mips64el",
    "linux/loong64": "loong64",
}
#: Debian architecture -> its canonical OCI platform.
_ARCHES: Mapping[str, str] = {
    "amd64": "linux/amd64",
    "arm64": "linux/arm64",
    "armhf": "linux/arm/v7",
    "armel": "linux/arm/v5",
    "i386": "linux/386",
    "ppc64el": "linux/ppc64le",
    "s390x": "linux/s390x",
    "riscv64": "linux/riscv64",
    "mips64el": "linux/mips64le",
    "loong64": "linux/loong64",
}


def debian_arch(platform: str) -> str:
    """The Debian architecture of an OCI platform (``linux/arm/v7`` -> ``armhf``).

    A Debian architecture name (``arm64``) is accepted as is; anything else is
    an :class:`~lockpin.errors.InputError` listing the known platforms.
    """
    given = platform.strip()
    key = given.lower()
    if key in _PLATFORMS:
        return _PLATFORMS[key]
    if key in _ARCHES:
        return key
    if key == "linux/arm":
        raise InputError(
            f"platform {platform!r} is ambiguous: name the variant, linux/arm/v7 (armhf) "
            "or linux/arm/v5 (armel)."
        )
    known = ", ".join(sorted(_ARCHES.values()))
    raise InputError(
        f"unknown platform {platform!r}: lockpin knows {known} (or a Debian architecture "
        "name such as amd64)."
    )


def oci_platform(arch: str) -> str:
    """The OCI platform of a Debian architecture (``armhf`` -> ``linux/arm/v7``)."""
    try:
        return _ARCHES[arch]
    except KeyError:
        known = ", ".join(sorted(_ARCHES))
        raise InputError(f"unknown Debian architecture {arch!r}: lockpin knows {known}.") from None


def keyring_help(distribution: Distribution) -> str:
    """How to get the archive keyring of ``distribution`` (for error messages)."""
    if distribution == "debian":
        return (
            "Install it with `apt-get install debian-archive-keyring`, or pass the "
            "archive's key with --keyring FILE."
        )
    return (
        "Install the ubuntu-keyring package (on Ubuntu it is there already; on Debian "
        "download ubuntu-keyring's .deb from the Ubuntu archive), or pass the archive's "
        "key with --keyring FILE."
    )


@dataclass(frozen=True, slots=True)
class Suite:
    """One suite to fetch: ``{base_url}dists/{name}/InRelease`` and its
    ``{component}/binary-{arch}/Packages`` indexes. ``base_url`` ends with ``/``."""

    name: str
    base_url: str
    components: tuple[str, ...]

    @property
    def inrelease_url(self) -> str:
        return f"{self.base_url}dists/{self.name}/InRelease"


@dataclass(frozen=True, slots=True)
class Sources:
    """Where one release's packages come from: what a ``sources.list`` says.

    ``mirror``/``security_mirror`` are the user's overrides (``None``: the
    distribution's default); ``snapshot`` is a ``YYYYMMDDTHHMMSSZ`` time stamp
    of snapshot.debian.org / snapshot.ubuntu.com (or ``snapshot_url``);
    ``keyring`` is the user's keyring (``None``: the distribution's, see
    :attr:`keyring_path`); ``suites`` replaces the default suites (names,
    ``{release}`` allowed) when the user names them.
    """

    distribution: Distribution
    release: str
    components: tuple[str, ...] = ("main",)
    mirror: str | None = None
    security_mirror: str | None = None
    snapshot: str | None = None
    snapshot_url: str | None = None
    keyring: str | None = None
    insecure_skip_verify: bool = False
    suites: tuple[str, ...] | None = None

    @property
    def keyring_path(self) -> str:
        """The keyring signatures are checked against."""
        return self.keyring or DEFAULT_KEYRINGS[self.distribution]

    @property
    def suite_names(self) -> tuple[str, ...]:
        """The suites fetched, in order: the release first, then its updates."""
        if self.suites is not None:
            return self.suites
        release = self.release
        if self.distribution == "ubuntu":
            return (release, f"{release}-updates", f"{release}-security")
        if release == "sid":
            return (release,)
        if release == "buster":
            # buster's security suite predates the "-security" naming.
            return (release, f"{release}-updates", f"{release}/updates")
        return (release, f"{release}-updates", f"{release}-security")

    def _is_security(self, suite: str) -> bool:
        return suite.endswith(("-security", "/updates"))

    def _base(self, suite: str, architecture: str) -> str:
        security = self._is_security(suite)
        if self.snapshot is not None:
            base = (self.snapshot_url or DEFAULT_SNAPSHOT_URLS[self.distribution]).rstrip("/")
            if self.distribution == "debian":
                archive = "debian-security" if security else "debian"
                return f"{base}/archive/{archive}/{self.snapshot}/"
            ports = architecture not in _UBUNTU_PRIMARY_ARCHES
            archive = "ubuntu-ports" if ports else "ubuntu"
            return f"{base}/{archive}/{self.snapshot}/"
        if security and self.security_mirror is not None:
            return self.security_mirror
        if self.distribution == "ubuntu":
            if self.mirror is not None:
                # Ubuntu mirrors carry -security too (Debian's live apart).
                return self.mirror
            if architecture not in _UBUNTU_PRIMARY_ARCHES:
                return _UBUNTU_PORTS
            return _UBUNTU_SECURITY if security else _UBUNTU_MIRROR
        archived = self.release in _DEBIAN_ARCHIVED_RELEASES
        if security:
            return _DEBIAN_ARCHIVED_SECURITY if archived else _DEBIAN_SECURITY
        if self.mirror is not None:
            return self.mirror
        return _DEBIAN_ARCHIVED if archived else _DEBIAN_MIRROR

    def suites_for(self, architecture: str) -> tuple[Suite, ...]:
        """The suites fetched for ``architecture`` (Ubuntu's ports archive
        serves every architecture but amd64 and i386), in order."""
        return tuple(
            Suite(name, self._base(name, architecture), self.components)
            for name in self.suite_names
        )

    def to_dict(self) -> dict[str, Any]:
        """A plain mapping for the lock. URLs lose their credentials (they come
        from the URL given at run time or from ``~/.netrc``); ``None`` values
        are left out so that defaults stay defaults."""
        data: dict[str, Any] = {
            "distribution": self.distribution,
            "release": self.release,
            "components": list(self.components),
        }
        for key in ("mirror", "security_mirror", "snapshot_url"):
            value = getattr(self, key)
            if value is not None:
                data[key] = split_auth(value)[0]
        if self.snapshot is not None:
            data["snapshot"] = self.snapshot
        if self.keyring is not None:
            data["keyring"] = self.keyring
        if self.insecure_skip_verify:
            data["insecure_skip_verify"] = True
        if self.suites is not None:
            data["suites"] = list(self.suites)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "sources") -> Sources:
        """The inverse of :meth:`to_dict`, checked as :func:`sources_for` checks
        user input (``where`` names the place in errors, e.g. ``apt.lock``)."""

        def text(key: str) -> str | None:
            value = data.get(key)
            if value is None:
                return None
            if not isinstance(value, str):
                raise InputError(f"{where}: {key} must be a string, not {value!r}.")
            return value

        def strings(key: str) -> list[str] | None:
            value = data.get(key)
            if value is None:
                return None
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise InputError(f"{where}: {key} must be a list of strings, not {value!r}.")
            return list(value)

        unknown = set(data) - {
            "distribution",
            "release",
            "components",
            "mirror",
            "security_mirror",
            "snapshot",
            "snapshot_url",
            "keyring",
            "insecure_skip_verify",
            "suites",
        }
        if unknown:
            raise InputError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}.")
        release = text("release")
        if release is None:
            raise InputError(f"{where}: the release is missing.")
        skip = data.get("insecure_skip_verify", False)
        if not isinstance(skip, bool):
            raise InputError(f"{where}: insecure_skip_verify must be true or false.")
        try:
            return sources_for(
                release=release,
                distro=text("distribution"),
                components=strings("components") or ("main",),
                suites=strings("suites"),
                mirror=text("mirror"),
                security_mirror=text("security_mirror"),
                snapshot=text("snapshot"),
                snapshot_url=text("snapshot_url"),
                keyring=text("keyring"),
                insecure_skip_verify=skip,
            )
        except InputError as exc:
            raise InputError(f"{where}: {exc}") from exc


def _distribution_of(release: str, distro: str | None) -> Distribution:
    if distro is not None:
        lowered = distro.strip().lower()
        if lowered == "debian":
            return "debian"
        if lowered == "ubuntu":
            return "ubuntu"
        raise InputError(f"unknown distribution {distro!r}: use --distro debian or ubuntu.")
    if release in DEBIAN_RELEASES:
        return "debian"
    if release in UBUNTU_RELEASES:
        return "ubuntu"
    if release in _DEBIAN_ALIASES:
        raise InputError(
            f"release {release!r} is an alias that moves to the next release over time; "
            f"name the code name (today {release} is {_DEBIAN_ALIASES[release]!r}) so the "
            "lock stays reproducible."
        )
    if release in _UBUNTU_ALIASES:
        raise InputError(
            f"release {release!r} is an alias; name the Ubuntu code name (noble, ...)."
        )
    known = ", ".join((*DEBIAN_RELEASES, *UBUNTU_RELEASES))
    raise InputError(
        f"unknown release {release!r}: lockpin knows {known}. For another release (or a "
        "derivative), add --distro debian or --distro ubuntu and, if needed, --mirror URL."
    )


def _url(value: str, what: str) -> str:
    value = value.strip()
    if not re.match(r"(?i)(https?|file)://", value):
        raise InputError(f"{what} {split_auth(value)[0]!r} must be an http(s):// or file:// URL.")
    return value if value.endswith("/") else value + "/"


def _check_snapshot(stamp: str) -> str:
    stamp = stamp.strip()
    if not _SNAPSHOT.fullmatch(stamp):
        raise InputError(
            f"snapshot {stamp!r} must be a UTC time stamp YYYYMMDDTHHMMSSZ, e.g. 20250520T000000Z."
        )
    try:
        datetime.strptime(stamp, "%Y%m%dT%H%M%SZ")
    except ValueError:
        raise InputError(f"snapshot {stamp!r} is not a real date and time.") from None
    return stamp


def sources_for(
    *,
    release: str,
    distro: str | None = None,
    components: Sequence[str] = ("main",),
    suites: Sequence[str] | None = None,
    mirror: str | None = None,
    security_mirror: str | None = None,
    snapshot: str | None = None,
    snapshot_url: str | None = None,
    keyring: str | PathLike[str] | None = None,
    insecure_skip_verify: bool = False,
) -> Sources:
    """The :class:`Sources` of a release, from what the user said.

    ``release`` is a code name (``bookworm``, ``noble``, ``unstable`` for
    ``sid``); ``distro`` (``debian``/``ubuntu``) is needed only for a release
    lockpin does not know. ``suites`` replaces the default suites (release,
    ``-updates``, ``-security``), e.g. for a local mirror carrying only the
    release; ``{release}`` in a name is replaced. Raises
    :class:`~lockpin.errors.InputError` for anything malformed.
    """
    name = release.strip()
    if name == "unstable":
        name = "sid"
    if not re.fullmatch(r"[a-z][a-z0-9.+-]*", name):
        raise InputError(f"release {release!r} is not a code name such as bookworm or noble.")
    distribution = _distribution_of(name, distro)
    comps: list[str] = []
    for given in components:
        comp = given.strip()
        if not _COMPONENT.fullmatch(comp):
            raise InputError(f"component {comp!r} is not a component name such as main.")
        if comp not in comps:
            comps.append(comp)
    if not comps:
        raise InputError("name at least one component (main).")
    suite_names: tuple[str, ...] | None = None
    if suites is not None:
        chosen: list[str] = []
        for given in suites:
            suite = given.strip().replace("{release}", name)
            if not _SUITE.fullmatch(suite) or ".." in suite.split("/"):
                raise InputError(f"suite {suite!r} is not a suite name such as {name}-updates.")
            if suite not in chosen:
                chosen.append(suite)
        if not chosen:
            raise InputError("name at least one suite, or leave the default suites.")
        suite_names = tuple(chosen)
    stamp = _check_snapshot(snapshot) if snapshot is not None else None
    if stamp is None and snapshot_url is not None:
        raise InputError("--snapshot-url needs --snapshot TIMESTAMP.")
    if stamp is not None and (mirror is not None or security_mirror is not None):
        raise InputError(
            "--snapshot and --mirror/--security-mirror exclude each other: a snapshot "
            "names its own archive (use --snapshot-url for a snapshot service of your own)."
        )
    return Sources(
        distribution=distribution,
        release=name,
        components=tuple(comps),
        mirror=_url(mirror, "mirror") if mirror is not None else None,
        security_mirror=(
            _url(security_mirror, "security mirror") if security_mirror is not None else None
        ),
        snapshot=stamp,
        snapshot_url=(
            _url(snapshot_url, "snapshot URL").rstrip("/") if snapshot_url is not None else None
        ),
        keyring=str(keyring) if keyring is not None else None,
        insecure_skip_verify=insecure_skip_verify,
        suites=suite_names,
    )
