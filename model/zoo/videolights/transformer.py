"""VideoLights transformer: Bi-CMF on [global; video; text], encoder on [global; video], DAB decoder
(release transformer.py:60-200). The encoder and decoder layers are the lineage's (model.zoo.common);
the Bi-CMF layer is VideoLights' own."""

from __future__ import annotations

from torch import Tensor, nn

from model.zoo.common.decoder import DABDecoder
from model.zoo.common.encoder import Encoder, EncoderLayer, T2VEncoder, xavier_init
from model.zoo.videolights.encoder import BiCMFLayer


class VLTransformer(nn.Module):
    """Bi-CMF fusion (`t2v_encoder`), encoder and decoder, all with PReLU FFNs.

    The text rows are dropped after Bi-CMF: the encoder sees [global; video] only and the decoder
    attends to the encoded clips (no global token).

    Args:
        bicmf_text_norm, bicmf_ffn_residual: the corrections of the same names (BiCMFLayer).
        bicmf_leak_mask: False = the bicmf_attn_mask correction.
    """

    def __init__(
        self, d_model: int, nhead: int, dim_feedforward: int, dropout: float, bicmf_layers: int, enc_layers: int,
        dec_layers: int, bicmf_text_norm: bool = False, bicmf_ffn_residual: bool = False,
        bicmf_leak_mask: bool = True,
    ) -> None:  # fmt: skip
        super().__init__()
        bicmf = BiCMFLayer(
            d_model, nhead, dim_feedforward, dropout, bicmf_text_norm, bicmf_ffn_residual, bicmf_leak_mask
        )
        self.t2v_encoder = T2VEncoder(bicmf, bicmf_layers)
        self.encoder = Encoder(EncoderLayer(d_model, nhead, dim_feedforward, dropout), enc_layers)
        self.decoder = DABDecoder(d_model, nhead, dim_feedforward, dropout, dec_layers)
        xavier_init(self)

    def encode(self, src: Tensor, pad: Tensor, pos: Tensor, video_length: int) -> tuple[Tensor, Tensor, Tensor]:
        """Bi-CMF then the encoder.

        Args:
            src: float (B, 1+Lv+Lt, d) [global; video; text].
            pad: bool (B, 1+Lv+Lt), True = padding.
            pos: float (B, 1+Lv+Lt, d).
            video_length: Lv.

        Returns:
            memory float (Lv+1, B, d) sequence-first [global; video], its padding bool (B, Lv+1) and its
            positions float (Lv+1, B, d).
        """
        src, pos = src.transpose(0, 1), pos.transpose(0, 1)
        x = self.t2v_encoder(src, pad, pos, video_length, video_start=1)
        keep = video_length + 1  # the text is dropped after Bi-CMF
        x, pad, pos = x[:keep], pad[:, :keep], pos[:keep]
        return self.encoder(x, pad, pos), pad, pos

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
        memory, pad, pos = self.encode(src, pad, pos, video_length)
        memory_global, memory_local = memory[0], memory[1:]
        hs = refs = None
        if decode:
            refpoints = anchors.unsqueeze(1).repeat(1, src.shape[0], 1)
            hs, refs = self.decoder(memory_local, pad[:, 1:], pos[1:], refpoints)
        return hs, refs, memory_local.transpose(0, 1), memory_global
