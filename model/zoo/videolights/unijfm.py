"""Uni-JFM: saliency from the top predicted moment (release model.py:252-295, components.py:114-124)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from model.spans import span_cxw_to_xx


class GlobalFeatureExtractor(nn.Module):
    """One-layer unidirectional GRU; the moment vector is its final hidden state (key: gru.*)."""

    def __init__(self, input_dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.gru = nn.GRU(input_dim, hidden_dim, num_layers=1, batch_first=True, bidirectional=False)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """x float (B, L, D) -> (B, H).

        lengths None: the state after all L steps (release). Otherwise the state after `lengths[b]` steps
        (zeros where the length is 0).
        """
        out, h = self.gru(x)
        if lengths is None:
            return h[-1]
        idx = (lengths - 1).clamp(min=0).view(-1, 1, 1).expand(-1, 1, out.shape[-1])
        state = out.gather(1, idx).squeeze(1)
        return state * (lengths > 0).unsqueeze(-1).to(state.dtype)


def top_moment_clips(
    pred_logits: Tensor, pred_spans: Tensor, video_mask: Tensor, clip_len: float, own_length: bool
) -> list[tuple[int, int]]:
    """First and last clip (inclusive, as Python slice bounds st:ed+1) of each video's top-1 moment.

    Release: the top query by foreground probability; (cx, w) -> (st, ed) * L_pad*clip_len / clip_len,
    floored, unclamped (a negative start is later used as a negative Python index).
    own_length: scale by the video's own clip count and clamp to [0, n-1] instead.

    Args:
        pred_logits: float (B, Q, 2); pred_spans: float (B, Q, 2) normalised (cx, w).
        video_mask: float (B, L), 1 = valid.
        clip_len: clip seconds.
        own_length: the unijfm_span correction.

    Returns:
        [(st, ed)] per video.
    """
    scores = F.softmax(pred_logits, -1)[..., 0]
    _, order = torch.sort(scores, dim=-1, descending=True)
    top = order[:, :1]
    video_length = video_mask.shape[1]
    if own_length:
        n = video_mask.sum(1)
        spans = span_cxw_to_xx(pred_spans) * (n * clip_len).view(-1, 1, 1)
    else:
        spans = span_cxw_to_xx(pred_spans) * (video_length * clip_len)
    spans = torch.floor(spans / clip_len)
    chosen = spans[torch.arange(spans.size(0), device=spans.device).unsqueeze(1), top].squeeze(1)  # (B, 2)
    result = []
    for i in range(chosen.shape[0]):
        st, ed = int(chosen[i, 0]), int(chosen[i, 1])
        if own_length:
            last = int(video_mask[i].sum().item()) - 1
            st, ed = min(max(st, 0), last), min(max(ed, 0), last)
        result.append((st, ed))
    return result


def moment_saliency(
    extractor: GlobalFeatureExtractor,
    proj: nn.Linear,
    src_vid: Tensor,
    video_mask: Tensor,
    memory: Tensor,
    clips: list[tuple[int, int]],
    state_at_end: bool,
    softmax_weights: bool,
) -> Tensor:
    """saliency_scores_mr from the top moment.

    Release: slice src_vid[i, st:ed+1], zero-pad at the end to L_pad, GRU state after the padding = g;
    w_c = g . src_vid[c] (raw); m' = memory * w + memory; score = sum_d proj(m') / sqrt(d).

    Args:
        extractor: the GRU.
        proj: saliency_proj_mr.
        src_vid: float (B, L, d) projected clips (before FRA).
        video_mask: float (B, L).
        memory: float (B, L, d) encoded clips.
        clips: (st, ed) per video (top_moment_clips).
        state_at_end: unijfm_state correction (state after the slice's last clip).
        softmax_weights: unijfm_weights correction (softmax of g . v over valid clips).

    Returns:
        float (B, L).
    """
    max_time = memory.size(1)
    slices, lengths = [], []
    for i, (st, ed) in enumerate(clips):
        piece = src_vid[i, st : ed + 1, :]
        lengths.append(min(piece.size(0), max_time))
        pad = max_time - piece.size(0)
        slices.append(F.pad(piece, (0, 0, 0, pad), value=0) if pad > 0 else piece[:max_time, :])
    sliced = torch.stack(slices, dim=0)
    lens = torch.tensor(lengths, device=src_vid.device) if state_at_end else None
    g = extractor(sliced, lens).unsqueeze(1)  # (B, 1, d)
    weight = torch.matmul(g, src_vid.transpose(1, 2)).squeeze(1)  # (B, L)
    if softmax_weights:
        weight = F.softmax(weight.masked_fill(video_mask == 0, float("-inf")), dim=-1)
    memory = memory * weight.unsqueeze(-1) + memory
    return torch.sum(proj(memory), dim=-1) / math.sqrt(memory.shape[-1])
