"""The Moment-DETR network (moment_detr/model.py: MomentDETR)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from model.zoo.common.heads import aux_outputs
from model.zoo.common.position import PositionEmbeddingSine, TrainablePositionalEncoding
from model.zoo.common.projection import MLP, input_projection
from model.zoo.moment_detr.config import MomentDETRConfig
from model.zoo.moment_detr.transformer import Transformer

#: Saliency given to padded clips under the `mask_padded_saliency` correction.
PADDED_SALIENCY = -1000.0


class MomentDETR(nn.Module):
    """Project video and text, encode them jointly, decode moment queries, score clips.

    Parameter names equal the release's state-dict keys, `txt_position_embed` included (built by the
    release, never used: use_txt_pos off).
    """

    def __init__(self, cfg: MomentDETRConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.hidden_dim
        self.transformer = Transformer(d, cfg.num_heads, cfg.enc_layers, cfg.dec_layers, cfg.ffn_dim, cfg.dropout)
        self.position_embed = PositionEmbeddingSine(d)
        # built by the release, never used (use_txt_pos off: text positions are zeros)
        self.txt_position_embed = TrainablePositionalEncoding(cfg.text_positions, d, cfg.input_dropout)
        self.span_embed = MLP(d, d, 2, 3)
        self.class_embed = nn.Linear(d, 2)  # index 0 = foreground, 1 = background
        self.query_embed = nn.Embedding(cfg.num_queries, d)
        self.input_txt_proj = input_projection(cfg.text_dim, d, cfg.input_proj_layers, cfg.input_dropout)
        self.input_vid_proj = input_projection(cfg.video_dim, d, cfg.input_proj_layers, cfg.input_dropout)
        self.saliency_proj = nn.Linear(d, 1)

    def forward(self, src_vid: Tensor, src_vid_mask: Tensor, src_txt: Tensor, src_txt_mask: Tensor) -> dict:
        """Predict moments and clip saliency.

        Args:
            src_vid: float (B, Lv, video_dim) clip features ending with the two TEF columns.
            src_vid_mask: float (B, Lv), 1 = valid clip.
            src_txt: float (B, Lt, text_dim) token features.
            src_txt_mask: float (B, Lt), 1 = valid token.

        Returns:
            dict with pred_logits (B, Q, 2; index 0 = foreground), pred_spans (B, Q, 2; sigmoid
            (centre, width)), saliency_scores (B, Lv) and, with aux_loss, aux_outputs: a list of
            dec_layers - 1 dicts {pred_logits, pred_spans} of the earlier decoder layers.
        """
        vid = self.input_vid_proj(src_vid)  # (B, Lv, d)
        txt = self.input_txt_proj(src_txt)  # (B, Lt, d)
        src = torch.cat([vid, txt], dim=1)
        mask = torch.cat([src_vid_mask, src_txt_mask], dim=1).bool()  # True = valid
        pos_vid = self.position_embed(src_vid_mask)
        pos = torch.cat([pos_vid, torch.zeros_like(txt)], dim=1)  # no text positions (use_txt_pos off)
        hs, memory = self.transformer(src, ~mask, self.query_embed.weight, pos)
        logits = self.class_embed(hs)  # (layers, B, Q, 2)
        spans = self.span_embed(hs).sigmoid()  # (layers, B, Q, 2)
        out: dict = {"pred_logits": logits[-1], "pred_spans": spans[-1]}
        vid_mem = memory[:, : vid.shape[1]]  # (B, Lv, d)
        # the release squeezes every size-1 dim; squeeze(-1) keeps (B, Lv) also when B or Lv is 1
        saliency = self.saliency_proj(vid_mem).squeeze(-1)
        if self.cfg.corrects("mask_padded_saliency"):
            saliency = saliency.masked_fill(~src_vid_mask.bool(), PADDED_SALIENCY)
        out["saliency_scores"] = saliency
        if self.cfg.aux_loss:
            out["aux_outputs"] = aux_outputs(logits, spans)
        return out
