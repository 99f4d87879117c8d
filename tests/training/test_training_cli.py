"""`videolights train`: typed options, a summary, clear errors with exit status 2."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from flows.cli import app

runner = CliRunner()


def _args(small_data: dict, out, *extra: str) -> list[str]:
    return ["train", "--preset", "tiny", "--features", "clip/clip", "--extractor-preset", "tiny",
            "--train", small_data["train"], "--val", small_data["val"], "--store", small_data["store"],
            "--out", str(out), "--epochs", "1", "--batch-size", "8", "--device", "cpu", *extra]


def test_train_command_trains_and_summarises(small_data, tmp_path) -> None:
    done = runner.invoke(app, _args(small_data, tmp_path / "run", "--model-option", "dropout=0.2"))
    assert done.exit_code == 0, done.output
    assert "trained tiny: epochs 1..1" in done.stdout
    assert "best: score" in done.stdout and str(tmp_path / "run" / "best.ckpt") in done.stdout
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["experiment"]["model"]["dropout"] == 0.2
    assert config["experiment"]["features"] == {"video": ["clip"], "text": ["clip"], "temporal_endpoints": True,
                                                "extractor_preset": "tiny"}
    again = runner.invoke(app, _args(small_data, tmp_path / "run"))
    assert again.exit_code == 2 and "--resume" in again.stderr
    resumed = runner.invoke(app, _args(small_data, tmp_path / "run", "--resume", "--epochs", "2",
                                       "--model-option", "dropout=0.2"))
    assert resumed.exit_code == 0, resumed.output
    assert "epochs 2..2" in resumed.stdout


def test_train_command_names_bad_options(small_data, tmp_path) -> None:
    cases = [
        (["--features", "clip"], "VIDEO/TEXT"),
        (["--model-option", "dec_layer=2"], "dec_layer"),
        (["--model-option", "oops"], "KEY=VALUE"),
        (["--dataset-kind", "youtube"], "'--dataset-kind'"),
        (["--stage", "finetune"], "init_from"),
    ]
    for extra, message in cases:
        done = runner.invoke(app, _args(small_data, tmp_path / "bad", *extra))
        assert done.exit_code == 2, (extra, done.output)
        assert message in done.stderr, (extra, done.stderr)
    missing = runner.invoke(app, _args({**small_data, "train": str(tmp_path / "none.jsonl")}, tmp_path / "x"))
    assert missing.exit_code == 2 and "none.jsonl" in missing.stderr
    no_features = runner.invoke(app, ["train", "--preset", "tiny", "--train", small_data["train"],
                                      "--store", small_data["store"], "--out", str(tmp_path / "y")])
    assert no_features.exit_code == 2 and "no feature set" in no_features.stderr
