"""Parse index project pages: PEP 691 JSON and PEP 503 HTML (pure, no I/O).

Both formats produce the same :class:`~lockpin.python.models.ProjectPage`, so
the rest of lockpin never knows which one an index spoke.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from html.parser import HTMLParser
from typing import Any, overload
from urllib.parse import urldefrag, urljoin

from packaging.utils import canonicalize_name

from ..errors import IndexError_
from ..net.redact import redact_url
from .models import DeferredFiles, DistFile, ProjectPage, version_of, version_text

__all__ = ["JSON_CONTENT_TYPE", "parse_html_page", "parse_json_page", "parse_page"]

JSON_CONTENT_TYPE = "application/vnd.pypi.simple.v1+json"
ACCEPT = f"{JSON_CONTENT_TYPE}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"


def parse_page(content: bytes, *, url: str, content_type: str, name: str) -> ProjectPage:
    """Dispatch on the response's content type (sniffing when it is missing)."""
    ctype = content_type.lower()
    if "json" in ctype or (not ctype and content.lstrip()[:1] == b"{"):
        return parse_json_page(content, url=url, name=name)
    return parse_html_page(content, url=url, name=name)


def _parse_time(value: object) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    text = value[:-1] + "+00:00" if value.endswith("Z") else value
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def _metadata_flag(value: object) -> bool | dict[str, str] | None:
    if value is None:
        return None
    if isinstance(value, dict):
        return {str(k).lower(): str(v).lower() for k, v in value.items()}
    return bool(value)


def parse_json_page(content: bytes, *, url: str, name: str) -> ProjectPage:
    """PEP 691 (with PEP 700 ``size``/``upload-time`` and PEP 714 ``core-metadata``)."""
    try:
        data = json.loads(content)
    except (ValueError, UnicodeDecodeError) as exc:
        raise IndexError_(
            f"the index page {redact_url(url)} is not valid JSON ({exc}). "
            "Check that --index-url points at a PEP 503/691 simple index.",
            url=redact_url(url),
        ) from exc
    if not isinstance(data, dict) or not isinstance(data.get("files"), list):
        raise IndexError_(
            f"the index page {redact_url(url)} is JSON but not a PEP 691 project page "
            "(no 'files' list).",
            url=redact_url(url),
        )
    major = str(data.get("meta", {}).get("api-version", "1.0")).split(".")[0]
    if major != "1":
        raise IndexError_(
            f"{redact_url(url)} speaks simple API version {major}; lockpin understands 1.x.",
            url=redact_url(url),
        )
    raw_files = [
        raw
        for raw in data["files"]
        if isinstance(raw, dict)
        and isinstance(raw.get("filename"), str)
        and isinstance(raw.get("url"), str)
    ]
    return ProjectPage(name=canonicalize_name(name), url=url, files=LazyFiles(raw_files, url))


class LazyFiles(Sequence[DistFile]):
    """The files of a PEP 691 page, turned into :class:`DistFile` values only when
    read. A large project lists thousands of files and a lock reads a handful;
    grouping by version needs only :attr:`filenames`."""

    __slots__ = ("_done", "_page_url", "_raw", "filenames", "releases_cache")

    def __init__(self, raw: list[dict[str, Any]], page_url: str) -> None:
        self._raw = raw
        self._page_url = page_url
        self._done: list[DistFile | None] = [None] * len(raw)
        self.filenames: list[str] = [r["filename"] for r in raw]
        #: :func:`lockpin.python.resolver.releases_of` keeps its grouping here
        self.releases_cache: object = None

    def __len__(self) -> int:
        return len(self._raw)

    @overload
    def __getitem__(self, index: int) -> DistFile: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[DistFile]: ...
    def __getitem__(self, index: int | slice) -> DistFile | Sequence[DistFile]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        item = self._done[index]
        if item is None:
            item = self._done[index] = _json_file(self._raw[index], self._page_url)
        return item

    def __iter__(self) -> Iterator[DistFile]:
        for i in range(len(self._raw)):
            yield self[i]


def _json_file(raw: dict[str, Any], page_url: str) -> DistFile:
    filename: str = raw["filename"]
    href: str = raw["url"]
    hashes = raw.get("hashes") or {}
    yanked = raw.get("yanked", False)
    meta = raw.get("core-metadata", raw.get("dist-info-metadata"))
    size = raw.get("size")
    rp = raw.get("requires-python")
    return DistFile(
        filename=filename,
        # urljoin is costly at tens of thousands of files; most URLs are absolute.
        url=href if href.startswith(("https://", "http://")) else urljoin(page_url, href),
        hashes={str(k).lower(): str(v).lower() for k, v in hashes.items()}
        if isinstance(hashes, dict)
        else {},
        requires_python=rp if isinstance(rp, str) and rp.strip() else None,
        yanked=bool(yanked),
        yanked_reason=yanked if isinstance(yanked, str) and yanked else None,
        size=size if isinstance(size, int) else None,
        upload_time=_parse_time(raw.get("upload-time")),
        core_metadata=_metadata_flag(meta),
    )


class _AnchorParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.anchors: list[tuple[dict[str, str | None], list[str]]] = []
        self._text: list[str] | None = None
        self.saw_tag = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.saw_tag = True
        if tag == "base" and self.base is None:
            self.base = dict(attrs).get("href")
        elif tag == "a":
            self._text = []
            self.anchors.append((dict(attrs), self._text))

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._text = None

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)


def _hash_flag(value: str | None) -> bool | dict[str, str]:
    """``data-core-metadata`` is either "true" or ``<algo>=<hex>``."""
    if value is None or value.strip().lower() in {"", "true"}:
        return True
    algo, sep, digest = value.partition("=")
    if sep and algo and digest:
        return {algo.strip().lower(): digest.strip().lower()}
    return True


def parse_html_page(content: bytes, *, url: str, name: str) -> ProjectPage:
    """PEP 503 anchors, with PEP 592 yanking and PEP 658/714 metadata attributes."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise IndexError_(
            f"the index page {redact_url(url)} is not UTF-8 HTML ({exc}).", url=redact_url(url)
        ) from exc
    parser = _AnchorParser()
    parser.feed(text)
    parser.close()
    if text.strip() and not parser.saw_tag:
        raise IndexError_(
            f"the index page {redact_url(url)} is not HTML. "
            "Check that --index-url points at a PEP 503/691 simple index.",
            url=redact_url(url),
        )
    base = urljoin(url, parser.base) if parser.base else url
    files: list[DistFile] = []
    for attrs, text_parts in parser.anchors:
        href = attrs.get("href")
        if not href:
            continue
        file_url, fragment = urldefrag(urljoin(base, href))
        filename = file_url.rsplit("/", 1)[-1]
        from urllib.parse import unquote

        filename = unquote(filename) or "".join(text_parts).strip()
        hashes: dict[str, str] = {}
        if fragment:
            algo, sep, digest = fragment.partition("=")
            if sep and algo.lower() in {"sha256", "sha384", "sha512", "sha1", "sha224", "md5"}:
                hashes[algo.lower()] = digest.lower()
        meta_attr = attrs.get("data-core-metadata", attrs.get("data-dist-info-metadata"))
        has_meta = "data-core-metadata" in attrs or "data-dist-info-metadata" in attrs
        yanked_attr = "data-yanked" in attrs
        reason = attrs.get("data-yanked")
        rp = attrs.get("data-requires-python")
        files.append(
            DistFile(
                filename=filename,
                url=file_url,
                hashes=hashes,
                requires_python=rp.strip() if rp and rp.strip() else None,
                yanked=yanked_attr,
                yanked_reason=reason or None,
                core_metadata=_hash_flag(meta_attr) if has_meta else None,
            )
        )
    return ProjectPage(name=canonicalize_name(name), url=url, files=tuple(files))


# -- the parsed-page sidecar -------------------------------------------------------------------
#
# A warm lock would otherwise re-parse ~24 MB of JSON for a large set on every run
# (the largest single cost once the network is out of the way). After the first
# parse the page's files are stored next to the cached page, grouped by release:
# a small marshalled index (version -> offset, length) and one marshalled blob
# per release. A later run reads the index and decodes only the releases the
# resolver looks at.

_SIDECAR_MAGIC = b"LPP2"


def pack_page(files: LazyFiles) -> bytes:
    """Serialize a lazily parsed page's raw file entries, grouped by release."""
    import marshal

    groups: dict[str, list[dict[str, Any]]] = {}
    other: list[dict[str, Any]] = []
    for raw, filename in zip(files._raw, files.filenames, strict=True):
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
    head = marshal.dumps((index, marshal.dumps(other)))
    return _SIDECAR_MAGIC + len(head).to_bytes(4, "big") + head + b"".join(blobs)


class PackedFiles(DeferredFiles):
    """A page read back from :func:`pack_page`: releases decoded on demand."""

    __slots__ = ("_all", "_base", "_data", "_index", "_other", "_page_url", "releases_cache")

    def __init__(self, data: bytes, page_url: str) -> None:
        import marshal

        if data[:4] != _SIDECAR_MAGIC:
            raise ValueError("not a packed page")
        size = int.from_bytes(data[4:8], "big")
        index, other = marshal.loads(data[8 : 8 + size])
        self._data = data
        self._base = 8 + size
        self._index: list[tuple[str, int, int]] = index
        self._other: bytes = other
        self._page_url = page_url
        self._all: LazyFiles | None = None
        self.releases_cache: object = self._releases()

    def _decode(self, offset: int, length: int) -> LazyFiles:
        import marshal

        start = self._base + offset
        return LazyFiles(marshal.loads(self._data[start : start + length]), self._page_url)

    def _releases(self) -> list[tuple[Any, Sequence[DistFile]]]:
        out: list[tuple[Any, Sequence[DistFile]]] = []
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
            self._all = LazyFiles(raw, self._page_url)
        return self._all

    @property
    def filenames(self) -> list[str]:
        return self._everything().filenames

    def _source(self) -> Sequence[DistFile]:
        return self._everything()


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
