"""Pure frame operations shared by the extractors: centre crops, resizes, temporal index picks."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

# OpenAI CLIP statistics; LAVIS' BLIP-2 image processors use the same ones.
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def _resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bicubic, antialiased resize of float [T, 3, H, W] to `size` (h, w), kept in [0, 255]."""
    if tuple(x.shape[-2:]) == size:
        return x
    return F.interpolate(x, size=size, mode="bicubic", align_corners=False, antialias=True).clamp_(0.0, 255.0)


def center_crop_resize(frames: np.ndarray, crop: int, out: int) -> torch.Tensor:
    """Short side to `crop`, centre square crop `crop`, then resize to `out`.

    Frames already decoded with short side `crop` (the usual case) are only cropped, exactly
    as the public extractors' ffmpeg `scale` + `crop` did: the crop offset is
    floor((side - crop) / 2). The final resize only happens for models whose input is not
    `crop` pixels (the tiny presets).

    Args:
        frames: uint8 [T, H, W, 3] RGB.
        crop: side of the centre crop in pixels (224 in the paper).
        out: side of the model input in pixels.

    Returns:
        float32 [T, 3, out, out] with values in [0, 255].
    """
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()  # (T, 3, H, W)
    h, w = x.shape[-2:]
    if min(h, w) != crop:
        scale = crop / min(h, w)
        x = _resize(x, (max(crop, round(h * scale)), max(crop, round(w * scale))))
        h, w = x.shape[-2:]
    top, left = (h - crop) // 2, (w - crop) // 2
    x = x[:, :, top:top + crop, left:left + crop]  # (T, 3, crop, crop)
    return _resize(x, (out, out)).contiguous()


def normalize(x: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...], channel_dim: int = 1) -> torch.Tensor:
    """Pixel values in [0, 255] -> (x / 255 - mean) / std, per channel along `channel_dim`."""
    shape = [1] * x.ndim
    shape[channel_dim] = 3
    m = torch.tensor(mean, dtype=x.dtype).view(shape)
    s = torch.tensor(std, dtype=x.dtype).view(shape)
    return (x / 255.0 - m) / s


def pad_repeat_last(n_frames: int, target: int) -> np.ndarray:
    """Indices 0..n_frames-1, padded to `target` by repeating the last frame.

    >>> pad_repeat_last(3, 5).tolist()
    [0, 1, 2, 2, 2]
    >>> pad_repeat_last(6, 4).tolist()
    [0, 1, 2, 3, 4, 5]
    """
    if n_frames < 1:
        raise ValueError(f"need at least one frame to pad (got {n_frames})")
    return np.concatenate([np.arange(n_frames), np.full(max(0, target - n_frames), n_frames - 1)]).astype(np.int64)


def uniform_indices(n_frames: int, n_samples: int) -> np.ndarray:
    """`n_samples` indices spread evenly over 0..n_frames-1, both ends included (floor of linspace).

    This is pytorchvideo's `uniform_temporal_subsample` / PySlowFast's `temporal_sampling`.

    >>> uniform_indices(60, 32)[:6].tolist(), int(uniform_indices(60, 32)[-1])
    ([0, 1, 3, 5, 7, 9], 59)
    """
    if n_frames < 1 or n_samples < 1:
        raise ValueError(f"uniform_indices needs n_frames >= 1 and n_samples >= 1 (got {n_frames}, {n_samples})")
    return torch.linspace(0, n_frames - 1, n_samples).long().numpy()
