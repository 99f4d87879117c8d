"""PipelineConfig from YAML: the shipped configs validate, bad values are refused naming the field,
paths resolve against the workdir, step keys follow content rather than paths."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from model.config import FeatureSet
from pipeline.workflow.config_files import ConfigFileError, load_config
from pipeline.workflow.config import PipelineConfig, RunPaths
from pipeline.workflow.keys import content_digest, step_key, store_digest
from storage import EntrySpec, FeatureStore, fingerprint_text

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
DEMO = {"name": "t", "data": {"generate": {"train_videos": 2, "val_videos": 1}},
        "features": {"video": ["clip"], "text": ["clip"], "extractor_preset": "tiny"},
        "finetune": {"preset": "tiny"}}


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("name", ["demo", "qvhighlights", "charades_sta", "tvsum"])
def test_shipped_configs_validate(name, monkeypatch) -> None:
    for var in ("QVHIGHLIGHTS_VIDEOS", "CHARADES_VIDEOS", "TVSUM_VIDEOS", "VIDEOLIGHTS_DATA"):
        monkeypatch.setenv(var, "/data")
    config = load_config(PipelineConfig, CONFIGS / f"{name}.yaml")
    assert config.name
    if name != "demo":
        assert config.extract.preset == "paper" and config.features.extractor_preset == "paper"


def test_an_unset_variable_is_named_with_its_field(monkeypatch) -> None:
    monkeypatch.delenv("QVHIGHLIGHTS_VIDEOS", raising=False)
    monkeypatch.setenv("VIDEOLIGHTS_DATA", "/data")
    with pytest.raises(ConfigFileError, match=r"data\.videos: environment variable QVHIGHLIGHTS_VIDEOS is not set"):
        load_config(PipelineConfig, CONFIGS / "qvhighlights.yaml")


@pytest.mark.parametrize("change, message", [
    ({"finetune": {"preset": "videolights-nope"}}, r"c\.yaml: finetune\.preset: .*unknown preset 'videolights-nope'"),
    ({"data": {"generate": {}, "videos": "v"}}, r"data: .*leave out videos"),
    ({"data": {"kind": "qvhighlights"}}, r"data: .*videos, train, val missing"),
    ({"pretrain": {"enabled": True, "preset": "tiny"}}, r"pretrain\.enabled needs synthesize\.enabled"),
    ({"extract": {"batch_size": 0}}, r"extract\.batch_size: .*greater than or equal to 1"),
    ({"extrakt": {}}, r"extrakt: Extra inputs are not permitted"),
    ({"extract": {"preset": "paper"}}, r"extractor presets differ"),
    ({"device": "gpu"}, r"device: .*device 'gpu'; expected 'auto', 'cpu', 'cuda' or 'cuda:N'"),
])
def test_bad_values_are_refused_naming_the_file_and_field(tmp_path, change, message) -> None:
    with pytest.raises(ConfigFileError, match=message):
        load_config(PipelineConfig, _write(tmp_path, {**DEMO, **change}))


def test_not_yaml_and_not_a_mapping_are_refused(tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ConfigFileError, match=r"bad\.yaml: line \d+ not valid YAML"):
        load_config(PipelineConfig, bad)
    bad.write_text("- a list\n")
    with pytest.raises(ConfigFileError, match="expected a mapping"):
        load_config(PipelineConfig, bad)
    with pytest.raises(ConfigFileError, match="cannot read"):
        load_config(PipelineConfig, tmp_path / "missing.yaml")


def test_paths_resolve_against_the_workdir_and_urls_stay(tmp_path) -> None:
    config = PipelineConfig.model_validate({**DEMO, "workdir": "runs/x"})
    paths = RunPaths.of(config, cwd=tmp_path)
    assert paths.workdir == tmp_path / "runs" / "x"
    assert paths.store == str(tmp_path / "runs" / "x" / "store")
    assert paths.train == paths.workdir / "data" / "annotations" / "train.jsonl"
    remote = PipelineConfig.model_validate({**DEMO, "store": "memory://features"})
    assert RunPaths.of(remote, cwd=tmp_path).store == "memory://features"


def test_file_digests_follow_content_not_path(tmp_path) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text('{"qid": 1}\n')
    b.write_text('{"qid": 1}\n')
    assert content_digest(a) == content_digest(b)
    b.write_text('{"qid": 2}\n')
    assert content_digest(a) != content_digest(b)
    with pytest.raises(TypeError, match="a path is not a key part"):
        step_key("finetune", rows=a)
    assert step_key("finetune", rows=content_digest(a)) != step_key("pretrain", rows=content_digest(a))


def test_store_digest_changes_with_an_extractor_version_or_a_new_entry_only(tmp_path) -> None:
    store = FeatureStore(tmp_path / "store")
    features = FeatureSet(video=("clip",), text=("clip",), extractor_preset="tiny")

    def write(vid: str, version: str) -> None:
        spec = EntrySpec(extractor="clip", version=version, weights_id="tiny:0", preset="tiny")
        store.write_video("clip", vid, np.ones((3, 4)), spec, fingerprint_text(vid))

    write("a", "1")
    before = store_digest(store, features, ["a", "b"], [])
    write("a", "1")  # the same entry written again (a new created time)
    assert store_digest(store, features, ["a", "b"], []) == before
    write("b", "1")  # a missing entry appears
    with_b = store_digest(store, features, ["a", "b"], [])
    assert with_b != before
    write("a", "2")  # a new extractor version
    assert store_digest(store, features, ["a", "b"], []) != with_b


def test_store_digest_follows_video_content_not_mtime(tmp_path) -> None:
    """A video generated again (same bytes, new mtime) in a fresh workdir gives the same step keys."""
    import os

    from storage import fingerprint_file

    store = FeatureStore(tmp_path / "store")
    features = FeatureSet(video=("clip",), text=("clip",), extractor_preset="tiny")
    spec = EntrySpec(extractor="clip", version="1", weights_id="tiny:0", preset="tiny")
    video = tmp_path / "a.mp4"
    video.write_bytes(b"same bytes")
    store.write_video("clip", "a", np.ones((3, 4)), spec, fingerprint_file(video))
    before = store_digest(store, features, ["a"], [])
    os.utime(video, ns=(1, 1))
    store.write_video("clip", "a", np.ones((3, 4)), spec, fingerprint_file(video))
    assert store_digest(store, features, ["a"], []) == before
    video.write_bytes(b"other bytes")
    store.write_video("clip", "a", np.ones((3, 4)), spec, fingerprint_file(video))
    assert store_digest(store, features, ["a"], []) != before


def test_run_refuses_an_unknown_refresh_step_and_a_bad_config_before_running(tmp_path) -> None:
    from typer.testing import CliRunner

    from flows.cli import app

    path = _write(tmp_path, {**DEMO, "workdir": str(tmp_path / "run")})
    runner = CliRunner()
    unknown = runner.invoke(app, ["run", str(path), "--refresh", "extract", "--refresh", "extrct"])
    assert unknown.exit_code != 0
    assert "--refresh extrct: unknown step" in unknown.output and "zero_shot" in unknown.output
    bad = runner.invoke(app, ["run", str(_write(tmp_path, {**DEMO, "finetune": {"preset": "nope"}}))])
    assert bad.exit_code != 0 and "finetune" in bad.output and "nope" in bad.output
    assert not (tmp_path / "run").exists()  # nothing ran
