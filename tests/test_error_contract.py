"""The error contract (issue 13, docs/errors.md): every command, given bad input —
a missing file, a malformed one, a bad option value, a URL nothing answers (a closed
loopback port: refused at once, no waiting) — exits with the documented code and one
short paragraph that names the thing (the file, ``FILE:LINE``, the URL, the package
or image), never a traceback; an unexpected exception is an internal error (exit 70)
that says how to report it, its traceback only under ``-v``; a closed stdout
(``lockpin … | head -1``) ends the run quietly (exit 141).

Each case runs in-process (``support.run_cli``); one case per command also runs as a
real process, where a traceback would really reach the terminal.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

import lockpin.cli.record as record_commands
from lockpin.cli import main
from support import CliRun, closed_port, run_cli, run_subprocess

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.usefixtures("isolated")

#: docs/errors.md
OK, CHECK_FAILED, ERROR, INTERNAL, BROKEN_PIPE = 0, 1, 2, 70, 141

HASH = "sha256:" + "0" * 64


def _apt_lock(port: int) -> str:
    """A valid apt.lock whose sources are at ``127.0.0.1:port``."""
    return (
        "lock-version = 1\n"
        'distribution = "debian"\nrelease = "bookworm"\nplatforms = ["linux/amd64"]\n'
        'components = ["main"]\nwith-recommends = false\nrequested = ["mailer"]\n'
        'base = "default"\ncommand = "lockpin apt compile apt.in"\n\n'
        f'[sources]\nmirror = "http://127.0.0.1:{port}/debian"\n'
        f'security-mirror = "http://127.0.0.1:{port}/debian-security"\n\n'
        f'[[suites]]\nsuite = "bookworm"\nurl = "http://127.0.0.1:{port}/debian"\n'
        f'inrelease-sha256 = "{"1" * 64}"\ndate = "Sat, 11 Jul 2026 10:16:37 UTC"\n'
        'architectures = ["amd64"]\n\n'
        '[[packages]]\nplatform = "linux/amd64"\nname = "mailer"\nversion = "1.0-1"\n'
        'architecture = "amd64"\nsuite = "bookworm"\n'
        f'url = "http://127.0.0.1:{port}/debian/pool/main/m/mailer/mailer_1.0-1_amd64.deb"\n'
        'filename = "pool/main/m/mailer/mailer_1.0-1_amd64.deb"\n'
        f'size = 100\nsha256 = "{"2" * 64}"\nrequired-by = ["mailer"]\n'
    )


def _workspace(port: int) -> dict[str, str]:
    """Every input the cases name, good and bad (``{port}``: closed)."""
    closed = f"http://127.0.0.1:{port}"
    return {
        "requirements.in": "alpha\n",
        "bad.in": "alpha ==\n",
        "pins.txt": f"alpha==1.0 \\\n    --hash={HASH}\n",
        "badhash.txt": "alpha==1.0 \\\n    --hash=sha256:zz\n",
        "apt.in": "mailer\n",
        "badapt.in": "mailer (>>\n",
        "keyring.gpg": "",
        "bad.lock": "this is not TOML\n",
        "closed.lock": _apt_lock(port),
        "Dockerfile": "FROM python:3.12-slim\n",
        "Dockerfile.bad": "FROM alpine\nFROM\n",
        "Dockerfile.closed": f"FROM 127.0.0.1:{port}/team/app:1\n",
        "meta.json": "{}\n",
        "good.json": json.dumps({"containerimage.digest": "sha256:" + "b" * 64}),
        "Dockerfile.pinned": f"FROM python:3.12-slim@{HASH}\n",
        "bad.jsonl": "\nnot json\n",
        "bad.toml": "[tool.lockpin\n",
        "nothing.toml": "[tool.lockpin]\n",
        "closed.toml": (
            f'[tool.lockpin]\nindex-url = "{closed}/simple/"\n\n'
            '[[tool.lockpin.locks]]\nsrc = "requirements.in"\noutput = "pins.txt"\n'
        ),
    }


# (command, error kind, argv ({closed}: a closed port), exit code, words the message names)
CASES: list[tuple[str, str, list[str], int, tuple[str, ...]]] = [
    ("compile", "missing", ["compile", "nothere.in"], ERROR, ("nothere.in",)),
    ("compile", "malformed", ["compile", "bad.in"], ERROR, ("bad.in:1",)),
    ("compile", "option", ["compile", "requirements.in", "--python-version", "3.x"], ERROR,
     ("--python-version", "3.x")),
    ("compile", "usage", ["compile", "requirements.in", "--timeout", "abc"], ERROR,
     ("--timeout", "abc")),
    ("compile", "unreachable", ["compile", "requirements.in", "-i", "{closed}/simple/"], ERROR,
     ("{closed}/simple/alpha/",)),
    ("hash", "missing", ["hash", "nothere.txt"], ERROR, ("nothere.txt",)),
    ("hash", "malformed", ["hash", "badhash.txt"], ERROR, ("badhash.txt:1",)),
    ("hash", "option", ["hash", "pins.txt", "--platform", "foo"], ERROR, ("--platform", "foo")),
    ("hash", "unreachable", ["hash", "pins.txt", "-i", "{closed}/simple/"], ERROR,
     ("{closed}/simple/alpha/",)),
    ("verify", "missing", ["verify", "nothere.txt"], ERROR, ("nothere.txt",)),
    ("verify", "malformed", ["verify", "badhash.txt"], ERROR, ("badhash.txt:1",)),
    ("verify", "option", ["verify", "pins.txt", "--python-version", "2"], ERROR,
     ("--python-version", "'2'")),
    ("verify", "unreachable", ["verify", "pins.txt", "-i", "{closed}/simple/"], ERROR,
     ("{closed}/simple/alpha/",)),
    ("apt compile", "missing", ["apt", "compile", "nothere.in", "--release", "bookworm"], ERROR,
     ("nothere.in",)),
    ("apt compile", "malformed", ["apt", "compile", "badapt.in", "--release", "bookworm"],
     ERROR, ("badapt.in:1", "mailer (>>")),
    ("apt compile", "option",
     ["apt", "compile", "apt.in", "--release", "bookworm", "--platform", "linux/nothing"],
     ERROR, ("linux/nothing",)),
    ("apt compile", "unreachable",
     ["apt", "compile", "apt.in", "--release", "bookworm", "--arch", "amd64", "--mirror",
      "{closed}/debian/", "--security-mirror", "{closed}/debian-security/", "--keyring",
      "keyring.gpg"], ERROR, ("{closed}/debian/dists/bookworm/InRelease",)),
    ("apt export", "missing", ["apt", "export", "nothere.lock"], ERROR, ("nothere.lock",)),
    ("apt export", "malformed", ["apt", "export", "bad.lock"], ERROR, ("bad.lock:1",)),
    ("apt export", "usage", ["apt", "export", "closed.lock", "--format", "zip"], ERROR,
     ("--format", "zip")),
    ("apt verify", "missing", ["apt", "verify", "nothere.lock"], ERROR, ("nothere.lock",)),
    ("apt verify", "malformed", ["apt", "verify", "bad.lock"], ERROR, ("bad.lock:1",)),
    ("apt verify", "usage", ["apt", "verify", "closed.lock", "--retries", "many"], ERROR,
     ("--retries", "many")),
    ("apt verify", "unreachable", ["apt", "verify", "closed.lock", "--keyring", "keyring.gpg"],
     ERROR, ("{closed}/debian/dists/bookworm/InRelease",)),
    ("image resolve", "malformed", ["image", "resolve", "Bad::ref"], ERROR, ("Bad::ref",)),
    ("image resolve", "option", ["image", "resolve", "python:3", "--platform", "foo"], ERROR,
     ("foo",)),
    ("image resolve", "unreachable", ["image", "resolve", "127.0.0.1:{port}/team/app:1"],
     ERROR, ("127.0.0.1:{port}/team/app:1", "{closed}/v2/")),
    ("dockerfile pin", "missing", ["dockerfile", "pin", "nothere"], ERROR, ("nothere",)),
    ("dockerfile pin", "malformed", ["dockerfile", "pin", "Dockerfile.bad"], ERROR,
     ("Dockerfile.bad:2",)),
    ("dockerfile pin", "option", ["dockerfile", "pin", "--platform", "foo"], ERROR, ("foo",)),
    ("dockerfile pin", "unreachable", ["dockerfile", "pin", "Dockerfile.closed"], ERROR,
     ("Dockerfile.closed:1", "127.0.0.1:{port}/team/app:1")),
    ("dockerfile check", "missing", ["dockerfile", "check", "nothere"], ERROR, ("nothere",)),
    ("dockerfile check", "malformed", ["dockerfile", "check", "Dockerfile.bad"], ERROR,
     ("Dockerfile.bad:2",)),
    ("dockerfile check", "usage", ["dockerfile", "check", "--format", "nope"], ERROR,
     ("--format", "nope")),
    ("dockerfile snippet", "missing",
     ["dockerfile", "snippet", "--requirements", "nothere.txt"], ERROR, ("nothere.txt",)),
    ("dockerfile snippet", "malformed", ["dockerfile", "snippet", "--apt", "bad.lock"], ERROR,
     ("bad.lock:1",)),
    ("dockerfile snippet", "usage", ["dockerfile", "snippet"], ERROR, ("--requirements",)),
    ("record add", "missing", ["record", "add", "--version", "1", "--metadata-file", "no.json"],
     ERROR, ("no.json",)),
    ("record add", "malformed",
     ["record", "add", "--version", "1", "--metadata-file", "meta.json"], ERROR,
     ("meta.json", "containerimage.digest")),
    ("record add", "usage", ["record", "add", "--metadata-file", "meta.json"], ERROR,
     ("--version",)),
    ("record add", "log-is-a-directory",
     ["record", "add", "--version", "1", "--metadata-file", "good.json", "--dockerfile",
      "Dockerfile.pinned", "--log", "."], ERROR, ("cannot read the release log",)),
    ("record show", "missing", ["record", "show", "1.0", "--log", "none.jsonl"], ERROR,
     ("none.jsonl", "'1.0'")),
    ("record show", "malformed", ["record", "show", "1.0", "--log", "bad.jsonl"], ERROR,
     ("bad.jsonl:2",)),
    ("record show", "log-is-a-directory", ["record", "show", "1.0", "--log", "."], ERROR,
     ("cannot read the release log",)),
    ("record diff", "malformed", ["record", "diff", "1.0", "1.1", "--log", "bad.jsonl"], ERROR,
     ("bad.jsonl:2",)),
    ("record diff", "log-is-a-directory", ["record", "diff", "1.0", "1.1", "--log", "."],
     ERROR, ("cannot read the release log",)),
    ("check-all", "missing", ["check-all", "--config", "none.toml"], ERROR, ("none.toml",)),
    ("check-all", "malformed", ["check-all", "--config", "bad.toml"], ERROR, ("bad.toml",)),
    ("check-all", "nothing-to-check", ["check-all", "--config", "nothing.toml"], ERROR,
     ("nothing.toml",)),
    ("check-all", "usage", ["check-all", "--max-age", "soon"], ERROR, ("--max-age", "soon")),
]  # fmt: skip

#: check-all is a gate: a check that errs is a FAIL line on stdout and exit 1
#: (docs/configuration.md); only its own bad config is exit 2.
GATE_CASE = ["check-all", "--config", "closed.toml"]


@pytest.fixture
def port(tmp_path: Path) -> int:
    port = closed_port()
    for name, text in _workspace(port).items():
        (tmp_path / name).write_text(text)
    return port


def _expand(items: list[str] | tuple[str, ...], port: int) -> list[str]:
    closed = f"http://127.0.0.1:{port}"
    return [item.replace("{closed}", closed).replace("{port}", str(port)) for item in items]


def assert_one_paragraph(result: CliRun, code: int, words: list[str]) -> None:
    assert result.code == code, result.both
    assert "Traceback" not in result.both
    assert result.out == ""  # errors go to stderr; nothing half-printed on stdout
    err = result.err
    assert err.startswith(("lockpin: error: ", "lockpin ")), err
    assert "error: " in err.splitlines()[0]
    assert err.endswith("\n"), err
    assert "\n\n" not in err, err  # one paragraph
    # "what, where, what to do" fits in a few lines (a caret under a bad requirement
    # takes two more)
    assert len(err.splitlines()) <= 4, err
    for word in words:
        assert word in err, err


@pytest.mark.parametrize(
    ("argv", "code", "words"),
    [pytest.param(argv, code, words, id=f"{command}-{kind}")
     for command, kind, argv, code, words in CASES],
)  # fmt: skip
def test_bad_input_is_one_paragraph_naming_the_thing(
    capsys: pytest.CaptureFixture[str],
    port: int,
    argv: list[str],
    code: int,
    words: tuple[str, ...],
) -> None:
    args = [*_expand(argv, port), *(["--retries", "0"] if "{closed}" in str(argv) else [])]
    try:
        result = run_cli(capsys, *args)
    except SystemExit as exit_:  # a usage error: argparse exits, as a real process does
        captured = capsys.readouterr()
        result = CliRun(int(str(exit_.code)), captured.out, captured.err)
    assert_one_paragraph(result, code, _expand(words, port))


def test_every_command_is_in_the_table() -> None:
    from lockpin.cli import build_parser
    from lockpin.cli._config import leaf_parsers

    commands = {name for name, _ in leaf_parsers(build_parser())}
    assert commands == {c for c, *_ in CASES}
    kinds = {(c, k) for c, k, *_ in CASES}
    for command in commands:
        assert any(c == command and k in ("malformed", "usage") for c, k in kinds), command


def test_a_gate_that_cannot_reach_its_index_fails_its_checks(
    capsys: pytest.CaptureFixture[str], port: int
) -> None:
    result = run_cli(capsys, *GATE_CASE, "--retries", "0")
    assert result.code == CHECK_FAILED, result.both
    assert "Traceback" not in result.both
    assert result.out.startswith("FAIL  compile requirements.in -> pins.txt (error)\n")
    assert f"http://127.0.0.1:{port}/simple/alpha/" in result.out  # the details name the URL
    assert result.err == "lockpin: 2 of 2 check(s) failed.\n"


# One case per command as a real process: what reaches a terminal.
REAL = {c: (argv, code, words) for c, _, argv, code, words in reversed(CASES)}


@pytest.mark.parametrize("command", sorted(REAL))
def test_a_real_process_prints_the_same_paragraph(tmp_path: Path, port: int, command: str) -> None:
    argv, code, words = REAL[command]
    retries = ["--retries", "0"] if "{closed}" in str(argv) else []
    result = run_subprocess(*_expand(argv, port), *retries, cwd=tmp_path)
    assert_one_paragraph(result, code, _expand(words, port))


# -- internal errors ----------------------------------------------------------------------------


def _boom(_args: object) -> int:
    raise KeyError("https://user:s3cret-in-a-bug@idx.example/simple/ was not expected")


@pytest.mark.parametrize("verbose", [False, True], ids=["default", "-v"])
def test_an_unexpected_exception_is_an_internal_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, verbose: bool
) -> None:
    monkeypatch.setattr(record_commands, "run_show", _boom)
    result = run_cli(capsys, "record", "show", "1.0", *(["-v"] if verbose else []))
    assert result.code == INTERNAL
    assert result.out == ""
    last = result.err.splitlines()[-1]
    assert last.startswith("lockpin: internal error: KeyError: 'https://user:****@idx.example/")
    assert "this is a bug in lockpin; please report it" in last
    assert "https://" in last.rpartition(" at ")[2]  # where to report it
    assert "s3cret-in-a-bug" not in result.err  # the message is redacted, traceback too
    if verbose:
        assert result.err.startswith("Traceback (most recent call last):\n")
        assert "in _boom" in result.err
    else:
        assert "Traceback" not in result.err
        assert len(result.err.splitlines()) == 1
        assert "run again with -v for the traceback" in last


def test_a_real_process_reports_an_internal_error_in_one_paragraph(tmp_path: Path) -> None:
    code = (
        "import sys, lockpin.cli.record as r\n"
        "def boom(args):\n"
        "    raise ZeroDivisionError('division by zero')\n"
        "r.run_show = boom\n"
        "from lockpin.cli import main\n"
        "raise SystemExit(main(sys.argv[1:]))\n"
    )
    for verbose in ([], ["-v"]):
        proc = subprocess.run(
            [sys.executable, "-c", code, "record", "show", "1.0", *verbose],
            capture_output=True, text=True, cwd=tmp_path, timeout=60, check=False,
        )  # fmt: skip
        assert proc.returncode == INTERNAL, proc.stderr
        assert proc.stderr.splitlines()[-1].startswith(
            "lockpin: internal error: ZeroDivisionError: division by zero — this is a bug"
        )
        assert ("Traceback" in proc.stderr) == bool(verbose)


def test_a_lockpin_error_is_never_reported_as_internal(
    capsys: pytest.CaptureFixture[str], port: int
) -> None:
    result = run_cli(capsys, "record", "show", "1.0", "--log", "bad.jsonl", "-vv")
    assert result.code == ERROR
    assert "internal error" not in result.err
    assert "Traceback" not in result.err


def test_interrupted_is_130(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(_args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(record_commands, "run_show", interrupted)
    result = run_cli(capsys, "record", "show", "1.0")
    assert (result.code, result.err) == (130, "lockpin: interrupted\n")


# -- a closed stdout ------------------------------------------------------------------------------


def test_a_closed_stdout_ends_quietly(tmp_path: Path) -> None:
    """``lockpin dockerfile check | head -1``: the reader goes away after one line;
    lockpin stops with 141 (128 + SIGPIPE) and says nothing: no BrokenPipeError, no
    "Exception ignored" at exit."""
    # enough findings that the output outgrows the pipe's buffer (64 KiB)
    (tmp_path / "Dockerfile").write_text("FROM python:3.12-slim\nRUN true\n" * 4000)
    proc = subprocess.Popen(
        [sys.executable, "-m", "lockpin", "dockerfile", "check"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    assert proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # as head does after its line
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=60) == BROKEN_PIPE, err
    assert first.startswith(b"Dockerfile:1: error LP101")
    assert err == b""


def test_the_json_results_still_parse_when_nothing_is_wrong(
    capsys: pytest.CaptureFixture[str], port: int
) -> None:
    """The contract's other half: success is exit 0 with results on stdout only."""
    result = run_cli(capsys, "dockerfile", "check", "--format", "json")
    assert result.code == CHECK_FAILED  # the unpinned FROM is an error finding
    assert json.loads(result.out)
    assert main(["dockerfile", "check", "--format", "json", "--ignore", "LP101"]) == OK
