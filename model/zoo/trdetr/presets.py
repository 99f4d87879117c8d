"""TR-DETR configured as its release's training scripts configure it (SlowFast+CLIP features)."""

from __future__ import annotations

from model.zoo.family import ScriptPreset
from model.zoo.trdetr.config import TRDETRConfig

# tr_detr/scripts/train.sh (+ tr_detr/config.py defaults): wd 1e-4, grad_clip 0.1, max_q_l 32,
# max_v_l 75, clip_length 2; PostProcess keeps max_after_nms = 10 windows.
_QVH_TRAIN = {
    "epochs": 200,
    "batch_size": 32,
    "lr": 1e-4,
    "lr_drop": 400,
    "weight_decay": 1e-4,
    "grad_clip": 0.1,
    "seed": 2017,
    "clip_seconds": 2.0,
    "max_clips": 75,
    "max_query_tokens": 32,
    "max_windows": 10,
}

PRESETS: dict[str, ScriptPreset] = {
    "trdetr-qvhighlights": ScriptPreset(
        dataset="qvhighlights",
        features="sf_c",
        model=TRDETRConfig(),
        train=dict(_QVH_TRAIN),
        source="tr_detr/scripts/train.sh (seed 2017, label_loss_coef 4, VTC 0.3, CTC 0.5, bsz 32, lr 1e-4, "
        "200 epochs, lr_drop 400, lw_saliency 1; SlowFast+CLIP video 2816+2 TEF, CLIP text 512) and "
        "tr_detr/config.py defaults (hidden 256, 8 heads, FFN 1024, 2+2 layers, 10 queries, wd 1e-4, "
        "grad_clip 0.1, max_q_l 32, max_v_l 75, clip_length 2).",
    ),
    "trdetr-charades_sta": ScriptPreset(
        dataset="charades_sta",
        features="sf_c",
        model=TRDETRConfig(clip_length=1.0),
        train={**_QVH_TRAIN, "clip_seconds": 1.0},
        source="The release has no Charades-STA script (its option parser accepts --dset_name hl or tvsum "
        "only): model, loss and optimiser values are tr_detr/scripts/train.sh's; clips are 1 s, as the "
        "SlowFast+CLIP Charades-STA features of this lineage are extracted "
        "(cg_detr/scripts/charades_sta/train.sh: --clip_length 1).",
    ),
    "trdetr-tvsum": ScriptPreset(
        dataset="tvsum",
        features="sf_c",
        model=TRDETRConfig(vtc_weight=0.5, ctc_weight=2.0),
        train={
            **_QVH_TRAIN,
            "epochs": 2000,
            "batch_size": 4,
            "lr": 1e-3,
            "lr_drop": 2000,
            "seed": 2018,
            "max_clips": 1000,
        },
        source="tr_detr/scripts/tvsum/train_tvsum.sh (bsz 4, lr 1e-3, VTC 0.5, CTC 2, max_v_l 1000, "
        "n_epoch 2000, lr_drop 2000, one run per domain; highlight-only: the criterion has no "
        "matcher for tvsum, model.py build_model). The paper used UMT's 2048-d I3D RGB+flow features "
        "(--v_feat_dim 2048); this preset reads SlowFast+CLIP. The script passes an unset $seed "
        "(and calls qd_detr/train.py); seed is config.py's default 2018.",
    ),
}
