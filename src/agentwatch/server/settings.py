"""Server settings: one table, read once into a frozen :class:`ServerSettings`.

Precedence for every setting: explicit keyword (CLI option, test fixture) > environment
variable > default. Each row of :data:`SETTINGS` names the setting, its environment
variable, its default, how the environment text is parsed, and one line of documentation.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentwatch.settings_table import (
    Setting,
    from_environment,
    parse_non_negative_int,
    parse_optional_str,
    parse_positive_float,
    parse_positive_int,
    parse_str,
)

__all__ = ["SETTINGS", "ServerSettings", "Setting", "SettingsError"]


class SettingsError(ValueError):
    """A setting has a value the server cannot use; the message names the variable."""


def _parse_port(raw: str) -> int:
    value = parse_non_negative_int(raw)
    if value > 65535:
        raise ValueError("accepted: a TCP port number 0-65535")
    return value


def _parse_path(raw: str) -> Path:
    return Path(raw.strip()).expanduser()


def _parse_optional_path(raw: str) -> Path | None:
    return _parse_path(raw) if raw.strip() else None


def _parse_hosts(raw: str) -> tuple[str, ...]:
    """Comma-separated host names or addresses, lower-cased, without ports."""
    hosts = tuple(h.strip().lower().rstrip(".") for h in raw.split(",") if h.strip())
    for host in hosts:
        if host != "*" and (not host or any(c in host for c in "/@ ")):
            raise ValueError("accepted: comma-separated host names or addresses, or *")
    return hosts


_MiB = 1024 * 1024

SETTINGS: tuple[Setting, ...] = (
    Setting(
        "home",
        "AGENTWATCH_HOME",
        Path("~/.agentwatch").expanduser(),
        _parse_path,
        "Directory for the default SQLite database and the generated JWT secret.",
    ),
    Setting(
        "db_url",
        "AGENTWATCH_DB_URL",
        None,
        parse_optional_str,
        "SQLAlchemy URL of the database (`sqlite:///path.db`, `postgresql+psycopg://...`); "
        "default: `sqlite:///$AGENTWATCH_HOME/agentwatch.db`.",
    ),
    Setting(
        "jwt_secret",
        "AGENTWATCH_JWT_SECRET",
        None,
        parse_optional_str,
        "HS256 secret for session tokens; default: generated on first start into "
        "`$AGENTWATCH_HOME/jwt_secret` (mode 0600). Set it when several servers share a database.",
    ),
    Setting(
        "jwt_lifetime",
        "AGENTWATCH_JWT_LIFETIME",
        24 * 3600,
        parse_positive_int,
        "Seconds a session token is valid (the SDK refreshes it through `/v2/reauthorize_jwt`).",
    ),
    Setting(
        "jwt_leeway",
        "AGENTWATCH_JWT_LEEWAY",
        10,
        parse_non_negative_int,
        "Seconds of clock skew tolerated when checking a token's `exp`.",
    ),
    Setting(
        "host",
        "AGENTWATCH_HOST",
        "127.0.0.1",
        parse_str,
        "Interface `agentwatch serve` listens on (`0.0.0.0` or `::` for all of them).",
    ),
    Setting(
        "port", "AGENTWATCH_PORT", 8000, _parse_port, "TCP port `agentwatch serve` listens on."
    ),
    Setting(
        "public_url",
        "AGENTWATCH_PUBLIC_URL",
        None,
        parse_optional_str,
        "Base URL used in `session_url` answers; default: `http://<host>:<port>`.",
    ),
    Setting(
        "allowed_hosts",
        "AGENTWATCH_ALLOWED_HOSTS",
        None,
        _parse_hosts,
        "Host names requests may name (comma-separated; `*`: any) besides loopback, the "
        "bind address and `public_url`'s host; others get 400 (DNS rebinding). Default: none, "
        "or `*` when `host` is a wildcard (`0.0.0.0`, `::`), where the dashboard asks for a "
        "login and a rebound name carries no login cookie.",
    ),
    Setting(
        "max_body_bytes",
        "AGENTWATCH_MAX_BODY_BYTES",
        10 * _MiB,
        parse_positive_int,
        "Largest request body accepted, after gzip decompression (larger: 413).",
    ),
    Setting(
        "max_batch_events",
        "AGENTWATCH_MAX_BATCH_EVENTS",
        5000,
        parse_positive_int,
        "Most events accepted in one `create_events` / `update_events` request (more: 413).",
    ),
    Setting(
        "max_inflight",
        "AGENTWATCH_MAX_INFLIGHT",
        256,
        parse_positive_int,
        "Requests with valid credentials one server process handles at once; requests "
        "without (login form, unknown paths) get a separate pool of an eighth of it, at most "
        "a quarter of that per client address; beyond, 503 (429 for one client) with Retry-After.",
    ),
    Setting(
        "body_timeout",
        "AGENTWATCH_BODY_TIMEOUT",
        30.0,
        parse_positive_float,
        "Seconds a client has to send a whole request body (slower: 408, and its slot is freed).",
    ),
    Setting(
        "prices_file",
        "AGENTWATCH_PRICES_FILE",
        None,
        _parse_optional_path,
        "JSON file of model prices merged over the built-in table (same format as `prices.json`).",
    ),
    Setting(
        "admin_password",
        "AGENTWATCH_ADMIN_PASSWORD",
        None,
        parse_optional_str,
        "Dashboard login password, asked only when `host` is not loopback; default: generated "
        "on first such start, printed once, stored hashed in `$AGENTWATCH_HOME/admin_password`.",
    ),
)

_BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class ServerSettings:
    """The server's configuration, fixed for the life of one app."""

    home: Path
    db_url: str | None
    jwt_secret: str | None
    jwt_lifetime: int
    jwt_leeway: int
    host: str
    port: int
    public_url: str | None
    allowed_hosts: tuple[str, ...] | None
    max_body_bytes: int
    max_batch_events: int
    max_inflight: int
    body_timeout: float
    prices_file: Path | None
    admin_password: str | None = dataclasses.field(default=None, repr=False)

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> ServerSettings:
        """Build settings from ``overrides`` > ``environ`` (default ``os.environ``) > defaults.

        ``None`` overrides are treated as absent. Raises :class:`SettingsError` naming the
        variable when an environment value cannot be parsed, or ``TypeError`` for an
        unknown keyword.
        """
        env = os.environ if environ is None else environ
        unknown = set(overrides) - set(_BY_NAME)
        if unknown:
            raise TypeError(f"unknown server settings: {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for setting in SETTINGS:
            values[setting.name] = _resolve(setting, env, overrides.get(setting.name))
        return cls(**values)

    @property
    def database_url(self) -> str:
        """The database URL in force: the configured one or the SQLite file in ``home``."""
        if self.db_url:
            return self.db_url
        return f"sqlite:///{self.home / 'agentwatch.db'}"

    @property
    def base_url(self) -> str:
        """Base URL for links handed to clients (``session_url``): ``public_url`` or ``listen_url``."""
        return self.public_url.rstrip("/") if self.public_url else self.listen_url

    @property
    def listen_url(self) -> str:
        """``http://<host>:<port>``, an IPv6 host in brackets."""
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        return f"http://{host}:{self.port}"

    def replace(self, **changes: Any) -> ServerSettings:
        """A copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)


def _resolve(setting: Setting, env: Mapping[str, str], override: Any) -> Any:
    if override is not None:
        return override
    try:
        return from_environment(setting, env)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
