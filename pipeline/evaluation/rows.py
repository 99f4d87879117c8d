"""JSON-lines rows that remember where they came from, and the error that names them."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.common.errors import UserInputError

log = logging.getLogger(__name__)


class SubmissionError(UserInputError, ValueError):
    """A submission or ground-truth file that cannot be evaluated.

    The message names the file (when known), the line or row, the qid when there is one,
    what was found and what was expected.
    """


@dataclass(frozen=True)
class Rows:
    """Parsed rows plus the information needed to point at one of them in an error.

    Attributes:
        rows: the decoded JSON objects, in file order.
        line_numbers: 1-based line number in the file of each row (blank lines skipped),
            or 1-based row index when the rows did not come from a file.
        source: the file path, or a label such as ``"submission"`` for in-memory rows.
        from_file: whether ``source`` is a path (errors then say "line", else "row").
    """

    rows: Sequence[Mapping]
    line_numbers: Sequence[int]
    source: str
    from_file: bool = False

    def __len__(self) -> int:
        return len(self.rows)

    def where(self, index: int) -> str:
        """Human-readable location of row ``index`` (0-based), e.g. ``preds.jsonl, line 7``."""
        if self.from_file:
            return f"{self.source}, line {self.line_numbers[index]}"
        return f"{self.source} row {self.line_numbers[index]}"

    def where_qid(self, index: int) -> str:
        """Like :meth:`where`, with the row's qid appended when it has one."""
        row = self.rows[index]
        if isinstance(row, Mapping) and "qid" in row:
            return f"{self.where(index)} (qid {row['qid']!r})"
        return self.where(index)


def as_rows(rows: Rows | Sequence[Mapping], label: str) -> Rows:
    """Wrap in-memory rows (a list of dicts) so errors can name them as ``<label> row <n>``.

    Args:
        rows: a :class:`Rows` (returned unchanged) or a sequence of dicts.
        label: what the rows are, used in error messages (``"submission"``, ``"ground truth"``).
    """
    if isinstance(rows, Rows):
        return rows
    if isinstance(rows, (str, bytes, Mapping)) or not isinstance(rows, Sequence):
        raise SubmissionError(
            f"{label}: expected a list of row dicts (or a Rows from read_jsonl), "
            f"got {type(rows).__name__}"
        )
    return Rows(rows=list(rows), line_numbers=range(1, len(rows) + 1), source=label)


def read_jsonl(path: str | Path) -> Rows:
    """Read a JSON-lines file, keeping each row's line number for error messages.

    Blank lines are skipped; every other line must be one JSON object.

    Raises:
        SubmissionError: a line is not valid JSON or not an object (the message names the
            file and the line).
    """
    path = Path(path)
    rows, line_numbers = [], []
    with path.open("r", encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise SubmissionError(
                    f"{path}, line {line_no}: not valid JSON ({err.msg} at column {err.colno}); "
                    "expected one JSON object per line"
                ) from None
            if not isinstance(row, dict):
                raise SubmissionError(
                    f"{path}, line {line_no}: got a JSON {type(row).__name__}, "
                    "expected a JSON object per line"
                )
            rows.append(row)
            line_numbers.append(line_no)
    log.debug("read %d rows from %s", len(rows), path)
    return Rows(rows=rows, line_numbers=line_numbers, source=str(path), from_file=True)
