"""Text shortened for a message.

A hostile file or server can hand lockpin a 50 MB field, line, version or digest; an
error that quotes it must not become a 50 MB message. Callers keep the whole value
on the error's attributes and quote only :func:`clip` of it.
"""

from __future__ import annotations

__all__ = ["clip"]


def clip(text: str, limit: int) -> str:
    """``text`` when it has at most ``limit`` characters, else its first
    ``limit - 3`` and ``...``."""
    return text if len(text) <= limit else text[: limit - 3] + "..."
