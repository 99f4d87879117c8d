"""CG-DETR criterion (release `cg_detr/model.py` SetCriterion): matched span/label losses, the
saliency losses on scores and on T2V attention, moment-sentence alignment, attention distillation
and dummy/prompt orthogonality. `total` is the release's training objective (train.py:62-73)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from model.zoo.cg_detr.config import ATTN_FALSE_NEGATIVE_RANK, SINGLE_FALSE_NEGATIVE_ROW, CGDETRConfig
from model.zoo.cg_detr.model import relevant_clips_of
from model.zoo.common.losses import label_losses, negative_pair, rank_contrastive, saliency_hinge, span_losses
from model.zoo.common.matcher import HungarianMatcher

def _rank(scores: Tensor, labels: Tensor, mask: Tensor, scores_neg: Tensor | None = None) -> Tensor:
    """The lineage's rank-contrastive term with the release's divisor 12 (model.py:480-497)."""
    return rank_contrastive(scores, scores_neg, labels, mask)


class CGDETRCriterion(nn.Module):
    """criterion(outputs, targets) -> every release loss term, class_error*, and "total".

    Targets: the fixture's (with relevant_clips) or our collate's (span_labels, saliency_pos_labels,
    saliency_neg_labels, saliency_all_labels); relevant_clips = saliency_all_labels when absent, as
    the release's dataset builds it. Without span_labels (or with use_matcher off, the release's
    TVSum mode) only loss_saliency is computed. The epoch (if given) is not read.
    """

    def __init__(self, cfg: CGDETRConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.matcher = HungarianMatcher(cfg.match_cost_span, cfg.match_cost_giou, cfg.match_cost_class)
        self.register_buffer("empty_weight", torch.tensor([1.0, cfg.eos_coef]))
        base = {
            "loss_span": cfg.span_l1_weight,
            "loss_giou": cfg.span_giou_weight,
            "loss_label": cfg.label_weight,
            "loss_saliency": cfg.saliency_weight,
            "loss_ms_align": cfg.ms_align_weight,
            "loss_distill": cfg.distill_weight,
            "loss_orthogonal_dummy": cfg.distill_weight,  # the release weights it with lw_distill
        }
        self.weight_dict = dict(base)
        if cfg.aux_loss:
            for i in range(cfg.dec_layers - 1):
                self.weight_dict.update({f"{k}_{i}": v for k, v in base.items() if k != "loss_saliency"})

    def _moment_losses(self, outputs: Mapping[str, Any], spans: list[Tensor]) -> dict[str, Tensor]:
        """Match one layer, then the lineage's loss_span, loss_giou, loss_label and class_error."""
        indices = self.matcher(outputs["pred_logits"], outputs["pred_spans"], spans)
        losses = span_losses(outputs["pred_spans"], spans, indices)
        return {**losses, **label_losses(outputs["pred_logits"], indices, self.empty_weight)}

    # ---- saliency -------------------------------------------------------------------------
    def _false_negative_rank(self, scores: Tensor, labels: Tensor, mask: Tensor, false_neg: Tensor) -> Tensor:
        """Rank-contrastive on rows whose negative text comes from the same video."""
        s, y, m = scores[false_neg], labels[false_neg], mask[false_neg]
        if int(false_neg.sum()) == 1 and not self.cfg.corrects(SINGLE_FALSE_NEGATIVE_ROW):
            s, y, m = s.unsqueeze(0), y.unsqueeze(0), m.unsqueeze(0)  # release: (1, 1, L)
        return _rank(s, y, m)

    def loss_saliency(self, outputs: Mapping[str, Any], targets: Mapping[str, Any]) -> Tensor | float:
        """Release loss_saliency (model.py:453-747), attention terms times lw_wattn included."""
        if "saliency_pos_labels" not in targets:
            return 0
        margin = self.cfg.saliency_margin
        vid_mask = outputs["video_mask"]
        labels = targets["saliency_all_labels"]
        pos_idx, neg_idx = targets["saliency_pos_labels"], targets["saliency_neg_labels"]
        binary = torch.clamp(labels, 0, 1)

        if outputs["saliency_scores_neg"] is None:  # no negative pass (batch of one video / no vid)
            scores = outputs["saliency_scores"]
            loss = saliency_hinge(scores, pos_idx, neg_idx, margin) + _rank(scores, labels, vid_mask)
            attn = outputs["t2vattnvalues"]
            rank_attn = _rank(attn, labels, vid_mask)
            bce = nn.BCELoss()(attn.reshape(-1), binary.reshape(-1))
            return loss + (rank_attn + bce + saliency_hinge(attn, pos_idx, neg_idx, margin)) * self.cfg.wattn_weight

        real_neg = outputs["real_neg_mask"]
        false_neg = ~real_neg
        neg_mask = vid_mask[real_neg]

        def real_negative_terms(pos_scores: Tensor, neg_scores: Tensor, probabilities: bool) -> tuple[Tensor, Tensor]:
            """(neg-pair term -log(1 - p_neg), rank-contrastive over [own | negative] rows)."""
            neg_pair = negative_pair(neg_scores, neg_mask, probabilities)
            return neg_pair, _rank(pos_scores[real_neg], labels[real_neg], neg_mask, neg_scores)

        scores = outputs["saliency_scores"]
        scores_neg = outputs["saliency_scores_neg"]
        neg_pair, rank = real_negative_terms(scores, scores_neg, probabilities=False)
        if false_neg.sum() != 0:
            rank = rank + self._false_negative_rank(scores, labels, vid_mask, false_neg)
        loss = saliency_hinge(scores, pos_idx, neg_idx, margin) + rank + neg_pair

        attn = outputs["t2vattnvalues"]
        attn_neg = outputs["t2vattnvalues_neg"]
        neg_pair_attn, rank_attn = real_negative_terms(attn, attn_neg, probabilities=True)
        if false_neg.sum() != 0:
            false_neg_attn = self._false_negative_rank(attn, labels, vid_mask, false_neg)
            if self.cfg.corrects(ATTN_FALSE_NEGATIVE_RANK):
                rank_attn = rank_attn + false_neg_attn
            # release: added to the score branch's variable after it was used (model.py:629), i.e. dropped
        bce = nn.BCELoss()(attn.reshape(-1), binary.reshape(-1))
        loss_attn = rank_attn + bce + neg_pair_attn + saliency_hinge(attn, pos_idx, neg_idx, margin)
        return loss + loss_attn * self.cfg.wattn_weight

    # ---- moment / sentence ----------------------------------------------------------------
    @staticmethod
    def loss_ms_align(outputs: Mapping[str, Any], targets: Mapping[str, Any]) -> Tensor | float:
        """Moment-sentence contrast, dummy-sentence contrast and moment-token clip BCE (model.py:750-791)."""
        if outputs["memory_moment"] is None:
            return 0.0
        moment = F.normalize(outputs["memory_moment"], dim=1)
        nmoment = F.normalize(outputs["nmmemory_moment"], dim=1)
        sentence = F.normalize(outputs["sentence_txt"].squeeze(1), dim=1)
        dummy = F.normalize(outputs["sentence_dummy"].squeeze(1), dim=1)
        bs = moment.shape[0]
        eye = torch.eye(bs, device=moment.device)

        sim = torch.cat([moment @ sentence.T, nmoment @ sentence.T], dim=1)
        labels = torch.cat([eye, torch.zeros(bs, bs, device=moment.device)], dim=1).max(dim=1)[1]
        loss = F.cross_entropy(sim, labels)
        dsim = torch.cat([moment @ dummy.T, nmoment @ dummy.T], dim=1)
        # First maximum of [~eye | ones]: index 1 for row 0, index 0 for every other row.
        dlabels = torch.cat([(~eye.bool()).float(), torch.ones(bs, bs, device=moment.device)], dim=1).max(dim=1)[1]
        loss = loss + F.cross_entropy(dsim, dlabels)

        pred = torch.sigmoid(torch.matmul(outputs["memory_moment"].unsqueeze(1), outputs["src_vid"].permute(0, 2, 1)))
        target = torch.clamp(relevant_clips_of(targets), 0, 1)
        bce = F.binary_cross_entropy(pred.reshape(-1), target.reshape(-1), reduction="none")
        return loss + (bce * outputs["video_mask"].reshape(-1)).mean()

    @staticmethod
    def loss_distill(outputs: Mapping[str, Any]) -> Tensor | float:
        """KL(softmax(moment-to-word similarity) || T2V attention) over relevant clips (model.py:794-809)."""
        if outputs["moment2txt_similarity"] is None:
            return 0.0
        attn = outputs["cate_attn_weights"]
        b, lv, _ = attn.shape
        moment_mask = outputs["moment_mask"].int()
        target = torch.softmax(outputs["moment2txt_similarity"], dim=-1).clone().detach()
        kl = F.kl_div(torch.log(attn + 1e-6).reshape(b * lv, -1), target.reshape(b * lv, -1), reduction="none")
        kl = kl.mean(1) * moment_mask.reshape(-1)
        return kl.sum() / moment_mask.sum()

    @staticmethod
    def loss_orthogonal_dummy(outputs: Mapping[str, Any]) -> Tensor | float:
        """Mean |cos| between dummy tokens (per video) + between prompt tokens, diagonal zeroed but
        counted, right factor detached (model.py:811-828)."""
        dummy = outputs["dummy_tokens"]
        loss: Tensor | float = 0.0
        if dummy.size(1) != 1:
            dn = dummy / dummy.norm(dim=2)[:, :, None]
            sim = torch.matmul(dn, dn.permute(0, 2, 1).detach())
            sim = sim * (1 - torch.eye(sim.shape[1], device=sim.device))
            loss = sim.abs().mean()
        prompts = outputs["global_rep_tokens"]
        pn = prompts / prompts.norm(dim=1)[:, None]
        psim = torch.matmul(pn, pn.permute(1, 0).detach()) * (1 - torch.eye(len(prompts), device=prompts.device))
        return loss + psim.abs().mean()

    # ---- all ------------------------------------------------------------------------------
    def forward(self, outputs: Mapping[str, Any], targets: Mapping[str, Any]) -> dict[str, Tensor]:
        """Every release loss term (+ class_error, class_error_i) and "total" = sum of weight * term."""
        losses: dict[str, Any] = {}
        if self.cfg.use_matcher and "span_labels" in targets:
            spans = [t["spans"] for t in targets["span_labels"]]
            losses.update(self._moment_losses(outputs, spans))
            losses["loss_saliency"] = self.loss_saliency(outputs, targets)
            losses["loss_ms_align"] = self.loss_ms_align(outputs, targets)
            losses["loss_distill"] = self.loss_distill(outputs)
            losses["loss_orthogonal_dummy"] = self.loss_orthogonal_dummy(outputs)
            for i, aux in enumerate(outputs.get("aux_outputs", [])):
                losses.update({f"{k}_{i}": v for k, v in self._moment_losses(aux, spans).items()})
        else:
            losses["loss_saliency"] = self.loss_saliency(outputs, targets)
        device = outputs["saliency_scores"].device
        losses = {k: v if isinstance(v, Tensor) else torch.tensor(float(v), device=device) for k, v in losses.items()}
        losses["total"] = sum(losses[k] * self.weight_dict[k] for k in losses if k in self.weight_dict)
        return losses
