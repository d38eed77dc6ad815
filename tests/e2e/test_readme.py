"""The README's Quick start, as a new user on Debian runs it: with Debian's own Python.

That Python refuses ``pip install`` outside a virtual environment, so the first command
makes one; the line is run as written (``AGENTWATCH_PORT=0`` so that it needs no free
port 8000), from a copy of the checkout, with packages from PyPI.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
DEBIAN_PYTHON = Path("/usr/bin/python3")
_SERVING = re.compile(r"agentwatch serving on (http://\S+)")


def quick_start_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)\n```", section, re.S)


def test_the_test_command_updates_apt_and_installs_into_a_venv() -> None:
    _, tests = quick_start_commands()[:2]
    steps = [step.strip() for step in tests.split("&&")]
    assert steps[0] == "apt-get update"
    assert steps[1].startswith("apt-get install -y python3-venv ")
    assert steps.index(". .venv/bin/activate") < steps.index("pip install -e '.[dev]'")
    assert steps[-1] == "python -m pytest"


@pytest.mark.timeout(900)  # a cold pip cache downloads the server's dependencies
def test_the_first_command_serves_with_debians_python(tmp_path: Path) -> None:
    if not (DEBIAN_PYTHON.exists() and Path("/etc/debian_version").exists()):
        pytest.skip("not a Debian machine with /usr/bin/python3: nothing of Debian's to try")
    first = quick_start_commands()[0]
    assert first.startswith("python3 -m venv .venv && . .venv/bin/activate && ")
    checkout = tmp_path / "agentwatch"
    checkout.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, checkout / name)
    shutil.copytree(ROOT / "src", checkout / "src", ignore=shutil.ignore_patterns("__pycache__"))
    env = {
        "PATH": "/usr/bin:/bin",  # python3 is Debian's, not this test run's
        "HOME": str(tmp_path),
        "AGENTWATCH_HOME": str(tmp_path / "home"),
        "AGENTWATCH_PORT": "0",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_CACHE_DIR": str(Path.home() / ".cache" / "pip"),  # reused between runs
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "http_proxy", "https_proxy"):
        if name in os.environ:
            env[name] = os.environ[name]
    proc = subprocess.Popen(
        ["bash", "-c", first],
        cwd=checkout,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # one process group: bash, pip, then agentwatch
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if match := _SERVING.search(line):
                assert httpx.get(f"{match.group(1)}/health", timeout=10).status_code == 200
                break
        else:
            pytest.fail("the README's first command never served:\n" + "".join(lines[-40:]))
        assert (checkout / ".venv" / "bin" / "agentwatch").exists()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()
