"""The README's "Without Docker" block, run as written: a server, a pool, deployments, a worker, the
demo videos, and an extract deployment run that must end COMPLETED (real processes, loopback only)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from storage import FeatureStore

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
#: What the block needs of the checkout: the flows it deploys and the code they import.
CHECKOUT = ("prefect.yaml", "pyproject.toml", "flows", "pipeline", "model", "storage", "configs")


def readme_block(title: str) -> list[str]:
    """The lines of the bash block that follows `title` in README.md."""
    text = (ROOT / "README.md").read_text()
    start = text.index("```bash", text.index(title)) + len("```bash")
    return text[start:text.index("```", start)].strip().splitlines()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_without_docker_block_runs_to_a_completed_deployment_run(tmp_path):
    lines = readme_block("**Without Docker**")
    assert lines[0] == "source scripts/venv.sh"  # builds / activates the environment this test already runs in
    port = _free_port()
    script = "\n".join(["set -e", *(line.replace("4200", str(port)) for line in lines[1:])])
    work = tmp_path / "checkout"
    work.mkdir()
    for name in CHECKOUT:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, work / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, work / name)
    (work / "block.sh").write_text(script + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env["PREFECT_HOME"] = tempfile.mkdtemp(prefix="vl-readme-prefect-")
    env["PREFECT_LOCAL_STORAGE_PATH"] = str(Path(env["PREFECT_HOME"]) / "results")
    log = tmp_path / "block.log"
    with log.open("w") as out:
        proc = subprocess.Popen(["bash", "block.sh"], cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)  # the server and the worker it starts end with it below
        try:
            rc = proc.wait(timeout=600)
        finally:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:  # everything it started has ended already
                pass
    output = log.read_text()
    assert rc == 0, output[-4000:]
    assert "Completed" in output, output[-4000:]
    assert FeatureStore(str(work / "store")).keys("video", "clip") == ["demo_train_000", "demo_train_001",
                                                                       "demo_val_000"]
