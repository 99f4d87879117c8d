"""Training-script values shared by the lineage's presets (TrainConfig overrides) and a builder of
a model's "<name>-<dataset>" ScriptPresets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from model.zoo.family import ScriptPreset
from model.zoo.fidelity import ZooConfig

#: The lineage's QVHighlights scripts (scripts/train.sh: --bsz 32, SlowFast+CLIP video 2816 + TEF,
#: CLIP text 512) with the config.py defaults they keep: n_epoch 200, lr 1e-4, lr_drop 400, wd 1e-4,
#: grad_clip 0.1, seed 2018, clip_length 2, max_v_l 75, max_q_l 32; max_windows is the
#: post-processing output count (max_after_nms 10), not the dataset's --max_windows 5.
QVHIGHLIGHTS_TRAIN: dict[str, Any] = dict(
    epochs=200, batch_size=32, lr=1e-4, lr_drop=400, weight_decay=1e-4, grad_clip=0.1, seed=2018,
    clip_seconds=2.0, max_clips=75, max_query_tokens=32, max_windows=10,
)  # fmt: skip

#: The lineage's TVSum scripts (QD-DETR scripts/tvsum/train_tvsum.sh and its copies: --bsz 4
#: --lr 1e-3 --n_epoch 2000 --lr_drop 2000 --max_v_l 1000, seeds 0 1 2 3 2017 per domain: the
#: first is kept); every other value as QVHighlights.
TVSUM_TRAIN: dict[str, Any] = {
    **QVHIGHLIGHTS_TRAIN, "epochs": 2000, "batch_size": 4, "lr": 1e-3, "lr_drop": 2000, "seed": 0, "max_clips": 1000,
}  # fmt: skip


def script_presets(
    name: str, scripts: Mapping[str, tuple[ZooConfig, Mapping[str, Any], str]], features: str = "sf_c"
) -> dict[str, ScriptPreset]:
    """{"<name>-<dataset>": ScriptPreset} from {dataset: (model config, train overrides, source)}."""
    return {
        f"{name}-{dataset}": ScriptPreset(
            dataset=dataset, features=features, model=model, train=dict(train), source=source
        )
        for dataset, (model, train, source) in scripts.items()
    }
