"""Extraction: one decode pass per video feeds every extractor and the stages riding on it; features to the store."""

from pipeline.extract.config import (
    DECODE_VERSION,
    DONE_ELSEWHERE,
    GRID_CONSUMER,
    GRID_EXTRACTOR,
    DecodeConfig,
    ExtractConfig,
)
from pipeline.extract.encoders import build_text_encoders, build_video_extractors, text_entry_spec, video_entry_spec
from pipeline.extract.engine import PROGRESS_KEY, ExtractionEngine, extract_videos
from pipeline.extract.grid import (
    DecodeRecord,
    GridTap,
    decode_or_fail,
    decode_video_to_store,
    failed_record,
)
from pipeline.extract.plan import FEATURES_CURRENT, ExtractRecord, VideoJob, plan_videos, resolve_videos
from pipeline.extract.queries import extract_queries
from pipeline.extract.taps import DecodeTap, TapSession

__all__ = [
    "DECODE_VERSION",
    "DONE_ELSEWHERE",
    "FEATURES_CURRENT",
    "GRID_CONSUMER",
    "GRID_EXTRACTOR",
    "PROGRESS_KEY",
    "DecodeConfig",
    "DecodeRecord",
    "DecodeTap",
    "ExtractConfig",
    "ExtractRecord",
    "ExtractionEngine",
    "GridTap",
    "TapSession",
    "VideoJob",
    "build_text_encoders",
    "build_video_extractors",
    "decode_or_fail",
    "decode_video_to_store",
    "extract_queries",
    "extract_videos",
    "failed_record",
    "plan_videos",
    "resolve_videos",
    "text_entry_spec",
    "video_entry_spec",
]
