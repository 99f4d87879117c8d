"""Shared fixtures: Prefect isolated in a temporary home, the shared data folder, generated videos."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# Prefect reads its settings at import time: isolate it before anything imports it.
_PREFECT_HOME = tempfile.mkdtemp(prefix="vl-prefect-")
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ["PREFECT_LOCAL_STORAGE_PATH"] = str(Path(_PREFECT_HOME) / "results")
os.environ["PREFECT_RESULTS_LOCAL_STORAGE_PATH"] = str(Path(_PREFECT_HOME) / "results")
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "pipeline,model,storage")
os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared reference data (VIDEOLIGHTS_DATA); tests that need it skip without it."""
    value = os.environ.get("VIDEOLIGHTS_DATA")
    if not value:
        pytest.skip("VIDEOLIGHTS_DATA is not set (point it at the shared data folder)")
    path = Path(value)
    if not path.is_dir():
        pytest.skip(f"VIDEOLIGHTS_DATA={value} is not a directory")
    return path


@pytest.fixture(scope="session")
def charades_video(data_dir: Path) -> Path:
    path = data_dir / "videos" / "charades_example.mp4"
    if not path.exists():
        pytest.skip(f"{path} is missing")
    return path


@pytest.fixture(scope="session")
def prefect_harness():
    """One temporary Prefect server (SQLite) for the whole session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture()
def make_video(tmp_path: Path):
    """Writes a time-coded H.264 video: frame i's colour encodes i (see pipeline.video.writer)."""
    from timecode import time_coded_frames
    from pipeline.video.writer import write_video

    def make(name: str = "v.mp4", seconds: float = 5.0, fps: float = 10, width: int = 64, height: int = 48,
             rotation: int = 0, audio: bool = False, marker: bool = False, frame_times=None) -> Path:
        n = len(frame_times) if frame_times is not None else max(1, int(round(seconds * fps)))
        return write_video(tmp_path / name, time_coded_frames(width, height, marker), n, fps=fps, width=width,
                           height=height, rotation=rotation, audio=audio, frame_times=frame_times)

    return make


@pytest.fixture()
def cli_env(prefect_harness) -> dict[str, str]:
    """The environment of a `videolights` subprocess talking to this session's Prefect server."""
    from prefect.settings import PREFECT_API_URL

    return {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "PREFECT_LOGGING_LEVEL": "WARNING"}
