"""VideoLights transformer: Bi-CMF on [global; video; text], encoder on [global; video], anchor decoder
(release transformer.py:60-200)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from model.zoo.videolights.decoder import AnchorDecoder
from model.zoo.videolights.encoder import BiCMFLayer, EncoderLayer


class _Stack(nn.Module):
    """Holds `layers` (keeps the release's `<name>.layers.<i>` keys)."""

    def __init__(self, layers: list[nn.Module]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)


class VLTransformer(nn.Module):
    """Bi-CMF fusion, encoder and decoder.

    The text rows are dropped after Bi-CMF: the encoder sees [global; video] only and the decoder
    attends to the encoded clips (no global token).
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int,
        dropout: float,
        bicmf_layers: int,
        enc_layers: int,
        dec_layers: int,
        bicmf_text_norm: bool = False,
        bicmf_ffn_residual: bool = False,
        bicmf_leak_mask: bool = True,
    ) -> None:
        super().__init__()
        self.t2v_encoder = _Stack(
            [
                BiCMFLayer(
                    d_model, nhead, dim_feedforward, dropout, bicmf_text_norm, bicmf_ffn_residual, bicmf_leak_mask
                )
                for _ in range(bicmf_layers)
            ]
        )
        self.encoder = _Stack([EncoderLayer(d_model, nhead, dim_feedforward, dropout) for _ in range(enc_layers)])
        self.decoder = AnchorDecoder(d_model, nhead, dim_feedforward, dropout, dec_layers)
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)
        self.d_model = d_model

    def encode(self, src: Tensor, pad: Tensor, pos: Tensor, video_length: int) -> tuple[Tensor, Tensor]:
        """Bi-CMF then the encoder.

        Args:
            src: float (B, 1+Lv+Lt, d) [global; video; text].
            pad: bool (B, 1+Lv+Lt), True = padding.
            pos: float (B, 1+Lv+Lt, d).
            video_length: Lv.

        Returns:
            (memory float (Lv+1, B, d) sequence-first [global; video], pos float (Lv+1, B, d)).
        """
        x = src.permute(1, 0, 2)
        pos = pos.permute(1, 0, 2)
        for layer in self.t2v_encoder.layers:
            x = layer(x, pad, pos, video_length)
        x, pad, pos = x[: video_length + 1], pad[:, : video_length + 1], pos[: video_length + 1]
        for layer in self.encoder.layers:
            x = layer(x, pad, pos)
        return x, pos

    def forward(
        self, src: Tensor, pad: Tensor, anchors: Tensor, pos: Tensor, video_length: int, decode: bool = True
    ) -> tuple[Tensor | None, Tensor | None, Tensor, Tensor]:
        """Encode and decode.

        Args:
            src, pad, pos, video_length: as `encode`.
            anchors: float (Q, 2) learned anchors before the sigmoid.
            decode: False skips the decoder (the negative pass only needs the memory).

        Returns:
            (hs (layers, B, Q, d) or None, refs (layers, B, Q, 2) or None, video memory (B, Lv, d),
            global memory (B, d)).
        """
        bs = src.shape[0]
        memory, pos_seq = self.encode(src, pad, pos, video_length)
        memory_global, memory_local = memory[0], memory[1:]
        hs = refs = None
        if decode:
            tgt = torch.zeros(anchors.shape[0], bs, self.d_model, device=src.device, dtype=src.dtype)
            hs, refs = self.decoder(
                tgt, memory_local, pad[:, 1 : video_length + 1], pos_seq[1:], anchors.unsqueeze(1).repeat(1, bs, 1)
            )
        return hs, refs, memory_local.transpose(0, 1), memory_global
