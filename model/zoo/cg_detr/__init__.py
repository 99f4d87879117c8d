"""CG-DETR (Moon et al., "Correlation-Guided Query-Dependency Calibration for Video Temporal
Grounding", release github.com/wjun0830/CGDETR) as the same function as the release."""

from __future__ import annotations

from model.zoo.cg_detr.config import CGDETRConfig
from model.zoo.cg_detr.convert import config_from_options, map_state_dict, recognises
from model.zoo.cg_detr.criterion import CGDETRCriterion
from model.zoo.cg_detr.model import CGDETR
from model.zoo.cg_detr.presets import PRESETS
from model.zoo.common.config import tiny_config
from model.zoo.family import Family


def build(cfg: CGDETRConfig) -> tuple[CGDETR, CGDETRCriterion]:
    """(model, criterion) for a config."""
    return CGDETR(cfg), CGDETRCriterion(cfg)


def tiny(video_dim: int, text_dim: int) -> CGDETRConfig:
    """A small config of the same classes for fast tests (hidden 32: a multiple of the 8 hard-coded heads)."""
    return tiny_config(CGDETRConfig, video_dim, text_dim, t2v_layers=1, dummy_layers=1, num_dummies=4, total_prompts=4)


FAMILY = Family(
    name="cg_detr",
    paper=(
        "Moon et al., Correlation-Guided Query-Dependency Calibration for Video Temporal Grounding "
        "(CG-DETR), arXiv 2311.08835; github.com/wjun0830/CGDETR"
    ),
    config=CGDETRConfig,
    build=build,
    tiny=tiny,
    config_from_options=config_from_options,
    map_state_dict=map_state_dict,
    recognises=recognises,
    presets=PRESETS,
    ema_key=None,
    forward_extras=("vid", "qid", "targets"),
)

__all__ = ["CGDETR", "CGDETRConfig", "CGDETRCriterion", "FAMILY", "build", "tiny"]
