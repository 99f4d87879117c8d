"""Bi-CMF fusion layer and the post-norm encoder layer (release transformer.py:438-492, 672-685)."""

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
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int,
        dropout: float,
        text_norm: bool = False,
        ffn_residual: bool = False,
        leak_mask: bool = True,
    ) -> None:
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

    def forward(self, src: Tensor, pad: Tensor, pos: Tensor, video_length: int) -> Tensor:
        """Fuse.

        Args:
            src: float (1+Lv+Lt, B, d) [global; video; text], sequence first.
            pad: bool (B, 1+Lv+Lt), True = padding.
            pos: float (1+Lv+Lt, B, d).
            video_length: Lv.

        Returns:
            float (1+Lv+Lt, B, d) with the video rows replaced.
        """
        lv = video_length
        pos_src = src + pos
        global_token, video, text = src[:1], src[1 : lv + 1], src[lv + 1 :]
        pos_vid, pos_txt = pos_src[1 : lv + 1], pos_src[lv + 1 :]
        vid_pad, txt_pad = pad[:, 1 : lv + 1], pad[:, lv + 1 :]
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
        return torch.cat([global_token, v_new, src[lv + 1 :]], dim=0)


class EncoderLayer(nn.Module):
    """Post-norm self-attention layer with a PReLU FFN; q = k = x + pos, v = x."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int, dropout: float) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.activation = nn.PReLU()

    def forward(self, src: Tensor, pad: Tensor, pos: Tensor) -> Tensor:
        """src float (L, B, d), pad bool (B, L) True = padding, pos float (L, B, d) -> (L, B, d)."""
        q = k = src + pos
        src2 = self.self_attn(q, k, value=src, key_padding_mask=pad)[0]
        src = self.norm1(src + self.dropout1(src2))
        src2 = self.linear2(self.dropout(self.activation(self.linear1(src))))
        return self.norm2(src + self.dropout2(src2))
