"""TaskWeave (Yang et al., "Task-Driven Exploration: Decoupling and Inter-Task Feedback for Joint
Moment Retrieval and Highlight Detection", CVPR 2024), the same function as EdenGabriel/TaskWeave.

Modules: config (TaskWeaveConfig, DIFFERENCES), position (sine encodings), attention (DAB's
projection-free attention), encoder (T2V fusion and self-attention layers), decoder (DAB decoder),
transformer (the task-decoupled unit), model (TaskWeave), matcher, losses, criterion, convert, presets.
"""

from __future__ import annotations

from torch import nn

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
    return TaskWeaveConfig(
        video_dim=video_dim, text_dim=text_dim, hidden_dim=32, num_heads=4, ffn_dim=64,
        enc_layers=1, dec_layers=2, num_queries=5,
    )


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
