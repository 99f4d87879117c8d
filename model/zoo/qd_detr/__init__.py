"""QD-DETR (Moon et al., "Query-Dependent Video Representation for Moment Retrieval and Highlight
Detection", CVPR 2023; release wjun0830/QD-DETR), the same function as the release.

Shared pieces of the DAB-DETR lineage (CG-DETR, TR-DETR, TaskWeave, VideoLights):
`layers` (input projections, MLP, sine encodings, projection-free attention), `transformer`
(T2V encoder, encoder, DAB decoder), `matcher` and `criterion` (span/label/saliency losses).
"""

from __future__ import annotations

from torch import nn

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
    return QDDETRConfig(
        video_dim=video_dim, text_dim=text_dim, hidden_dim=32, num_heads=4, ffn_dim=64,
        enc_layers=1, dec_layers=2, num_queries=4,
    )  # fmt: skip


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
