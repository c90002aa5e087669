"""A function's log: what its environments print, line by line, into ``logging`` (logger
``syncdrop.function.<name>``) and into a bounded buffer tests can read."""

from __future__ import annotations

import logging
import os
import select
import threading
from collections import deque


class FunctionLog:
    def __init__(self, function_name: str, *, max_lines: int = 2000) -> None:
        self.logger = logging.getLogger(f"syncdrop.function.{function_name}")
        self._lines: deque[str] = deque(maxlen=max_lines)
        self._lock = threading.Lock()

    def lines(self) -> list[str]:
        with self._lock:
            return list(self._lines)

    def follow(self, fd: int, level: int) -> StreamPump:
        """Read ``fd`` (a pipe or socket the process writes to) until the process closes it."""
        return StreamPump(self, fd, level)

    def _emit(self, line: str, level: int) -> None:
        with self._lock:
            self._lines.append(line)
        self.logger.log(level, "%s", line)


class StreamPump:
    """One output stream of one environment. ``settle`` waits until every byte written so far
    has become a log line, so an invocation's output is in the log when ``invoke`` returns."""

    def __init__(self, log: FunctionLog, fd: int, level: int) -> None:
        self._log = log
        self._fd = fd
        self._level = level
        self._partial = b""
        self._closed = False
        self._reading = threading.Condition()
        self._thread = threading.Thread(target=self._pump, name=f"log-{fd}", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        try:
            while not self._closed:
                _readable(self._fd, None)
                with self._reading:
                    self._read_available()
                    self._reading.notify_all()
        finally:
            os.close(self._fd)

    def _read_available(self) -> None:
        chunk = os.read(self._fd, 65536)
        if not chunk:  # every writer is gone: the process ended
            self._closed = True
            if self._partial:
                self._log._emit(self._partial.decode("utf-8", "replace"), self._level)
            return
        *complete, self._partial = (self._partial + chunk).split(b"\n")
        for line in complete:
            self._log._emit(line.decode("utf-8", "replace").rstrip("\r"), self._level)

    def settle(self) -> None:
        with self._reading:
            while not self._closed and _readable(self._fd, 0):
                self._reading.wait()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


def _readable(fd: int, timeout_ms: int | None) -> bool:
    """poll, not select: the test process may hold more than 1024 descriptors."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(timeout_ms))
