"""The virtual environments the benchmarks run in, created once under ``bench/.venvs/``.

Each reference SDK gets its own venv because they need different OpenTelemetry versions
(agentops 0.4 only exports with OTel pinned to 1.36, see ``shared/research/perf.md`` §4).
A venv is reused while its marker file holds the same requirement list; change the list
and it is rebuilt on the next ``make bench``. Run as a script to build them all.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
VENVS_DIR = BENCH_DIR / ".venvs"
MARKER = "bench-venv-ok"
PIP_TIMEOUT_S = 900


@dataclass(frozen=True)
class VenvSpec:
    name: str
    requirements: tuple[str, ...]
    # Installed with ``pip install -e`` (only the agentwatch venv uses it).
    editable: tuple[str, ...] = ()

    @property
    def path(self) -> Path:
        return VENVS_DIR / self.name

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    def fingerprint(self) -> str:
        text = "\n".join((*self.requirements, *self.editable))
        if self.editable:
            # An editable install follows the code but not new dependencies: rebuild when
            # the project's pyproject.toml changes.
            text += (REPO_DIR / "pyproject.toml").read_text()
        return hashlib.sha256(text.encode()).hexdigest()[:16]


# floor: raw OTel, the stub server, the HTTP, SQLite and PostgreSQL floors.
FLOOR = VenvSpec(
    "floor",
    (
        "opentelemetry-sdk",
        "opentelemetry-proto",
        # bench_otlp.py sends with the real OTLP/HTTP exporter.
        "opentelemetry-exporter-otlp-proto-http",
        "uvicorn[standard]",
        "starlette",
        "orjson",
        "httpx",
        "psycopg[binary]",
    ),
)
AGENTOPS03 = VenvSpec("agentops03", ("agentops==0.3.26",))
# agentops 0.4.21 reads OTLPSpanExporter._headers, which OTel >= 1.37's exporter lacks:
# with the latest OTel it exports nothing. Pin the versions it was released against.
AGENTOPS04 = VenvSpec(
    "agentops04",
    (
        "agentops==0.4.21",
        "opentelemetry-api==1.36.0",
        "opentelemetry-sdk==1.36.0",
        "opentelemetry-exporter-otlp-proto-http==1.36.0",
        "opentelemetry-instrumentation==0.57b0",
        "opentelemetry-semantic-conventions==0.57b0",
    ),
)
LANGFUSE = VenvSpec("langfuse", ("langfuse",))
# Arize Phoenix, the OTLP receiver bench_otlp.py measures agentwatch beside.
PHOENIX = VenvSpec("phoenix", ("arize-phoenix",))
AGENTWATCH = VenvSpec("agentwatch", (), editable=(f"{REPO_DIR}[server]",))

ALL = (FLOOR, AGENTOPS03, AGENTOPS04, LANGFUSE, PHOENIX, AGENTWATCH)


def ensure(spec: VenvSpec) -> Path:
    """Create or reuse the venv for ``spec``; return its python. Blocks on pip."""
    marker = spec.path / MARKER
    if marker.exists() and marker.read_text().strip() == spec.fingerprint():
        return spec.python
    shutil.rmtree(spec.path, ignore_errors=True)
    _run([sys.executable, "-m", "venv", str(spec.path)])
    pip = [str(spec.python), "-m", "pip", "install", "--quiet"]
    if spec.requirements:
        _run([*pip, *spec.requirements])
    for target in spec.editable:
        _run([*pip, "-e", target])
    marker.write_text(spec.fingerprint() + "\n")
    return spec.python


def freeze(spec: VenvSpec) -> dict[str, str]:
    """Installed distributions of the venv, name -> version."""
    out = _run([str(spec.python), "-m", "pip", "list", "--format=freeze"])
    pairs = (line.split("==", 1) for line in out.splitlines() if "==" in line)
    return {name.lower(): version for name, version in pairs}


def _run(cmd: list[str]) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT_S, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-4000:]}")
    return proc.stdout


if __name__ == "__main__":
    for venv in ALL:
        print(venv.name, ensure(venv), flush=True)
