"""Content digests as the OCI image spec writes them: ``algorithm:hex``.

Pure. Only the algorithms lockpin can compute are accepted (``sha256`` and
``sha512``, lowercase hex of their full length): a digest lockpin cannot check
is as good as none.

API (stable; used by the rest of :mod:`lockpin.image`):

* :func:`check_digest` ``(text, *, what="digest") -> str`` — the digest if well
  formed, else :class:`~lockpin.errors.InputError` saying what is wrong.
* :func:`is_digest` ``(text) -> bool``.
* :func:`digest_of` ``(data, algorithm="sha256") -> str`` — ``"sha256:<hex>"``.
* :func:`hasher_for` ``(digest) -> hashlib object`` — for streaming; compare
  ``f"{algorithm}:{h.hexdigest()}"`` with the digest at the end
  (:func:`algorithm_of` splits it).
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

from .._text import clip
from ..errors import InputError

if TYPE_CHECKING:
    from hashlib import _Hash

__all__ = ["ALGORITHMS", "algorithm_of", "check_digest", "digest_of", "hasher_for", "is_digest"]

#: algorithm -> length of its hex encoding
ALGORITHMS = {"sha256": 64, "sha512": 128}

_DIGEST = re.compile(r"([a-z0-9]+(?:[.+_-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)")
_HEX = re.compile(r"[0-9a-f]+")


def is_digest(text: str) -> bool:
    """Whether ``text`` is a digest lockpin can check."""
    try:
        check_digest(text)
    except InputError:
        return False
    return True


def check_digest(text: str, *, what: str = "digest") -> str:
    """``text`` when it is ``sha256:`` + 64 (or ``sha512:`` + 128) lowercase hex."""
    if not isinstance(text, str):
        raise InputError(f"invalid {what} {repr(text)[:100]}: not a string")
    # a hostile manifest's 4 MB "digest" must not become a 4 MB error
    shown = clip(text, 150)
    match = _DIGEST.fullmatch(text)
    if match is None:
        raise InputError(f"invalid {what} {shown!r}: expected ALGORITHM:HEX, e.g. sha256:<64 hex>")
    algorithm, encoded = match.groups()
    length = ALGORITHMS.get(algorithm)
    if length is None:
        known = ", ".join(sorted(ALGORITHMS))
        raise InputError(
            f"unsupported {what} algorithm {algorithm[:40]!r} in {shown!r}: use {known}"
        )
    if len(encoded) != length or _HEX.fullmatch(encoded) is None:
        raise InputError(
            f"invalid {what} {shown!r}: {algorithm} needs {length} lowercase hex digits"
        )
    return text


def algorithm_of(digest: str) -> str:
    return digest.partition(":")[0]


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    """The digest of ``data``: ``"sha256:<hex>"``."""
    if algorithm not in ALGORITHMS:
        raise InputError(f"unsupported digest algorithm {algorithm!r}")
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def hasher_for(digest: str) -> _Hash:
    """A fresh hash object of ``digest``'s algorithm (the digest must be checked)."""
    return hashlib.new(algorithm_of(check_digest(digest)))
