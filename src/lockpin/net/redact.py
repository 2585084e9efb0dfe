"""Credential redaction for every URL lockpin prints or writes."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

__all__ = ["redact_text", "redact_url", "split_auth"]

# Greedy up to the last "@" before the path: pip splits the authority there, so
# a raw "@" in a password belongs to the password.
_URL_IN_TEXT = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/\s]+)@")


def redact_url(url: str) -> str:
    """``https://user:secret@host/x`` -> ``https://user:****@host/x``.

    A user name alone is commonly a token (``https://TOKEN@host``), so it is
    masked entirely.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text(url)
    if "@" not in parts.netloc:
        # A raw "#" or "?" in a password ends the netloc early; mask by pattern.
        return redact_text(url)
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, sep, _password = userinfo.partition(":")
    masked = f"{user}:****" if sep else "****"
    return urlunsplit(parts._replace(netloc=f"{masked}@{hostport}"))


def redact_text(text: str) -> str:
    """Redact credentials of every URL that appears inside free text."""

    def _mask(match: re.Match[str]) -> str:
        user, sep, _ = match.group("userinfo").partition(":")
        masked = f"{user}:****" if sep else "****"
        return f"{match.group('scheme')}{masked}@"

    return _URL_IN_TEXT.sub(_mask, text)


def split_auth(url: str) -> tuple[str, tuple[str, str] | None]:
    """Split ``scheme://user:pw@host/…`` into the URL without userinfo and ``(user, pw)``."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    from urllib.parse import unquote

    user, _, password = userinfo.partition(":")
    return urlunsplit(parts._replace(netloc=hostport)), (unquote(user), unquote(password))
