"""A throwaway PostgreSQL cluster on loopback, for tests and benchmarks (stdlib only).

Uses the binaries under ``/usr/lib/postgresql/*/bin`` (Debian's ``postgresql``
package). PostgreSQL refuses to run as root, so as root the cluster is created and run
as the ``postgres`` user. The data directory is a temporary one, deleted on exit.

``durable=False`` (tests) turns fsync off and stops with ``-m immediate``: fast, and
nothing is kept anyway. Benchmarks keep the default durability, so that their figures
are what a user gets.
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

__all__ = ["ClusterUnavailable", "throwaway_cluster"]

START_TIMEOUT_S = 60


class ClusterUnavailable(RuntimeError):
    """PostgreSQL is not installed here, or the cluster did not start (the reason says)."""


@contextmanager
def throwaway_cluster(*, durable: bool = True, max_connections: int | None = None) -> Iterator[str]:
    """Start a cluster on a free 127.0.0.1 port; yield its admin URL; stop and delete it.

    The URL is ``postgresql://postgres@127.0.0.1:PORT/postgres`` (trust authentication,
    loopback only). Raises :class:`ClusterUnavailable` when it cannot be started.
    """
    bin_dir = _bin_dir()
    root = Path(tempfile.mkdtemp(prefix="agentwatch-pg-"))
    data, sockets = root / "data", root / "sock"
    sockets.mkdir()
    if os.geteuid() == 0:
        for path in (root, sockets):
            shutil.chown(path, "postgres", "postgres")
    port = _free_port()
    try:
        initdb = [str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]
        initdb += ["-E", "UTF8", "--locale=C"]
        if not durable:
            initdb.append("--no-sync")
        _run(_as_postgres(*initdb))
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {sockets}"
        if not durable:
            options += " -c fsync=off"
        if max_connections is not None:
            options += f" -c max_connections={max_connections}"
        pg_ctl = [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "log")]
        _run(_as_postgres(*pg_ctl, "-o", options, "-w", "-t", str(START_TIMEOUT_S), "start"))
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
        finally:
            mode = "fast" if durable else "immediate"
            stop = [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", mode, "-w", "stop"]
            subprocess.run(_as_postgres(*stop), capture_output=True, timeout=60, check=False)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found:
        raise ClusterUnavailable(
            "no PostgreSQL binaries under /usr/lib/postgresql/*/bin (apt-get install postgresql)"
        )
    return Path(found[-1]).parent


def _as_postgres(*args: str) -> list[str]:
    if os.geteuid() != 0:
        return list(args)
    runner = shutil.which("runuser")
    if runner is not None:
        return [runner, "-u", "postgres", "--", *args]
    return ["su", "postgres", "-c", " ".join(args)]


def _run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0:
        raise ClusterUnavailable(
            f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}"
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
