"""Credentials for a request: from its URL, learnt from an index URL for the
files of that host, or from ``~/.netrc`` (``$NETRC``).

Credentials are kept apart from URLs as soon as they are seen, so that nothing
printed or written carries them (see :mod:`lockpin.net.redact`).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .redact import split_auth

if TYPE_CHECKING:
    import netrc

__all__ = ["Credentials"]

log = logging.getLogger(__name__)


class Credentials:
    """The credentials of one run, per host. ``use_netrc`` consults the netrc file
    (read once, on first need) for hosts nothing else gave credentials for."""

    def __init__(self, *, use_netrc: bool = True) -> None:
        self.use_netrc = use_netrc
        self._by_host: dict[str, tuple[str, str]] = {}
        self._netrc: netrc.netrc | None = None
        self._netrc_loaded = False

    def remember(self, url: str) -> str:
        """Remember credentials embedded in an index URL; return the URL without them.

        Files under the same host (a private index serving its own files) get
        the same credentials, as pip does.
        """
        bare, auth = split_auth(url)
        if auth is not None:
            host = urlsplit(bare).netloc
            self._by_host.setdefault(host, auth)
        return bare

    def for_url(self, url: str) -> tuple[str, tuple[str, str] | None]:
        """``url`` without credentials, and the ``(user, password)`` to send with it:
        the URL's own, else the ones learnt for its host, else the netrc file's."""
        bare, auth = split_auth(url)
        host = urlsplit(bare).netloc
        if auth is None:
            auth = self._by_host.get(host)
        if auth is None and self.use_netrc:
            auth = self._netrc_auth(urlsplit(bare).hostname or "")
        return bare, auth

    def _netrc_auth(self, host: str) -> tuple[str, str] | None:
        if not self._netrc_loaded:
            self._netrc_loaded = True
            import netrc

            path = os.environ.get("NETRC") or str(Path.home() / ".netrc")
            try:
                self._netrc = netrc.netrc(path)
            except (OSError, netrc.NetrcParseError) as exc:
                if Path(path).exists():
                    log.warning("ignoring unreadable netrc file %s: %s", path, exc)
                self._netrc = None
        if self._netrc is None or not host:
            return None
        found = self._netrc.authenticators(host)
        if found is None:
            return None
        login, _account, password = found
        return (login or "", password or "")
