"""Feature Refinement and Alignment (FRA): query-aware refinement of projected clips."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class WeightedPool(nn.Module):
    """Sentence vector: softmax-weighted sum of the valid words with a learned scoring vector."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(nn.init.xavier_uniform_(torch.empty(dim, 1)))

    def forward(self, words: Tensor, word_mask: Tensor) -> Tensor:
        """Pool words (B, N, D) with mask (B, N) bool (True = valid) into (B, D)."""
        logits = (words @ self.weight).squeeze(-1)  # (B, N)
        alpha = logits.masked_fill(~word_mask, float("-inf")).softmax(dim=1)
        return torch.einsum("bn,bnd->bd", alpha, words)


class FeatureRefinement(nn.Module):
    """Refine clips with word-level correlation and sentence-level similarity (paper Sec. III-B).

    For projected clips V (L x d) and words T (N x d):
      * correlation: A = softmax over valid words of T V^T; per clip the words weighted by A,
        scaled by a learned scalar and a learned d-vector;
      * sentence s = learned weighted pooling of the valid words;
      * similarity: cos(V_i, s) per clip, spread over d by a learned d-vector;
      * [V, similarity, s repeated, correlation] (4d) -> Conv1d(k=1) -> ReLU -> dropout.
    Padded clips come out as zeros; padded words get no weight anywhere.
    """

    def __init__(self, dim: int, dropout: float) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.sim_scale = nn.Parameter(nn.init.xavier_uniform_(torch.empty(1, dim)))
        self.corr_scale = nn.Parameter(nn.init.xavier_uniform_(torch.empty(1, dim)))
        self.corr_word_scale = nn.Parameter(nn.init.xavier_uniform_(torch.empty(1, 1)))
        self.pool = WeightedPool(dim)
        self.mixer = nn.Conv1d(4 * dim, dim, kernel_size=1)

    def correlation(self, video: Tensor, words: Tensor, word_mask: Tensor) -> Tensor:
        """Per-clip mixture of words weighted by word-clip correlation: (B, L, D)."""
        logits = torch.einsum("bnd,bld->bnl", words, video)  # (B, N, L)
        # Padded words are masked out of the softmax over words. The spec records that the
        # authors' release does not mask them here; we do, so padding cannot change a clip.
        logits = logits.masked_fill(~word_mask[:, :, None], float("-inf"))
        weights = logits.softmax(dim=1)  # (B, N, L), sums to 1 over words
        # The release multiplies these weights by a word-independent matrix, which makes the
        # term the same constant for every clip (columns sum to 1); we weight the words
        # themselves so the correlation map actually reaches the refined features.
        mixed = torch.einsum("bnl,bnd->bld", weights, words)  # (B, L, D)
        return mixed * self.corr_word_scale * self.corr_scale

    def forward(
        self, video: Tensor, words: Tensor, video_mask: Tensor, word_mask: Tensor
    ) -> Tensor:
        """Refine projected clips.

        Args:
            video: float (B, L, D) projected clips.
            words: float (B, N, D) projected words.
            video_mask: bool (B, L), True = valid clip.
            word_mask: bool (B, N), True = valid word.

        Returns:
            float (B, L, D) refined clips, zero at padded clips.
        """
        keep = video_mask.unsqueeze(-1).to(video.dtype)  # (B, L, 1)
        sentence = self.pool(words, word_mask)  # (B, D)
        sim = F.cosine_similarity(video, sentence.unsqueeze(1), dim=-1)  # (B, L)
        # The release pushes padded clips' similarity to -inf before zeroing them; zeroing
        # directly (via `keep` below) gives the same features without inf * 0 = NaN.
        sim_features = sim.unsqueeze(-1) * self.sim_scale  # (B, L, D)
        sentence_features = sentence.unsqueeze(1).expand_as(video)  # (B, L, D)
        parts = [video, sim_features, sentence_features, self.correlation(video, words, word_mask)]
        features = torch.cat([self.dropout(p) for p in parts], dim=-1) * keep  # (B, L, 4D)
        mixed = self.mixer(features.transpose(1, 2)).transpose(1, 2)  # (B, 4D, L) -> (B, L, D)
        return self.dropout(F.relu(mixed)) * keep
