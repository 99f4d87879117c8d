"""What an extractor sees of a video: the source frames behind each clip and the cropped pixels, as a file."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from pipeline.extractors import extractor_sampling
from pipeline.extractors.frames import center_crop
from pipeline.video.clips import DecodeStats
from pipeline.video.reader import decode_clips
from pipeline.video.reference import slow_positions
from pipeline.video.sampling import ReferenceSlowFast
from storage.atomic import atomic_file


def extractor_frames(video: str | os.PathLike, extractor: str, clips: Sequence[int] | None = None,
                     clip_seconds: float = 2.0, crop_size: int = 224) -> dict[str, np.ndarray]:
    """The frames `extractor` reads from `video`, from the same decode pass extraction uses.

    Returns arrays: `n_clips` (int), `src_frame_index` (int64 [n_clips, k]: each frame's index among the
    decoded frames in presentation order; k = 1 for CLIP / BLIP-2, 32 for SlowFast's fast pathway),
    `src_pts_seconds` (float64, same shape), `slow_src_frame_index` ([n_clips, 8], SlowFast only),
    `clips` (the clips `pixels` covers: `clips`, or all) and `pixels` (uint8 [len(clips), k, crop, crop,
    3] RGB after the scale and the centre crop, before normalisation).

    Raises:
        VideoDecodeError: the file is not a readable video. KeyError: an unknown extractor.
        ValueError: a clip index outside the video.
    """
    spec = extractor_sampling(extractor, crop_size)
    stats = DecodeStats()
    index, times, pixels = [], [], []
    for chunk in decode_clips(video, {extractor: spec}, clip_seconds, stats=stats):
        index += chunk.frame_index[extractor]
        times += chunk.frame_times[extractor]
        pixels += [np.ascontiguousarray(center_crop(frames, crop_size)) for frames in chunk.frames[extractor]]
    wanted = list(range(len(index))) if clips is None else [int(c) for c in clips]
    bad = [c for c in wanted if not 0 <= c < len(index)]
    if bad:
        raise ValueError(f"{video}: clips {bad} outside 0..{len(index) - 1} ({len(index)} {extractor} clips)")
    out = {"n_clips": np.int64(len(index)), "src_frame_index": np.stack(index), "src_pts_seconds": np.stack(times),
           "clips": np.asarray(wanted, dtype=np.int64), "pixels": np.stack([pixels[c] for c in wanted])}
    if isinstance(spec, ReferenceSlowFast):
        out["slow_src_frame_index"] = out["src_frame_index"][:, slow_positions(spec.num_frames)]
    return out


def save_frames(arrays: dict[str, np.ndarray], out: str | os.PathLike) -> Path:
    """Write `extractor_frames`' arrays as an npz (atomically)."""
    out = Path(out)
    with atomic_file(out, "wb") as handle:
        np.savez_compressed(handle, **arrays)
    return out


def contact_sheet(arrays: dict[str, np.ndarray], out_png: str | os.PathLike, per_clip: int = 4) -> Path:
    """Draw each clip's frames (up to `per_clip`, evenly spread) in a row, labelled with their timestamps."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    clips, pixels, times = arrays["clips"], arrays["pixels"], arrays["src_pts_seconds"]
    k = pixels.shape[1]
    shown = np.unique(np.linspace(0, k - 1, min(k, per_clip)).round().astype(int))
    fig = Figure(figsize=(2.0 * len(shown), 2.2 * len(clips)), dpi=80)
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(clips), len(shown), squeeze=False)
    for row, clip in enumerate(clips):
        for col, j in enumerate(shown):
            ax = axes[row, col]
            ax.imshow(pixels[row, j])
            ax.set_axis_off()
            ax.set_title(f"clip {clip} #{j}: {times[clip, j]:.2f} s", fontsize=8)
    fig.tight_layout()
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png")
    return out
