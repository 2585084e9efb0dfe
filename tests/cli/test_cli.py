"""The ``lockpin`` command itself: dispatch, errors to exit codes, ``--version``, the header's
command line; and the file options that meet the command line's (index precedence,
``--trusted-host``)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

import lockpin
from lockpin.cli import build_parser, main
from lockpin.cli import python as python_commands
from lockpin.cli._options import command_line
from lockpin.errors import InputError, NetworkError, ResolutionError
from lockpin.net.http import HttpConfig
from lockpin.python.compile import compile_lock
from lockpin.python.hashverify import allow_trusted_hosts, merge_index_config
from lockpin.python.index import PYPI_SIMPLE, IndexConfig
from lockpin.python.reqfile import FileOptions
from lockpin.python.target import parse_target
from support import closed_port, run_cli, run_subprocess

if TYPE_CHECKING:
    from fixtures.index_server import IndexServer
    from lockpin.python.hashverify import IndexPrecedence

SECRET = "s3cr3t-t0ken"


# Every test runs in its own tmp_path with no lockpin configuration (conftest.py).
pytestmark = pytest.mark.usefixtures("isolated")


# -- --version and the root parser ---------------------------------------------------------------


def test_version_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"lockpin {lockpin.__version__}\n"


def test_version_imports_none_of_the_library() -> None:
    """``lockpin --version`` stays instant: it loads neither the HTTP stack nor the
    resolver (what it imports is checked, not how long it takes)."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "lockpin", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0
    assert proc.stdout == f"lockpin {lockpin.__version__}\n"
    imported = {line.rpartition("|")[2].strip() for line in proc.stderr.splitlines()}
    assert "lockpin.cli.python" in imported  # the whole parser was built
    heavy = ("httpx", "httpcore", "anyio", "h2", "packaging", "resolvelib", "lockpin.python",
             "lockpin.net", "lockpin.progress")  # fmt: skip
    assert [m for m in imported if m.startswith(heavy)] == []


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: lockpin")
    for command in ("compile", "hash", "verify"):
        assert command in err


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == 2
    assert "invalid choice: 'frobnicate'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "runner"),
    [
        (["compile"], "run_compile"),
        (["compile", "a.in", "b.in", "-o", "-"], "run_compile"),
        (["hash", "requirements.txt"], "run_hash"),
        (["verify", "requirements.txt", "--closure"], "run_verify"),
    ],
)
def test_each_command_dispatches_to_its_runner(argv: list[str], runner: str) -> None:
    args = build_parser().parse_args(argv)
    assert args.command == argv[0]
    assert args.run is getattr(python_commands, runner)


# -- errors to exit codes ------------------------------------------------------------------------

ERROR_CASES = [
    pytest.param(
        InputError("no version given", location="requirements.txt:3"),
        2,
        "lockpin: error: requirements.txt:3: no version given\n",
        id="input-error",
    ),
    pytest.param(
        ResolutionError("alpha 1.0 and alpha 2.0 cannot both be installed."),
        1,
        "lockpin: error: alpha 1.0 and alpha 2.0 cannot both be installed.\n",
        id="resolution-error",
    ),
    pytest.param(
        NetworkError(
            f"cannot reach https://user:{SECRET}@private.example/simple/alpha/",
            url="https://private.example/simple/alpha/",
        ),
        2,
        "lockpin: error: cannot reach https://user:****@private.example/simple/alpha/\n",
        id="network-error-redacted",
    ),
    pytest.param(KeyboardInterrupt(), 130, "lockpin: interrupted\n", id="interrupted"),
]


@pytest.mark.parametrize(("raised", "code", "printed"), ERROR_CASES)
@pytest.mark.parametrize("command", ["hash", "verify", "compile"])
def test_errors_become_one_message_and_an_exit_code(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
    raised: BaseException,
    code: int,
    printed: str,
) -> None:
    def fail(_args: object) -> int:
        raise raised

    monkeypatch.setattr(python_commands, f"run_{command}", fail)
    result = run_cli(capsys, command, "requirements.txt")
    assert (result.code, result.out, result.err) == (code, "", printed)
    assert SECRET not in result.both


def test_a_bug_is_not_disguised_as_a_lockpin_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fail(_args: object) -> int:
        raise RuntimeError("a bug")

    monkeypatch.setattr(python_commands, "run_hash", fail)
    # an internal error (exit 70, docs/errors.md), never "lockpin: error:"
    assert main(["hash", "requirements.txt"]) == 70
    assert capsys.readouterr().err.startswith("lockpin: internal error: RuntimeError: a bug")


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["hash", "nothere.txt"], 2, "nothere.txt"),
        (["verify", "nothere.txt"], 2, "nothere.txt"),
        (["compile", "nothere.in"], 2, "nothere.in: no such file"),
        (["compile", "--exclude-newer", "yesterday"], 2, "--exclude-newer 'yesterday'"),
    ],
)
def test_a_real_process_prints_no_traceback(
    tmp_path: Path, argv: list[str], code: int, message: str
) -> None:
    (tmp_path / "requirements.in").write_text("alpha\n")
    result = run_subprocess(*argv, cwd=tmp_path)
    assert result.code == code
    assert result.err.startswith("lockpin: error: ")
    assert message in result.err
    assert "Traceback" not in result.err


# -- the command line in a lock's header ---------------------------------------------------------

COMMAND_LINES = [
    (["compile", "requirements.in"], "lockpin compile requirements.in"),
    (
        ["compile", "a.in", "-q", "-vv", "--no-cache", "--refresh", "--offline", "-U",
         "--dry-run", "--check", "-o", "a.txt"],
        "lockpin compile a.in -o a.txt",
    ),
    (
        ["compile", "a.in", "--cache-dir", "/c", "--max-age=5", "--timeout", "3",
         "--retries", "1", "-P", "alpha", "--upgrade-package=beta==2"],
        "lockpin compile a.in",
    ),
    (
        ["compile", "a.in", "-i", f"https://u:{SECRET}@private.example/simple", "--pre"],
        "lockpin compile a.in -i https://u:****@private.example/simple --pre",
    ),
    (["compile", "my file.in"], "lockpin compile 'my file.in'"),
]  # fmt: skip


@pytest.mark.parametrize(("argv", "expected"), COMMAND_LINES)
def test_command_line_keeps_what_decides_the_lock(argv: list[str], expected: str) -> None:
    assert command_line(argv) == expected


def test_the_library_lock_has_no_command_until_the_caller_sets_one(
    index_server: IndexServer,
) -> None:
    Path("requirements.in").write_text("beta\n")
    lock = compile_lock(
        ["requirements.in"],
        targets=[parse_target(python_version="3.12", platform="linux/amd64")],
        index=IndexConfig(index_url=index_server.simple_url),
        http=HttpConfig(cache_dir=None),
    )
    assert lock.command is None
    assert "by the following command" not in lock.to_requirements_txt()
    text = dataclasses.replace(lock, command="make lock").to_requirements_txt()
    assert "# by the following command:\n#\n#    make lock\n#\n" in text
    assert text.split("\n\n", 1)[1] == lock.to_requirements_txt().split("\n\n", 1)[1]


# -- which index: the command line's, or the input file's -i line --------------------------------

MERGE_CASES = [
    # (given, precedence, file options, expected index_url, expected extras)
    (None, "given", FileOptions(), PYPI_SIMPLE, ()),
    (None, "given", FileOptions(index_url="https://file/simple"), "https://file/simple", ()),
    (
        IndexConfig(index_url="https://given/simple"),
        "given",
        FileOptions(index_url="https://file/simple"),
        "https://given/simple",
        (),
    ),
    (
        IndexConfig(index_url="https://given/simple", extra_index_urls=("https://x1/",)),
        "files",
        FileOptions(index_url="https://file/simple", extra_index_urls=("https://x2/",)),
        "https://file/simple",
        ("https://x1/", "https://x2/"),
    ),
    (
        IndexConfig(index_url="https://given/simple"),
        "files",
        FileOptions(),
        "https://given/simple",
        (),
    ),
]


@pytest.mark.parametrize(("given", "precedence", "opts", "url", "extras"), MERGE_CASES)
def test_merge_index_config(
    given: IndexConfig | None,
    precedence: IndexPrecedence,
    opts: FileOptions,
    url: str,
    extras: tuple[str, ...],
) -> None:
    merged = merge_index_config(given, opts, precedence=precedence)
    assert merged.index_url == url
    assert merged.extra_index_urls == extras


def _hash_file(tmp_path: Path, *lines: str) -> Path:
    req = tmp_path / "requirements.txt"
    req.write_text("".join(f"{line}\n" for line in lines) + "beta==1.0\n")
    return req


def test_the_command_line_index_wins_over_the_file_and_the_file_over_the_default(
    index_server: IndexServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dead = f"http://127.0.0.1:{closed_port()}/simple/"
    req = _hash_file(tmp_path, f"-i {index_server.simple_url}")
    # no -i on the command line: the file's index is used
    assert run_cli(capsys, "hash", str(req), "-o", "-", "--no-cache").code == 0
    # -i on the command line wins over the file's (and nothing listens there)
    result = run_cli(capsys, "hash", str(req), "-o", "-", "--no-cache", "--retries", "0",
                     "-i", dead)  # fmt: skip
    assert result.code == 2
    assert dead in result.err


# -- --trusted-host lines: plain http to that host, nothing more ---------------------------------


def _plain_http_index(index_server: IndexServer) -> tuple[str, int]:
    # 0.0.0.0 is not loopback for the policy, yet Linux connects it locally.
    url = index_server.simple_url.replace("127.0.0.1", "0.0.0.0")
    port = urlsplit(url).port
    assert port is not None
    return url, port


@pytest.mark.parametrize(
    ("trusted", "allowed"),
    [
        (None, False),
        ("0.0.0.0", True),
        ("0.0.0.0:{port}", True),
        ("0.0.0.0:1", False),
        ("other.example", False),
    ],
)
def test_trusted_host_line_allows_plain_http_to_that_host(
    index_server: IndexServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    trusted: str | None,
    allowed: bool,
) -> None:
    url, port = _plain_http_index(index_server)
    lines = [f"-i {url}"] + ([f"--trusted-host {trusted.format(port=port)}"] if trusted else [])
    req = _hash_file(tmp_path, *lines)
    result = run_cli(capsys, "hash", str(req), "--no-cache")
    if allowed:
        assert result.code == 0, result.err
        assert "beta==1.0 \\\n    --hash=sha256:" in req.read_text()
    else:
        assert result.code == 2
        assert f"refusing plain-http URL {url}beta/" in result.err


def test_trusted_host_in_a_compile_input(
    index_server: IndexServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, _ = _plain_http_index(index_server)
    (tmp_path / "requirements.in").write_text(f"-i {url}\n--trusted-host 0.0.0.0\nbeta\n")
    result = run_cli(capsys, "compile", "requirements.in", "-o", "-", "--no-cache",
                     "--python-version", "3.12", "--platform", "linux/amd64")  # fmt: skip
    assert result.code == 0, result.err
    assert "\nbeta==1.0 \\\n" in result.out


@pytest.mark.parametrize("value", ["http://0.0.0.0/", "user@host", "a/b", ":80"])
def test_a_trusted_host_that_is_not_a_host_is_refused(
    index_server: IndexServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    req = _hash_file(tmp_path, f"-i {index_server.simple_url}", f"--trusted-host {value}")
    result = run_cli(capsys, "hash", str(req), "--no-cache")
    assert result.code == 2
    assert f"--trusted-host {value!r}: expected a host name or address" in result.err


def test_trusted_host_changes_nothing_but_the_plain_http_hosts() -> None:
    """pip also turns TLS verification off for a trusted host; lockpin has no such
    switch at all, and a --trusted-host line changes only the plain-http hosts."""
    base = HttpConfig(timeout=7.0, allow_insecure_hosts=frozenset({"mirror.internal"}))
    opts = FileOptions(trusted_hosts=("Pypi.Internal", "10.0.0.5:8080"))
    merged = allow_trusted_hosts(base, opts)
    assert merged == dataclasses.replace(
        base,
        allow_insecure_hosts=frozenset({"mirror.internal", "pypi.internal", "10.0.0.5:8080"}),
    )
    assert allow_trusted_hosts(base, FileOptions()) is base
    assert not any("verify" in f.name or "tls" in f.name for f in dataclasses.fields(HttpConfig))
