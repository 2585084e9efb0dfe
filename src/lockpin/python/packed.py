"""The parsed-page cache format (LPP3): a page's validated file entries,
grouped by release, stored next to the cached page.

A warm lock would otherwise re-parse ~24 MB of JSON for a large set on every run
(the largest single cost once the network is out of the way). After the first
parse (:func:`lockpin.python.pages.parse_json_page`) the page's files are stored
next to the cached page, grouped by release: a small marshalled index (version ->
offset, length) and one marshalled blob per release. A later run reads the index
and decodes only the releases the resolver looks at (:class:`PackedFiles`).

Only validated entries are packed. The magic names the format *and* the rules
the entries passed: entries packed by an older lockpin (LPP2, which kept any
digest a page gave; LPP3, which kept a filename listed twice and did not record
whether the page gives upload times) are never read back, and every entry is
checked again when it is read (:class:`~lockpin.python.pages.LazyFiles`); a
filename packed twice still yields its first entry only.

Pure: bytes in, bytes out; the cache itself is :mod:`lockpin.net.cache`'s.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from .models import DeferredFiles, PageTimes, version_of, version_text
from .pages import LazyFiles

if TYPE_CHECKING:
    from collections.abc import Sequence

    from packaging.version import Version

    from .models import DistFile, Releases

__all__ = ["PackedFiles", "pack_page"]

log = logging.getLogger(__name__)

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")

_SIDECAR_MAGIC = b"LPP4"


def pack_page(files: LazyFiles) -> bytes:
    """Serialize a lazily parsed page's raw file entries, grouped by release."""
    import marshal

    groups: dict[str, list[dict[str, Any]]] = {}
    other: list[dict[str, Any]] = []
    for raw, filename in zip(files.entries, files.filenames, strict=True):
        key = version_text(filename)
        if key is None:
            other.append(raw)
        else:
            groups.setdefault(key, []).append(raw)
    # One group per release (spellings such as "1.0" and "1.0.0" merged), stored
    # newest first so a reader needs neither to parse every version nor to sort.
    releases: dict[Any, list[dict[str, Any]]] = {}
    for key, raws in groups.items():
        version = version_of(key)
        if version is None:
            other.extend(raws)
        else:
            releases.setdefault(version, []).extend(raws)
    ordered = sorted(releases, reverse=True)
    keys = [str(v) for v in ordered]
    blobs = [marshal.dumps(releases[v]) for v in ordered]
    index: list[tuple[str, int, int]] = []
    offset = 0
    for key, blob in zip(keys, blobs, strict=True):
        index.append((key, offset, len(blob)))
        offset += len(blob)
    head = marshal.dumps((index, marshal.dumps(other), files.notice or "", files.times.given))
    return _SIDECAR_MAGIC + len(head).to_bytes(4, "big") + head + b"".join(blobs)


class PackedFiles(DeferredFiles):
    """A page read back from :func:`pack_page`: releases decoded on demand.

    The page's warning about what it dropped is logged again (each run that
    uses the page says so once) unless ``replay_notice`` is false. ``checked``:
    ``data`` was packed in this process from the page parser's checked entries
    (not read from the cache), so its files are not checked a second time.
    """

    __slots__ = (
        "_all",
        "_base",
        "_checked",
        "_data",
        "_index",
        "_other",
        "_page_url",
        "_releases",
        "_times",
    )

    def __init__(
        self, data: bytes, page_url: str, *, replay_notice: bool = True, checked: bool = False
    ) -> None:
        import marshal

        if data[:4] != _SIDECAR_MAGIC:
            raise ValueError("not a packed page")
        size = int.from_bytes(data[4:8], "big")
        index, other, notice, timed = marshal.loads(data[8 : 8 + size])
        if not isinstance(index, list) or not isinstance(other, bytes) or type(timed) is not bool:
            raise ValueError("not a packed page")
        if notice and replay_notice:
            log.warning("%s", _CONTROL.sub(" ", str(notice)))
        self._data = data
        self._checked = checked  # packed in this process from checked entries
        self._base = 8 + size
        self._index: list[tuple[str, int, int]] = index
        self._other: bytes = other
        self._page_url = page_url
        self._times = PageTimes(page_url, given=timed)
        self._all: LazyFiles | None = None
        self._releases = self._read_releases()

    def _decode(self, offset: int, length: int) -> LazyFiles:
        import marshal

        start = self._base + offset
        raw = _first_entries(marshal.loads(self._data[start : start + length]))
        return LazyFiles(raw, self._page_url, self._times, checked=self._checked)

    def releases(self) -> Releases:
        """The files grouped by release, newest first, as packed (each release
        decoded only when its files are read)."""
        return self._releases

    def _read_releases(self) -> Releases:
        out: list[tuple[Version, Sequence[DistFile]]] = []
        for key, offset, length in self._index:  # newest first, one entry per release
            version = version_of(key)
            if version is not None:
                out.append((version, _PackedRelease(self, offset, length)))
        return out

    def _everything(self) -> LazyFiles:
        if self._all is None:
            import marshal

            raw: list[dict[str, Any]] = []
            for _key, offset, length in self._index:
                start = self._base + offset
                raw.extend(marshal.loads(self._data[start : start + length]))
            raw.extend(marshal.loads(self._other))
            self._all = LazyFiles(
                _first_entries(raw), self._page_url, self._times, checked=self._checked
            )
        return self._all

    def _source(self) -> Sequence[DistFile]:
        return self._everything()


def _first_entries(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The first entry of each filename (the parser packs no repeats; a tampered
    cache entry could)."""
    seen: set[str] = set()
    out = []
    for entry in raw:
        name = entry.get("filename") if isinstance(entry, dict) else None
        if isinstance(name, str):  # anything else fails the check when read
            if name in seen:
                continue
            seen.add(name)
        out.append(entry)
    return out


class _PackedRelease(DeferredFiles):
    __slots__ = ("_files", "_length", "_offset", "_owner")

    def __init__(self, owner: PackedFiles, offset: int, length: int) -> None:
        self._owner = owner
        self._offset = offset
        self._length = length
        self._files: LazyFiles | None = None

    def _source(self) -> Sequence[DistFile]:
        if self._files is None:
            self._files = self._owner._decode(self._offset, self._length)
        return self._files
