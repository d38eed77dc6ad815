"""Settings: argument > environment > default, clear errors, every setting documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agentwatch import Client, ConfigurationError
from agentwatch.config import SETTINGS, Config
from agentwatch.server.settings import SETTINGS as SERVER_SETTINGS
from agentwatch.settings_table import Setting

KEY = "6f1c2b4e-9a7d-4c3e-8b21-0d5e7f9a1c33"


def test_precedence_argument_then_environment_then_default() -> None:
    env = {"AGENTWATCH_ENDPOINT": "http://env:1", "AGENTWATCH_MAX_QUEUE_SIZE": "7"}
    config = Config.load(env=env, endpoint="http://arg:2/")
    assert config.endpoint == "http://arg:2"
    assert config.max_queue_size == 7
    assert config.flush_interval == 1.0
    assert Config.load(env={}).endpoint == "http://127.0.0.1:8000"


def test_environment_values_are_parsed() -> None:
    config = Config.load(
        env={
            "AGENTWATCH_DEFAULT_TAGS": "a, b,,c",
            "AGENTWATCH_CAPTURE_CONTENT": "false",
            "AGENTWATCH_SHUTDOWN_TIMEOUT": "2.5",
            "AGENTWATCH_LOG_LEVEL": "debug",
            "AGENTWATCH_COMPRESSION": " None ",
            "AGENTWATCH_API_KEY": KEY,
        }
    )
    assert config.default_tags == ("a", "b", "c")
    assert config.capture_content is False
    assert config.shutdown_timeout == 2.5
    assert config.log_level == "DEBUG"
    assert config.compression == "none"
    assert config.api_key == KEY


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"AGENTWATCH_MAX_QUEUE_SIZE": "lots"},
            "AGENTWATCH_MAX_QUEUE_SIZE='lots' is not valid; accepted: a positive integer",
        ),
        ({"AGENTWATCH_MAX_QUEUE_SIZE": "0"}, "accepted: a positive integer"),
        ({"AGENTWATCH_FLUSH_INTERVAL": "-1"}, "accepted: a positive number of seconds"),
        ({"AGENTWATCH_CAPTURE_CONTENT": "maybe"}, "accepted: true/false"),
        ({"AGENTWATCH_ENDPOINT": "localhost:8000"}, "accepted: an http:// or https:// URL"),
        ({"AGENTWATCH_API_KEY": "not-a-key"}, "accepted: an API key as printed by the server"),
        ({"AGENTWATCH_LOG_LEVEL": "loud"}, "accepted: one of DEBUG, INFO"),
        ({"AGENTWATCH_COMPRESSION": "brotli"}, "accepted: one of gzip, none"),
    ],
)
def test_bad_environment_values_are_clear_errors(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        Config.load(env=env)


def test_bad_arguments_are_clear_errors() -> None:
    with pytest.raises(ConfigurationError, match="max_queue_size='10' is not valid; expected int"):
        Config.load(env={}, max_queue_size="10")
    with pytest.raises(ConfigurationError, match="max_export_batch_size=True"):
        Config.load(env={}, max_export_batch_size=True)
    with pytest.raises(ConfigurationError, match="unknown setting"):
        Config.load(env={}, max_queue=3)
    with pytest.raises(ConfigurationError, match="default_tags"):
        Config.load(env={}, default_tags=[1, 2])
    assert Config.load(env={}, flush_interval=2).flush_interval == 2.0


def test_client_without_api_key_says_how_to_get_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGENTWATCH_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="AGENTWATCH_API_KEY"):
        Client()


def test_config_is_frozen() -> None:
    config = Config.load(env={})
    with pytest.raises(AttributeError):
        config.endpoint = "http://x"  # type: ignore[misc]


def _readme_settings() -> dict[str, str]:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    rows = re.finditer(r"^\|\s*`(\w+)`\s*\|\s*`(AGENTWATCH_\w+)`\s*\|", readme, re.M)
    return {m.group(2): m.group(1) for m in rows}


@pytest.mark.parametrize("table", [SETTINGS, SERVER_SETTINGS], ids=["sdk", "server"])
def test_every_setting_is_documented_in_the_readme(table: tuple[Setting, ...]) -> None:
    documented = _readme_settings()
    for setting in table:
        assert documented.get(setting.env) == setting.name, f"{setting.env} missing from README"
