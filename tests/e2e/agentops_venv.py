"""The agentops 0.3.26 venv of the drop-in test (built by ``client_venvs.py``).

agentops 0.3.26 pins old ``packaging``, ``psutil`` and ``termcolor``, so it cannot share
the test environment. Run as a script (``python tests/e2e/agentops_venv.py``) to build it
ahead of the tests; prints the path of the venv's python. ``AGENTWATCH_TEST_AGENTOPS_PYTHON``
names a ready one instead.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

AGENTOPS_VERSION = "0.3.26"


def _client_venvs() -> ModuleType:
    # Loaded by path: tests/ may or may not be a package, and this file is also a script.
    path = Path(__file__).resolve().parent / "client_venvs.py"
    spec = importlib.util.spec_from_file_location("client_venvs", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("client_venvs", module)
    spec.loader.exec_module(module)
    return module


def ensure_agentops_venv() -> Path:
    """Return the python of a venv with agentops==0.3.26, building it if needed."""
    venvs = _client_venvs()
    python: Path = venvs.ensure(venvs.AGENTOPS_03)
    return python


if __name__ == "__main__":
    print(ensure_agentops_venv())
