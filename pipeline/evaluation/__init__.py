"""Evaluation: the official QVHighlights, Charades-STA and TVSum metrics, and the registry of dataset kinds."""

from pipeline.evaluation.evaluate import EVALUATORS, evaluate_files, evaluate_submission
from pipeline.evaluation.rows import Rows, SubmissionError, read_jsonl

__all__ = [
    "EVALUATORS",
    "Rows",
    "SubmissionError",
    "evaluate_files",
    "evaluate_submission",
    "read_jsonl",
]
