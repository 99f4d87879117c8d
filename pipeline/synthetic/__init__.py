"""Synthetic pretraining data (paper, Algorithm 1): BLIP-2 captions of 10-s intervals, scored per 2-s clip."""

from pipeline.synthetic.collect import CAPTION_CONSUMER, SCORE_CONSUMER, IntervalCollector, synthesis_consumers
from pipeline.synthetic.config import SynthesizeConfig
from pipeline.synthetic.intervals import Interval, interval_qid, n_intervals, plan_intervals
from pipeline.synthetic.mapping import identity_score, linear_score, release_score, score_mapping
from pipeline.synthetic.output import OutputLockedError, OutputMismatchError, SynthesisOutput
from pipeline.synthetic.run import (
    SynthesisJob,
    SynthesisRecord,
    SynthesisSummary,
    SynthesisTap,
    open_synthesis,
    synthesize,
)
from pipeline.synthetic.synthesizer import (
    SynthesisModels,
    VideoRows,
    VideoSynthesizer,
    build_synthesis_models,
    synthesize_chunks,
)

__all__ = [
    "CAPTION_CONSUMER",
    "SCORE_CONSUMER",
    "Interval",
    "IntervalCollector",
    "OutputLockedError",
    "OutputMismatchError",
    "SynthesisModels",
    "SynthesisOutput",
    "SynthesisJob",
    "SynthesisRecord",
    "SynthesisSummary",
    "SynthesisTap",
    "SynthesizeConfig",
    "VideoRows",
    "VideoSynthesizer",
    "build_synthesis_models",
    "identity_score",
    "interval_qid",
    "linear_score",
    "n_intervals",
    "open_synthesis",
    "plan_intervals",
    "release_score",
    "score_mapping",
    "synthesis_consumers",
    "synthesize",
    "synthesize_chunks",
]
