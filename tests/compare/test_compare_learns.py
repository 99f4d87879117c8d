"""TR-DETR, TaskWeave, Moment-DETR, QD-DETR and CG-DETR (tiny, release forms) learn planted moments through the real
training loop: held-out metrics far above chance."""

from __future__ import annotations

import json

import pytest
from planted import TINY_CLIP, planted_chance_r1, planted_dataset

from pipeline.training import TrainRunConfig, train

N_CLIPS = 16
#: As for VideoLights (tests/training/test_training_learns.py): a second decoder layer and light input dropout.
LEARNER = {"dec_layers": 2, "input_dropout": 0.1}
#: (epochs of 8 steps, learning rate) per model, release forms. Best held-out R1@0.5 (by the selection rule)
#: measured on a 2-core AMD EPYC (AVX-512), seeds 1 and 3 (1 torch thread), 2 (2 threads) and 7 (the test's);
#: the bar is 3x chance = 56.25:
#:   VideoLights 30 epochs at 3e-3: 84.4-96.9 (15 epochs: 21.9);
#:   TR-DETR 50 at 1e-3: 93.8-100 (15 at 3e-3: 25; its focal label loss and MR2HD learn more slowly);
#:   TaskWeave 60 at 3e-3: 100 for all (the release's EMA, 0.9 per epoch, lags the weights; 40 epochs: 68.8);
#:   Moment-DETR 60 at 3e-3: 78.1-90.6 (plain DETR decoder, the slowest; 30 epochs: 40.6-62.5);
#:   QD-DETR 40 at 3e-3: 93.8-100 (40 at 1e-3: seed 7 gave 46.9);
#:   CG-DETR 40 at 1e-3: 81.3-100 (15 at 3e-3: 34.4-78.1).
SCHEDULE = {"trdetr-tiny": (50, 1e-3), "taskweave-tiny": (60, 3e-3), "moment_detr-tiny": (60, 3e-3),
            "qd_detr-tiny": (40, 3e-3), "cg_detr-tiny": (40, 1e-3)}


@pytest.fixture(scope="module")
def learn_data(tmp_path_factory) -> dict[str, str]:
    return planted_dataset(tmp_path_factory.mktemp("learn"), n_train=256, n_val=32, n_clips=N_CLIPS, windows=1)


@pytest.mark.parametrize("preset", sorted(SCHEDULE))
def test_held_out_metrics_are_far_above_chance(preset, learn_data, tmp_path) -> None:
    config = TrainRunConfig(preset=preset, features=TINY_CLIP, model_overrides=LEARNER,
                            train_annotations=learn_data["train"], val_annotations=learn_data["val"],
                            store=learn_data["store"], out_dir=str(tmp_path / "run"), epochs=SCHEDULE[preset][0],
                            batch_size=32, lr=SCHEDULE[preset][1], eval_every=5, device="cpu", seed=7)
    result = train(config)
    gt = [json.loads(line) for line in open(learn_data["val"])]
    chance = planted_chance_r1(gt, N_CLIPS)
    metrics = result.best_metrics
    assert chance < 25
    assert metrics["MR-full-R1@0.5"] >= max(50.0, 3 * chance), (preset, chance, metrics)
    assert metrics["HL-min-Fair-mAP"] > 80, (preset, metrics)  # the planted clips (all "Fair") rank first
    first = json.loads(result.metrics_path.read_text().splitlines()[0])
    assert first["loss"]["total"] > 0 and first["steps"] == 8
