"""The VideoLights network (release video_lights/model.py:28-295)."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from model.zoo.common.heads import anchor_spans, aux_outputs
from model.zoo.common.position import TrainablePositionalEncoding, sine_position_encoding
from model.zoo.common.projection import MLP, input_projection
from model.zoo.videolights.config import VideoLightsConfig
from model.zoo.videolights.fra import FeatureRefinement
from model.zoo.videolights.layers import Conv1D
from model.zoo.videolights.transformer import VLTransformer
from model.zoo.videolights.unijfm import GlobalFeatureExtractor, moment_saliency, top_moment_clips


class VideoLights(nn.Module):
    """Input projections -> FRA -> Bi-CMF -> encoder -> anchor decoder, with saliency heads.

    Parameter names and sizes equal the release's state-dict keys, txt_position_embed included.
    """

    def __init__(self, cfg: VideoLightsConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.hidden_dim
        self.hidden_dim = d
        self.transformer = VLTransformer(
            d,
            cfg.num_heads,
            cfg.ffn_dim,
            cfg.dropout,
            cfg.bicmf_layers,
            cfg.enc_layers,
            cfg.dec_layers,
            bicmf_text_norm=cfg.corrects("bicmf_text_norm"),
            bicmf_ffn_residual=cfg.corrects("bicmf_ffn_residual"),
            bicmf_leak_mask=not cfg.corrects("bicmf_attn_mask"),
        )
        self.span_embed = MLP(d, d, 2, 3)
        self.class_embed = nn.Linear(d, 2)  # 0: foreground, 1: background
        self.query_embed = nn.Embedding(cfg.num_queries, 2)
        # built by the release, never used (use_txt_pos off: text positions are zeros, model.py:171)
        self.txt_position_embed = TrainablePositionalEncoding(cfg.text_positions, d, cfg.input_dropout)
        self.input_txt_proj = input_projection(cfg.text_dim, d, cfg.input_proj_layers, cfg.input_dropout, Conv1D)
        self.input_vid_proj = input_projection(cfg.video_dim, d, cfg.input_proj_layers, cfg.input_dropout, Conv1D)
        if cfg.contrastive_align_loss:
            self.contrastive_align_projection_query = nn.Linear(d, cfg.contrastive_dim)
            self.contrastive_align_projection_txt = nn.Linear(d, cfg.contrastive_dim)
            self.contrastive_align_projection_vid = nn.Linear(d, cfg.contrastive_dim)
        self.feature_refinement = FeatureRefinement(d, fix_correlation=cfg.corrects("fra_correlation"))
        self.saliency_proj1 = nn.Linear(d, d)
        self.saliency_proj2 = nn.Linear(d, d)
        self.global_rep_token = nn.Parameter(torch.randn(d))
        self.global_rep_pos = nn.Parameter(torch.randn(d))
        if cfg.mr_to_hd:
            self.gru_extractor = GlobalFeatureExtractor(d, d)
            self.saliency_proj_mr = nn.Linear(d, d)

    def _sequence(self, vid: Tensor, vid_mask: Tensor, txt: Tensor, txt_mask: Tensor) -> tuple[Tensor, Tensor]:
        """[global; video; text] tokens (B, 1+Lv+Lt, d) and their padding (bool, True = padding)."""
        bs = vid.shape[0]
        token = self.global_rep_token.reshape(1, 1, -1).repeat(bs, 1, 1)
        src = torch.cat([token, vid, txt], dim=1)
        valid = torch.cat([torch.ones(bs, 1, dtype=torch.bool, device=vid.device), vid_mask.bool(), txt_mask.bool()], 1)
        return src, ~valid

    def _saliency(self, vid_mem: Tensor, mem_global: Tensor) -> Tensor:
        """sum_d proj1(clip) * proj2(global) / sqrt(d): (B, Lv)."""
        return torch.sum(
            self.saliency_proj1(vid_mem) * self.saliency_proj2(mem_global).unsqueeze(1), dim=-1
        ) / math.sqrt(self.hidden_dim)

    def _encode_inputs(
        self, src_vid: Tensor, src_vid_mask: Tensor, src_txt: Tensor, src_txt_mask: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Input projections, then FRA on the video.

        (B, Lv, video_dim), float (B, Lv), (B, Lt, text_dim), float (B, Lt) -> projected video before FRA
        (B, Lv, d), FRA-refined video (B, Lv, d) and projected text (B, Lt, d).
        """
        vid = self.input_vid_proj(src_vid)
        txt = self.input_txt_proj(src_txt)
        return vid, self.feature_refinement(vid, txt, src_vid_mask, src_txt_mask), txt

    def _positions(self, src_vid_mask: Tensor, txt: Tensor) -> Tensor:
        """Positions of [global; video; text]: float (B, Lv), (B, Lt, d) -> (B, 1+Lv+Lt, d).

        Global: the learned global_rep_pos; video: sine encoding; text: zeros.
        """
        pos_vid = sine_position_encoding(src_vid_mask, self.hidden_dim)
        return torch.cat(
            [self.global_rep_pos.reshape(1, 1, -1).repeat(txt.shape[0], 1, 1), pos_vid, torch.zeros_like(txt)], dim=1
        )

    def _contrastive(self, hs: Tensor, txt: Tensor, vid_mem: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """L2-normalised contrastive projections.

        hs (layers, B, Q, d), txt (B, Lt, d), vid_mem (B, Lv, d) -> (layers, B, Q, c), (B, Lt, c), (B, Lv, c).
        """
        proj_queries = F.normalize(self.contrastive_align_projection_query(hs), p=2, dim=-1)
        proj_txt = F.normalize(self.contrastive_align_projection_txt(txt), p=2, dim=-1)
        proj_vid = F.normalize(self.contrastive_align_projection_vid(vid_mem), p=2, dim=-1)
        return proj_queries, proj_txt, proj_vid

    def _negative_pass(
        self, vid: Tensor, src_vid_mask: Tensor, txt: Tensor, src_txt_mask: Tensor, pos: Tensor, video_length: int
    ) -> tuple[Tensor, Tensor]:
        """Encoder-only pass with the text of sample i+1 (rolled by one along the batch).

        FRA is not rerun: vid (B, Lv, d) is its output with the true text. txt (B, Lt, d), float masks
        (B, Lv) and (B, Lt), pos (B, 1+Lv+Lt, d) -> video memory (B, Lv, d) and global memory (B, d).
        """
        txt_neg = torch.cat([txt[1:], txt[:1]], dim=0)
        txt_mask_neg = torch.cat([src_txt_mask[1:], src_txt_mask[:1]], dim=0)
        src_neg, pad_neg = self._sequence(vid, src_vid_mask, txt_neg, txt_mask_neg)
        _, _, vid_mem_neg, mem_global_neg = self.transformer(
            src_neg, pad_neg, self.query_embed.weight, pos.clone(), video_length, decode=False
        )
        return vid_mem_neg, mem_global_neg

    def _moment_saliency(
        self, logits: Tensor, spans: Tensor, vid_ed: Tensor, src_vid_mask: Tensor, vid_mem: Tensor
    ) -> Tensor:
        """Uni-JFM saliency from the top predicted moment.

        logits (B, Q, 2), spans (B, Q, 2), vid_ed (B, Lv, d) (projected video before FRA), float
        src_vid_mask (B, Lv), vid_mem (B, Lv, d) -> (B, Lv).
        """
        cfg = self.cfg
        clips = top_moment_clips(logits, spans, src_vid_mask, cfg.clip_len, cfg.corrects("unijfm_span"))
        return moment_saliency(
            self.gru_extractor,
            self.saliency_proj_mr,
            vid_ed,
            src_vid_mask,
            vid_mem,
            clips,
            state_at_end=cfg.corrects("unijfm_state"),
            softmax_weights=cfg.corrects("unijfm_weights"),
        )

    def forward(
        self, src_vid: Tensor, src_vid_mask: Tensor, src_txt: Tensor, src_txt_mask: Tensor, **extras: Any
    ) -> dict[str, Any]:
        """Predict moments and saliency.

        Args:
            src_vid: float (B, Lv, video_dim) clip features ending with the two TEF columns.
            src_vid_mask: float (B, Lv), 1 = valid.
            src_txt: float (B, Lt, text_dim).
            src_txt_mask: float (B, Lt), 1 = valid.
            extras: ignored (the release's forward takes no extras).

        Returns:
            dict with pred_logits (B, Q, 2), pred_spans (B, Q, 2) normalised (cx, w), saliency_scores (B, Lv),
            saliency_scores_neg (B, Lv) (query of the next sample), saliency_scores_mr (B, Lv) (Uni-JFM),
            proj_queries (B, Q, c), proj_txt_mem (B, Lt, c), proj_vid_mem (B, Lv, c), video_mask, src_txt
            (projected text, B, Lt, d), src_vid (FRA output, B, Lv, d), txt_mask (ours: the text mask), and
            aux_outputs (one dict per earlier decoder layer).
        """
        cfg = self.cfg
        vid_ed, vid, txt = self._encode_inputs(src_vid, src_vid_mask, src_txt, src_txt_mask)
        video_length = vid.shape[1]
        pos = self._positions(src_vid_mask, txt)
        src, pad = self._sequence(vid, src_vid_mask, txt, src_txt_mask)
        hs, refs, vid_mem, mem_global = self.transformer(src, pad, self.query_embed.weight, pos, video_length)
        assert hs is not None and refs is not None
        outputs_class = self.class_embed(hs)
        outputs_coord = anchor_spans(self.span_embed, hs, refs)
        out: dict[str, Any] = {"pred_logits": outputs_class[-1], "pred_spans": outputs_coord[-1]}

        proj_queries = proj_txt = proj_vid = None
        if cfg.contrastive_align_loss:
            proj_queries, proj_txt, proj_vid = self._contrastive(hs, txt, vid_mem)
            out.update(proj_queries=proj_queries[-1], proj_txt_mem=proj_txt, proj_vid_mem=proj_vid)

        vid_mem_neg, mem_global_neg = self._negative_pass(vid, src_vid_mask, txt, src_txt_mask, pos, video_length)
        out["saliency_scores"] = self._saliency(vid_mem, mem_global)
        out["saliency_scores_neg"] = self._saliency(vid_mem_neg, mem_global_neg)
        if cfg.mr_to_hd:
            out["saliency_scores_mr"] = self._moment_saliency(
                outputs_class[-1], outputs_coord[-1], vid_ed, src_vid_mask, vid_mem
            )
        out.update(video_mask=src_vid_mask, src_txt=txt, src_vid=vid, txt_mask=src_txt_mask)
        if cfg.aux_loss:
            out["aux_outputs"] = self._aux_outputs(
                outputs_class, outputs_coord, proj_queries, proj_txt, proj_vid, src_txt_mask
            )
        return out

    @staticmethod
    def _aux_outputs(
        outputs_class: Tensor,
        outputs_coord: Tensor,
        proj_queries: Tensor | None,
        proj_txt: Tensor | None,
        proj_vid: Tensor | None,
        src_txt_mask: Tensor,
    ) -> list[dict[str, Tensor]]:
        """One dict per decoder layer but the last: pred_logits (B, Q, 2), pred_spans (B, Q, 2) and, with the
        contrastive projections (proj_queries (layers, B, Q, c)), that layer's proj_queries plus proj_txt_mem,
        proj_vid_mem and txt_mask (B, Lt)."""
        aux = aux_outputs(outputs_class, outputs_coord)
        if proj_queries is not None:
            for idx, q in enumerate(proj_queries[:-1]):
                aux[idx].update(proj_queries=q, proj_txt_mem=proj_txt, proj_vid_mem=proj_vid, txt_mask=src_txt_mask)
        return aux
