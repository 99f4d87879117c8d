"""TaskWeave (Yang et al., "Task-Driven Exploration: Decoupling and Inter-Task Feedback for Joint
Moment Retrieval and Highlight Detection", CVPR 2024), the same function as EdenGabriel/TaskWeave.

Modules: config (TaskWeaveConfig, DIFFERENCES), transformer (the task-decoupled unit: max-pool,
task projections, MR expert), model (TaskWeave: saliency head, highlight-guided feedback, negative
pass), criterion (uncertainty-weighted objective), convert, presets. The T2V and encoder layers,
DAB decoder, sine encodings, projections, matcher and loss terms are model.zoo.common's.
"""

from __future__ import annotations

from torch import nn

from model.zoo.common.config import tiny_config
from model.zoo.family import Family
from model.zoo.taskweave.config import TaskWeaveConfig
from model.zoo.taskweave.convert import config_from_options, map_state_dict, recognises
from model.zoo.taskweave.criterion import TaskWeaveCriterion
from model.zoo.taskweave.model import TaskWeave
from model.zoo.taskweave.presets import PRESETS


def build(cfg: TaskWeaveConfig) -> tuple[nn.Module, nn.Module]:
    """(model, criterion) for cfg."""
    return TaskWeave(cfg), TaskWeaveCriterion(cfg)


def tiny(video_dim: int, text_dim: int) -> TaskWeaveConfig:
    """A small TaskWeave for fast tests (two decoder layers, so aux outputs exist)."""
    return tiny_config(TaskWeaveConfig, video_dim, text_dim)


FAMILY = Family(
    name="taskweave",
    paper="Task-Driven Exploration: Decoupling and Inter-Task Feedback for Joint Moment Retrieval and "
    "Highlight Detection (TaskWeave), CVPR 2024; github.com/EdenGabriel/TaskWeave",
    config=TaskWeaveConfig,
    build=build,
    tiny=tiny,
    config_from_options=config_from_options,
    map_state_dict=map_state_dict,
    recognises=recognises,
    presets=PRESETS,
    ema_key="state_dict_ema",
    forward_extras=("epoch",),
)

__all__ = ["FAMILY", "TaskWeave", "TaskWeaveConfig", "TaskWeaveCriterion", "build", "tiny"]
