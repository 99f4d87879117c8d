"""Extraction benchmark: video-seconds extracted per wall-second, ours vs the reference approach.

- ours:      `pipeline.extract.extract_videos`: one decode pass per video feeds every extractor,
             decoding + preprocessing in worker processes (`--decoders N` of them; `--threads`: in
             threads) overlapped with inference (clips handed over in shared memory, bounded),
             batches across clips and videos, bf16 autocast + pinned memory on GPU.
- reference: the public extractors' approach: one extractor at a time, each decoding every video
             again, no overlap (decode, then preprocess, then encode), fp32, batches of 60 frames
             (60 clips for the 1-frame extractors, 2 clips = 64 frames for SlowFast).

Presets: `tiny` (the tests' small encoders; CPU here) or `random-paper` (the real architectures
ViT-B/32, SlowFast R50, BLIP-2 ViT-g + Q-Former with random weights: speed is what is measured).
Usage: python benchmarks/extract.py [--preset tiny|random-paper] [--device cpu|cuda] [--videos 4]
       [--seconds 30] [--batch-size 64] [--workers 2] [--decoders 1] [--threads] [--decode-only]
       [--backend auto|pyav|decord|torchcodec]
"""

from __future__ import annotations

import argparse
import copy
import os
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

from pipeline.extract import DecodeConfig
from pipeline.extract import ExtractConfig, extract_videos
from pipeline.extractors import VideoExtractor, build_extractor
from pipeline.video import decode_clips
from storage import FeatureStore
from machine import describe_machine, sync  # benchmarks/machine.py (scripts run from this folder)

NAMES = ("slowfast", "clip", "blip2")
REFERENCE_BATCH = {"slowfast": 2, "clip": 60, "blip2": 60}


def random_paper_extractors(device: str) -> dict[str, VideoExtractor]:
    from transformers import Blip2Config, Blip2ForImageTextRetrieval

    from pipeline.extractors.blip2 import Blip2Extractor
    from pipeline.extractors.clip import ClipExtractor, build_open_clip
    from pipeline.extractors.slowfast import SlowFastExtractor, build_slowfast

    blip = Blip2ForImageTextRetrieval(Blip2Config(qformer_config={"use_qformer_text_input": True}))
    return {
        "slowfast": SlowFastExtractor(build_slowfast("paper"), preset="paper", weights_id="random", device=device),
        "clip": ClipExtractor(build_open_clip("paper"), preset="paper", weights_id="random", device=device),
        "blip2": Blip2Extractor(blip, preset="paper", weights_id="random", device=device),
    }


def _make_video(args: tuple[str, float, int]) -> str:
    from pipeline.workflow.demo import moving_square_frames
    from pipeline.video.writer import write_video

    path, seconds, seed = args
    write_video(path, moving_square_frames(480, 270, seed), int(seconds * 30), fps=30, width=480, height=270)
    return path


def make_videos(folder: Path, count: int, seconds: float) -> list[str]:
    jobs = [(str(folder / f"bench_{i:03d}.mp4"), seconds, i) for i in range(count)]
    with ProcessPoolExecutor(max_workers=min(count, os.cpu_count() or 1)) as pool:
        return list(pool.map(_make_video, jobs))


class GpuSampler:
    """Samples GPU utilisation (%) every 0.2 s while running (needs nvidia-ml-py)."""

    def __init__(self) -> None:
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            import pynvml

            pynvml.nvmlInit()
            handle = pynvml.nvmlDeviceGetHandleByIndex(0)
        except Exception:  # no NVML: report nothing rather than fail the benchmark
            return
        while not self._stop.wait(0.2):
            self.samples.append(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu)

    def __enter__(self) -> GpuSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def mean(self) -> str:
        return f"{np.mean(self.samples):.0f}%" if self.samples else "n/a"


def run_ours(videos: list[str], extractors: dict[str, VideoExtractor], args: argparse.Namespace) -> float:
    config = ExtractConfig(extractors=tuple(extractors), device=args.device, batch_size=args.batch_size,
                           preprocess_workers=args.workers, decode_workers=args.decoders, queue_chunks=4,
                           decode_processes=not args.threads, decode=DecodeConfig(backend=args.backend))
    with tempfile.TemporaryDirectory() as tmp:
        store = FeatureStore(tmp)
        started = time.perf_counter()
        records = extract_videos(videos, store, extractors, config)
        sync(args.device)
        seconds = time.perf_counter() - started
    assert all(r.status == "done" for r in records), records
    return seconds


def _no_network(extractor: VideoExtractor) -> VideoExtractor:
    """The extractor with `encode_batch` a no-op (zeros): what is left to time is the decode stage."""
    twin = copy.copy(extractor)
    twin.encode_batch = lambda batch: torch.zeros(len(batch), extractor.dim)
    return twin


def run_reference(videos: list[str], extractors: dict[str, VideoExtractor], args: argparse.Namespace) -> float:
    started = time.perf_counter()
    for name, ext in extractors.items():
        ext.amp = False  # fp32, as the public extractors run
        for path in videos:
            clips = [c for chunk in decode_clips(path, {name: ext.sampling}) for c in chunk.frames[name]]
            tensors = [ext.preprocess_clip(c) for c in clips]
            step = REFERENCE_BATCH[name]
            rows = [ext.encode_batch(torch.stack(tensors[i:i + step])) for i in range(0, len(tensors), step)]
            np.concatenate([r.numpy() for r in rows]).astype(np.float16)
        ext.amp = True
    sync(args.device)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=["tiny", "random-paper"], default="tiny")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2, help="preprocessing threads")
    parser.add_argument("--decoders", type=int, default=1, help="videos decoded at the same time")
    parser.add_argument("--threads", action="store_true", help="decode in threads, not worker processes")
    parser.add_argument("--backend", default="auto", choices=["auto", "pyav", "decord", "torchcodec"],
                        help="decoder (auto: PyAV in worker processes; with --device cuda the GPU's decoder "
                             "when torchcodec is installed)")
    parser.add_argument("--decode-only", action="store_true",
                        help="also time the decode stage alone: the same engine run with the networks replaced "
                             "by a no-op (decode, preprocessing and hand-over, no inference)")
    parser.add_argument("--skip-reference", action="store_true")
    args = parser.parse_args()
    print(describe_machine(args.device))
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        videos = make_videos(Path(tmp), args.videos, args.seconds)
        total = args.videos * args.seconds
        print(f"videos: {args.videos} x {args.seconds:.0f} s, 480x270 30 fps H.264 (generated in "
              f"{time.perf_counter() - t0:.1f} s); preset {args.preset}; batch {args.batch_size}; "
              f"preprocess workers {args.workers}; decoders {args.decoders}")
        if args.preset == "tiny":
            extractors = {n: build_extractor(n, "tiny", args.device) for n in NAMES}
        else:
            extractors = random_paper_extractors(args.device)
        run_ours(videos[:1], extractors, args)  # warm-up: cuDNN autotuning, lazy inits
        print(f"{'run':<28}{'seconds':>9}{'video-s/s':>11}{'x realtime':>11}{'GPU util':>10}")
        results = {}
        for name in NAMES:
            with GpuSampler() as gpu:
                seconds = run_ours(videos, {name: extractors[name]}, args)
            results[name] = seconds
            print(f"{'ours: ' + name:<28}{seconds:>9.2f}{total / seconds:>11.1f}{total / seconds:>11.1f}{gpu.mean():>10}")
        with GpuSampler() as gpu:
            ours = run_ours(videos, extractors, args)
        print(f"{'ours: all three, one pass':<28}{ours:>9.2f}{total / ours:>11.1f}{total / ours:>11.1f}{gpu.mean():>10}")
        if args.decode_only:
            seconds = run_ours(videos, {n: _no_network(e) for n, e in extractors.items()}, args)
            print(f"{'decode stage only (3)':<28}{seconds:>9.2f}{total / seconds:>11.1f}{total / seconds:>11.1f}{'':>10}")
        if not args.skip_reference:
            with GpuSampler() as gpu:
                ref = run_reference(videos, extractors, args)
            print(f"{'reference: all three':<28}{ref:>9.2f}{total / ref:>11.1f}{total / ref:>11.1f}{gpu.mean():>10}")
            print(f"speed-up of ours over the reference: {ref / ours:.2f}x")
        if args.device.startswith("cuda"):
            print(f"peak GPU memory: {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB")
        hours = 12_500 * 150 / (total / ours) / 3600
        print(f"projected QVHighlights (12.5k videos x 150 s) at this rate: {hours:.2f} h")


if __name__ == "__main__":
    main()
