"""A small on-disk HTTP cache, safe for several lockpin processes at once.

Entries are single files: one line of JSON metadata, then the body. Writers
write a temporary file in the same directory and ``os.replace`` it into place,
so a reader sees either the old entry or the new one, never a torn one; two
writers racing simply leave the last complete entry. A corrupt entry (a header
that does not parse, a body of another size or sha256 than its header says: a
damaged disk, a hand edit) is deleted and treated as a miss, so that it is
fetched again rather than trusted forever. A writer killed between the two
steps (``kill -9``) leaves a ``.tmp-*`` file behind: the first write into a
directory in a process removes such files there once they are older than
:data:`STALE_TMP_SECONDS` (a fresh one may belong to a writer still at work).

Two kinds of data live here:

* ``pages`` — index pages, revalidated by the server's ``Cache-Control`` /
  ``ETag`` / ``Last-Modified`` when it sends them, else fresh for a TTL;
* immutable data (``metadata``, ``sha256``) keyed by content (file hash) or by
  a URL whose content never changes; kept until the user deletes the cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["STALE_TMP_SECONDS", "CacheEntry", "DiskCache", "default_cache_dir"]

log = logging.getLogger(__name__)

_VERSION = "v1"
_TMP_PREFIX = ".tmp-"
#: Age after which an orphaned temporary file is removed. Writes take
#: milliseconds; an hour leaves a wide margin for a slow disk or a paused process.
STALE_TMP_SECONDS = 3600.0


def default_cache_dir() -> Path:
    """``$LOCKPIN_CACHE_DIR``, else the platform's user cache directory."""
    env = os.environ.get("LOCKPIN_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("lockpin", appauthor=False))


@dataclass(frozen=True, slots=True)
class CacheEntry:
    body: bytes
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def stored_at(self) -> float:
        value = self.meta.get("stored_at", 0.0)
        return float(value) if isinstance(value, (int, float)) else 0.0


class DiskCache:
    """Content of ``root``: ``v1/<kind>/<hh>/<sha256-of-key>``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._swept: set[Path] = set()

    def _path(self, kind: str, key: str) -> Path:
        digest = hashlib.sha256(key.encode()).hexdigest()
        return self.root / _VERSION / kind / digest[:2] / digest

    def get(self, kind: str, key: str) -> CacheEntry | None:
        path = self._path(kind, key)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        head, sep, body = data.partition(b"\n")
        try:
            if not sep:
                raise ValueError("no header line")
            meta = json.loads(head)
            if not isinstance(meta, dict) or meta.get("key") != key:
                raise ValueError("header does not match the key")
            size = meta.get("size")
            if size is not None and size != len(body):
                raise ValueError("truncated body")
            digest = meta.get("sha256")  # absent in entries written before it was kept
            if digest is not None and digest != hashlib.sha256(body).hexdigest():
                raise ValueError("the body does not match its sha256")
        except ValueError as exc:
            log.debug("discarding corrupt cache entry %s: %s", path, exc)
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        return CacheEntry(body=body, meta=meta)

    def put(self, kind: str, key: str, body: bytes, meta: dict[str, Any] | None = None) -> None:
        path = self._path(kind, key)
        header = dict(meta or {})
        header.update(
            key=key,
            size=len(body),
            sha256=hashlib.sha256(body).hexdigest(),
            stored_at=header.get("stored_at", time.time()),
        )
        payload = json.dumps(header, separators=(",", ":"), sort_keys=True).encode() + b"\n" + body
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.parent not in self._swept:
                self._swept.add(path.parent)
                self.sweep(path.parent)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_TMP_PREFIX)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(payload)
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError as exc:
            # A cache that cannot be written (read-only, disk full) must not fail a lock.
            log.warning("cannot write cache entry in %s: %s", path.parent, exc)

    @staticmethod
    def sweep(directory: Path, *, older_than: float = STALE_TMP_SECONDS) -> int:
        """Remove ``.tmp-*`` files in ``directory`` not modified for ``older_than``
        seconds (left by a killed writer); return how many were removed."""
        removed = 0
        cutoff = time.time() - older_than
        try:
            with os.scandir(directory) as entries:
                for item in entries:
                    if not item.name.startswith(_TMP_PREFIX):
                        continue
                    try:
                        if not item.is_file(follow_symlinks=False):
                            continue
                        if item.stat(follow_symlinks=False).st_mtime >= cutoff:
                            continue
                        os.unlink(item.path)
                    except OSError:
                        continue  # gone already (another sweeper), or not ours to remove
                    removed += 1
        except OSError as exc:
            log.debug("cannot sweep %s: %s", directory, exc)
        if removed:
            log.debug("removed %d stale temporary file(s) in %s", removed, directory)
        return removed

    def touch(self, kind: str, key: str, entry: CacheEntry, **changes: Any) -> None:
        """Rewrite an entry's metadata (e.g. after a 304), keeping its body."""
        meta = {
            k: v for k, v in entry.meta.items() if k not in {"key", "size", "sha256", "stored_at"}
        }
        meta.update(changes)
        self.put(kind, key, entry.body, meta)
