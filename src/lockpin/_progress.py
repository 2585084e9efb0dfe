"""A one-line progress display on a TTY's stderr (never in CI logs)."""

from __future__ import annotations

import threading
import time
from typing import TextIO

__all__ = ["Progress"]


class Progress:
    def __init__(self, stream: TextIO, *, interval: float = 0.1) -> None:
        self.stream = stream
        self.interval = interval
        self.pages = 0
        self.metadata = 0
        self.bytes = 0
        self._last = 0.0
        self._lock = threading.Lock()
        self._shown = False

    def event(self, kind: str, name: str) -> None:
        with self._lock:
            if kind == "page":
                self.pages += 1
            elif kind == "metadata":
                self.metadata += 1
            elif kind == "bytes":
                self.bytes += int(name)
                name = ""
            now = time.monotonic()
            if now - self._last >= self.interval:
                self._last = now
                self.stream.write(
                    f"\r\x1b[Klockpin: {self.pages} projects discovered, "
                    f"{self.metadata} resolved, {self.bytes / 1e6:.1f} MB fetched"
                    + (f" ({name})" if name else "")
                )
                self.stream.flush()
                self._shown = True

    def close(self) -> None:
        if self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
