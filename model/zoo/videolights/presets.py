"""The release's training scripts as presets (video_lights/scripts/..., commit 76308bb)."""

from __future__ import annotations

from typing import Any

from model.zoo.common.presets import QVHIGHLIGHTS_TRAIN, TVSUM_TRAIN, script_presets
from model.zoo.family import ScriptPreset
from model.zoo.videolights.config import VideoLightsConfig

# Feature sizes our pipeline extracts: SlowFast 2304 + CLIP 512 (+ BLIP-2 768) + 2 TEF; CLIP text 512 (+ BLIP-2 768).
_DIMS = {"sf_c": (2304 + 512 + 2, 512), "sf_c_b": (2304 + 512 + 768 + 2, 512 + 768)}

# QVHighlights: the lineage's script values (VideoLights' config.py keeps them); Charades-STA: 1 s clips,
# 100 epochs, lr_drop 100; TVSum: the lineage's TVSum values with the release's seed 2018.
_CHARADES_TRAIN = {**QVHIGHLIGHTS_TRAIN, "epochs": 100, "lr_drop": 100, "clip_seconds": 1.0}
_TVSUM_TRAIN = {**TVSUM_TRAIN, "seed": 2018}
_PRETRAIN_TRAIN = {**QVHIGHLIGHTS_TRAIN, "epochs": 50, "batch_size": 256}

_CHARADES_MODEL = {"clip_len": 1.0, "contrastive_align_weight": 0.2, "hard_pos_neg_weight": 10.0}
_TVSUM_MODEL = {"use_matcher": False, "contrastive_align_weight": 0.8, "hard_pos_neg_weight": 1.0,
                "cos_sim_weight": 1.0}  # fmt: skip
_PRETRAIN_MODEL = {"contrastive_align_weight": 0.01}


def _model(features: str, **fields: Any) -> VideoLightsConfig:
    video_dim, text_dim = _DIMS[features]
    return VideoLightsConfig(video_dim=video_dim, text_dim=text_dim, **fields)


def _scripts(features: str, sources: dict[str, str]) -> dict[str, tuple[VideoLightsConfig, dict[str, Any], str]]:
    """{dataset: (model, train, source)} of the three fine-tuning scripts for one feature set."""
    return {
        "qvhighlights": (_model(features), QVHIGHLIGHTS_TRAIN, sources["qvhighlights"]),
        "charades_sta": (_model(features, **_CHARADES_MODEL), _CHARADES_TRAIN, sources["charades_sta"]),
        "tvsum": (_model(features, **_TVSUM_MODEL), _TVSUM_TRAIN, sources["tvsum"]),
    }


def _pretrain(features: str, source: str) -> ScriptPreset:
    """Pretraining on the BLIP-2 synthetic captions of QVHighlights videos."""
    return ScriptPreset(
        dataset="qvhighlights", features=features, model=_model(features, **_PRETRAIN_MODEL),
        train=dict(_PRETRAIN_TRAIN), source=source,
    )  # fmt: skip


PRESETS: dict[str, ScriptPreset] = {
    **script_presets(
        "videolights",
        _scripts("sf_c", {
            "qvhighlights": "video_lights/scripts/qvhl/train_from_pretrain-sf_clip.sh:1-89 (SlowFast+CLIP, CLIP "
            "text; config.py defaults; the --resume pretrain checkpoint is not public)",
            "charades_sta": "video_lights/scripts/charades_sta/train_from_pretrain_clip-sf.sh (SlowFast+CLIP, CLIP "
            "text; clip_length 1, lr_drop 100, 100 epochs, contrastive_align_loss_coef 0.2, hard_pos_neg_loss_coef 10)",
            "tvsum": "video_lights/scripts/tvsum/train.sh (dset tvsum: no matcher, saliency loss only; bsz 4, lr 1e-3, "
            "2000 epochs, lr_drop 2000, max_v_l 1000, hard_pos_neg_loss_coef 1, contrastive_align_loss_coef "
            "0.8, cos_sim_loss_coef 1 of its sweep 1/5/10; per-domain runs). The script's active video features are "
            "I3D (2048) with CLIP text; this preset uses SlowFast+CLIP, what this pipeline extracts.",
        }),
        features="sf_c",
    ),
    **script_presets(
        "videolights-b",
        _scripts("sf_c_b", {
            "qvhighlights": "video_lights/scripts/qvhl/train.sh:1-87 (SlowFast+CLIP+BLIP-2 video, CLIP+BLIP-2 text; "
            "seed 2018)",
            "charades_sta": "video_lights/scripts/charades_sta/train_from_pretrain.sh (SlowFast+CLIP+BLIP-2, "
            "CLIP+BLIP-2 text; clip_length 1, lr_drop 100, 100 epochs, contrastive_align_loss_coef 0.2, "
            "hard_pos_neg_loss_coef 10)",
            "tvsum": "video_lights/scripts/tvsum/train.sh with its commented slowfast_clip_blip / clip_blip feature "
            "types (same training values as videolights-tvsum; the paper's TVSum runs used I3D video).",
        }),
        features="sf_c_b",
    ),
    "videolights-pretrain": _pretrain(
        "sf_c",
        "video_lights/scripts/pretrain/pretrain_sf_clip.sh (pretraining on the BLIP-2 synthetic captions "
        "data/pretrain/pre_train_blip.jsonl: bsz 256, 50 epochs, max_v_l 75, contrastive_align_loss_coef 0.01 "
        "(:54), other values config.py defaults)",
    ),
    "videolights-b-pretrain": _pretrain(
        "sf_c_b",
        "video_lights/scripts/pretrain/pretrain_sf_clip_blip.sh (as videolights-pretrain with SlowFast+CLIP+BLIP-2 "
        "video and CLIP+BLIP-2 text; contrastive_align_loss_coef 0.01 (:54))",
    ),
}
