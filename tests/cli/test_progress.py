"""Typed progress: the terminal renderer (``cli/_output.ProgressLine``) fed with events, and
the events the library really emits through a ``Reporter`` against the local index."""

from __future__ import annotations

import io
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, get_args

import pytest

from lockpin.cli import main
from lockpin.cli._output import ProgressLine
from lockpin.net.http import HttpConfig
from lockpin.progress import Event, EventKind, NullReporter, Reporter
from lockpin.python.compile import compile_lock
from lockpin.python.hashverify import hash_requirements, verify
from lockpin.python.index import IndexConfig
from lockpin.python.target import parse_target

if TYPE_CHECKING:
    from fixtures.index_server import IndexServer
    from support import StandardSet

AMD64 = parse_target(python_version="3.12", platform="linux/amd64")
ERASE = "\r\x1b[K"


class Recorder:
    """A thread-safe Reporter that keeps every event."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._lock = threading.Lock()

    def report(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)

    def subjects(self, kind: EventKind) -> list[str]:
        return [e.subject for e in self.events if e.kind == kind]

    def size(self, kind: EventKind) -> int:
        return sum(e.size for e in self.events if e.kind == kind)


class Clock:
    def __init__(self, *times: float) -> None:
        self.times = iter(times)

    def __call__(self) -> float:
        return next(self.times)


def test_event_is_a_frozen_value() -> None:
    event = Event("bytes", size=10)
    assert event == Event("bytes", "", 10)
    assert event.subject == ""
    with pytest.raises(AttributeError):
        event.size = 11  # type: ignore[misc]
    assert set(get_args(EventKind)) == {"page", "metadata", "build", "download", "bytes", "index"}


def test_reporters_satisfy_the_protocol() -> None:
    stream = io.StringIO()
    recorder = Recorder()
    reporters: list[Reporter] = [NullReporter(), recorder, ProgressLine(stream)]
    for r in reporters:
        r.report(Event("page", "alpha"))
    assert recorder.events == [Event("page", "alpha")]
    assert stream.getvalue().endswith("lockpin: 1 projects discovered, 0.0 MB fetched (alpha)")


# -- the renderer --------------------------------------------------------------------------------

RENDER_CASES = [
    pytest.param([], "", id="nothing"),
    pytest.param(
        [Event("page", "alpha")],
        ERASE + "lockpin: 1 projects discovered, 0.0 MB fetched (alpha)",
        id="one-page",
    ),
    pytest.param(
        [Event("bytes", size=1_500_000), Event("bytes", size=250_000)],
        ERASE + "lockpin: 1.5 MB fetched" + ERASE + "lockpin: 1.8 MB fetched",
        id="bytes-have-no-subject",
    ),
    pytest.param(
        [
            Event("page", "alpha"),
            Event("page", "beta"),
            Event("metadata", "alpha"),
            Event("build", "dynsdist-1.0.tar.gz"),
            Event("download", "beta-1.0-py3-none-any.whl", 1234),
        ],
        ERASE
        + "lockpin: 1 projects discovered, 0.0 MB fetched (alpha)"
        + ERASE
        + "lockpin: 2 projects discovered, 0.0 MB fetched (beta)"
        + ERASE
        + "lockpin: 2 projects discovered, 1 resolved, 0.0 MB fetched (alpha)"
        + ERASE
        + "lockpin: 2 projects discovered, 1 resolved, 1 built, 0.0 MB fetched "
        "(dynsdist-1.0.tar.gz)"
        + ERASE
        + "lockpin: 2 projects discovered, 1 resolved, 1 built, 1 downloaded, 0.0 MB fetched "
        "(beta-1.0-py3-none-any.whl)",
        id="every-kind",
    ),
]


@pytest.mark.parametrize(("events", "expected"), RENDER_CASES)
def test_renderer_draws_each_event(events: list[Event], expected: str) -> None:
    stream = io.StringIO()
    line = ProgressLine(stream, interval=0.0, clock=Clock(*range(len(events))))
    for event in events:
        line.report(event)
    assert stream.getvalue() == expected
    line.close()
    assert stream.getvalue() == expected + (ERASE if events else "")


def test_renderer_redraws_at_most_once_per_interval_but_counts_everything() -> None:
    stream = io.StringIO()
    # the clock at each event: the first draws; the next two fall within 1 s of it
    line = ProgressLine(stream, interval=1.0, clock=Clock(10.0, 10.5, 10.9, 11.0, 11.2))
    for name in ("a", "b", "c", "d", "e"):
        line.report(Event("page", name))
    assert stream.getvalue() == (
        ERASE + "lockpin: 1 projects discovered, 0.0 MB fetched (a)"
        + ERASE + "lockpin: 4 projects discovered, 0.0 MB fetched (d)"
    )  # fmt: skip
    assert line.pages == 5
    assert line.line() == "lockpin: 5 projects discovered, 0.0 MB fetched"


def test_close_erases_only_what_was_drawn() -> None:
    stream = io.StringIO()
    line = ProgressLine(stream)
    line.close()
    assert stream.getvalue() == ""


# -- the library reports -------------------------------------------------------------------------


@pytest.fixture
def in_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.chdir(tmp_path)
    for var in ("LOCKPIN_INDEX_URL", "LOCKPIN_ALLOW_INSECURE_HOST"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LOCKPIN_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def test_compile_reports_pages_metadata_builds_and_bytes(
    index_server: IndexServer, in_tmp: Path
) -> None:
    Path("requirements.in").write_text("beta\nwithextras[fast]\ndynsdist\n")
    recorder = Recorder()
    lock = compile_lock(
        ["requirements.in"],
        targets=[AMD64],
        index=IndexConfig(index_url=index_server.simple_url),
        http=HttpConfig(cache_dir=None),
        reporter=recorder,
    )
    pinned = {p.name for p in lock.packages}
    assert pinned == {"alpha", "beta", "withextras", "dynsdist"}
    assert {e.kind for e in recorder.events} == {"page", "metadata", "build", "bytes"}
    # every pinned project's page was discovered and its metadata read
    assert set(recorder.subjects("page")) == pinned
    assert set(recorder.subjects("metadata")) >= pinned
    assert recorder.subjects("build") == ["dynsdist-1.0.tar.gz"]
    # the bytes are the network's: at least every page and the built sdist
    sdist = index_server.root / "dynsdist-1.0.tar.gz"
    assert recorder.size("bytes") > sdist.stat().st_size
    assert all(e.subject == "" and e.size > 0 for e in recorder.events if e.kind == "bytes")


def test_verify_reports_each_download(
    index_server: IndexServer, standard_set: StandardSet, in_tmp: Path
) -> None:
    req = Path("requirements.txt")
    req.write_text("beta==1.0\nalpha==1.0\n")
    common = {"index": IndexConfig(index_url=index_server.simple_url), "http": HttpConfig()}
    hashed = hash_requirements(req, reporter=Recorder(), **common)  # type: ignore[arg-type]
    assert hashed.written == str(req)
    recorder = Recorder()
    result = verify(req, download=True, reporter=recorder, **common)  # type: ignore[arg-type]
    assert result.ok, result.problems
    downloads = {e.subject: e.size for e in recorder.events if e.kind == "download"}
    expected = ["alpha-1.0-py3-none-any.whl", "alpha-1.0.tar.gz", "beta-1.0-py3-none-any.whl"]
    assert sorted(downloads) == expected
    for filename, size in downloads.items():
        assert size == (standard_set.root / filename).stat().st_size
    assert recorder.size("bytes") >= sum(downloads.values())


# -- the CLI renders on a terminal only ----------------------------------------------------------


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("tty", [True, False])
def test_cli_draws_progress_on_a_terminal_and_erases_it(
    index_server: IndexServer, in_tmp: Path, monkeypatch: pytest.MonkeyPatch, tty: bool
) -> None:
    Path("requirements.in").write_text("beta\n")
    stderr = FakeTerminal() if tty else io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    code = main(
        ["compile", "requirements.in", "-i", index_server.simple_url, "--no-cache",
         "--python-version", "3.12", "--platform", "linux/amd64"]
    )  # fmt: skip
    assert code == 0
    err = stderr.getvalue()
    assert err.endswith("lockpin: 2 package(s) pinned -> requirements.txt\n")
    if tty:
        drawn, _, after = err.rpartition(ERASE)
        # redraws are throttled in time: how many is not fixed, that one was drawn is
        assert drawn.startswith(ERASE + "lockpin: ")
        assert "MB fetched" in drawn
        assert after == "lockpin: 2 package(s) pinned -> requirements.txt\n"  # erased first
    else:
        assert "\r" not in err
        assert "MB fetched" not in err
