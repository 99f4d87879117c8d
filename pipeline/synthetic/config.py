"""Settings of the synthesize stage (paper, Algorithm 1): intervals, frame rule, captioner, scorer, score mapping."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pipeline.extract import DecodeConfig
from pipeline.extractors.captioner import GenerationSettings

FrameRule = Literal["middle", "first", "random"]
Scorer = Literal["itm", "itc"]
Mapping = Literal["release", "identity", "linear"]

#: Config fields that do not change the rows written (where and how fast they are computed, which
#: videos are attempted, which text features go to the store): a run may resume with other values.
RUN_ONLY_FIELDS = frozenset({"device", "weights_dir", "caption_batch_size", "score_batch_size", "text_batch_size",
                             "text_encoders", "max_duration"})


class SynthesizeConfig(BaseModel):
    """How synthetic pretraining rows are made (paper, Algorithm 1; the release where the paper is silent).

    Attributes:
        preset: "tiny" (small random seeded captioner, scorer and text encoders; rows and store entries
            are labelled tiny) or "paper" (Salesforce/blip2-opt-2.7b, Salesforce/blip2-itm-vit-g, CLIP ViT-B/32).
        device: "cpu", "cuda" or "cuda:N".
        weights_dir: root of the paper weights (None: the Hugging Face / open_clip caches).
        seed: initialisation seed of the tiny models and seed of the "random" frame rule.
        decode: clip grid (clip_seconds: the relevant_clip_ids grid, 2 s), decoder back-end, chunking,
            and the short side (pixels) frames are decoded at for captioning and scoring.
        interval_seconds: length of the captioned intervals (s); n = floor(T / interval_seconds) per
            video; a multiple of decode.clip_seconds.
        frame_rule: the representative frame of an interval: "middle" (the frame shown at
            start + interval/2: the paper's choice), "first" (the frame at the start), or "random"
            (a seeded uniform time in the interval, on a grid of `random_frames_per_clip` per clip).
        random_frames_per_clip: time resolution of the "random" rule (frames offered per clip).
        score_frame_offset: which frame of each clip is scored, as a fraction of the clip (0.0: its
            first frame).
        scorer: caption-frame similarity: "itm" (BLIP-2 image-text matching probability, in [0, 1]),
            "itc" (BLIP-2 Q-Former contrastive similarity: max over the 32 query embeddings of the
            cosine with the caption embedding, in [-1, 1]; the paper's "cosine similarity").
        mapping: similarity -> saliency score, see `pipeline.synthetic.mapping`: "release"
            (clamp(exp(clamp(2.5 s, min=1)), min=2), in [e, e^2.5] = [2.72, 12.18]), "identity"
            (max(s, 0), the paper's s_i = Sim), "linear" (linear_scale * clamp(s, 0, 1)).
        linear_scale: top of the "linear" mapping (12 = QVHighlights' summed 3 x 4 annotator scale).
        scores_per_clip: entries per clip in saliency_scores: 1 as the release wrote them, up to 3
            identical copies to imitate QVHighlights' annotators (the loader sums them: k copies
            scale every target by k).
        score_decimals: decimals kept of each score in the jsonl.
        generation: captioner decoding settings (deterministic: greedy or beam search).
        caption_batch_size: intervals captioned per generate call (and scored together).
        score_batch_size: (frame, caption) pairs per scorer call.
        text_batch_size: captions per text-encoder call.
        max_text_tokens: caption tokens the scorer reads (BLIP-2's Q-Former text length, 32).
        text_encoders: encoders whose caption features go into the store (clip, blip2).
        min_caption_chars: captions shorter than this (after stripping) count as empty.
        max_duration: videos longer than this (s) are skipped with a reason; None: no limit (the
            release skipped videos over 500 s).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    preset: Literal["tiny", "paper"] = "tiny"
    device: str = "cpu"
    weights_dir: str | None = None
    seed: int = 0
    decode: DecodeConfig = DecodeConfig()
    interval_seconds: float = Field(default=10.0, gt=0)
    frame_rule: FrameRule = "middle"
    random_frames_per_clip: int = Field(default=4, ge=1)
    score_frame_offset: float = Field(default=0.0, ge=0.0, lt=1.0)
    scorer: Scorer = "itm"
    mapping: Mapping = "release"
    linear_scale: float = Field(default=12.0, gt=0)
    scores_per_clip: int = Field(default=1, ge=1, le=3)
    score_decimals: int = Field(default=4, ge=0, le=8)
    generation: GenerationSettings = GenerationSettings()
    caption_batch_size: int = Field(default=16, ge=1)
    score_batch_size: int = Field(default=64, ge=1)
    text_batch_size: int = Field(default=64, ge=1)
    max_text_tokens: int = Field(default=32, ge=2)
    text_encoders: tuple[Literal["clip", "blip2"], ...] = ("clip", "blip2")
    min_caption_chars: int = Field(default=1, ge=1)
    max_duration: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _interval_on_clip_grid(self) -> SynthesizeConfig:
        ratio = self.interval_seconds / self.decode.clip_seconds
        if abs(ratio - round(ratio)) > 1e-9 or round(ratio) < 1:
            raise ValueError(
                f"interval_seconds={self.interval_seconds:g} is not a multiple of decode.clip_seconds="
                f"{self.decode.clip_seconds:g}; an interval must cover whole clips of the relevant_clip_ids grid"
            )
        return self

    @property
    def clips_per_interval(self) -> int:
        return int(round(self.interval_seconds / self.decode.clip_seconds))

    def caption_offsets(self) -> tuple[float, ...]:
        """Offsets (fractions of a clip) the caption consumer samples so every rule's frame is on its grid.

        >>> SynthesizeConfig().caption_offsets()
        (0.5,)
        >>> SynthesizeConfig(frame_rule="first").caption_offsets()
        (0.0,)
        >>> SynthesizeConfig(frame_rule="random", random_frames_per_clip=4).caption_offsets()
        (0.0, 0.25, 0.5, 0.75)
        """
        if self.frame_rule == "first":
            return (0.0,)
        if self.frame_rule == "middle":
            clips = self.interval_seconds / 2 / self.decode.clip_seconds
            return (round(clips - math.floor(clips), 9),)
        g = self.random_frames_per_clip
        return tuple(k / g for k in range(g))

    def rows_manifest(self) -> dict[str, object]:
        """The settings that decide the rows (RUN_ONLY_FIELDS and decoder plumbing left out)."""
        data = self.model_dump(mode="json", exclude=set(RUN_ONLY_FIELDS))
        data["decode"] = {"clip_seconds": self.decode.clip_seconds, "short_side": self.decode.short_side}
        return data
