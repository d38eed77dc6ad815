"""A throwaway PostgreSQL cluster for the PostgreSQL figures (stdlib only).

Uses Debian's binaries under ``/usr/lib/postgresql/*/bin`` (``.ci/run`` installs the
``postgresql`` package). PostgreSQL refuses to run as root, so as root the cluster runs
as the ``postgres`` user. Unlike the test suite's cluster it keeps the default
durability settings (fsync, synchronous_commit on): the figures are what a user gets.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

START_TIMEOUT_S = 60


class ClusterUnavailable(RuntimeError):
    """PostgreSQL is not installed here or did not start."""


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found:
        raise ClusterUnavailable("no /usr/lib/postgresql/*/bin (apt-get install postgresql)")
    return Path(found[-1]).parent


def _as_postgres(*args: str) -> list[str]:
    runner = shutil.which("runuser")
    if os.geteuid() != 0 or runner is None:
        return list(args)
    return [runner, "-u", "postgres", "--", *args]


def _run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0:
        raise ClusterUnavailable(f"{' '.join(cmd)}: {proc.stderr.strip()[-500:]}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def throwaway_cluster() -> Iterator[str]:
    """Yield an admin URL (``postgresql://postgres@127.0.0.1:PORT/postgres``); stop on exit."""
    bin_dir = _bin_dir()
    root = Path(tempfile.mkdtemp(prefix="agentwatch-bench-pg-"))
    data, sockets = root / "data", root / "sock"
    sockets.mkdir()
    if os.geteuid() == 0:
        for path in (root, sockets):
            shutil.chown(path, "postgres", "postgres")
    port = _free_port()
    try:
        initdb = [str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]
        _run(_as_postgres(*initdb, "-E", "UTF8", "--locale=C"))
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {sockets}"
        pg_ctl = [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "log")]
        _run(_as_postgres(*pg_ctl, "-o", options, "-w", "-t", str(START_TIMEOUT_S), "start"))
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
        finally:
            stop = [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]
            subprocess.run(_as_postgres(*stop), capture_output=True, timeout=60, check=False)
    finally:
        shutil.rmtree(root, ignore_errors=True)
