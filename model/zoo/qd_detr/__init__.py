"""QD-DETR (Moon et al., "Query-Dependent Video Representation for Moment Retrieval and Highlight
Detection", CVPR 2023; release wjun0830/QD-DETR), the same function as the release.

The layers, matcher and loss terms it shares with the rest of the lineage (T2V encoder, encoder,
DAB decoder, sine encodings, projections, span/label/saliency losses) live in model.zoo.common;
QD-DETR's own pieces are the wiring of its transformer (global token, text dropped after the T2V
encoder), the saliency head and the negative (rolled-query) pass.
"""

from __future__ import annotations

from torch import nn

from model.zoo.common.config import tiny_config
from model.zoo.family import Family
from model.zoo.qd_detr.config import QDDETRConfig
from model.zoo.qd_detr.convert import config_from_options, map_state_dict, recognises
from model.zoo.qd_detr.criterion import QDDETRCriterion
from model.zoo.qd_detr.model import QDDETR
from model.zoo.qd_detr.presets import PRESETS


def build(cfg: QDDETRConfig) -> tuple[nn.Module, nn.Module]:
    """(model, criterion) of a config."""
    return QDDETR(cfg), QDDETRCriterion(cfg)


def tiny(video_dim: int, text_dim: int) -> QDDETRConfig:
    """A small config of the same classes for fast tests."""
    return tiny_config(QDDETRConfig, video_dim, text_dim, num_queries=4)


FAMILY = Family(
    name="qd_detr",
    paper=(
        "QD-DETR: Query-Dependent Video Representation for Moment Retrieval and Highlight Detection "
        "(Moon et al., CVPR 2023); github.com/wjun0830/QD-DETR"
    ),
    config=QDDETRConfig,
    build=build,
    tiny=tiny,
    config_from_options=config_from_options,
    map_state_dict=map_state_dict,
    recognises=recognises,
    presets=PRESETS,
    ema_key=None,
    forward_extras=(),
)

__all__ = ["FAMILY", "QDDETR", "QDDETRConfig", "QDDETRCriterion", "build", "tiny"]
