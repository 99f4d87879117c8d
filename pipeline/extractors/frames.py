"""Frame operations shared by the extractors: centre crops (CPU, uint8), resizes and normalisation
(wherever the network runs), temporal index picks.

Preprocessing is split in two halves so the CPU side stays cheap:

* `center_crop` runs in the engine's CPU workers on one clip's uint8 frames: frame selection and
  the centre crop, which is only slicing when the frames already have the crop size on the short
  side (what the decoder delivers). Its output stays uint8, 4x smaller than float32 to stack,
  pin and copy to the GPU.
* `resize_square` and `normalize` run on the stacked batch on the network's device: float
  conversion, the resize to the model's input size (only when it is not the crop size: the tiny
  presets) and the mean/std normalisation.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F

# OpenAI CLIP statistics; LAVIS' BLIP-2 image processors use the same ones.
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def _resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bicubic, antialiased resize of [N, 3, H, W] pixels to `size` (h, w) as float32 in [0, 255].

    Returns `x` itself (whatever its dtype) when it already has that size.
    """
    if tuple(x.shape[-2:]) == size:
        return x
    x = x.float()
    return F.interpolate(x, size=size, mode="bicubic", align_corners=False, antialias=True).clamp_(0.0, 255.0)


def as_tensor(frames: np.ndarray | torch.Tensor) -> torch.Tensor:
    """A numpy array as a tensor sharing its memory; a tensor (GPU-decoded frames) as it is."""
    return frames if isinstance(frames, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(frames))


def center_crop(frames: np.ndarray, crop: int, indices: np.ndarray | None = None) -> np.ndarray:
    """Frames `indices` (all when None) of a clip, short side to `crop`, centre square crop `crop`; uint8.

    Frames decoded with short side `crop` (what the decoder delivers for the extractors' sampling
    specs) are only sliced, exactly as the public extractors' ffmpeg `scale` + `crop` did: the
    crop offset is floor((side - crop) / 2). With `indices` the selection and the crop are one
    copy of only the cropped pixels.

    Other short sides (a fallback the engine does not hit) are first resized with the antialiased
    bicubic filter of `_resize` in float and rounded back to uint8, so the pixels differ from an
    all-float path by at most half a grey level.

    Args:
        frames: uint8 [T, H, W, 3] RGB, numpy or a torch tensor on any device (the result is alike).
        crop: side of the centre crop in pixels (224 in the paper).
        indices: int frame indices to keep, in order (repeats allowed).

    Returns:
        uint8 [T', crop, crop, 3], T' = len(indices) or T. Without `indices` and without a resize
        this is a strided view of `frames` (no copy); callers copy it into their layout.
    """
    h, w = frames.shape[1:3]
    if min(h, w) != crop:
        if indices is not None:
            frames, indices = frames[indices], None
        scale = crop / min(h, w)
        size = (max(crop, round(h * scale)), max(crop, round(w * scale)))
        x = _resize(as_tensor(frames).permute(0, 3, 1, 2), size).round_().to(torch.uint8).permute(0, 2, 3, 1)
        frames = x if isinstance(frames, torch.Tensor) else x.numpy()
        h, w = size
    top, left = (h - crop) // 2, (w - crop) // 2
    view = frames[:, top:top + crop, left:left + crop]
    return view if indices is None else view[indices]


def resize_square_repeats(frames: torch.Tensor, size: int) -> torch.Tensor:
    """Channels-last frames [N, H, W, 3] (uint8, any device) -> float32 [N, 3, size, size] as
    `resize_square` makes them, resizing a frame that repeats its predecessor only once (a 1-fps
    source resampled to 30 fps repeats each frame 30 times; 24/25-fps sources every 4th-6th).

    Comparing neighbours reads the uint8 frames once (as int64 words where the frame size allows),
    far less work than converting and resizing them; the output equals the frame-by-frame one.

    >>> x = torch.arange(3, dtype=torch.uint8).repeat_interleave(2).view(6, 1, 1, 1).expand(6, 4, 4, 3)
    >>> torch.equal(resize_square_repeats(x, 2), resize_square(x.permute(0, 3, 1, 2), 2))
    True
    """
    channels_first = frames.permute(0, 3, 1, 2)
    if len(frames) < 2 or tuple(frames.shape[1:3]) == (size, size):
        return resize_square(channels_first, size)
    flat = frames.reshape(len(frames), -1)
    if flat.shape[1] % 8 == 0 and flat.is_contiguous():
        flat = flat.view(torch.int64)
    starts = torch.ones(len(frames), dtype=torch.bool, device=frames.device)
    starts[1:] = (flat[1:] != flat[:-1]).any(1)
    if bool(starts.all()):
        return resize_square(channels_first, size)
    return resize_square(channels_first[starts], size)[starts.cumsum(0) - 1]


def resize_square(x: torch.Tensor, size: int) -> torch.Tensor:
    """[N, 3, H, W] pixels (uint8 or float in [0, 255], any device) to float32 [N, 3, size, size].

    Bicubic with antialiasing, clamped to [0, 255]; unchanged (still uint8 if it was) when H = W = size.
    """
    return _resize(x, (size, size))


@functools.lru_cache(maxsize=32)
def _affine(mean: tuple[float, ...], std: tuple[float, ...], device: torch.device, ndim: int,
            channel_dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(scale, bias) = (1 / (255 std), -mean / std) as float32 tensors shaped to broadcast, cached per device."""
    shape = [1] * ndim
    shape[channel_dim] = len(mean)
    m = torch.tensor(mean, dtype=torch.float64)
    s = torch.tensor(std, dtype=torch.float64)
    with torch.inference_mode(False):  # plain tensors, usable in and out of inference mode
        scale = (1.0 / (255.0 * s)).float().view(shape).to(device)
        bias = (-m / s).float().view(shape).to(device)
    return scale, bias


def normalize(x: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...], channel_dim: int = 1) -> torch.Tensor:
    """Pixel values in [0, 255] (uint8 or float) -> float32 (x / 255 - mean) / std, per channel along `channel_dim`.

    Computed as x * (1 / (255 std)) + (-mean / std), equal to the two-step formula up to float32
    rounding. On CUDA one fused multiply-add reads the uint8 pixels as they are (no float copy
    first); on CPU a float copy then in-place vectorised multiply and add is faster. `x` is not
    modified. The output has `x`'s layout: make `x` contiguous first for a contiguous result.
    """
    channel_dim %= x.ndim
    scale, bias = _affine(tuple(mean), tuple(std), x.device, x.ndim, channel_dim)
    if x.device.type == "cuda":
        return torch.addcmul(bias, x, scale)
    return x.to(torch.float32, copy=True).mul_(scale).add_(bias)


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
