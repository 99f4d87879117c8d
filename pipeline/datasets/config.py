"""DatasetConfig: which features a dataset assembles, how long its sequences are, how targets are drawn."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pipeline.datasets.readers import DatasetKind
from pipeline.datasets.rows import TVSUM_DOMAINS
from pipeline.evaluation.kinds import KINDS

VideoExtractor = Literal["slowfast", "clip", "blip2"]
TextEncoder = Literal["clip", "blip2"]
#: Canonical concatenation orders; a different order silently ruins a trained checkpoint.
VIDEO_ORDER: tuple[str, ...] = ("slowfast", "clip", "blip2")
TEXT_ORDER: tuple[str, ...] = ("clip", "blip2")

#: Per-kind defaults taken from the release's training scripts (spec: Training presets).
KIND_DEFAULTS: dict[str, dict[str, Any]] = {
    kind: {"clip_seconds": info.clip_seconds, "max_clips": info.max_clips} for kind, info in KINDS.items()
}


class DatasetConfig(BaseModel):
    """How a VideoLightsDataset turns annotation rows and stored features into samples.

    Attributes:
        kind: annotation format and target rules: "qvhighlights", "charades_sta", "tvsum" or
            "pretrain" (synthetic rows in the QVHighlights format).
        split: "train" samples saliency pairs per epoch and randomly crops videos longer than
            max_clips; "eval" keeps the first max_clips clips and draws its pairs once (fixed).
        video_extractors: store extractor names concatenated per clip, in the order SlowFast,
            CLIP, BLIP-2. Default SlowFast + CLIP; the "-B" models add "blip2".
        text_encoders: store text encoders concatenated per token, CLIP then BLIP-2.
        clip_seconds: seconds per clip (None = the kind's default: 2 s, 1 s for Charades-STA).
        max_clips: most clips per sample (None = the kind's default: 75, 1000 for TVSum).
        max_query_tokens: most query tokens per encoder (tokens after it are dropped).
        temporal_endpoints: append [i/L, (i+1)/L] to clip i (2 extra video dims).
        normalize: L2-normalise each encoder's rows before concatenation.
        norm_eps: added to the row norm: x / (||x|| + eps), as the release does.
        max_windows: most target windows per query (train: a random subset; eval: the first).
        saliency_pairs: positive/negative clips per sample (k). None = the release's choice per
            kind: 2 (1 hardest + 1 random) for QVHighlights-style scores, 2 random for
            window-derived saliency, 1 hardest for TVSum.
        pretrain_saliency: "scores" uses a pretraining row's saliency_scores like QVHighlights
            (paper, Algorithm 1); "window" marks the clips of its window 1 as the release's
            pretraining did.
        domain: TVSum only: keep the videos of this domain ("BK", "BT", ...; one model per
            domain, as the paper trains); None keeps every row.
        crop: in training, videos longer than max_clips are cut to a "random" max_clips-clip crop
            that keeps the target windows when it can, or to their first clips ("head").
        seed: seed of every random choice; a sample depends only on (seed, epoch, index).
        cache: load every needed store entry once into contiguous in-memory arrays.
        cache_workers: threads reading the store while the cache and the missing-entry check run.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: DatasetKind
    split: Literal["train", "eval"] = "train"
    video_extractors: tuple[VideoExtractor, ...] = ("slowfast", "clip")
    text_encoders: tuple[TextEncoder, ...] = ("clip",)
    clip_seconds: float = Field(None, gt=0, description="Seconds per clip (filled from the kind).")
    max_clips: int = Field(None, ge=1, description="Most clips per sample (filled from the kind).")
    max_query_tokens: int = Field(32, ge=1, description="Most query tokens kept per text encoder.")
    temporal_endpoints: bool = True
    normalize: bool = True
    norm_eps: float = Field(1e-5, ge=0, description="Epsilon of the L2 normalisation.")
    max_windows: int = Field(5, ge=1, description="Most target windows per query.")
    saliency_pairs: int | None = Field(None, ge=1, description="k positive/negative clips per sample.")
    pretrain_saliency: Literal["scores", "window"] = "scores"
    domain: Literal[TVSUM_DOMAINS] | None = None  # type: ignore[valid-type]
    crop: Literal["random", "head"] = "random"
    seed: int = 2018
    cache: bool = False
    cache_workers: int = Field(4, ge=1, description="Reader threads for the cache and the checks.")

    @model_validator(mode="before")
    @classmethod
    def _kind_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("kind") in KIND_DEFAULTS:
            data = dict(data)
            for name, value in KIND_DEFAULTS[data["kind"]].items():
                if data.get(name) is None:
                    data[name] = value
        return data

    @model_validator(mode="after")
    def _canonical_order(self) -> DatasetConfig:
        for side, names, order in (("video_extractors", self.video_extractors, VIDEO_ORDER),
                                   ("text_encoders", self.text_encoders, TEXT_ORDER)):
            positions = [order.index(n) for n in names]
            if not names or positions != sorted(set(positions)):
                raise ValueError(
                    f"{side} {list(names)}: expected a non-empty, duplicate-free subset in the order "
                    f"{list(order)}; a different order silently ruins a trained checkpoint"
                )
        if self.domain is not None and self.kind != "tvsum":
            raise ValueError(f"domain={self.domain!r} is for TVSum rows; got kind={self.kind!r} (leave domain None)")
        if self.kind == "qvhighlights" and self.saliency_pairs is not None and self.saliency_pairs % 2:
            raise ValueError(
                f"saliency_pairs={self.saliency_pairs} for qvhighlights: expected an even k "
                "(k/2 hardest + k/2 random clips)"
            )
        return self

    @classmethod
    def for_kind(cls, kind: DatasetKind, blip2: bool = False, **overrides: Any) -> DatasetConfig:
        """The paper's inputs for `kind`: SlowFast+CLIP / CLIP, or with `blip2` the "-B" inputs."""
        if blip2:
            overrides.setdefault("video_extractors", ("slowfast", "clip", "blip2"))
            overrides.setdefault("text_encoders", ("clip", "blip2"))
        return cls(kind=kind, **overrides)
