"""``file:`` URLs, answered from disk as a server would answer them.

Local indexes and ``--find-links`` directories behave like remote ones: a page is
a file (a directory answers with its ``index.html``, else 404), a range request
gets 206/416 with a ``Content-Range``, a download is streamed. Only regular files
are read (never a FIFO, device, socket or directory), each under the same size
caps as a response from a server (:mod:`lockpin.net.config`).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from ..errors import NetworkError
from .config import too_large
from .redact import redact_url

if TYPE_CHECKING:
    from collections.abc import Generator

__all__ = [
    "FileReply",
    "file_url_path",
    "get_file",
    "get_file_range",
    "iter_file",
    "open_regular",
]

_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class FileReply:
    """What a server would have answered: a status, a body and headers."""

    status: int
    content: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def file_url_path(url: str) -> Path:
    """The local path of a ``file:`` URL (urllib.request is imported only here)."""
    from urllib.request import url2pathname

    return Path(url2pathname(unquote(urlsplit(url).path)))


def open_regular(path: Path, url: str) -> int:
    """A read-only descriptor of ``path`` if it is a regular file, else a clear error.

    ``O_NONBLOCK`` makes opening a FIFO return at once (instead of waiting for a
    writer), and the type is checked on the open descriptor, so nothing can be
    swapped in between the check and the read.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        os.close(fd)
        raise
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = (
            "a directory"
            if stat.S_ISDIR(mode)
            else "a FIFO"
            if stat.S_ISFIFO(mode)
            else "a device"
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "a socket"
            if stat.S_ISSOCK(mode)
            else "not a regular file"
        )
        raise NetworkError(
            f"refusing to read {path} ({redact_url(url)}): it is {kind}. lockpin reads only "
            "regular files from file: URLs; point the index or --find-links at a directory "
            "of distribution files.",
            url=redact_url(url),
        )
    return fd


def _read_file(path: Path, url: str, *, limit: int, what: str) -> bytes:
    fd = open_regular(path, url)
    with os.fdopen(fd, "rb") as fh:
        declared = os.fstat(fh.fileno()).st_size
        if declared > limit:
            raise too_large(url, limit, what, declared=declared)
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise too_large(url, limit, what)
    return data


def get_file(url: str, *, limit: int) -> FileReply:
    """A page from disk: the file (at most ``limit`` bytes), a directory's
    ``index.html``, or 404; the content type from the suffix."""
    path = file_url_path(url)
    if path.is_dir():
        index = path / "index.html"
        if index.is_file():
            path = index
        else:
            return FileReply(404)
    try:
        data = _read_file(path, url, limit=limit, what="a page")
    except FileNotFoundError:
        return FileReply(404)
    except OSError as exc:
        raise NetworkError(f"cannot read {path}: {exc}", url=redact_url(url)) from exc
    ctype = "text/html" if path.suffix in {".html", ".htm"} else ""
    if path.suffix == ".json":
        ctype = "application/vnd.pypi.simple.v1+json"
    return FileReply(200, data, {"content-type": ctype})


def get_file_range(
    url: str, *, start: int | None, suffix: int | None, end: int | None, limit: int
) -> FileReply:
    """A range of a regular file, answered as a server honouring ``Range`` would
    (206, or 416 when the range is empty; a range over ``limit`` is an error)."""
    path = file_url_path(url)
    try:
        fd = open_regular(path, url)
    except FileNotFoundError:
        return FileReply(404)
    except OSError as exc:
        raise NetworkError(f"cannot read {path}: {exc}", url=redact_url(url)) from exc
    with os.fdopen(fd, "rb") as fh:
        total = os.fstat(fh.fileno()).st_size
        if suffix is not None:
            first, last = max(0, total - suffix), total - 1
        else:
            first, last = start or 0, total - 1 if end is None else min(end, total - 1)
        if first > last:
            return FileReply(416, b"", {"content-range": f"bytes */{total}"})
        if last - first + 1 > limit:
            raise too_large(url, limit, "a range response", declared=last - first + 1)
        fh.seek(first)
        data = fh.read(last - first + 1)
    return FileReply(206, data, {"content-range": f"bytes {first}-{first + len(data) - 1}/{total}"})


def iter_file(url: str, *, limit: int) -> Generator[bytes, None, None]:
    """The bytes of a regular file in chunks, at most ``limit`` of them (declared
    or read); an unreadable file is a :class:`~lockpin.errors.NetworkError`."""
    path = file_url_path(url)
    try:
        fd = open_regular(path, url)
        with os.fdopen(fd, "rb") as fh:
            declared = os.fstat(fh.fileno()).st_size
            if declared > limit:
                raise too_large(url, limit, "a download", declared=declared)
            received = 0
            while chunk := fh.read(_CHUNK):
                received += len(chunk)
                if received > limit:
                    raise too_large(url, limit, "a download")
                yield chunk
    except OSError as exc:
        raise NetworkError(f"cannot read {path}: {exc}", url=redact_url(url)) from exc
