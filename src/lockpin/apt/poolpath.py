"""The one rule for a pool path (a ``Packages`` stanza's ``Filename``, an apt.lock
pin's ``filename``). Pure, and imports nothing of lockpin, so that both
:mod:`lockpin.apt.packages` (what an archive serves) and :mod:`lockpin.apt.lock`
(what a lock file says, maybe after a hand edit) use it without an import cycle.

A pool path is joined to an archive URL and names a downloaded file, so only a
plain relative path is accepted: the characters ``A-Za-z0-9._+~%-`` and ``/``
(no URL specials that would change what the URL names, ``:`` could make it a
scheme; no whitespace, no non-ASCII: archives never use them), no ``/`` at the
start, no empty, ``.`` or ``..`` segment, and no percent-encoded ``.``, ``/`` or
``\\``: a server decodes ``%2e%2e`` into ``..`` (``%3a``, apt's spelling of an
epoch colon, stays allowed).
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["pool_path_problem"]

_CHARS: Final = re.compile(r"[A-Za-z0-9._+~%/-]*")
_ENCODED: Final = re.compile(r"%(?:2[eEfF]|5[cC])")


def pool_path_problem(path: str) -> str | None:
    """Why ``path`` is not a plain relative pool path, or ``None`` when it is one."""
    if path.startswith("/"):
        return "an absolute path"
    if not path or _CHARS.fullmatch(path) is None:
        return "has whitespace, control or unexpected characters"
    if any(part in ("", ".", "..") for part in path.split("/")):
        return "has an empty, '.' or '..' path segment"
    if _ENCODED.search(path):
        return "has a percent-encoded '.', '/' or '\\'"
    return None
