"""The ``agentwatch`` command: run the server and manage projects and API keys.

Server dependencies (FastAPI, SQLAlchemy, uvicorn) are imported inside the commands, so
``agentwatch --help`` stays fast and works without the ``server`` extra.
"""

from __future__ import annotations

import contextlib
import shlex
import signal
import socket
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from agentwatch.server.settings import ServerSettings
    from agentwatch.server.storage import Storage

__all__ = ["main"]

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_PROJECT = "default"


def _db_option(function: F) -> F:
    option = click.option(
        "--db",
        "db_url",
        metavar="URL",
        default=None,
        help="Database URL (default: $AGENTWATCH_DB_URL, else a SQLite file in $AGENTWATCH_HOME).",
    )
    return option(function)


@click.group()
@click.version_option(package_name="agentwatch")
def main() -> None:
    """agentwatch: session observability for AI agents."""


def _settings(**overrides: Any) -> ServerSettings:
    try:
        from agentwatch.server.settings import ServerSettings, SettingsError
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise click.ClickException(
            f"the server is not installed ({exc.name} missing): pip install 'agentwatch[server]'"
        ) from None
    try:
        return ServerSettings.load(**overrides)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def _open_storage(settings: ServerSettings) -> Storage:
    """Open and migrate the database, turning every expected failure into a one-line error."""
    from sqlalchemy.exc import SQLAlchemyError

    from agentwatch.server.storage import Storage

    url = settings.database_url
    if settings.db_url is None:
        _ensure_home(settings)
    try:
        return Storage.open(url)
    except ValueError as exc:
        raise click.ClickException(f"bad database URL: {exc}") from None
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise click.ClickException(f"cannot open database {_safe_url(url)}: {reason}") from None
    except OSError as exc:
        raise click.ClickException(f"cannot open database {_safe_url(url)}: {exc}") from None


def _ensure_home(settings: ServerSettings) -> None:
    try:
        settings.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        probe = settings.home / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise click.ClickException(
            f"cannot write to AGENTWATCH_HOME {settings.home}: {exc.strerror or exc}"
        ) from None


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<the given URL>"


def _print_key(key: str) -> None:
    click.echo("API key (shown once; store it now):")
    click.echo(key)
    click.echo(_otlp_headers_line(key))
    click.echo(f"export AGENTWATCH_API_KEY={key}")


def _otlp_headers_line(key: str) -> str:
    # OTEL_EXPORTER_OTLP_HEADERS is W3C-baggage style: the space must be percent-encoded.
    return f"export OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20{key}"


@main.command()
@click.option("--host", default=None, help="Interface to listen on (default 127.0.0.1).")
@click.option("--port", default=None, type=click.IntRange(0, 65535), help="Port (default 8000).")
@_db_option
def serve(host: str | None, port: int | None, db_url: str | None) -> None:
    """Run the server (v2 ingest, OpenTelemetry receiver, read API) until Ctrl-C."""
    settings = _settings(host=host, port=port, db_url=db_url)
    listener = _listen(settings.host, settings.port)
    settings = settings.replace(port=listener.getsockname()[1])  # the real one for --port 0
    storage = _open_storage(settings)
    try:
        created = _first_start(storage)
        app = _create_app(settings, storage)
        click.echo(f"export AGENTWATCH_ENDPOINT={settings.base_url}")
        # OpenTelemetry exporters append /v1/traces, /v1/logs, /v1/metrics themselves.
        click.echo(f"export OTEL_EXPORTER_OTLP_ENDPOINT={settings.base_url}")
        if not created:
            click.echo(_otlp_headers_line("$AGENTWATCH_API_KEY").replace("=", '="', 1) + '"')
        public = f", public URL {settings.public_url}" if settings.public_url else ""
        click.echo(
            f"agentwatch serving on {settings.listen_url}  "
            f"(database: {_safe_url(settings.database_url)}{public})"
        )
        sys.stdout.flush()
        _run_uvicorn(app, listener)
    finally:
        storage.close()
        listener.close()


def _listen(host: str, port: int) -> socket.socket:
    """Bind the listening socket before anything else, so "port in use" is reported first."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        # Listening now: connections made from here on wait in the backlog until uvicorn
        # accepts them, so the URL printed below is usable as soon as it is printed.
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno in (98, 48):  # EADDRINUSE on Linux / macOS
            raise click.ClickException(
                f"port {port} on {host} is already in use; choose another with --port"
            ) from None
        raise click.ClickException(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}"
        ) from None
    return sock


def _first_start(storage: Storage) -> bool:
    """On an empty database: create the default project and print its key, once.

    Returns True when it did (the key has been printed). Later starts cannot show a key
    again (only hashes are kept): they say how to make one.
    """
    existing = storage.list_projects()
    if existing:
        named = next((p for p in existing if p.name == DEFAULT_PROJECT), existing[0]).name
        click.echo(
            "Keys are stored hashed, so none is shown again; to make one: "
            f"agentwatch keys create --project {shlex.quote(named)}"
        )
        return False
    try:
        project = storage.create_project(DEFAULT_PROJECT)
    except ValueError:  # another server process on this database was first
        return False
    key, _ = storage.create_api_key(project.id)
    click.echo(f"First start: created project {DEFAULT_PROJECT!r}.")
    _print_key(key)
    return True


def _create_app(settings: ServerSettings, storage: Storage) -> Any:
    from agentwatch.server.app import create_app

    try:
        return create_app(settings, storage)
    except (ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from None


def _run_uvicorn(app: Any, listener: socket.socket) -> None:
    import uvicorn

    from agentwatch.server import collector

    config = uvicorn.Config(app, log_level="info", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    collector.settle()  # this process is the server's from here on
    server.run(sockets=[listener])


@main.group()
def projects() -> None:
    """Create and list projects."""


@projects.command("create")
@click.argument("name")
@_db_option
def projects_create(name: str, db_url: str | None) -> None:
    """Create project NAME and print its first API key."""
    storage = _open_storage(_settings(db_url=db_url))
    try:
        try:
            project = storage.create_project(name.strip())
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        key, _ = storage.create_api_key(project.id)
    finally:
        storage.close()
    click.echo(f"Created project {project.name!r} ({project.id}).")
    _print_key(key)


@projects.command("list")
@_db_option
def projects_list(db_url: str | None) -> None:
    """List projects with their number of active keys."""
    storage = _open_storage(_settings(db_url=db_url))
    try:
        keys = storage.list_api_keys()
        rows = [
            (
                p.name,
                p.id,
                p.created_at.strftime("%Y-%m-%d %H:%M"),
                str(sum(k.project_id == p.id and k.revoked_at is None for k in keys)),
            )
            for p in storage.list_projects()
        ]
    finally:
        storage.close()
    _table(("NAME", "ID", "CREATED (UTC)", "ACTIVE KEYS"), rows)


@main.group()
def keys() -> None:
    """Create, list and revoke project API keys."""


@keys.command("create")
@click.option("--project", "project_name", required=True, help="Project name.")
@_db_option
def keys_create(project_name: str, db_url: str | None) -> None:
    """Create an API key for a project and print it."""
    storage = _open_storage(_settings(db_url=db_url))
    try:
        project = storage.project_by_name(project_name)
        if project is None:
            raise click.ClickException(
                f"no project named {project_name!r} (see: agentwatch projects list)"
            )
        key, _ = storage.create_api_key(project.id)
    finally:
        storage.close()
    click.echo(f"Created a key for project {project.name!r}.")
    _print_key(key)


@keys.command("revoke")
@click.argument("key_or_prefix")
@_db_option
def keys_revoke(key_or_prefix: str, db_url: str | None) -> None:
    """Revoke a key, given whole or by its prefix (as `keys list` shows it)."""
    storage = _open_storage(_settings(db_url=db_url))
    try:
        try:
            revoked = storage.revoke_api_keys(key_or_prefix)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
    finally:
        storage.close()
    if not revoked:
        raise click.ClickException(f"no active key matches {key_or_prefix!r}")
    for key in revoked:
        click.echo(f"Revoked key {key.prefix}... of project {key.project_name!r}.")


@keys.command("list")
@_db_option
def keys_list(db_url: str | None) -> None:
    """List keys (their prefix only: keys are stored hashed)."""
    storage = _open_storage(_settings(db_url=db_url))
    try:
        rows = [
            (
                k.prefix + "...",
                k.project_name,
                k.created_at.strftime("%Y-%m-%d %H:%M"),
                "revoked " + k.revoked_at.strftime("%Y-%m-%d %H:%M") if k.revoked_at else "active",
            )
            for k in storage.list_api_keys()
        ]
    finally:
        storage.close()
    _table(("KEY", "PROJECT", "CREATED (UTC)", "STATUS"), rows)


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=False)]
    for row in (header, *rows):
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


@main.command()
@click.option("--host", default=None, help="Interface to listen on (default 127.0.0.1).")
@click.option("--port", default=None, type=click.IntRange(0, 65535), help="Port (default 8000).")
@click.option(
    "--db",
    "db_url",
    metavar="URL",
    default=None,
    help="Database URL (default: a temporary SQLite file, removed on exit).",
)
@click.option("--no-wait", is_flag=True, help="Exit after the demo session instead of serving.")
def demo(host: str | None, port: int | None, db_url: str | None, no_wait: bool) -> None:
    """Start a server, record a simulated agent session through the SDK, keep serving.

    Everything it writes (database, JWT secret) lives in a temporary home, removed on
    exit: after Ctrl-C, SIGINT or SIGTERM alike.
    """
    import tempfile
    from pathlib import Path

    with _stop_on_signals(), tempfile.TemporaryDirectory(prefix="agentwatch-demo-") as tmp:
        url = db_url or f"sqlite:///{tmp}/demo.db"
        settings = _settings(host=host, port=port, db_url=url, home=Path(tmp))
        listener = _listen(settings.host, settings.port)
        settings = settings.replace(port=listener.getsockname()[1])
        storage = _open_storage(settings)
        try:
            project = storage.project_by_name("demo") or storage.create_project("demo")
            key, _ = storage.create_api_key(project.id)
            server = _DemoServer(_create_app(settings, storage), listener)
            try:
                _run_demo(settings.base_url, key)
                if not no_wait:
                    click.echo("Serving until Ctrl-C.")
                    server.wait()
            finally:
                server.stop()
        finally:
            storage.close()
            listener.close()


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise KeyboardInterrupt (once), so the demo cleans up on either.

    Set explicitly: a shell's ``&`` and nohup start a process with SIGINT ignored, and
    SIGTERM's default ends it without removing its temporary directory.
    """
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        if not stopping:  # a second signal must not interrupt the cleanup itself
            stopping = True
            raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class _DemoServer:
    """uvicorn in a thread, so the demo's SDK runs in the main thread beside it."""

    def __init__(self, app: Any, listener: socket.socket) -> None:
        import threading
        import time

        import uvicorn

        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [listener]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise click.ClickException("the server did not start")
            time.sleep(0.02)

    def wait(self) -> None:
        try:
            while self._thread.is_alive():
                self._thread.join(0.5)
        except KeyboardInterrupt:
            click.echo("\nStopping.")

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)


def _run_demo(base_url: str, key: str) -> None:
    from agentwatch.client import Client
    from agentwatch.demo import run_demo_session

    click.echo(f"agentwatch demo server on {base_url}")
    client = Client(api_key=key, endpoint=base_url, handle_signals=False, log_level="WARNING")
    try:
        session = run_demo_session(client)
        delivered = client.flush()
        stats = session.manager.stats_line(delivered)
    finally:
        client.shutdown()
    click.echo(f"Recorded a simulated agent session {session.session_id}.")
    click.echo(stats)
    click.echo(f"Dashboard:  {session.session_url}")
    click.echo(
        f"JSON:       curl -H 'X-Agentops-Api-Key: {key}' "
        f"{base_url}/api/sessions/{session.session_id}"
    )
    click.echo(f"API docs:   {base_url}/docs")
    click.echo(f"Send your own sessions with: export AGENTWATCH_API_KEY={key}")


if __name__ == "__main__":
    main()
