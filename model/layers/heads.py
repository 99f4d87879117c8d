"""Moment heads on the anchor decoder's queries: fg/bg class logits and anchor-relative spans."""

from __future__ import annotations

from torch import Tensor, nn

from model.layers.mlp import MLP
from model.spans import inverse_sigmoid


class MomentHeads(nn.Module):
    """Class head d -> 2 (index 0 = foreground) and span head MLP d -> d -> 2 (3 layers).

    Spans are predicted as offsets, in logit space, from the anchors each decoder layer
    started from (DAB-DETR), so every layer yields normalised (centre, width) spans.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.class_head = nn.Linear(dim, 2)
        self.span_head = MLP(dim, dim, 2, 3)

    def forward(self, hidden: Tensor, references: Tensor) -> dict:
        """Predictions of every decoder layer.

        Args:
            hidden: float (n, B, Q, D) decoder states, n = decoder layers.
            references: float (n, B, Q, 2) normalised (centre, width) anchors of each layer.

        Returns:
            {"pred_logits": (B, Q, 2), "pred_spans": (B, Q, 2) of the last layer,
             "aux_outputs": list (n - 1) of dicts with the same two keys for earlier layers}.
        """
        logits = self.class_head(hidden)  # (n, B, Q, 2)
        spans = (self.span_head(hidden) + inverse_sigmoid(references)).sigmoid()  # (n, B, Q, 2)
        layers = [{"pred_logits": lg, "pred_spans": sp} for lg, sp in zip(logits, spans)]
        out = dict(layers[-1])
        out["aux_outputs"] = layers[:-1]
        return out
