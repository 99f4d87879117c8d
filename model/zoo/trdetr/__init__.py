"""TR-DETR: Task-Reciprocal Transformer for Joint Moment Retrieval and Highlight Detection
(Sun, Zhou, Chen, Xie; AAAI 2024), the same function as mingyao1120/TR-DETR.

The layers, matcher and loss terms it shares with the lineage (T2V and encoder layers, DAB
decoder, sine encodings, projections, span losses, saliency hinge / rank-contrastive, SetCriterion)
are model.zoo.common's; TR-DETR's own pieces are VFR (fuser), HD2MR and MR2HD (model), the focal
label loss and the VTC / CTC regulators (losses).
"""

from __future__ import annotations

from torch import nn

from model.zoo.common.config import tiny_config
from model.zoo.family import Family
from model.zoo.trdetr.config import DIFFERENCES, TRDETRConfig
from model.zoo.trdetr.convert import config_from_options, map_state_dict, recognises
from model.zoo.trdetr.criterion import TRDETRCriterion
from model.zoo.trdetr.model import TRDETR
from model.zoo.trdetr.presets import PRESETS


def build(cfg: TRDETRConfig) -> tuple[nn.Module, nn.Module]:
    """(model, criterion) of a config."""
    return TRDETR(cfg), TRDETRCriterion(cfg)


def tiny(video_dim: int, text_dim: int) -> TRDETRConfig:
    """A small config for fast tests (hidden 32, 4 heads, 1 encoder / 2 decoder layers, 4 queries)."""
    return tiny_config(TRDETRConfig, video_dim, text_dim, ffn_dim=48, num_queries=4)


FAMILY = Family(
    name="trdetr",
    paper="TR-DETR: Task-Reciprocal Transformer for Joint Moment Retrieval and Highlight Detection "
    "(AAAI 2024); github.com/mingyao1120/TR-DETR",
    config=TRDETRConfig,
    build=build,
    tiny=tiny,
    config_from_options=config_from_options,
    map_state_dict=map_state_dict,
    recognises=recognises,
    presets=PRESETS,
    ema_key=None,
    forward_extras=(),
)

__all__ = ["DIFFERENCES", "FAMILY", "PRESETS", "TRDETR", "TRDETRConfig", "TRDETRCriterion", "build", "tiny"]
