"""SlowFast 8x8 R50 (pytorchvideo, Kinetics-400): pooled slow + fast pathway features per clip."""

from __future__ import annotations

import copy
import logging
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from pipeline.extractors._compat import pytorchvideo_create_slowfast
from pipeline.extractors.base import VideoExtractor, check_frames, check_preset, seeded, tiny_weights_id
from pipeline.extractors.frames import as_tensor, center_crop, normalize, pad_repeat_last, resize_square_repeats, uniform_indices
from pipeline.extractors.weights import MissingWeightsError, disk_weights_id, find_first
from pipeline.video.reference import slow_positions
from pipeline.video.sampling import ReferenceSlowFast

log = logging.getLogger(__name__)

CHECKPOINT_URL = "https://dl.fbaipublicfiles.com/pytorchvideo/model_zoo/kinetics/SLOWFAST_8x8_R50.pyth"
MEAN = (0.45, 0.45, 0.45)
STD = (0.225, 0.225, 0.225)


@dataclass(frozen=True)
class SlowFastPreset:
    """Architecture and on-disk name of one preset.

    Attributes:
        model_cfg: keyword arguments of `pytorchvideo.models.slowfast.create_slowfast`.
        filename: checkpoint path relative to a weights dir.
        source: human-readable origin, the first part of `weights_id`.
        input_size: side of the network input in pixels (the 224 crop is resized to it if different).
    """

    model_cfg: dict = field(hash=False)
    filename: str
    source: str
    input_size: int


# Both presets pool with AdaptiveAvgPool3d: global average pooling, which is what the checkpoint's
# AvgPool3d((8, 7, 7)) / ((32, 7, 7)) computes on 224-px, 32-frame inputs. Pools hold no weights,
# so the checkpoint loads unchanged, and any input size pools correctly.
PRESETS = {
    # = pytorchvideo.models.hub.slowfast_r50: dim 2048 (slow) + 256 (fast) = 2304
    "paper": SlowFastPreset(
        {"model_depth": 50, "slowfast_fusion_conv_kernel_size": (7, 1, 1), "model_num_class": 400,
         "head_pool": nn.AdaptiveAvgPool3d},
        "pytorchvideo/SLOWFAST_8x8_R50.pyth", "pytorchvideo:slowfast_r50/kinetics400", 224,
    ),
    # one bottleneck per stage, stem widths 8/1: dim 256 (slow) + 32 (fast) = 288, 32-px inputs
    "tiny": SlowFastPreset(
        {"model_depth": 18, "stem_dim_outs": (8, 1), "model_num_class": 8, "head_pool": nn.AdaptiveAvgPool3d},
        "pytorchvideo/tiny-slowfast.pyth", "pytorchvideo:tiny", 32,
    ),
}


def build_slowfast(preset: str) -> nn.Module:
    """The preset's pytorchvideo SlowFast `Net` with freshly initialised weights (seed outside)."""
    check_preset(preset)
    create_slowfast = pytorchvideo_create_slowfast()
    return create_slowfast(**copy.deepcopy(PRESETS[preset].model_cfg)).eval()


def weights_file(preset: str, weights_dir: str | os.PathLike | None) -> Path:
    """`<weights_dir>/<filename>`, else (paper) torch hub's cache where pytorchvideo's hub saves it."""
    check_preset(preset)
    spec = PRESETS[preset]
    how = f"Download {CHECKPOINT_URL} to <weights_dir>/{spec.filename} and pass weights_dir."
    if weights_dir is not None:
        return find_first([Path(weights_dir) / spec.filename], what=f"SlowFast {preset} checkpoint", how=how)
    if preset == "paper":
        cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(spec.filename).name
        return find_first([cached], what="SlowFast paper checkpoint (torch hub cache, no weights_dir given)", how=how)
    raise MissingWeightsError(f"SlowFast {preset} weights load only from a weights_dir (none given). {how}")


def load_slowfast(preset: str, weights_dir: str | os.PathLike | None) -> tuple[nn.Module, str]:
    """Build the preset's model and load a pytorchvideo checkpoint (`{"model_state": state_dict, ...}`)."""
    path = weights_file(preset, weights_dir)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise ValueError(f"{path}: not loadable with weights_only=True ({err}); expected a pytorchvideo "
                         "checkpoint of tensors and plain values") from err
    if not isinstance(checkpoint, dict) or "model_state" not in checkpoint:
        got = sorted(checkpoint)[:8] if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise ValueError(f"{path}: expected a pytorchvideo checkpoint dict with key 'model_state' (got {got}); "
                         f"use the file from {CHECKPOINT_URL}")
    model = build_slowfast(preset)
    model.load_state_dict(checkpoint["model_state"], strict=True)
    log.info("loaded SlowFast %s weights from %s", preset, path)
    return model.eval(), disk_weights_id(PRESETS[preset].source, path, tiny=preset == "tiny")


def save_slowfast(model: nn.Module, preset: str, weights_dir: str | os.PathLike) -> Path:
    """Write `model` in pytorchvideo's checkpoint format where `weights_file(preset, weights_dir)` finds it."""
    path = Path(weights_dir) / PRESETS[preset].filename
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model_state": model.state_dict()}, path)
    return path


def slowfast_frame_indices(n_frames: int, *, clip_frames: int = 60, num_fast: int = 32,
                           alpha: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Which of a clip's frames feed the fast and the slow pathway.

    The clip's frames (30 fps: 60 for a 2-s clip) are padded to `clip_frames` by repeating the
    last one (the last clip of a video is often short), `num_fast` are picked uniformly
    (first and last included), and the slow pathway takes every `alpha`-th fast frame.

    Args:
        n_frames: frames delivered for the clip.
        clip_frames: frames a full clip has (fps * clip_seconds).
        num_fast: frames of the fast pathway (32).
        alpha: fast-to-slow frame ratio (4, so 8 slow frames).

    Returns:
        (fast [num_fast], slow [num_fast // alpha]) int64 indices into the delivered frames.
    """
    if num_fast % alpha:
        raise ValueError(f"num_fast={num_fast} must be a multiple of alpha={alpha}")
    padded = pad_repeat_last(n_frames, clip_frames)
    fast = padded[uniform_indices(len(padded), num_fast)]
    return fast, fast[slow_positions(num_fast, alpha)]


class SlowFastExtractor(VideoExtractor):
    """30-fps frames of a clip -> global-average-pooled slow and fast features, concatenated.

    Preprocessing, per clip on CPU (`preprocess_clip`): the 32 fast-pathway frames HERO's extractor
    takes (`ReferenceSlowFast`: the decoder delivers exactly those) centre-cropped to `crop_size`
    (frames already have short side `crop_size`, so this is slicing)
    -> uint8 [32, crop, crop, 3], frames first and channels last as decoded, which saves a CPU
    transpose. Per batch on the device (`prepare_batch`): to [B, 3, 32, S, S] float, resized to
    the model input S when it differs from the crop (tiny preset only), /255, mean 0.45, std
    0.225 (the fast pathway). The network takes the slow pathway as 8 of those frames (pytorchvideo's
    linspace positions 0, 4, 8, 13, 17, 22, 26, 31),
    runs every block but the classification head, and returns [slow pooled (2048) | fast pooled
    (256)] = 2304 for R50.
    """

    name = "slowfast"
    version = "2"  # 2: the slow pathway at pytorchvideo's linspace positions

    def __init__(self, model: nn.Module, *, preset: str, weights_id: str, device: str | torch.device = "cpu",
                 input_size: int | None = None, crop_size: int = 224, fps: float = 30.0,
                 clip_seconds: float = 2.0, num_fast: int = 32, alpha: int = 4, amp: bool = True):
        super().__init__(dim=_feature_dim(model), preset=preset, weights_id=weights_id, device=device, amp=amp)
        self.model = model.eval().requires_grad_(False).to(self.device)
        self.crop_size = crop_size
        self.input_size = input_size or PRESETS[preset].input_size
        self.clip_frames = max(1, round(fps * clip_seconds))
        self.num_fast, self.alpha = num_fast, alpha
        self.sampling = self.sampling_for(crop_size, fps=fps, num_frames=num_fast)

    @staticmethod
    def sampling_for(crop_size: int = 224, fps: float = 30.0, num_frames: int = 32) -> ReferenceSlowFast:
        """HERO's frames (the released features'), scaled to short side `crop_size`."""
        return ReferenceSlowFast(fps=fps, num_frames=num_frames, short_side=crop_size)

    @classmethod
    def tiny(cls, seed: int = 0, device: str | torch.device = "cpu", **kwargs) -> SlowFastExtractor:
        """Random seeded tiny model (dim 288 = 256 slow + 32 fast)."""
        with seeded(seed):
            model = build_slowfast("tiny")
        return cls(model, preset="tiny", weights_id=tiny_weights_id(seed), device=device, **kwargs)

    @classmethod
    def from_pretrained(cls, weights_dir: str | os.PathLike | None = None, preset: str = "paper",
                        device: str | torch.device = "cpu", **kwargs) -> SlowFastExtractor:
        """Load a pytorchvideo checkpoint from `weights_dir` (see `weights_file`) or torch hub's cache."""
        model, weights_id = load_slowfast(preset, weights_dir)
        return cls(model, preset=preset, weights_id=weights_id, device=device, **kwargs)

    def save_pretrained(self, weights_dir: str | os.PathLike) -> Path:
        """Save in pytorchvideo's checkpoint format, which `from_pretrained` reads."""
        return save_slowfast(self.model, self.preset, weights_dir)

    def frame_indices(self, n_frames: int) -> tuple[np.ndarray, np.ndarray]:
        """(fast, slow) indices into a clip of `n_frames` delivered frames: all of them when the
        decoder delivered the fast pathway (the sampling spec's `num_frames`), else a uniform pick
        of a clip at the resampled frame rate."""
        if n_frames == self.num_fast:
            fast = np.arange(n_frames)
            return fast, fast[slow_positions(self.num_fast, self.alpha)]
        return slowfast_frame_indices(n_frames, clip_frames=self.clip_frames, num_fast=self.num_fast, alpha=self.alpha)

    @property
    def clip_shape(self) -> tuple[int, int, int, int]:
        """(num_fast, crop, crop, 3): one clip's selected, cropped frames, uint8."""
        return (self.num_fast, self.crop_size, self.crop_size, 3)

    def preprocess_clip(self, frames: np.ndarray) -> torch.Tensor:
        """uint8 [T, H, W, 3] (T ~ 60) -> uint8 [num_fast, crop, crop, 3]: the fast pathway's frames, centre-cropped."""
        check_frames(self.name, frames)
        fast, _ = self.frame_indices(len(frames))
        return as_tensor(center_crop(frames, self.crop_size, fast))

    def prepare_batch(self, batch: torch.Tensor) -> torch.Tensor:
        """uint8 [B, num_fast, crop, crop, 3] on the device -> normalised fast pathway [B, 3, num_fast, S, S]."""
        if self.crop_size == self.input_size:
            x = batch.permute(0, 4, 1, 2, 3).contiguous()  # (B, 3, T, S, S) uint8
        else:
            b, t = batch.shape[:2]
            # (B*T, 3, S, S) float; repeated frames (slow sources resampled to 30 fps) resized once
            x = resize_square_repeats(batch.flatten(0, 1), self.input_size)
            x = x.unflatten(0, (b, t)).transpose(1, 2).contiguous()  # (B, 3, T, S, S)
        return normalize(x, MEAN, STD, channel_dim=1).to(self._input_dtype())

    def pathways(self, batch: torch.Tensor) -> list[torch.Tensor]:
        """Fast-pathway network input [B, 3, T, S, S] (`prepare_batch`'s output) -> [slow [B, 3, T // alpha, S, S], fast]."""
        index = torch.as_tensor(slow_positions(batch.shape[2], self.alpha), device=batch.device)
        return [batch.index_select(2, index), batch]

    def _forward(self, batch: torch.Tensor) -> torch.Tensor:
        x = self.pathways(batch)
        for block in self.model.blocks[:-1]:  # stem, 4 stages, pool+concat; skip the classifier head
            x = block(x)
        return x.flatten(1)  # (B, C_slow + C_fast)


def _feature_dim(model: nn.Module) -> int:
    """Input width of the classification head's projection = pooled slow + fast channels."""
    return int(model.blocks[-1].proj.in_features)
