"""TaskWeave (model.py:22-236 of EdenGabriel/TaskWeave): input projections, the task-decoupled
transformer, moment heads, the saliency head, highlight-guided feedback and the negative pass."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from model.zoo.common.heads import anchor_spans, aux_outputs
from model.zoo.common.position import PositionEmbeddingSine, TrainablePositionalEncoding
from model.zoo.common.projection import MLP, input_projection
from model.zoo.taskweave.config import TaskWeaveConfig
from model.zoo.taskweave.transformer import TaskDecoupledTransformer


class TaskWeave(nn.Module):
    """TaskWeave's network; state-dict keys equal the release's, `txt_position_embed.*` included
    (built by the release but unused: use_txt_pos is off, text positions are zeros)."""

    def __init__(self, cfg: TaskWeaveConfig) -> None:
        super().__init__()
        d = cfg.hidden_dim
        self.hd_log_var = nn.Parameter(torch.zeros(1))
        self.mr_log_var = nn.Parameter(torch.zeros(1))
        self.transformer = TaskDecoupledTransformer(
            d, cfg.num_heads, cfg.enc_layers, cfg.dec_layers, cfg.ffn_dim, cfg.dropout,
            mr_expert_keeps_valid=cfg.corrects("mr_expert_mask"),
        )
        self.position_embed = PositionEmbeddingSine(d)
        # built by the release, never used (use_txt_pos off: text positions are zeros)
        self.txt_position_embed = TrainablePositionalEncoding(cfg.text_positions, d, cfg.input_dropout)
        self.span_embed = MLP(d, d, 2, 3)
        self.class_embed = nn.Linear(d, 2)  # index 0 = foreground
        self.query_embed = nn.Embedding(cfg.num_queries, 2)
        self.input_txt_proj = input_projection(cfg.text_dim, d, cfg.input_proj_layers, cfg.input_dropout)
        self.input_vid_proj = input_projection(cfg.video_dim, d, cfg.input_proj_layers, cfg.input_dropout)
        self.saliency_proj_linear = nn.Linear(d, d)
        self.saliency_proj_local = nn.Conv1d(d, d, 1)
        self.output_saliency = nn.Linear(d, 1)
        self.hidden_dim = d
        self.aux_loss = cfg.aux_loss
        self.feedback_start_epoch = cfg.feedback_start_epoch
        self.hgf_valid_threshold = cfg.corrects("hgf_valid_threshold")

    def saliency(self, hd_memory: Tensor) -> Tensor:
        """Saliency head (model.py:169-170): float (B, L, d) -> (B, L)."""
        local = self.saliency_proj_local(self.saliency_proj_linear(hd_memory).transpose(1, 2)).transpose(1, 2)
        return self.output_saliency(local).squeeze(-1) + hd_memory.sum(dim=-1) / math.sqrt(self.hidden_dim)

    def _feedback_mask(self, saliency: Tensor, src_vid_mask: Tensor) -> Tensor:
        """Highlight-guided feedback mask: 1 where a clip's saliency exceeds the threshold, float (B, L)."""
        if self.hgf_valid_threshold:
            valid = src_vid_mask > 0
            mean = (saliency * src_vid_mask).sum(1, keepdim=True) / src_vid_mask.sum(1, keepdim=True)
            return ((saliency > mean) & valid).to(saliency.dtype)
        # release (model.py:171-173): mean over all L clips, padding included
        mean = saliency.mean(dim=1, keepdim=True)
        return (saliency > mean).to(saliency.dtype)

    def _project_inputs(
        self, src_vid: Tensor, src_vid_mask: Tensor, src_txt: Tensor, src_txt_mask: Tensor
    ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """Input projections, padding masks and positions.

        (B, Lv, Dv), float (B, Lv), (B, Lt, Dt), float (B, Lt) -> video (B, Lv, d), text (B, Lt, d),
        video padding bool (B, Lv), text padding bool (B, Lt) (True = padding) and positions
        (B, Lv + Lt, d) (sine for the video, zeros for the text).
        """
        src_vid = self.input_vid_proj(src_vid)
        src_txt = self.input_txt_proj(src_txt)
        vid_pad = ~src_vid_mask.bool()
        txt_pad = ~src_txt_mask.bool()
        pos = torch.cat([self.position_embed(src_vid_mask), torch.zeros_like(src_txt)], dim=1)
        return src_vid, src_txt, vid_pad, txt_pad, pos

    def _main_pass(
        self, src_vid: Tensor, src_txt: Tensor, src_vid_mask: Tensor, padding_mask: Tensor, pos: Tensor,
        feedback: bool,
    ) -> tuple[Any, Tensor]:
        """The moment pass, preceded by highlight-guided feedback when `feedback`.

        src_vid (B, Lv, d), src_txt (B, Lt, d), float src_vid_mask (B, Lv), padding_mask bool (B, Lv + Lt),
        pos (B, Lv + Lt, d) -> the transformer output (hs (layers, B, Q, d), references, hd_memory) and
        saliency_scores (B, Lv). With feedback, a first saliency-only pass scales up the clips above the
        mean saliency (video + video * mask) and its saliency is the one returned (model.py:189).
        """
        video_length = src_vid.shape[1]
        anchors = self.query_embed.weight
        if feedback:
            first = self.transformer(
                torch.cat([src_vid, src_txt], dim=1), padding_mask, anchors, pos, video_length, moments=False
            )
            saliency_scores = self.saliency(first.hd_memory)
            emphasis = self._feedback_mask(saliency_scores, src_vid_mask).unsqueeze(-1)
            fed_back = src_vid + src_vid * emphasis
            out = self.transformer(torch.cat([fed_back, src_txt], dim=1), padding_mask, anchors, pos, video_length)
            # the second pass's saliency is not used (model.py:189: saliency_scores from the first pass)
        else:
            out = self.transformer(torch.cat([src_vid, src_txt], dim=1), padding_mask, anchors, pos, video_length)
            saliency_scores = self.saliency(out.hd_memory)
        return out, saliency_scores

    def _negative_saliency(
        self, src_vid: Tensor, src_txt: Tensor, vid_pad: Tensor, txt_pad: Tensor, pos: Tensor
    ) -> Tensor:
        """Saliency with the text rolled by one within the batch (sample i gets the text of i+1).

        src_vid (B, Lv, d), src_txt (B, Lt, d), paddings bool (B, Lv) and (B, Lt), pos (B, Lv + Lt, d)
        -> (B, Lv).
        """
        src_txt_neg = torch.cat([src_txt[1:], src_txt[0:1]], dim=0)
        txt_pad_neg = torch.cat([txt_pad[1:], txt_pad[0:1]], dim=0)
        negative = self.transformer(
            torch.cat([src_vid, src_txt_neg], dim=1), torch.cat([vid_pad, txt_pad_neg], dim=1),
            self.query_embed.weight, pos, src_vid.shape[1], moments=False,
        )
        return self.saliency(negative.hd_memory)

    def forward(
        self, src_vid: Tensor, src_vid_mask: Tensor, src_txt: Tensor, src_txt_mask: Tensor,
        epoch: int | None = None,
    ) -> dict[str, Any]:
        """Args:
            src_vid: float (B, Lv, Dv) clip features (ending with the two TEF columns).
            src_vid_mask: float (B, Lv), 1 = valid clip.
            src_txt: float (B, Lt, Dt) token features.
            src_txt_mask: float (B, Lt), 1 = valid token.
            epoch: 0-based training epoch; None (inference) or epoch + 1 > feedback_start_epoch runs
                highlight-guided feedback (two passes), otherwise one pass.

        Returns:
            dict with pred_logits (B, Q, 2), pred_spans (B, Q, 2) normalised (centre, width),
            saliency_scores (B, Lv), saliency_scores_neg (B, Lv) (text rolled by one within the batch),
            video_mask (B, Lv) (= src_vid_mask), aux_outputs (list over the first dec_layers-1 layers of
            {pred_logits, pred_spans}) when aux_loss, and the release's second return value
            [hd_log_var, mr_log_var] as `hd_log_var` and `mr_log_var` (the (1,) log-variance
            parameters of the uncertainty-weighted objective).
        """
        src_vid, src_txt, vid_pad, txt_pad, pos = self._project_inputs(src_vid, src_vid_mask, src_txt, src_txt_mask)
        padding_mask = torch.cat([vid_pad, txt_pad], dim=1)
        feedback = epoch is None or epoch + 1 > self.feedback_start_epoch
        out, saliency_scores = self._main_pass(src_vid, src_txt, src_vid_mask, padding_mask, pos, feedback)

        outputs_class = self.class_embed(out.hs)  # (layers, B, Q, 2)
        outputs_coord = anchor_spans(self.span_embed, out.hs, out.references)

        result: dict[str, Any] = {
            "pred_logits": outputs_class[-1],
            "pred_spans": outputs_coord[-1],
            "saliency_scores": saliency_scores,
            "saliency_scores_neg": self._negative_saliency(src_vid, src_txt, vid_pad, txt_pad, pos),
            "video_mask": src_vid_mask,
        }
        if self.aux_loss:
            result["aux_outputs"] = aux_outputs(outputs_class, outputs_coord)
        result["hd_log_var"] = self.hd_log_var
        result["mr_log_var"] = self.mr_log_var
        return result
