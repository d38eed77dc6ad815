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


# -- the OTLP tee's settings ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "url"),
    [
        ("http://collector:4318", "http://collector:4318/v1/traces"),
        ("http://collector:4318/", "http://collector:4318/v1/traces"),
        (" https://host/api/public/otel ", "https://host/api/public/otel/v1/traces"),
        ("http://collector:4318/v1/traces", "http://collector:4318/v1/traces"),
        ("http://collector:4318/v1/traces/", "http://collector:4318/v1/traces"),
        ("http://[::1]:4318?tenant=a", "http://[::1]:4318/v1/traces?tenant=a"),
    ],
)
def test_otlp_endpoint_appends_the_traces_path_to_a_base_url(given: str, url: str) -> None:
    assert Config.load(env={}, otlp_endpoint=given).otlp_endpoint == url
    assert Config.load(env={"AGENTWATCH_OTLP_ENDPOINT": given}).otlp_endpoint == url
    assert Config.load(env={}).otlp_endpoint is None


@pytest.mark.parametrize(
    "bad",
    ["collector:4318", "ftp://collector", "http://", "http://h:99999", "http://h:x", "http://a b"],
)
def test_bad_otlp_endpoints_are_clear_errors(bad: str) -> None:
    accepted = "accepted: an http:// or https:// URL of an OTLP/HTTP collector"
    with pytest.raises(ConfigurationError, match=re.escape(f"otlp_endpoint={bad!r} is not valid")):
        Config.load(env={}, otlp_endpoint=bad)
    with pytest.raises(ConfigurationError, match=re.escape(accepted)):
        Config.load(env={"AGENTWATCH_OTLP_ENDPOINT": bad})
    with pytest.raises(ConfigurationError, match="expected str"):
        Config.load(env={}, otlp_endpoint=4318)


def test_otlp_headers_from_the_environment_use_the_otel_format() -> None:
    raw = "Authorization=Bearer%20abc%3D%3D, X-Team = a%2Cb ,,x-empty="
    config = Config.load(env={"AGENTWATCH_OTLP_HEADERS": raw})
    assert config.otlp_headers == (
        ("Authorization", "Bearer abc=="),
        ("X-Team", "a,b"),
        ("x-empty", ""),
    )
    assert Config.load(env={}, otlp_headers={"X-Key": " k "}).otlp_headers == (("X-Key", "k"),)
    assert Config.load(env={}, otlp_headers="a=b%20c").otlp_headers == (("a", "b c"),)
    assert Config.load(env={}).otlp_headers == ()
    assert "abc" not in repr(config)  # credentials stay out of reprs


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("Authorization", "accepted: key=value pairs separated by commas"),
        ("Bad Name=x", "header name 'Bad Name' is not a token"),
        ("=x", "header name '' is not a token"),
        ("X-Inject=a%0D%0AHost:%20evil", "has characters a header cannot carry"),
        ("X-Nul=a%00", "has characters a header cannot carry"),
    ],
)
def test_bad_otlp_headers_are_clear_errors_that_never_show_the_value(
    bad: str, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)) as env_error:
        Config.load(env={"AGENTWATCH_OTLP_HEADERS": bad + ",Authorization=Bearer%20s3cret"})
    assert "AGENTWATCH_OTLP_HEADERS=<not shown" in str(env_error.value)
    assert "s3cret" not in str(env_error.value)
    with pytest.raises(ConfigurationError, match=re.escape(message)) as arg_error:
        Config.load(env={}, otlp_headers=bad + ",Authorization=Bearer%20s3cret")
    assert "otlp_headers=<not shown" in str(arg_error.value)
    assert "s3cret" not in str(arg_error.value)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (["a=b"], "accepted: a dict of header names to values"),
        ({"a": 1}, "accepted: a dict of strings to strings"),
        ({"a\nb": "c"}, "is not a token"),
        ({"X": "s3cret\r\nHost: evil"}, "has characters a header cannot carry"),
        ({"X": "caf\u00e9 \u2603"}, "has characters a header cannot carry"),
    ],
)
def test_bad_otlp_header_arguments_are_clear_errors(bad: object, message: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)) as error:
        Config.load(env={}, otlp_headers=bad)
    assert "s3cret" not in str(error.value)


def test_otlp_service_name_is_checked() -> None:
    assert Config.load(env={"AGENTWATCH_OTLP_SERVICE_NAME": " my-agent "}).otlp_service_name == (
        "my-agent"
    )
    assert Config.load(env={}).otlp_service_name is None
    for bad in ("x" * 256, "a\nb"):
        with pytest.raises(ConfigurationError, match="accepted: a printable name of 1 to 255"):
            Config.load(env={}, otlp_service_name=bad)
