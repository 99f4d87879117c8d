"""The parent flow's report: each step done / skipped / failed (with the reason), the metrics table
(model vs chance), and where everything was written."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

StepStatus = Literal["done", "skipped", "failed", "off", "not reached"]


class StepOutcome(BaseModel):
    """One step of a run: what happened and a one-line detail (counts, the reason of a failure)."""

    step: str
    status: StepStatus
    detail: str = ""
    seconds: float = 0.0


class MetricsRow(BaseModel):
    """One row of the metrics table: a model (or the chance level) on the val split."""

    name: str
    metrics: dict[str, float]
    checkpoint: str = ""


class PipelineReport(BaseModel):
    """What a pipeline run did and produced."""

    name: str
    dataset: str
    steps: list[StepOutcome] = []
    headline: list[str] = []
    rows: list[MetricsRow] = []
    outputs: dict[str, str] = {}
    tiny: bool = False
    seconds: float = 0.0
    failed_items: int = 0

    @property
    def ok(self) -> bool:
        """Every step ran and no item (video) of a step failed."""
        return not self.failed_items and all(s.status not in ("failed", "not reached") for s in self.steps)

    def failure(self) -> str:
        """One line: the failed steps and the count of failed items ("" when ok)."""
        parts = [f"{s.step}: {s.detail}" for s in self.steps if s.status == "failed"]
        if self.failed_items:
            parts.append(f"{self.failed_items} video(s) failed (named in the step details and the report)")
        return "; ".join(parts)

    def table_rows(self) -> list[dict[str, object]]:
        """Rows for a table artifact: one per model, the headline metrics as columns."""
        return [{"model": r.name, **{m: r.metrics.get(m, float("nan")) for m in self.headline}} for r in self.rows]

    def _metrics_lines(self) -> list[str]:
        lines = ["| model | " + " | ".join(self.headline) + " |", "|---" * (len(self.headline) + 1) + "|"]
        for r in self.rows:
            cells = [f"{r.metrics[m]:.2f}" if m in r.metrics else "-" for m in self.headline]
            lines.append(f"| {r.name} | " + " | ".join(cells) + " |")
        return lines

    def markdown(self) -> str:
        lines = [f"# {self.name}: {self.dataset}", ""]
        if self.tiny:
            lines += ["> tiny presets: random small encoders and models, for demos and tests only", ""]
        lines += ["| step | status | detail | seconds |", "|---|---|---|---|"]
        lines += [f"| {s.step} | {s.status} | {s.detail} | {s.seconds:.1f} |" for s in self.steps]
        if self.rows:
            lines += ["", "## Metrics (val split, %)", ""] + self._metrics_lines()
        if self.outputs:
            lines += ["", "## Outputs", ""] + [f"- {what}: `{where}`" for what, where in self.outputs.items()]
        return "\n".join(lines) + "\n"

    def text(self) -> str:
        width = max((len(s.step) for s in self.steps), default=4)
        lines = [f"{self.name} ({self.dataset}) in {self.seconds:.0f} s"
                 + ("  [tiny presets: demo/test only]" if self.tiny else "")]
        lines += [f"  {s.step:<{width}}  {s.status:<11} {s.detail}" for s in self.steps]
        if self.rows:
            name_width = max(len(r.name) for r in self.rows)
            header = "  " + " " * name_width + "  " + "  ".join(f"{m:>{max(len(m), 6)}}" for m in self.headline)
            lines += ["", "metrics (val split, %):", header]
            for r in self.rows:
                cells = "  ".join(f"{r.metrics.get(m, float('nan')):>{max(len(m), 6)}.2f}" for m in self.headline)
                lines.append(f"  {r.name:<{name_width}}  {cells}")
        if self.outputs:
            lines += [""] + [f"{what}: {where}" for what, where in self.outputs.items()]
        return "\n".join(lines)
