"""Authors' release checkpoints: `videolights convert-checkpoint`, on-the-fly conversion, refusal of
tampered files, provenance in model-info, and prediction on a real video from a converted file."""

from __future__ import annotations

import argparse
import hashlib
import pickle
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from flows.cli import app
from flows.cli_common import ConvertModelChoice
from model.build import build_from_checkpoint
from model.release_checkpoint import convert_release_file
from model.zoo.convert import ReleaseCheckpointError, load_release_checkpoint
from model.zoo.registry import FAMILIES
from pipeline.common.checkpoint import load_checkpoint
from tests.model.zoo.release import assert_close_tree, load

runner = CliRunner()
#: fixture folder -> model name
FOLDERS = {"videolights": "videolights", "videolights_b": "videolights", "trdetr": "trdetr",
           "taskweave": "taskweave", "moment_detr": "moment_detr", "qd_detr": "qd_detr", "cg_detr": "cg_detr"}


def test_the_cli_choices_are_the_registered_models() -> None:
    assert set(ConvertModelChoice.__args__) == {"auto", *FAMILIES}


@pytest.mark.parametrize("folder", sorted(FOLDERS))
def test_convert_checkpoint_then_build_from_checkpoint_gives_the_release_outputs(folder, data_dir, tmp_path) -> None:
    src = data_dir / "release" / folder / "release.ckpt"
    out = tmp_path / "ours.ckpt"
    done = runner.invoke(app, ["convert-checkpoint", str(src), "--out", str(out)])
    assert done.exit_code == 0, done.stderr
    assert FOLDERS[folder] in done.stdout
    ckpt = torch.load(out, weights_only=True)
    model, criterion, postprocess, config = build_from_checkpoint(ckpt)
    assert config.model.name == FOLDERS[folder] and config.model.fidelity == "release"
    assert ckpt["provenance"]["sha256"] == hashlib.sha256(src.read_bytes()).hexdigest()
    model.eval()
    inputs = load(data_dir / "release" / folder / "inputs.pt")["padded"]
    with torch.no_grad():
        outputs = model(**inputs)
    reference = load(data_dir / "release" / folder / "outputs.pt")["padded"]
    reference = reference[0] if isinstance(reference, (list, tuple)) else reference
    assert assert_close_tree({k: outputs[k] for k in ("pred_logits", "pred_spans", "saliency_scores")},
                             reference) == 3
    results = postprocess(outputs, inputs["src_vid_mask"])
    assert len(results) == len(inputs["src_vid_mask"]) and results[0]["windows"]


def test_model_info_shows_the_provenance_of_a_converted_checkpoint(data_dir, tmp_path) -> None:
    src = data_dir / "release" / "moment_detr" / "release.ckpt"
    out = tmp_path / "md.ckpt"
    assert runner.invoke(app, ["convert-checkpoint", str(src), "--out", str(out), "--model", "moment_detr"]).exit_code == 0
    info = runner.invoke(app, ["model-info", str(out)])
    assert info.exit_code == 0, info.stderr
    assert f"source: {src}" in info.stdout and "sha256: " in info.stdout and "release options: " in info.stdout
    assert "model.name: moment_detr" in info.stdout and info.stdout.strip().splitlines()[-1].startswith("  release options")


def test_a_release_file_given_directly_is_converted_on_the_fly(data_dir, caplog) -> None:
    src = data_dir / "release" / "trdetr" / "release.ckpt"
    with caplog.at_level("INFO"):
        ckpt = load_checkpoint(src)
    assert ckpt["provenance"]["model"] == "trdetr"
    assert any("converting it on the fly" in r.getMessage() for r in caplog.records)


def test_a_wrong_model_name_names_the_problem(data_dir, tmp_path) -> None:
    src = data_dir / "release" / "moment_detr" / "release.ckpt"
    done = runner.invoke(app, ["convert-checkpoint", str(src), "--out", str(tmp_path / "x.ckpt"), "--model", "cg_detr"])
    assert done.exit_code == 2 and "Traceback" not in done.stderr
    assert not (tmp_path / "x.ckpt").exists()


def test_a_missing_file_or_unknown_target_is_one_line_and_exit_2(tmp_path) -> None:
    missing = tmp_path / "absent.ckpt"
    done = runner.invoke(app, ["convert-checkpoint", str(missing), "--out", str(tmp_path / "x.ckpt")])
    assert done.exit_code == 2 and str(missing) in done.stderr and "Traceback" not in done.stderr
    info = runner.invoke(app, ["model-info", str(missing)])
    assert info.exit_code == 2 and "neither a preset nor a checkpoint file" in info.stderr
    torch.save({"weights": {}}, tmp_path / "other.ckpt")
    other = runner.invoke(app, ["model-info", str(tmp_path / "other.ckpt")])
    assert other.exit_code == 2 and "expected a dict with 'model'" in other.stderr


class Payload:
    """An object a tampered checkpoint pickles: loading it must never construct it."""

    def __reduce__(self):
        return (print, ("this must never run",))


def test_a_tampered_file_is_refused_without_unpickling(data_dir, tmp_path, capsys) -> None:
    ckpt = load(data_dir / "release" / "moment_detr" / "release.ckpt")
    ckpt["opt"] = Payload()
    bad = tmp_path / "tampered.ckpt"
    torch.save(ckpt, bad, pickle_module=pickle)
    with pytest.raises(ReleaseCheckpointError, match="refused"):
        load_release_checkpoint(bad)
    assert "this must never run" not in capsys.readouterr().out
    done = runner.invoke(app, ["convert-checkpoint", str(bad), "--out", str(tmp_path / "y.ckpt")])
    assert done.exit_code == 2 and "refused" in done.stderr and "Traceback" not in done.stderr


def test_a_file_that_is_not_a_release_checkpoint_says_what_it_has(tmp_path) -> None:
    other = tmp_path / "other.ckpt"
    torch.save({"state_dict": {}, "opt": argparse.Namespace(a=1)}, other)
    with pytest.raises(ReleaseCheckpointError, match="state_dict"):
        convert_release_file(other)


def _tiny_feature_release(folder: Path, family_name: str, out: Path) -> None:
    """A release-format checkpoint (release keys, option Namespace) of the fixture's model with the
    input sizes of the tiny CLIP extractor (32-d + the 2 endpoint columns video, 32-d text)."""
    family = FAMILIES[family_name]
    ckpt = load(folder / "release.ckpt")
    opt = vars(ckpt["opt"]).copy()
    tef = family.config_from_options(opt).video_dim - int(opt["v_feat_dim"])  # 2 when stored without them
    opt.update(v_feat_dim=34 - tef, t_feat_dim=32)
    model, _ = family.build(family.config_from_options(opt))
    torch.save({"model": model.state_dict(), "opt": argparse.Namespace(**opt), "epoch": 0}, out)


def test_a_release_checkpoint_predicts_on_a_real_video(data_dir, charades_video, tmp_path) -> None:
    from pipeline.inference import Predictor

    release = tmp_path / "model_best.ckpt"
    _tiny_feature_release(data_dir / "release" / "moment_detr", "moment_detr", release)
    converted = tmp_path / "ours.ckpt"
    assert runner.invoke(app, ["convert-checkpoint", str(release), "--out", str(converted)]).exit_code == 0
    for path in (converted, release):  # the converted file, and the release file converted on the fly
        predictor = Predictor.from_checkpoint(path, device="cpu")
        assert predictor.experiment.features.extractor_preset == "tiny"
        (result,) = predictor.predict(charades_video, ["a person opens a door"])
        assert result["pred_relevant_windows"] and len(result["pred_saliency_scores"]) > 0


def test_a_release_checkpoint_initialises_fine_tuning(data_dir, tmp_path) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "training"))
    from planted import TINY_CLIP, planted_dataset

    from pipeline.training import TrainRunConfig, train

    release = tmp_path / "model_best.ckpt"
    _tiny_feature_release(data_dir / "release" / "moment_detr", "moment_detr", release)
    converted = convert_release_file(release)
    sizes = {k: v for k, v in converted["config"]["model"].items() if k not in ("name", "video_dim", "text_dim")}
    data = planted_dataset(tmp_path / "data", n_train=8, n_val=4)
    run = train(TrainRunConfig(preset="moment_detr-tiny", features=TINY_CLIP, model_overrides=sizes,
                               train_annotations=data["train"], store=data["store"], out_dir=str(tmp_path / "run"),
                               epochs=1, batch_size=4, device="cpu", stage="finetune", init_from=str(release)))
    assert (run.missing_keys, run.unexpected_keys) == ([], [])
