"""Build (once) and reuse the virtual environments that hold the real client libraries.

The clients cannot share the test environment or each other: agentops 0.3.26 pins old
``packaging``/``psutil``; agentops 0.4.21 only exports with OpenTelemetry 1.36 (its
exporter reads ``_headers``, gone in 1.45); the OpenTelemetry-based clients want the
latest OpenTelemetry. Each venv lives under the cache directory in a folder named after a
hash of its requirements, so changing a pin builds a new one; it is used only once its
marker file says it was built completely (an interrupted build is started again).

``python tests/e2e/client_venvs.py NAME...`` builds the named venvs (all without a name, side
by side) and prints ``NAME PYTHON`` per line; ``--python NAME`` prints only that venv's python (for
``.ci/run`` to export in the venv's ``python_env`` variable, which tests then use as it is).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

CACHE_DIR_ENV = "AGENTWATCH_TEST_CACHE"
DEFAULT_CACHE_DIR = Path.home() / ".cache" / "agentwatch-tests"
MARKER = "agentwatch-venv-ok"
# A cold build from PyPI takes ~30 s here; leave room for a slow registry.
INSTALL_TIMEOUT_S = 900


@dataclass(frozen=True)
class ClientVenv:
    """A venv holding exactly ``requirements`` (pip specifiers), checked by ``probe``."""

    name: str
    # The variable that names a ready python for this venv instead of building one.
    python_env: str
    requirements: tuple[str, ...]
    # (distribution, version) pairs that must be installed once pip is done.
    probe: tuple[tuple[str, str], ...]

    def fingerprint(self) -> str:
        return hashlib.sha256("\n".join(self.requirements).encode()).hexdigest()[:12]

    def path(self) -> Path:
        cache = Path(os.environ.get(CACHE_DIR_ENV) or DEFAULT_CACHE_DIR)
        return cache / f"{self.name}-{self.fingerprint()}"


AGENTOPS_03 = ClientVenv(
    "agentops03",
    "AGENTWATCH_TEST_AGENTOPS_PYTHON",
    ("agentops==0.3.26",),
    (("agentops", "0.3.26"),),
)
# agentops 0.4.21 with the OpenTelemetry it was released against (see the module docstring).
AGENTOPS_04 = ClientVenv(
    "agentops04",
    "AGENTWATCH_TEST_AGENTOPS04_PYTHON",
    (
        "agentops==0.4.21",
        "opentelemetry-api==1.36.0",
        "opentelemetry-sdk==1.36.0",
        "opentelemetry-exporter-otlp-proto-http==1.36.0",
        "opentelemetry-instrumentation==0.57b0",
        "opentelemetry-semantic-conventions==0.57b0",
        "openai==3.57.0",
    ),
    (("agentops", "0.4.21"), ("opentelemetry-sdk", "1.36.0")),
)
# Every OpenTelemetry-based client at the releases the e2e tests were written against.
# openai-v2 2.4b0 needs opentelemetry-util-genai 1.1b0 (1.2b0 and 1.3b0 lack
# util.genai.instruments) and httpx itself (openai 3 depends on httpx2).
OTEL_CLIENTS = ClientVenv(
    "otel-clients",
    "AGENTWATCH_TEST_OTEL_CLIENTS_PYTHON",
    (
        "opentelemetry-sdk==1.45.2",
        "opentelemetry-exporter-otlp-proto-http==1.45.2",
        "openinference-instrumentation-openai==0.1.66",
        "arize-phoenix-otel==0.17.2",
        "opentelemetry-instrumentation-openai-v2==2.4b0",
        "opentelemetry-util-genai==1.1b0",
        "langfuse==5.2.0",
        "logfire==5.4.0",
        "openai==3.57.0",
        "httpx>=0.27",
    ),
    (("langfuse", "5.2.0"), ("logfire", "5.4.0"), ("opentelemetry-sdk", "1.45.2")),
)
ALL = {venv.name: venv for venv in (AGENTOPS_03, AGENTOPS_04, OTEL_CLIENTS)}


def ensure(venv: ClientVenv) -> Path:
    """Return the python of ``venv``, building it if needed (or the one its variable names).

    Blocks for as long as pip takes (each command bounded by ``INSTALL_TIMEOUT_S``);
    raises ``RuntimeError`` with pip's output if the install fails or installs other versions.
    """
    given = os.environ.get(venv.python_env)
    if given:
        return Path(given)
    path = venv.path()
    python = path / "bin" / "python"
    if (path / MARKER).exists():
        return python
    shutil.rmtree(path, ignore_errors=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    _run([sys.executable, "-m", "venv", str(path)])
    _run([str(python), "-m", "pip", "install", "--quiet", *venv.requirements])
    probe = "import importlib.metadata as m, sys; print(*(m.version(d) for d in sys.argv[1:]))"
    wanted = [version for _, version in venv.probe]
    installed = _run([str(python), "-c", probe, *(d for d, _ in venv.probe)]).split()
    if installed != wanted:
        raise RuntimeError(f"{path} has {installed}, wanted {wanted} of {venv.probe}")
    (path / MARKER).write_text("\n".join(venv.requirements) + "\n")
    return python


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


def main(argv: list[str]) -> None:
    if argv[:1] == ["--python"]:
        print(ensure(ALL[argv[1]]))
        return
    unknown = [name for name in argv if name not in ALL]
    if unknown:
        sys.exit(f"unknown venv {unknown}; known: {', '.join(ALL)}")
    names = argv or list(ALL)
    # pip mostly waits on the registry: building the venvs side by side roughly halves a
    # cold build on two cores.
    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        built = pool.map(lambda name: ensure(ALL[name]), names)
        for name, python in zip(names, built, strict=True):
            print(name, python, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
