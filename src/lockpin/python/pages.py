"""Parse index project pages: PEP 691 JSON and PEP 503 HTML (pure, no I/O).

Both formats produce the same :class:`~lockpin.python.models.ProjectPage`, so
the rest of lockpin never knows which one an index spoke.

A page is untrusted input that ends up in a lockfile, so everything taken from
it is checked here, before anything else sees it:

* digests (``hashes``, ``#sha256=`` fragments, ``core-metadata`` and
  ``data-core-metadata`` values) of a known algorithm must be hex of that
  algorithm's exact length; others are dropped, and lockpin computes the sha256
  of such a file itself. Unknown algorithms are ignored.
* filenames must be plain wheel or sdist basenames of the requested project.
* file URLs may hold no whitespace or control characters, and a remote page
  may link only to http(s) URLs: ``file:`` URLs come only from pages that are
  themselves local (a ``--find-links`` directory or a ``file://`` index).

* a filename listed more than once on one page keeps its first entry only:
  lockpin reads the metadata of one file per filename, and a lock must not
  accept a second, different file under the same name.

What was dropped is reported in one warning per page.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Iterator, Sequence
from html.parser import HTMLParser
from typing import Any, overload
from urllib.parse import unquote, urljoin, urlsplit

from packaging.utils import canonicalize_name

from ..errors import IndexResponseError
from ..net.redact import redact_url
from .models import (
    DIGEST_HEX_LENGTHS,
    DIST_SUFFIXES,
    DistFile,
    PageTimes,
    ProjectPage,
    Releases,
    group_releases,
    is_dist_filename,
    is_plain_filename,
    valid_digest,
)

__all__ = [
    "ACCEPT",
    "JSON_CONTENT_TYPE",
    "LazyFiles",
    "parse_html_page",
    "parse_json_page",
    "parse_page",
]

log = logging.getLogger(__name__)

JSON_CONTENT_TYPE = "application/vnd.pypi.simple.v1+json"
ACCEPT = f"{JSON_CONTENT_TYPE}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"

_WEB_SCHEMES = frozenset({"http", "https"})
_LOCAL_SCHEMES = frozenset({"http", "https", "file"})
# Whitespace (Unicode included), C0/C1 controls and backslashes never occur in a
# URL an honest index serves (they are percent-encoded); urljoin would silently
# drop some of them, so they are refused before joining.
_URL_FORBIDDEN = re.compile(r"[\s\x00-\x1f\x7f-\x9f\\]")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_API_VERSION = re.compile(r"[0-9]+(?:\.[0-9]+)*")
_SHOWN_PROBLEMS = 3
_MAX_TEXT = 500


def parse_page(
    content: bytes, *, url: str, content_type: str, name: str, any_project: bool = False
) -> ProjectPage:
    """Dispatch on the response's content type (sniffing when it is missing)."""
    ctype = content_type.lower()
    if "json" in ctype or (not ctype and content.lstrip()[:1] == b"{"):
        return parse_json_page(content, url=url, name=name, any_project=any_project)
    return parse_html_page(content, url=url, name=name, any_project=any_project)


def _shown(text: str) -> str:
    """A value from a page, safe to print: short, and escaped when not plain."""
    short = text if len(text) <= 100 else text[:100] + "…"
    return short if short.isprintable() and short.strip() == short and short else repr(short)


def _plain_text(value: str) -> str:
    """Free text from a page (a yank reason) for a terminal: capped, and without
    control or format characters (which could rewrite what the user sees)."""
    text = value[: _MAX_TEXT + 1]
    if not text.isprintable():
        text = "".join(c if c.isprintable() else " " for c in text)
    text = text.strip()
    return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + "…"


class _PageCheck:
    """Validates the entries of one page and collects what it dropped."""

    __slots__ = ("base", "count", "local", "project", "schemes", "shown", "url")

    def __init__(self, url: str, name: str, *, any_project: bool) -> None:
        self.url = url
        self.base = url
        self.project = None if any_project else canonicalize_name(name)
        self.local = urlsplit(url).scheme.lower() == "file"
        self.schemes = _LOCAL_SCHEMES if self.local else _WEB_SCHEMES
        self.count = 0
        self.shown: list[str] = []

    def problem(self, filename: str, why: str) -> None:
        self.count += 1
        if len(self.shown) < _SHOWN_PROBLEMS:
            self.shown.append(f"{_shown(filename)}: {why}")

    def notice(self) -> str | None:
        """The page's one warning, or ``None`` when nothing was dropped."""
        if not self.count:
            return None
        more = f"; and {self.count - len(self.shown)} more" if self.count > len(self.shown) else ""
        return (
            f"the index page {redact_url(self.url)} lists invalid data, which lockpin ignored: "
            + "; ".join(self.shown)
            + more
            + ". Files whose digest was ignored are downloaded and hashed by lockpin; "
            "check the index (or the proxy in front of it)."
        )

    def report(self) -> str | None:
        notice = self.notice()
        if notice is not None:
            log.warning("%s", notice)
        return notice

    def first(self, filename: str, seen: set[str]) -> bool:
        """The filename's first entry on the page; a repeat is reported and dropped."""
        if filename in seen:
            self.problem(filename, "listed more than once; only its first entry is used")
            return False
        seen.add(filename)
        return True

    def filename_ok(self, filename: str, *, explicit: bool) -> bool:
        """A wheel/sdist basename of the project; a hostile-looking one is reported.

        Other files (``.exe``, ``.egg``, links to other projects or to parent
        directories) are skipped silently, like pip does.
        """
        if is_dist_filename(filename, self.project):
            return True
        if (explicit or filename.endswith(DIST_SUFFIXES)) and not is_plain_filename(filename):
            self.problem(filename, "not a plain file name; file skipped")
        return False

    def file_url(self, href: str, filename: str) -> str | None:
        """``href`` resolved against the page, or ``None`` (reported) when refused."""
        if _URL_FORBIDDEN.search(href):
            self.problem(filename, "its URL holds whitespace or control characters; file skipped")
            return None
        # urljoin is costly at tens of thousands of files; most URLs are absolute
        # (and only a "[" (an IPv6 host) can make one fail to parse).
        if href.startswith(("https://", "http://")) and "[" not in href:
            return href
        try:
            url = urljoin(self.base, href)
            scheme = urlsplit(url).scheme.lower()
        except ValueError:
            self.problem(filename, "its URL does not parse; file skipped")
            return None
        if scheme not in self.schemes:
            allowed = "http(s) and file:" if self.local else "http(s)"
            self.problem(
                filename,
                f"its URL is a {scheme or 'relative'}: URL, but this page may link only to "
                f"{allowed} URLs; file skipped",
            )
            return None
        return url

    def digests(self, value: object, filename: str, what: str) -> dict[str, str]:
        """The well-formed digests of known algorithms in a ``{algo: hex}`` object."""
        if type(value) is dict and len(value) == 1:
            # The usual entry, {"sha256": <64 lower-case hex>}, checked in one step
            # (pages list tens of thousands of files).
            digest = value.get("sha256")
            if type(digest) is str and _SHA256.fullmatch(digest) is not None:
                return value
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problem(filename, f"its {what} is not an object; ignored")
            return {}
        out: dict[str, str] = {}
        conflicting: set[str] = set()
        for algo, digest in value.items():
            key = str(algo).lower()
            if key not in DIGEST_HEX_LENGTHS:
                continue  # unknown algorithms are ignored, as pip does
            if not valid_digest(key, digest):
                self.problem(
                    filename,
                    f"its {what} {key} is not {DIGEST_HEX_LENGTHS[key]} hex digits; ignored",
                )
                conflicting.add(key)
                continue
            normalized = str(digest).lower()
            if out.setdefault(key, normalized) != normalized:
                self.problem(filename, f"its {what} gives two different {key} values; ignored")
                conflicting.add(key)
        for key in conflicting:
            out.pop(key, None)
        return out

    def metadata_flag(self, value: object, filename: str) -> bool | dict[str, str] | None:
        """PEP 714 ``core-metadata``: a bool, or the metadata file's digests."""
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, dict):
            return self.digests(value, filename, "core-metadata") or True
        return None  # malformed: ignored, the .metadata URL is probed anyway


def _parse_time(value: object) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    text = value[:-1] + "+00:00" if value.endswith("Z") else value
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def _page_error(url: str, what: str) -> IndexResponseError:
    return IndexResponseError(
        f"the index page {redact_url(url)} {what}. "
        "Check that --index-url points at a PEP 503/691 simple index.",
        url=redact_url(url),
    )


def parse_json_page(
    content: bytes, *, url: str, name: str, any_project: bool = False
) -> ProjectPage:
    """PEP 691 (with PEP 700 ``size``/``upload-time`` and PEP 714 ``core-metadata``).

    Every entry is validated at once (see the module docstring); the conversion
    into :class:`DistFile` values stays lazy.
    """
    try:
        data = json.loads(content)
    except RecursionError as exc:
        raise _page_error(url, "is JSON nested too deeply to be a project page") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise _page_error(url, f"is not valid JSON ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("files"), list):
        raise _page_error(url, "is JSON but not a PEP 691 project page (no 'files' list)")
    meta = data.get("meta", {})
    if not isinstance(meta, dict):
        raise _page_error(url, "is JSON but not a PEP 691 project page ('meta' is not an object)")
    api = meta.get("api-version", "1.0")
    if isinstance(api, (int, float)) and not isinstance(api, bool):
        api = str(api)
    if not isinstance(api, str) or _API_VERSION.fullmatch(api) is None:
        raise _page_error(url, f"gives an invalid meta.api-version ({_shown(str(api))})")
    major = api.split(".")[0]
    if major.lstrip("0") != "1":
        raise IndexResponseError(
            f"{redact_url(url)} speaks simple API version {major}; lockpin understands 1.x.",
            url=redact_url(url),
        )
    check = _PageCheck(url, name, any_project=any_project)
    seen: set[str] = set()
    entries = [
        entry
        for i, raw in enumerate(data["files"])
        if (entry := _json_entry(raw, i, check)) is not None
        and check.first(entry["filename"], seen)
    ]
    files = LazyFiles(entries, url, checked=True)
    files.notice = check.report()
    return ProjectPage(name=canonicalize_name(name), url=url, files=files)


def _json_entry(raw: object, i: int, check: _PageCheck) -> dict[str, Any] | None:
    """One validated PEP 691 file entry, reduced to the keys lockpin reads."""
    if not isinstance(raw, dict):
        check.problem(f"files[{i}]", "not an object; skipped")
        return None
    filename = raw.get("filename")
    href = raw.get("url")
    if not isinstance(filename, str) or not isinstance(href, str):
        check.problem(f"files[{i}]", "no 'filename' and 'url' strings; skipped")
        return None
    # The common case inline (pages list tens of thousands of files); the
    # methods of ``check`` decide and report everything else.
    if not is_dist_filename(filename, check.project) and not check.filename_ok(
        filename, explicit=True
    ):
        return None
    if (
        href.startswith(("https://", "http://"))
        and "[" not in href
        and _URL_FORBIDDEN.search(href) is None
    ):
        url: str | None = href
    else:
        url = check.file_url(href, filename)
        if url is None:
            return None
    rp = raw.get("requires-python")
    yanked = raw.get("yanked", False)
    size = raw.get("size")
    upload = raw.get("upload-time")
    meta = raw.get("core-metadata", raw.get("dist-info-metadata"))
    return {
        "filename": filename,
        "url": url,
        "hashes": check.digests(raw.get("hashes"), filename, "hashes"),
        "requires-python": rp if isinstance(rp, str) else None,
        "yanked": yanked if isinstance(yanked, (bool, str)) else False,
        "size": size if type(size) is int and size >= 0 else None,
        "upload-time": upload if isinstance(upload, str) else None,
        "core-metadata": check.metadata_flag(meta, filename),
    }


class LazyFiles(Sequence[DistFile]):
    """The files of a PEP 691 page, turned into :class:`DistFile` values only when
    read. A large project lists thousands of files and a lock reads a handful;
    grouping by release (:meth:`releases`) needs only :attr:`filenames`.

    The entries are the validated ones of :func:`parse_json_page` (or read back
    from the parsed-page cache, :mod:`lockpin.python.packed`, and checked again
    when read). ``checked``: the entries are the ones :func:`parse_json_page`
    validated in this process (never read back from disk), so reading them skips
    that second check (a cold lock reads tens of thousands of files).
    """

    __slots__ = (
        "_checked", "_done", "_page_url", "_raw", "_releases", "filenames", "notice", "times",
    )  # fmt: skip

    def __init__(
        self,
        raw: list[dict[str, Any]],
        page_url: str,
        times: PageTimes | None = None,
        *,
        checked: bool = False,
    ) -> None:
        self._raw = raw
        self._page_url = page_url
        self._checked = checked
        #: whether the page gives upload times (``times`` is the whole page's when
        #: ``raw`` is only part of it, as in :mod:`lockpin.python.packed`)
        self.times = times or PageTimes(
            page_url, given=any(r.get("upload-time") is not None for r in raw)
        )
        self._done: list[DistFile | None] = [None] * len(raw)
        self.filenames: list[str] = [r["filename"] for r in raw]
        self._releases: Releases | None = None
        #: the page's warning about what it dropped, if any
        self.notice: str | None = None

    @property
    def entries(self) -> list[dict[str, Any]]:
        """The validated raw entries, in page order (what the parsed-page cache packs)."""
        return self._raw

    def releases(self) -> Releases:
        """The files grouped by release, newest first (grouped on the first call)."""
        if self._releases is None:
            self._releases = group_releases(self, self.filenames)
        return self._releases

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
            raw = self._raw[index]
            item = self._done[index] = (
                _checked_file(raw, self.times)
                if self._checked
                else _json_file(raw, self._page_url, self.times)
            )
        return item

    def __iter__(self) -> Iterator[DistFile]:
        for i in range(len(self._raw)):
            yield self[i]


def _json_file(raw: dict[str, Any], page_url: str, times: PageTimes) -> DistFile:
    """A :class:`DistFile` from a validated entry.

    The entry may come from the cache on disk, so what reaches a lock (filename,
    URL, digests) is checked again here: a handful of files per page is read.
    """
    filename = raw.get("filename")
    stored = raw.get("url")
    check = _PageCheck(page_url, "", any_project=True)
    url = check.file_url(stored, "") if isinstance(stored, str) else None
    if url is None or not isinstance(filename, str) or not is_dist_filename(filename):
        raise IndexResponseError(
            f"lockpin's cached copy of {redact_url(page_url)} holds an invalid file entry. "
            "Delete lockpin's cache directory, or run with --no-cache.",
            url=redact_url(page_url),
        )
    hashes = check.digests(raw.get("hashes"), filename, "hashes")
    meta = check.metadata_flag(raw.get("core-metadata"), filename)
    rp = raw.get("requires-python")
    rp_text = rp.strip() if isinstance(rp, str) else ""
    yanked = raw.get("yanked", False)
    size = raw.get("size")
    return DistFile(
        filename=filename,
        url=url,
        hashes=hashes,
        requires_python=rp_text if rp_text and rp_text.isprintable() else None,
        yanked=bool(yanked),
        yanked_reason=(_plain_text(yanked) or None) if isinstance(yanked, str) else None,
        size=size if type(size) is int and size >= 0 else None,
        upload_time=_parse_time(raw.get("upload-time")),
        core_metadata=meta,
        page_times=times,
    )


def _checked_file(raw: dict[str, Any], times: PageTimes) -> DistFile:
    """A :class:`DistFile` from an entry :func:`_json_entry` returned in this process:
    its filename, URL, digests and metadata flag are the checked ones already;
    the rest is turned into values as :func:`_json_file` does."""
    rp = raw["requires-python"]
    rp_text = rp.strip() if rp is not None else ""
    yanked = raw["yanked"]
    return DistFile(
        filename=raw["filename"],
        url=raw["url"],
        hashes=raw["hashes"],
        requires_python=rp_text if rp_text and rp_text.isprintable() else None,
        yanked=bool(yanked),
        yanked_reason=(_plain_text(yanked) or None) if isinstance(yanked, str) else None,
        size=raw["size"],
        upload_time=_parse_time(raw["upload-time"]),
        core_metadata=raw["core-metadata"],
        page_times=times,
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


# HTML attribute values may be "surrounded by spaces" (the HTML standard strips them).
_HTML_SPACE = " \t\n\r\f"


def _fragment_digests(fragment: str, filename: str, check: _PageCheck) -> dict[str, str]:
    """``#sha256=<hex>`` (pip also reads ``&``-separated parts such as ``egg=``)."""
    pairs: dict[str, str] = {}
    for part in fragment.split("&"):
        algo, sep, digest = part.partition("=")
        if sep and algo.lower() in DIGEST_HEX_LENGTHS:
            # the same name twice with two values: neither is believed
            pairs[algo] = digest if pairs.get(algo, digest) == digest else ""
    return check.digests(pairs, filename, "URL fragment") if pairs else {}


def _html_metadata(value: str | None, filename: str, check: _PageCheck) -> bool | dict[str, str]:
    """``data-core-metadata`` is either "true" or ``<algo>=<hex>``."""
    if value is None or value.strip(_HTML_SPACE).lower() in {"", "true"}:
        return True
    algo, sep, digest = value.strip(_HTML_SPACE).partition("=")
    if sep and algo.lower() in DIGEST_HEX_LENGTHS:
        return check.digests({algo: digest}, filename, "data-core-metadata") or True
    return True


def parse_html_page(
    content: bytes, *, url: str, name: str, any_project: bool = False
) -> ProjectPage:
    """PEP 503 anchors, with PEP 592 yanking and PEP 658/714 metadata attributes.

    ``any_project`` keeps the files of every project (a ``--find-links`` page).
    """
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise IndexResponseError(
            f"the index page {redact_url(url)} is not UTF-8 HTML ({exc}).", url=redact_url(url)
        ) from exc
    parser = _AnchorParser()
    try:
        parser.feed(text)
        parser.close()
    except (AssertionError, ValueError) as exc:  # html.parser asserts on some bad markup
        raise _page_error(url, f"is HTML that does not parse ({exc})") from exc
    if text.strip() and not parser.saw_tag:
        raise _page_error(url, "is not HTML")
    check = _PageCheck(url, name, any_project=any_project)
    if parser.base:
        base = parser.base.strip(_HTML_SPACE)
        try:
            resolved = urljoin(url, base)
            scheme = urlsplit(resolved).scheme.lower()
        except ValueError:
            resolved, scheme = "", ""
        if _URL_FORBIDDEN.search(base) or scheme not in check.schemes:
            raise _page_error(url, f"has an unusable <base href> ({_shown(parser.base)})")
        check.base = resolved
    files: list[DistFile] = []
    seen: set[str] = set()
    times = PageTimes(url, given=False)  # PEP 503 pages give no upload times
    for attrs, text_parts in parser.anchors:
        href = (attrs.get("href") or "").strip(_HTML_SPACE)
        if not href:
            continue
        f = _html_file(href, attrs, text_parts, check, times)
        if f is not None and check.first(f.filename, seen):
            files.append(f)
    check.report()
    return ProjectPage(name=canonicalize_name(name), url=url, files=tuple(files))


def _html_file(
    href: str,
    attrs: dict[str, str | None],
    text_parts: list[str],
    check: _PageCheck,
    times: PageTimes,
) -> DistFile | None:
    # The fragment carries digests only (checked on their own) and is never fetched.
    location, _, fragment = href.partition("#")
    if not location:
        return None
    try:
        path = urlsplit(urljoin(check.base, location)).path
    except ValueError:
        path = ""
    filename = unquote(path.rsplit("/", 1)[-1]) or "".join(text_parts).strip()
    if not check.filename_ok(filename, explicit=False):
        return None
    file_url = check.file_url(location, filename)
    if file_url is None:  # refused (and reported)
        return None
    meta_attr = attrs.get("data-core-metadata", attrs.get("data-dist-info-metadata"))
    has_meta = "data-core-metadata" in attrs or "data-dist-info-metadata" in attrs
    reason = attrs.get("data-yanked")
    rp = (attrs.get("data-requires-python") or "").strip()
    return DistFile(
        filename=filename,
        url=file_url,
        hashes=_fragment_digests(fragment, filename, check) if fragment else {},
        requires_python=rp if rp and rp.isprintable() else None,
        yanked="data-yanked" in attrs,
        yanked_reason=(_plain_text(reason) or None) if reason else None,
        core_metadata=_html_metadata(meta_attr, filename, check) if has_meta else None,
        page_times=times,
    )
