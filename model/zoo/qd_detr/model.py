"""The QD-DETR network (release `qd_detr/model.py` QDDETR)."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from model.zoo.common.heads import anchor_spans, aux_outputs
from model.zoo.common.position import TrainablePositionalEncoding, sine_position_encoding
from model.zoo.common.projection import MLP, input_projection
from model.zoo.qd_detr.config import T2V_NORM_RESIDUAL, T2V_OWN_MASK, QDDETRConfig
from model.zoo.qd_detr.transformer import QDDETRTransformer


class QDDETR(nn.Module):
    """Query-dependent DETR for moment retrieval and highlight detection.

    Parameter names equal the release's state-dict keys, `txt_position_embed` included (built by the
    release, never used: text positions are zeros with use_txt_pos off).
    """

    def __init__(self, cfg: QDDETRConfig) -> None:
        super().__init__()
        d = cfg.hidden_dim
        self.cfg = cfg
        self.hidden_dim = d
        self.aux_loss = cfg.aux_loss
        self.transformer = QDDETRTransformer(
            d, cfg.num_heads, cfg.enc_layers, cfg.dec_layers, cfg.ffn_dim, cfg.dropout,
            t2v_own_mask=cfg.corrects(T2V_OWN_MASK), t2v_norm_residual=cfg.corrects(T2V_NORM_RESIDUAL),
        )  # fmt: skip
        # built by the release, never used (use_txt_pos off: text positions are zeros)
        self.txt_position_embed = TrainablePositionalEncoding(cfg.text_positions, d, cfg.input_dropout)
        self.span_embed = MLP(d, d, 2, 3)
        self.class_embed = nn.Linear(d, 2)  # index 0 = foreground, 1 = background
        self.query_embed = nn.Embedding(cfg.num_queries, 2)  # unsigmoided (centre, width) anchors
        self.input_txt_proj = input_projection(cfg.text_dim, d, cfg.input_proj_layers, cfg.input_dropout)
        self.input_vid_proj = input_projection(cfg.video_dim, d, cfg.input_proj_layers, cfg.input_dropout)
        self.saliency_proj1 = nn.Linear(d, d)
        self.saliency_proj2 = nn.Linear(d, d)
        self.global_rep_token = nn.Parameter(torch.randn(d))
        self.global_rep_pos = nn.Parameter(torch.randn(d))

    def _encode_decode(
        self, vid: Tensor, vid_mask: Tensor, txt: Tensor, txt_mask: Tensor, pos: Tensor
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Prepend the global token and run the transformer.

        vid (B, Lv, d), txt (B, Lt, d) projected; masks float (B, L), 1 = valid; pos (B, 1+Lv+Lt, d).
        """
        bsz = vid.shape[0]
        src = torch.cat([self.global_rep_token.reshape(1, 1, -1).repeat(bsz, 1, 1), vid, txt], dim=1)
        valid = torch.cat([torch.ones(bsz, 1, dtype=torch.bool, device=vid.device),
                           vid_mask.bool(), txt_mask.bool()], dim=1)  # fmt: skip
        return self.transformer(src, ~valid, self.query_embed.weight, pos, video_length=vid.shape[1])

    def _saliency(self, vid_mem: Tensor, global_mem: Tensor) -> Tensor:
        """<proj1(clip), proj2(global)> / sqrt(d): (B, Lv, d), (B, d) -> (B, Lv); padded clips not masked."""
        scores = self.saliency_proj1(vid_mem) * self.saliency_proj2(global_mem).unsqueeze(1)
        return torch.sum(scores, dim=-1) / math.sqrt(self.hidden_dim)

    def forward(
        self, src_vid: Tensor, src_vid_mask: Tensor, src_txt: Tensor, src_txt_mask: Tensor, **_: Any
    ) -> dict[str, Any]:
        """Args:
            src_vid: (B, Lv, video_dim) clip features ending with the two TEF columns.
            src_vid_mask: float (B, Lv), 1 = valid clip.
            src_txt: (B, Lt, text_dim) token features.
            src_txt_mask: float (B, Lt), 1 = valid token.

        Returns:
            pred_logits (B, Q, 2), pred_spans (B, Q, 2) sigmoid (centre, width), saliency_scores (B, Lv),
            saliency_scores_neg (B, Lv) (the text rolled by one along the batch), video_mask (B, Lv),
            aux_outputs: [{pred_logits, pred_spans}] of the earlier decoder layers (when aux_loss).
        """
        if src_txt.shape[1] == 0:
            raise ValueError("QD-DETR needs at least one query token (src_txt has length 0)")
        vid = self.input_vid_proj(src_vid)
        txt = self.input_txt_proj(src_txt)
        bsz = vid.shape[0]
        pos = torch.cat([
            self.global_rep_pos.reshape(1, 1, -1).repeat(bsz, 1, 1),
            sine_position_encoding(src_vid_mask, self.hidden_dim),
            torch.zeros_like(txt),  # no text positions (use_txt_pos off)
        ], dim=1)  # fmt: skip

        hs, reference, vid_mem, global_mem = self._encode_decode(vid, src_vid_mask, txt, src_txt_mask, pos)
        outputs_class = self.class_embed(hs)
        outputs_coord = anchor_spans(self.span_embed, hs, reference)
        out: dict[str, Any] = {"pred_logits": outputs_class[-1], "pred_spans": outputs_coord[-1]}

        # negative pair: every video with the next sample's query (batch roll by one)
        txt_neg = torch.cat([txt[1:], txt[:1]], dim=0)
        txt_mask_neg = torch.cat([src_txt_mask[1:], src_txt_mask[:1]], dim=0)
        _, _, vid_mem_neg, global_mem_neg = self._encode_decode(vid, src_vid_mask, txt_neg, txt_mask_neg, pos)

        out["saliency_scores"] = self._saliency(vid_mem, global_mem)
        out["saliency_scores_neg"] = self._saliency(vid_mem_neg, global_mem_neg)
        out["video_mask"] = src_vid_mask
        if self.aux_loss:
            out["aux_outputs"] = aux_outputs(outputs_class, outputs_coord)
        return out
