"""CompareConfig: every bad value is refused with the field's path; the shipped config file validates."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeline.workflow.compare import CompareConfig
from pipeline.workflow.config_files import ConfigFileError, load_config, validate_config

REPO = Path(__file__).resolve().parents[2]


def _error(fields: dict, **changes) -> str:
    with pytest.raises(ConfigFileError) as caught:
        validate_config(CompareConfig, {**fields, **changes}, "compare.yaml")
    return str(caught.value)


def test_shipped_qvhighlights_config_validates() -> None:
    config = load_config(CompareConfig, REPO / "configs" / "compare-qvhighlights.yaml")
    assert [(m.label, m.preset) for m in config.models] == [
        ("videolights", "videolights-qvhighlights"), ("trdetr", "trdetr-qvhighlights"),
        ("taskweave", "taskweave-qvhighlights"), ("moment_detr", "moment_detr-qvhighlights"),
        ("qd_detr", "qd_detr-qvhighlights"), ("cg_detr", "cg_detr-qvhighlights")]
    runs = [config.run_config(m) for m in config.models]
    assert {r.experiment().features for r in runs} == {config.features}  # same features for all
    assert {(r.train_annotations, r.val_annotations, r.store, r.dataset_kind) for r in runs} == {
        (config.train_annotations, config.val_annotations, config.store, "qvhighlights")}
    assert [r.out_dir for r in runs] == [str(Path(config.out_dir) / m.label) for m in config.models]
    assert all(r.resume and r.experiment().train.epochs == 200 for r in runs)  # the papers' schedules
    assert config.headline[0] == "MR-full-R1@0.5"


def test_model_entries_take_the_shared_values_unless_they_set_their_own(compare_fields) -> None:
    models = [{"label": "a", "preset": "tiny"}, {"label": "b", "preset": "trdetr-tiny", "lr": 5e-4, "epochs": 7}]
    config = CompareConfig.model_validate({**compare_fields, "models": models})
    a, b = (config.run_config(m).experiment().train for m in config.models)
    assert (a.lr, a.epochs, a.batch_size, a.seed) == (1e-3, 2, 8, 3)
    assert (b.lr, b.epochs, b.batch_size, b.seed) == (5e-4, 7, 8, 3)
    without = {k: v for k, v in compare_fields.items() if k not in ("epochs", "lr", "seed")}
    alone = CompareConfig.model_validate({**without, "models": models[:1]})
    preset = alone.run_config(alone.models[0]).experiment().train
    assert (preset.epochs, preset.lr, preset.seed) == (5, 1e-4, 2018)  # the tiny preset's


@pytest.mark.parametrize(("models", "expected"), [
    ([{"label": "a", "preset": "tiny"}, {"label": "A", "preset": "trdetr-tiny"}],
     "models.1.label: label used twice (as 'a')"),
    ([{"label": "../up", "preset": "tiny"}], "models.0.label: Value error, label '../up' is not a safe folder name"),
    ([{"label": "a/b", "preset": "tiny"}], "models.0.label"),
    ([{"label": ".hidden", "preset": "tiny"}], "models.0.label"),
    ([{"label": "comparison.json", "preset": "tiny"}], "models.0.label: Value error, label 'comparison.json' is"),
    ([{"label": "a", "preset": "trdetr-tinyy"}], "models.0.preset: Value error, unknown preset 'trdetr-tinyy'"),
    ([{"label": "a", "preset": "tiny", "epoch": 3}], "models.0.epoch: Extra inputs are not permitted"),
    ([{"label": "a", "preset": "tiny", "lr": 0}], "models.0.lr: Input should be greater than 0"),
    ([{"label": "a", "preset": "tiny"}, {"label": "b", "preset": "taskweave-tiny",
                                         "model_overrides": {"dec_layer": 2}}],
     "models.1.model_overrides.dec_layer: Extra inputs are not permitted [model 'b'] (got 2)"),
    ([{"label": "a", "preset": "tiny", "model_overrides": {"feedback": "sometimes"}}],
     "models.0.model_overrides.feedback"),
    ([], "models: List should have at least 1 item"),
])
def test_bad_model_entries_are_named(compare_fields, models, expected) -> None:
    assert expected in _error(compare_fields, models=models)


@pytest.mark.parametrize(("changes", "expected"), [
    ({"epoch": 3}, "compare.yaml: epoch: Extra inputs are not permitted"),
    ({"device": "gpu"}, "compare.yaml: device: Value error, device 'gpu'"),
    ({"dataset_kind": "youtube"}, "compare.yaml: dataset_kind: Input should be"),
    ({"batch_size": 0}, "compare.yaml: batch_size: Input should be greater than or equal to 1"),
    ({"features": {"video": ["clip"], "text": []}}, "compare.yaml: features: Value error, a feature set needs"),
])
def test_bad_shared_fields_are_named(compare_fields, changes, expected) -> None:
    assert expected in _error(compare_fields, **changes)


def test_models_must_read_the_same_features(compare_fields) -> None:
    mixed = [{"label": "vl", "preset": "videolights-b-qvhighlights"}, {"label": "tr", "preset": "trdetr-qvhighlights"}]
    message = _error(compare_fields, features=None, models=mixed)
    assert "models.1.preset: the presets read different features" in message
    assert "vl: slowfast,clip,blip2/clip,blip2 (paper); tr: slowfast,clip/clip (paper)" in message
    assert "models.0.preset: this preset has no feature set" in _error(
        compare_fields, features=None, models=[{"label": "a", "preset": "tiny"}])
    same = [{"label": "vl", "preset": "videolights-qvhighlights"}, {"label": "tr", "preset": "trdetr-qvhighlights"}]
    CompareConfig.model_validate({**compare_fields, "features": None, "models": same})


def test_config_file_errors_name_the_file(compare_fields, tmp_path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({**compare_fields, "models": [{"label": "x y", "preset": "tiny"}]}))
    with pytest.raises(ConfigFileError, match=r"bad\.yaml: models\.0\.label"):
        load_config(CompareConfig, path)
