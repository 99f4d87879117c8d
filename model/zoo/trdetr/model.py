"""TR-DETR (Sun, Zhou et al., AAAI 2024): VFR, T2V fusion, HD2MR, DAB decoder and MR2HD.

Release: mingyao1120/TR-DETR, tr_detr/model.py (TRDETR) and tr_detr/transformer.py (Transformer).
Parameter names equal the release's state-dict keys.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence

from model.spans import span_cxw_to_xx
from model.zoo.common.decoder import DABDecoder
from model.zoo.common.encoder import Encoder, EncoderLayer, T2VEncoder, T2VEncoderLayer, xavier_init
from model.zoo.common.heads import anchor_spans, aux_outputs
from model.zoo.common.position import PositionEmbeddingSine, TrainablePositionalEncoding
from model.zoo.common.projection import MLP, input_projection
from model.zoo.trdetr.config import TRDETRConfig
from model.zoo.trdetr.fuser import VSLFuser


def saliency_head(proj: nn.Linear, memory: Tensor) -> Tensor:
    """sum_c proj(memory)_c / sqrt(d): float (B, L, d) -> (B, L)."""
    return torch.sum(proj(memory), dim=-1) / math.sqrt(memory.shape[-1])


def masked_mean(x: Tensor, mask: Tensor) -> Tensor:
    """Mean over valid positions: x (B, L, d), float mask (B, L) -> (B, d)."""
    return (x * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True)


class TRDETRTransformer(nn.Module):
    """T2V encoder -> video encoder -> HD2MR (re-encode) -> DAB decoder (the layers are the
    lineage's, model.zoo.common; the `t2v_mask_layout` correction is the T2V layer's own_mask).

    Parameter names: t2v_encoder.layers.*, encoder.layers.*, decoder.*.
    """

    def __init__(self, cfg: TRDETRConfig) -> None:
        super().__init__()
        d, h, f, p = cfg.hidden_dim, cfg.num_heads, cfg.ffn_dim, cfg.dropout
        t2v = T2VEncoderLayer(d, h, f, p, own_mask=cfg.corrects("t2v_mask_layout"))
        self.t2v_encoder = T2VEncoder(t2v, cfg.enc_layers)
        self.encoder = Encoder(EncoderLayer(d, h, f, p), cfg.enc_layers)
        self.decoder = DABDecoder(d, h, f, p, cfg.dec_layers)
        self.d_model = d
        self.masked_hd2mr = cfg.corrects("hd2mr_masked_softmax")
        xavier_init(self)

    def forward(
        self,
        src: Tensor,
        padding: Tensor,
        query_embed: Tensor,
        pos: Tensor,
        saliency_proj: nn.Linear,
        video_length: int,
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Encode and decode.

        Args:
            src: float (B, Lv + Lt, d) fused clips then text tokens.
            padding: bool (B, Lv + Lt), True = padding.
            query_embed: float (Q, 2) anchor logits.
            pos: float (B, Lv + Lt, d) positions (text part 0).
            saliency_proj: the model's saliency_proj1 (shared with MR2HD).
            video_length: Lv.

        Returns:
            (hs (layers, B, Q, d), references (layers, B, Q, 2), memory (B, Lv, d)).
        """
        bs = src.shape[0]
        src = src.permute(1, 0, 2)
        pos = pos.permute(1, 0, 2)
        refpoint_embed = query_embed.unsqueeze(1).repeat(1, bs, 1)
        src = self.t2v_encoder(src, padding, pos, video_length)
        src, padding, pos = src[:video_length], padding[:, :video_length], pos[:video_length]
        memory = self.encoder(src, padding, pos)
        memory = self.hd2mr(memory, saliency_proj, src, padding, pos)
        hs, references = self.decoder(memory, padding, pos, refpoint_embed)
        return hs, references, memory.transpose(0, 1)

    def hd2mr(
        self, memory: Tensor, saliency_proj: nn.Linear, src: Tensor, padding: Tensor, pos: Tensor
    ) -> Tensor:
        """Highlight-to-moment: M' = Enc(M + softmax_L(H) * Z), same encoder weights.

        memory, src, pos: (L, B, d); padding: bool (B, L). Returns (L, B, d).
        """
        scores = saliency_head(saliency_proj, memory.transpose(0, 1))  # (B, L)
        if self.masked_hd2mr:
            scores = scores.masked_fill(padding, float("-inf"))
        weight = torch.softmax(scores, dim=-1)
        memory = memory + src * weight.transpose(1, 0).unsqueeze(-1)
        return self.encoder(memory, padding, pos)


class GRUFeatureExtractor(nn.Module):
    """One-layer GRU; its last hidden state summarises a clip sequence (parameter names gru.*)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.gru = nn.GRU(dim, dim, num_layers=1, batch_first=True)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """x (B, L, d) -> (B, d). With `lengths` (int64 (B,)), stop at each sequence's end
        (a zero length gives the initial state 0); without, run over all L steps."""
        if lengths is None:
            return self.gru(x)[1][-1]
        packed = pack_padded_sequence(x, lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False)
        hidden = self.gru(packed)[1][-1]
        return hidden * (lengths > 0).to(hidden.dtype).unsqueeze(-1)


class TRDETR(nn.Module):
    """TR-DETR for joint moment retrieval and highlight detection.

    forward(src_vid, src_vid_mask, src_txt, src_txt_mask) returns the release's output dict
    (pred_logits, pred_spans, saliency_scores, video_mask, aux_outputs, src_txt_ed, src_vid_ed,
    src_vid_cls_ed, src_txt_cls_ed) plus src_txt_mask, which the release's training step reads
    from the model inputs for its CTC loss.

    State-dict keys equal the release's, `txt_position_embed` included (built by the release,
    never used: --use_txt_pos is off in every script, the text position is 0).
    """

    def __init__(self, cfg: TRDETRConfig) -> None:
        super().__init__()
        d = cfg.hidden_dim
        self.cfg = cfg
        self.transformer = TRDETRTransformer(cfg)
        self.position_embed = PositionEmbeddingSine(d)
        # built by the release, never used (use_txt_pos off)
        self.txt_position_embed = TrainablePositionalEncoding(cfg.text_positions, d, cfg.input_dropout)
        self.span_embed = MLP(d, d, 2, 3)
        self.class_embed = nn.Linear(d, 2)  # index 0 = foreground
        self.query_embed = nn.Embedding(cfg.num_queries, 2)
        self.input_txt_proj = input_projection(cfg.text_dim, d, cfg.input_proj_layers, cfg.input_dropout)
        self.input_vid_proj = input_projection(cfg.video_dim, d, cfg.input_proj_layers, cfg.input_dropout)
        self.saliency_proj1 = nn.Linear(d, d)
        self.fuser = VSLFuser(d)
        self.gru_extractor = GRUFeatureExtractor(d)
        self.hidden_dim = d
        self.aux_loss = cfg.aux_loss

    def forward(
        self, src_vid: Tensor, src_vid_mask: Tensor, src_txt: Tensor, src_txt_mask: Tensor
    ) -> dict[str, Any]:
        """Predict moments and clip saliency.

        Args:
            src_vid: float (B, Lv, Dv) clip features, the last two columns the temporal endpoints.
            src_vid_mask: float (B, Lv), 1 = valid clip.
            src_txt: float (B, Lt, Dt) token features.
            src_txt_mask: float (B, Lt), 1 = valid token.

        Returns:
            dict: pred_logits (B, Q, 2), pred_spans (B, Q, 2) normalised (centre, width),
            saliency_scores (B, Lv), video_mask (B, Lv), aux_outputs (list of dicts per earlier
            decoder layer, when aux_loss), src_txt_ed (B, Lt, d), src_vid_ed (B, Lv, d),
            src_vid_cls_ed (B, d), src_txt_cls_ed (B, d), src_txt_mask (B, Lt).
        """
        cfg = self.cfg
        src_vid = self.input_vid_proj(src_vid)
        src_txt = self.input_txt_proj(src_txt)
        src_txt_ed, src_vid_ed = src_txt, src_vid
        if cfg.corrects("vtc_masked_mean"):
            src_vid_cls_ed = masked_mean(src_vid, src_vid_mask)
            src_txt_cls_ed = masked_mean(src_txt, src_txt_mask)
        else:
            src_vid_cls_ed, src_txt_cls_ed = src_vid.mean(1), src_txt.mean(1)

        src_vid = self.fuser(src_vid, src_txt, src_vid_mask, src_txt_mask)
        src = torch.cat([src_vid, src_txt], dim=1)
        mask = torch.cat([src_vid_mask, src_txt_mask], dim=1).bool()
        pos = torch.cat([self.position_embed(src_vid_mask), torch.zeros_like(src_txt)], dim=1)
        video_length = src_vid.shape[1]
        hs, reference, memory = self.transformer(
            src, ~mask, self.query_embed.weight, pos, self.saliency_proj1, video_length
        )
        outputs_class = self.class_embed(hs)  # (layers, B, Q, 2)
        outputs_coord = anchor_spans(self.span_embed, hs, reference)
        out: dict[str, Any] = {"pred_logits": outputs_class[-1], "pred_spans": outputs_coord[-1]}
        out["saliency_scores"] = self.mr2hd(out, memory, src_vid_ed, src_vid_mask)
        out["video_mask"] = src_vid_mask
        if self.aux_loss:
            out["aux_outputs"] = aux_outputs(outputs_class, outputs_coord)
        out["src_txt_ed"] = src_txt_ed
        out["src_vid_ed"] = src_vid_ed
        out["src_vid_cls_ed"] = src_vid_cls_ed
        out["src_txt_cls_ed"] = src_txt_cls_ed
        out["src_txt_mask"] = src_txt_mask
        return out

    def mr2hd(
        self, out: dict[str, Tensor], memory: Tensor, src_vid_ed: Tensor, src_vid_mask: Tensor
    ) -> Tensor:
        """Moment-to-highlight: refine the saliency with the top-1 predicted moment.

        The top query's span becomes clip indices; a GRU summarises the projected clips of that
        slice; memory'' = memory * (1 + h . clip) and saliency = sum_c saliency_proj1(memory'')/sqrt(d).

        Args:
            out: pred_logits (B, Q, 2) and pred_spans (B, Q, 2).
            memory: float (B, L, d) the HD2MR memory.
            src_vid_ed: float (B, L, d) projected clips.
            src_vid_mask: float (B, L), 1 = valid clip.

        Returns:
            float (B, L) saliency scores.
        """
        cfg = self.cfg
        batch, length = memory.shape[:2]
        top = torch.sort(F.softmax(out["pred_logits"], -1)[..., 0], dim=-1, descending=True)[1][:, :1]
        video_units = cfg.corrects("mr2hd_video_units")
        if video_units:
            clips = src_vid_mask.sum(1)  # (B,) valid clips per video
            scale = (clips * cfg.clip_length)[:, None, None]
        else:
            scale = length * cfg.clip_length
        spans = torch.floor(span_cxw_to_xx(out["pred_spans"]) * scale / cfg.clip_length)
        selected = spans[torch.arange(batch, device=spans.device).unsqueeze(1), top].squeeze(1)  # (B, 2)

        slices, slice_lengths = [], []
        for i in range(batch):
            start, end = int(selected[i, 0]), int(selected[i, 1])
            if video_units:
                last = int(clips[i]) - 1
                start = min(max(start, 0), last)
                end = min(max(end, start), last)
            piece = src_vid_ed[i, start : end + 1, :]  # Python slice semantics, as the release
            slice_lengths.append(min(piece.shape[0], length))
            if piece.shape[0] < length:
                piece = F.pad(piece, (0, 0, 0, length - piece.shape[0]), value=0)
            slices.append(piece[:length])
        sliced = torch.stack(slices, dim=0)  # (B, L, d)
        if cfg.corrects("mr2hd_packed_gru"):
            lengths = torch.tensor(slice_lengths, dtype=torch.int64, device=sliced.device)
            summary = self.gru_extractor(sliced, lengths)
        else:
            summary = self.gru_extractor(sliced)
        if cfg.corrects("mr2hd_cosine_weight"):
            weight = torch.matmul(
                F.normalize(summary, dim=-1).unsqueeze(1), F.normalize(src_vid_ed, dim=-1).transpose(1, 2)
            ).squeeze(1)
        else:
            weight = torch.matmul(summary.unsqueeze(1), src_vid_ed.transpose(1, 2)).squeeze(1)  # (B, L)
        memory = memory * weight.unsqueeze(-1) + memory
        return saliency_head(self.saliency_proj1, memory)
