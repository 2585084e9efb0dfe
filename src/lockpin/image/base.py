"""``read_base``: what a base image holds, read from its layers without running it.

For one platform of an image: the manifest, the config, then every layer
streamed through :class:`~lockpin.image.layers.LayerStack` (all layers must be
read, bottom to top, for the whiteouts of later layers to be honoured; each is
streamed and only the few wanted files are kept), every byte hashed here — the
manifest against the digest it was asked by (or listed under), the config and
each blob against its descriptor, each uncompressed layer against the config's
``diff_id``. Then, from those files, a :class:`BaseImage`:

* the **Python** version: the interpreter a ``python3`` on ``PATH`` resolves to
  (``/usr/local/bin`` before ``/usr/bin``) gives major.minor; the micro version
  comes from the config's ``PYTHON_VERSION`` (the official images set it) when it
  agrees, else the dpkg ``python3.X-minimal`` package (Debian's upstream part) or
  apk's ``python3`` package. Without any interpreter on ``PATH``, the config's
  ``PYTHON_VERSION`` alone. Nothing from the image is ever run;
* the **C library**: glibc from the dpkg ``libc6`` package's version
  (``2.36-9+deb12u7`` -> 2.36), else from ``libc.so.6`` (a ``libc-2.31.so`` link
  name, or the ``GNU C Library … version 2.36`` banner in its bytes); musl from
  apk's ``musl`` package (``1.2.5-r0`` -> 1.2). Together with the platform's
  machine this gives the wheel platform tag (``manylinux_2_36_x86_64``,
  ``musllinux_1_2_aarch64``) of :meth:`BaseImage.target`, a
  :class:`~lockpin.python.target.Target` like any other;
* ``/etc/os-release`` (else ``/usr/lib/os-release``): the distribution and code
  name apt resolves against;
* the dpkg status (``/var/lib/dpkg/status``, plus distroless's
  ``/var/lib/dpkg/status.d/*``): the installed set apt subtracts;
* the snapshot time stamp when an active apt source is on
  ``snapshot.debian.org`` / ``snapshot.ubuntu.com`` (``sources.list``, ``*.list``
  and deb822 ``*.sources`` files).

The I/O sits behind :class:`ImageSource` (a registry client, or an OCI layout
directory: :class:`~lockpin.image.layout.OciLayout`); :func:`describe_base` is
the pure part, from the kept files and the config to the value.
"""

from __future__ import annotations

import contextlib
import logging
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from ..errors import InputError, IntegrityError, LayerError, ManifestError
from .layers import ImageFiles, LayerStack

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping, Sequence

    from ..net.config import HttpConfig
    from ..progress import Reporter
    from ..python.lock import LockedBase
    from ..python.target import Target
    from .manifest import Descriptor, ImageConfig
    from .reference import ImageReference
    from .registry import Registry

__all__ = [
    "BaseImage",
    "CLibrary",
    "ImageSource",
    "OsRelease",
    "RegistrySource",
    "base_from_dockerfile",
    "describe_base",
    "parse_os_release",
    "read_base",
    "read_base_async",
    "read_bases",
    "snapshot_of_sources",
]

log = logging.getLogger(__name__)


class ImageSource(Protocol):
    """Where image manifests and blobs come from (a registry, an OCI layout).

    Nothing it returns is trusted: :func:`read_base_async` hashes every body.
    """

    async def manifest(self, reference: ImageReference, identifier: str) -> tuple[bytes, str]:
        """``(body, media type)`` of manifest ``identifier`` (a tag or a digest);
        the media type may be ``""`` (the body's ``mediaType`` decides)."""
        ...

    def blob(self, reference: ImageReference, descriptor: Descriptor) -> AsyncIterator[bytes]:
        """The bytes of the blob ``descriptor`` names, in ``reference``'s repository."""
        ...


# -- values --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CLibrary:
    """The image's C library: ``family`` glibc or musl, ``version`` major.minor,
    ``source`` how lockpin read it (``dpkg libc6 2.36-9+deb12u7``)."""

    family: Literal["glibc", "musl"]
    version: str
    source: str

    @property
    def minor(self) -> int:
        return int(self.version.split(".")[1])


@dataclass(frozen=True, slots=True)
class OsRelease:
    """The fields of ``/etc/os-release`` lockpin uses (``ID_LIKE`` split)."""

    id: str
    version_id: str = ""
    codename: str = ""
    id_like: tuple[str, ...] = ()
    pretty_name: str = ""

    @property
    def family(self) -> str:
        """``debian``, ``ubuntu``, ``alpine``…: the ID, or the first known ID_LIKE."""
        for name in (self.id, *self.id_like):
            if name in ("debian", "ubuntu", "alpine"):
                return name
        return self.id


@dataclass(frozen=True, slots=True)
class BaseImage:
    """What :func:`read_base` read from one platform of an image.

    ``reference`` is the normalised reference as given (``docker.io/library/
    python:3.12-slim``); ``digest`` what it resolved to (the index digest of a
    multi-platform image, else the manifest's), ``manifest_digest`` this
    platform's image manifest, ``platform`` the platform read (``linux/amd64``).
    ``python_version`` is ``None`` for an image without Python; ``python_source``
    says where it was read. ``dpkg_status`` is the status text apt subtracts
    (``None``: not a dpkg-based image). ``warnings`` are for the user.
    """

    reference: str
    digest: str
    manifest_digest: str
    platform: str
    python_version: str | None = None
    python_source: str = ""
    libc: CLibrary | None = None
    os_release: OsRelease | None = None
    dpkg_status: str | None = None
    snapshot: str | None = None
    warnings: tuple[str, ...] = field(default=(), compare=False)

    @property
    def pinned(self) -> str:
        """``reference`` pinned to ``digest`` (``…:tag@sha256:…``)."""
        from .reference import parse_reference

        return str(parse_reference(self.reference).with_digest(self.digest))

    @property
    def apt_distribution(self) -> str | None:
        """``debian`` or ``ubuntu`` (from os-release's ``ID``/``ID_LIKE``), else ``None``."""
        if self.os_release is None:
            return None
        family = self.os_release.family
        return family if family in ("debian", "ubuntu") else None

    @property
    def codename(self) -> str:
        """The release code name (``bookworm``), ``""`` when os-release has none."""
        return self.os_release.codename if self.os_release is not None else ""

    @property
    def machine(self) -> str:
        """``platform_machine`` of the platform (``x86_64``, ``aarch64``)."""
        from packaging.version import Version

        from ..python.target import Target

        return Target(Version("3.12"), self.platform).markers()["platform_machine"]

    def platform_tag(self) -> str:
        """The most specific wheel platform tag the image installs:
        ``manylinux_2_36_x86_64`` or ``musllinux_1_2_x86_64``;
        :class:`~lockpin.errors.InputError` when its C library is unknown."""
        if self.libc is None:
            raise InputError(
                f"{self.pinned} ({self.platform}): lockpin found neither glibc (dpkg's libc6, "
                "libc.so.6) nor musl (apk's musl) in the image, so it cannot tell which "
                "wheels install there. Lock without --base, naming the target by hand "
                "(--python-version 3.X.Y --platform manylinux_2_NN_ARCH)."
            )
        major, minor = self.libc.version.split(".")
        family = "manylinux" if self.libc.family == "glibc" else "musllinux"
        return f"{family}_{major}_{minor}_{self.machine}"

    def target(self, python_version: str | None = None) -> Target:
        """The :class:`~lockpin.python.target.Target` of this image: its Python
        (or ``python_version``, which must agree when the image has one) on its
        platform tag. :class:`~lockpin.errors.InputError` when either is unknown
        or they disagree."""
        from ..python.target import parse_target

        version = self.python_version
        if python_version is not None and version is not None:
            parse_target(python_version=python_version, platform="linux/amd64")  # validate
            if not _same_python(python_version, version):
                raise InputError(
                    f"--python-version {python_version} disagrees with the base image "
                    f"{self.pinned}, which has Python {version} ({self.python_source}). "
                    "Drop --python-version, or lock for another base."
                )
            if len(python_version.split(".")) > len(version.split(".")):
                version = python_version
        elif python_version is not None:
            version = python_version
        if version is None:
            raise InputError(
                f"{self.pinned} ({self.platform}) has no Python lockpin can find (no "
                "PYTHON_VERSION in its config, no python3 on /usr/local/bin or /usr/bin). "
                "Pass --python-version."
            )
        return parse_target(python_version=version, platform=self.platform_tag())

    def locked(self) -> LockedBase:
        """What a lock records of this base (:class:`~lockpin.python.lock.LockedBase`):
        the reference and digests, and what was read (no status text)."""
        from ..python.lock import LockedBase
        from .reference import parse_reference

        os_release = self.os_release
        return LockedBase(
            reference=self.reference,
            pinned=parse_reference(self.reference).with_digest(self.digest).familiar,
            digest=self.digest,
            manifest_digest=self.manifest_digest,
            platform=self.platform,
            python_version=self.python_version or None,
            libc=self.libc.family if self.libc is not None else None,
            libc_version=self.libc.version if self.libc is not None else None,
            distribution=os_release.id if os_release is not None else None,
            codename=(os_release.codename or None) if os_release is not None else None,
            snapshot=self.snapshot,
        )

    def describe(self) -> str:
        """One line for lock headers: ``python:3.12-slim@sha256:… (linux/amd64):
        Python 3.12.7, glibc 2.36, debian bookworm``."""
        return self.locked().describe()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able summary (no status text: its sha256 and package count)."""
        import hashlib

        data: dict[str, Any] = {
            "reference": self.reference,
            "digest": self.digest,
            "manifest_digest": self.manifest_digest,
            "platform": self.platform,
            "python_version": self.python_version,
            "python_source": self.python_source,
            "libc": None
            if self.libc is None
            else {
                "family": self.libc.family,
                "version": self.libc.version,
                "source": self.libc.source,
            },
            "os_release": None
            if self.os_release is None
            else {
                "id": self.os_release.id,
                "version_id": self.os_release.version_id,
                "codename": self.os_release.codename,
                "id_like": list(self.os_release.id_like),
            },
            "snapshot": self.snapshot,
            "dpkg_status_sha256": None
            if self.dpkg_status is None
            else hashlib.sha256(self.dpkg_status.encode()).hexdigest(),
        }
        return data


def _same_python(given: str, found: str) -> bool:
    """3.12 agrees with 3.12.7, 3.12.7 with 3.12.7 and with 3.12; 3.12.6 does not
    with 3.12.7, nor 3.11 with 3.12: the parts both name must be equal (compared as
    written: ``parse_target`` would pad a missing micro with 0)."""
    a, b = given.strip().split("."), found.strip().split(".")
    return a[: min(len(a), len(b))] == b[: min(len(a), len(b))]


# -- the pure parts ------------------------------------------------------------------------------

_OS_RELEASE_LINE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)")
#: ID, VERSION_ID, VERSION_CODENAME and ID_LIKE words, as os-release(5) defines them
_OS_RELEASE_WORD = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


def parse_os_release(text: str) -> dict[str, str]:
    """os-release(5): ``KEY=value`` lines, values shell-quoted (``"…"`` with
    ``\\`` escapes, ``'…'``) or bare; comments and malformed lines skipped."""
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _OS_RELEASE_LINE.fullmatch(line)
        if match is None:
            continue
        key, value = match.groups()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = re.sub(r'\\([$"`\\])', r"\1", value[1:-1])
        elif len(value) >= 2 and value[0] == value[-1] == "'":
            value = value[1:-1]
        values[key] = value
    return values


def _os_release(files: ImageFiles) -> OsRelease | None:
    for path in ("/etc/os-release", "/usr/lib/os-release"):
        data = files.read(path)
        if data is None:
            continue
        fields = parse_os_release(data.decode("utf-8", "replace"))
        if "ID" not in fields:
            continue
        codename = fields.get("VERSION_CODENAME", "") or fields.get("UBUNTU_CODENAME", "")
        for key, value in (
            ("ID", fields["ID"]),
            ("VERSION_ID", fields.get("VERSION_ID", "")),
            ("VERSION_CODENAME", codename),
            *(("ID_LIKE", word) for word in fields.get("ID_LIKE", "").split()),
        ):
            # These values become apt suites (URL paths) and lock headers: only the
            # characters os-release(5) allows them, nothing a lock or URL could read
            # as syntax (quotes, newlines, '#', '/', '..').
            if value and _OS_RELEASE_WORD.fullmatch(value.lower()) is None:
                raise ManifestError(
                    f"the image's {path} gives {key}={value[:80]!r}, which is not an "
                    "os-release identifier (lower-case a-z, 0-9, '.', '_', '-'); lockpin "
                    "refuses to use it. Lock without --base, naming the release by hand.",
                    source=files.source or path,
                )
        return OsRelease(
            id=fields["ID"].lower(),
            version_id=fields.get("VERSION_ID", ""),
            codename=codename.lower(),
            id_like=tuple(fields.get("ID_LIKE", "").lower().split()),
            pretty_name=fields.get("PRETTY_NAME", ""),
        )
    return None


_SNAPSHOT = re.compile(
    r"://snapshot\.(?:debian\.org/archive/debian(?:-security|-ports)?|ubuntu\.com/ubuntu(?:-ports)?)"
    r"/(\d{8}T\d{6}Z)(?:/|\s|$)"
)


def snapshot_of_sources(texts: Sequence[str]) -> tuple[str | None, tuple[str, ...]]:
    """The snapshot time stamp the active apt sources name, and warnings.

    ``texts`` are ``sources.list``-style files and deb822 ``.sources`` files
    alike: each line that is not a comment is searched (a deb822 ``URIs:`` field
    or a ``deb`` line); a ``.sources`` stanza with ``Enabled: no`` is skipped.
    Several different stamps: the earliest is returned, with a warning.
    """
    stamps: set[str] = set()
    for text in texts:
        for stanza in re.split(r"\n[ \t]*\n", text):
            if re.search(r"(?im)^enabled:[ \t]*no\b", stanza):
                continue
            for line in stanza.splitlines():
                body = line.strip()
                if not body or body.startswith("#"):
                    continue
                stamps.update(m.group(1) for m in _SNAPSHOT.finditer(body))
    if not stamps:
        return None, ()
    ordered = sorted(stamps)
    if len(ordered) == 1:
        return ordered[0], ()
    return ordered[0], (
        f"the image's apt sources name several snapshots ({', '.join(ordered)}); "
        f"using the earliest, {ordered[0]}.",
    )


def _dpkg_status(files: ImageFiles) -> str | None:
    """``/var/lib/dpkg/status`` and distroless's ``status.d/*`` files, joined.
    A ``status.d`` stanza has no ``Status`` field (only installed packages get a
    file there): it is given ``install ok installed``."""
    parts: list[str] = []
    main = files.read("/var/lib/dpkg/status")
    if main is not None:
        parts.append(main.decode("utf-8", "surrogateescape"))
    for name in files.listdir("/var/lib/dpkg/status.d"):
        if name.endswith(".md5sums") or name.startswith("."):
            continue
        data = files.read(f"/var/lib/dpkg/status.d/{name}")
        if data is None:
            continue
        for raw in re.split(r"\n[ \t]*\n", data.decode("utf-8", "surrogateescape")):
            stanza = raw.strip("\n")
            if not stanza.strip():
                continue
            if not re.search(r"(?im)^status:", stanza):
                first, _, rest = stanza.partition("\n")
                stanza = f"{first}\nStatus: install ok installed" + (f"\n{rest}" if rest else "")
            parts.append(stanza + "\n")
    if not parts:
        return None
    if len(parts) == 1 and main is not None:
        # The image's own file byte for byte: its sha256 is then what `sha256sum`
        # of /var/lib/dpkg/status gives, the value --base-status records.
        return parts[0]
    return "\n".join(p.rstrip("\n") + "\n" for p in parts if p.strip())


def _dpkg_versions(status: str | None, *, source: str) -> dict[str, str]:
    """Installed package -> version, from the status text."""
    if status is None:
        return {}
    from ..apt.packages import parse_status

    try:
        packages = parse_status(status)
    except ValueError as exc:
        raise ManifestError(
            f"the image's dpkg status does not parse ({exc})", source=source
        ) from exc
    return {p.name: p.version for p in packages}


def _apk_versions(files: ImageFiles) -> dict[str, str]:
    """apk's installed database (``P:name`` / ``V:version`` records)."""
    data = files.read("/lib/apk/db/installed")
    if data is None:
        return {}
    versions: dict[str, str] = {}
    name = ""
    for line in data.decode("utf-8", "replace").splitlines():
        if line.startswith("P:"):
            name = line[2:].strip()
        elif line.startswith("V:") and name:
            versions.setdefault(name, line[2:].strip())
        elif not line.strip():
            name = ""
    return versions


def _upstream(version: str) -> str:
    """A Debian/apk version's upstream part: no epoch, no revision."""
    text = version.split(":", 1)[1] if ":" in version.split("-", 1)[0] else version
    return text.rsplit("-", 1)[0] if "-" in text else text


_MAJOR_MINOR = re.compile(r"(\d+)\.(\d+)")
_GLIBC_BANNER = re.compile(rb"GNU C Library [^\n\0]{0,200}?version (\d+)\.(\d+)")
_LIBC_NAME = re.compile(r"libc-(\d+)\.(\d+)\.so")
_LIBC_DIRS = (
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib/arm-linux-gnueabihf",
    "/usr/lib/arm-linux-gnueabi",
    "/usr/lib/i386-linux-gnu",
    "/usr/lib/powerpc64le-linux-gnu",
    "/usr/lib/s390x-linux-gnu",
    "/usr/lib/riscv64-linux-gnu",
    "/lib64",
    "/usr/lib64",
    "/lib",
    "/usr/lib",
)


def _libc(files: ImageFiles, dpkg: Mapping[str, str], apk: Mapping[str, str]) -> CLibrary | None:
    for package in ("libc6", "libc6.1", "libc0.1"):
        if package in dpkg:
            match = _MAJOR_MINOR.match(_upstream(dpkg[package]))
            if match:
                return CLibrary(
                    "glibc", f"{match[1]}.{match[2]}", f"dpkg {package} {dpkg[package]}"
                )
    if "musl" in apk:
        match = _MAJOR_MINOR.match(_upstream(apk["musl"]))
        if match:
            return CLibrary("musl", f"{match[1]}.{match[2]}", f"apk musl {apk['musl']}")
    candidates = [f"{d}/libc.so.6" for d in _LIBC_DIRS]
    candidates += [
        f"{d}/libc.so.6"
        for d in (p.rsplit("/", 1)[0] for p in files.paths() if p.endswith("/libc.so.6"))
    ]
    for path in dict.fromkeys(candidates):
        real = files.realpath(path)
        if real is None or not files.exists(real):
            continue
        named = _LIBC_NAME.fullmatch(real.rsplit("/", 1)[1])
        if named:
            return CLibrary("glibc", f"{named[1]}.{named[2]}", f"{path} -> {real}")
        data = files.read(real)
        banner = _GLIBC_BANNER.search(data) if data is not None else None
        if banner:
            return CLibrary("glibc", f"{int(banner[1])}.{int(banner[2])}", path)
    if any(re.fullmatch(r"/(?:usr/)?lib/ld-musl-[a-z0-9_]+\.so\.1", p) for p in files.paths()):
        log.info("musl loader found, but no apk database says which musl version")
    return None


_PYTHON_NAME = re.compile(r"python(3)\.(\d+)")
_PYTHON_VERSION = re.compile(r"3\.\d+(?:\.\d+)?(?:(?:a|b|rc)\d+)?")


def _python(
    files: ImageFiles, env: Mapping[str, str], dpkg: Mapping[str, str], apk: Mapping[str, str]
) -> tuple[str | None, str, tuple[str, ...]]:
    """``(version, where it was read, warnings)``."""
    warnings: list[str] = []
    minor: str | None = None
    found_at = ""
    for path in (
        "/usr/local/bin/python3",
        "/usr/bin/python3",
        "/bin/python3",
    ):
        real = files.realpath(path)
        if real is None or not files.is_file(real):
            continue
        match = _PYTHON_NAME.fullmatch(real.rsplit("/", 1)[1])
        if match:
            minor, found_at = f"3.{match[2]}", f"{path} -> {real}" if real != path else path
            break
    if minor is None:  # python3.X binaries without a python3 link
        names = sorted(
            {
                m[2]
                for p in files.paths()
                if p.rsplit("/", 1)[0] in ("/usr/local/bin", "/usr/bin")
                and (m := _PYTHON_NAME.fullmatch(p.rsplit("/", 1)[1]))
            },
            key=int,
        )
        if names:
            minor = f"3.{names[-1]}"
            found_at = f"python3.{names[-1]} in the image"
    declared = env.get("PYTHON_VERSION", "").strip()
    if declared and not _PYTHON_VERSION.fullmatch(declared):
        warnings.append(
            f"the image's PYTHON_VERSION={declared!r} is not a CPython version; ignored."
        )
        declared = ""
    if minor is None:
        if declared:
            return declared, "config Env PYTHON_VERSION", tuple(warnings)
        return None, "", tuple(warnings)
    if declared:
        if ".".join(declared.split(".")[:2]) == minor:
            return declared, f"config Env PYTHON_VERSION; {found_at}", tuple(warnings)
        warnings.append(
            f"the image's config says PYTHON_VERSION={declared}, but its python3 is "
            f"{found_at}; using {minor}."
        )
    for package, where in (
        (f"python{minor}-minimal", dpkg),
        (f"libpython{minor}-minimal", dpkg),
        (f"python{minor}", dpkg),
        ("python3", apk),
    ):
        version = where.get(package)
        if version is None:
            continue
        upstream = _upstream(version)
        match = _PYTHON_VERSION.match(upstream)
        if match and ".".join(match[0].split(".")[:2]) == minor:
            kind = "dpkg" if where is dpkg else "apk"
            return match[0], f"{kind} {package} {version}; {found_at}", tuple(warnings)
    warnings.append(
        f"the image's Python is {minor} ({found_at}), but nothing in it says which "
        f"{minor}.x: locking for {minor}.0. Pass --python-version {minor}.N to be exact."
    )
    return minor, found_at, tuple(warnings)


def _apt_sources(files: ImageFiles) -> list[str]:
    texts = []
    main = files.read("/etc/apt/sources.list")
    if main is not None:
        texts.append(main.decode("utf-8", "replace"))
    for name in files.listdir("/etc/apt/sources.list.d"):
        if name.endswith((".list", ".sources")):
            data = files.read(f"/etc/apt/sources.list.d/{name}")
            if data is not None:
                texts.append(data.decode("utf-8", "replace"))
    return texts


def describe_base(
    files: ImageFiles,
    config: ImageConfig,
    *,
    reference: str,
    digest: str,
    manifest_digest: str,
    platform: str,
) -> BaseImage:
    """The :class:`BaseImage` of an image's kept ``files`` and its ``config`` (pure)."""
    status = _dpkg_status(files)
    dpkg = _dpkg_versions(status, source=reference)
    apk = _apk_versions(files)
    python, python_source, warnings = _python(files, config.env_dict(), dpkg, apk)
    snapshot, snapshot_warnings = snapshot_of_sources(_apt_sources(files))
    return BaseImage(
        reference=reference,
        digest=digest,
        manifest_digest=manifest_digest,
        platform=platform,
        python_version=python,
        python_source=python_source,
        libc=_libc(files, dpkg, apk),
        os_release=_os_release(files),
        dpkg_status=status,
        snapshot=snapshot,
        warnings=(*warnings, *snapshot_warnings),
    )


# -- orchestration -------------------------------------------------------------------------------


def _sha256(data: bytes) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(data).hexdigest()


def _check(what: str, data: bytes, expected: str, *, source: str) -> None:
    from .digest import algorithm_of, digest_of

    actual = digest_of(data, algorithm_of(expected))
    if actual != expected:
        raise IntegrityError(
            f"{source}: {what} hashes to {actual}, not {expected} as asked: refusing it.",
            url=source,
            expected=expected,
            actual=actual,
        )


@contextlib.asynccontextmanager
async def _closing(chunks: AsyncIterator[bytes]) -> AsyncIterator[AsyncIterator[bytes]]:
    """Close a blob's stream when the reading stops, early or not (its response,
    its cache writer and its turn on the digest are released at once)."""
    try:
        yield chunks
    finally:
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()


async def _blob_bytes(
    source: ImageSource, ref: ImageReference, descriptor: Descriptor, *, limit: int, what: str
) -> bytes:
    digest = descriptor.digest
    buf = bytearray()
    async with _closing(source.blob(ref, descriptor)) as chunks:
        async for chunk in chunks:
            buf += chunk
            if len(buf) > limit:
                raise ManifestError(f"{what} {digest} is over {limit} bytes", source=str(ref))
    data = bytes(buf)
    _check(f"{what} {digest}", data, digest, source=str(ref))
    return data


async def read_base_async(
    source: ImageSource,
    reference: str | ImageReference,
    *,
    platform: str,
    reporter: Reporter | None = None,
) -> BaseImage:
    """:func:`read_base` over any :class:`ImageSource`."""
    from ..progress import Event
    from .digest import hasher_for
    from .manifest import (
        LAYER_MEDIA_TYPES,
        MAX_CONFIG_BYTES,
        ImageIndex,
        is_foreign_layer,
        parse_config,
        parse_manifest,
        select_platform,
    )
    from .platform import parse_platform
    from .reference import parse_reference

    ref = parse_reference(reference) if isinstance(reference, str) else reference
    wanted = parse_platform(platform)
    shown = str(ref)
    body, media_type = await source.manifest(ref, ref.identifier)
    top_digest = _sha256(body) if ref.digest is None else ref.digest
    if ref.digest is not None:
        _check("the manifest", body, ref.digest, source=shown)
    manifest = parse_manifest(body, media_type, source=shown)
    manifest_digest = top_digest
    if isinstance(manifest, ImageIndex):
        entry = select_platform(manifest, wanted, reference=shown)
        body, media_type = await source.manifest(ref, entry.digest)
        _check("the platform's manifest", body, entry.digest, source=shown)
        if len(body) != entry.size:
            raise ManifestError(
                f"the index lists the {wanted} manifest {entry.digest} as {entry.size} "
                f"bytes, but it is {len(body)}; lockpin refuses an index whose "
                "descriptors lie. Push the image again.",
                source=shown,
            )
        manifest_digest = entry.digest
        manifest = parse_manifest(body, media_type or entry.media_type, source=shown)
        if isinstance(manifest, ImageIndex):
            raise ManifestError(
                f"the index entry for {wanted} is another index; lockpin reads one level",
                source=shown,
            )
    config_body = await _blob_bytes(
        source, ref, manifest.config, limit=MAX_CONFIG_BYTES, what="the image config"
    )
    config = parse_config(config_body, source=shown)
    if config.os and config.architecture and not config.platform.matches(wanted):
        raise ManifestError(
            f"the image for {wanted} says in its config that it is {config.platform}",
            source=shown,
        )
    if len(config.diff_ids) != len(manifest.layers):
        raise ManifestError(
            f"the manifest lists {len(manifest.layers)} layer(s), the config "
            f"{len(config.diff_ids)} diff id(s)",
            source=shown,
        )
    stack = LayerStack(source=shown)
    for layer, diff_id in zip(manifest.layers, config.diff_ids, strict=True):
        if is_foreign_layer(layer.media_type):
            # Its bytes live at the descriptor's ``urls``, outside the registry: lockpin
            # never follows them (any host, no digest the registry vouches for).
            raise ManifestError(
                f"layer {layer.digest} is a foreign layer ({layer.media_type}): lockpin reads "
                "Linux images only, and never downloads layers from the URLs a manifest names",
                source=shown,
            )
        if layer.media_type not in LAYER_MEDIA_TYPES:
            # An encrypted layer, an artifact's blob, a made-up type: not a tar lockpin
            # should sniff and read.
            raise ManifestError(
                f"layer {layer.digest} has media type {layer.media_type[:100]!r}, not an image "
                "layer lockpin reads (tar, tar+gzip or tar+zstd); is this an image?",
                source=shown,
            )
        reader = stack.open_layer(digest=layer.digest, diff_id=diff_id)
        hasher = hasher_for(layer.digest)
        received = 0
        unreadable: LayerError | None = None
        # A source failing part-way (a cut stream, a mismatch: IntegrityError)
        # ends the read here: what the reader took from this layer is dropped
        # with the whole stack, and nothing of it was cached.
        async with _closing(source.blob(ref, layer)) as chunks:
            async for chunk in chunks:
                hasher.update(chunk)
                received += len(chunk)
                if received > layer.size:
                    break
                if unreadable is None:
                    try:
                        reader.feed(chunk)
                    except LayerError as exc:
                        # keep hashing: bytes that are not the blob asked for are an
                        # integrity failure, whatever they look like
                        unreadable = exc
        actual = f"{layer.digest.partition(':')[0]}:{hasher.hexdigest()}"
        if received != layer.size or actual != layer.digest:
            raise IntegrityError(
                f"{shown}: layer {layer.digest} was served as {received} bytes hashing to "
                f"{actual}; the manifest says {layer.size} bytes, {layer.digest}: refusing it.",
                url=shown,
                expected=layer.digest,
                actual=actual,
            )
        if unreadable is not None:
            raise unreadable
        reader.close()
        if reporter is not None:
            reporter.report(Event("download", f"layer {layer.digest[:19]}", size=layer.size))
    files = stack.files()
    return describe_base(
        files,
        config,
        reference=str(ref.with_digest(None)) if ref.tag is not None else str(ref),
        digest=top_digest,
        manifest_digest=manifest_digest,
        platform=str(config.platform if config.os else wanted),
    )


def read_base(
    reference: str,
    *,
    platform: str,
    http: HttpConfig | None = None,
    insecure_registries: Sequence[str] = (),
    reporter: Reporter | None = None,
    source: ImageSource | None = None,
) -> BaseImage:
    """Read what the base image ``reference`` holds for ``platform``
    (``linux/amd64``): its Python, C library, distribution, dpkg status and apt
    snapshot, as a :class:`BaseImage`. ``source`` defaults to the image's
    registry, reached with ``http``'s settings (plain http only to loopback
    registries and ``insecure_registries``); ``oci:DIR[:TAG]`` reads an OCI
    layout directory instead. Blobs are cached by digest (in ``http``'s cache).

    Raises :class:`~lockpin.errors.InputError` for a malformed reference or
    platform, the registry errors (:class:`~lockpin.errors.NoSuchImageError`,
    :class:`~lockpin.errors.NoSuchPlatformError`, …),
    :class:`~lockpin.errors.IntegrityError` for bytes that do not hash to their
    digest and :class:`~lockpin.errors.LayerError` for a layer that is not a tar.
    """
    [base] = read_bases(
        reference,
        platforms=(platform,),
        http=http,
        insecure_registries=insecure_registries,
        reporter=reporter,
        source=source,
    )
    return base


def read_bases(
    reference: str,
    *,
    platforms: Sequence[str],
    http: HttpConfig | None = None,
    insecure_registries: Sequence[str] = (),
    reporter: Reporter | None = None,
    source: ImageSource | None = None,
) -> tuple[BaseImage, ...]:
    """:func:`read_base` for each of ``platforms``, in that order, read at once:
    concurrently over one source (for a registry, one HTTP client and one
    :class:`~lockpin.image.registry.Registry`: one challenge, one token, and a
    layer several platforms share downloaded once and read from the cache by
    the others). A tag is resolved once, so every platform is read from the same
    index even if the tag moves meanwhile. When several fail, the error raised is
    the first platform's in the order given."""
    from .._async import run_sync

    if source is None and reference.startswith("oci:"):
        from .layout import OciLayout

        path, tag = _split_layout(reference[len("oci:") :])
        return run_sync(
            _read_all(OciLayout(path), f"localhost/oci-layout:{tag}", platforms, reporter)
        )
    if source is not None:
        return run_sync(_read_all(source, reference, platforms, reporter))
    return run_sync(
        _read_from_registry(
            reference,
            platforms=platforms,
            http=http,
            insecure_registries=insecure_registries,
            reporter=reporter,
        )
    )


async def _read_all(
    source: ImageSource,
    reference: str | ImageReference,
    platforms: Sequence[str],
    reporter: Reporter | None,
) -> tuple[BaseImage, ...]:
    import asyncio

    from .platform import parse_platform
    from .reference import parse_reference

    ref = parse_reference(reference) if isinstance(reference, str) else reference
    for platform in platforms:  # bad input fails before any network
        parse_platform(platform)
    if ref.digest is None and len(platforms) > 1:
        body, _media_type = await source.manifest(ref, ref.identifier)
        ref = ref.with_digest(_sha256(body))
    results = await asyncio.gather(
        *(read_base_async(source, ref, platform=p, reporter=reporter) for p in platforms),
        return_exceptions=True,
    )
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return tuple(r for r in results if isinstance(r, BaseImage))


def _split_layout(text: str) -> tuple[str, str]:
    path, sep, tag = text.rpartition(":")
    if not sep or "/" in tag:
        return text, "latest"
    return path, tag


class RegistrySource:
    """:class:`ImageSource` over :class:`lockpin.image.registry.Registry` (which
    checks digests too, and caches blobs by digest)."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    async def manifest(self, reference: ImageReference, identifier: str) -> tuple[bytes, str]:
        from .digest import is_digest

        ref = (
            reference.with_digest(identifier)
            if is_digest(identifier)
            else reference.with_digest(None).with_tag(identifier)
        )
        response = await self.registry.manifest(ref)
        return response.body, response.media_type

    def blob(self, reference: ImageReference, descriptor: Descriptor) -> AsyncIterator[bytes]:
        # Streamed, never held whole: the registry checks size and digest as the
        # bytes pass (raising at the end), and caches the blob once checked.
        return self.registry.blob_stream(reference, descriptor.digest, size=descriptor.size)


async def _read_from_registry(
    reference: str,
    *,
    platforms: Sequence[str],
    http: HttpConfig | None,
    insecure_registries: Sequence[str],
    reporter: Reporter | None,
) -> tuple[BaseImage, ...]:
    from ..net.http import Http
    from .registry import Registry
    from .resolve import registry_http_config

    config = registry_http_config(http, insecure_registries)
    async with Http(config) as client:
        registry = Registry(client, insecure_registries=insecure_registries)
        return await _read_all(RegistrySource(registry), reference, platforms, reporter)


def base_from_dockerfile(
    spec: str, *, build_args: Mapping[str, str] | None = None
) -> tuple[str, str | None]:
    """``(reference, platform)`` of the image a Dockerfile stage is built on:
    ``spec`` is ``PATH`` (the last stage) or ``PATH:STAGE`` (a stage name or its
    0-based index). A stage built on an earlier stage is followed to its image;
    ``platform`` is the stage's ``FROM --platform=`` value, when it has one.

    The ``FROM`` must be pinned by digest (``lockpin dockerfile pin``): a lock is
    made for the exact bytes of its base, and a tag moves. An
    :class:`~lockpin.errors.InputError` naming ``FILE:LINE`` otherwise.
    """
    from .._io import read_text
    from .dockerfile import from_images, parse
    from .reference import parse_reference

    path, stage = spec, None
    head, sep, tail = spec.rpartition(":")
    if sep and head and "/" not in tail and "\\" not in tail and tail:
        path, stage = head, tail
    dockerfile = parse(read_text(path, what="Dockerfile"), filename=path)
    bases = from_images(dockerfile, build_args)
    if not bases:  # pragma: no cover - parse() refuses a Dockerfile without FROM
        raise InputError(f"{path}: has no FROM.")
    by_name = {b.stage.name: b for b in bases if b.stage.name}
    if stage is None:
        chosen = bases[-1]
    elif stage in by_name:
        chosen = by_name[stage]
    elif stage.isdigit() and int(stage) < len(bases):
        chosen = bases[int(stage)]
    else:
        names = ", ".join(b.stage.name or str(b.stage.index) for b in bases)
        raise InputError(f"{path} has no stage {stage!r}; its stages are: {names}.")
    seen = 0
    while chosen.kind == "stage" and seen <= len(bases):
        seen += 1
        chosen = by_name.get(chosen.text, chosen)
        if chosen.kind == "stage" and chosen.text not in by_name:
            break
    where = dockerfile.location(chosen.stage.from_instruction.line)
    if chosen.kind != "image":
        what = {
            "scratch": "is built FROM scratch: there is no base image to read",
            "unresolved": "names its image through variables without a value "
            f"({', '.join(sorted(chosen.unset))})",
        }.get(chosen.kind, f"names {chosen.text!r}, which lockpin cannot follow to an image")
        raise InputError(f"this stage {what}.", location=where)
    ref = parse_reference(chosen.text)
    if ref.digest is None:
        raise InputError(
            f"FROM {chosen.text} is not pinned by digest; run 'lockpin dockerfile pin {path}' "
            "first, so that the lock is made for the exact image the build uses.",
            location=where,
        )
    return chosen.text, chosen.platform
