"""Release checkpoints of wjun0830/CGDETR -> CGDETRConfig and our state dict."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor

from model.zoo.cg_detr.config import CGDETRConfig

#: Release modules that are built but never used by its forward (prefix -> why).
UNUSED_PREFIXES: dict[str, str] = {
    "txt_position_embed.": "text positions are off (use_txt_pos=False): the release uses zeros (model.py:173)",
    "txt_proj_linear.": "built in CGDETR.__init__ (model.py:129) and never called",
}

#: Keys only CG-DETR's release has (dummy tokens, sentence and moment encoders).
_DISTINCTIVE_KEYS = (
    "dummy_rep_token",
    "sent_rep_token",
    "moment_rep_token",
    "txtproj_encoder.layers.0.self_attn.in_proj_weight",
    "scls_encoder.layers.0.self_attn.in_proj_weight",
    "transformer.mcls_encoder.layers.0.self_attn.in_proj_weight",
    "transformer.t2v_encoder.layers.0.self_attn.out_proj.weight",
)


def _require(opt: Mapping[str, Any], name: str, allowed: tuple[Any, ...]) -> None:
    value = opt.get(name, allowed[0])
    if value not in allowed:
        raise ValueError(f"release option {name}={value!r} is not supported by cg_detr (supported: {list(allowed)})")


def config_from_options(opt: dict[str, Any]) -> CGDETRConfig:
    """CGDETRConfig from vars() of the release's option Namespace (config.py BaseOptions).

    Raises:
        ValueError: an option the model cannot honour (named in the message).
    """
    _require(opt, "span_loss_type", ("l1",))
    _require(opt, "contrastive_align_loss", (False,))
    _require(opt, "pre_norm", (False,))
    _require(opt, "use_txt_pos", (False,))
    _require(opt, "position_embedding", ("sine",))
    _require(opt, "a_feat_dir", (None,))
    dset = opt.get("dset_name", "hl")
    if dset == "youtube_uni":
        raise ValueError("release option dset_name='youtube_uni' (negative-pair losses weighted 0) is not supported")
    return CGDETRConfig(
        video_dim=int(opt["v_feat_dim"]),
        text_dim=int(opt["t_feat_dim"]),
        hidden_dim=int(opt["hidden_dim"]),
        num_heads=int(opt["nheads"]),
        ffn_dim=int(opt["dim_feedforward"]),
        dropout=float(opt["dropout"]),
        input_dropout=float(opt["input_dropout"]),
        input_proj_layers=int(opt["n_input_proj"]),
        t2v_layers=int(opt["t2v_layers"]),
        enc_layers=int(opt["enc_layers"]),
        dec_layers=int(opt["dec_layers"]),
        moment_layers=int(opt["moment_layers"]),
        dummy_layers=int(opt["dummy_layers"]),
        sent_layers=int(opt["sent_layers"]),
        num_queries=int(opt["num_queries"]),
        num_dummies=int(opt["num_dummies"]),
        total_prompts=int(opt["total_prompts"]),
        num_prompts=int(opt["num_prompts"]),
        aux_loss=bool(opt["aux_loss"]),
        strip_vid_window=dset == "hl",
        use_matcher=dset not in ("tvsum", "youtube_uni"),
        span_l1_weight=float(opt["span_loss_coef"]),
        span_giou_weight=float(opt["giou_loss_coef"]),
        label_weight=float(opt["label_loss_coef"]),
        eos_coef=float(opt["eos_coef"]),
        saliency_weight=float(opt["lw_saliency"]),
        wattn_weight=float(opt["lw_wattn"]),
        ms_align_weight=float(opt["lw_ms_align"]),
        distill_weight=float(opt["lw_distill"]),
        saliency_margin=float(opt["saliency_margin"]),
        match_cost_span=float(opt["set_cost_span"]),
        match_cost_giou=float(opt["set_cost_giou"]),
        match_cost_class=float(opt["set_cost_class"]),
    )


def map_state_dict(state: Mapping[str, Tensor], cfg: CGDETRConfig) -> tuple[dict[str, Tensor], dict[str, str]]:
    """Release state dict -> (ours, {release key: why unused}); our keys are the release's."""
    del cfg  # the mapping does not depend on the sizes
    ours: dict[str, Tensor] = {}
    unused: dict[str, str] = {}
    for key, value in state.items():
        why = next((w for p, w in UNUSED_PREFIXES.items() if key.startswith(p)), None)
        if why is None:
            ours[key] = value
        else:
            unused[key] = why
    return ours, unused


def recognises(opt: dict[str, Any], state_keys: set[str]) -> bool:
    """True only for CG-DETR release checkpoints (dummy, sentence and moment-token keys)."""
    return "num_dummies" in opt and all(k in state_keys for k in _DISTINCTIVE_KEYS)
