"""Every error a lockpin user can see.

All of them derive from :class:`LockpinError`. Each carries the data that names
the thing at fault (a file and line, a project, a URL with its credentials
redacted) and its message says what to do next. The CLI prints ``str(error)``
and exits non-zero; it never shows a traceback for these.
"""

from __future__ import annotations

__all__ = [
    "BuildError",
    "IndexError_",
    "InputError",
    "IntegrityError",
    "InvalidMetadataError",
    "LockpinError",
    "NetworkError",
    "NoSuchProjectError",
    "NoSuchVersionError",
    "OfflineError",
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


class NetworkError(LockpinError):
    """A URL could not be fetched after every retry. ``url`` is redacted."""

    def __init__(self, message: str, *, url: str) -> None:
        self.url = url
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


class IndexError_(LockpinError):
    """An index answered something lockpin cannot parse. ``url`` is redacted."""

    def __init__(self, message: str, *, url: str) -> None:
        self.url = url
        super().__init__(message)


class IntegrityError(LockpinError):
    """What a source served disagrees with what it declared (a size, a sha256, a
    signature): lockpin refuses it. ``url`` is redacted; ``expected`` and ``actual``
    name both values so the user can tell a broken mirror from an attack."""

    def __init__(self, message: str, *, url: str, expected: str = "", actual: str = "") -> None:
        self.url = url
        self.expected = expected
        self.actual = actual
        super().__init__(message)


class InvalidMetadataError(IndexError_):
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


class NoSuchVersionError(LockpinError):
    """The project exists but not in the requested version (or no file of it fits)."""

    def __init__(self, project: str, version: str, message: str) -> None:
        self.project = project
        self.version = version
        super().__init__(message)


class BuildError(LockpinError):
    """A PEP 517 metadata build of an sdist failed; the message holds its output."""


class ResolutionError(LockpinError):
    """The requirements cannot be satisfied together; the message explains why."""

    exit_code = 1


class OfflineError(LockpinError):
    """``--offline`` was given and something needed is not in the cache."""

    def __init__(self, url: str) -> None:
        self.url = url
        super().__init__(
            f"--offline: {url} is not in the cache. Run once without --offline to fill it."
        )
