"""Cross-modal fusion layers: Bi-CMF and the text->video-only baseline (ablation)."""

from __future__ import annotations

from torch import Tensor, nn

from model.layers.encoder import FeedForward


def _cross_attention(dim: int, num_heads: int, dropout: float) -> nn.MultiheadAttention:
    return nn.MultiheadAttention(dim, num_heads, dropout=dropout, batch_first=True)


class BiCMFLayer(nn.Module):
    """Bi-directional cross-modal fusion (paper Sec. III-C), three cross-attentions:

    1. video -> text: Q = video + pos, K = text + pos, V = text   (text-conditioned video)
    2. text -> video: Q = text + pos, K = video + pos, V = video  (video-conditioned text)
    3. conditioned video over conditioned text: Q = 1, K = V = 2   (fused video)
    then a feed-forward block; every stage has dropout, residual and LayerNorm.
    """

    def __init__(self, dim: int, num_heads: int, ffn_dim: int, dropout: float) -> None:
        super().__init__()
        self.attn_video_text = _cross_attention(dim, num_heads, dropout)
        self.attn_text_video = _cross_attention(dim, num_heads, dropout)
        self.attn_fused = _cross_attention(dim, num_heads, dropout)
        self.out_video, self.out_text = nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.out_fused = nn.Linear(dim, dim)
        self.ffn = FeedForward(dim, ffn_dim, dropout)
        self.norm_video, self.norm_text = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.norm_fused, self.norm_ffn = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def forward(
        self,
        video: Tensor,
        text: Tensor,
        video_mask: Tensor,
        text_mask: Tensor,
        video_pos: Tensor,
        text_pos: Tensor,
    ) -> Tensor:
        """Fuse text into the clips.

        Args:
            video: float (B, L, D) clips.
            text: float (B, N, D) words.
            video_mask: bool (B, L), True = valid clip.
            text_mask: bool (B, N), True = valid word.
            video_pos: float (B, L, D) clip positions.
            text_pos: float (B, N, D) word positions (zeros when unused).

        Returns:
            float (B, L, D) query-aware clips.
        """
        video_q, text_k = video + video_pos, text + text_pos
        v = self.attn_video_text(video_q, text_k, text, key_padding_mask=~text_mask)[0]
        video_cond = self.norm_video(video + self.out_video(self.dropout(v)))
        t = self.attn_text_video(text_k, video_q, video, key_padding_mask=~video_mask)[0]
        text_cond = self.norm_text(text + self.out_text(self.dropout(t)))
        f = self.attn_fused(video_cond, text_cond, text_cond, key_padding_mask=~text_mask)[0]
        fused = self.norm_fused(video_cond + self.out_fused(self.dropout(f)))
        # the release adds the FFN output to itself here; we use the usual residual
        return self.norm_ffn(fused + self.dropout(self.ffn(fused)))


class TextToVideoLayer(nn.Module):
    """Baseline fusion: one cross-attention (Q = video + pos, K = text + pos, V = text) + FFN."""

    def __init__(self, dim: int, num_heads: int, ffn_dim: int, dropout: float) -> None:
        super().__init__()
        self.attn = _cross_attention(dim, num_heads, dropout)
        self.ffn = FeedForward(dim, ffn_dim, dropout)
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def forward(
        self,
        video: Tensor,
        text: Tensor,
        video_mask: Tensor,
        text_mask: Tensor,
        video_pos: Tensor,
        text_pos: Tensor,
    ) -> Tensor:
        """Same signature and shapes as BiCMFLayer.forward; video_mask is unused here."""
        attended = self.attn(video + video_pos, text + text_pos, text, key_padding_mask=~text_mask)
        video = self.norm1(video + self.dropout(attended[0]))
        return self.norm2(video + self.dropout(self.ffn(video)))
