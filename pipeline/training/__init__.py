"""Training: train(TrainRunConfig) -> TrainResult, atomic weights-only checkpoints, best-checkpoint rules."""

from pipeline.common.checkpoint import (
    BEST,
    LAST,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from pipeline.training.config import Stage, TrainResult, TrainRunConfig
from pipeline.datasets.loading import (
    EVALUATION,
    build_dataset,
    build_loader,
    dataset_config,
    read_split,
)
from pipeline.training.loop import (
    EpochStats,
    evaluate,
    load_initial_weights,
    run_epoch,
    train,
)
from pipeline.training.selection import SELECTION_RULES, selection_score

__all__ = [
    "BEST",
    "EVALUATION",
    "LAST",
    "SELECTION_RULES",
    "EpochStats",
    "Stage",
    "TrainResult",
    "TrainRunConfig",
    "build_dataset",
    "build_loader",
    "dataset_config",
    "evaluate",
    "load_checkpoint",
    "load_initial_weights",
    "read_split",
    "rng_state",
    "run_epoch",
    "save_checkpoint",
    "selection_score",
    "set_rng_state",
    "train",
]
