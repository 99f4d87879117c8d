"""Turn normalised model outputs into windows in seconds and per-clip saliency."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from model.spans import round_to_grid, span_cxw_to_xx


def spans_to_windows(
    spans_cxw: Tensor, scores: Tensor, duration: float, clip_seconds: float, top_k: int
) -> list[list[float]]:
    """Normalised spans of one video -> top-k windows [start_s, end_s, score] by score.

    Boundaries are scaled by the duration, rounded to the clip grid and clamped to
    [0, duration].

    Args:
        spans_cxw: float (Q, 2) normalised (centre, width).
        scores: float (Q,) foreground probabilities.
        duration: video length in seconds.
        clip_seconds: clip length in seconds (the grid step).
        top_k: number of windows kept.

    Returns:
        up to top_k lists [start_s, end_s, score], highest score first.

    >>> spans, scores = torch.tensor([[0.5, 0.5], [0.1, 0.1]]), torch.tensor([0.2, 0.9])
    >>> spans_to_windows(spans, scores, duration=10.0, clip_seconds=2.0, top_k=5)
    [[0.0, 2.0, 0.9], [2.0, 8.0, 0.2]]
    """
    windows = span_cxw_to_xx(spans_cxw.float()) * duration  # (Q, 2) seconds
    windows = round_to_grid(windows, clip_seconds).clamp(min=0.0, max=duration)
    order = scores.argsort(descending=True, stable=True)[:top_k]
    return [
        [float(windows[i, 0]), float(windows[i, 1]), round(float(scores[i]), 6)] for i in order
    ]


class PostProcess(nn.Module):
    """Model outputs -> per video {"windows": [[start_s, end_s, score], ...], "saliency": [...]}."""

    def __init__(self, clip_seconds: float, top_k: int = 10) -> None:
        super().__init__()
        self.clip_seconds = clip_seconds
        self.top_k = top_k

    @torch.no_grad()
    def forward(
        self, outputs: dict, video_mask: Tensor, durations: Sequence[float] | Tensor | None = None
    ) -> list[dict[str, list]]:
        """Convert a batch of predictions.

        Args:
            outputs: a model's forward output (uses pred_logits, pred_spans, saliency_scores).
            video_mask: float/bool (B, L) the batch's clip mask, 1 = valid clip.
            durations: video lengths in seconds, one per video; default = valid clips x
                clip_seconds.

        Returns:
            one dict per video: "windows", up to top_k [start_s, end_s, score] sorted by
            score (foreground probability); "saliency", one score per valid clip.
        """
        probs = outputs["pred_logits"].softmax(-1)[..., 0]  # (B, Q)
        num_clips = video_mask.sum(1).tolist()
        if durations is None:
            durations = [n * self.clip_seconds for n in num_clips]
        durations = [float(d) for d in durations]
        if len(durations) != len(num_clips):
            raise ValueError(f"got {len(durations)} durations for {len(num_clips)} videos")
        results = []
        for b, (n, duration) in enumerate(zip(num_clips, durations)):
            windows = spans_to_windows(
                outputs["pred_spans"][b], probs[b], duration, self.clip_seconds, self.top_k
            )
            saliency = outputs["saliency_scores"][b, : int(n)].tolist()
            results.append({"windows": windows, "saliency": saliency})
        return results
