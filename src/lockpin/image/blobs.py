"""Image blobs on disk, by digest: the cache of :class:`~lockpin.image.registry.Registry`.

A blob is immutable (its name is the hash of its bytes), so it is kept forever,
as a plain file ``<cache>/v1/oci-blobs/<algorithm>/<hh>/<hex>`` (no header: the
name says everything), and streamed back in chunks: a 300 MB layer never sits in
memory. The one rule, for every blob whatever its size:

* a blob is **written** only after all its bytes were checked against its size
  and digest: :meth:`BlobStore.writer` fills a temporary file in the target
  directory as the bytes stream past; :meth:`BlobWriter.commit` moves it into
  place (``os.replace``: readers see the whole file or none),
  :meth:`BlobWriter.abort` (a cut stream, a mismatch, a consumer that stopped)
  deletes it;
* a blob is **re-checked on every read**: :meth:`BlobStore.open` hashes the file
  before handing it out (from the one open file descriptor, so a concurrent
  replace cannot swap the bytes between check and use). A file that does not
  hash to its name is deleted, with a warning, and counts as a miss (the caller
  fetches it again); a file of another size than the one asked for is a miss too
  (the descriptor, not the file, may be wrong: the fetch will say).

A cache that cannot be written (read-only, disk full) never fails a run: the
writer logs a warning and stops writing. Temporary files a killed process left
behind are swept like :class:`~lockpin.net.cache.DiskCache`'s.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from ..net.cache import DiskCache
from .digest import algorithm_of, check_digest, hasher_for

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["BlobStore", "BlobWriter"]

log = logging.getLogger(__name__)

_VERSION = "v1"
_KIND = "oci-blobs"
_TMP_PREFIX = ".tmp-"  # the prefix DiskCache.sweep removes when stale
CHUNK = 1 << 16


class BlobStore:
    """Blobs under ``root`` (the Http cache's directory)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root) / _VERSION / _KIND
        self._swept: set[Path] = set()

    def path(self, digest: str) -> Path:
        algorithm, _, hexdigest = check_digest(digest).partition(":")
        return self.root / algorithm / hexdigest[:2] / hexdigest

    def open(self, digest: str, size: int | None = None) -> BinaryIO | None:
        """The blob ``digest`` (of ``size`` bytes, when given), checked, positioned
        at its start; ``None`` when it is not cached (or not usable: see the module
        docstring). The caller closes it."""
        path = self.path(digest)
        try:
            fh: BinaryIO = path.open("rb")
        except OSError:
            return None
        try:
            actual_size = os.fstat(fh.fileno()).st_size
            if size is not None and actual_size != size:
                fh.close()
                return None
            hasher = hasher_for(digest)
            for chunk in iter(lambda: fh.read(CHUNK), b""):
                hasher.update(chunk)
            actual = f"{algorithm_of(digest)}:{hasher.hexdigest()}"
            if actual != digest:
                fh.close()
                log.warning(
                    "cached blob %s hashes to %s; deleting it, fetching it again", digest, actual
                )
                with contextlib.suppress(OSError):
                    path.unlink()
                return None
            fh.seek(0)
        except OSError as exc:
            fh.close()
            log.warning("cannot read cached blob %s: %s", digest, exc)
            return None
        return fh

    def chunks(self, fh: BinaryIO) -> Iterator[bytes]:
        """The bytes of an opened blob, in chunks; closes it."""
        with fh:
            yield from iter(lambda: fh.read(CHUNK), b"")

    def writer(self, digest: str) -> BlobWriter:
        """A writer for blob ``digest``; nothing is visible until it is committed."""
        path = self.path(digest)
        if path.parent not in self._swept:
            self._swept.add(path.parent)
            DiskCache.sweep(path.parent)
        return BlobWriter(path)


class BlobWriter:
    """Fills a temporary file next to ``path``; see :class:`BlobStore`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: BinaryIO | None = None
        self._tmp: str | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, self._tmp = tempfile.mkstemp(dir=path.parent, prefix=_TMP_PREFIX)
            self._fh = os.fdopen(fd, "wb")
        except OSError as exc:
            self._give_up(exc)

    def _give_up(self, exc: OSError) -> None:
        log.warning("cannot write the blob cache in %s: %s", self.path.parent, exc)
        self.abort()

    def write(self, data: bytes) -> None:
        if self._fh is None:
            return
        try:
            self._fh.write(data)
        except OSError as exc:
            self._give_up(exc)

    def commit(self) -> None:
        """Move the complete, checked blob into place."""
        if self._fh is None or self._tmp is None:
            return
        try:
            self._fh.close()
            self._fh = None
            os.replace(self._tmp, self.path)
            self._tmp = None
        except OSError as exc:
            self._give_up(exc)

    def abort(self) -> None:
        """Forget what was written (a cut stream, a mismatch, an early stop)."""
        if self._fh is not None:
            with contextlib.suppress(OSError):
                self._fh.close()
            self._fh = None
        if self._tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._tmp)
            self._tmp = None
