"""Output helpers shared by the models' forward passes."""

from __future__ import annotations

from torch import Tensor, nn

from model.spans import inverse_sigmoid


def aux_outputs(logits: Tensor, spans: Tensor) -> list[dict[str, Tensor]]:
    """The release's aux_outputs: [{pred_logits, pred_spans}] of every decoder layer but the last.

    Args:
        logits: (layers, B, Q, 2); spans: (layers, B, Q, 2).
    """
    return [{"pred_logits": a, "pred_spans": b} for a, b in zip(logits[:-1], spans[:-1])]


def anchor_spans(span_embed: nn.Module, hs: Tensor, references: Tensor) -> Tensor:
    """DAB span head: sigmoid(span_embed(hs) + inverse_sigmoid(reference anchors)).

    Args:
        hs: (layers, B, Q, d) decoder outputs; references: (layers, B, Q, 2) anchors in [0, 1].

    Returns:
        (layers, B, Q, 2) normalised (centre, width).
    """
    return (span_embed(hs) + inverse_sigmoid(references)).sigmoid()
