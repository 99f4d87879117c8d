"""TR-DETR's local and global alignment regulators (paper Eqs. 3-5) and its criterion."""

from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from model.layers.masked import masked_mean
from model.losses.criterion import SetCriterion
from model.spans import span_cxw_to_xx, spans_to_clip_range


def relevant_clips(target_spans: list[Tensor], video_mask: Tensor) -> Tensor:
    """C of Eq. 4: True for the valid clips that overlap a ground-truth moment.

    Args:
        target_spans: B tensors (n_i, 2) of normalised (centre, width); n_i may be 0.
        video_mask: bool (B, L), True = valid clip.

    Returns:
        bool (B, L).

    >>> mask = torch.ones(1, 4, dtype=torch.bool)
    >>> relevant_clips([torch.tensor([[0.375, 0.25]])], mask).int()
    tensor([[0, 1, 0, 0]], dtype=torch.int32)
    """
    index = torch.arange(video_mask.shape[1], device=video_mask.device)  # (L,)
    relevant = torch.zeros_like(video_mask)
    for b, spans in enumerate(target_spans):
        if len(spans) == 0:
            continue
        num_clips = video_mask[b].sum().repeat(len(spans))  # (n,)
        first, last = spans_to_clip_range(span_cxw_to_xx(spans.to(index.device).float()), num_clips)
        inside = (index >= first[:, None]) & (index <= last[:, None])  # (n, L)
        relevant[b] = inside.any(0) & video_mask[b]
    return relevant


def local_regulator_loss(
    video: Tensor,
    text: Tensor,
    video_mask: Tensor,
    text_mask: Tensor,
    relevant: Tensor,
    temperature: float = 1.0,
) -> Tensor:
    """Local regulator (Eqs. 3-4): BCE between the clip-sentence similarity and relevance.

    S_loc = sigmoid(cos(v_i, t_j) / temperature) for every clip i and word j (Eq. 3, where
    temperature = 1); S^_loc,i = mean over the valid words; BCE against C_i (Eq. 4).
    Eq. 4 sums over the clips; like the release, the BCE is averaged over each video's valid
    clips (then over videos), so lambda_lg = 0.3 does not depend on the video length.

    Args:
        video: float (B, L, D) projected clips F^_v.
        text: float (B, N, D) projected words F^_t.
        video_mask: bool (B, L), True = valid clip.
        text_mask: bool (B, N), True = valid word.
        relevant: bool (B, L), C: True for clips inside a ground-truth moment.
        temperature: divides the cosine (1 = the paper).

    Returns:
        scalar.
    """
    cosine = F.normalize(video, dim=-1) @ F.normalize(text, dim=-1).transpose(1, 2)  # (B, L, N)
    similarity = torch.sigmoid(cosine / temperature)  # S_loc
    words = text_mask.unsqueeze(1).to(video.dtype)  # (B, 1, N)
    pooled = (similarity * words).sum(-1) / words.sum(-1).clamp(min=1)  # S^_loc (B, L)
    # binary_cross_entropy refuses autocast; the regulator is cheap, so it runs in float32
    bce = F.binary_cross_entropy(pooled.float(), relevant.float(), reduction="none")  # (B, L)
    clips = video_mask.float()
    return ((bce * clips).sum(1) / clips.sum(1).clamp(min=1)).mean()


def global_regulator_loss(
    video: Tensor, text: Tensor, video_mask: Tensor, text_mask: Tensor, temperature: float
) -> Tensor:
    """Global regulator (Eq. 5): InfoNCE over the video-sentence pairs of the batch.

    G_v = mean of the valid projected clips, G_t = mean of the valid projected words. The
    logits are cos(G_v^i, G_t^j) / temperature, and the loss is the mean of the video->text
    and text->video cross-entropies with the matching pair as the target (ALBEF's
    contrastive loss, which Eq. 5 cites and the release computes; Eq. 5 as printed puts all
    B^2 pairs in one denominator and uses raw dot products).

    Args:
        video: float (B, L, D) projected clips F^_v.
        text: float (B, N, D) projected words F^_t.
        video_mask: bool (B, L), True = valid clip.
        text_mask: bool (B, N), True = valid word.
        temperature: softmax temperature.

    Returns:
        scalar (0 for a batch of one).
    """
    global_video = F.normalize(masked_mean(video, video_mask), dim=-1)  # G_v (B, D)
    global_text = F.normalize(masked_mean(text, text_mask), dim=-1)  # G_t (B, D)
    logits = global_video @ global_text.T / temperature  # (B, B), row i = video i
    labels = torch.arange(len(logits), device=logits.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


class TRDETRCriterion(SetCriterion):
    """SetCriterion plus TR-DETR's regulator terms "loss_local" and "loss_global".

    The relevance C of the local term comes from targets["span_labels"] (clips overlapping a
    ground-truth moment); without span labels (TVSum) from saliency_all_labels > 0.
    Both regulators read outputs "video_projected", "text_projected", "video_mask" and
    "text_mask".
    """

    def __init__(
        self,
        *args: Any,
        local_temperature: float = 1.0,
        global_temperature: float = 0.07,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.local_temperature, self.global_temperature = local_temperature, global_temperature

    def _loss_families(self) -> dict[tuple[str, ...], Callable[..., dict[str, Tensor]]]:
        families = super()._loss_families()
        families[("loss_local",)] = self.loss_local
        families[("loss_global",)] = self.loss_global
        return families

    def loss_local(self, outputs: dict, targets: dict, indices: Any) -> dict[str, Tensor]:
        """Eqs. 3-4: clip-word similarity BCE against clip relevance."""
        mask = outputs["video_mask"]
        if "span_labels" in targets:
            relevant = relevant_clips([t["spans"] for t in targets["span_labels"]], mask)
        elif "saliency_all_labels" in targets:
            relevant = (targets["saliency_all_labels"] > 0) & mask
        else:
            raise ValueError(
                f"targets lack 'span_labels' and 'saliency_all_labels' (have {sorted(targets)}); "
                "the local regulator needs one of them, or set local_regulator_weight to 0"
            )
        loss = local_regulator_loss(
            outputs["video_projected"], outputs["text_projected"], mask,
            outputs["text_mask"], relevant, self.local_temperature,
        )  # fmt: skip
        return {"loss_local": loss}

    def loss_global(self, outputs: dict, targets: dict, indices: Any) -> dict[str, Tensor]:
        """Eq. 5: video-sentence InfoNCE over the batch."""
        loss = global_regulator_loss(
            outputs["video_projected"], outputs["text_projected"], outputs["video_mask"],
            outputs["text_mask"], self.global_temperature,
        )  # fmt: skip
        return {"loss_global": loss}
