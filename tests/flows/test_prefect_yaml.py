"""prefect.yaml parses, and every deployment's entrypoint loads as a flow taking its parameters."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_every_deployment_entrypoint_is_a_flow(monkeypatch):
    from prefect.flows import load_flow_from_entrypoint

    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    deployments = spec["deployments"]
    assert {d["name"] for d in deployments} >= {"decode", "extract"}
    monkeypatch.chdir(ROOT)
    for deployment in deployments:
        flow = load_flow_from_entrypoint(deployment["entrypoint"])
        assert flow.name == deployment["name"]
        assert deployment["work_pool"]["name"] == "videolights-process"
        params = deployment.get("parameters") or {}
        assert set(params) <= set(flow.parameters.properties), (deployment["name"], params)


def test_extract_deployment_config_is_a_valid_extract_config():
    from pipeline.extract import ExtractConfig

    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    extract = next(d for d in spec["deployments"] if d["name"] == "extract")
    assert ExtractConfig.model_validate(extract["parameters"]["config"]).preset == "tiny"
