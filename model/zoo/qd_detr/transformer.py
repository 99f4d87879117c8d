"""QD-DETR's transformer (release `qd_detr/transformer.py`): text-to-video cross-attention encoder,
self-attention encoder over [global token | video], and the DAB-DETR decoder, all from
model.zoo.common (the layers are the lineage's; the wiring is QD-DETR's).

Sequences are sequence-first, (L, B, d), as in the release (so the attention head layout and
masks are the release's). Key padding masks are bool with True = padding.
"""

from __future__ import annotations

from torch import Tensor, nn

from model.zoo.common.decoder import DABDecoder
from model.zoo.common.encoder import Encoder, EncoderLayer, T2VEncoder, T2VEncoderLayer, xavier_init


class QDDETRTransformer(nn.Module):
    """T2V encoder -> drop text -> encoder over [global | video] -> DAB decoder on the video memory.

    Args:
        t2v_own_mask, t2v_norm_residual: QD-DETR's corrections of the T2V layer (T2VEncoderLayer).
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        enc_layers: int,
        dec_layers: int,
        ffn_dim: int,
        dropout: float,
        t2v_own_mask: bool = False,
        t2v_norm_residual: bool = False,
    ) -> None:
        super().__init__()
        self.d_model = d_model
        self.t2v_encoder = T2VEncoder(
            T2VEncoderLayer(d_model, nhead, ffn_dim, dropout, t2v_own_mask, t2v_norm_residual), enc_layers
        )
        self.encoder = Encoder(EncoderLayer(d_model, nhead, ffn_dim, dropout), enc_layers)
        self.decoder = DABDecoder(d_model, nhead, ffn_dim, dropout, dec_layers)
        xavier_init(self)

    def forward(
        self, src: Tensor, key_padding_mask: Tensor, query_embed: Tensor, pos: Tensor, video_length: int
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """src, pos (B, 1 + Lv + Lt, d) = [global | video | text]; key_padding_mask bool (B, 1 + Lv + Lt),
        True = pad; query_embed (Q, 2) unsigmoided anchors.

        Returns:
            hs (layers, B, Q, d), references (layers, B, Q, 2), video memory (B, Lv, d), global memory (B, d).
        """
        bsz = src.shape[0]
        src = src.transpose(0, 1)
        pos = pos.transpose(0, 1)
        refpoints = query_embed.unsqueeze(1).repeat(1, bsz, 1)
        src = self.t2v_encoder(src, key_padding_mask, pos, video_length, video_start=1)
        keep = video_length + 1  # the text is dropped after the T2V encoder
        src, key_padding_mask, pos = src[:keep], key_padding_mask[:, :keep], pos[:keep]
        memory = self.encoder(src, key_padding_mask, pos)
        memory_global, memory_local = memory[0], memory[1:]
        hs, references = self.decoder(memory_local, key_padding_mask[:, 1:], pos[1:], refpoints)
        return hs, references, memory_local.transpose(0, 1), memory_global
