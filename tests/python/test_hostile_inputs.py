"""Hostile requirement files and ``pyproject.toml``: devices, FIFOs, directories and huge
files are refused before they are read; include chains and dependency-group cycles end in
an InputError naming the file and line or group; malformed entries are named; duplicate
lines cost linear work. Every failure is exit 2 with a message, never a traceback (run as
real processes, with generous timeouts only as a hang guard)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

from lockpin._io import MAX_INPUT_BYTES, read_input_bytes, read_text
from lockpin.errors import InputError
from lockpin.python.inputs import load_inputs, requirement_reader
from lockpin.python.reqfile import MAX_INCLUDE_DEPTH, parse_requirements
from support import CliRun, run_subprocess

if TYPE_CHECKING:
    from pathlib import Path

    from fixtures.index_server import IndexServer

# Nothing listens there: an input error must come before any request.
NO_INDEX = ["-i", "http://127.0.0.1:9/simple/", "--no-cache", "--retries", "0"]


# Every test runs in its own tmp_path with no lockpin configuration (conftest.py).
pytestmark = pytest.mark.usefixtures("isolated")


def lockpin(tmp_path: Path, *args: str) -> CliRun:
    result = run_subprocess(*args, cwd=tmp_path)
    assert "Traceback" not in result.err, result.err
    return result


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# -- non-regular files ---------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["compile", "hash", "verify"])
def test_include_of_dev_zero_is_refused_at_once(tmp_path: Path, command: str) -> None:
    src = write(tmp_path / "requirements.in", "alpha==1.0\n-r /dev/zero\n")
    result = lockpin(tmp_path, command, src.name, *NO_INDEX)
    assert result.code == 2
    assert result.err == (
        "lockpin: error: requirements.in:2: /dev/zero: is a character device; lockpin reads a "
        "requirements file only from a regular file: name the file to read.\n"
    )


@pytest.mark.parametrize("command", ["compile", "hash", "verify"])
def test_dev_zero_as_the_input_itself(tmp_path: Path, command: str) -> None:
    result = lockpin(tmp_path, command, "/dev/zero", *NO_INDEX)
    assert result.code == 2
    assert "/dev/zero: is a character device" in result.err


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    # Opening a FIFO for reading blocks until a writer comes: nobody ever writes to
    # this one, so a reader that opened it would hang until the subprocess timeout.
    os.mkfifo(tmp_path / "pipe.in")
    write(tmp_path / "requirements.in", "-c pipe.in\n")
    result = lockpin(tmp_path, "compile", "requirements.in", *NO_INDEX)
    assert result.code == 2
    assert "requirements.in:1: pipe.in: is a FIFO (named pipe)" in result.err
    assert "write what the pipe produces to a file" in result.err
    for command in ("hash", "verify"):
        result = lockpin(tmp_path, command, "pipe.in", *NO_INDEX)
        assert result.code == 2
        assert "pipe.in: is a FIFO (named pipe)" in result.err


def test_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "reqs").mkdir()
    write(tmp_path / "requirements.in", "-r reqs\n")
    result = lockpin(tmp_path, "compile", "requirements.in", *NO_INDEX)
    assert result.code == 2
    assert "requirements.in:1: reqs: is a directory" in result.err
    (tmp_path / "p" / "pyproject.toml").mkdir(parents=True)
    result = lockpin(tmp_path, "compile", "p/pyproject.toml", *NO_INDEX)
    assert result.code == 2
    assert "p/pyproject.toml: is a directory; lockpin reads a pyproject.toml only" in result.err


def test_existing_lock_that_is_a_device_is_not_read(
    tmp_path: Path, index_server: IndexServer
) -> None:
    # A checkout whose requirements.txt links to /dev/zero: compile reads the old lock
    # for its pins (and --check for the diff); neither may read the device.
    write(tmp_path / "requirements.in", "beta\n")
    lock = tmp_path / "requirements.txt"
    lock.symlink_to("/dev/zero")
    args = ["compile", "requirements.in", "-q", "-i", index_server.simple_url]
    result = lockpin(tmp_path, *args, "--check")
    assert result.code == 1
    assert "+beta==1.0" in result.out
    # Writing is refused too: renaming over the link's target would replace the device
    # node (as root), and replacing the link would silently change what the user set up.
    result = lockpin(tmp_path, *args)
    assert result.code == 2
    assert "not a regular file" in result.err
    assert lock.is_symlink()
    assert os.readlink(lock) == "/dev/zero"


def test_file_over_the_cap_is_refused_before_reading(tmp_path: Path) -> None:
    huge = tmp_path / "huge.in"
    with huge.open("wb") as fh:
        fh.truncate(MAX_INPUT_BYTES + 1)  # sparse: no disk, no time
    write(tmp_path / "requirements.in", "-r huge.in\n")
    result = lockpin(tmp_path, "compile", "requirements.in", *NO_INDEX)
    assert result.code == 2
    assert "requirements.in:1: huge.in: larger than 16 MiB" in result.err


def test_size_cap_reads_at_most_one_byte_more(tmp_path: Path) -> None:
    exact = tmp_path / "exact.txt"
    exact.write_bytes(b"a" * 100)
    assert read_input_bytes(exact, limit=100) == b"a" * 100
    exact.write_bytes(b"a" * 101)
    with pytest.raises(InputError, match="larger than"):
        read_input_bytes(exact, limit=100)


def test_missing_file_is_still_an_oserror_for_the_parser(tmp_path: Path) -> None:
    # The parser names the -r line that included it, with the relative-path hint.
    write(tmp_path / "requirements.in", "-r nope.in\n")
    with pytest.raises(FileNotFoundError):
        requirement_reader(str(tmp_path / "nope.in"))
    with pytest.raises(InputError, match=r"requirements\.in:1: cannot read .*nope\.in"):
        parse_requirements(str(tmp_path / "requirements.in"), reader=requirement_reader)


def test_undecodable_bytes_name_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "inner.in").write_bytes(b"alpha\n# caf\xe9\nbeta\n")
    write(tmp_path / "requirements.in", "-r inner.in\n")
    result = lockpin(tmp_path, "compile", "requirements.in", *NO_INDEX)
    assert result.code == 2
    assert result.err.startswith("lockpin: error: inner.in:2: bytes e9 are not UTF-8 text")
    (tmp_path / "pyproject.toml").write_bytes(b'[project]\nname = "x"\n\ndependencies = ["\xff"]\n')
    with pytest.raises(InputError) as info:
        read_text(tmp_path / "pyproject.toml")
    assert info.value.location == f"{tmp_path / 'pyproject.toml'}:4"


# -- include depth and cycles -----------------------------------------------------------------


def chain(tmp_path: Path, files: int) -> Path:
    """c0.in -r c1.in -r ... -r c{files-1}.in, which pins alpha."""
    for i in range(files - 1):
        write(tmp_path / f"c{i}.in", f"-r c{i + 1}.in\n")
    write(tmp_path / f"c{files - 1}.in", "alpha\n")
    return tmp_path / "c0.in"


def test_deep_include_chain_is_an_input_error_not_a_recursion_error(tmp_path: Path) -> None:
    chain(tmp_path, 2001)
    result = lockpin(tmp_path, "compile", "c0.in", *NO_INDEX)
    assert result.code == 2
    assert result.err == (
        f"lockpin: error: c{MAX_INCLUDE_DEPTH - 1}.in:1: -r/-c files nested more than "
        f"{MAX_INCLUDE_DEPTH} deep (c0.in:1 -> c1.in:1 -> c2.in:1 -> ... "
        f"{MAX_INCLUDE_DEPTH - 6} more ... -> c{MAX_INCLUDE_DEPTH - 3}.in:1 -> "
        f"c{MAX_INCLUDE_DEPTH - 2}.in:1 -> c{MAX_INCLUDE_DEPTH - 1}.in:1); include the files "
        "from fewer levels\n"
    )


def test_include_depth_limit_is_exact(tmp_path: Path) -> None:
    top = chain(tmp_path, MAX_INCLUDE_DEPTH)
    parsed = parse_requirements(str(top), reader=requirement_reader)
    assert [line.name for line in parsed.requirements] == ["alpha"]
    assert len(parsed.files) == MAX_INCLUDE_DEPTH
    top = chain(tmp_path, MAX_INCLUDE_DEPTH + 1)
    with pytest.raises(InputError, match="nested more than"):
        parse_requirements(str(top), reader=requirement_reader)


def test_include_cycle_is_still_an_error(tmp_path: Path) -> None:
    write(tmp_path / "a.in", "alpha\n-r b.in\n")
    write(tmp_path / "b.in", "-c a.in\n-r a.in\n")
    result = lockpin(tmp_path, "compile", "a.in", *NO_INDEX)
    assert result.code == 2
    assert "b.in:1: include cycle a.in -> b.in -> a.in; remove one of these" in result.err


# -- duplicate lines -----------------------------------------------------------------------------


def test_five_thousand_duplicate_lines_compile(tmp_path: Path, index_server: IndexServer) -> None:
    lines = ["beta", "Beta", "beta  # again", "BETA"] * 1250
    write(tmp_path / "requirements.in", "\n".join(lines) + "\n")
    inputs = load_inputs(["requirements.in"])
    assert len(inputs.roots) == 1  # one requirement, however often it is written
    assert inputs.roots[0].location == "requirements.in:1"
    # Before: 46 s. The subprocess timeout (120 s) is only a hang guard.
    result = lockpin(
        tmp_path, "compile", "requirements.in", "-o", "-", "-q", "-i", index_server.simple_url
    )
    assert result.code == 0, result.err
    assert [line for line in result.out.splitlines() if "==" in line] == [
        "alpha==1.1 \\",
        "beta==1.0 \\",
    ]


def test_same_requirement_from_two_files_keeps_both_sources(tmp_path: Path) -> None:
    write(tmp_path / "a.in", "beta\n-r b.in\nbeta\n")
    write(tmp_path / "b.in", "beta\nbeta\n")
    inputs = load_inputs(["a.in"])
    assert [(r.source, r.location) for r in inputs.roots] == [
        ("-r a.in", "a.in:1"),
        ("-r b.in", "b.in:1"),
    ]


def test_thousands_of_option_lines_are_merged_once(tmp_path: Path) -> None:
    text = "".join(f"--extra-index-url https://i{i % 7}.example/\n" for i in range(20000))
    write(tmp_path / "requirements.in", text + "-f ./links\n" * 20000)
    inputs = load_inputs(["requirements.in"])
    assert inputs.options.extra_index_urls == tuple(f"https://i{i}.example/" for i in range(7))
    assert inputs.options.find_links == ("links",)  # relative to requirements.in


# -- pyproject.toml ------------------------------------------------------------------------------


def pyproject(tmp_path: Path, body: str) -> Path:
    return write(tmp_path / "pyproject.toml", '[project]\nname = "app"\nversion = "1"\n' + body)


@pytest.mark.parametrize(
    ("body", "args", "message"),
    [
        pytest.param(
            'dependencies = ["alpha", 5]\n',
            [],
            "pyproject.toml: [project].dependencies[1] is an integer 5, not a requirement string",
            id="dependencies-int",
        ),
        pytest.param(
            'dependencies = "alpha"\n',
            [],
            "pyproject.toml: [project].dependencies must be a list of requirement strings, "
            "not a string",
            id="dependencies-string",
        ),
        pytest.param(
            '[project.optional-dependencies]\nfast = ["beta", {name = "x"}]\n',
            ["--extra", "fast"],
            "pyproject.toml: [project.optional-dependencies].fast[1] is a table {'name': 'x'}",
            id="extra-table",
        ),
        pytest.param(
            'optional-dependencies = ["beta"]\n',
            ["--extra", "fast"],
            "pyproject.toml: [project.optional-dependencies] must be a table",
            id="extras-not-a-table",
        ),
        pytest.param(
            '[dependency-groups]\ndev = ["beta", 1.5]\n',
            ["--group", "dev"],
            "pyproject.toml: [dependency-groups].dev[1] is a float 1.5; an entry of a "
            'dependency group is a requirement string or {include-group = "name"}',
            id="group-float",
        ),
        pytest.param(
            '[dependency-groups]\ndev = [{include-group = "dev"}]\n',
            ["--group", "dev"],
            "pyproject.toml: [dependency-groups].dev[0]: dependency group cycle dev -> dev; "
            "remove one of these include-group entries",
            id="group-self-include",
        ),
        pytest.param(
            '[dependency-groups]\na = ["beta", {include-group = "b"}]\n'
            'b = [{include-group = "C"}]\nc = [{include-group = "a"}]\n',
            ["--group", "a"],
            "pyproject.toml: [dependency-groups].c[0]: dependency group cycle a -> b -> c -> a",
            id="group-cycle",
        ),
        pytest.param(
            '[dependency-groups]\na = [{include-group = "nope"}]\n',
            ["--group", "a"],
            "pyproject.toml: no dependency group 'nope' (included by [dependency-groups].a)",
            id="group-missing-include",
        ),
        pytest.param(
            '[dependency-groups]\na = [{include-group = "b", extra = 1}]\nb = []\n',
            ["--group", "a"],
            "pyproject.toml: [dependency-groups].a[0] is a table",
            id="group-bad-table",
        ),
        pytest.param(
            '[dependency-groups]\na = ["beta >= "]\n',
            ["--group", "a"],
            "pyproject.toml: [dependency-groups].a[0]: invalid requirement 'beta >= '",
            id="group-invalid-requirement",
        ),
        pytest.param(
            "dependencies = [\n",
            [],
            "pyproject.toml: invalid TOML: ",
            id="invalid-toml",
        ),
        pytest.param(
            'dynamic = "dependencies"\n',
            [],
            "pyproject.toml: [project].dynamic must be a list of field names",
            id="dynamic-string",
        ),
    ],
)
def test_malformed_pyproject_is_an_input_error(
    tmp_path: Path, body: str, args: list[str], message: str
) -> None:
    pyproject(tmp_path, body)
    result = lockpin(tmp_path, "compile", "pyproject.toml", *args, *NO_INDEX)
    assert result.code == 2, result.err
    assert result.err.startswith(f"lockpin: error: {message}"), result.err


def test_dependency_groups_resolve_includes_once_and_deeply(tmp_path: Path) -> None:
    groups = "".join(f'g{i} = [{{include-group = "g{i + 1}"}}]\n' for i in range(3000))
    pyproject(
        tmp_path,
        "[dependency-groups]\n"
        + groups
        + 'g3000 = ["alpha"]\n'
        + 'top = [{include-group = "left"}, {include-group = "right"}, "prerel"]\n'
        + 'left = [{include-group = "base"}]\nright = [{include-group = "base"}]\n'
        + 'base = ["beta>=1"]\n',
    )
    deep = load_inputs(["pyproject.toml"], groups=["g0"])
    assert [str(r.requirement) for r in deep.roots] == ["alpha"]
    diamond = load_inputs(["pyproject.toml"], groups=["top"])
    assert [str(r.requirement) for r in diamond.roots] == ["beta>=1", "prerel"]


# -- kernel pseudo-files, ${VAR} blow-ups, deep TOML (found by a red-team pass) ---------------


@pytest.mark.parametrize("path", ["/proc/self/environ", "/proc/self/cmdline", "/proc/version"])
def test_kernel_pseudo_files_are_never_read(path: str) -> None:
    """procfs files are 'regular' with size 0: /proc/self/environ holds every secret of the
    environment and must never be read, echoed or parsed as requirements."""
    if not os.path.exists(path):
        pytest.skip(f"{path} does not exist here")
    with pytest.raises(InputError) as info:
        read_text(path, what="requirements file")
    assert "pseudo-file" in str(info.value) or "not a regular file" in str(info.value)


def test_an_include_of_proc_environ_prints_no_environment(tmp_path: Path) -> None:
    (tmp_path / "x.in").write_text("-r /proc/self/environ\n")
    env_secret = "ghp_redteamSECRET0123456789"
    result = run_subprocess(
        "compile", "x.in", "-o", "-", cwd=tmp_path, env={**os.environ, "GITHUB_TOKEN": env_secret}
    )
    assert result.code == 2
    assert env_secret not in result.out + result.err
    assert "x.in:1" in result.err
    assert "Traceback" not in result.err


def test_variable_expansion_is_bounded() -> None:
    text = "${HUGE}" * 2000 + "\n"
    with pytest.raises(InputError, match=r"r\.in:1: .*expand"):
        parse_requirements("r.in", reader=lambda _p: text, env={"HUGE": "x" * 120_000})


def test_small_variable_expansion_still_works() -> None:
    parsed = parse_requirements("r.in", reader=lambda _p: "${PKG}==1.0\n", env={"PKG": "alpha"})
    assert [r.name for r in parsed.requirements] == ["alpha"]


def test_a_pyproject_nested_too_deeply_is_an_input_error(tmp_path: Path) -> None:
    deep = "[" * 5000 + "]" * 5000
    (tmp_path / "pyproject.toml").write_text(
        f'[project]\nname = "a"\nversion = "1"\ndependencies = {deep}\n'
    )
    result = run_subprocess("compile", "pyproject.toml", "-o", "-", cwd=tmp_path)
    assert result.code == 2
    assert "nested too deeply" in result.err
    assert "Traceback" not in result.err
