"""Run summaries: what was done, skipped and failed (with reasons), as text and markdown."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from pydantic import BaseModel


class _Outcome(Protocol):
    status: str
    reason: str


class ItemFailure(BaseModel):
    item: str
    reason: str


class RunSummary(BaseModel):
    """Counts of one step's items; `failures` names each failed item with its one-line reason."""

    step: str
    done: int = 0
    skipped: int = 0
    failures: list[ItemFailure] = []
    seconds: float = 0.0
    notes: list[str] = []

    @classmethod
    def from_records(cls, step: str, records: Iterable[_Outcome], name_of=lambda r: r.path,
                     seconds: float = 0.0) -> RunSummary:
        summary = cls(step=step, seconds=seconds)
        for record in records:
            if record.status == "done":
                summary.done += 1
            elif record.status == "skipped":
                summary.skipped += 1
            else:
                summary.failures.append(ItemFailure(item=str(name_of(record)), reason=record.reason))
        return summary

    @property
    def failed(self) -> int:
        return len(self.failures)

    @property
    def ok(self) -> bool:
        return not self.failures

    def text(self) -> str:
        lines = [f"{self.step}: {self.done} done, {self.skipped} skipped, {self.failed} failed"
                 f" in {self.seconds:.1f} s"]
        lines += [f"  {note}" for note in self.notes]
        lines += [f"  FAILED {f.item}: {f.reason}" for f in self.failures]
        return "\n".join(lines)

    def markdown(self) -> str:
        lines = [f"## {self.step}", "", "| done | skipped | failed | seconds |", "|---|---|---|---|",
                 f"| {self.done} | {self.skipped} | {self.failed} | {self.seconds:.1f} |"]
        lines += [""] + [f"- {note}" for note in self.notes] if self.notes else []
        if self.failures:
            lines += ["", "| failed item | reason |", "|---|---|"]
            lines += [f"| `{f.item}` | {f.reason} |" for f in self.failures]
        return "\n".join(lines)
