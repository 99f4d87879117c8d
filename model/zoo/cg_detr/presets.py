"""CG-DETR configured as the release's training scripts configure it (wjun0830/CGDETR, cg_detr/scripts/)."""

from __future__ import annotations

from model.zoo.cg_detr.config import CGDETRConfig
from model.zoo.family import ScriptPreset

#: SlowFast (2304) + CLIP (512) + 2 temporal-endpoint columns; CLIP text.
_SF_C_VIDEO, _CLIP_TEXT = 2818, 512

PRESETS: dict[str, ScriptPreset] = {
    "cg_detr-qvhighlights": ScriptPreset(
        dataset="qvhighlights",
        features="sf_c",
        model=CGDETRConfig(video_dim=_SF_C_VIDEO, text_dim=_CLIP_TEXT),
        train={
            "epochs": 200, "batch_size": 32, "lr": 1e-4, "lr_drop": 400, "weight_decay": 1e-4,
            "grad_clip": 0.1, "seed": 2018, "clip_seconds": 2.0, "max_clips": 75, "max_query_tokens": 32,
        },
        source=(
            "cg_detr/scripts/train.sh (bsz 32, enc/dec 3, t2v 2, moment 1, dummy 2, sent 1, max_v_l 75, "
            "max_q_l 32) + config.py defaults (lr 1e-4, wd 1e-4, lr_drop 400, n_epoch 200, grad_clip 0.1, "
            "seed 2018, clip_length 2, 45 dummies, 1 of 10 prompts); SlowFast+CLIP as in the paper. "
            "The release's max_windows=5 caps training windows, not PostProcess, so it is not set here."
        ),
    ),
    "cg_detr-charades_sta": ScriptPreset(
        dataset="charades_sta",
        features="sf_c",
        model=CGDETRConfig(
            video_dim=_SF_C_VIDEO, text_dim=_CLIP_TEXT, num_prompts=2, saliency_weight=4.0,
            strip_vid_window=False,
        ),
        train={
            "epochs": 200, "batch_size": 32, "lr": 2e-4, "lr_drop": 400, "weight_decay": 1e-4,
            "grad_clip": 0.1, "seed": 2018, "clip_seconds": 1.0,
        },
        source=(
            "cg_detr/scripts/charades_sta/train.sh (dset_name charadesSTA, bsz 32, lr 2e-4, lr_drop 400, "
            "n_epoch 200, clip_length 1, lw_saliency 4, num_dummies 45, num_prompts 2, total_prompts 10, "
            "max_v_l/max_q_l -1 = no cap, enc/dec 3, t2v 2); SlowFast+CLIP as in the paper's main "
            "Charades-STA table (the release also has a VGG script, train_vgg.sh)."
        ),
    ),
    "cg_detr-tvsum": ScriptPreset(
        dataset="tvsum",
        features="sf_c",
        model=CGDETRConfig(
            video_dim=_SF_C_VIDEO, text_dim=_CLIP_TEXT, num_dummies=3, num_prompts=1,
            strip_vid_window=False, use_matcher=False,
        ),
        train={
            "epochs": 1000, "batch_size": 4, "lr": 1e-3, "lr_drop": 2000, "weight_decay": 1e-4,
            "grad_clip": 0.1, "seed": 2018, "clip_seconds": 2.0, "max_clips": 1000,
        },
        source=(
            "cg_detr/scripts/tvsum/train_tvsum.sh (bsz 4, lr 1e-3, n_epoch 1000, lr_drop 2000, max_v_l 1000, "
            "seed 2018, num_dummies 3, num_prompts 1 (the script also runs 2), total_prompts 10, per domain); "
            "highlight-only (use_matcher off: saliency loss only). The paper used I3D video features "
            "(v_feat_dim 2048) and CLIP query features; this preset reads SlowFast+CLIP."
        ),
    ),
}
