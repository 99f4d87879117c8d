"""CG-DETR's transformer (release `cg_detr/transformer.py`): dummy-aware text-to-video layers, the
adaptive saliency token, the [token | video] encoder, the moment-token encoder and the DAB decoder.

The layers are the lineage's (model.zoo.common) with CG-DETR's switches: DropPath residual
dropouts, and a projection-free T2V attention whose dummy keys take softmax mass but give no value
(T2V_TransformerEncoderLayer.forward_post: x = v + attn; out = norm2(x + FFN(norm1(x))))."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from model.zoo.common.decoder import DABDecoder
from model.zoo.common.encoder import Encoder, EncoderLayer, T2VEncoder, T2VEncoderLayer, xavier_init


@dataclass
class TransformerOutput:
    """What CGDETRTransformer returns.

    Attributes:
        hs: (layers, B, Q, d) decoder outputs.
        references: (layers, B, Q, 2) reference spans entering each decoder layer.
        memory_local: (B, Lv, d) video memory (+ memory_global).
        memory_global: (B, d) saliency-token memory.
        attn_weights: (B, Lv, num_dummies + Lt) T2V weights averaged over heads and layers.
        memory_moment / nmmemory_moment: (B, d) moment / non-moment token outputs (training only).
        moment_frames / nmoment_frames: (Lv, B, d) their frame outputs (training only).
    """

    hs: Tensor
    references: Tensor
    memory_local: Tensor
    memory_global: Tensor
    attn_weights: Tensor
    memory_moment: Tensor | None = None
    nmmemory_moment: Tensor | None = None
    moment_frames: Tensor | None = None
    nmoment_frames: Tensor | None = None


class CGDETRTransformer(nn.Module):
    """Keys: `mcls_encoder`, `t2v_encoder`, `encoder`, `decoder` (as the release's Transformer)."""

    def __init__(
        self, d_model: int, nhead: int, ffn_dim: int, dropout: float, t2v_layers: int, enc_layers: int,
        dec_layers: int, moment_layers: int, num_dummies: int, num_prompts: int, mask_per_video: bool,
    ) -> None:
        super().__init__()
        self.d_model = d_model
        self.num_dummies = num_dummies
        self.num_prompts = num_prompts
        self.mask_per_video = mask_per_video
        layer = EncoderLayer(d_model, nhead, ffn_dim, dropout, drop_path=True)
        self.mcls_encoder = Encoder(layer, moment_layers)
        # mask_per_video: each video's own (padded clip x padded key) mask, which the key padding
        # mask already covers (the T2V layer's own_mask)
        t2v = T2VEncoderLayer(d_model, nhead, ffn_dim, dropout, own_mask=mask_per_video, projection_free=True,
                              drop_path=True)  # fmt: skip
        self.t2v_encoder = T2VEncoder(t2v, t2v_layers)
        self.encoder = Encoder(layer, enc_layers)
        self.decoder = DABDecoder(d_model, nhead, ffn_dim, dropout, dec_layers, drop_path=True)
        xavier_init(self)

    def encode_moment(self, src: Tensor, pos: Tensor, valid: Tensor) -> tuple[Tensor, Tensor]:
        """Moment-token encoder (training only).

        Args:
            src, pos: (B, 1 + Lv, d) [token | clips]; valid: bool (B, 1 + Lv).

        Returns:
            (token output (B, d), frame outputs (Lv, B, d)).
        """
        out = self.mcls_encoder(src.permute(1, 0, 2), ~valid, pos.permute(1, 0, 2))
        return out[0], out[1:]

    def saliency_token(
        self, vid_src: Tensor, t2v_weights: Tensor, ctx_token: Tensor, prompts: Tensor, vlen: Tensor
    ) -> Tensor:
        """The adaptive saliency token before its T2V pass (release `transformer.py:146-171`).

        Args:
            vid_src: (Lv, B, d) projected video BEFORE the T2V layers, padded clips included.
            t2v_weights: (B, Lv, num_dummies + Lt) T2V weights.
            ctx_token: (B, 1, d) mean projected video over valid clips.
            prompts: (P, d) global_rep_token.
            vlen: (B,) valid clips.

        Returns:
            (1, B, d): sum of the top-k prompts weighted by their pooled similarity, + ctx_token.
        """
        ctx = ctx_token.permute(1, 0, 2)  # (1, B, d)
        sim = torch.softmax(
            torch.matmul(F.normalize((vid_src - ctx).permute(1, 0, 2), dim=2), F.normalize(prompts, dim=1).T), dim=-1
        )  # (B, Lv, P)
        importance = t2v_weights[:, :, self.num_dummies:].sum(2).detach()
        valid = torch.arange(importance.shape[1], device=vlen.device)[None, :] < vlen[:, None]
        importance = importance * valid
        importance = importance / importance.sum(1, keepdim=True) * importance.shape[1]  # padded length
        pooled = (sim * importance.unsqueeze(2)).mean(1)  # (B, P)
        top_val, top_idx = torch.topk(pooled, k=self.num_prompts, dim=1)
        token = (top_val.unsqueeze(2) * prompts[top_idx]).sum(1)  # (B, d)
        return token.unsqueeze(0) + ctx

    def forward(
        self, src: Tensor, key_padding_mask: Tensor, query_embed: Tensor, pos: Tensor, video_length: int,
        ctx_token: Tensor, prompts: Tensor, prompt_pos: Tensor, vlen: Tensor,
    ) -> TransformerOutput:
        """Run the T2V layers, the saliency token, the encoder and the decoder.

        Args:
            src, pos: (B, Lv + num_dummies + Lt, d) [video | dummies | words] and positions.
            key_padding_mask: bool (B, Lv + num_dummies + Lt), True = padding.
            query_embed: (Q, 2) unsigmoided reference spans.
            video_length: Lv.
            ctx_token: (B, 1, d); prompts: (P, d); prompt_pos: (1, d); vlen: (B,) valid clips.
        """
        bs = src.shape[0]
        src = src.permute(1, 0, 2)
        pos = pos.permute(1, 0, 2)
        t2v_src, attn_weights = self.t2v_encoder(
            src, key_padding_mask, pos, video_length, value_from=self.num_dummies, need_weights=True
        )

        token = self.saliency_token(src[:video_length], attn_weights, ctx_token, prompts, vlen)
        token_pos = prompt_pos.reshape(1, 1, self.d_model).repeat(1, bs, 1)
        token_mask = torch.zeros(bs, 1, dtype=torch.bool, device=src.device)
        # The token's own T2V pass has no keys: each layer adds out_proj.bias (transformer.py:174).
        token = self.t2v_encoder(token, token_mask, token_pos, 1)

        enc_src = torch.cat([token, t2v_src[:video_length]], dim=0)
        enc_mask = torch.cat([token_mask, key_padding_mask[:, :video_length]], dim=1)
        enc_pos = torch.cat([token_pos, pos[:video_length]], dim=0)
        memory = self.encoder(enc_src, enc_mask, enc_pos)
        memory_global = memory[0]
        memory_local = memory[1:] + memory_global.unsqueeze(0)

        refpoints = query_embed.unsqueeze(1).repeat(1, bs, 1)
        hs, references = self.decoder(memory_local, enc_mask[:, 1:], enc_pos[1:], refpoints)
        return TransformerOutput(hs, references, memory_local.transpose(0, 1), memory_global, attn_weights)
