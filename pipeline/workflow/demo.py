"""The demo's inputs, made on the spot (no downloads): small generated videos, and a learnable
moment-retrieval dataset of videos with planted moments and the queries that name them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from pipeline.video.writer import FrameFn, write_video
from storage.atomic import atomic_file


def moving_square_frames(width: int, height: int, seed: int):
    """Frames of a drifting background with a square that crosses the picture (something to look at)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(40, 200, size=3)
    colour = rng.integers(0, 256, size=3)

    def make(index: int, t: float) -> np.ndarray:
        frame = np.empty((height, width, 3), np.uint8)
        frame[:] = (base + 20 * np.sin(t / 3 + np.arange(3))).clip(0, 255).astype(np.uint8)
        side = height // 4
        x = int((t * 12) % max(1, width - side))
        frame[height // 3: height // 3 + side, x: x + side] = colour
        return frame

    return make


#: The demo's concepts: a query names one, the video shows it during the query's moment.
CONCEPTS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40), "green": (40, 200, 60), "blue": (40, 70, 230), "yellow": (235, 215, 40),
    "magenta": (210, 50, 200), "cyan": (40, 210, 220),
}
_TEMPLATES = ("the screen turns {c}", "everything becomes {c} for a while", "a {c} scene with a sliding bar")


class DemoDataConfig(BaseModel):
    """A generated moment-retrieval dataset: videos with planted moments and the queries that name them.

    Every video is `seconds` long on a drifting grey background; it shows two planted moments at
    random places on the clip grid, during each of which the picture turns one concept colour
    (a darker bar sliding across it). Each moment has one query naming its colour, so a model has to read the query
    to tell the two moments apart. Saliency scores are 4 at the moment's centre, 3 elsewhere in it.

    Attributes:
        train_videos, val_videos: videos per split.
        seconds: length of every video (a multiple of clip_seconds).
        clip_seconds: the clip grid moments are aligned to.
        moment_clips: (shortest, longest) moment length in clips.
        fps, width, height: how the videos are encoded (small, so the demo is quick).
        concepts: colour names used (keys of CONCEPTS), at least two.
        seed: everything is drawn from this seed.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    train_videos: int = Field(48, ge=1)
    val_videos: int = Field(12, ge=1)
    seconds: float = Field(24.0, gt=0)
    clip_seconds: float = Field(2.0, gt=0)
    moment_clips: tuple[int, int] = (2, 4)
    fps: int = Field(8, ge=1, le=60)
    width: int = Field(128, ge=16)
    height: int = Field(96, ge=16)
    concepts: tuple[str, ...] = tuple(CONCEPTS)
    seed: int = 0

    @model_validator(mode="after")
    def _consistent(self) -> DemoDataConfig:
        unknown = [c for c in self.concepts if c not in CONCEPTS]
        if unknown:
            raise ValueError(f"unknown concepts {unknown}; known: {', '.join(CONCEPTS)}")
        if len(set(self.concepts)) < 2:
            raise ValueError("concepts: at least two different colours are needed")
        lo, hi = self.moment_clips
        if not 1 <= lo <= hi:
            raise ValueError(f"moment_clips must be (shortest, longest) with 1 <= shortest <= longest, got {lo, hi}")
        if 2 * hi + 1 > self.n_clips:
            raise ValueError(f"seconds={self.seconds} gives {self.n_clips} clips: too few for two moments of "
                             f"up to {hi} clips")
        if self.width % 2 or self.height % 2:
            raise ValueError("width and height must be even (H.264 with yuv420p)")
        return self

    @property
    def n_clips(self) -> int:
        return int(round(self.seconds / self.clip_seconds))


class DemoDataset(BaseModel):
    """Where a generated dataset was written."""

    videos: str
    train: str
    val: str
    n_train_rows: int
    n_val_rows: int


def _planted_frames(config: DemoDataConfig, moments: list[tuple[int, int, str]], seed: int) -> FrameFn:
    rng = np.random.default_rng(seed)
    phase = rng.uniform(0, 2 * np.pi, size=3)
    h, w = config.height, config.width
    ramp = np.linspace(-1, 1, w)[None, :, None]
    side = w // 4

    def make(_index: int, t: float) -> np.ndarray:
        clip = int(t // config.clip_seconds)
        colour = next((CONCEPTS[c] for start, end, c in moments if start <= clip < end), None)
        if colour is None:  # drifting grey background
            grey = 110 + 25 * np.sin(t / 4 + phase)
            frame = grey[None, None, :] + 30 * ramp * np.sin(t / 5 + phase[0])
        else:  # the moment: the picture turns the concept's colour, a darker bar slides across it
            frame = np.asarray(colour, np.float64)[None, None, :] * (0.85 + 0.15 * ramp)
        frame = np.broadcast_to(frame.clip(0, 255), (h, w, 3)).astype(np.uint8).copy()
        if colour is not None:
            x = int((t * w / 6) % (w - side))
            frame[:, x:x + side] //= 2
        return frame

    return make


def _draw_moments(rng: np.random.Generator, config: DemoDataConfig) -> list[tuple[int, int, str]]:
    lo, hi = config.moment_clips
    concepts = rng.choice(len(config.concepts), size=2, replace=False)
    while True:
        lengths = rng.integers(lo, hi + 1, size=2)
        starts = rng.integers(0, config.n_clips - lengths + 1)
        (a0, a1), (b0, b1) = (starts[0], starts[0] + lengths[0]), (starts[1], starts[1] + lengths[1])
        if a1 <= b0 or b1 <= a0:  # disjoint
            return [(int(a0), int(a1), config.concepts[concepts[0]]),
                    (int(b0), int(b1), config.concepts[concepts[1]])]


def _row(qid: int, vid: str, config: DemoDataConfig, moment: tuple[int, int, str], template: str) -> dict:
    start, end, concept = moment
    cs = config.clip_seconds
    centre = (start + end - 1) / 2
    scores = [[4 if abs(c - centre) < 1 else 3] * 3 for c in range(start, end)]
    return {"qid": qid, "query": template.format(c=concept), "duration": config.n_clips * cs, "vid": vid,
            "relevant_windows": [[start * cs, end * cs]], "relevant_clip_ids": list(range(start, end)),
            "saliency_scores": scores}


def generate_demo_dataset(root: str | os.PathLike, config: DemoDataConfig = DemoDataConfig()) -> DemoDataset:
    """Write the videos (`root/videos`) and the QVHighlights-format splits (`root/annotations`).

    Existing videos are kept (the generation is deterministic in `config`); a jsonl file is
    rewritten (atomically) only when its content changes.
    """
    root = Path(root)
    videos, annotations = root / "videos", root / "annotations"
    videos.mkdir(parents=True, exist_ok=True)
    annotations.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(config.seed)
    n_frames = int(round(config.seconds * config.fps))
    splits: dict[str, list[dict]] = {"train": [], "val": []}
    qid = 0
    for split, count in (("train", config.train_videos), ("val", config.val_videos)):
        for i in range(count):
            vid = f"demo_{split}_{i:03d}"
            moments = _draw_moments(rng, config)
            templates = rng.integers(0, len(_TEMPLATES), size=len(moments))
            path = videos / f"{vid}.mp4"
            if not path.exists():
                tmp = path.with_name(f".{path.stem}.tmp.mp4")
                write_video(tmp, _planted_frames(config, moments, seed=config.seed * 100_003 + qid), n_frames,
                            fps=config.fps, width=config.width, height=config.height)
                os.replace(tmp, path)
            for moment, t in zip(moments, templates):
                splits[split].append(_row(qid, vid, config, moment, _TEMPLATES[t]))
                qid += 1
    paths = {}
    for split, rows in splits.items():
        text = "".join(json.dumps(row) + "\n" for row in rows)
        paths[split] = annotations / f"{split}.jsonl"
        if not paths[split].exists() or paths[split].read_text(encoding="utf-8") != text:
            with atomic_file(paths[split], "w") as handle:
                handle.write(text)
    return DemoDataset(videos=str(videos), train=str(paths["train"]), val=str(paths["val"]),
                       n_train_rows=len(splits["train"]), n_val_rows=len(splits["val"]))
