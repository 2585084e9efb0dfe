"""lockpin's single HTTP layer: the client (:mod:`~lockpin.net.http`), its
configuration (:mod:`~lockpin.net.config`), URL policy (:mod:`~lockpin.net.policy`),
credentials (:mod:`~lockpin.net.auth`), ``file:`` URLs (:mod:`~lockpin.net.files`),
the on-disk cache (:mod:`~lockpin.net.cache`) and redaction (:mod:`~lockpin.net.redact`)."""

from __future__ import annotations

from .cache import DiskCache, default_cache_dir
from .config import HttpConfig
from .http import Http, Response
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
