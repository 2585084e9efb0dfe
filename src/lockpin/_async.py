"""Run asyncio code from synchronous code, and shut it down without leaks.

:class:`LoopThread` runs a loop in a background thread so that the synchronous
resolvelib resolver can wait on network results while fetches keep flowing;
:func:`run_sync` is ``asyncio.run`` with the same careful shutdown.

Why not plain ``task.cancel()`` on every task: anyio (under httpcore) wraps each
task-group child in a wrapper coroutine that awaits the child. A wrapper task
cancelled before its first step never runs, so the child coroutine (for example
the happy-eyeballs ``try_connect`` of a connection being opened) is never
awaited and Python warns about it when it is garbage-collected, in whatever test
or code happens to run then. So the shutdown cancels only tasks that have
started, lets new ones take their first step, and repeats until none is left.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from collections.abc import Coroutine
    from typing import Any

__all__ = ["LoopThread", "cancel_all_tasks", "run_sync"]

T = TypeVar("T")


def _started(task: asyncio.Task[Any]) -> bool:
    coro = task.get_coro()
    return not (
        inspect.iscoroutine(coro) and inspect.getcoroutinestate(coro) == inspect.CORO_CREATED
    )


async def cancel_all_tasks() -> None:
    """Cancel and await every other task of the running loop, including tasks that
    cancelling starts (anyio's connection attempts spawn one per address)."""
    me = asyncio.current_task()
    while tasks := [t for t in asyncio.all_tasks() if t is not me and not t.done()]:
        started = [t for t in tasks if _started(t)]
        for t in started:
            t.cancel()
        # One turn of the loop gives tasks created but not yet started their first
        # step; cancelled ones finish. Gather only what was cancelled: a task that
        # has not started yet is cancelled on the next round.
        await asyncio.sleep(0)
        if started:
            await asyncio.gather(*started, return_exceptions=True)


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(coro)`` whose shutdown leaves no coroutine un-awaited."""
    loop = asyncio.new_event_loop()
    try:
        task = loop.create_task(coro)
        try:
            return loop.run_until_complete(task)
        finally:
            loop.run_until_complete(cancel_all_tasks())
            loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        asyncio.set_event_loop(None)
        loop.close()


class LoopThread:
    """``with LoopThread() as lt: lt.run(coro)`` blocks on ``coro`` in the loop thread;
    ``lt.spawn(coro)`` starts it without waiting (errors are kept for ``run``).

    Close an HTTP client used by spawned work only after ``lt.run(cancel_all_tasks())``:
    speculative fetches still hold its connections.
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name="lockpin-net", daemon=True)
        self._tasks: set[asyncio.Future[Any]] = set()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def __enter__(self) -> LoopThread:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        def start() -> None:
            task = asyncio.ensure_future(coro)
            self._tasks.add(task)
            task.add_done_callback(self._done)

        self.loop.call_soon_threadsafe(start)

    def _done(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled():
            task.exception()  # speculative work: failures resurface when awaited for real

    def close(self) -> None:
        if not self._thread.is_alive():
            self.loop.close()
            return

        async def shutdown() -> None:
            await cancel_all_tasks()
            await self.loop.shutdown_asyncgens()

        try:
            asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result()
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join()
            self.loop.close()
