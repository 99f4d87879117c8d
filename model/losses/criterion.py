"""SetCriterion: every VideoLights loss term, weighted, and their total."""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor, nn

from model.losses.alignment import query_token_contrastive_loss, video_text_alignment_loss
from model.losses.moment import label_loss, matched_index, matched_targets, span_losses
from model.losses.saliency import (
    adaptive_weight,
    cosine_loss,
    hard_losses,
    margin_ranking_loss,
    negative_pair_loss,
    rank_contrastive_loss,
    shift_to_nonnegative,
)
from model.matcher import HungarianMatcher

Indices = list[tuple[Tensor, Tensor]]
#: Terms that depend on the matching and are repeated on every decoder layer (suffix _i).
MATCHED_TERMS = ("loss_span", "loss_giou", "loss_label", "loss_align_query")


class SetCriterion(nn.Module):
    """Computes the terms named in `weight_dict` (weight 0 or absent = not computed).

    Targets (a dict):
      span_labels: list of B dicts {"spans": float (n_i, 2) normalised (centre, width)}
          (needed by the moment and query-alignment terms);
      saliency_pos_labels / saliency_neg_labels: int64 (B, k) clip indices (margin term);
      saliency_all_labels: float (B, L) clip scores, 0 at padding (other saliency terms);
      epoch: int, current epoch for W_j = (epoch + 1) * hard_coefficient; absent = 0
          (as at evaluation: factor 1).
    Clips with saliency_all_labels > 0 are the "positive" clips of the hard-positive term.
    With B == 1 the model makes no negative pass; the negative-pair term is then skipped and
    the rank-contrastive term uses the positive clips only.
    forward() returns each term already multiplied by its weight, plus "total".
    """

    def __init__(
        self,
        matcher: HungarianMatcher,
        weight_dict: dict[str, float],
        eos_coef: float = 0.1,
        saliency_margin: float = 0.2,
        rank_tau: float = 0.5,
        rank_levels: int = 12,
        hard_coefficient: float = 10.0,
        align_temperature: float = 0.07,
    ) -> None:
        super().__init__()
        self.matcher = matcher
        self.weight_dict = {k: v for k, v in weight_dict.items() if v != 0}
        self.eos_coef, self.saliency_margin = eos_coef, saliency_margin
        self.rank_tau, self.rank_levels = rank_tau, rank_levels
        self.hard_coefficient, self.align_temperature = hard_coefficient, align_temperature
        self.families = families = self._loss_families()
        unknown = {k.rsplit("_", 1)[0] if k[-1].isdigit() else k for k in self.weight_dict}
        unknown -= {k for keys in families for k in keys}
        if unknown:
            known = sorted(k for keys in families for k in keys)
            raise ValueError(f"weight_dict names unknown terms {sorted(unknown)}; known: {known}")

    def _loss_families(self) -> dict[tuple[str, ...], Callable[..., dict[str, Tensor]]]:
        """Term names -> the method computing them; subclasses add their models' terms."""
        return {
            ("loss_span", "loss_giou"): self.loss_spans,
            ("loss_label",): self.loss_labels,
            ("loss_align_query",): self.loss_align_query,
            ("loss_align_video",): self.loss_align_video,
            ("loss_saliency_margin",): self.loss_margin,
            ("loss_rank_contrastive",): self.loss_rank_contrastive,
            ("loss_neg_pair",): self.loss_neg_pair,
            ("loss_task_specific",): self.loss_task_specific,
            ("loss_task_coupled",): self.loss_task_coupled,
            ("loss_hard_pos", "loss_hard_neg"): self.loss_hard,
        }

    def _active(self, suffix: str = "", matched_only: bool = False) -> list[Callable]:
        return [
            method
            for keys, method in self.families.items()
            if any(k + suffix in self.weight_dict for k in keys)
            and (not matched_only or keys[0] in MATCHED_TERMS)
        ]

    def _match(self, outputs: dict, targets: dict) -> Indices:
        spans = [t["spans"] for t in _require(targets, "span_labels")]
        return self.matcher(outputs["pred_logits"], outputs["pred_spans"], spans)

    def forward(self, outputs: dict[str, Any], targets: dict[str, Any]) -> dict[str, Tensor]:
        """Return {term: weighted value} for every active term, plus "total" (see _total)."""
        needs_match = any(k in self.weight_dict for k in MATCHED_TERMS)
        indices = self._match(outputs, targets) if needs_match else None
        terms: dict[str, Tensor] = {}
        for method in self._active():
            terms.update(method(outputs, targets, indices))
        for i, aux in enumerate(outputs.get("aux_outputs", [])):
            methods = self._active(f"_{i}", matched_only=True)
            if not methods:
                continue
            layer_outputs = {**outputs, **aux}
            layer_indices = self._match(layer_outputs, targets)
            for method in methods:
                found = method(layer_outputs, targets, layer_indices)
                terms.update({f"{k}_{i}": v for k, v in found.items()})
        weighted = {k: v * self.weight_dict[k] for k, v in terms.items() if k in self.weight_dict}
        weighted["total"] = self._total(weighted, outputs)
        return weighted

    def _total(self, weighted: dict[str, Tensor], outputs: dict[str, Any]) -> Tensor:
        """The objective from the weighted terms: their sum (subclasses may combine otherwise)."""
        return torch.stack(list(weighted.values())).sum()

    # --- moment retrieval -------------------------------------------------------------
    def loss_spans(self, outputs: dict, targets: dict, indices: Indices) -> dict[str, Tensor]:
        """L1 on (centre, width) and 1 - gIoU of matched spans."""
        batch, query = matched_index(indices)
        pred = outputs["pred_spans"][batch, query]  # (K, 2)
        spans = [t["spans"] for t in targets["span_labels"]]
        l1, giou = span_losses(pred, matched_targets(spans, indices).to(pred))
        return {"loss_span": l1, "loss_giou": giou}

    def loss_labels(self, outputs: dict, targets: dict, indices: Indices) -> dict[str, Tensor]:
        """Foreground for matched queries, background (weight eos_coef) for the rest."""
        logits = outputs["pred_logits"]
        matched = torch.zeros(logits.shape[:2], dtype=torch.bool, device=logits.device)
        matched[matched_index(indices)] = True
        return {"loss_label": label_loss(logits, matched, self.eos_coef)}

    def loss_align_query(self, outputs: dict, targets: dict, indices: Indices) -> dict[str, Tensor]:
        """Query-token contrastive alignment (Eq. 4)."""
        queries = outputs["proj_queries"]
        matched = torch.zeros(queries.shape[:2], dtype=torch.bool, device=queries.device)
        matched[matched_index(indices)] = True
        loss = query_token_contrastive_loss(
            queries, outputs["proj_txt"], outputs["text_mask"], matched, self.align_temperature
        )
        return {"loss_align_query": loss}

    def loss_align_video(self, outputs: dict, targets: dict, indices: Any) -> dict[str, Tensor]:
        """Video-text alignment of refined clips with the ground-truth saliency (Eqs. 5-6)."""
        loss = video_text_alignment_loss(
            outputs["video_refined"],
            outputs["text_projected"],
            outputs["video_mask"],
            outputs["text_mask"],
            _labels(targets, outputs),
        )
        return {"loss_align_video": loss}

    # --- highlight detection ----------------------------------------------------------
    def loss_margin(self, outputs: dict, targets: dict, indices: Any) -> dict[str, Tensor]:
        """Margin ranking over sampled positive / negative clips."""
        pos = _require(targets, "saliency_pos_labels")
        neg = _require(targets, "saliency_neg_labels")
        loss = margin_ranking_loss(outputs["saliency_scores"], pos, neg, self.saliency_margin)
        return {"loss_saliency_margin": loss}

    def loss_rank_contrastive(
        self, outputs: dict, targets: dict, indices: Any
    ) -> dict[str, Tensor]:
        """Rank-contrastive loss over the clips, with negative-pair clips as extra negatives."""
        scores, mask = outputs["saliency_scores"], outputs["video_mask"]
        labels = _labels(targets, outputs)
        if "saliency_scores_neg" in outputs:
            scores = torch.cat([scores, outputs["saliency_scores_neg"]], dim=1)  # (B, 2L)
            labels = torch.cat([labels, torch.zeros_like(labels)], dim=1)
            mask = torch.cat([mask, mask], dim=1)
        loss = rank_contrastive_loss(scores, labels, mask, self.rank_tau, self.rank_levels)
        return {"loss_rank_contrastive": loss}

    def loss_neg_pair(self, outputs: dict, targets: dict, indices: Any) -> dict[str, Tensor]:
        """Clips under a mismatched query should not be salient (skipped when B == 1)."""
        if "saliency_scores_neg" not in outputs:
            return {}
        loss = negative_pair_loss(outputs["saliency_scores_neg"], outputs["video_mask"])
        return {"loss_neg_pair": loss}

    def loss_task_specific(self, outputs: dict, targets: dict, indices: Any) -> dict[str, Tensor]:
        """Eq. 11: 1 - cos(saliency, ground truth)."""
        mask = outputs["video_mask"]
        pred = shift_to_nonnegative(outputs["saliency_scores"], mask)
        return {"loss_task_specific": cosine_loss(pred, _labels(targets, outputs), mask)}

    def loss_task_coupled(self, outputs: dict, targets: dict, indices: Any) -> dict[str, Tensor]:
        """Eq. 12 (Uni-JFM): 1 - cos(saliency from the top-1 moment, ground truth)."""
        mask = outputs["video_mask"]
        pred = shift_to_nonnegative(outputs["saliency_scores_mr"], mask)
        return {"loss_task_coupled": cosine_loss(pred, _labels(targets, outputs), mask)}

    def loss_hard(self, outputs: dict, targets: dict, indices: Any) -> dict[str, Tensor]:
        """Eqs. 8-10 with W_j = (epoch + 1) * hard_coefficient."""
        weight = adaptive_weight(int(targets.get("epoch", 0)), self.hard_coefficient)
        pos, neg = hard_losses(
            outputs["saliency_scores"], _labels(targets, outputs), outputs["video_mask"], weight
        )
        return {"loss_hard_pos": pos, "loss_hard_neg": neg}


def _require(targets: dict, key: str) -> Any:
    if key not in targets:
        raise ValueError(
            f"targets lack {key!r} (have {sorted(targets)}); the data layer must provide it "
            "or the loss terms that need it must have weight 0"
        )
    return targets[key]


def _labels(targets: dict, outputs: dict) -> Tensor:
    labels = _require(targets, "saliency_all_labels")
    return labels.to(outputs["saliency_scores"].dtype)
