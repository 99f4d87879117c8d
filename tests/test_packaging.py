"""Packaging and layering guards: our four packages belong to this distribution alone."""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OUR_PACKAGES = ("pipeline", "flows", "model", "storage")


def test_our_packages_map_to_this_distribution_only():
    mapping = importlib.metadata.packages_distributions()
    for name in OUR_PACKAGES:
        assert mapping.get(name) == ["videolights-pipeline"], (name, mapping.get(name))


def test_docker_folder_is_not_a_package():
    # an __init__.py there would shadow the docker client that Prefect's docker worker imports
    assert not (ROOT / "docker" / "__init__.py").exists()
    assert importlib.metadata.packages_distributions().get("docker") != ["videolights-pipeline"]


def test_console_script_is_installed():
    exe = shutil.which("videolights")
    assert exe, "the videolights console script is not on PATH"
    done = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "decode" in done.stdout


def test_layer_contracts_hold():
    lint = shutil.which("lint-imports")
    if lint is None:
        pytest.skip("import-linter is not installed (pip install '.[test]')")
    done = subprocess.run([lint, "--config", str(ROOT / "pyproject.toml")], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "broken" in done.stdout and " 0 broken" in done.stdout


def test_only_flows_import_prefect_at_runtime():
    code = ("import sys, pipeline.extract, pipeline.video, storage; "
            "print(any(m == 'prefect' or m.startswith('prefect.') for m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "False", done.stderr
