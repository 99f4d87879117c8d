"""Bi-CMF, VideoLights' bidirectional cross-modal fusion layer (release transformer.py:438-492)."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def _cross_attention_mask(query_pad: Tensor, key_pad: Tensor, num_heads: int, leak: bool) -> Tensor:
    """Bool (B*h, Lq, Lk) mask, True where both the query and the key are padding.

    leak=True reproduces the release's `.repeat(nhead, 1, 1)`: nn.MultiheadAttention reads index
    b*nhead + h, so sample b / head h gets the mask of sample (b*nhead + h) mod B.
    """
    pair = torch.matmul(query_pad.unsqueeze(2).float(), key_pad.unsqueeze(1).float()).bool()
    return pair.repeat(num_heads, 1, 1) if leak else pair.repeat_interleave(num_heads, dim=0)


class BiCMFLayer(nn.Module):
    """Bidirectional cross-modal fusion of video and text (release transformer.py:438-492).

    Release (post-norm): v1 = LN1(V + lin1(MHA1(V+pos, T, T))); t1 = T + lin2(MHA2(T, V+pos, V)) (no norm);
    c = LN3(v1 + lin3(MHA3(v1, t1, t1))); F = lin5(PReLU(lin4(c))); V' = LN4(F + dropout(F)).
    Only the video rows are replaced; the global token and the text rows pass through.
    """

    def __init__(
        self, d_model: int, nhead: int, dim_feedforward: int, dropout: float, text_norm: bool = False,
        ffn_residual: bool = False, leak_mask: bool = True,
    ) -> None:  # fmt: skip
        super().__init__()
        self.cross_attn_1 = nn.MultiheadAttention(d_model, nhead, dropout=dropout)
        self.cross_attn_2 = nn.MultiheadAttention(d_model, nhead, dropout=dropout)
        self.cross_attn_3 = nn.MultiheadAttention(d_model, nhead, dropout=dropout)
        self.linear1 = nn.Linear(d_model, d_model)
        self.linear2 = nn.Linear(d_model, d_model)
        self.linear3 = nn.Linear(d_model, d_model)
        self.linear4 = nn.Linear(d_model, dim_feedforward)
        self.linear5 = nn.Linear(dim_feedforward, d_model)
        self.dropout = nn.Dropout(dropout)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)  # used only with the bicmf_text_norm correction
        self.norm3 = nn.LayerNorm(d_model)
        self.norm4 = nn.LayerNorm(d_model)
        self.activation = nn.PReLU()
        self.nhead = nhead
        self.text_norm = text_norm
        self.ffn_residual = ffn_residual
        self.leak_mask = leak_mask

    def forward(
        self, src: Tensor, key_padding_mask: Tensor, pos: Tensor, video_length: int, video_start: int = 1
    ) -> Tensor:
        """Fuse (the call of common's T2VEncoderLayer, so T2VEncoder stacks it).

        Args:
            src: float (S+Lv+Lt, B, d) [S leading tokens (the global token); video; text], sequence first.
            key_padding_mask: bool (B, S+Lv+Lt), True = padding.
            pos: float (S+Lv+Lt, B, d).
            video_length: Lv.
            video_start: S.

        Returns:
            float (S+Lv+Lt, B, d) with the video rows replaced.
        """
        vid = slice(video_start, video_start + video_length)
        txt = slice(video_start + video_length, None)
        pos_src = src + pos
        video, text = src[vid], src[txt]
        pos_vid, pos_txt = pos_src[vid], pos_src[txt]
        vid_pad, txt_pad = key_padding_mask[:, vid], key_padding_mask[:, txt]
        mask_vid = _cross_attention_mask(vid_pad, txt_pad, self.nhead, self.leak_mask)
        mask_txt = _cross_attention_mask(txt_pad, vid_pad, self.nhead, self.leak_mask)

        v_out = self.cross_attn_1(pos_vid, pos_txt, text, attn_mask=mask_vid, key_padding_mask=txt_pad)[0]
        v_out = self.norm1(video + self.linear1(self.dropout(v_out)))

        t_out = self.cross_attn_2(pos_txt, pos_vid, video, attn_mask=mask_txt, key_padding_mask=vid_pad)[0]
        t_out = text + self.linear2(self.dropout(t_out))
        if self.text_norm:
            t_out = self.norm2(t_out)

        c_out = self.cross_attn_3(v_out, t_out, t_out, attn_mask=mask_vid, key_padding_mask=txt_pad)[0]
        c_out = self.norm3(v_out + self.linear3(self.dropout(c_out)))

        ffn = self.linear5(self.dropout(self.activation(self.linear4(c_out))))
        v_new = self.norm4((c_out if self.ffn_residual else ffn) + self.dropout(ffn))
        return torch.cat([src[:video_start], v_new, text], dim=0)
