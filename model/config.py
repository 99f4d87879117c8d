"""Typed, frozen configuration records for models, losses, features and training."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

from model.zoo.cg_detr.config import CGDETRConfig
from model.zoo.moment_detr.config import MomentDETRConfig
from model.zoo.qd_detr.config import QDDETRConfig
from model.zoo.taskweave.config import TaskWeaveConfig
from model.zoo.trdetr.config import TRDETRConfig
from model.zoo.videolights.config import VideoLightsConfig

# Names are the feature store's extractor names (pipeline.extractors registry keys).
VideoFeature = Literal["slowfast", "clip", "blip2"]
TextFeature = Literal["clip", "blip2"]
ExtractorPreset = Literal["paper", "tiny"]

#: Per-clip dimension of each frozen video encoder, in the canonical concatenation order.
VIDEO_FEATURE_DIMS: dict[str, int] = {"slowfast": 2304, "clip": 512, "blip2": 768}
#: Per-token dimension of each frozen text encoder, in the canonical concatenation order.
TEXT_FEATURE_DIMS: dict[str, int] = {"clip": 512, "blip2": 768}
#: (video, text) dims per extractor preset: the paper encoders, or the small random "tiny"
#: encoders of pipeline.extractors (tests, demo); a test checks these against the built ones.
PRESET_FEATURE_DIMS: dict[str, tuple[dict[str, int], dict[str, int]]] = {
    "paper": (VIDEO_FEATURE_DIMS, TEXT_FEATURE_DIMS),
    "tiny": ({"slowfast": 288, "clip": 32, "blip2": 32}, {"clip": 32, "blip2": 32}),
}
#: Two temporal-endpoint features [i/L, (i+1)/L] appended to every clip.
TEMPORAL_ENDPOINT_DIMS = 2


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _check_order(names: tuple[str, ...], canonical: dict[str, int], side: str) -> None:
    order = list(canonical)
    positions = [order.index(n) for n in names]
    if positions != sorted(set(positions)):
        raise ValueError(
            f"{side} features {list(names)} must be unique and in the order {order}; "
            "a different order silently ruins a trained checkpoint"
        )


class FeatureSet(_Frozen):
    """Which frozen-encoder features the model reads, in concatenation order."""

    video: tuple[VideoFeature, ...] = Field(
        ("slowfast", "clip"),
        description="Video encoders concatenated per clip, in the order SlowFast, CLIP, BLIP-2.",
    )
    text: tuple[TextFeature, ...] = Field(
        ("clip",), description="Text encoders concatenated per token, in the order CLIP, BLIP-2."
    )
    temporal_endpoints: bool = Field(
        True, description="Append the two temporal-endpoint features [i/L, (i+1)/L] per clip."
    )
    extractor_preset: ExtractorPreset = Field(
        "paper",
        description="Encoders that produce the features: the paper's, or the tiny random ones.",
    )

    @model_validator(mode="after")
    def _canonical_order(self) -> FeatureSet:
        if not self.video or not self.text:
            raise ValueError("a feature set needs at least one video and one text encoder")
        _check_order(self.video, VIDEO_FEATURE_DIMS, "video")
        _check_order(self.text, TEXT_FEATURE_DIMS, "text")
        return self

    def dims(self) -> tuple[int, int]:
        """Return (video_dim, text_dim), e.g. (2818, 512) for SlowFast+CLIP / CLIP."""
        video_dims, text_dims = PRESET_FEATURE_DIMS[self.extractor_preset]
        video = sum(video_dims[n] for n in self.video)
        video += TEMPORAL_ENDPOINT_DIMS if self.temporal_endpoints else 0
        return video, sum(text_dims[n] for n in self.text)


#: One model's configuration (architecture, losses, fidelity), told apart by its `name`.
ModelConfig = Annotated[
    Union[VideoLightsConfig, TRDETRConfig, TaskWeaveConfig, MomentDETRConfig, QDDETRConfig, CGDETRConfig],
    Field(discriminator="name"),
]


def without_model_tag(loc: tuple | list) -> tuple:
    """A validation error's location without the model union's tag (the model name is not a field).

    >>> without_model_tag(("model", "qd_detr", "dec_layers"))
    ('model', 'dec_layers')
    """
    loc = tuple(loc)
    names = {member.model_fields["name"].default for member in ModelConfig.__origin__.__args__}
    for i in range(len(loc) - 1):
        if loc[i] == "model" and loc[i + 1] in names:
            return loc[: i + 1] + loc[i + 2 :]
    return loc


class TrainConfig(_Frozen):
    """Training hyper-parameters (read by the training code, not by the model)."""

    epochs: int = Field(200, ge=1, description="Training epochs.")
    batch_size: int = Field(32, ge=1, description="Samples per optimisation step.")
    lr: float = Field(1e-4, gt=0, description="AdamW learning rate.")
    lr_drop: int | None = Field(
        400, ge=1, description="StepLR period in epochs (x0.1); None = constant learning rate."
    )
    weight_decay: float = Field(1e-4, ge=0, description="AdamW weight decay.")
    grad_clip: float | None = Field(0.1, gt=0, description="Max gradient norm; None = no clip.")
    seed: int = Field(2018, description="Random seed.")
    ema_decay: float | None = Field(
        None, gt=0, lt=1,
        description="Exponential moving average of the weights, updated once per epoch (e <- d*e + (1-d)*w); "
        "evaluation, best.ckpt and inference use it (TaskWeave's release: 0.9). None = no EMA.",
    )
    eval_every: int = Field(5, ge=1, description="Evaluate every this many epochs.")
    clip_seconds: float = Field(2.0, gt=0, description="Clip length in seconds.")
    max_clips: int = Field(75, ge=1, description="Clips kept per video in training.")
    max_windows: int = Field(10, ge=1, description="Windows kept per query by PostProcess.")
    max_query_tokens: int = Field(32, ge=1, description="Text tokens kept per query.")
    select_metric: str = Field(
        "qvhighlights-weighted",
        description="Checkpoint selection: 'qvhighlights-weighted', 'R1@0.3' or 'tvsum-top5-mAP'.",
    )


class ExperimentConfig(_Frozen):
    """A complete, buildable setup: model (with its losses) + training (+ the features it reads)."""

    model: ModelConfig = Field(default_factory=VideoLightsConfig, description="Architecture and losses.")
    train: TrainConfig = Field(default_factory=TrainConfig, description="Training record.")
    features: FeatureSet | None = Field(
        default_factory=FeatureSet,
        description="Encoder features fed to the model; None for synthetic inputs (tests).",
    )

    @model_validator(mode="after")
    def _consistent(self) -> ExperimentConfig:
        if self.features is not None:
            dims = self.features.dims()
            if dims != (self.model.video_dim, self.model.text_dim):
                raise ValueError(
                    f"features {self.features.video}/{self.features.text} give dims {dims} but "
                    f"model expects ({self.model.video_dim}, {self.model.text_dim}); "
                    "use with_features() to change both"
                )
        return self

    def with_features(self, features: FeatureSet) -> ExperimentConfig:
        """Same experiment on another feature set (e.g. SF+B), model dims updated to match."""
        video_dim, text_dim = features.dims()
        model = self.model.model_copy(update={"video_dim": video_dim, "text_dim": text_dim})
        return ExperimentConfig(model=model, train=self.train, features=features)
