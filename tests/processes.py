"""Child processes of tests: their output read with a deadline, and always ended.

A test that reads a child's pipe with a bare ``readline`` hangs with the child; one that
only ends it on success leaks it (and a later, unrelated test fails on its
``ResourceWarning``). :class:`Lines` reads in a thread, so every wait has a deadline;
:func:`ended` kills and reaps the child in ``finally``, whatever happened.
"""

from __future__ import annotations

import contextlib
import queue
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import IO


class Lines:
    """The lines a child writes to ``stream``, as they come, each wait with a deadline."""

    def __init__(self, stream: IO[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: IO[str]) -> None:
        with contextlib.suppress(ValueError):  # the pipe was closed by ended()
            for line in stream:
                self._queue.put(line)
        self._queue.put(None)

    def next(self, timeout: float) -> str:
        """The next line; AssertionError (with everything read) at EOF or after ``timeout`` s."""
        try:
            line = self._queue.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no line in {timeout} s; so far:\n{self.text}") from None
        if line is None:
            raise AssertionError(f"the process closed its output; it wrote:\n{self.text}")
        self.seen.append(line)
        return line

    def until(self, prefix: str, timeout: float) -> str:
        """Lines up to and including the first that starts with ``prefix``, as one text."""
        deadline = time.monotonic() + timeout
        start = len(self.seen)
        while not self.next(max(deadline - time.monotonic(), 0.01)).startswith(prefix):
            pass
        return "".join(self.seen[start:])

    @property
    def text(self) -> str:
        return "".join(self.seen)


@contextlib.contextmanager
def ended(process: subprocess.Popen[str]) -> Iterator[subprocess.Popen[str]]:
    """``process``, killed (if still running) and reaped on the way out, pipes closed."""
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
        for pipe in (process.stdin, process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()
