"""Run the SDK's OpenTelemetry tests (``-m otel``) on the oldest supported OpenTelemetry
SDK and on the latest, each in its own virtual environment (``make otel-versions``).

pyproject.toml promises ``opentelemetry-sdk>=1.27``; what agentwatch uses of it (the
``ReadableSpan`` constructor, ``SpanContext``, ``Resource``, ``InstrumentationScope``,
span processors, the OTLP/HTTP exporter in the tests) must work at both ends. Each venv
holds this project's dependencies with the OpenTelemetry packages pinned; the tests run
against this checkout's ``src`` (``PYTHONPATH``), so a venv is built once and reused. The
"latest" venv is upgraded on each run (a no-op when nothing was released).

Exits with the first failing run's status. Options: ``--only 1.27.0`` (one version).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CACHE_DIR_ENV = "AGENTWATCH_TEST_CACHE"
DEFAULT_CACHE_DIR = Path.home() / ".cache" / "agentwatch-tests"
OLDEST = "1.27.0"
LATEST = "latest"
OTEL_PACKAGES = ("opentelemetry-api", "opentelemetry-sdk", "opentelemetry-exporter-otlp-proto-http")
TEST_PACKAGES = ("pytest>=8", "pytest-asyncio>=0.24", "pytest-timeout>=2.3", "hypothesis>=6.100")
MARKER = "agentwatch-venv-ok"
INSTALL_TIMEOUT_S = 900


def venv_for(version: str) -> Path:
    cache = Path(os.environ.get(CACHE_DIR_ENV) or DEFAULT_CACHE_DIR)
    return cache / f"otel-{version}"


def ensure(version: str) -> Path:
    """The python of a venv with the project's dependencies and OpenTelemetry ``version``
    (``latest``: upgraded now). Blocks on pip; raises ``RuntimeError`` if it fails."""
    venv = venv_for(version)
    python = venv / "bin" / "python"
    pins = [p if version == LATEST else f"{p}=={version}" for p in OTEL_PACKAGES]
    wanted = "\n".join([*pins, *TEST_PACKAGES]) + "\n"
    marker = venv / MARKER
    if marker.exists() and marker.read_text() == wanted:
        if version == LATEST:
            _run([str(python), "-m", "pip", "install", "--quiet", "--upgrade", *pins])
        return python
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    _run([sys.executable, "-m", "venv", str(venv)])
    # The project (its dependencies, with the server extra the tests run) and the pins in
    # one resolution; the code under test comes from PYTHONPATH, not from this copy.
    _run([str(python), "-m", "pip", "install", "--quiet", f"{REPO}[server]", *pins, *TEST_PACKAGES])
    marker.write_text(wanted)
    return python


def installed(python: Path) -> str:
    probe = (
        "import importlib.metadata as m; "
        f"print(', '.join(f'{{p}} {{m.version(p)}}' for p in {OTEL_PACKAGES!r}))"
    )
    return _run([str(python), "-c", probe]).strip()


def run_tests(python: Path) -> int:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    cmd = [str(python), "-m", "pytest", "-m", "otel", "-q", "-p", "no:cacheprovider", "tests/sdk"]
    return subprocess.run(cmd, cwd=REPO, env=env, check=False).returncode


def _run(cmd: list[str]) -> str:
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, env=env, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd)} exited {proc.returncode}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        )
    return proc.stdout


def main() -> int:
    argv = sys.argv[1:]
    versions = [argv[argv.index("--only") + 1]] if "--only" in argv else [OLDEST, LATEST]
    status = 0
    for version in versions:
        python = ensure(version)
        print(f"=== OpenTelemetry {version}: {installed(python)}", flush=True)
        code = run_tests(python)
        print(f"=== OpenTelemetry {version}: pytest exit {code}", flush=True)
        status = status or code
    return status


if __name__ == "__main__":
    sys.exit(main())
