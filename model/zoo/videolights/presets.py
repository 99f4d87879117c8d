"""The release's training scripts as presets (video_lights/scripts/..., commit 76308bb)."""

from __future__ import annotations

from typing import Any

from model.zoo.family import ScriptPreset
from model.zoo.videolights.config import VideoLightsConfig

# Feature sizes our pipeline extracts: SlowFast 2304 + CLIP 512 (+ BLIP-2 768) + 2 TEF; CLIP text 512 (+ BLIP-2 768).
_DIMS = {"sf_c": (2304 + 512 + 2, 512), "sf_c_b": (2304 + 512 + 768 + 2, 512 + 768)}


def _preset(
    dataset: str, features: str, source: str, model: dict[str, Any], train: dict[str, Any]
) -> ScriptPreset:
    video_dim, text_dim = _DIMS[features]
    return ScriptPreset(
        dataset=dataset,
        features=features,
        model=VideoLightsConfig(video_dim=video_dim, text_dim=text_dim, **model),
        train={"weight_decay": 1e-4, "grad_clip": 0.1, "max_query_tokens": 32, **train},
        source=source,
    )


_QVH_TRAIN = {"epochs": 200, "batch_size": 32, "lr": 1e-4, "lr_drop": 400, "seed": 2018, "clip_seconds": 2.0,
              "max_clips": 75}
_CHARADES_TRAIN = {"epochs": 100, "batch_size": 32, "lr": 1e-4, "lr_drop": 100, "seed": 2018, "clip_seconds": 1.0,
                   "max_clips": 75}
_CHARADES_MODEL = {"clip_len": 1.0, "contrastive_align_weight": 0.2, "hard_pos_neg_weight": 10.0}
_TVSUM_TRAIN = {"epochs": 2000, "batch_size": 4, "lr": 1e-3, "lr_drop": 2000, "seed": 2018, "clip_seconds": 2.0,
                "max_clips": 1000}
_TVSUM_MODEL = {"use_matcher": False, "contrastive_align_weight": 0.8, "hard_pos_neg_weight": 1.0,
                "cos_sim_weight": 1.0}
_PRETRAIN_TRAIN = {"epochs": 50, "batch_size": 256, "lr": 1e-4, "lr_drop": 400, "seed": 2018, "clip_seconds": 2.0,
                   "max_clips": 75}

PRESETS: dict[str, ScriptPreset] = {
    "videolights-qvhighlights": _preset(
        "qvhighlights", "sf_c",
        "video_lights/scripts/qvhl/train_from_pretrain-sf_clip.sh:1-89 (SlowFast+CLIP, CLIP text; config.py "
        "defaults; the --resume pretrain checkpoint is not public)",
        {}, _QVH_TRAIN,
    ),
    "videolights-b-qvhighlights": _preset(
        "qvhighlights", "sf_c_b",
        "video_lights/scripts/qvhl/train.sh:1-87 (SlowFast+CLIP+BLIP-2 video, CLIP+BLIP-2 text; seed 2018)",
        {}, _QVH_TRAIN,
    ),
    "videolights-charades_sta": _preset(
        "charades_sta", "sf_c",
        "video_lights/scripts/charades_sta/train_from_pretrain_clip-sf.sh (SlowFast+CLIP, CLIP text; clip_length 1, "
        "lr_drop 100, 100 epochs, contrastive_align_loss_coef 0.2, hard_pos_neg_loss_coef 10)",
        _CHARADES_MODEL, _CHARADES_TRAIN,
    ),
    "videolights-b-charades_sta": _preset(
        "charades_sta", "sf_c_b",
        "video_lights/scripts/charades_sta/train_from_pretrain.sh (SlowFast+CLIP+BLIP-2, CLIP+BLIP-2 text; "
        "clip_length 1, lr_drop 100, 100 epochs, contrastive_align_loss_coef 0.2, hard_pos_neg_loss_coef 10)",
        _CHARADES_MODEL, _CHARADES_TRAIN,
    ),
    "videolights-tvsum": _preset(
        "tvsum", "sf_c",
        "video_lights/scripts/tvsum/train.sh (dset tvsum: no matcher, saliency loss only; bsz 4, lr 1e-3, "
        "2000 epochs, lr_drop 2000, max_v_l 1000, hard_pos_neg_loss_coef 1, contrastive_align_loss_coef 0.8, "
        "cos_sim_loss_coef 1 of its sweep 1/5/10; per-domain runs). The script's active video features are I3D "
        "(2048) with CLIP text; this preset uses SlowFast+CLIP, what this pipeline extracts.",
        _TVSUM_MODEL, _TVSUM_TRAIN,
    ),
    "videolights-b-tvsum": _preset(
        "tvsum", "sf_c_b",
        "video_lights/scripts/tvsum/train.sh with its commented slowfast_clip_blip / clip_blip feature types "
        "(same training values as videolights-tvsum; the paper's TVSum runs used I3D video).",
        _TVSUM_MODEL, _TVSUM_TRAIN,
    ),
    "videolights-pretrain": _preset(
        "qvhighlights", "sf_c",
        "video_lights/scripts/pretrain/pretrain_sf_clip.sh (pretraining on the BLIP-2 synthetic captions "
        "data/pretrain/pre_train_blip.jsonl: bsz 256, 50 epochs, max_v_l 75, contrastive_align_loss_coef 0.01 "
        "(:54), other values config.py defaults)",
        {"contrastive_align_weight": 0.01}, _PRETRAIN_TRAIN,
    ),
    "videolights-b-pretrain": _preset(
        "qvhighlights", "sf_c_b",
        "video_lights/scripts/pretrain/pretrain_sf_clip_blip.sh (as videolights-pretrain with SlowFast+CLIP+BLIP-2 "
        "video and CLIP+BLIP-2 text; contrastive_align_loss_coef 0.01 (:54))",
        {"contrastive_align_weight": 0.01}, _PRETRAIN_TRAIN,
    ),
}
