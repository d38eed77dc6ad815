"""Build (once) and reuse a virtual environment holding the real agentops 0.3.26 SDK.

agentops 0.3.26 pins old ``packaging``, ``psutil`` and ``termcolor``, so it cannot share
the test environment. The venv lives under a cache directory and is reused while its
marker file says it was built completely; an interrupted build has no marker and is
rebuilt.

Run as a script (``python tests/e2e/agentops_venv.py``) to build it ahead of the tests;
prints the path of the venv's python.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

AGENTOPS_VERSION = "0.3.26"
# Where the venv is kept between runs; override to put it elsewhere.
CACHE_DIR_ENV = "AGENTWATCH_TEST_CACHE"
DEFAULT_CACHE_DIR = Path.home() / ".cache" / "agentwatch-tests"
# A ready agentops 0.3.26 python to use instead of building one.
PYTHON_ENV = "AGENTWATCH_TEST_AGENTOPS_PYTHON"
MARKER = "agentwatch-venv-ok"
# pip from PyPI on a cold cache takes ~10 s here; leave room for a slow registry.
INSTALL_TIMEOUT_S = 900


def venv_dir() -> Path:
    cache = Path(os.environ.get(CACHE_DIR_ENV) or DEFAULT_CACHE_DIR)
    return cache / f"agentops-{AGENTOPS_VERSION}"


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def ensure_agentops_venv() -> Path:
    """Return the python of a venv with agentops==0.3.26, building it if needed
    (or the python named by ``AGENTWATCH_TEST_AGENTOPS_PYTHON``).

    Blocks for as long as pip takes (each command bounded by ``INSTALL_TIMEOUT_S``);
    raises ``RuntimeError`` with pip's output if the install fails.
    """
    given = os.environ.get(PYTHON_ENV)
    if given:
        return Path(given)
    venv = venv_dir()
    python = venv_python(venv)
    if (venv / MARKER).exists():
        return python
    # No marker: absent or a build that was interrupted; start again from nothing.
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    _run([sys.executable, "-m", "venv", str(venv)])
    _run([str(python), "-m", "pip", "install", "--quiet", f"agentops=={AGENTOPS_VERSION}"])
    probe = "import agentops, importlib.metadata as m; print(m.version('agentops'))"
    installed = _run([str(python), "-c", probe]).strip()
    if installed != AGENTOPS_VERSION:
        raise RuntimeError(f"{venv} has agentops {installed!r}, wanted {AGENTOPS_VERSION}")
    (venv / MARKER).write_text(AGENTOPS_VERSION + "\n")
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


if __name__ == "__main__":
    print(ensure_agentops_venv())
