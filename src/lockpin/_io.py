"""File-system helpers shared by every command: atomic writes, reading inputs.

Every file a user names (requirement and constraint files, ``pyproject.toml``,
a lockfile to verify) is read through :func:`read_input_bytes`: only regular
files, at most :data:`MAX_INPUT_BYTES`. ``-r /dev/zero`` or a FIFO must fail
at once with a clear error, not fill the memory or block forever.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import time
from pathlib import Path
from typing import Final

from .errors import InputError

__all__ = [
    "MAX_INPUT_BYTES",
    "STALE_TMP_SECONDS",
    "atomic_write",
    "decode_text",
    "read_input_bytes",
    "read_text",
]

#: Size cap of one input file. Real requirement files and locks are kilobytes; the
#: largest lock of a big monorepo is a few hundred.
MAX_INPUT_BYTES: Final = 16 * 1024 * 1024

_CHUNK: Final = 1024 * 1024


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _refuse(name: str, mode: int, what: str) -> InputError:
    if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        hint = "write what the pipe produces to a file and name that file"
    elif stat.S_ISDIR(mode):
        hint = "name a file inside it"
    else:
        hint = "name the file to read"
    return InputError(
        f"{name}: is {_kind(mode)}; lockpin reads a {what} only from a regular file: {hint}."
    )


#: Kernel file systems whose "regular files" are views of process or machine state
#: (``/proc/self/environ`` holds every secret of the environment): never inputs.
_PSEUDO_ROOTS: Final = ("/proc/", "/sys/", "/dev/")


def _refuse_pseudo_file(name: str, what: str) -> None:
    real = os.path.realpath(name)
    if real.startswith(_PSEUDO_ROOTS):
        raise InputError(
            f"{name}: is a kernel pseudo-file ({real}); lockpin reads a {what} only from "
            "a regular file on disk: name the file to read."
        )


def _too_large(name: str, what: str, limit: int) -> InputError:
    return InputError(
        f"{name}: larger than {limit // (1024 * 1024)} MiB; that is not a {what} "
        "lockpin will read. Check the path."
    )


def read_input_bytes(
    path: str | os.PathLike[str], *, what: str = "input file", limit: int = MAX_INPUT_BYTES
) -> bytes:
    """The bytes of a user's input file.

    Raises :class:`OSError` when the file cannot be opened (missing, no
    permission) so that callers can name the line that referred to it, and
    :class:`InputError` for anything that is not a regular file or is larger
    than ``limit`` bytes. The type is checked before opening (opening a FIFO
    blocks until a writer comes) and again on the open descriptor (the path may
    have been swapped in between); at most ``limit + 1`` bytes are read.
    """
    name = os.fspath(path)
    mode = os.stat(name).st_mode
    if not stat.S_ISREG(mode):
        raise _refuse(name, mode, what)
    _refuse_pseudo_file(name, what)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(name, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _refuse(name, info.st_mode, what)
        if info.st_size > limit:
            raise _too_large(name, what, limit)
        chunks: list[bytes] = []
        total = 0
        while total <= limit:
            chunk = os.read(fd, min(_CHUNK, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    finally:
        os.close(fd)
    if total > limit:  # grew while being read
        raise _too_large(name, what, limit)
    return b"".join(chunks)


def decode_text(data: bytes, path: str | os.PathLike[str]) -> str:
    """``data`` as UTF-8; undecodable bytes are an :class:`InputError` naming the line."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        bad = data[exc.start : exc.end].hex(" ")
        raise InputError(
            f"bytes {bad} are not UTF-8 text; save the file as UTF-8",
            location=f"{os.fspath(path)}:{line}",
        ) from exc


def read_text(path: str | os.PathLike[str], *, what: str = "input file") -> str:
    """Read a user's input file (see :func:`read_input_bytes`), turning OS errors
    into a clear InputError."""
    name = os.fspath(path)
    try:
        data = read_input_bytes(name, what=what)
    except FileNotFoundError as exc:
        raise InputError(f"{name}: no such file.") from exc
    except OSError as exc:
        raise InputError(f"{name}: cannot read it ({exc.strerror or exc}).") from exc
    return decode_text(data, name)


def atomic_write(path: str | os.PathLike[str], text: str, *, expected: str | None = None) -> None:
    """Write ``text`` to ``path`` so that readers see the old or the new file,
    never a partial one: temp file in the same directory, fsync, rename.

    The file's permission bits are kept when it exists. A process killed between
    the temp file and the rename (``kill -9``) leaves ``.NAME.XXXXXXXX.tmp``
    behind; a later write of the same file removes those older than
    :data:`STALE_TMP_SECONDS` (a fresh one may be another writer's, at work).

    ``expected`` is for rewriting a user's file in place (``dockerfile pin``): the
    text lockpin read from ``path``. The file is then refused when it has no write
    permission at all (``chmod a-w``: the user protected it; a rename would replace
    it anyway) and when it no longer holds ``expected`` right before the rename (an
    editor saved it meanwhile: replacing it would lose that edit). Either way
    nothing is written.
    """
    target = _write_target(Path(path))
    data = text.encode("utf-8")
    if expected is not None:
        _check_unchanged(target, expected)
    directory = target.parent if str(target.parent) else Path(".")
    try:
        mode = target.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    except OSError as exc:  # e.g. a path below a regular file
        raise InputError(f"cannot write {target}: {exc.strerror}.") from exc
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise InputError(f"cannot write {target}: {exc.strerror}.") from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        if expected is not None:
            _check_unchanged(target, expected)  # again: the window is now the rename
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise InputError(f"cannot write {target}: {exc.strerror}.") from exc
        raise
    _fsync_directory(directory)
    _sweep_stale_temps(directory, target.name)


#: Age after which a temp file of :func:`atomic_write` counts as left by a killed
#: writer (the same margin as the cache's: writes take milliseconds).
STALE_TMP_SECONDS: Final = 3600.0
#: mkstemp's random part: 8 characters of this alphabet (``tempfile._RandomNameSequence``)
_TMP_ALPHABET: Final = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


def _sweep_stale_temps(directory: Path, name: str) -> None:
    """Remove ``.NAME.XXXXXXXX.tmp`` files in ``directory`` (exactly the names
    :func:`atomic_write` makes, never a user's ``.NAME.backup.tmp``) not modified
    for :data:`STALE_TMP_SECONDS`. Best effort: a failure here never fails a write."""
    prefix, suffix = f".{name}.", ".tmp"
    cutoff = time.time() - STALE_TMP_SECONDS
    try:
        with os.scandir(directory) as entries:
            for item in entries:
                middle = item.name[len(prefix) : -len(suffix)]
                if not (
                    item.name.startswith(prefix)
                    and item.name.endswith(suffix)
                    and len(middle) == 8
                    and set(middle) <= _TMP_ALPHABET
                ):
                    continue
                with contextlib.suppress(OSError):  # gone already, or not ours to remove
                    info = item.stat(follow_symlinks=False)
                    if stat.S_ISREG(info.st_mode) and info.st_mtime < cutoff:
                        os.unlink(item.path)
    except OSError:
        return


def _check_unchanged(target: Path, expected: str) -> None:
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        raise InputError(
            f"{target}: was removed while lockpin worked; nothing written. Run again."
        ) from None
    except OSError as exc:
        raise InputError(f"cannot write {target}: {exc.strerror}.") from exc
    if not mode & 0o222 or not os.access(target, os.W_OK):
        raise InputError(
            f"{target}: is read-only; lockpin leaves it as it is. Make it writable "
            "(chmod u+w), or see the change without writing it (--dry-run, --check)."
        )
    try:
        now = read_input_bytes(target)
    except OSError as exc:
        raise InputError(f"cannot write {target}: {exc.strerror}.") from exc
    if now != expected.encode("utf-8"):
        raise InputError(
            f"{target}: changed on disk while lockpin worked (after it was read); lockpin "
            "does not overwrite that change and wrote nothing. Run the command again."
        )


def _write_target(path: Path) -> Path:
    """Where the new file goes. A symlink is written through (the file it points at
    is replaced, the link kept, as an editor or pip-compile would); anything that
    exists and is not a regular file (a device such as ``/dev/null``, a FIFO, a
    directory) is refused: renaming over it would replace the node itself."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return path
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror}.") from exc
    target = Path(os.path.realpath(path)) if stat.S_ISLNK(info.st_mode) else path
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        return target  # a dangling link: create the file it names
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror}.") from exc
    if not stat.S_ISREG(mode):
        if stat.S_ISDIR(mode):
            raise InputError(f"cannot write {path}: Is a directory.")
        raise InputError(
            f"cannot write {path}: it is {_kind(mode)}, not a regular file; lockpin "
            "replaces files atomically and will not replace it. Name a file path."
        )
    return target


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (a crash right after it could otherwise bring
    back the old directory entry). Best effort: some file systems refuse it."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    try:
        fd = os.open(directory, flags)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
