"""``tomllib`` on 3.11+, the ``tomli`` backport on 3.10."""

from __future__ import annotations

import sys
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

TOMLDecodeError = tomllib.TOMLDecodeError


def loads(text: str) -> dict[str, Any]:
    """``tomllib.loads``; a document nested too deeply for the parser's recursion is
    a :class:`TOMLDecodeError` like any other invalid document, not a crash."""
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except RecursionError:
        raise TOMLDecodeError("the document is nested too deeply") from None
    return data


__all__ = ["TOMLDecodeError", "loads"]
