"""Plot a prediction: the saliency curve over the video timeline with the predicted moments."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

#: Moments drawn per query (the best ones; their opacity follows their score).
SHOWN_MOMENTS = 5


def plot_prediction(result: Mapping | Sequence[Mapping], out_png: str | os.PathLike, *,
                    clip_seconds: float | None = None, dpi: int = 100) -> Path:
    """Draw one panel per query: saliency per clip against time, predicted moments as spans.

    Uses matplotlib's Agg canvas directly (no GUI backend, no global pyplot state).

    Args:
        result: a Predictor.predict result (or a list of them, one panel each): needs
            "pred_saliency_scores" and "pred_relevant_windows"; "query", "clip_seconds",
            "duration" and "relevant_windows" (the true moments, drawn as a green bar) are used
            when present.
        out_png: output file.
        clip_seconds: clip length when the result does not carry it (default 2 s).
        dpi: resolution.

    Returns:
        The written path.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    results = [result] if isinstance(result, Mapping) else list(result)
    if not results:
        raise ValueError("plot_prediction got no result to draw")
    fig = Figure(figsize=(10, 2.6 * len(results)), dpi=dpi)
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(results), 1, squeeze=False)[:, 0]
    for ax, res in zip(axes, results):
        _panel(ax, res, clip_seconds)
    axes[-1].set_xlabel("time (s)")
    fig.tight_layout()
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png")
    return out


def _panel(ax, res: Mapping, clip_seconds: float | None) -> None:
    step = float(res.get("clip_seconds") or clip_seconds or 2.0)
    saliency = np.asarray(res["pred_saliency_scores"], dtype=np.float64)
    duration = float(res.get("duration") or len(saliency) * step)
    centres = (np.arange(len(saliency)) + 0.5) * step
    windows = list(res["pred_relevant_windows"])[:SHOWN_MOMENTS]
    top = max((w[2] for w in windows), default=1.0) or 1.0
    for rank, (start, end, score) in enumerate(windows):
        label = f"moment {start:.0f}-{end:.0f} s ({score:.2f})" if rank == 0 else None
        ax.axvspan(start, end, color="tab:orange", alpha=0.15 + 0.45 * max(score, 0) / top, lw=0, label=label)
    for i, (start, end) in enumerate(res.get("relevant_windows") or []):
        ax.axvspan(start, end, ymin=0, ymax=0.06, color="tab:green", lw=0, label="true moment" if i == 0 else None)
    ax.plot(centres, saliency, color="tab:blue", marker=".", lw=1.2, label="saliency")
    ax.set_xlim(0, duration)
    ax.set_ylabel("saliency")
    ax.set_title(str(res.get("query", "")), fontsize=10, loc="left")
    ax.legend(loc="upper right", fontsize=8)
