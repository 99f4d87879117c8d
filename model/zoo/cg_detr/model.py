"""CG-DETR network (release `cg_detr/model.py` CGDETR.forward), parameter names as the release's."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from model.zoo.cg_detr.config import (
    AUX_ENCODER_DROPOUT,
    AUX_ENCODER_HEADS,
    T2V_MASK_PER_VIDEO,
    CGDETRConfig,
)
from model.zoo.cg_detr.transformer import CGDETRTransformer
from model.zoo.common.encoder import Encoder, EncoderLayer
from model.zoo.common.heads import anchor_spans, aux_outputs
from model.zoo.common.position import PositionEmbeddingSine, TrainablePositionalEncoding
from model.zoo.common.projection import MLP, LinearLayer, input_projection


def source_video_ids(vid: Sequence[str], strip_window: bool) -> list[str]:
    """The video each sample comes from (release `model.py:158-164`).

    With strip_window (QVHighlights ids '<youtube id>_<start>_<end>') the id is cut at its
    second-to-last '_', which keeps YouTube ids that contain '_'.
    """
    if not strip_window:
        return list(vid)
    out = []
    for v in vid:
        n = v.count("_") - 1
        start = v.find("_")
        while start >= 0 and n > 1:
            start = v.find("_", start + 1)
            n -= 1
        out.append(v[: len(v) if start == -1 else start])
    return out


def relevant_clips_of(targets: Mapping[str, Any]) -> Tensor:
    """The release's `relevant_clips` (= saliency_all_labels, `start_end_dataset.py:554-555`)."""
    return targets["relevant_clips"] if "relevant_clips" in targets else targets["saliency_all_labels"]


def context_token(src_vid: Tensor, src_vid_mask: Tensor) -> tuple[Tensor, Tensor]:
    """Mean projected video over valid clips, detached (release `model.py:242-245`).

    (B, Lv, d), float (B, Lv) -> context token (B, 1, d) and the valid lengths, long (B,).
    """
    vlen = src_vid_mask.sum(1).long()
    ctx = torch.stack([src_vid[i, : vlen[i]].mean(0) for i in range(src_vid.shape[0])]).detach().unsqueeze(1)
    return ctx, vlen


# Outputs only the training forward (targets given) fills; None at inference.
TRAIN_ONLY_KEYS = (
    "memory_moment", "nmmemory_moment", "sentence_txt", "sentence_dummy",
    "moment2txt_similarity", "nmoment2txt_similarity", "moment_mask", "src_vid",
)


class CGDETR(nn.Module):
    """CG-DETR: dummy-calibrated text-to-video attention, adaptive saliency token, DAB decoder.

    Keys equal the release's, the two modules it builds and never uses included
    (`txt_position_embed`, `txt_proj_linear`).
    """

    def __init__(self, cfg: CGDETRConfig) -> None:
        super().__init__()
        d = cfg.hidden_dim
        self.cfg = cfg
        self.hidden_dim = d
        self.num_dummies = cfg.num_dummies
        self.transformer = CGDETRTransformer(
            d, cfg.num_heads, cfg.ffn_dim, cfg.dropout, cfg.t2v_layers, cfg.enc_layers, cfg.dec_layers,
            cfg.moment_layers, cfg.num_dummies, cfg.num_prompts, cfg.corrects(T2V_MASK_PER_VIDEO),
        )
        self.position_embed = PositionEmbeddingSine(d)
        # built by the release, never used (use_txt_pos off: text positions are zeros)
        self.txt_position_embed = TrainablePositionalEncoding(cfg.text_positions, d, cfg.input_dropout)
        self.span_embed = MLP(d, d, 2, 3)
        self.class_embed = nn.Linear(d, 2)  # index 0 = foreground
        self.token_type_embeddings = nn.Embedding(2, d)
        self.token_type_embeddings.weight.data.normal_(mean=0.0, std=0.02)
        self.query_embed = nn.Embedding(cfg.num_queries, 2)
        self.input_txt_proj = input_projection(cfg.text_dim, d, cfg.input_proj_layers, cfg.input_dropout)
        self.input_vid_proj = input_projection(cfg.video_dim, d, cfg.input_proj_layers, cfg.input_dropout)
        # built by the release (model.py:129), never used
        self.txt_proj_linear = LinearLayer(cfg.text_dim, d, cfg.input_dropout, relu=True)
        self.saliency_proj1 = nn.Linear(d, d)
        self.saliency_proj2 = nn.Linear(d, d)
        self.global_rep_token = nn.Parameter(torch.randn(cfg.total_prompts, d))
        self.global_rep_pos = nn.Parameter(torch.randn(1, d))
        self.moment_rep_token = nn.Parameter(torch.randn(d))
        self.moment_rep_pos = nn.Parameter(torch.randn(d))
        self.dummy_rep_token = nn.Parameter(torch.randn(cfg.num_dummies, d))
        self.dummy_rep_pos = nn.Parameter(torch.randn(cfg.num_dummies, d))
        self.sent_rep_token = nn.Parameter(torch.randn(d))
        self.sent_rep_pos = nn.Parameter(torch.randn(d))
        aux_layer = EncoderLayer(d, AUX_ENCODER_HEADS, cfg.ffn_dim, AUX_ENCODER_DROPOUT, drop_path=True)
        self.txtproj_encoder = Encoder(aux_layer, cfg.dummy_layers)
        self.scls_encoder = Encoder(aux_layer, cfg.sent_layers)

    def _saliency(self, vid_mem: Tensor, memory_global: Tensor) -> Tensor:
        """(B, Lv, d), (B, d) -> (B, Lv) = <proj1(clip), proj2(global)> / sqrt(d)."""
        return torch.sum(self.saliency_proj1(vid_mem) * self.saliency_proj2(memory_global).unsqueeze(1), dim=-1) / (
            math.sqrt(self.hidden_dim)
        )

    def _project_inputs(
        self, src_vid: Tensor, src_vid_mask: Tensor, src_txt: Tensor, src_txt_mask: Tensor
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Project and type-embed the inputs.

        (B, Lv, Dv), (B, Lv), (B, Lt, Dt), (B, Lt) -> video (B, Lv, d), text (B, Lt, d),
        video positions (B, Lv, d) (sine) and text positions (B, Lt, d) (zeros).
        """
        src_vid = self.input_vid_proj(src_vid)
        src_txt = self.input_txt_proj(src_txt)
        src_vid = src_vid + self.token_type_embeddings(torch.full_like(src_vid_mask.long(), 1))
        src_txt = src_txt + self.token_type_embeddings(torch.zeros_like(src_txt_mask.long()))
        pos_vid = self.position_embed(src_vid_mask)
        pos_txt = torch.zeros_like(src_txt)
        return src_vid, src_txt, pos_vid, pos_txt

    def _encode_dummies(
        self, src_txt: Tensor, src_txt_mask: Tensor, pos_txt: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Dummy tokens encoded together with the text; only the dummies are kept.

        (B, Lt, d), float (B, Lt), (B, Lt, d) -> dummy tokens (B, nd, d), their positions (B, nd, d) and
        the [dummy; text] positions (B, nd + Lt, d), the tensor the main pass reuses (one autograd node, so
        the two gradients into dummy_rep_pos sum in the release's order).
        """
        bs, nd = src_txt.shape[0], self.num_dummies
        dummy_valid = torch.ones(bs, nd, dtype=torch.bool, device=src_txt.device)
        pos_dummy = self.dummy_rep_pos.unsqueeze(0).repeat(bs, 1, 1)
        dummy_in = torch.cat([self.dummy_rep_token.unsqueeze(0).repeat(bs, 1, 1), src_txt], dim=1)
        dummy_mask = ~torch.cat([dummy_valid, src_txt_mask.bool()], dim=1)
        pos_txt_dummy = torch.cat([pos_dummy, pos_txt], dim=1)
        encoded = self.txtproj_encoder(dummy_in.permute(1, 0, 2), dummy_mask, pos_txt_dummy.permute(1, 0, 2))
        return encoded[:nd].permute(1, 0, 2), pos_dummy, pos_txt_dummy

    def _run_transformer(
        self, src: Tensor, mask: Tensor, pos: Tensor, video_length: int, ctx_token: Tensor, vlen: Tensor
    ) -> Any:
        """One transformer pass over [video; dummies; text].

        src (N, Lv + nd + Lt, d), mask bool (N, Lv + nd + Lt) (True = valid), pos like src,
        ctx_token (N, 1, d), vlen long (N,) -> the transformer's output (hs, references, memory_local,
        memory_global, attn_weights).
        """
        return self.transformer(
            src, ~mask, self.query_embed.weight, pos, video_length, ctx_token, self.global_rep_token,
            self.global_rep_pos, vlen,
        )

    def _negative_pass(
        self, vid: Sequence[str], src_vid: Tensor, src_vid_mask: Tensor, src_txt_dummy: Tensor,
        src_txt_mask_dummy: Tensor, pos: Tensor, video_length: int, ctx_token: Tensor,
    ) -> dict[str, Any]:
        """Rerun the transformer with the text of the next sample, for rows whose source video differs.

        src_vid (B, Lv, d), src_vid_mask float (B, Lv), src_txt_dummy (B, nd + Lt, d), src_txt_mask_dummy
        float (B, nd + Lt), pos (B, Lv + nd + Lt, d), ctx_token (B, 1, d) -> saliency_scores_neg (N, Lv),
        t2vattnvalues_neg (N, Lv), src_txt_mask_neg (N, nd + Lt) (only when N > 0) and real_neg_mask (B,) bool.
        """
        nd = self.num_dummies
        out: dict[str, Any] = {}
        ori_vid = source_video_ids(vid, self.cfg.strip_vid_window)
        neg_vid = ori_vid[1:] + ori_vid[:1]
        real_neg_mask = torch.tensor([a != b for a, b in zip(ori_vid, neg_vid)], device=src_vid.device)
        if real_neg_mask.any():
            # Words AND their encoded dummies are rolled by one along the batch; video stays.
            txt_neg = torch.cat([src_txt_dummy[1:], src_txt_dummy[:1]], dim=0)
            txt_mask_neg = torch.cat([src_txt_mask_dummy[1:], src_txt_mask_dummy[:1]], dim=0)
            src_neg = torch.cat([src_vid, txt_neg], dim=1)[real_neg_mask]
            mask_neg = torch.cat([src_vid_mask, txt_mask_neg], dim=1).bool()[real_neg_mask]
            txt_mask_neg = txt_mask_neg[real_neg_mask]
            out_n = self._run_transformer(src_neg, mask_neg, pos.clone()[real_neg_mask], video_length,
                                          ctx_token[real_neg_mask], src_vid_mask[real_neg_mask].sum(1).long())
            out["saliency_scores_neg"] = self._saliency(out_n.memory_local, out_n.memory_global)
            out["src_txt_mask_neg"] = txt_mask_neg
            attn_neg = (out_n.attn_weights[:, :, nd:] * txt_mask_neg[:, nd:].unsqueeze(1)).sum(2)
            out["t2vattnvalues_neg"] = torch.clamp(attn_neg, 0, 1)
        out["real_neg_mask"] = real_neg_mask
        return out

    def forward(
        self,
        src_vid: Tensor,
        src_vid_mask: Tensor,
        src_txt: Tensor,
        src_txt_mask: Tensor,
        vid: Sequence[str] | None = None,
        qid: Sequence[Any] | None = None,
        targets: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Predict moments and saliency.

        Args:
            src_vid: (B, Lv, Dv) clip features (last two columns = temporal endpoints).
            src_vid_mask: float (B, Lv), 1 = valid clip.
            src_txt: (B, Lt, Dt) token features; src_txt_mask: float (B, Lt), 1 = valid token.
            vid: video ids; they decide which rows get a negative (rolled-text) pass. None: no negative pass.
            qid: query ids (the release takes them and does not read them).
            targets: training targets; when given, the moment/sentence branches run (the release's
                training forward) and read `relevant_clips` (or `saliency_all_labels`).

        Returns:
            dict with the release's keys: pred_logits (B, Q, 2), pred_spans (B, Q, 2) (centre, width),
            saliency_scores (B, Lv), saliency_scores_neg (N, Lv) | None, src_txt_mask_neg, t2vattnvalues,
            t2vattnvalues_neg, real_neg_mask (B,) bool | None, cate_attn_weights (B, Lv, nd + Lt),
            txt_mask (B, nd + Lt), dummy_tokens (B, nd, d), global_rep_tokens (P, d), video_mask, the
            training-only memory_moment, nmmemory_moment, sentence_txt, sentence_dummy,
            moment2txt_similarity, nmoment2txt_similarity, moment_mask, src_vid (None at inference),
            and aux_outputs (list of {pred_logits, pred_spans} for all but the last decoder layer).
        """
        video_length = src_vid_mask.shape[1]
        src_vid, src_txt, pos_vid, pos_txt = self._project_inputs(src_vid, src_vid_mask, src_txt, src_txt_mask)
        dummy_token, pos_dummy, pos_txt_dummy = self._encode_dummies(src_txt, src_txt_mask, pos_txt)
        src_txt_dummy = torch.cat([dummy_token, src_txt], dim=1)
        dummy_valid = torch.ones(dummy_token.shape[:2], dtype=torch.bool, device=dummy_token.device)
        src_txt_mask_dummy = torch.cat([dummy_valid, src_txt_mask], dim=1)  # float (B, nd + Lt)
        src = torch.cat([src_vid, src_txt_dummy], dim=1)  # (B, Lv + nd + Lt, d)
        mask = torch.cat([src_vid_mask, src_txt_mask_dummy], dim=1).bool()  # True = valid
        pos = torch.cat([pos_vid, pos_txt_dummy], dim=1)
        ctx_token, vlen = context_token(src_vid, src_vid_mask)

        out_t = self._run_transformer(src, mask, pos, video_length, ctx_token, vlen)
        train = dict.fromkeys(TRAIN_ONLY_KEYS) if targets is None else self._train_branches(
            src_vid, pos_vid, src_vid_mask, src_txt, src_txt_mask, pos_txt, dummy_token, pos_dummy,
            relevant_clips_of(targets))

        outputs_class = self.class_embed(out_t.hs)
        outputs_coord = anchor_spans(self.span_embed, out_t.hs, out_t.references)
        out: dict[str, Any] = {"pred_logits": outputs_class[-1], "pred_spans": outputs_coord[-1],
                               "saliency_scores_neg": None, "t2vattnvalues_neg": None, "real_neg_mask": None}
        if vid is not None:
            out.update(self._negative_pass(vid, src_vid, src_vid_mask, src_txt_dummy, src_txt_mask_dummy, pos,
                                           video_length, ctx_token))
        out.update(self._main_outputs(out_t, src_txt_mask, src_txt_mask_dummy, dummy_token, src_vid_mask))
        out.update(train)
        if self.cfg.aux_loss:
            out["aux_outputs"] = aux_outputs(outputs_class, outputs_coord)
        return out

    def _main_outputs(
        self, out_t: Any, src_txt_mask: Tensor, src_txt_mask_dummy: Tensor, dummy_token: Tensor, src_vid_mask: Tensor
    ) -> dict[str, Any]:
        """Saliency and attention outputs of the main pass.

        out_t: the main transformer output; src_txt_mask float (B, Lt); src_txt_mask_dummy float (B, nd + Lt);
        dummy_token (B, nd, d); src_vid_mask float (B, Lv) -> saliency_scores (B, Lv), cate_attn_weights
        (B, Lv, nd + Lt), txt_mask, t2vattnvalues (B, Lv), dummy_tokens, global_rep_tokens, video_mask.
        """
        saliency = self._saliency(out_t.memory_local, out_t.memory_global)
        attn = (out_t.attn_weights[:, :, self.num_dummies:] * src_txt_mask.unsqueeze(1)).sum(2)
        return {
            "saliency_scores": saliency,
            "cate_attn_weights": out_t.attn_weights,
            "txt_mask": src_txt_mask_dummy,
            "t2vattnvalues": torch.clamp(attn, 0, 1),
            "dummy_tokens": dummy_token,
            "global_rep_tokens": self.global_rep_token,
            "video_mask": src_vid_mask,
        }

    def _train_branches(
        self, src_vid: Tensor, pos_vid: Tensor, src_vid_mask: Tensor, src_txt: Tensor, src_txt_mask: Tensor,
        pos_txt: Tensor, dummy_token: Tensor, pos_dummy: Tensor, relevant_clips: Tensor,
    ) -> dict[str, Any]:
        """Moment / non-moment tokens and sentence tokens of the training forward (model.py:202-264)."""
        bs = src_vid.shape[0]
        one = torch.ones(bs, 1, dtype=torch.bool, device=src_vid.device)
        moment_mask = torch.clamp(relevant_clips, 0, 1).bool()  # (B, Lv)
        vid_valid = torch.cat([one, src_vid_mask.bool()], dim=1)
        msrc = torch.cat([self.moment_rep_token.reshape(1, 1, -1).repeat(bs, 1, 1), src_vid], dim=1)
        mpos = torch.cat([self.moment_rep_pos.reshape(1, 1, -1).repeat(bs, 1, 1), pos_vid], dim=1)
        memory_moment, moment_frames = self.transformer.encode_moment(
            msrc, mpos, vid_valid & torch.cat([one, moment_mask], dim=1)
        )
        nmemory_moment, nmoment_frames = self.transformer.encode_moment(
            msrc, mpos, vid_valid & torch.cat([one, ~moment_mask], dim=1)
        )

        sent_tok = self.sent_rep_token.reshape(1, 1, -1).repeat(bs, 1, 1)
        sent_pos = self.sent_rep_pos.reshape(1, 1, -1).repeat(bs, 1, 1)
        smem = self.scls_encoder(
            torch.cat([sent_tok, src_txt], dim=1).permute(1, 0, 2),
            ~torch.cat([one, src_txt_mask.bool()], dim=1),
            torch.cat([sent_pos, pos_txt], dim=1).permute(1, 0, 2),
        )
        smem_d = self.scls_encoder(
            torch.cat([sent_tok, dummy_token], dim=1).permute(1, 0, 2),
            ~torch.ones(bs, 1 + dummy_token.shape[1], dtype=torch.bool, device=src_vid.device),
            torch.cat([sent_pos, pos_dummy], dim=1).permute(1, 0, 2),
        )
        words = torch.cat([smem_d[1:], smem[1:]], dim=0)  # (nd + Lt, B, d)
        m2t = torch.matmul(moment_frames.permute(1, 0, 2), words.permute(1, 2, 0))
        nm2t = torch.matmul(nmoment_frames.permute(1, 0, 2), words.permute(1, 2, 0))
        frames = moment_frames.permute(1, 0, 2) * moment_mask.unsqueeze(2) + nmoment_frames.permute(1, 0, 2) * (
            ~moment_mask.unsqueeze(2)
        ).float()
        return {
            "memory_moment": memory_moment,
            "nmmemory_moment": nmemory_moment,
            "sentence_txt": smem[0],
            "sentence_dummy": smem_d[0],
            "moment2txt_similarity": m2t,
            "nmoment2txt_similarity": nm2t,
            "moment_mask": moment_mask,
            "src_vid": frames,
        }
