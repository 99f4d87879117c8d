"""Post-norm Transformer encoder layer with positional encodings added to queries and keys."""

from __future__ import annotations

from torch import Tensor, nn


class FeedForward(nn.Module):
    """Linear -> PReLU -> Dropout -> Linear."""

    def __init__(self, dim: int, ffn_dim: int, dropout: float) -> None:
        super().__init__()
        self.linear1 = nn.Linear(dim, ffn_dim)
        self.activation = nn.PReLU()
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(ffn_dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        """Map (..., dim) to (..., dim)."""
        return self.linear2(self.dropout(self.activation(self.linear1(x))))


class EncoderLayer(nn.Module):
    """Self-attention (q = k = x + pos, v = x) and feed-forward, each with residual + norm."""

    def __init__(self, dim: int, num_heads: int, ffn_dim: int, dropout: float) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(dim, num_heads, dropout=dropout, batch_first=True)
        self.ffn = FeedForward(dim, ffn_dim, dropout)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, pos: Tensor, padding_mask: Tensor) -> Tensor:
        """Encode tokens.

        Args:
            x: float (B, L, D) tokens.
            pos: float (B, L, D) positional encodings.
            padding_mask: bool (B, L), True = padded token.

        Returns:
            float (B, L, D).
        """
        qk = x + pos
        attended = self.self_attn(qk, qk, x, key_padding_mask=padding_mask, need_weights=False)[0]
        x = self.norm1(x + self.dropout(attended))
        return self.norm2(x + self.dropout(self.ffn(x)))
