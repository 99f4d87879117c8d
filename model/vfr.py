"""TR-DETR's query-guided visual feature refinement (VFR, paper Eqs. 6-10)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from model.fra import WeightedPool
from model.layers.masked import masked_softmax


class VisualFeatureRefinement(nn.Module):
    """Refine projected clips V (L x d) with the projected words T (N x d):

      A = Linear(V) Linear(T)^T / sqrt(d)                              (L x N, Eq. 6)
      F_v2q = A_r T,   F_q2v = A_r A_c^T V                              (L x d, Eqs. 7-8)
      [V || F_v2q || V * F_v2q || V * F_q2v || F_t^G] -> Linear        (5d -> d, Eqs. 9-10)

    A_r is A softmax-normalised over the valid words of each clip (rows), A_c over the valid
    clips of each word (columns); F_t^G is the pooled sentence vector repeated for every clip.
    The release builds A with a trilinear form and mixes the parts with two kernel-1
    convolutions and a ReLU; this follows the paper's equations.
    Padded clips come out as zeros; padded words and clips get no weight anywhere.
    """

    def __init__(self, dim: int, dropout: float) -> None:
        super().__init__()
        self.video_key = nn.Linear(dim, dim)
        self.text_key = nn.Linear(dim, dim)
        self.pool = WeightedPool(dim)
        self.out = nn.Linear(5 * dim, dim)
        self.dropout = nn.Dropout(dropout)
        self.scale = 1.0 / math.sqrt(dim)

    def similarity(self, video: Tensor, words: Tensor) -> Tensor:
        """Eq. 6: A = Linear(V) Linear(T)^T / sqrt(d), float (B, L, N)."""
        keys_video, keys_text = self.video_key(video), self.text_key(words)  # (B, L, D), (B, N, D)
        return torch.einsum("bld,bnd->bln", keys_video, keys_text) * self.scale

    def attend(
        self, video: Tensor, words: Tensor, video_mask: Tensor, word_mask: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Eqs. 7-8: clip-level text F_v2q and word-routed video F_q2v, each float (B, L, D)."""
        scores = self.similarity(video, words)  # (B, L, N)
        rows = masked_softmax(scores, word_mask[:, None, :], dim=2)  # A_r, sums to 1 over words
        cols = masked_softmax(scores, video_mask[:, :, None], dim=1)  # A_c, sums to 1 over clips
        video_to_query = rows @ words  # (B, L, N) @ (B, N, D) -> (B, L, D)
        word_video = cols.transpose(1, 2) @ video  # A_c^T V: (B, N, D)
        query_to_video = rows @ word_video  # (B, L, D)
        return video_to_query, query_to_video

    def forward(
        self, video: Tensor, words: Tensor, video_mask: Tensor, word_mask: Tensor
    ) -> Tensor:
        """Refine projected clips.

        Args:
            video: float (B, L, D) projected clips F^_v.
            words: float (B, N, D) projected words F^_t.
            video_mask: bool (B, L), True = valid clip.
            word_mask: bool (B, N), True = valid word.

        Returns:
            float (B, L, D) refined clips F-_v, zero at padded clips.
        """
        v2q, q2v = self.attend(video, words, video_mask, word_mask)
        sentence = self.pool(words, word_mask).unsqueeze(1).expand_as(video)  # F_t^G (B, L, D)
        parts = [video, v2q, video * v2q, video * q2v, sentence]
        features = self.dropout(torch.cat(parts, dim=-1))  # (B, L, 5D)
        return self.out(features) * video_mask.unsqueeze(-1).to(video.dtype)
