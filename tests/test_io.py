"""Table tests of :func:`lockpin._io.atomic_write`: readers see the old file or the new one.

What the code does, and what these rows pin down:

* text in, its UTF-8 bytes on disk, byte for byte: no newline translation either way;
* the temporary file is created next to the target (same directory, so the final
  :func:`os.replace` is a rename on one file system), written, fsynced, then renamed;
* an existing file keeps its permission bits; a new one gets ``0o666 & ~umask``;
* any failure leaves the old content and no temporary file behind; an ``OSError`` becomes an
  :class:`~lockpin.errors.InputError` naming the target, anything else propagates unchanged;
* a symlink is written *through*: the file it points at is replaced atomically (temporary
  file in that file's directory) and the link is kept, as an editor or pip-compile would;
* anything at the path that is not a regular file (a device such as ``/dev/null``, a FIFO)
  is refused with an InputError and left as it was: renaming over it would replace the node.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from typing import TYPE_CHECKING, Any

import pytest

from lockpin._io import atomic_write
from lockpin.errors import InputError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

OLD = "old==1.0\n"


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def leftovers(directory: Path, *keep: str) -> list[str]:
    """Names in ``directory`` other than ``keep``: temporary files left behind."""
    return sorted(set(os.listdir(directory)) - set(keep))


@pytest.fixture
def umask() -> Iterator[Callable[[int], None]]:
    """Set the process umask for one test (restored after)."""
    saved = os.umask(0o022)
    os.umask(saved)

    def set_umask(value: int) -> None:
        os.umask(value)

    yield set_umask
    os.umask(saved)


# -- content -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "on_disk"),
    [
        pytest.param("", b"", id="empty"),
        pytest.param("a==1\nb==2\n", b"a==1\nb==2\n", id="lf-kept-no-crlf"),
        pytest.param("a==1\r\nb==2\r\n", b"a==1\r\nb==2\r\n", id="crlf-kept-not-doubled"),
        pytest.param("a==1\rb==2", b"a==1\rb==2", id="cr-kept"),
        pytest.param("no newline at end", b"no newline at end", id="no-final-newline"),
        pytest.param("# caf\u00e9 \u2713\n", "# caf\u00e9 \u2713\n".encode(), id="utf-8"),
        pytest.param("\ufeffa==1\n", b"\xef\xbb\xbfa==1\n", id="bom-is-text-written-as-is"),
    ],
)
@pytest.mark.parametrize("exists", [False, True], ids=["new-file", "existing-file"])
def test_writes_the_utf8_bytes_of_the_text(
    tmp_path: Path, text: str, on_disk: bytes, exists: bool
) -> None:
    target = tmp_path / "requirements.txt"
    if exists:
        target.write_bytes(b"something longer than the new content\n" * 100)
    atomic_write(target, text)
    assert target.read_bytes() == on_disk
    assert leftovers(tmp_path, target.name) == []


def test_a_relative_path_is_written_in_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    atomic_write("lock.txt", "a==1\n")
    assert (tmp_path / "lock.txt").read_text() == "a==1\n"
    assert leftovers(tmp_path, "lock.txt") == []


# -- permission bits ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o644, 0o755, 0o444])
def test_an_existing_file_keeps_its_mode(tmp_path: Path, mode: int) -> None:
    target = tmp_path / "lock.txt"
    target.write_text(OLD)
    target.chmod(mode)
    atomic_write(target, "new==2.0\n")
    assert target.read_text() == "new==2.0\n"
    assert mode_of(target) == mode


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_a_new_file_gets_the_default_mode_for_the_umask(
    tmp_path: Path, umask: Callable[[int], None], mask: int, mode: int
) -> None:
    umask(mask)
    target = tmp_path / "lock.txt"
    atomic_write(target, OLD)
    assert mode_of(target) == mode  # not mkstemp's 0o600


# -- where and in which order ------------------------------------------------------------------


class Recorder:
    """Wraps the calls atomic_write makes, logging them in order."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.events: list[tuple[str, Any]] = []
        self.temps: list[str] = []
        real_mkstemp = tempfile.mkstemp
        real_fsync, real_replace, real_chmod = os.fsync, os.replace, os.chmod

        def mkstemp(*args: Any, **kwargs: Any) -> tuple[int, str]:
            fd, name = real_mkstemp(*args, **kwargs)
            self.temps.append(name)
            self.events.append(("mkstemp", kwargs.get("dir")))
            return fd, name

        def fsync(fd: int) -> None:
            info = os.fstat(fd)
            if stat.S_ISDIR(info.st_mode):
                self.events.append(("fsync-directory", None))
            else:
                self.events.append(("fsync", info.st_size))
            real_fsync(fd)

        def chmod(path: Any, mode: int, **kwargs: Any) -> None:
            self.events.append(("chmod", mode))
            real_chmod(path, mode, **kwargs)

        def replace(src: Any, dst: Any, **kwargs: Any) -> None:
            self.events.append(("replace", (os.fspath(src), os.fspath(dst))))
            real_replace(src, dst, **kwargs)

        monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
        monkeypatch.setattr(os, "fsync", fsync)
        monkeypatch.setattr(os, "chmod", chmod)
        monkeypatch.setattr(os, "replace", replace)

    def names(self) -> list[str]:
        return [name for name, _ in self.events]


def test_the_temporary_file_is_made_next_to_the_target_then_synced_then_renamed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out" / "requirements.lock"
    target.parent.mkdir()
    target.write_text(OLD)
    target.chmod(0o640)
    calls = Recorder(monkeypatch)
    atomic_write(target, "new==2.0\n")
    # the rename is made durable too: the directory is synced after it
    assert calls.names() == ["mkstemp", "fsync", "chmod", "replace", "fsync-directory"]
    (temp,) = calls.temps
    assert os.path.dirname(temp) == str(target.parent)  # same directory: rename, not copy
    name = os.path.basename(temp)
    assert name.startswith(".requirements.lock.")
    assert name.endswith(".tmp")
    assert calls.events[1] == ("fsync", len(b"new==2.0\n"))  # every byte written before it
    assert calls.events[2] == ("chmod", 0o640)
    assert calls.events[3] == ("replace", (temp, str(target)))
    assert not os.path.exists(temp)


# -- failures ----------------------------------------------------------------------------------


def _fail(exc: BaseException) -> Callable[..., Any]:
    def fail(*_args: Any, **_kwargs: Any) -> Any:
        raise exc

    return fail


class _FailingFile:
    """What os.fdopen returns, with a write that fails half way (disk full)."""

    def __init__(self, fh: Any) -> None:
        self._fh = fh

    def __enter__(self) -> _FailingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._fh.close()

    def write(self, data: bytes) -> int:
        self._fh.write(data[: len(data) // 2])
        self._fh.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fh, name)


def _half_write(monkeypatch: pytest.MonkeyPatch) -> None:
    real_fdopen = os.fdopen
    monkeypatch.setattr(os, "fdopen", lambda *a, **k: _FailingFile(real_fdopen(*a, **k)))


@pytest.mark.parametrize(
    ("patch", "raised", "message"),
    [
        pytest.param(
            lambda mp: mp.setattr(os, "fsync", _fail(OSError(errno.EIO, "Input/output error"))),
            InputError,
            "Input/output error",
            id="fsync-fails",
        ),
        pytest.param(_half_write, InputError, os.strerror(errno.ENOSPC), id="disk-full-mid-write"),
        pytest.param(
            lambda mp: mp.setattr(os, "replace", _fail(OSError(errno.EXDEV, "Cross-device"))),
            InputError,
            "Cross-device",
            id="rename-fails",
        ),
        pytest.param(
            lambda mp: mp.setattr(os, "chmod", _fail(OSError(errno.EPERM, "Not permitted"))),
            InputError,
            "Not permitted",
            id="chmod-fails",
        ),
        pytest.param(
            lambda mp: mp.setattr(os, "fsync", _fail(KeyboardInterrupt())),
            KeyboardInterrupt,
            None,
            id="interrupted-not-wrapped",
        ),
        pytest.param(
            lambda mp: mp.setattr(
                tempfile, "mkstemp", _fail(PermissionError(errno.EACCES, "Permission denied"))
            ),
            InputError,
            "Permission denied",
            id="read-only-directory",
        ),
    ],
)
def test_a_failure_leaves_the_old_file_and_no_temporary_file(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    patch: Callable[[pytest.MonkeyPatch], None],
    raised: type[BaseException],
    message: str | None,
) -> None:
    target = tmp_path / "requirements.txt"
    target.write_text(OLD)
    target.chmod(0o640)
    patch(monkeypatch)
    with pytest.raises(raised, match=message) as info:
        atomic_write(target, "new==2.0\n" * 1000)
    monkeypatch.undo()
    if raised is InputError:
        assert str(target) in str(info.value)  # names the file it could not write
        assert isinstance(info.value.__cause__, OSError)
    assert target.read_text() == OLD
    assert mode_of(target) == 0o640
    assert leftovers(tmp_path, target.name) == []


def test_a_read_only_directory_for_real(tmp_path: Path) -> None:
    directory = tmp_path / "ro"
    directory.mkdir()
    target = directory / "requirements.txt"
    target.write_text(OLD)
    directory.chmod(0o555)
    try:
        probe = directory / "probe"
        try:
            probe.touch()
        except PermissionError:
            pass
        else:  # root, or a file system ignoring modes: nothing to test here
            probe.unlink()
            pytest.skip("this user can write into a 0o555 directory")
        with pytest.raises(InputError, match=r"cannot write .*requirements\.txt"):
            atomic_write(target, "new==2.0\n")
        assert target.read_text() == OLD
        assert leftovers(directory, target.name) == []
    finally:
        directory.chmod(0o755)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(lambda d: d / "missing" / "lock.txt", "No such file", id="no-such-directory"),
        pytest.param(
            lambda d: d / "file.txt" / "lock.txt", "Not a directory", id="parent-is-a-file"
        ),
        pytest.param(lambda d: d / "adir", "Is a directory", id="target-is-a-directory"),
    ],
)  # fmt: skip
def test_a_target_that_cannot_be_written(
    tmp_path: Path, make: Callable[[Path], Path], message: str
) -> None:
    (tmp_path / "file.txt").write_text(OLD)
    (tmp_path / "adir").mkdir()
    (tmp_path / "adir" / "inside").write_text(OLD)
    target = make(tmp_path)
    with pytest.raises(InputError, match=message) as info:
        atomic_write(target, "new==2.0\n")
    assert str(target) in str(info.value)
    assert (tmp_path / "file.txt").read_text() == OLD
    assert (tmp_path / "adir" / "inside").read_text() == OLD
    assert leftovers(tmp_path, "file.txt", "adir") == []


# -- symlinks ----------------------------------------------------------------------------------


@pytest.mark.parametrize("relative", [True, False], ids=["relative-link", "absolute-link"])
def test_a_symlink_is_written_through_and_kept(tmp_path: Path, relative: bool) -> None:
    real_dir = tmp_path / "shared"
    real_dir.mkdir()
    real = real_dir / "real.txt"
    real.write_text(OLD)
    real.chmod(0o600)
    link_dir = tmp_path / "project"
    link_dir.mkdir()
    link = link_dir / "requirements.txt"
    link.symlink_to(os.path.relpath(real, link_dir) if relative else real)
    atomic_write(link, "new==2.0\n")
    assert link.is_symlink()  # the link is kept ...
    assert real.read_text() == "new==2.0\n"  # ... and the file it points at is replaced
    assert mode_of(real) == 0o600
    assert leftovers(link_dir, link.name) == []
    assert leftovers(real_dir, real.name) == []  # the temporary file was next to the real file


def test_a_dangling_symlink_creates_the_file_it_names(
    tmp_path: Path, umask: Callable[[int], None]
) -> None:
    umask(0o022)
    link = tmp_path / "lock.txt"
    link.symlink_to(tmp_path / "elsewhere.txt")
    atomic_write(link, "new==2.0\n")
    assert link.is_symlink()
    assert (tmp_path / "elsewhere.txt").read_text() == "new==2.0\n"
    assert mode_of(tmp_path / "elsewhere.txt") == 0o644


def test_a_dangling_symlink_into_a_missing_directory_is_an_input_error(tmp_path: Path) -> None:
    link = tmp_path / "lock.txt"
    link.symlink_to(tmp_path / "nowhere" / "lock.txt")
    with pytest.raises(InputError, match="cannot write"):
        atomic_write(link, "new==2.0\n")
    assert link.is_symlink()
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("kind", ["fifo", "device-link"])
def test_a_path_that_is_not_a_regular_file_is_refused_and_kept(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "out"
    if kind == "fifo":
        os.mkfifo(target)
    else:
        target.symlink_to("/dev/null")  # -o through a link to a device
    before = os.lstat(target)
    with pytest.raises(InputError, match="not a regular file"):
        atomic_write(target, "new==2.0\n")
    after = os.lstat(target)
    assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)  # the device node is untouched
    assert leftovers(tmp_path, "out") == []
