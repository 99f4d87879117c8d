"""Inference: submission files for dataset splits, a Predictor for raw videos, prediction plots."""

from pipeline.inference.plot import plot_prediction
from pipeline.inference.predictor import EncodedVideo, Predictor
from pipeline.inference.submission import InferResult, infer, predict_rows, write_jsonl
from pipeline.inference.windows import merge_moments, merge_saliency, nms, window_starts

__all__ = [
    "EncodedVideo",
    "InferResult",
    "Predictor",
    "infer",
    "merge_moments",
    "merge_saliency",
    "nms",
    "plot_prediction",
    "predict_rows",
    "window_starts",
    "write_jsonl",
]
