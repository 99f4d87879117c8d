"""Plot a prediction: the saliency curve over the video timeline with the predicted moments."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

#: Moments drawn per query (the best ones; their opacity follows their score).
SHOWN_MOMENTS = 5


def plot_prediction(result: Mapping | Sequence[Mapping], out_png: str | os.PathLike, *,
                    clip_seconds: float | None = None, title: str | None = None, dpi: int = 100) -> Path:
    """Draw one panel per query: saliency per clip against time, predicted moments as spans.

    Uses matplotlib's Agg canvas directly (no GUI backend, no global pyplot state).

    Args:
        result: a Predictor.predict result (or a list of them, one panel each): needs
            "pred_saliency_scores" and "pred_relevant_windows"; "query", "clip_seconds",
            "duration" and "relevant_windows" (the true moments, drawn as a green bar) are used
            when present.
        out_png: output file.
        clip_seconds: clip length when the result does not carry it (default 2 s).
        title: the figure's title, e.g. which model predicted (the fine-tuned or the zero-shot one).
        dpi: resolution.

    Returns:
        The written path.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    results = [result] if isinstance(result, Mapping) else list(result)
    if not results:
        raise ValueError("plot_prediction got no result to draw")
    fig = Figure(figsize=(12, 2.6 * len(results) + (0.4 if title else 0)), dpi=dpi)
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(results), 1, squeeze=False)[:, 0]
    for ax, res in zip(axes, results):
        _panel(ax, res, clip_seconds)
    axes[-1].set_xlabel("time (s)")
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png")
    return out


def clip_centres(n_clips: int, clip_seconds: float, duration: float) -> np.ndarray:
    """Centre (s) of each clip on the timeline; a short last clip gets its own centre, inside the video.

    >>> clip_centres(3, 2.0, 5.0).tolist()
    [1.0, 3.0, 4.5]
    >>> clip_centres(1, 2.0, 0.04).tolist()
    [0.02]
    """
    starts = np.arange(n_clips) * clip_seconds
    return (starts + np.minimum(starts + clip_seconds, max(duration, 1e-9))) / 2


def _panel(ax, res: Mapping, clip_seconds: float | None) -> None:
    step = float(res.get("clip_seconds") or clip_seconds or 2.0)
    saliency = np.asarray(res["pred_saliency_scores"], dtype=np.float64)
    duration = float(res.get("duration") or len(saliency) * step)
    centres = clip_centres(len(saliency), step, duration)
    windows = list(res["pred_relevant_windows"])[:SHOWN_MOMENTS]
    top = max((w[2] for w in windows), default=1.0) or 1.0
    for rank, (start, end, score) in enumerate(windows):
        label = f"predicted moments (top {len(windows)}; darker: higher score)" if rank == 0 else None
        ax.axvspan(start, end, color="tab:orange", alpha=0.15 + 0.45 * max(score, 0) / top, lw=0, label=label)
        if rank == 0:
            ax.annotate(f"top moment {start:.0f}-{end:.0f} s, score {score:.2f}", (start, 1.0),
                        xycoords=("data", "axes fraction"), ha="left", va="bottom", fontsize=7)
    for i, (start, end) in enumerate(res.get("relevant_windows") or []):
        ax.axvspan(start, end, ymin=0, ymax=0.06, color="tab:green", lw=0, label="true moment" if i == 0 else None)
    ax.plot(centres, saliency, color="tab:blue", marker=".", lw=1.2, label="saliency per clip")
    ax.set_xlim(0, max(duration, 1e-3))
    ax.set_ylabel("saliency score\n(model output)")
    ax.set_title(str(res.get("query", "")), fontsize=10, loc="left", pad=12)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, borderaxespad=0)
