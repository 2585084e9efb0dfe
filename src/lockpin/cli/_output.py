"""What the commands print besides their results: warnings, errors, the one-line
progress display on a terminal, and ``--check`` diffs; and the two endings every
command group shares: a compile command delivering its lock (:func:`deliver_lock`:
check, print or write) and a verify command reporting problems
(:func:`report_problems`).

Results go to stdout; everything else goes to stderr, except the ``--check``
diff, which is the result of a check.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

    from ..progress import Event

__all__ = [
    "ONCE",
    "OncePerRun",
    "ProgressLine",
    "deliver_lock",
    "error",
    "internal_error",
    "issue_url",
    "note",
    "progress",
    "read_current",
    "report_problems",
    "warn",
    "warn_all",
    "write_check_diff",
]


class OncePerRun(logging.Filter):
    """Lets each distinct warning through once per run. The resolver may ask for a
    release again on every backtrack (and once per extra, per target); a
    "skipping x==1.0: its sdist does not build" line is one cause, said once.
    Errors and debug lines pass unchanged."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.WARNING:
            return True
        message = record.getMessage()
        if message in self.seen:
            return False
        self.seen.add(message)
        return True


#: installed on the stderr handler the CLI sets up (see ``setup_logging``);
#: cleared when a run starts, so that a second run in the same process warns again
ONCE = OncePerRun()


def note(message: str, *, quiet: bool = False) -> None:
    """A status line (``lockpin: ...``) on stderr, unless ``quiet``."""
    if not quiet:
        print(f"lockpin: {message}", file=sys.stderr)


def warn(message: str, *, quiet: bool = False) -> None:
    if not quiet:
        print(f"lockpin: warning: {message}", file=sys.stderr)


def warn_all(messages: Iterable[str], *, quiet: bool = False) -> None:
    for message in messages:
        warn(message, quiet=quiet)


def error(message: str) -> None:
    """An error, with any credentials in it redacted (errors quote URLs)."""
    from ..net.redact import redact_text

    print(f"lockpin: error: {redact_text(message)}", file=sys.stderr)


def issue_url() -> str | None:
    """The issue tracker of the installed lockpin (its ``Project-URL`` labelled
    Issues, Bug Tracker or Bugs: ``[project.urls]`` in pyproject.toml), else ``None``
    (no address is made up)."""
    from importlib import metadata

    try:
        entries: list[str] = metadata.metadata("lockpin").get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        entries = []
    for entry in entries:
        label, _, url = entry.partition(",")
        if label.strip().lower().replace(" ", "") in {"issues", "bugtracker", "bugs"}:
            return url.strip()
    return None


def internal_error(exc: BaseException, *, verbose: bool) -> None:
    """An exception lockpin did not expect: one short paragraph that says it is a bug
    and where to report it; the traceback before it only when ``verbose`` (it is
    for the report, not for the user). Both redacted: the exception's message may
    quote a URL with credentials."""
    import traceback

    from ..net.redact import redact_text

    if verbose:
        sys.stderr.write(redact_text("".join(traceback.format_exception(exc))))
    # The first line only, capped: a message is not a place for a whole response body.
    text = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
    what = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    hint = "" if verbose else " (run again with -v for the traceback)"
    tracker = issue_url()
    where = f"at {tracker}" if tracker else "to lockpin's maintainers"
    print(
        redact_text(
            f"lockpin: internal error: {what} — this is a bug in lockpin; please report it "
            f"with the command and its -v output{hint} {where}"
        ),
        file=sys.stderr,
    )


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


def write_check_diff(output: str, current: str, wanted: str, *, after: str = "would write") -> None:
    """The unified diff from the lockfile on disk to what would be written, on stdout
    (``after`` labels the new side). A last line without a newline is marked as
    diff marks it, so the next line of the diff does not run into it."""
    import difflib

    for line in difflib.unified_diff(
        current.splitlines(keepends=True),
        wanted.splitlines(keepends=True),
        fromfile=f"{output} (current)",
        tofile=f"{output} ({after})",
    ):
        sys.stdout.write(line)
        if not line.endswith("\n"):
            sys.stdout.write("\n\\ No newline at end of file\n")


def read_current(path: str, *, what: str) -> str:
    """The text of the lock at ``path`` as it stands, or ``""`` when there is none
    to read (missing, unreadable, not a regular file: the output path may name a
    device, so the read is size-capped and regular files only)."""
    from .._io import read_input_bytes
    from ..errors import InputError

    try:
        return read_input_bytes(path, what=what).decode("utf-8", "replace")
    except (OSError, InputError):
        return ""


def deliver_lock(
    output: str,
    text: str,
    *,
    current: str,
    unchanged: bool,
    check: bool,
    dry_run: bool,
    update_with: str,
    written: str,
    kept: str | None = None,
    quiet: bool = False,
) -> int:
    """The end of a compile command; returns its exit code.

    With ``check``: 0 when the lock on disk (``current``) is ``unchanged``, else its
    diff to ``text`` and 1 (``update_with`` names the command that updates it).
    With ``output`` ``-`` or ``dry_run``: ``text`` on stdout. Else ``text`` is
    written to ``output`` atomically and ``written`` noted; but with ``kept``, an
    ``unchanged`` lock is left as it is and ``kept`` noted instead.
    """
    if check:
        if unchanged:
            note(f"{output} is up to date.", quiet=quiet)
            return 0
        write_check_diff(output, current, text)
        note(f"{output} is out of date; run {update_with} to update it.")
        return 1
    if output == "-" or dry_run:
        sys.stdout.write(text)
        return 0
    if unchanged and kept is not None:
        note(kept, quiet=quiet)
        return 0
    from .._io import atomic_write

    atomic_write(output, text)
    note(written, quiet=quiet)
    return 0


def report_problems(problems: Sequence[object], *, summary: str) -> bool:
    """Each problem a verify command found on stdout (they are its result), then
    ``summary`` on stderr; whether there were any (nothing is printed if not)."""
    for problem in problems:
        print(str(problem))
    if problems:
        note(summary)
    return bool(problems)
