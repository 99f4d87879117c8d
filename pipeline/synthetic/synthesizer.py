"""Rows of one video from its decoded chunks: caption the representative frames, filter, score every clip."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pipeline.extract import ExtractConfig, build_text_encoders
from pipeline.extractors import TextEncoder
from pipeline.extractors.captioner import Blip2Captioner
from pipeline.synthetic.collect import IntervalCollector, IntervalFrames, synthesis_consumers
from pipeline.synthetic.config import SynthesizeConfig
from pipeline.synthetic.intervals import Interval, interval_qid, plan_intervals
from pipeline.synthetic.mapping import score_mapping
from pipeline.synthetic.scorer import CaptionFrameScorer
from pipeline.video import ClipChunk, VideoDecodeError

log = logging.getLogger(__name__)


@dataclass
class SynthesisModels:
    """The networks of the stage: the captioner, the caption-frame scorer, the caption text encoders."""

    captioner: Blip2Captioner
    scorer: CaptionFrameScorer
    text_encoders: dict[str, TextEncoder]

    def describe(self) -> dict[str, object]:
        return {"captioner": self.captioner.describe(), "scorer": self.scorer.describe()}


def build_synthesis_models(config: SynthesizeConfig = SynthesizeConfig()) -> SynthesisModels:
    """Build (tiny) or load (paper, offline, MissingWeightsError naming what is absent) every model the config names."""
    crop = config.decode.short_side
    if config.preset == "tiny":
        captioner = Blip2Captioner.tiny(config.seed, config.device, config.generation, crop_size=crop)
        scorer = CaptionFrameScorer.tiny(config.scorer, config.seed, config.device, crop_size=crop,
                                         max_text_tokens=config.max_text_tokens)
    else:
        captioner = Blip2Captioner.from_pretrained(config.weights_dir, "paper", config.device, config.generation,
                                                   crop_size=crop)
        scorer = CaptionFrameScorer.from_pretrained(config.weights_dir, "paper", config.scorer, config.device,
                                                    crop_size=crop, max_text_tokens=config.max_text_tokens)
    text = build_text_encoders(ExtractConfig(extractors=(), text_encoders=config.text_encoders, preset=config.preset,
                                             device=config.device, weights_dir=config.weights_dir, seed=config.seed))
    return SynthesisModels(captioner=captioner, scorer=scorer, text_encoders=text)


@dataclass
class VideoRows:
    """What one video produced.

    Attributes:
        vid: the video id.
        rows: QVHighlights-format rows (dicts ready for JSON), in time order.
        intervals: intervals planned (floor(T / interval_seconds)).
        captions_empty: captions dropped for being empty.
        captions_repeated: captions dropped for repeating the previous interval's caption verbatim.
        caption_frame_times: interval index -> timestamp (s) of the frame that was captioned.
    """

    vid: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    intervals: int = 0
    captions_empty: int = 0
    captions_repeated: int = 0
    caption_frame_times: dict[int, float] = field(default_factory=dict)


def make_row(vid: str, duration: float, interval: Interval, caption: str, scores: np.ndarray,
             config: SynthesizeConfig) -> dict[str, Any]:
    """One QVHighlights-format row: the interval as the window, its clips, `scores_per_clip` copies of each score."""
    per_clip = [[round(float(s), config.score_decimals)] * config.scores_per_clip for s in scores]
    return {"qid": interval_qid(vid, interval.start_s, interval.end_s), "query": caption,
            "duration": round(float(duration), 3), "vid": vid,
            "relevant_windows": [[interval.start_s, interval.end_s]],
            "relevant_clip_ids": list(interval.clip_ids), "saliency_scores": per_clip}


class VideoSynthesizer:
    """Turns one video's decoded chunks into rows as they arrive, holding at most a caption batch of intervals.

    Feed it the chunks of any decode pass whose consumers include `synthesis_consumers(config)`
    (`consumers` below): its own `decode_clips` call, or the extraction engine's shared pass.

        synth = VideoSynthesizer(vid, info.duration, models, config)
        for chunk in decode_clips(path, {**synth.consumers, **other_consumers}, ...):
            synth.feed(chunk)          # other consumers' frames are ignored
        result = synth.finish()
    """

    def __init__(self, vid: str, duration: float, models: SynthesisModels, config: SynthesizeConfig):
        self.vid, self.duration, self.models, self.config = vid, duration, models, config
        self.intervals = plan_intervals(vid, duration, config)
        self.consumers = synthesis_consumers(config)
        self._collector = IntervalCollector(self.intervals)
        self._ready: list[IntervalFrames] = []
        self._previous: str | None = None
        self._map = score_mapping(config.mapping, config.linear_scale)
        self.result = VideoRows(vid=vid, intervals=len(self.intervals))

    def feed(self, chunk: ClipChunk) -> None:
        """Take one chunk; captions and scores every full batch of completed intervals."""
        self._ready.extend(self._collector.feed(chunk))
        size = self.config.caption_batch_size
        while len(self._ready) >= size:
            batch, self._ready = self._ready[:size], self._ready[size:]
            self._process(batch)

    def finish(self) -> VideoRows:
        """Process the last intervals; raises VideoDecodeError if the chunks did not cover every interval."""
        if self._collector.incomplete:
            raise VideoDecodeError(self.vid, f"the decoded clips did not cover intervals {self._collector.incomplete} "
                                   f"of the {self.duration:.2f} s video")
        if self._ready:
            batch, self._ready = self._ready, []
            self._process(batch)
        return self.result

    def _keep(self, caption: str) -> bool:
        previous, self._previous = self._previous, caption
        if len(caption.strip()) < self.config.min_caption_chars:
            self.result.captions_empty += 1
            return False
        if previous is not None and caption == previous:
            self.result.captions_repeated += 1
            return False
        return True

    def _process(self, batch: list[IntervalFrames]) -> None:
        cfg = self.config
        captions = self.models.captioner.caption([f.caption_frame for f in batch], cfg.caption_batch_size)
        for f in batch:
            self.result.caption_frame_times[f.interval.index] = f.caption_frame_time
        kept = [(f, c) for f, c in zip(batch, captions) if self._keep(c)]
        if not kept:
            return
        frames = [f.clip_frames[c] for f, _ in kept for c in f.interval.clip_ids]
        texts = [cap for f, cap in kept for _ in f.interval.clip_ids]
        scores = self._map(self.models.scorer.score(frames, texts, cfg.score_batch_size))
        at = 0
        for f, cap in kept:
            n = len(f.interval.clip_ids)
            self.result.rows.append(make_row(self.vid, self.duration, f.interval, cap, scores[at:at + n], cfg))
            at += n


def synthesize_chunks(vid: str, duration: float, chunks: Iterable[ClipChunk], models: SynthesisModels,
                      config: SynthesizeConfig = SynthesizeConfig()) -> VideoRows:
    """Rows of one video from already-decoded chunks (a decode pass with `synthesis_consumers(config)`)."""
    synth = VideoSynthesizer(vid, duration, models, config)
    for chunk in chunks:
        synth.feed(chunk)
    return synth.finish()
