"""Progress as values: the library reports :class:`Event` s, a :class:`Reporter` renders them.

Library code never prints. Long operations (``compile``, ``hash_requirements``,
``verify``) take ``reporter: Reporter | None`` and call ``reporter.report(event)``
as work completes; the CLI passes a one-line TTY renderer
(``lockpin.cli._output.ProgressLine``), other tools pass their own, tests pass a list.

Events come from the background fetch loop and from the resolver's thread, so a
reporter must be thread-safe and quick: it is called while fetches are in flight.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

__all__ = ["Event", "EventKind", "NullReporter", "Reporter"]

#: What an :class:`Event` says happened:
#:
#: ``"page"``      a project's index page was fetched (``subject``: the project name)
#: ``"metadata"``  a release's core metadata was read (``subject``: the project name)
#: ``"build"``     a PEP 517 metadata build started (``subject``: the sdist's file name)
#: ``"download"``  a whole file was downloaded and checked (``subject``: its file name,
#:                 ``size``: its length)
#: ``"bytes"``     bytes arrived from the network (``size``: how many; no ``subject``)
#: ``"index"``     an apt ``Packages`` index was downloaded and verified (``subject``:
#:                 ``suite/component/binary-arch``, ``size``: its compressed length)
EventKind = Literal["page", "metadata", "build", "download", "bytes", "index"]


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened. ``subject`` names what it happened to (a project
    or a file name, never a URL: URLs may carry credentials); ``size`` is a byte
    count where the kind has one, else 0."""

    kind: EventKind
    subject: str = ""
    size: int = 0


class Reporter(Protocol):
    """Receives progress events. Called from several threads; must not block."""

    def report(self, event: Event) -> None: ...


class NullReporter:
    """A reporter that ignores everything (what ``reporter=None`` means)."""

    def report(self, event: Event) -> None:
        return None
