"""Interfaces shared by the frozen feature encoders: video extractors and query text encoders."""

from __future__ import annotations

import contextlib
import copy
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from pydantic import BaseModel

from pipeline.common.device import resolve_device
from pipeline.extractors.frames import (
    CLIP_MEAN,
    CLIP_STD,
    as_tensor,
    center_crop,
    normalize,
    resize_square,
)
from pipeline.video.sampling import ReferenceFrames, SamplingSpec

PRESETS: tuple[str, ...] = ("tiny", "paper")
_PLAIN = (bool, int, float, str, tuple, type(None), torch.device, BaseModel)


def check_preset(preset: str) -> None:
    """Refuse an unknown preset name with the accepted ones in the message."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; expected one of {PRESETS}")




@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run a block (model construction) under `torch.manual_seed(seed)` without touching the caller's RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def tiny_weights_id(seed: int) -> str:
    """weights_id of a randomly initialised tiny model: always starts with "tiny:"."""
    return f"tiny:seed{seed}"


@dataclass(frozen=True)
class TextFeatures:
    """Features of one text query.

    Attributes:
        tokens: float32 [n_valid_tokens, dim], one row per valid (non-padding) token.
        pooled: float32 [dim] sentence vector, or None when the encoder has none.
    """

    tokens: np.ndarray
    pooled: np.ndarray | None


class _Encoder:
    """What video extractors and text encoders share: identity, device, autocast."""

    name: ClassVar[str]
    version: ClassVar[str]

    def __init__(self, *, dim: int, preset: str, weights_id: str, device: str | torch.device, amp: bool):
        check_preset(preset)
        if preset == "tiny" and not weights_id.startswith("tiny:"):
            raise ValueError(f"{self.name}: a tiny preset needs a weights_id starting with 'tiny:' (got {weights_id!r})")
        self.dim = int(dim)
        self.preset = preset
        self.weights_id = weights_id
        self.device = resolve_device(device)
        self.amp = amp

    def _autocast_dtype(self) -> torch.dtype | None:
        """bf16 (fp16 where bf16 is unsupported) with AMP on CUDA; None (plain fp32) otherwise."""
        if self.device.type != "cuda" or not self.amp:
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16

    def _autocast(self) -> contextlib.AbstractContextManager:
        """bf16 (fp16 where bf16 is unsupported) autocast on CUDA; plain fp32 on CPU."""
        dtype = self._autocast_dtype()
        return contextlib.nullcontext() if dtype is None else torch.autocast("cuda", dtype=dtype)

    def _to_device(self, tensor: torch.Tensor) -> torch.Tensor:
        """Move a CPU tensor to the device, through pinned memory on CUDA so the copy is asynchronous
        (a tensor already there, GPU-decoded frames, stays)."""
        if tensor.device == self.device:
            return tensor
        if self.device.type == "cuda" and tensor.device.type == "cpu":
            return tensor.pin_memory().to(self.device, non_blocking=True)
        return tensor.to(self.device)

    def describe(self) -> dict[str, object]:
        """Identity of the features for store attributes and reports."""
        return {
            "extractor": self.name,
            "version": self.version,
            "dim": self.dim,
            "preset": self.preset,
            "weights_id": self.weights_id,
        }

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(preset={self.preset!r}, dim={self.dim}, "
            f"weights_id={self.weights_id!r}, device={str(self.device)!r})"
        )


class VideoExtractor(_Encoder, ABC):
    """A frozen encoder mapping each clip's frames to one feature row.

    Work is split so the engine can overlap CPU and GPU, and so the CPU side stays cheap:
    `preprocess_clip` runs in CPU workers on one clip's uint8 frames and only selects frames and
    centre-crops them (slicing, for frames decoded at the sampling spec's short side), returning
    uint8 of shape `clip_shape`; `encode_batch` moves the stacked uint8 batch to the device and
    there converts to float, resizes to the model input (`prepare_batch`), normalises, and runs
    the network.

    Attributes:
        name: registry key ("clip", "slowfast", "blip2").
        version: bumped when outputs change for the same weights.
        dim: feature size (512 / 2304 / 768 for the paper presets).
        sampling: which frames of each clip the decoder must deliver.
        clip_shape: shape of one `preprocess_clip` output (uint8).
        preset: "tiny" (random seeded small model) or "paper" (the published weights).
        weights_id: identity of the weights ("tiny:..." for tiny presets).
        device: where `encode_batch` runs.
    """

    sampling: SamplingSpec
    crop_size: int

    @staticmethod
    def sampling_for(crop_size: int = 224) -> SamplingSpec:
        """The frames this extractor reads at short side `crop_size`: one per clip, as the public
        CLIP / BLIP-2 extractors pick and scale them (SlowFast overrides it)."""
        return ReferenceFrames(short_side=crop_size)

    def with_crop_size(self, crop_size: int) -> VideoExtractor:
        """A copy (sharing the network) that decodes frames at short side `crop_size` and crops that.

        The paper presets crop 224 px; the tiny presets' networks take 32-px inputs, so a small
        crop (e.g. 64) saves most of their CPU time. The sampling spec, and so the store entries'
        identity, follows the crop.
        """
        if crop_size < 1:
            raise ValueError(f"{self.name}: crop_size must be >= 1, got {crop_size}")
        twin = copy.copy(self)
        twin.crop_size = crop_size
        twin.sampling = self.sampling.model_copy(update={"short_side": crop_size})
        return twin

    def without_network(self) -> VideoExtractor:
        """A copy holding only plain settings (no network, tokenizer or device state): what a decode
        worker process needs for `sampling`, `clip_shape` and `preprocess_clip`, cheap to pickle."""
        twin = copy.copy(self)
        twin.__dict__ = {key: value for key, value in vars(self).items() if isinstance(value, _PLAIN)}
        return twin

    @property
    @abstractmethod
    def clip_shape(self) -> tuple[int, ...]:
        """Shape of one `preprocess_clip` output, e.g. (3, 224, 224) for one frame."""

    @abstractmethod
    def preprocess_clip(self, frames: np.ndarray) -> torch.Tensor:
        """One clip's frames, uint8 [T, H, W, 3] RGB, to a CPU uint8 tensor of `clip_shape` ready to stack.

        Cheap by design (frame selection and centre crop only): runs in the engine's CPU workers.
        """

    @abstractmethod
    def prepare_batch(self, batch: torch.Tensor) -> torch.Tensor:
        """Stacked uint8 `preprocess_clip` outputs [B, *clip_shape], already on the device -> the network input.

        Float conversion, resize to the model's input size when it differs from the crop, mean/std
        normalisation, computed in float32 and returned in `_input_dtype()`.
        """

    @abstractmethod
    def _forward(self, batch: torch.Tensor) -> torch.Tensor:
        """The network on a `prepare_batch` output (on `self.device`): [B, ...] -> [B, dim]."""

    def _input_dtype(self) -> torch.dtype:
        """dtype of the network input: the autocast dtype under AMP (the first layer, a convolution,
        would cast to it anyway), float32 otherwise."""
        return self._autocast_dtype() or torch.float32

    def check_batch(self, batch: torch.Tensor) -> None:
        """Refuse anything but a stacked uint8 batch of `preprocess_clip` outputs [B, *clip_shape]."""
        if not isinstance(batch, torch.Tensor) or batch.ndim < 2 or batch.shape[0] == 0:
            got = tuple(batch.shape) if isinstance(batch, torch.Tensor) else type(batch).__name__
            raise ValueError(f"{self.name}: encode_batch needs a non-empty stacked batch [B, ...] (got {got})")
        if batch.dtype != torch.uint8 or tuple(batch.shape[1:]) != tuple(self.clip_shape):
            want = ", ".join(map(str, self.clip_shape))
            raise ValueError(
                f"{self.name}: encode_batch takes stacked preprocess_clip outputs, uint8 [B, {want}] "
                f"(got {batch.dtype} {tuple(batch.shape)}); normalisation happens inside encode_batch"
            )

    def encode_batch(self, batch: torch.Tensor) -> torch.Tensor:
        """Stacked `preprocess_clip` outputs, uint8 [B, *clip_shape] on CPU -> float32 [B, dim] on CPU.

        The uint8 batch goes to the device (pinned, asynchronous on CUDA); float conversion, resize
        and normalisation happen there in float32 (`prepare_batch`), the network under autocast.
        """
        self.check_batch(batch)
        with torch.inference_mode():
            x = self.prepare_batch(self._to_device(batch))
            with self._autocast():
                out = self._forward(x)
        return out.float().cpu()

    def encode_video(self, clips: Sequence[np.ndarray], batch_size: int = 32) -> np.ndarray:
        """Convenience loop: preprocess and encode every clip.

        Args:
            clips: per clip uint8 [T, H, W, 3] RGB frames, as the decoder delivers them.
            batch_size: clips per network call.

        Returns:
            float32 [n_clips, dim].
        """
        if batch_size < 1:
            raise ValueError(f"{self.name}: batch_size must be >= 1 (got {batch_size})")
        rows = []
        for start in range(0, len(clips), batch_size):
            batch = torch.stack([self.preprocess_clip(c) for c in clips[start:start + batch_size]])
            rows.append(self.encode_batch(batch))
        if not rows:
            return np.zeros((0, self.dim), dtype=np.float32)
        return torch.cat(rows).numpy().astype(np.float32, copy=False)

    def describe(self) -> dict[str, object]:
        return {**super().describe(), "sampling": self.sampling.model_dump()}


class SingleFrameImageExtractor(VideoExtractor, ABC):
    """An image encoder fed one frame per clip (CLIP, BLIP-2): centre crop on the CPU in uint8;
    resize to the model's input size and CLIP mean/std normalisation on the device.

    Subclasses set `crop_size` (pixels cropped from the decoded frame) and `image_size` (the
    vision tower's input size).
    """

    crop_size: int
    image_size: int

    @property
    def clip_shape(self) -> tuple[int, int, int]:
        """(3, crop, crop): the clip's one frame, centre-cropped, channels first, uint8."""
        return (3, self.crop_size, self.crop_size)

    def preprocess_clip(self, frames: np.ndarray) -> torch.Tensor:
        """uint8 [1, H, W, 3] -> uint8 [3, crop, crop], the centre crop (the model input size is applied on the device)."""
        check_frames(self.name, frames, n_frames=1)
        return as_tensor(center_crop(frames, self.crop_size)[0]).permute(2, 0, 1).contiguous()

    def prepare_batch(self, batch: torch.Tensor) -> torch.Tensor:
        """uint8 [B, 3, crop, crop] on the device -> normalised pixels [B, 3, S, S], S the model's input size."""
        x = resize_square(batch, self.image_size)
        return normalize(x.contiguous(), CLIP_MEAN, CLIP_STD, channel_dim=1).to(self._input_dtype())


class TextEncoder(_Encoder, ABC):
    """A frozen encoder mapping text queries to per-token features (and maybe a pooled vector)."""

    @abstractmethod
    def encode_text(self, queries: list[str], batch_size: int = 64) -> list[TextFeatures]:
        """Encode queries; one `TextFeatures` per query, in order."""


def check_frames(name: str, frames: np.ndarray, n_frames: int | None = None) -> None:
    """Refuse frames that are not uint8 [T, H, W, 3] (with T == n_frames when given)."""
    if isinstance(frames, torch.Tensor):  # GPU-decoded frames (pipeline.video.gpu) stay on their device
        ok = frames.ndim == 4 and frames.shape[-1] == 3 and frames.dtype == torch.uint8
    else:
        ok = isinstance(frames, np.ndarray) and frames.ndim == 4 and frames.shape[-1] == 3 and frames.dtype == np.uint8
    if not ok:
        got = f"{type(frames).__name__} {getattr(frames, 'dtype', '')} {getattr(frames, 'shape', '')}"
        raise ValueError(f"{name}: expected one clip's frames as uint8 numpy [T, H, W, 3] RGB (got {got})")
    if frames.shape[0] == 0:
        raise ValueError(f"{name}: the clip has no frames (shape {frames.shape}); the decoder must deliver at least one")
    if n_frames is not None and frames.shape[0] != n_frames:
        raise ValueError(
            f"{name}: expected {n_frames} frame(s) per clip as its sampling spec says (got {frames.shape[0]}); "
            "decode with the extractor's `sampling`"
        )


def check_queries(name: str, queries: list[str]) -> None:
    """Refuse anything but a list of strings (a bare string would be encoded letter by letter)."""
    if isinstance(queries, str) or not all(isinstance(q, str) for q in queries):
        raise TypeError(f"{name}: encode_text takes a list of query strings (got {type(queries).__name__})")
