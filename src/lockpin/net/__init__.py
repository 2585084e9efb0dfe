"""lockpin's single HTTP layer (see :mod:`lockpin.net.http`)."""

from __future__ import annotations

from .cache import DiskCache, default_cache_dir
from .http import Http, HttpConfig, Response
from .redact import redact_text, redact_url

__all__ = [
    "DiskCache",
    "Http",
    "HttpConfig",
    "Response",
    "default_cache_dir",
    "redact_text",
    "redact_url",
]
