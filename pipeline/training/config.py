"""TrainRunConfig: what one training run reads, writes and overrides; TrainResult: what it produced."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from model.config import ExperimentConfig, FeatureSet
from model.presets import get_preset, list_presets
from pipeline.datasets.readers import DatasetKind

Stage = Literal["pretrain", "finetune", "train"]
_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def _known_preset(value: str) -> str:
    if value not in list_presets():
        raise ValueError(f"unknown preset {value!r}; known presets: {', '.join(list_presets())}")
    return value


PresetName = Annotated[str, AfterValidator(_known_preset)]
"""A model preset name (model.presets), refused with the known ones listed when unknown."""


def _device_name(value: str) -> str:
    if not _DEVICE.match(value):
        raise ValueError(f"device {value!r}; expected 'auto', 'cpu', 'cuda' or 'cuda:N'")
    return value


DeviceName = Annotated[str, AfterValidator(_device_name)]
"""A device setting: "auto" (CUDA when available), "cpu", "cuda" or "cuda:N"."""


def build_experiment(preset: str, features: FeatureSet | None = None, model_overrides: dict[str, Any] | None = None,
                     train_overrides: dict[str, Any] | None = None) -> ExperimentConfig:
    """A preset with another feature set, ModelConfig and TrainConfig overrides (None values ignored),
    validated as a whole; a ValidationError names the bad field."""
    base = get_preset(preset)
    if features is not None:
        base = base.with_features(features)
    data = base.model_dump()
    data["train"].update({k: v for k, v in (train_overrides or {}).items() if v is not None})
    data["model"].update(model_overrides or {})
    return ExperimentConfig.model_validate(data)


class TrainRunConfig(BaseModel):
    """One training run: preset + data + store + output folder, with a few overrides.

    Attributes:
        preset: model preset name (`videolights model-info` lists them), e.g. "videolights-qvhighlights".
        train_annotations: jsonl of the training rows.
        val_annotations: jsonl of the validation rows; None = no evaluation, no best.ckpt.
        dataset_kind: format of the training rows: qvhighlights, charades_sta, tvsum or pretrain.
        val_kind: format of the validation rows (default: dataset_kind); pretraining on
            synthetic rows usually validates on QVHighlights val ("qvhighlights").
        store: feature store URL (a folder or an fsspec URL).
        out_dir: run folder: last.ckpt, best.ckpt, metrics.jsonl, config.json.
        features: feature set to train on instead of the preset's (model input sizes follow);
            required for presets without one (the `tiny` preset).
        model_overrides: model config fields to change, for ablations (e.g. {"fidelity": "corrected"},
            {"corrections": ["fra_correlation"]}) or small test models; validated with the rest.
        domain: TVSum only: train and validate on the videos of this domain (one model per domain).
        epochs, batch_size, lr, eval_every, seed: override the preset's TrainConfig values.
        device: "auto" (CUDA when available), "cpu", "cuda" or "cuda:N".
        amp: bf16 autocast on CUDA (ignored on CPU).
        num_workers: DataLoader worker processes (0 = load in the training process).
        cache: read every needed store entry into memory once (training is then never bound
            by store reads); False reads each item from the store.
        init_from: checkpoint whose model weights start a fine-tuning run (stage "finetune").
        resume: continue the run in out_dir from its last.ckpt (exactly: weights, optimiser,
            scheduler, epoch, RNG states); starts from scratch when there is none.
        stage: "pretrain" (synthetic rows), "finetune" (needs init_from) or "train" (from scratch).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    preset: PresetName
    train_annotations: str
    val_annotations: str | None = None
    dataset_kind: DatasetKind = "qvhighlights"
    val_kind: DatasetKind | None = None
    store: str
    out_dir: str
    features: FeatureSet | None = None
    model_overrides: dict[str, Any] = Field(default_factory=dict)
    domain: str | None = None
    epochs: int | None = Field(None, ge=1, description="Override of train.epochs.")
    batch_size: int | None = Field(None, ge=1, description="Override of train.batch_size.")
    lr: float | None = Field(None, gt=0, description="Override of train.lr.")
    eval_every: int | None = Field(None, ge=1, description="Override of train.eval_every.")
    seed: int | None = Field(None, description="Override of train.seed.")
    device: DeviceName = "auto"
    amp: bool = True
    num_workers: int = Field(0, ge=0)
    cache: bool = True
    init_from: str | None = None
    resume: bool = False
    stage: Stage = "train"

    @model_validator(mode="after")
    def _consistent(self) -> TrainRunConfig:
        if self.stage == "finetune" and self.init_from is None:
            raise ValueError("stage='finetune' needs init_from (the pretraining checkpoint to start from)")
        if self.init_from is not None and self.stage != "finetune":
            raise ValueError(f"init_from is set but stage={self.stage!r}; use stage='finetune' to start from "
                             "another run's weights")
        if self.domain is not None and self.dataset_kind != "tvsum":
            raise ValueError(f"domain={self.domain!r} filters TVSum videos; dataset_kind is {self.dataset_kind!r}")
        if self.features is None and get_preset(self.preset).features is None:
            raise ValueError(f"preset {self.preset!r} has no feature set; pass features (e.g. "
                             "FeatureSet(video=('clip',), text=('clip',), extractor_preset='tiny'))")
        self.experiment()  # overrides must give a valid experiment (the error names the field)
        return self

    def experiment(self) -> ExperimentConfig:
        """The preset with this run's feature set and TrainConfig overrides applied (re-validated)."""
        overrides = {"epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr,
                     "eval_every": self.eval_every, "seed": self.seed}
        return build_experiment(self.preset, self.features, self.model_overrides, overrides)

    @property
    def eval_kind(self) -> str:
        """Format of the validation rows."""
        return self.val_kind or self.dataset_kind

    @property
    def out(self) -> Path:
        return Path(self.out_dir)


@dataclass(frozen=True)
class TrainResult:
    """What a training run produced.

    Attributes:
        out_dir: the run folder.
        last_checkpoint: last.ckpt (state after the final epoch; resumable).
        best_checkpoint: best.ckpt (model of the best evaluated epoch), None without validation.
        best_score: selection score of best.ckpt (see pipeline.training.selection), or None.
        best_epoch: 1-based epoch of best.ckpt, or None.
        best_metrics: the evaluation brief of best.ckpt ({} without validation).
        first_epoch: 1-based first epoch this call trained (> 1 after a resume).
        final_epoch: epochs completed in total.
        metrics_path: metrics.jsonl, one JSON line per epoch.
        missing_keys, unexpected_keys: state-dict keys that init_from lacked / had in excess.
        seconds: wall time of this call.
    """

    out_dir: Path
    last_checkpoint: Path
    best_checkpoint: Path | None
    best_score: float | None
    best_epoch: int | None
    best_metrics: dict = field(default_factory=dict)
    first_epoch: int = 1
    final_epoch: int = 0
    metrics_path: Path | None = None
    missing_keys: list[str] = field(default_factory=list)
    unexpected_keys: list[str] = field(default_factory=list)
    seconds: float = 0.0
