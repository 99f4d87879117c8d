"""Turn per-encoder features into the model's inputs: L2-normalise, concatenate, add temporal endpoints.

The work happens once per batch, straight into the padded batch tensor: float16 -> float32 casts
go through torch (vectorised; numpy's is several times slower) and each encoder's block is
normalised for the whole batch at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

#: Features appended per clip when temporal endpoints are on.
ENDPOINT_DIMS = 2


@dataclass(frozen=True)
class Assembly:
    """How encoder features become model inputs.

    Attributes:
        endpoints: append [i/L, (i+1)/L] to clip i (video only).
        normalize: L2-normalise each encoder's rows: x / (||x|| + eps), the release's formula.
        eps: normalisation epsilon.
    """

    endpoints: bool = True
    normalize: bool = True
    eps: float = 1e-5


def temporal_endpoints(n_clips: int) -> np.ndarray:
    """float32 (L, 2) rows [i / L, (i + 1) / L]: where each clip starts and ends, normalised.

    >>> temporal_endpoints(4).tolist()
    [[0.0, 0.25], [0.25, 0.5], [0.5, 0.75], [0.75, 1.0]]
    """
    start = np.arange(n_clips, dtype=np.float32) / n_clips
    return np.stack([start, start + np.float32(1.0 / n_clips)], axis=1)


def pad_and_concat(samples: Sequence[Sequence[np.ndarray]], how: Assembly, video: bool) -> tuple[Tensor, Tensor]:
    """Concatenate each sample's encoder features and pad the samples into one batch.

    Args:
        samples: per sample, per encoder (in concatenation order) a (T_e, D_e) array of any float
            dtype; a sample's encoders are cut to its shortest T_e.
        how: normalisation and endpoint options.
        video: add the temporal endpoints (when `how.endpoints`).

    Returns:
        (features float32 (B, T_max, sum D_e [+ 2]) zero after each sample's T rows,
         mask float32 (B, T_max), 1 = valid row).

    >>> x, mask = pad_and_concat([[np.ones((2, 3)), np.ones((3, 1))], [np.ones((1, 3)), np.ones((1, 1))]],
    ...                          Assembly(), video=True)
    >>> x.shape, mask.tolist()
    (torch.Size([2, 2, 6]), [[1.0, 1.0], [1.0, 0.0]])
    >>> [round(v, 4) for v in x[0, 0].tolist()]  # 1/sqrt(3) three times, 1, then endpoints [0, 1/2]
    [0.5773, 0.5773, 0.5773, 1.0, 0.0, 0.5]
    """
    dims = [p.shape[1] for p in samples[0]]
    lengths = [min(p.shape[0] for p in parts) for parts in samples]
    extra = ENDPOINT_DIMS if video and how.endpoints else 0
    # empty + zeroing only the padding: a full memset first would touch the memory twice
    out = torch.empty(len(samples), max(lengths), sum(dims) + extra)  # (B, T, D)
    mask = torch.zeros(len(samples), max(lengths))
    for i, (parts, n) in enumerate(zip(samples, lengths)):
        out[i, n:] = 0.0
        col = 0
        for part, dim in zip(parts, dims):
            out[i, :n, col:col + dim].copy_(torch.from_numpy(np.ascontiguousarray(part[:n])))
            col += dim
        if extra:
            out[i, :n, col:].copy_(torch.from_numpy(temporal_endpoints(n)))
        mask[i, :n] = 1.0
    if how.normalize:
        col = 0
        for dim in dims:
            block = out[:, :, col:col + dim]  # (B, T, D_e); padded rows stay 0
            block.div_(torch.linalg.vector_norm(block, dim=-1, keepdim=True).add_(how.eps))
            col += dim
    return out, mask


def assemble_video(parts: Sequence[np.ndarray], how: Assembly = Assembly()) -> np.ndarray:
    """float32 (L, sum D_e [+ 2]) clip features of one video (encoders in order SlowFast, CLIP, BLIP-2)."""
    return pad_and_concat([parts], how, video=True)[0][0].numpy()


def assemble_text(parts: Sequence[np.ndarray], how: Assembly = Assembly()) -> np.ndarray:
    """float32 (N, sum D_e) token features of one query (encoders in order CLIP, BLIP-2)."""
    return pad_and_concat([parts], how, video=False)[0][0].numpy()
