"""Read annotation jsonl files into validated, typed rows that remember their file and line."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path


from pydantic import BaseModel, ValidationError

from pipeline.datasets.errors import AnnotationError
from pipeline.datasets.rows import CharadesRow, PretrainRow, QVHighlightsRow, Row, TVSumRow
from pipeline.evaluation.kinds import DatasetKind

log = logging.getLogger(__name__)


#: Dataset kind -> the pydantic model of one of its rows.
ROW_MODELS: dict[str, type[BaseModel]] = {
    "qvhighlights": QVHighlightsRow,
    "charades_sta": CharadesRow,
    "tvsum": TVSumRow,
    "pretrain": PretrainRow,
}


@dataclass(frozen=True)
class Annotations(Sequence):
    """Typed rows of one annotation file, with where each came from.

    Attributes:
        kind: the dataset kind the rows were validated as.
        rows: the rows, in file order.
        lines: 1-based line number of each row in `source`.
        source: the file path (or a label for in-memory rows).
    """

    kind: str
    rows: tuple[Row, ...]
    lines: tuple[int, ...]
    source: str

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index):  # type: ignore[override]
        return self.rows[index]

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows)

    def where(self, index: int) -> str:
        """`"<file>, line <n> (qid <qid>)"` of row `index` (0-based), for error messages."""
        return f"{self.source}, line {self.lines[index]} (qid {self.rows[index].qid!r})"

    def select(self, indices: Sequence[int]) -> Annotations:
        """A subset of the rows (keeps their line numbers)."""
        return Annotations(self.kind, tuple(self.rows[i] for i in indices),
                           tuple(self.lines[i] for i in indices), self.source)

    @classmethod
    def from_rows(cls, kind: str, rows: Sequence[Row], source: str = "rows") -> Annotations:
        """Wrap in-memory rows; errors then name them `"<source>, line <i+1>"`."""
        return cls(kind, tuple(rows), tuple(range(1, len(rows) + 1)), source)


def read_annotations(path: str | os.PathLike, kind: DatasetKind, *, require_labels: bool = False,
                     clip_seconds: float | None = None) -> Annotations:
    """Read and validate every row of a jsonl annotation file.

    Args:
        path: the jsonl file (one JSON object per line; blank lines are skipped).
        kind: "qvhighlights", "charades_sta", "tvsum" or "pretrain" (see ROW_MODELS).
        require_labels: refuse rows without training targets (QVHighlights test rows).
        clip_seconds: clip grid of the pretraining rows' relevant_clip_ids (default 2 s).

    Returns:
        Annotations with one typed row per line.

    Raises:
        AnnotationError: naming file, line and qid of every bad row, what was found and what
            was expected (invalid JSON, missing or unknown fields, window start >= end, saliency
            entries not matching relevant_clip_ids, unsafe ids, repeated qids, ...).
        FileNotFoundError: the file does not exist.
    """
    if kind not in ROW_MODELS:
        raise ValueError(f"unknown dataset kind {kind!r}; expected one of {sorted(ROW_MODELS)}")
    path = Path(path)
    model = ROW_MODELS[kind]
    rows: list[Row] = []
    lines: list[int] = []
    problems: list[str] = []
    first_line: dict[object, int] = {}
    with path.open("r", encoding="utf-8") as handle:
        for line_no, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            row, problem = _parse_line(text, line_no, model, clip_seconds, require_labels)
            if problem is None and row.qid in first_line:
                problem = (f"line {line_no} (qid {row.qid!r}): qid already used on line "
                           f"{first_line[row.qid]}; expected unique qids")
            if problem is not None:
                problems.append(problem)
                continue
            first_line[row.qid] = line_no
            rows.append(row)
            lines.append(line_no)
    if problems:
        raise AnnotationError(str(path), problems)
    log.info("read %d %s rows from %s", len(rows), kind, path)
    return Annotations(kind, tuple(rows), tuple(lines), str(path))


def _parse_line(text: str, line_no: int, model: type[BaseModel], clip_seconds: float | None,
                require_labels: bool) -> tuple[Row | None, str | None]:
    """(row, None) or (None, "line <n> [(qid <q>)]: <what is wrong; what was expected>")."""
    where = f"line {line_no}"
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as err:
        return None, f"{where}: not valid JSON ({err.msg} at column {err.colno}); expected one JSON object per line"
    if not isinstance(obj, dict):
        return None, f"{where}: got a JSON {type(obj).__name__}; expected one JSON object per line"
    where += f" (qid {obj['qid']!r})" if "qid" in obj else ""
    context = {"row": line_no}
    if clip_seconds is not None:
        context["clip_seconds"] = clip_seconds
    try:
        row = model.model_validate(obj, context=context)
    except ValidationError as err:
        return None, f"{where}: {describe_validation_error(err, model)}"
    if require_labels and not row.has_labels:
        return None, (f"{where}: no relevant_windows/relevant_clip_ids/saliency_scores; "
                      "expected a labelled row (is this a test split?)")
    return row, None


def describe_validation_error(err: ValidationError, model: type[BaseModel]) -> str:
    """One readable sentence per pydantic error: which field, what was wrong, what was expected."""
    parts = []
    for e in err.errors(include_url=False):
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e["loc"]).lstrip(".")
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "missing":
            msg = f"missing field; {model.__name__} rows need {_fields(model)}"
        elif e["type"] == "extra_forbidden":
            msg = f"unknown field; {model.__name__} rows have only {_fields(model)}"
        elif "input" in e and e["type"] not in ("value_error", "assertion_error"):
            shown = repr(e["input"])
            msg = f"{msg} (got {shown[:60]}{'...' if len(shown) > 60 else ''})"
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


def _fields(model: type[BaseModel]) -> str:
    required = [n for n, f in model.model_fields.items() if f.is_required()]
    optional = [n for n, f in model.model_fields.items() if not f.is_required()]
    text = ", ".join(required)
    return text + (f" (optional: {', '.join(optional)})" if optional else "")
