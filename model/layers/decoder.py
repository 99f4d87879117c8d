"""Anchor-based moment decoder (DAB-DETR / QD-DETR style) with layer-wise span refinement."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from model.layers.attention import multihead_attention
from model.layers.encoder import FeedForward
from model.layers.mlp import MLP
from model.layers.position import anchor_sine_embedding
from model.spans import inverse_sigmoid


class AnchorDecoderLayer(nn.Module):
    """Self-attention over moment queries, then conditional cross-attention over clips.

    Cross-attention concatenates, per head, content and position parts of queries and keys,
    so "what" and "where" are matched separately (Conditional/DAB-DETR).
    """

    def __init__(
        self, dim: int, num_heads: int, ffn_dim: int, dropout: float, query_pos_in_cross: bool
    ) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.attn_dropout = dropout
        linear = lambda: nn.Linear(dim, dim)  # noqa: E731
        self.sa_q_content, self.sa_q_pos, self.sa_k_content = linear(), linear(), linear()
        self.sa_k_pos, self.sa_value, self.sa_out = linear(), linear(), linear()
        self.ca_q_content, self.ca_k_content, self.ca_k_pos = linear(), linear(), linear()
        self.ca_value, self.ca_q_sine, self.ca_out = linear(), linear(), linear()
        # only the first layer adds the anchor's positional query to the content query
        self.ca_q_pos = linear() if query_pos_in_cross else None
        self.ffn = FeedForward(dim, ffn_dim, dropout)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)

    def _heads_cat(self, a: Tensor, b: Tensor) -> Tensor:
        batch, length, dim = a.shape
        a = a.view(batch, length, self.num_heads, -1)  # (B, L, H, D/H)
        b = b.view(batch, length, self.num_heads, -1)
        return torch.cat([a, b], dim=3).view(batch, length, 2 * dim)  # (B, L, 2D)

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        memory_padding: Tensor,
        memory_pos: Tensor,
        query_pos: Tensor,
        query_sine: Tensor,
    ) -> Tensor:
        """Update moment queries.

        Args:
            tgt: float (B, Q, D) query content.
            memory: float (B, L, D) encoded clips.
            memory_padding: bool (B, L), True = padded clip.
            memory_pos: float (B, L, D) clip positions.
            query_pos: float (B, Q, D) positional query from the anchors.
            query_sine: float (B, Q, D) (scaled) anchor sine embedding.

        Returns:
            float (B, Q, D).
        """
        p = self.attn_dropout if self.training else 0.0
        q = self.sa_q_content(tgt) + self.sa_q_pos(query_pos)
        k = self.sa_k_content(tgt) + self.sa_k_pos(query_pos)
        attended = multihead_attention(q, k, self.sa_value(tgt), self.num_heads, dropout=p)
        tgt = self.norm1(tgt + self.dropout(self.sa_out(attended)))

        q = self.ca_q_content(tgt)
        k = self.ca_k_content(memory)
        k_pos = self.ca_k_pos(memory_pos)
        if self.ca_q_pos is not None:
            q = q + self.ca_q_pos(query_pos)
            k = k + k_pos
        q = self._heads_cat(q, self.ca_q_sine(query_sine))  # (B, Q, 2D)
        k = self._heads_cat(k, k_pos)  # (B, L, 2D)
        attended = multihead_attention(
            q, k, self.ca_value(memory), self.num_heads, memory_padding, dropout=p
        )
        tgt = self.norm2(tgt + self.dropout(self.ca_out(attended)))
        return self.norm3(tgt + self.dropout(self.ffn(tgt)))


class AnchorDecoder(nn.Module):
    """Decoder over learned (centre, width) anchors, refined layer by layer.

    Each layer predicts an offset in logit space that moves the anchors; the moved anchors
    (detached) condition the next layer. Returns every layer's normalised output and the
    anchors that layer started from, so heads can predict spans relative to them.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        ffn_dim: int,
        dropout: float,
        num_layers: int,
        num_queries: int,
    ) -> None:
        super().__init__()
        self.dim = dim
        self.layers = nn.ModuleList(
            AnchorDecoderLayer(dim, num_heads, ffn_dim, dropout, query_pos_in_cross=i == 0)
            for i in range(num_layers)
        )
        self.query_scale = MLP(dim, dim, dim, 2)
        self.ref_point_head = MLP(dim, dim, dim, 2)
        self.ref_anchor_head = MLP(dim, dim, 1, 2)
        self.refine_head = MLP(dim, dim, 2, 3)
        self.norm = nn.LayerNorm(dim)
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)
        nn.init.zeros_(self.refine_head.layers[-1].bias)
        # created after the Xavier pass: anchors keep N(0, 1) logits, i.e. spread-out spans
        self.anchors = nn.Embedding(num_queries, 2)

    def forward(
        self, memory: Tensor, memory_mask: Tensor, memory_pos: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Decode moment queries.

        Args:
            memory: float (B, L, D) encoded clips.
            memory_mask: bool (B, L), True = valid clip.
            memory_pos: float (B, L, D) clip positions.

        Returns:
            hidden: float (n_layers, B, Q, D) normalised query states of every layer.
            references: float (n_layers, B, Q, 2) normalised (centre, width) anchors each layer
                started from (not detached, so the refinement head learns through them).
        """
        batch = memory.shape[0]
        padding = ~memory_mask
        refs = self.anchors.weight.sigmoid().unsqueeze(0).expand(batch, -1, -1)  # (B, Q, 2)
        tgt = memory.new_zeros(batch, refs.shape[1], self.dim)  # (B, Q, D)
        hidden, references = [], []
        for i, layer in enumerate(self.layers):
            sine = anchor_sine_embedding(refs.detach(), self.dim)  # (B, Q, D)
            query_pos = self.ref_point_head(sine)
            if i > 0:
                sine = sine * self.query_scale(tgt)
            # modulate by learned / anchor width: wide anchors attend more broadly
            sine = sine * (self.ref_anchor_head(tgt).sigmoid() / refs[..., 1:].detach())
            tgt = layer(tgt, memory, padding, memory_pos, query_pos, sine)
            references.append(refs)
            hidden.append(self.norm(tgt))
            if i < len(self.layers) - 1:
                refs = (self.refine_head(tgt) + inverse_sigmoid(refs.detach())).sigmoid()
        return torch.stack(hidden), torch.stack(references)
