"""Which URLs lockpin may fetch (pure: URL strings and the config in, a refusal out).

* https and ``file:`` are fetched; plain ``http://`` only from a loopback host or
  a host the user allowed (``HttpConfig.allow_insecure_hosts``: ``HOST`` for any
  port, ``HOST:PORT`` for that port only); any other scheme is refused.
* Every request the client sends, redirects included, is checked before a byte
  goes out (:func:`check_request`), and a redirect never leads off http(s) (to
  ``file:``, ``ftp:``, ...).
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ..errors import NetworkError, UnsafeURLError
from .redact import redact_url

if TYPE_CHECKING:
    from .config import HttpConfig

__all__ = ["OffHttpRedirect", "check_request", "check_url", "is_loopback"]


class OffHttpRedirect(Exception):
    """A request (a redirect) leads off http(s). Raised from inside the client's
    request hook; the client reports it as a :class:`~lockpin.errors.NetworkError`
    naming the URL first asked for."""

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.target = target


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (IPv6 in brackets or not)."""
    if host in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_url(url: str, config: HttpConfig) -> None:
    """Refuse plain http to non-loopback hosts unless the user allowed the host
    (``HOST``: any port; ``HOST:PORT``: that port only), and schemes other than
    http(s) and ``file:``."""
    parts = urlsplit(url)
    if parts.scheme == "http":
        host = parts.hostname or ""
        allowed = config.allow_insecure_hosts
        port = parts.netloc.rpartition("@")[2].rpartition("]")[2].partition(":")[2] or "80"
        if not is_loopback(host) and host not in allowed and f"{host}:{port}" not in allowed:
            raise UnsafeURLError(redact_url(url))
    elif parts.scheme not in {"https", "file"}:
        raise NetworkError(
            f"unsupported URL scheme in {redact_url(url)}: use https:// (or file://).",
            url=redact_url(url),
        )


def check_request(url: str, config: HttpConfig) -> None:
    """A request about to go to a server (redirects included): never off http(s)
    (:class:`OffHttpRedirect`), and never to a refused plain-http host."""
    if urlsplit(url).scheme not in {"http", "https"}:
        raise OffHttpRedirect(url)
    check_url(url, config)
