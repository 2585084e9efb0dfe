"""``--deadline`` / ``HttpConfig.deadline``: one total time budget for a command's
network work, against real loopback servers that stall, trickle or answer 503
forever.

What is asserted is that a run *ends* (a subprocess under a generous timeout) with
the deadline's message and writes nothing, never how long it took; the in-process
cases use deadlines that have already passed, or faults that would otherwise go on
for minutes, so that only the deadline can end them.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from fixtures.http_server import LoopbackServer, Response, not_found
from lockpin.errors import DeadlineError, NetworkError
from lockpin.net.config import Deadline, HttpConfig
from lockpin.net.http import Http
from lockpin.python.pages import ACCEPT
from support import run_cli, run_subprocess

if TYPE_CHECKING:
    import io
    from collections.abc import Callable, Iterator

    from fixtures.apt_archive import ServedArchive
    from fixtures.index_server import IndexServer
    from support import CliRun

pytestmark = pytest.mark.usefixtures("isolated")

TARGET = ["--python-version", "3.12", "--platform", "linux/amd64"]
#: far longer than any test may take: only the deadline can end these waits
FOREVER = 600.0


class Stalling(LoopbackServer):
    """Answers 404 to everything, ``slow``/``fail``/``override`` as injected."""

    def _route(self, path: str, query: str, headers: dict[str, str]) -> Response:
        return not_found()


@pytest.fixture
def stalling() -> Iterator[Stalling]:
    with Stalling() as server:
        yield server


def _trickle(stop: threading.Event) -> Callable[[io.BufferedIOBase], None]:
    """A raw answer that declares a big body and sends one byte every 50 ms: each
    read succeeds long before any read timeout, so only the deadline ends it."""

    def write(out: io.BufferedIOBase) -> None:
        out.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n")
        out.write(b"Content-Length: 100000\r\n\r\n")
        out.flush()
        for _ in range(100000):
            if stop.wait(0.05):
                return
            out.write(b"x")
            out.flush()

    return write


def fetch(config: HttpConfig, *urls: str) -> list[bytes]:
    """GET each URL with its own client, all from ``config`` (as apt opens two)."""

    async def run() -> list[bytes]:
        bodies = []
        for url in urls:
            async with Http(config) as http:
                bodies.append((await http.get(url, headers={"Accept": ACCEPT})).content)
        return bodies

    return asyncio.run(run())


def assert_deadline_message(text: str, url: str, seconds: str) -> None:
    assert f"gave up after the --deadline of {seconds} s: still fetching {url}" in text, text
    assert "attempt(s)); raise --deadline or check the network." in text, text


# -- the value ------------------------------------------------------------------------------------


@pytest.mark.parametrize("seconds", [0.0, -1.0, float("nan"), float("inf"), float("-inf")])
def test_a_deadline_must_be_positive_and_finite(seconds: float) -> None:
    with pytest.raises(ValueError, match="positive number of seconds"):
        Deadline.after(seconds)


def test_a_deadline_is_an_instant_on_the_monotonic_clock() -> None:
    deadline = Deadline.after(5, now=100.0)
    assert (deadline.at, deadline.seconds) == (105.0, 5)
    past = Deadline.after(5, now=time.monotonic() - 10)
    assert past.passed()
    assert past.remaining() == 0.0
    fresh = Deadline.after(60)
    assert not fresh.passed()
    assert 0 < fresh.remaining() <= 60


# -- the HTTP layer -------------------------------------------------------------------------------


def test_no_request_is_made_after_the_deadline_by_any_client(
    index_server: IndexServer,
) -> None:
    """The deadline is an instant in the config, so every client built from it
    shares it: the second client of a command does not start a fresh budget."""
    before = len(index_server.requests)
    config = HttpConfig(deadline=Deadline(at=time.monotonic() - 1, seconds=3))
    url = index_server.simple_url + "alpha/"
    with pytest.raises(DeadlineError) as info:
        fetch(config, url)
    assert_deadline_message(str(info.value), url, "3")
    assert (info.value.url, info.value.attempts, info.value.seconds) == (url, 0, 3)
    assert not isinstance(info.value, NetworkError)  # no fallback may catch it
    assert len(index_server.requests) == before


def test_a_fast_run_is_not_touched_by_a_deadline(index_server: IndexServer) -> None:
    config = HttpConfig(deadline=Deadline.after(FOREVER))
    simple = index_server.simple_url
    alpha, beta = fetch(config, simple + "alpha/", simple + "beta/")
    assert b"alpha-1.0" in alpha
    assert b"beta-1.0" in beta


def test_a_stalled_server_is_cut_off_at_the_deadline(stalling: Stalling) -> None:
    """The per-request timeout (600 s here) is cut to what is left of the deadline."""
    stalling.slow("/", FOREVER)
    url = stalling.url + "/simple/alpha/"
    with pytest.raises(DeadlineError) as info:
        fetch(HttpConfig(timeout=FOREVER, retries=5, deadline=Deadline.after(1.0)), url)
    assert_deadline_message(str(info.value), url, "1")
    assert info.value.attempts == 1


@pytest.mark.parametrize("how", ["download", "stream"])
def test_a_trickling_body_is_cut_off_at_the_deadline(stalling: Stalling, how: str) -> None:
    """Bytes arriving every 50 ms never trip a read timeout: the deadline bounds
    the whole download, and a stream is checked at every read."""
    stop = threading.Event()
    stalling.override("/slow.bin", lambda *_: Response(200, raw=_trickle(stop)))
    url = stalling.url + "/slow.bin"

    async def read() -> int:
        async with Http(HttpConfig(retries=0, deadline=Deadline.after(1.0))) as http:
            if how == "download":
                return len(await http.download(url))
            return sum([len(chunk) async for chunk in http.stream(url)])

    try:
        with pytest.raises(DeadlineError) as info:
            asyncio.run(read())
    finally:
        stop.set()
    assert_deadline_message(str(info.value), url, "1")


def test_endless_503_ends_at_the_deadline_not_after_the_retries(stalling: Stalling) -> None:
    stalling.fail("/", 503, times=None)
    url = stalling.url + "/simple/alpha/"
    config = HttpConfig(backoff=0.05, retries=10_000, deadline=Deadline.after(1.5))
    with pytest.raises(DeadlineError) as info:
        fetch(config, url)
    assert_deadline_message(str(info.value), url, "1.5")
    assert info.value.attempts >= 1


def test_no_back_off_is_slept_past_the_deadline(stalling: Stalling) -> None:
    """A Retry-After of an hour with a minute left: give up at once, never sleep."""
    stalling.fail("/", 429, times=None, retry_after=3600)
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async def run() -> None:
        config = HttpConfig(retries=5, max_retry_after=7200, deadline=Deadline.after(60))
        async with Http(config, sleep=sleep) as http:
            await http.get(stalling.url + "/simple/alpha/")

    with pytest.raises(DeadlineError) as info:
        asyncio.run(run())
    assert slept == []
    assert info.value.attempts == 1
    assert len(stalling.requests) == 1


def test_without_a_deadline_the_retries_end_it_as_before(stalling: Stalling) -> None:
    stalling.fail("/", 503, times=None)
    with pytest.raises(NetworkError, match="failed after 3 attempt"):
        fetch(HttpConfig(backoff=0.01, retries=2), stalling.url + "/simple/alpha/")


# -- the command line ------------------------------------------------------------------------------


def subprocess_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCKPIN_")}
    env["LOCKPIN_CACHE_DIR"] = str(tmp_path / "cache")
    env["DOCKER_CONFIG"] = str(tmp_path / "docker")  # never the machine's credentials
    return env


def assert_ended_by_the_deadline(run: CliRun, url: str) -> None:
    assert run.code == 2, run.both
    assert "Traceback" not in run.err
    assert run.err.startswith("lockpin: error: "), run.err
    assert_deadline_message(run.err, url, "2")


def test_compile_ends_at_the_deadline_and_writes_nothing(
    make_index: Callable[..., IndexServer], tmp_path: Path
) -> None:
    server = make_index()
    server.slow("/simple/beta/", FOREVER)
    Path("requirements.in").write_text("beta\n")
    run = run_subprocess(
        "compile", "requirements.in", "-o", "requirements.txt", "-i", server.simple_url,
        *TARGET, "--timeout", str(FOREVER), "--deadline", "2",
        cwd=tmp_path, env=subprocess_env(tmp_path),
    )  # fmt: skip
    assert_ended_by_the_deadline(run, server.simple_url + "beta/")
    assert not (tmp_path / "requirements.txt").exists()


def test_apt_compile_ends_at_the_deadline_and_writes_nothing(
    make_apt_archive: Callable[..., ServedArchive], tmp_path: Path
) -> None:
    served = make_apt_archive()
    served.server.fail("/", 503, times=None)
    Path("apt.in").write_text("mailer\n")
    run = run_subprocess(
        "apt", "compile", "apt.in", "--release", "bookworm", "--mirror", served.mirror,
        "--security-mirror", served.security_mirror, "--keyring", str(served.key.keyring),
        "--platform", "linux/amd64", "--retries", "100000", "--deadline", "2",
        cwd=tmp_path, env=subprocess_env(tmp_path),
    )  # fmt: skip
    assert_ended_by_the_deadline(run, served.url + "/debian")
    assert not (tmp_path / "apt.lock").exists()


def test_image_resolve_ends_at_the_deadline(stalling: Stalling, tmp_path: Path) -> None:
    stalling.slow("/v2/", FOREVER)
    ref = f"{stalling.url.removeprefix('http://')}/app/base:1"
    run = run_subprocess(
        "image", "resolve", ref, "--timeout", str(FOREVER), "--deadline", "2",
        cwd=tmp_path, env=subprocess_env(tmp_path),
    )  # fmt: skip
    assert_ended_by_the_deadline(run, stalling.url + "/v2/")
    assert run.out == ""


def test_a_generous_deadline_changes_nothing_in_the_lock(
    capsys: pytest.CaptureFixture[str], index_server: IndexServer
) -> None:
    """A fast compile with --deadline writes the same bytes as one without: the
    option is run-only, left out of the lock's header like --timeout."""
    Path("requirements.in").write_text("beta\nwithextras[fast]\n")
    lock = Path("requirements.txt")
    common = ["compile", "requirements.in", "-i", index_server.simple_url, *TARGET]
    plain = run_cli(capsys, *common)
    assert plain.code == 0, plain.both
    without = lock.read_bytes()
    lock.unlink()
    timed = run_cli(capsys, *common, "--deadline", str(FOREVER))
    assert timed.code == 0, timed.both
    assert lock.read_bytes() == without
    assert b"deadline" not in without


@pytest.mark.parametrize("value", ["0", "-1", "abc", "nan", "inf"])
def test_a_bad_deadline_flag_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], value: str
) -> None:
    with pytest.raises(SystemExit) as info:
        run_cli(capsys, "compile", "requirements.in", f"--deadline={value}")
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument --deadline: expected a positive number of seconds, got {value!r}" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("0", "deadline 0.0: expected a positive number of seconds"),
        ("-5", "deadline -5.0: expected a positive number of seconds"),
        ("abc", "$LOCKPIN_DEADLINE='abc': expected a number."),
    ],
)
def test_a_bad_deadline_in_the_environment_is_a_clear_error(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    index_server: IndexServer,
    value: str,
    words: str,
) -> None:
    Path("requirements.in").write_text("beta\n")
    monkeypatch.setenv("LOCKPIN_DEADLINE", value)
    run = run_cli(
        capsys, "compile", "requirements.in", "-o", "-", "-i", index_server.simple_url, *TARGET
    )
    assert run.code == 2, run.both
    assert run.err.startswith("lockpin: error: "), run.err
    assert words in run.err, run.err
    assert "Traceback" not in run.err


def test_the_deadline_comes_from_the_environment_and_the_config(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    stalling: Stalling,
) -> None:
    """``LOCKPIN_DEADLINE`` and ``[tool.lockpin] deadline`` set it like the flag
    (here: deadlines that end a run against a server that never answers)."""
    stalling.fail("/", 503, times=None)
    Path("requirements.in").write_text("beta\n")
    common = ["compile", "requirements.in", "-o", "-", "-i", stalling.url + "/simple/", *TARGET]
    common += ["--retries", "100000"]
    monkeypatch.setenv("LOCKPIN_DEADLINE", "0.5")
    run = run_cli(capsys, *common)
    assert run.code == 2, run.both
    assert "gave up after the --deadline of 0.5 s" in run.err, run.err
    monkeypatch.delenv("LOCKPIN_DEADLINE")
    Path("pyproject.toml").write_text("[tool.lockpin]\ndeadline = 0.75\n")
    run = run_cli(capsys, *common)
    assert run.code == 2, run.both
    assert "gave up after the --deadline of 0.75 s" in run.err, run.err


@pytest.mark.parametrize("command", ["hash", "verify", "dockerfile pin"])
def test_every_network_command_takes_the_deadline(
    capsys: pytest.CaptureFixture[str], stalling: Stalling, command: str
) -> None:
    """The same option, the same end, for the commands not run above (against a
    server that answers 503 forever, with retries that would never run out)."""
    stalling.fail("/", 503, times=None)
    index = ["-i", stalling.url + "/simple/"]
    pins = "alpha==1.0 --hash=sha256:" + "0" * 64 + "\n"
    Path("pins.txt").write_text(pins)
    Path("Dockerfile").write_text(f"FROM {stalling.url.removeprefix('http://')}/app/base:1\n")
    argv = {
        "hash": ["hash", "pins.txt", "-o", "-", *index],
        "verify": ["verify", "pins.txt", "--no-closure", *index],
        "dockerfile pin": ["dockerfile", "pin", "Dockerfile"],
    }[command]
    run = run_cli(capsys, *argv, "--retries", "100000", "--deadline", "0.5")
    assert run.code == 2, run.both
    assert "gave up after the --deadline of 0.5 s: still fetching " + stalling.url in run.err
    assert "Traceback" not in run.err
    assert Path("pins.txt").read_text() == pins
    assert Path("Dockerfile").read_text().endswith("/app/base:1\n")


def test_check_all_takes_the_deadline(
    capsys: pytest.CaptureFixture[str], stalling: Stalling
) -> None:
    """check-all runs every check even after one fails: each ends at the one
    deadline, and the run fails (exit 1) naming it."""
    stalling.fail("/", 503, times=None)
    Path("requirements.in").write_text("beta\n")
    Path("pyproject.toml").write_text(
        "[tool.lockpin]\n"
        f'index-url = "{stalling.url}/simple/"\n'
        'python-version = "3.12"\nplatforms = ["linux/amd64"]\n'
        '[[tool.lockpin.locks]]\nsrc = "requirements.in"\n'
    )
    run = run_cli(capsys, "check-all", "--retries", "100000", "--deadline", "0.5")
    assert run.code == 1, run.both
    assert "FAIL" in run.out
    assert "gave up after the --deadline of 0.5 s: still fetching " + stalling.url in run.both
    assert "Traceback" not in run.both
    assert not Path("requirements.txt").exists()
