"""What the commands print besides their results: warnings, errors, the one-line
progress display on a terminal, and ``--check`` diffs.

Results go to stdout; everything here goes to stderr, except the ``--check``
diff, which is the result of a check.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from ..progress import Event

__all__ = ["ProgressLine", "error", "note", "progress", "warn", "write_check_diff"]


def note(message: str, *, quiet: bool = False) -> None:
    """A status line (``lockpin: ...``) on stderr, unless ``quiet``."""
    if not quiet:
        print(f"lockpin: {message}", file=sys.stderr)


def warn(message: str, *, quiet: bool = False) -> None:
    if not quiet:
        print(f"lockpin: warning: {message}", file=sys.stderr)


def error(message: str) -> None:
    """An error, with any credentials in it redacted (errors quote URLs)."""
    from ..net.redact import redact_text

    print(f"lockpin: error: {redact_text(message)}", file=sys.stderr)


class ProgressLine:
    """A :class:`~lockpin.progress.Reporter` that redraws one status line on a
    terminal, at most every ``interval`` seconds (``clock`` tells the time).

    The line counts what the events say happened: ``lockpin: 12 projects
    discovered, 10 resolved, 1 built, 3.4 MB fetched (numpy)``; counters still at
    zero are left out, the megabytes always shown.
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        interval: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.interval = interval
        self.clock = clock
        self.pages = 0
        self.metadata = 0
        self.builds = 0
        self.downloads = 0
        self.indexes = 0
        self.bytes = 0
        self._last: float | None = None
        self._lock = threading.Lock()
        self._shown = False

    def report(self, event: Event) -> None:
        with self._lock:
            if event.kind == "page":
                self.pages += 1
            elif event.kind == "metadata":
                self.metadata += 1
            elif event.kind == "build":
                self.builds += 1
            elif event.kind == "download":
                self.downloads += 1
            elif event.kind == "index":
                self.indexes += 1
            elif event.kind == "bytes":
                self.bytes += event.size
            now = self.clock()
            if self._last is None or now - self._last >= self.interval:
                self._last = now
                self.stream.write("\r\x1b[K" + self.line(event.subject))
                self.stream.flush()
                self._shown = True

    def line(self, subject: str = "") -> str:
        parts = [
            f"{count} {what}"
            for count, what in (
                (self.indexes, "apt indexes verified"),
                (self.pages, "projects discovered"),
                (self.metadata, "resolved"),
                (self.builds, "built"),
                (self.downloads, "downloaded"),
            )
            if count
        ]
        parts.append(f"{self.bytes / 1e6:.1f} MB fetched")
        return "lockpin: " + ", ".join(parts) + (f" ({subject})" if subject else "")

    def close(self) -> None:
        """Erase the line, so that what is printed next starts on a clean line."""
        with self._lock:
            if self._shown:
                self.stream.write("\r\x1b[K")
                self.stream.flush()
                self._shown = False


@contextlib.contextmanager
def progress(*, quiet: bool) -> Iterator[ProgressLine | None]:
    """A progress line on stderr for the duration of a call, erased afterwards even
    if the call fails; ``None`` unless stderr is a terminal (never in CI logs) or
    with ``-q``."""
    line = None if quiet or not sys.stderr.isatty() else ProgressLine(sys.stderr)
    try:
        yield line
    finally:
        if line is not None:
            line.close()


def write_check_diff(output: str, current: str, wanted: str) -> None:
    """The unified diff from the lockfile on disk to what would be written, on stdout."""
    import difflib

    sys.stdout.writelines(
        difflib.unified_diff(
            current.splitlines(keepends=True),
            wanted.splitlines(keepends=True),
            fromfile=f"{output} (current)",
            tofile=f"{output} (would write)",
        )
    )
