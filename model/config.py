"""Typed, frozen configuration records for models, losses, features and training."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

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


class ModelConfig(_Frozen):
    """Architecture of a joint moment-retrieval / highlight-detection model."""

    name: str = Field("videolights", description="Model registry key (see model.build).")
    video_dim: int = Field(2818, gt=0, description="Input clip feature size Dv (incl. endpoints).")
    text_dim: int = Field(512, gt=0, description="Input token feature size Dt.")
    hidden_dim: int = Field(256, gt=0, description="Shared hidden size d (a multiple of 4).")
    num_heads: int = Field(8, gt=0, description="Attention heads; must divide hidden_dim.")
    ffn_dim: int = Field(1024, gt=0, description="Inner size of every feed-forward block.")
    dropout: float = Field(0.1, ge=0, lt=1, description="Dropout inside transformer layers.")
    input_dropout: float = Field(0.5, ge=0, lt=1, description="Dropout in the input projection.")
    projection: Literal["conv", "linear"] = Field(
        "conv", description="Input projection: kernel-1 Conv1d (FFCNN) or Linear (Table 6)."
    )
    projection_layers: int = Field(2, ge=1, description="Blocks in each input projection.")
    fra: bool = Field(True, description="Use Feature Refinement and Alignment on the video.")
    fusion: Literal["bicmf", "t2v"] = Field(
        "bicmf", description="Bi-CMF, or text->video cross-attention only (ablation)."
    )
    fusion_layers: int = Field(1, ge=1, description="Number of fusion layers.")
    enc_layers: int = Field(3, ge=1, description="Post-norm self-attention encoder layers.")
    dec_layers: int = Field(3, ge=1, description="Anchor decoder layers (auxiliary outputs: n-1).")
    num_queries: int = Field(10, ge=1, description="Moment queries (learned anchors).")
    max_query_tokens: int = Field(
        32, ge=1, description="Longest text accepted; size of the learned text positions."
    )
    text_positions: bool = Field(True, description="Add learned positions to text keys.")
    negative_pairs: bool = Field(
        True, description="Second fusion+encoder pass with another sample's text."
    )
    uni_jfm: bool = Field(True, description="Uni-JFM MR->HD branch (GRU over the top-1 span).")
    align_dim: int = Field(
        64, ge=0, description="Size of the query/text alignment projections; 0 disables them."
    )
    feedback: Literal["none", "moment", "highlight", "both"] = Field(
        "none",
        description="TaskWeave inter-task feedback: MR->HD ('moment', MgF), HD->MR "
        "('highlight', HgF), both at once, or none (paper Table 7).",
    )
    feedback_start_epoch: int = Field(
        0, ge=0, description="TaskWeave: 0-based training epoch from which feedback is used."
    )
    mr_expert: Literal["identity", "linear", "cnn", "transformer"] = Field(
        "cnn", description="TaskWeave MR-specific expert network (paper Table 5)."
    )
    hd_expert: Literal["identity", "linear", "cnn", "transformer"] = Field(
        "identity", description="TaskWeave HD-specific expert network (paper Table 5)."
    )
    temporal_kernel: int = Field(
        5, ge=1, description="TaskWeave: max-pooling / CNN-expert window in clips (odd)."
    )

    @model_validator(mode="after")
    def _heads_divide(self) -> ModelConfig:
        if self.hidden_dim % self.num_heads or self.hidden_dim % 4:
            raise ValueError(
                f"hidden_dim={self.hidden_dim} must be a multiple of 4 (anchor sine embedding) "
                f"and divisible by num_heads={self.num_heads}"
            )
        if self.temporal_kernel % 2 == 0:
            raise ValueError(f"temporal_kernel={self.temporal_kernel} must be odd (centred window)")
        return self


class LossConfig(_Frozen):
    """Loss weights and loss hyper-parameters; a weight of 0 switches that term off."""

    moment_losses: bool = Field(
        True,
        description="Moment and alignment terms on; False = saliency losses only (TVSum mode).",
    )
    aux_loss: bool = Field(True, description="Repeat matched terms on every decoder layer.")
    match_cost_span: float = Field(10.0, ge=0, description="Matcher cost of L1(centre, width).")
    match_cost_giou: float = Field(1.0, ge=0, description="Matcher cost of -gIoU.")
    match_cost_class: float = Field(4.0, ge=0, description="Matcher cost of -p(foreground).")
    span_l1_weight: float = Field(10.0, ge=0, description="lambda_L1 of the span L1 loss.")
    span_giou_weight: float = Field(1.0, ge=0, description="lambda_gIoU of the span gIoU loss.")
    label_weight: float = Field(4.0, ge=0, description="lambda_cls of the fg/bg cross-entropy.")
    eos_coef: float = Field(0.1, ge=0, description="Cross-entropy weight of the background class.")
    saliency_weight: float = Field(1.0, ge=0, description="lambda_sal, scales all saliency terms.")
    margin_weight: float = Field(1.0, ge=0, description="lambda_rank of the margin ranking loss.")
    saliency_margin: float = Field(0.2, ge=0, description="Margin Delta of the ranking loss.")
    rank_contrastive_weight: float = Field(1.0, ge=0, description="lambda_cont.")
    rank_contrastive_tau: float = Field(0.5, gt=0, description="Rank-contrastive temperature.")
    rank_levels: int = Field(
        12, ge=2, description="Score levels: thresholds 1..levels-1, sum divided by levels."
    )
    neg_pair_weight: float = Field(1.0, ge=0, description="Weight of -log(1 - sigmoid(s_neg)).")
    task_specific_weight: float = Field(1.0, ge=0, description="lambda_ts, Eq. 11.")
    task_coupled_weight: float = Field(1.0, ge=0, description="lambda_tc, Uni-JFM Eq. 12.")
    hard_coefficient: float = Field(
        10.0, ge=0, description="lambda_hdl: W_j = (epoch + 1) * hard_coefficient, Eqs. 8-10."
    )
    alignment_weight: float = Field(0.01, ge=0, description="lambda_al of the alignment loss.")
    alignment_temperature: float = Field(
        0.07, gt=0, description="Temperature of the query-token contrastive loss."
    )
    local_regulator_weight: float = Field(
        0.0, ge=0, description="TR-DETR lambda_lg of the local regulator (Eqs. 3-4)."
    )
    global_regulator_weight: float = Field(
        0.0, ge=0, description="TR-DETR lambda_lg of the global regulator (Eq. 5)."
    )
    local_temperature: float = Field(
        1.0, gt=0, description="TR-DETR: divides the local cosine (1 = the paper's Eq. 3)."
    )
    global_temperature: float = Field(
        0.07, gt=0, description="TR-DETR: temperature of the global InfoNCE (release: 0.07)."
    )
    uncertainty_weighting: bool = Field(
        False,
        description="TaskWeave joint loss (Eq. 9): MR and HD sums weighted by learnable "
        "uncertainties; False = plain weighted sum.",
    )


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
    """A complete, buildable setup: model + losses + training (+ the features it reads)."""

    model: ModelConfig = Field(default_factory=ModelConfig, description="Architecture.")
    loss: LossConfig = Field(default_factory=LossConfig, description="Loss weights.")
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
        needs = {
            "loss.alignment_weight > 0 needs model.align_dim > 0": (
                self.loss.moment_losses and self.loss.alignment_weight > 0,
                self.model.align_dim > 0,
            ),
            "loss.task_coupled_weight > 0 needs model.uni_jfm=True": (
                self.loss.task_coupled_weight > 0,
                self.model.uni_jfm,
            ),
            "loss.neg_pair_weight > 0 needs model.negative_pairs=True": (
                self.loss.neg_pair_weight > 0,
                self.model.negative_pairs,
            ),
            "loss.local/global_regulator_weight > 0 needs model.name='trdetr'": (
                self.loss.local_regulator_weight > 0 or self.loss.global_regulator_weight > 0,
                self.model.name == "trdetr",
            ),
            "loss.uncertainty_weighting needs model.name='taskweave'": (
                self.loss.uncertainty_weighting,
                self.model.name == "taskweave",
            ),
        }
        for message, (wanted, available) in needs.items():
            if wanted and not available:
                raise ValueError(f"{message}; set the weight to 0 or switch the part on")
        if self.train.max_query_tokens > self.model.max_query_tokens:
            raise ValueError(
                f"train.max_query_tokens={self.train.max_query_tokens} exceeds "
                f"model.max_query_tokens={self.model.max_query_tokens}"
            )
        return self

    def with_features(self, features: FeatureSet) -> ExperimentConfig:
        """Same experiment on another feature set (e.g. SF+B), model dims updated to match."""
        video_dim, text_dim = features.dims()
        model = self.model.model_copy(update={"video_dim": video_dim, "text_dim": text_dim})
        return ExperimentConfig(model=model, loss=self.loss, train=self.train, features=features)
