"""``agentwatch serve`` as a real subprocess, for CLI and multi-process tests."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

_SERVING = re.compile(r"agentwatch serving on (http://\S+)")


@dataclass
class ServeProcess:
    process: subprocess.Popen[str]
    url: str
    lines: list[str] = field(default_factory=list)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def api_key(self) -> str | None:
        """The key printed on a line of its own at first start, if any."""
        for previous, line in zip(self.lines, self.lines[1:], strict=False):
            if previous.startswith("API key"):
                return line.strip()
        return None


def run_cli(
    args: Sequence[str], home: Path, timeout: float = 60, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run ``agentwatch ARGS`` to completion."""
    return subprocess.run(
        [sys.executable, "-m", "agentwatch.cli", *args],
        env=_env(home, env or {}),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _env(home: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTWATCH_")}
    return {**env, "AGENTWATCH_HOME": str(home), "PYTHONUNBUFFERED": "1", **extra}


@contextmanager
def serve(
    home: Path, *args: str, timeout: float = 60, env: dict[str, str] | None = None
) -> Iterator[ServeProcess]:
    """Start ``agentwatch serve --port 0 ARGS``; yields once it prints its URL; stops it after."""
    process = subprocess.Popen(
        [sys.executable, "-m", "agentwatch.cli", "serve", "--port", "0", *args],
        env=_env(home, env or {}),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    reader = threading.Thread(target=_pump, args=(process, lines), daemon=True)
    reader.start()
    seen: list[str] = []
    try:
        url = _wait_for_url(lines, seen, timeout)
        running = ServeProcess(process, url, seen)
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        reader.join(timeout=5)
        assert process.stdout is not None
        process.stdout.close()


def _pump(process: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        lines.put(line)
    lines.put(None)


def _wait_for_url(lines: queue.Queue[str | None], seen: list[str], timeout: float) -> str:
    while True:
        try:
            line = lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(
                "agentwatch serve printed no URL in time:\n" + "".join(seen)
            ) from None
        if line is None:
            raise AssertionError("agentwatch serve exited:\n" + "".join(seen))
        seen.append(line)
        match = _SERVING.search(line)
        if match:
            return match.group(1)
