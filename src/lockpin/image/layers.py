"""Reading an image's layers for the few files lockpin needs (pure: bytes in, values out).

A container image is a stack of layer tars applied in order; what a base image
"holds" is the result. lockpin never extracts it: each layer is fed through a
:class:`LayerReader` as a stream of (compressed) chunks, and only the small files
that say what the image is (:func:`default_want`: os-release, the dpkg status, apt
sources, apk's database, ``libc.so.6``, the names of the Python binaries) are kept,
in memory, each under a size cap. Everything else is skipped as it streams past.

What the stack of layers means, as the OCI image spec's changeset rules say:

* a later layer's entry replaces the same path of an earlier one; a non-directory
  entry also hides everything an earlier layer had *below* that path;
* ``dir/.wh.name`` (a *whiteout*) deletes ``dir/name`` and everything below it
  from the earlier layers; ``dir/.wh..wh..opq`` (an *opaque* directory) deletes
  everything below ``dir`` from the earlier layers. Neither touches entries of its
  own layer, whatever their order in the tar. A whiteout of nothing, ``.`` or
  ``..`` (``.wh.``, ``.wh..``, ``.wh...``: the directory itself or its parent, at
  the top the whole image) is written by no tool and refuses the layer; aufs
  metadata (``.wh..wh.plnk``…) is skipped;
* member paths are relative to the image root. They are normalised lexically
  (``./``, ``//``, a leading ``/`` and ``..`` that would climb above the root are
  dropped: the root is the ceiling, as it is for an extraction into a directory),
  then their parent directories are resolved through the symbolic links already
  in the view (a merged-``/usr`` image writes ``/lib/…`` through ``/lib ->
  usr/lib``), so every file is known by its canonical path;
* symbolic links are kept (they are small) and resolved inside the image root,
  never outside it: an absolute target starts again at the image's root, ``..``
  stops at it, and more than :data:`MAX_SYMLINK_HOPS` links is a loop (the path
  then does not resolve);
* a hard link copies what its target (a path of the same or an earlier layer) is.

The reader checks the ``diff_id`` (the sha256 of the *uncompressed* tar, from
the image config's ``rootfs.diff_ids``) when the layer ends; the digest of the
compressed blob is the fetcher's to check. Compression is sniffed from the first
bytes (media types are not always right): plain tar, gzip (also multi-member)
and zstd (with the ``zstandard`` package or Python 3.14's ``compression.zstd``).
Hostile input is bounded: every header field is checked (checksums included),
extended headers and long names have caps, decompression is done in bounded
pieces, paths deeper than :data:`MAX_PATH_DEPTH` components are ignored (nothing
lockpin reads lives there), the number of symbolic links kept is capped, and so
is the work of resolving member paths through them (20M path components per image:
a layer that clears the resolution memo before every member and sends each lookup
down 40 long links is refused in seconds instead of read for hours).
"""

from __future__ import annotations

import hashlib
import logging
import posixpath
import re
import zlib
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

from ..errors import IntegrityError, LayerError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

__all__ = [
    "DEFAULT_MAX_FILE_BYTES",
    "MAX_PATH_DEPTH",
    "MAX_SYMLINK_HOPS",
    "ImageFiles",
    "LayerReader",
    "LayerStack",
    "Want",
    "default_want",
    "normalize_path",
]

log = logging.getLogger(__name__)

#: ``"data"``: keep the file's bytes; ``"name"``: only note that it exists.
Want = Literal["data", "name"]

#: The largest file whose bytes are kept (``libc.so.6`` is ~2 MB, a big dpkg status ~4 MB).
DEFAULT_MAX_FILE_BYTES: Final = 32 * 1024 * 1024
#: Components of a path beyond which a member is ignored.
MAX_PATH_DEPTH: Final = 64
#: Symbolic links followed in one lookup before it counts as a loop (Linux: 40).
MAX_SYMLINK_HOPS: Final = 40
_MAX_NAME: Final = 4096  # PATH_MAX: longer names and link targets are ignored
_MAX_EXTENDED: Final = 1024 * 1024  # a pax header or GNU long name record
_MAX_LINKS: Final = 1_000_000  # symbolic links kept in one view
# Path components walked resolving the members of one image. A real image walks a
# few per member (~1M for 100k files); a hostile one that adds a link before every
# member (clearing the memo) and sends each lookup down 40 links of 4 KiB targets
# walks 64k per member: hours for a 1 GB layer. The cap stops it in seconds.
_MAX_RESOLVE_STEPS: Final = 20_000_000
_PIECE: Final = 1024 * 1024  # decompressed bytes produced per call
_ZSTD_SLICE: Final = 4096  # compressed bytes per zstandard call (it has no max_length)
_BLOCK: Final = 512

_WHITEOUT: Final = ".wh."
_OPAQUE: Final = ".wh..wh..opq"
_GZIP_MAGIC: Final = b"\x1f\x8b"
_ZSTD_MAGIC: Final = b"\x28\xb5\x2f\xfd"

# -- what lockpin reads from a base image ---------------------------------------------------------

_DATA_FILES: Final = frozenset(
    {
        "/etc/os-release",
        "/usr/lib/os-release",
        "/var/lib/dpkg/status",
        "/etc/apt/sources.list",
        "/lib/apk/db/installed",
    }
)
_DATA_DIRS: Final = frozenset({"/var/lib/dpkg/status.d", "/etc/apt/sources.list.d"})
_LIB_DIRS: Final = frozenset({"/lib", "/lib64", "/usr/lib", "/usr/lib64"})
_BIN_DIRS: Final = frozenset({"/usr/local/bin", "/usr/bin", "/bin"})
_PYTHON_BINARY: Final = re.compile(r"python3(?:\.\d+)?")
_LIBPYTHON: Final = re.compile(r"libpython3\.\d+[a-z]*\.so(?:\.[0-9.]+)?")
_LIBC_VERSIONED: Final = re.compile(r"libc-\d+\.\d+\.so")
_MUSL_LOADER: Final = re.compile(r"ld-musl-[a-z0-9_]+\.so\.1")


def _in_lib_dir(directory: str) -> bool:
    """``/lib``, ``/usr/lib64``… or one level below them (``/usr/lib/x86_64-linux-gnu``)."""
    return directory in _LIB_DIRS or posixpath.dirname(directory) in _LIB_DIRS


def default_want(path: str) -> Want | None:
    """Whether lockpin keeps the file at canonical ``path`` (``"data"``), notes only
    that it exists (``"name"``), or skips it (``None``)."""
    if path in _DATA_FILES:
        return "data"
    directory, name = posixpath.split(path)
    if directory in _DATA_DIRS:
        return "data"
    if directory in _BIN_DIRS and _PYTHON_BINARY.fullmatch(name):
        return "name"
    if not _in_lib_dir(directory):
        if directory in ("/usr/local/lib",) and _LIBPYTHON.fullmatch(name):
            return "name"
        return None
    if name == "libc.so.6":
        return "data"
    if _LIBC_VERSIONED.fullmatch(name) or _MUSL_LOADER.fullmatch(name):
        return "name"
    if _LIBPYTHON.fullmatch(name):
        return "name"
    return None


# -- paths ---------------------------------------------------------------------------------------


def normalize_path(name: str) -> str:
    """A member name as an absolute path inside the image root: ``./a//b/`` ->
    ``/a/b``, ``../../etc/x`` -> ``/etc/x`` (the root is the ceiling), ``""`` -> ``/``."""
    parts: list[str] = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/" + "/".join(parts)


def _depth(path: str) -> int:
    return path.count("/")


# -- the view ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _File:
    size: int
    data: bytes | None  # None: not kept ("name" files, oversized, or a link to an unkept file)
    layer: int
    oversize: bool = False


@dataclass(frozen=True, slots=True)
class _Link:
    target: str
    layer: int


@dataclass(frozen=True, slots=True)
class _Other:
    """A device, FIFO or unkept regular file: present, nothing to read."""

    layer: int


_Entry = _File | _Link | _Other


class _View:
    """Canonical path -> entry, with a child index so that removing a subtree
    (whiteouts, opaque directories, a file over a directory) is proportional
    to the subtree, not to the view."""

    def __init__(self) -> None:
        self.entries: dict[str, _Entry] = {}
        self.kids: dict[str, set[str]] = {}
        self.links = 0
        self.steps = 0  # path components walked by resolve / resolve_dir
        # directory -> its resolved path, valid while no link is added or removed
        self._resolved_dirs: dict[str, str | None] = {}

    def _links_changed(self) -> None:
        self._resolved_dirs.clear()

    def put(self, path: str, entry: _Entry) -> None:
        old = self.entries.get(path)
        if isinstance(old, _Link):
            self.links -= 1
            self._links_changed()
        if isinstance(entry, _Link):
            self.links += 1
            self._links_changed()
        self.entries[path] = entry
        child = path
        while child != "/":
            parent = posixpath.dirname(child)
            kids = self.kids.setdefault(parent, set())
            if child in kids:
                break
            kids.add(child)
            child = parent

    def drop(self, path: str, *, below_layer: int) -> None:
        old = self.entries.get(path)
        if old is not None and old.layer < below_layer:
            del self.entries[path]
            if isinstance(old, _Link):
                self.links -= 1
                self._links_changed()

    def remove_below(self, path: str, *, below_layer: int) -> None:
        """Remove what layers before ``below_layer`` have strictly below ``path``."""
        stack = list(self.kids.get(path, ()))
        while stack:
            item = stack.pop()
            self.drop(item, below_layer=below_layer)
            stack.extend(self.kids.get(item, ()))

    def resolve(self, path: str, *, follow_last: bool) -> str | None:
        real, steps = _walk(self.entries, path, follow_last=follow_last)
        self.steps += steps
        return real

    def resolve_dir(self, path: str) -> str | None:
        """:meth:`resolve` of a directory, memoised: a layer's members share few parents."""
        try:
            return self._resolved_dirs[path]
        except KeyError:
            real, steps = _walk(self.entries, path, follow_last=True)
            self.steps += steps
            self._resolved_dirs[path] = real
            return real


def _resolve(entries: Mapping[str, _Entry], path: str, *, follow_last: bool) -> str | None:
    """``path`` with its symbolic links followed inside the root (the last
    component only when ``follow_last``); ``None`` for a loop."""
    return _walk(entries, path, follow_last=follow_last)[0]


def _walk(entries: Mapping[str, _Entry], path: str, *, follow_last: bool) -> tuple[str | None, int]:
    """:func:`_resolve`, and the number of path components it walked."""
    pending: deque[str] = deque(path.split("/"))
    resolved: list[str] = []
    hops = 0
    steps = 0
    while pending:
        steps += 1
        name = pending.popleft()
        if name in ("", "."):
            continue
        if name == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = "/" + "/".join((*resolved, name))
        entry = entries.get(candidate)
        if isinstance(entry, _Link) and (pending or follow_last):
            hops += 1
            if hops > MAX_SYMLINK_HOPS:
                return None, steps
            if entry.target.startswith("/"):
                resolved = []
            pending.extendleft(reversed(entry.target.split("/")))
            continue
        resolved.append(name)
        if len(resolved) > MAX_PATH_DEPTH:
            return None, steps
    return "/" + "/".join(resolved), steps


@dataclass(frozen=True, slots=True)
class ImageFiles:
    """The files lockpin kept from an image's layers, by canonical path.

    Lookups follow symbolic links inside the image root. ``read`` gives a kept
    file's bytes (``None`` when the path does not exist, is not a regular file,
    or only its name was kept); a file over the size cap raises
    :class:`~lockpin.errors.LayerError` when read.
    """

    _entries: Mapping[str, _Entry] = field(repr=False)
    source: str = ""

    def realpath(self, path: str) -> str | None:
        """The canonical path ``path`` resolves to (``None``: a link loop)."""
        return _resolve(self._entries, normalize_path(path), follow_last=True)

    def exists(self, path: str) -> bool:
        real = self.realpath(path)
        return real is not None and real in self._entries

    def is_file(self, path: str) -> bool:
        real = self.realpath(path)
        return real is not None and isinstance(self._entries.get(real), _File)

    def read(self, path: str) -> bytes | None:
        real = self.realpath(path)
        entry = self._entries.get(real) if real is not None else None
        if not isinstance(entry, _File):
            return None
        if entry.oversize:
            raise LayerError(
                f"{real} is {entry.size} bytes, over lockpin's cap of {DEFAULT_MAX_FILE_BYTES} "
                "for a file it reads; this does not look like a base image lockpin can read.",
                layer=f"#{entry.layer}",
                source=self.source,
            )
        return entry.data

    def listdir(self, directory: str) -> tuple[str, ...]:
        """Names of the kept entries directly inside ``directory`` (after
        resolving it), sorted."""
        real = self.realpath(directory)
        if real is None:
            return ()
        prefix = real.rstrip("/") + "/"
        return tuple(
            sorted(
                path[len(prefix) :]
                for path in self._entries
                if path.startswith(prefix) and "/" not in path[len(prefix) :]
            )
        )

    def paths(self) -> tuple[str, ...]:
        """Every kept path (regular files, links, others), sorted."""
        return tuple(sorted(self._entries))

    def link_target(self, path: str) -> str | None:
        """The target of the symbolic link at ``path`` (its parents resolved)."""
        real = _resolve(self._entries, normalize_path(path), follow_last=False)
        entry = self._entries.get(real) if real is not None else None
        return entry.target if isinstance(entry, _Link) else None


class LayerStack:
    """Layers applied in order into one view of the wanted files.

    ``open_layer`` returns the :class:`LayerReader` of the next layer; feed it the
    blob's bytes and close it before opening the next. After an error the stack
    must not be used further.
    """

    def __init__(
        self,
        *,
        want: Callable[[str], Want | None] = default_want,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        source: str = "",
    ) -> None:
        self._view = _View()
        self._want = want
        self._max_file = max_file_bytes
        self._source = source
        self._layers = 0
        self._open: LayerReader | None = None

    def open_layer(self, *, digest: str, diff_id: str | None) -> LayerReader:
        """The reader of the next layer: ``digest`` names it in errors, ``diff_id``
        (``sha256:…``, from the image config) is checked when it is closed
        (``None``: not checked, for tests of the tar rules alone)."""
        if self._open is not None and not self._open.closed:
            raise RuntimeError("close the previous layer before opening the next")
        self._layers += 1
        self._open = LayerReader(self, index=self._layers, digest=digest, diff_id=diff_id)
        return self._open

    def files(self) -> ImageFiles:
        """What the layers closed so far hold."""
        return ImageFiles(dict(self._view.entries), source=self._source)

    # -- applying members (called by LayerReader) -----------------------------------------

    def _error(self, message: str, digest: str) -> LayerError:
        return LayerError(message, layer=digest, source=self._source)

    def _canonical(self, name: str) -> str | None:
        path = normalize_path(name)
        if path == "/" or _depth(path) > MAX_PATH_DEPTH or len(path) > _MAX_NAME:
            return None
        parent, base = posixpath.split(path)
        real_parent = self._view.resolve_dir(parent)
        if real_parent is None:
            return None
        return posixpath.join(real_parent, base)

    def _member(self, member: _Member, layer: int, digest: str) -> str | None:
        """Apply one member; return the canonical path its data is kept for (None: skip)."""
        view = self._view
        path = self._canonical(member.name)
        if view.steps > _MAX_RESOLVE_STEPS:
            raise self._error(
                f"resolving its paths through symbolic links took over {_MAX_RESOLVE_STEPS} "
                "steps (links with huge targets, chained, before every member): not a base "
                "image lockpin reads.",
                digest,
            )
        if path is None:
            log.debug("layer %s: ignoring member %r", digest, member.name[:200])
            return None
        parent, base = posixpath.split(path)
        if base == _OPAQUE:
            view.remove_below(parent, below_layer=layer)
            return None
        if base.startswith(_WHITEOUT):
            hidden = base[len(_WHITEOUT) :]
            if hidden.startswith(_WHITEOUT):
                return None  # aufs metadata (.wh..wh.plnk, .wh..wh.aufs): no file
            if hidden in {"", ".", ".."}:
                # ".wh." / ".wh.." would delete the directory holding the whiteout
                # (at the top: the whole image), ".wh..." its parent; no tool
                # writes these, and applying them is how a layer would empty the
                # files lockpin reads.
                raise self._error(
                    f"member {member.name[:200]!r} is a whiteout of {hidden or '(nothing)'!r}, "
                    "which no image tool writes: the layer is malformed or hostile, and "
                    "lockpin refuses it.",
                    digest,
                )
            target = posixpath.join(parent, hidden)
            view.drop(target, below_layer=layer)
            view.remove_below(target, below_layer=layer)
            return None
        kind = member.kind
        if kind == "dir":
            if path in view.entries:  # a directory replaces a file or link
                view.drop(path, below_layer=layer + 1)
            return None
        # any non-directory hides what earlier layers had below it
        view.remove_below(path, below_layer=layer)
        if kind == "symlink":
            if len(member.linkname) > _MAX_NAME or not member.linkname:
                view.drop(path, below_layer=layer + 1)
                return None
            if view.links >= _MAX_LINKS:
                raise self._error(
                    f"more than {_MAX_LINKS} symbolic links: not a base image lockpin reads.",
                    digest,
                )
            view.put(path, _Link(member.linkname, layer))
            return None
        if kind == "hardlink":
            source = self._canonical(member.linkname)
            entry = view.entries.get(source) if source is not None else None
            if entry is None:
                if self._want(path) is not None:
                    view.put(path, _Other(layer))
                else:
                    view.drop(path, below_layer=layer + 1)
                return None
            view.put(path, _relayer(entry, layer))
            return None
        want = self._want(path) if kind == "file" else None
        if want is None:
            # Keep nothing, but a path that was wanted before is now something else.
            view.drop(path, below_layer=layer + 1)
            if kind == "other" and self._want(path) is not None:
                view.put(path, _Other(layer))
            return None
        if want == "name":
            view.put(path, _File(member.size, None, layer))
            return None
        if member.size > self._max_file:
            view.put(path, _File(member.size, None, layer, oversize=True))
            return None
        return path

    def _data(self, path: str, data: bytes, layer: int) -> None:
        self._view.put(path, _File(len(data), data, layer))


def _relayer(entry: _Entry, layer: int) -> _Entry:
    if isinstance(entry, _File):
        return _File(entry.size, entry.data, layer, entry.oversize)
    if isinstance(entry, _Link):
        return _Link(entry.target, layer)
    return _Other(layer)


# -- decompression -------------------------------------------------------------------------------


class _Decoder(Protocol):
    def feed(self, data: bytes) -> Iterator[bytes]: ...

    def finish(self) -> None: ...


class _Plain:
    def feed(self, data: bytes) -> Iterator[bytes]:
        yield data

    def finish(self) -> None:
        return None


class _Gzip:
    """gzip, every member of a multi-member stream, in pieces of at most
    ``_PIECE`` bytes however far the input would inflate."""

    def __init__(self, error: Callable[[str], LayerError]) -> None:
        self._z = zlib.decompressobj(wbits=31)
        self._error = error
        self._started = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        while True:
            if self._z.eof:
                if not data.strip(b"\0"):
                    return  # zero padding after the last member
                self._z = zlib.decompressobj(wbits=31)
            if data:
                self._started = True
            try:
                piece = self._z.decompress(data, _PIECE)
            except zlib.error as exc:
                raise self._error(f"not valid gzip ({exc}).") from None
            data = self._z.unused_data if self._z.eof else self._z.unconsumed_tail
            if piece:
                yield piece
            if not data and len(piece) < _PIECE:
                return  # all input consumed and no output pending

    def finish(self) -> None:
        if self._started and not self._z.eof:
            raise self._error("the gzip stream is truncated.")


def _zstd_module(error: Callable[[str], LayerError]) -> tuple[Callable[[], Any], bool]:
    """A factory of zstd decompressors, and whether they take ``max_length``
    (Python 3.14's ``compression.zstd``) or not (``zstandard``)."""
    try:
        from compression import zstd  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        pass
    else:
        return zstd.ZstdDecompressor, True
    try:
        import zstandard  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise error(
            "it is compressed with zstd, and this Python has no zstd module: install "
            "the 'zstandard' package (pip install zstandard, or lockpin[zstd]) and run again."
        ) from None
    return lambda: zstandard.ZstdDecompressor().decompressobj(), False


class _Zstd:
    """zstd, every frame. ``zstandard``'s objects have no ``max_length``: the input
    goes in in small slices so that one call cannot inflate without bound."""

    def __init__(self, error: Callable[[str], LayerError]) -> None:
        self._error = error
        self._new, self._bounded = _zstd_module(error)
        self._d: Any = self._new()
        self._started = False

    def _pieces(self, chunk: bytes) -> list[bytes]:
        d = self._d
        if not self._bounded:
            return [d.decompress(chunk)]
        pieces = [d.decompress(chunk, _PIECE)]
        while not d.eof and not d.needs_input:
            pieces.append(d.decompress(b"", _PIECE))
        return pieces

    def feed(self, data: bytes) -> Iterator[bytes]:
        step = max(len(data), 1) if self._bounded else _ZSTD_SLICE
        for start in range(0, len(data), step):
            chunk = data[start : start + step]
            while chunk:
                if self._d.eof:
                    if not chunk.strip(b"\0"):
                        break  # zero padding after the last frame
                    self._d = self._new()
                self._started = True
                try:
                    pieces = self._pieces(chunk)
                except Exception as exc:  # each module has its own error type
                    raise self._error(f"not valid zstd ({exc}).") from None
                chunk = self._d.unused_data if self._d.eof else b""
                yield from (p for p in pieces if p)

    def finish(self) -> None:
        if self._started and not self._d.eof:
            raise self._error("the zstd stream is truncated.")


# -- the tar stream ------------------------------------------------------------------------------

_Kind = Literal["file", "hardlink", "symlink", "dir", "other"]
_KINDS: Final[dict[bytes, _Kind]] = {
    b"0": "file",
    b"\0": "file",
    b"7": "file",
    b"1": "hardlink",
    b"2": "symlink",
    b"3": "other",
    b"4": "other",
    b"5": "dir",
    b"6": "other",
}


@dataclass(frozen=True, slots=True)
class _Member:
    name: str
    kind: _Kind
    size: int
    linkname: str


def _cstring(field_: bytes) -> str:
    return field_.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _number(field_: bytes) -> int | None:
    """A numeric header field: octal text, or GNU base-256 (first byte 0x80)."""
    if field_ and field_[0] & 0x80:
        if field_[0] & 0x40:
            return None  # negative: never a valid size
        return int.from_bytes(bytes([field_[0] & 0x3F]) + field_[1:], "big")
    text = field_.split(b"\0", 1)[0].strip(b" ")
    if not text:
        return 0
    if not re.fullmatch(rb"[0-7]+", text):
        return None
    return int(text, 8)


def _checksum_ok(block: bytes) -> bool:
    stored = _number(block[148:156])
    if stored is None:
        return False
    outside = block[:148] + block[156:]
    unsigned = sum(outside) + 8 * 32  # the checksum field counts as spaces
    if stored == unsigned:
        return True
    # old tar writers summed signed chars
    high = len(outside) - len(outside.translate(None, _HIGH_BYTES))
    return stored == unsigned - 256 * high


_HIGH_BYTES: Final = bytes(range(128, 256))


def _pax_records(data: bytes) -> dict[str, str]:
    """``"<len> key=value\\n"`` records; a malformed record ends the parse."""
    records: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos)
        if space < 0:
            break
        try:
            length = int(data[pos:space])
        except ValueError:
            break
        end = pos + length
        if length <= 0 or end > len(data) or data[end - 1 : end] != b"\n":
            break
        key, sep, value = data[space + 1 : end - 1].partition(b"=")
        if sep:
            records[key.decode("utf-8", "replace")] = value.decode("utf-8", "surrogateescape")
        pos = end
    return records


class LayerReader:
    """One layer of a :class:`LayerStack`: ``feed`` it the blob's chunks, then
    ``close`` it. Raises :class:`~lockpin.errors.LayerError` for what is not a
    (compressed) tar, and :class:`~lockpin.errors.IntegrityError` when the
    uncompressed bytes do not hash to the ``diff_id``."""

    def __init__(self, stack: LayerStack, *, index: int, digest: str, diff_id: str | None) -> None:
        self._stack = stack
        self._index = index
        self.digest = digest
        self._diff_id = diff_id
        self._decoder: _Decoder | None = None
        self._head = b""
        self._sha = hashlib.sha256()
        self._buf = bytearray()
        self._state: Literal["header", "data", "end"] = "header"
        self._zeros = 0
        self._remaining = 0  # data bytes of the current member still to come
        self._padding = 0
        self._keep: bytearray | None = None
        self._keep_for: Literal["member", "pax", "longname", "longlink", "skip"] = "skip"
        self._keep_path: str | None = None
        self._pax: dict[str, str] = {}
        self._long_name: str | None = None
        self._long_link: str | None = None
        self._offset = 0  # uncompressed bytes parsed, for error messages
        self.closed = False
        self.uncompressed_size = 0

    def _error(self, message: str) -> LayerError:
        return self._stack._error(message, self.digest)

    def feed(self, data: bytes) -> None:
        if self.closed:
            raise RuntimeError("feed after close")
        if self._decoder is None:
            self._head += data
            if len(self._head) < 4:
                return
            data, self._head = self._head, b""
            if data.startswith(_GZIP_MAGIC):
                self._decoder = _Gzip(self._error)
            elif data.startswith(_ZSTD_MAGIC):
                self._decoder = _Zstd(self._error)
            else:
                self._decoder = _Plain()
        for piece in self._decoder.feed(data):
            self._sha.update(piece)
            self.uncompressed_size += len(piece)
            self._parse(piece)

    def close(self) -> None:
        """End the layer: the tar must be complete and match its ``diff_id``."""
        if self.closed:
            return
        if self._decoder is None:
            head, self._head = self._head, b""
            self._decoder = _Plain()
            if head:
                self.feed(head)
        self._decoder.finish()
        self.closed = True
        if self._state == "data" or (self._state == "header" and self._buf):
            raise self._error(
                f"the tar archive is truncated (at byte {self._offset + len(self._buf)})."
            )
        if self._diff_id is not None:
            actual = "sha256:" + self._sha.hexdigest()
            if actual != self._diff_id:
                raise IntegrityError(
                    f"layer {self.digest} of {self._stack._source or 'the image'} uncompresses "
                    f"to {actual}, but the image config says {self._diff_id}: refusing it.",
                    url=self._stack._source or self.digest,
                    expected=self._diff_id,
                    actual=actual,
                )

    # -- tar parsing ------------------------------------------------------------------------

    def _parse(self, piece: bytes) -> None:
        buf = self._buf
        buf += piece
        pos = 0
        size = len(buf)
        while pos < size:
            if self._state == "end":
                pos = size  # trailing blocks after the end-of-archive marker
                break
            if self._state == "data":
                if self._remaining:
                    take = min(self._remaining, size - pos)
                    if self._keep is not None:
                        self._keep += buf[pos : pos + take]
                    self._remaining -= take
                    pos += take
                    if self._remaining:
                        break
                if self._padding:
                    take = min(self._padding, size - pos)
                    self._padding -= take
                    pos += take
                    if self._padding:
                        break
                self._end_member()
                self._state = "header"
                continue
            if size - pos < _BLOCK:
                break
            block = bytes(buf[pos : pos + _BLOCK])
            self._header(block, self._offset + pos)
            pos += _BLOCK
        del buf[:pos]
        self._offset += pos

    def _header(self, block: bytes, offset: int) -> None:
        if block == b"\0" * _BLOCK:
            self._zeros += 1
            if self._zeros == 2:
                self._state = "end"
            return
        if self._zeros:
            raise self._error(f"a zero block inside the tar archive (at byte {offset - _BLOCK}).")
        if not _checksum_ok(block):
            raise self._error(
                f"not a tar archive (bad header checksum at byte {offset}); a layer must be "
                "a tar, gzip- or zstd-compressed."
            )
        size = _number(block[124:136])
        if size is None:
            raise self._error(f"a tar header with an invalid size (at byte {offset}).")
        typeflag = block[156:157]
        magic = block[257:263]
        name = _cstring(block[0:100])
        if magic == b"ustar\0":  # POSIX ustar: the prefix field extends the name
            prefix = _cstring(block[345:500])
            if prefix:
                name = f"{prefix}/{name}"
        linkname = _cstring(block[157:257])
        if typeflag in (b"x", b"g", b"L", b"K"):
            if size > _MAX_EXTENDED:
                raise self._error(
                    f"an extended tar header of {size} bytes (at byte {offset}), over the "
                    f"{_MAX_EXTENDED}-byte cap."
                )
            kind = {b"x": "pax", b"g": "skip", b"L": "longname", b"K": "longlink"}[typeflag]
            self._start_data(size, keep=kind != "skip", purpose=kind)  # type: ignore[arg-type]
            return
        pax, self._pax = self._pax, {}
        long_name, self._long_name = self._long_name, None
        long_link, self._long_link = self._long_link, None
        if long_name is not None:
            name = long_name
        if long_link is not None:
            linkname = long_link
        name = pax.get("path", name)
        linkname = pax.get("linkpath", linkname)
        if "size" in pax:
            try:
                size = int(pax["size"])
            except ValueError:
                raise self._error(f"a pax size {pax['size']!r} (at byte {offset}).") from None
            if size < 0:
                raise self._error(f"a negative pax size (at byte {offset}).")
        kind = _KINDS.get(typeflag, "file")  # POSIX: unknown types read as regular files
        # links, directories and devices have no data, whatever their size field says
        data_size = size if kind == "file" else 0
        member = _Member(name, kind, data_size, linkname)
        self._keep_path = self._stack._member(member, self._index, self.digest)
        self._start_data(data_size, keep=self._keep_path is not None, purpose="member")

    def _start_data(
        self,
        size: int,
        *,
        keep: bool,
        purpose: Literal["member", "pax", "longname", "longlink", "skip"],
    ) -> None:
        self._remaining = size
        self._padding = -size % _BLOCK
        self._keep = bytearray() if keep else None
        self._keep_for = purpose if keep else "skip"
        self._state = "data"

    def _end_member(self) -> None:
        data, self._keep = self._keep, None
        purpose, self._keep_for = self._keep_for, "skip"
        if data is None:
            return
        if purpose == "pax":
            self._pax = _pax_records(bytes(data))
        elif purpose == "longname":
            self._long_name = _cstring(bytes(data))
        elif purpose == "longlink":
            self._long_link = _cstring(bytes(data))
        elif purpose == "member" and self._keep_path is not None:
            self._stack._data(self._keep_path, bytes(data), self._index)
            self._keep_path = None
