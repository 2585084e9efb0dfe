"""A careless user's (or a hostile repository's) Dockerfile given to
``pin_dockerfile``: huge and degenerate inputs, bytes that are not text, credentials
in a ``FROM``, and a Dockerfile path that is a link, a FIFO, a directory, read-only,
or edited while lockpin resolves. Every failure names the file (and line) and
leaves the file as it was."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

import pytest

from lockpin._io import MAX_INPUT_BYTES
from lockpin.errors import DockerfileError, InputError
from lockpin.image.pin import pin_dockerfile, pin_text

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path


def digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


class Fake:
    """Resolves every reference to a digest of its text; ``during`` runs inside
    the first resolve (while lockpin "is at the registry")."""

    def __init__(self, during: Callable[[], object] | None = None) -> None:
        self.during = during
        self.calls: list[str] = []

    def resolve(self, reference: str, platforms: Sequence[str]) -> str:
        self.calls.append(reference)
        if self.during is not None:
            during, self.during = self.during, None
            during()
        return digest(reference)


PINNED = f"FROM python:3.12@{digest('python:3.12')}\n"


# -- size and shape -----------------------------------------------------------------------------


def test_a_dockerfile_over_the_input_cap_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    with path.open("wb") as fh:
        fh.write(b"FROM python:3.12\nRUN echo ")
        fh.truncate(MAX_INPUT_BYTES + 1)  # one 16 MiB line, sparse on disk
    before = path.stat()
    fake = Fake()
    with pytest.raises(InputError, match="larger than 16 MiB"):
        pin_dockerfile(path, resolver=fake, write=True)
    assert fake.calls == []
    assert path.stat().st_mtime_ns == before.st_mtime_ns


def test_a_single_line_of_8_mib_is_pinned_and_kept_byte_for_byte() -> None:
    long_run = "RUN echo " + "a" * (8 << 20) + "\n"
    result = pin_text("FROM python:3.12\n" + long_run, resolver=Fake())
    assert result.text == PINNED + long_run


def test_100k_instructions_finish_and_are_pinned(tmp_path: Path) -> None:
    """Run in a subprocess with a generous time limit: a parser gone quadratic
    (or into a loop) fails this test instead of hanging the suite; what is
    asserted is the output."""
    path = tmp_path / "Dockerfile"
    body = "FROM python:3.12 AS a\n" + "RUN true \\\n  && true\n" * 50_000 + "FROM a\n" * 50_000
    path.write_text(body)
    script = textwrap.dedent(
        f"""
        import hashlib, sys
        from lockpin.image.pin import pin_dockerfile
        class R:
            def resolve(self, ref, platforms):
                return "sha256:" + hashlib.sha256(ref.encode()).hexdigest()
        result = pin_dockerfile({str(path)!r}, resolver=R(), write=True)
        print(len(result.changes))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1"]
    text = path.read_text()
    assert text.startswith(f"FROM python:3.12@{digest('python:3.12')} AS a\n")
    assert text.count("FROM a\n") == 50_000


def test_an_unterminated_heredoc_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text("FROM python:3.12\nRUN <<EOF\necho hi\n")
    with pytest.raises(DockerfileError, match=r"Dockerfile:2: unterminated heredoc") as info:
        pin_dockerfile(path, resolver=Fake(), write=True)
    assert info.value.line == 2
    assert path.read_text() == "FROM python:3.12\nRUN <<EOF\necho hi\n"


# -- bytes that are not text --------------------------------------------------------------------


def test_invalid_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_bytes(b"FROM python:3.12\n# caf\xe9\nRUN true\n")
    with pytest.raises(InputError, match="not UTF-8") as info:
        pin_dockerfile(path, resolver=Fake(), write=True)
    assert str(info.value).startswith(f"{path}:2: ")


def test_a_nul_in_the_image_is_a_bad_reference_and_elsewhere_is_kept() -> None:
    with pytest.raises(DockerfileError, match=r"Dockerfile:1: invalid image reference"):
        pin_text("FROM python:3.12\x00\n", resolver=Fake())
    result = pin_text("FROM python:3.12\nRUN a\x00b\n", resolver=Fake())
    assert result.text == PINNED + "RUN a\x00b\n"


# -- credentials in a FROM ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "image",
    [
        "user:hunter2pass@registry.example/x:1",
        "https://user:hunter2pass@registry.example/x:1",
        "http://hunter2pass@registry.example/x",
    ],
)
def test_credentials_in_a_from_are_refused_and_never_echoed(tmp_path: Path, image: str) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text(f"FROM {image}\n")
    fake = Fake()
    with pytest.raises(DockerfileError) as info:
        pin_dockerfile(path, resolver=fake, write=True)
    message = str(info.value)
    assert "hunter2pass" not in message
    assert message.startswith(f"{path}:1: invalid image reference '***@registry.example/x")
    assert "docker login" in message
    assert fake.calls == []


def test_credentials_in_an_arg_default_are_not_echoed() -> None:
    text = "ARG BASE=user:hunter2pass@registry.example/x:1\nFROM $BASE\n"
    with pytest.raises(DockerfileError) as info:
        pin_text(text, resolver=Fake())
    assert "hunter2pass" not in str(info.value)


# -- what the path is ---------------------------------------------------------------------------


def test_a_symlinked_dockerfile_is_written_through_and_stays_a_link(tmp_path: Path) -> None:
    real = tmp_path / "docker" / "Dockerfile.real"
    real.parent.mkdir()
    real.write_text("FROM python:3.12\n")
    link = tmp_path / "Dockerfile"
    link.symlink_to(real)
    pin_dockerfile(link, resolver=Fake(), write=True)
    assert link.is_symlink()
    assert os.readlink(link) == str(real)
    assert real.read_text() == PINNED
    assert sorted(p.name for p in real.parent.iterdir()) == ["Dockerfile.real"]  # no temp left


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "Dockerfile"
    os.mkfifo(fifo)
    # in a subprocess: opening a FIFO would block for ever, and that must fail the
    # test, not hang it
    script = (
        "from lockpin.image.pin import pin_dockerfile\n"
        "from lockpin.errors import InputError\n"
        f"try: pin_dockerfile({str(fifo)!r}, resolver=None)\n"
        "except InputError as e: print(e)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "is a FIFO (named pipe)" in done.stdout


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a directory"):
        pin_dockerfile(tmp_path, resolver=Fake())


def test_a_read_only_dockerfile_is_not_replaced(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text("FROM python:3.12\n")
    path.chmod(0o444)
    with pytest.raises(InputError, match="is read-only; lockpin leaves it"):
        pin_dockerfile(path, resolver=Fake(), write=True)
    assert path.read_text() == "FROM python:3.12\n"
    assert path.stat().st_mode & 0o777 == 0o444
    assert [p.name for p in tmp_path.iterdir()] == ["Dockerfile"]
    # the result is still there to be seen, without writing
    assert pin_dockerfile(path, resolver=Fake()).text == PINNED


def test_a_dockerfile_edited_while_lockpin_resolves_is_not_clobbered(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text("FROM python:3.12\n")
    edited = "FROM python:3.12\nRUN echo the user's edit\n"
    fake = Fake(during=lambda: path.write_text(edited))
    with pytest.raises(InputError, match="changed on disk while lockpin worked"):
        pin_dockerfile(path, resolver=fake, write=True)
    assert path.read_text() == edited
    assert [p.name for p in tmp_path.iterdir()] == ["Dockerfile"]


def test_a_dockerfile_removed_while_lockpin_resolves_is_not_recreated(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text("FROM python:3.12\n")
    with pytest.raises(InputError, match="was removed while lockpin worked"):
        pin_dockerfile(path, resolver=Fake(during=path.unlink), write=True)
    assert list(tmp_path.iterdir()) == []


def test_a_json_nesting_bomb_in_an_exec_form_is_the_shell_form() -> None:
    """BuildKit (Go, depth limit 10000) reads a too-deep array as shell form."""
    cmd = "CMD " + "[" * 200_000 + "\n"
    assert pin_text("FROM python:3.12\n" + cmd, resolver=Fake()).text == PINNED + cmd
