"""The "Send OpenTelemetry" section of the README is what the e2e tests run.

Each Python snippet must be found word for word in the ``# README: NAME`` ... ``# end
README`` block of one ``tests/e2e/*_script.py`` (which the client tests run against a real
server); each shell snippet is read by the tests for the variables it exports
(``otel_harness.readme_exports``). A block without a snippet name would be untested.
"""

from __future__ import annotations

import re

from tests.e2e.otel_harness import HERE, readme_exports, readme_section, readme_snippets

# The shell snippets and the tests that take their exports (client_env(readme=...)).
SHELL_SNIPPETS = {"env-otel", "env-openai-v2", "env-logfire", "env-langfuse"}


def script_blocks() -> dict[str, str]:
    blocks: dict[str, str] = {}
    for script in sorted(HERE.glob("*_script.py")):
        text = script.read_text()
        for name, code in re.findall(r"# README: ([\w-]+)\n(.*?)# end README\n", text, re.DOTALL):
            assert name not in blocks, f"README snippet {name} is in two scripts"
            blocks[name] = code
    return blocks


def test_every_block_of_the_section_is_a_named_snippet() -> None:
    section = readme_section("Send OpenTelemetry")
    fences = section.count("```") // 2
    assert fences == len(readme_snippets()), "a code block has no <!-- snippet: NAME --> line"


def test_python_snippets_are_the_scripts_code() -> None:
    snippets = readme_snippets()
    python = {name: code for name, code in snippets.items() if name not in SHELL_SNIPPETS}
    blocks = script_blocks()
    assert set(python) == set(blocks), "README snippets and script blocks differ"
    for name, code in python.items():
        assert code == blocks[name], f"README snippet {name} differs from its script"


def test_shell_snippets_export_what_the_clients_read() -> None:
    assert set(readme_snippets()) >= SHELL_SNIPPETS
    exports = readme_exports(SHELL_SNIPPETS, "http://127.0.0.1:9", "KEY")
    assert exports["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://127.0.0.1:9"
    assert exports["OTEL_EXPORTER_OTLP_HEADERS"] == "Authorization=Bearer%20KEY"
    assert exports["LOGFIRE_TOKEN"] == exports["LANGFUSE_SECRET_KEY"] == "KEY"
    assert exports["LANGFUSE_BASE_URL"] == exports["LOGFIRE_BASE_URL"] == "http://127.0.0.1:9"
