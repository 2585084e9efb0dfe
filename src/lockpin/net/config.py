"""Every knob of the HTTP layer (:class:`HttpConfig`) and the size limits it enforces.

Bodies are never trusted further than they are checked: every body is read under
a size cap (pages: :data:`DEFAULT_MAX_PAGE_BYTES`, downloads:
:data:`DEFAULT_MAX_DOWNLOAD_BYTES`), and a body over its cap ends in the one
error :func:`too_large` builds, naming the URL and the limit. Pure values: no
network, no file system.

A command's total time budget is a :class:`Deadline`: an instant on the
``time.monotonic()`` clock fixed when the command starts, shared by every
:class:`~lockpin.net.http.Http` client built from the same :class:`HttpConfig`
(apt opens two, a compile one), so the budget is the command's, not a client's.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import DeadlineError, NetworkError
from .redact import redact_url

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "DEFAULT_MAX_DOWNLOAD_BYTES",
    "DEFAULT_MAX_PAGE_BYTES",
    "DEFAULT_MAX_RETRY_AFTER",
    "Deadline",
    "HttpConfig",
    "too_large",
]

#: Largest index page (or range response) read into memory: PyPI's biggest
#: project pages are a few MiB; 64 MiB leaves room and still bounds a hostile one.
DEFAULT_MAX_PAGE_BYTES = 64 << 20
#: Largest file downloaded (to hash it or read its metadata).
DEFAULT_MAX_DOWNLOAD_BYTES = 1 << 30
#: Longest wait a ``Retry-After`` header may impose, in seconds.
DEFAULT_MAX_RETRY_AFTER = 60.0


@dataclass(frozen=True, slots=True)
class Deadline:
    """A total time budget: ``seconds`` long, ending at ``at`` on the
    ``time.monotonic()`` clock (an instant, not a duration, so that every client
    and every retry of one command counts against the same end)."""

    at: float
    seconds: float

    @classmethod
    def after(cls, seconds: float, *, now: float | None = None) -> Deadline:
        """The deadline ``seconds`` from ``now`` (default: this moment). ``seconds``
        must be a positive, finite number (:class:`ValueError` otherwise)."""
        if not (math.isfinite(seconds) and seconds > 0):
            raise ValueError(f"a deadline must be a positive number of seconds, not {seconds!r}")
        start = time.monotonic() if now is None else now
        return cls(at=start + seconds, seconds=seconds)

    def remaining(self) -> float:
        """Seconds left (0.0 once it has passed)."""
        return max(0.0, self.at - time.monotonic())

    def passed(self) -> bool:
        return time.monotonic() >= self.at

    def error(self, url: str, attempts: int) -> DeadlineError:
        """The error that ends a command whose budget ran out fetching ``url``."""
        shown = redact_url(url)
        budget = f"{self.seconds:g}"
        return DeadlineError(
            f"gave up after the --deadline of {budget} s: still fetching {shown} "
            f"({attempts} attempt(s)); raise --deadline or check the network.",
            url=shown,
            attempts=attempts,
            seconds=self.seconds,
        )


@dataclass(frozen=True, slots=True)
class HttpConfig:
    """Every knob of the HTTP layer; the CLI maps its flags onto this."""

    timeout: float = 30.0
    retries: int = 3
    backoff: float = 0.4
    max_connections: int = 32
    http2: bool = True
    allow_insecure_hosts: frozenset[str] = frozenset()
    cache_dir: Path | None = None
    offline: bool = False
    refresh: bool = False
    max_age: int = 600
    use_netrc: bool = True
    user_agent: str = "lockpin"
    #: cap on a page, ``.metadata`` file or range response held in memory
    max_page_bytes: int = DEFAULT_MAX_PAGE_BYTES
    #: cap on a downloaded file (:meth:`Http.download`, :meth:`Http.sha256_of`)
    max_download_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES
    #: cap on the wait a server's ``Retry-After`` may ask for
    max_retry_after: float = DEFAULT_MAX_RETRY_AFTER
    max_redirects: int = 20
    #: the command's total budget for network work (``--deadline``); ``None``: none.
    #: Each request waits at most what is left of it, and no retry or back-off
    #: goes past it (:class:`~lockpin.errors.DeadlineError`).
    deadline: Deadline | None = None


def _size_text(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    return f"{n} bytes"


def too_large(url: str, limit: int, what: str, *, declared: int | None = None) -> NetworkError:
    """The error for a body of ``what`` (``"a page"``, ``"a download"``, ...) over
    ``limit`` bytes, as ``declared`` up front or as received."""
    seen = f"it declares {declared} bytes" if declared is not None else "it sent more"
    return NetworkError(
        f"{redact_url(url)} is larger than the {_size_text(limit)} limit for {what} ({seen}); "
        "lockpin stopped reading it. The source may be broken or hostile; if the file is "
        "genuine, raise the limit (HttpConfig.max_page_bytes / max_download_bytes).",
        url=redact_url(url),
    )
