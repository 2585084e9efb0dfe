"""Run an asyncio loop in a background thread so that the synchronous
resolvelib resolver can wait on network results while fetches keep flowing."""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from collections.abc import Coroutine
    from typing import Any

__all__ = ["LoopThread"]

T = TypeVar("T")


class LoopThread:
    """``with LoopThread() as lt: lt.run(coro)`` blocks on ``coro`` in the loop thread;
    ``lt.spawn(coro)`` starts it without waiting (errors are kept for ``run``)."""

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
            # Cancelling a task can start others (anyio's happy-eyeballs connect
            # spawns one per address): repeat until none is left, so that no
            # coroutine is left suspended in a closed loop (its cleanup would then
            # fail at garbage collection, far from here).
            while tasks := [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]:
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            await self.loop.shutdown_asyncgens()

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()
