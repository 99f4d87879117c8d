"""The README's first command, `videolights run configs/demo.yaml`, as a test: the demo config end to end
on the CPU (generated videos with planted moments, every step, tiny presets) and held-out metrics far
above the chance level that the same run measures."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.dag import pipeline_flow
from pipeline.workflow.config_files import load_config
from pipeline.workflow.config import PipelineConfig

DEMO = Path(__file__).resolve().parents[2] / "configs" / "demo.yaml"

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.slow]


def test_demo_config_runs_end_to_end_and_learns_the_planted_moments(tmp_path) -> None:
    config = load_config(PipelineConfig, DEMO).model_copy(update={"workdir": str(tmp_path / "demo")})
    report = pipeline_flow(config=config)
    assert all(step.status == "done" for step in report.steps), report.text()
    tuned, chance = report.rows[0], report.rows[-1]
    assert tuned.name == "tiny (fine-tuned)" and chance.name.startswith("chance")
    r1, r1_chance = tuned.metrics["MR-full-R1@0.5"], chance.metrics["MR-full-R1@0.5"]
    hl, hl_chance = tuned.metrics["HL-min-VeryGood-mAP"], chance.metrics["HL-min-VeryGood-mAP"]
    assert r1 >= max(3 * r1_chance, 50.0), report.text()
    assert hl >= hl_chance + 15, report.text()
    assert Path(report.outputs["plots"]).is_dir() and Path(report.outputs["report"]).exists()
