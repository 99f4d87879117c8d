"""FRA: feature refinement and alignment of the projected clips with the query (feature_refinement.py)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from model.zoo.videolights.layers import Conv1D, WeightedPool


class FeatureRefinement(nn.Module):
    """Mixes each clip with its sentence similarity, the sentence vector and a correlation term.

    Release (feature_refinement.py:31-64): corr = softmax_words(q_w . v_c) (no mask) @ (cor_q_w * cor_v_w),
    which is the constant vector cor_q_w*cor_v_w for every clip; sentence = WeightedPool(text);
    sim = cos(v_c, sentence) + log(video_mask + 1e-45); output = ReLU(Conv1d([v, sim*sim_w, sentence, corr])).
    Dropout is fixed at 0.1 (not the --dropout option).
    """

    def __init__(self, d_model: int, fix_correlation: bool = False, dropout: float = 0.1) -> None:
        super().__init__()
        self.fix_correlation = fix_correlation
        self.dropout = nn.Dropout(dropout)
        self.sim_w = nn.Parameter(nn.init.xavier_uniform_(torch.empty(d_model, 1)))
        self.cor_v_w = nn.Parameter(nn.init.xavier_uniform_(torch.empty(1, d_model)))
        self.cor_q_w = nn.Parameter(nn.init.xavier_uniform_(torch.empty(1, 1)))
        self.word_to_sentence_pool = WeightedPool(d_model)
        self.mixer = Conv1D(4 * d_model, d_model)

    def forward(self, video: Tensor, text: Tensor, video_mask: Tensor, text_mask: Tensor) -> Tensor:
        """Refined clips.

        Args:
            video: float (B, Lv, d) projected clips.
            text: float (B, Lt, d) projected tokens.
            video_mask, text_mask: float (B, Lv), (B, Lt), 1 = valid.

        Returns:
            float (B, Lv, d).
        """
        bs, vl, dim = video.shape
        ql = text.shape[1]
        logits = (text.unsqueeze(2) * video.unsqueeze(1)).sum(-1)  # (B, Lt, Lv), as the release sums
        cor_w = self.cor_v_w.repeat(bs, 1, 1) * self.cor_q_w.repeat(bs, ql, 1)  # (B, Lt, d), rows identical
        if self.fix_correlation:
            logits = logits + (1.0 - text_mask.unsqueeze(2)) * -1e30
            scores = F.softmax(logits, dim=1)  # (B, Lt, Lv)
            corr = self.dropout(torch.matmul(scores.transpose(1, 2), text * cor_w))
        else:
            scores = F.softmax(logits, dim=1)
            corr = self.dropout(torch.matmul(scores.transpose(1, 2), cor_w))

        sentence = self.word_to_sentence_pool(text, text_mask).unsqueeze(1)  # (B, 1, d)
        sim = F.cosine_similarity(video, sentence, dim=-1) + (video_mask + 1e-45).log()  # (B, Lv)
        sim_w = self.sim_w.transpose(1, 0).expand(bs, 1, dim).transpose(1, 2)  # (B, d, 1)
        sim_features = self.dropout(torch.matmul(sim_w, sim.unsqueeze(1))).transpose(1, 2)  # (B, Lv, d)
        pooled = self.dropout(sentence.repeat(1, vl, 1))
        features = torch.cat([self.dropout(video), sim_features, pooled, corr], dim=2)
        return self.dropout(F.relu(self.mixer(features)))
