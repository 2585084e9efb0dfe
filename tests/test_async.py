"""The async bridge shuts down without leaving coroutines un-awaited.

anyio (under httpcore) runs each task-group child inside a wrapper coroutine; a
wrapper task cancelled before its first step never awaits the child, and Python
then warns "coroutine ... was never awaited" at garbage collection, failing
whichever test runs next under ``filterwarnings = error``. These tests build
that exact situation deterministically and collect garbage before asserting.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from lockpin._async import LoopThread, cancel_all_tasks, run_sync

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterator


@pytest.fixture
def unraisable() -> Iterator[list[str]]:
    """Everything Python reports through ``sys.unraisablehook`` (the channel of the
    "never awaited" warning), after a full garbage collection."""
    seen: list[str] = []
    previous = sys.unraisablehook

    def hook(info: Any) -> None:
        seen.append(f"{info.exc_type.__name__}: {info.exc_value}")

    sys.unraisablehook = hook
    try:
        yield seen
    finally:
        gc.collect()
        sys.unraisablehook = previous


async def _child(started: list[str]) -> None:
    started.append("child")
    await anyio.sleep(30)


async def _parent(started: list[str]) -> None:
    async with anyio.create_task_group() as tg:
        tg.start_soon(_child, started)
        await anyio.sleep(30)


async def _scenario(shutdown: Callable[[], Awaitable[None]]) -> list[str]:
    """A parent task spawns an anyio child, and ``shutdown`` runs before the child's
    first step: the ready queue is [parent], then [main, child]."""
    started: list[str] = []
    task = asyncio.ensure_future(_parent(started))
    await asyncio.sleep(0)
    await shutdown()
    assert task.done()
    return started


async def _naive_shutdown() -> None:
    """What asyncio.run (and lockpin before the fix) does: cancel everything at once."""
    me = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not me]
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _never_awaited(messages: list[str]) -> list[str]:
    return [m for m in messages if "never awaited" in m]


def test_naive_cancellation_leaks_a_coroutine(unraisable: list[str]) -> None:
    """The test's own control: the scenario really produces the leak."""
    with pytest.warns(RuntimeWarning, match="never awaited"):  # noqa: PT031
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(_scenario(_naive_shutdown))
        finally:
            loop.close()
        gc.collect()


def test_cancel_all_tasks_awaits_every_child(unraisable: list[str]) -> None:
    loop = asyncio.new_event_loop()
    try:
        started = loop.run_until_complete(_scenario(cancel_all_tasks))
        assert not asyncio.all_tasks(loop)
    finally:
        loop.close()
    gc.collect()
    assert started == ["child"]  # it was started, then cancelled: nothing left pending
    assert _never_awaited(unraisable) == []


def test_run_sync_returns_and_cleans_up(unraisable: list[str]) -> None:
    async def main() -> int:
        started: list[str] = []
        pending = asyncio.ensure_future(_parent(started))
        await asyncio.sleep(0)
        assert not pending.done()
        return 42  # the parent and its not-yet-started child are still pending

    assert run_sync(main()) == 42
    gc.collect()
    assert _never_awaited(unraisable) == []


def test_run_sync_propagates_errors() -> None:
    async def boom() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        run_sync(boom())


def test_loop_thread_close_with_speculative_work(unraisable: list[str]) -> None:
    started: list[str] = []
    ready = threading.Event()

    async def speculative() -> None:
        ready.set()
        await _parent(started)

    with LoopThread() as lt:
        for _ in range(20):
            lt.spawn(speculative())
        assert ready.wait(10)
    gc.collect()
    assert _never_awaited(unraisable) == []
    assert lt.loop.is_closed()
