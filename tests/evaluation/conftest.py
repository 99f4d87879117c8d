"""Fixtures for the evaluation tests: the shared reference data, read through VIDEOLIGHTS_DATA."""

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared data folder; skips the test when VIDEOLIGHTS_DATA is unset."""
    root = os.environ.get("VIDEOLIGHTS_DATA")
    if not root:
        pytest.skip("VIDEOLIGHTS_DATA is not set: the golden/real-data evaluation tests need "
                    "the shared data folder (e.g. VIDEOLIGHTS_DATA=/work/shared/data)")
    return Path(root)
