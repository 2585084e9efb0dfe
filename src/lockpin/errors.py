"""Every error a lockpin user can see.

All of them derive from :class:`LockpinError`. Each carries the data that names
the thing at fault (a file and line, a project, a URL with its credentials
redacted) and its message says what to do next. The CLI prints ``str(error)``
and exits non-zero; it never shows a traceback for these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "BuildError",
    "Conflict",
    "ConflictKind",
    "DeadlineError",
    "DockerfileError",
    "IndexError_",
    "IndexResponseError",
    "InputError",
    "IntegrityError",
    "InvalidMetadataError",
    "LayerError",
    "LockpinError",
    "ManifestError",
    "NetworkError",
    "NoSuchImageError",
    "NoSuchPackageError",
    "NoSuchPlatformError",
    "NoSuchProjectError",
    "NoSuchVersionError",
    "OfflineError",
    "PinError",
    "RegistryAuthError",
    "RegistryError",
    "ResolutionError",
    "UnsafeURLError",
]


class LockpinError(Exception):
    """Base class for all errors raised by lockpin."""

    #: exit code the CLI uses for this error
    exit_code: int = 2


class InputError(LockpinError, ValueError):
    """A user-supplied file or argument is malformed.

    ``location`` is ``"path:line"`` when the fault is in a file, else ``None``.
    """

    def __init__(self, message: str, *, location: str | None = None) -> None:
        self.location = location
        self.message = message
        super().__init__(f"{location}: {message}" if location else message)


class DockerfileError(InputError):
    """A Dockerfile that BuildKit would refuse (an unterminated heredoc, ``FROM``
    without an image, an unknown flag or instruction), or one lockpin cannot
    rewrite safely. ``location`` is ``"FILE:LINE"`` (``"<dockerfile>:LINE"``
    when parsed from text without a file name); ``line`` is the 1-based line."""

    def __init__(self, message: str, *, location: str | None = None, line: int = 0) -> None:
        self.line = line
        super().__init__(message, location=location)


class PinError(LockpinError):
    """A ``FROM`` of a Dockerfile could not be pinned because resolving its image
    failed (``cause``: the registry's error, which names the reference).
    ``location`` is ``"FILE:LINE"`` of the line that names the image; the exit
    code is the cause's."""

    def __init__(self, cause: LockpinError, *, location: str, reference: str) -> None:
        self.cause = cause
        self.location = location
        self.reference = reference
        self.exit_code = cause.exit_code
        detail = str(cause)
        # the registry's errors start with the reference already: say it once
        detail = detail.removeprefix(f"{reference}: ")
        super().__init__(f"{location}: cannot pin {reference}: {detail}")


class NetworkError(LockpinError):
    """A URL could not be fetched after every retry. ``url`` is redacted; ``status``
    is the HTTP status of the last answer when the failure was one (a 5xx, a 429);
    ``detail`` is what failed without the advice on what to do (for a message that
    lists several failures and gives the advice once), else the whole message."""

    def __init__(
        self, message: str, *, url: str, status: int | None = None, detail: str | None = None
    ) -> None:
        self.url = url
        self.status = status
        self.detail = detail or message
        super().__init__(message)


class DeadlineError(LockpinError):
    """The total time budget of a command (``--deadline``, ``HttpConfig.deadline``)
    ran out while ``url`` (redacted) was still being fetched, after ``attempts``
    attempts. Not a :class:`NetworkError` on purpose: code that falls back to another
    URL on a network error (another compression, a probe) must not retry past it."""

    def __init__(self, message: str, *, url: str, attempts: int, seconds: float) -> None:
        self.url = url
        self.attempts = attempts
        self.seconds = seconds
        super().__init__(message)


class UnsafeURLError(LockpinError):
    """A plain ``http://`` URL to a non-loopback host was refused."""

    def __init__(self, url: str) -> None:
        self.url = url
        super().__init__(
            f"refusing plain-http URL {url}: traffic to it could be altered in transit. "
            "Use https, or pass --allow-insecure-host HOST (LOCKPIN_ALLOW_INSECURE_HOST) "
            "if you trust the network path."
        )


class IndexResponseError(LockpinError):
    """An index answered something lockpin cannot parse. ``url`` is redacted."""

    def __init__(self, message: str, *, url: str) -> None:
        self.url = url
        super().__init__(message)


#: Deprecated name of :class:`IndexResponseError` (too close to the builtin
#: ``IndexError``); kept for one release.
IndexError_ = IndexResponseError


class IntegrityError(LockpinError):
    """What a source served disagrees with what it declared (a size, a sha256, a
    signature): lockpin refuses it. ``url`` is redacted; ``expected`` and ``actual``
    name both values so the user can tell a broken mirror from an attack."""

    def __init__(self, message: str, *, url: str, expected: str = "", actual: str = "") -> None:
        self.url = url
        self.expected = expected
        self.actual = actual
        super().__init__(message)


class InvalidMetadataError(IndexResponseError):
    """A release's core metadata does not parse (an invalid Requires-Dist, no Name):
    the resolver skips that release, as pip does."""


class NoSuchProjectError(LockpinError):
    """No configured index knows the project."""

    def __init__(
        self, project: str, *, indexes: tuple[str, ...], required_by: str | None = None
    ) -> None:
        self.project = project
        self.indexes = indexes
        self.required_by = required_by
        where = ", ".join(indexes) or "(no index configured)"
        why = f" ({required_by})" if required_by else ""
        super().__init__(
            f"project {project!r}{why} was not found on {where}. "
            "Check the spelling, or add the index that serves it with --extra-index-url."
        )


class NoSuchPackageError(LockpinError):
    """No suite of the archive lists the Debian/Ubuntu package (nor anything provides it).

    ``package`` is the name asked for, ``architecture`` the one resolved for,
    ``close`` the most similar names the archive does list (for "did you mean").
    """

    def __init__(
        self, message: str, *, package: str, architecture: str, close: tuple[str, ...] = ()
    ) -> None:
        self.package = package
        self.architecture = architecture
        self.close = close
        super().__init__(message)


class NoSuchVersionError(LockpinError):
    """The project exists but not in the requested version (or no file of it fits).

    Also raised for a Debian package whose requested version no suite holds;
    ``project`` is then the package name."""

    def __init__(self, project: str, version: str, message: str) -> None:
        self.project = project
        self.version = version
        super().__init__(message)


class BuildError(LockpinError):
    """A PEP 517 metadata build of an sdist failed; the message holds its output.

    ``filename`` names the sdist when known. ``transient`` is true when the failure
    says nothing lasting about the sdist (its build environment could not be
    created or its build requirements installed, a step ran out of time): such a
    failure is not remembered, and the next run tries again.
    """

    def __init__(
        self, message: str, *, filename: str | None = None, transient: bool = False
    ) -> None:
        self.filename = filename
        self.transient = transient
        super().__init__(message)


#: ``requirement``: a dependency or root requirement; ``constraint``: a line of a
#: constraints file (or ``--upgrade-package NAME==VER``); ``requires-python``: a
#: release's Requires-Python that excludes the target's interpreter.
ConflictKind = Literal["requirement", "constraint", "requires-python"]


@dataclass(frozen=True, slots=True)
class Conflict:
    """One requirement among those a :class:`ResolutionError` found incompatible.

    ``requirement`` is written as the explanation shows it (``urllib3<2``,
    ``foo[bar] @ https://…``; for ``requires-python`` the specifier, ``>=3.13``).
    ``required_by`` is the pin that requires it (``botocore==1.34.0``), the input it
    comes from (``-r requirements.in``) or ``"the input"``. ``project`` is the
    canonical name required (``None`` for ``requires-python``). ``usable_versions``
    lists the project's releases usable on the target, newest first and at most
    12, or is ``None`` when the resolver never listed them.
    """

    kind: ConflictKind
    requirement: str
    required_by: str
    project: str | None = None
    usable_versions: tuple[str, ...] | None = None


class ResolutionError(LockpinError):
    """The requirements cannot be satisfied together; the message explains why.

    ``target`` describes the target resolved for (``CPython 3.12.0 on
    linux/amd64 (manylinux_2_28_x86_64)``), ``conflicts`` holds the requirements
    the explanation lists, in its order, and ``skipped`` the releases
    (``name==version``) left out because their metadata could not be read or
    built. Both are empty when resolution gave up for another reason (too much
    backtracking).
    """

    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        target: str | None = None,
        conflicts: tuple[Conflict, ...] = (),
        skipped: tuple[str, ...] = (),
    ) -> None:
        self.target = target
        self.conflicts = conflicts
        self.skipped = skipped
        super().__init__(message)


class OfflineError(LockpinError):
    """``--offline`` was given and something needed is not in the cache."""

    def __init__(self, url: str) -> None:
        self.url = url
        super().__init__(
            f"--offline: {url} is not in the cache. Run once without --offline to fill it."
        )


class RegistryError(LockpinError):
    """An OCI registry refused or failed a request for an image.

    ``reference`` is the image reference as lockpin normalised it
    (``docker.io/library/python:3.12``); ``url`` is the redacted URL asked for;
    ``status`` the HTTP status, when there was one."""

    def __init__(
        self, message: str, *, reference: str, url: str, status: int | None = None
    ) -> None:
        self.reference = reference
        self.url = url
        self.status = status
        super().__init__(message)


class NoSuchImageError(RegistryError):
    """The registry does not know the repository, the tag or the digest (HTTP 404)."""


class RegistryAuthError(RegistryError):
    """The registry refused lockpin's credentials, or asked for some it does not have
    (HTTP 401/403, or a token endpoint that refused)."""


class ManifestError(LockpinError, ValueError):
    """A manifest, index or image config does not parse, or has a media type lockpin
    does not know. ``source`` names it (a reference or a redacted URL)."""

    def __init__(self, message: str, *, source: str) -> None:
        self.source = source
        super().__init__(f"{source}: {message}")


class NoSuchPlatformError(LockpinError):
    """An image index has no manifest for the requested platform. ``available``
    lists the platforms it does have (attestations left out), sorted."""

    def __init__(self, *, reference: str, platform: str, available: tuple[str, ...]) -> None:
        self.reference = reference
        self.platform = platform
        self.available = available
        has = ", ".join(available) or "none"
        super().__init__(
            f"{reference} has no image for platform {platform}; it has: {has}. "
            "Pass one of these with --platform."
        )


class LayerError(LockpinError):
    """A layer of an image cannot be read: not a tar archive (or not in the
    compression it claims), truncated, compressed with zstd where no zstd module
    is installed, or holding a file lockpin needs over its size cap. ``layer`` is
    the layer's digest, ``source`` the image it belongs to (a reference)."""

    def __init__(self, message: str, *, layer: str, source: str = "") -> None:
        self.layer = layer
        self.source = source
        where = f"{source}: layer {layer}" if source else f"layer {layer}"
        super().__init__(f"{where}: {message}")
