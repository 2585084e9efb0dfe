"""Credential redaction for every URL lockpin prints or writes."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

__all__ = ["redact_text", "redact_url", "split_auth"]

# What the redaction masks, as a regex (kept as the specification; matching it with
# ``re`` directly backtracks quadratically on long runs of letters or of
# non-separators, so :func:`redact_text` implements it by hand in linear time):
#
#     (?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/\s]+)@
#
# The userinfo is greedy up to the last "@" before the path: pip splits the
# authority there, so a raw "@" in a password belongs to the password.
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")
_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
# The authority part after "://": no "/" and no whitespace. Followed by nothing,
# so the engine never backtracks into it.
_AUTHORITY = re.compile(r"[^/\s]*")


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
    """Redact credentials of every URL that appears inside free text.

    Linear in ``len(text)``: each ``"://"`` is found once; the scheme before it
    is scanned back only to the end of the previous match or "://", and the
    authority after it (which cannot hold another "://") is scanned once.
    """
    if "@" not in text:
        return text
    out: list[str] = []
    done = 0  # text[:done] is already in ``out``
    search_from = 0
    while (sep := text.find("://", search_from)) != -1:
        authority = _AUTHORITY.match(text, sep + 3)
        assert authority is not None  # ``*`` always matches
        end = authority.end()
        # The authority may end with the ":" of the next "://" ("a://b:c://d@e").
        search_from = max(end - 1, sep + 3)
        at = text.rfind("@", sep + 3, end)
        if at <= sep + 3:
            continue  # no userinfo, or an empty one ("://@" is not masked)
        # The scheme: letters, digits, "+.-" back from "://", starting at a letter.
        start = sep
        while start > done and text[start - 1] in _SCHEME_CHARS:
            start -= 1
        if not any(text[i] in _LETTERS for i in range(start, sep)):
            continue
        user, colon, _ = text[sep + 3 : at].partition(":")
        masked = f"{user}:****" if colon else "****"
        out.append(text[done : sep + 3])
        out.append(masked)
        done = at  # keep the "@" and what follows
    out.append(text[done:])
    return "".join(out)


def split_auth(url: str) -> tuple[str, tuple[str, str] | None]:
    """Split ``scheme://user:pw@host/…`` into the URL without userinfo and ``(user, pw)``."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    from urllib.parse import unquote

    user, _, password = userinfo.partition(":")
    return urlunsplit(parts._replace(netloc=hostport)), (unquote(user), unquote(password))
