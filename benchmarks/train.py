"""Benchmark: training steps per second, data-loading share and peak memory of the paper-size model.

Usage: python benchmarks/train.py [--device cpu|cuda] [--n 256] [--batch 32] [--steps 6] [--workers 0]

Writes a temporary Zarr store of random float16 features for N QVHighlights-sized samples (75 clips
of SlowFast 2304 + CLIP 512 + BLIP-2 768 dims -> 3586-d clip inputs; 20-token queries of
CLIP 512 + BLIP-2 768 -> 1280-d) through the store API, then times optimisation steps of
videolights-b-qvhighlights (batch 32) through the real training loop (pipeline.training.run_epoch:
VideoLightsDataset + collate in a DataLoader, AdamW, grad clip 0.1), after one warm-up step:
  CPU: the uncached loader (store read per item) is the reference of the cached one (in memory);
  GPU: fp32 is the reference of bf16 autocast (both cached), and bf16 with the uncached loader.
Prints steps/s, samples/s, the share of the step time spent waiting for data, peak memory
(GPU: max allocated; CPU: peak RSS while the configuration ran) and the machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from model.build import build_model, count_parameters
from model.presets import get_preset
from pipeline.datasets import Annotations, QVHighlightsRow, VideoLightsDataset
from pipeline.training import build_loader, dataset_config, run_epoch
from pipeline.datasets.loading import epoch_generator
from storage import EntrySpec, FeatureStore, fingerprint_text
from machine import describe_machine  # benchmarks/machine.py (scripts run from this folder)

PRESET = "videolights-b-qvhighlights"
VIDEO_DIMS = {"slowfast": 2304, "clip": 512, "blip2": 768}
TEXT_DIMS = {"clip": 512, "blip2": 768}
N_CLIPS, N_TOKENS, DURATION = 75, 20, 150.0


def make_rows(n: int, seed: int = 0) -> Annotations:
    """N labelled QVHighlights rows (one video each) with random windows and annotator scores."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        start = int(rng.integers(0, 60)) * 2
        length = min(int(rng.integers(2, 20)) * 2, int(DURATION) - start)
        ids = list(range(start // 2, (start + length) // 2))
        rows.append(QVHighlightsRow(qid=i, query=f"query {i}", duration=DURATION, vid=f"bench{i:05d}",
                                    relevant_windows=[(start, start + length)], relevant_clip_ids=ids,
                                    saliency_scores=rng.integers(0, 5, size=(len(ids), 3)).tolist()))
    return Annotations.from_rows("qvhighlights", rows, "benchmark")


def write_store(path: Path, rows: Annotations, threads: int = 4) -> FeatureStore:
    """Random float16 features of every row's video and query, written through the store API."""
    store = FeatureStore(path)
    src = fingerprint_text("benchmarks/train.py")

    def write(i: int) -> None:
        rng, row = np.random.default_rng(i), rows[i]
        for name, dim in VIDEO_DIMS.items():
            spec = EntrySpec(extractor=name, version="bench", weights_id="random", preset="paper", clip_seconds=2.0)
            store.write_video(name, row.vid, rng.standard_normal((N_CLIPS, dim), dtype=np.float32), spec, src)
        for name, dim in TEXT_DIMS.items():
            tokens = rng.standard_normal((N_TOKENS, dim), dtype=np.float32)
            spec = EntrySpec(extractor=name, version="bench", weights_id="random", preset="paper")
            store.write_text(name, row.qid, tokens, tokens[0], spec, src)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(write, range(len(rows))))
    return store


class PeakRSS:
    """Samples this process's resident memory every 10 ms while the block runs (CPU peak per configuration)."""

    def __enter__(self) -> PeakRSS:
        self.peak, self._stop = self._rss(), threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _watch(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self._rss())


def measure(rows: Annotations, store: FeatureStore, device: torch.device, cached: bool, amp: torch.dtype | None,
            batch: int, steps: int, workers: int) -> dict:
    """Steps/s, data share and peak memory of `steps` training steps (after one warm-up step)."""
    experiment = get_preset(PRESET)
    dataset = VideoLightsDataset(rows, store, dataset_config(experiment, "qvhighlights", "train", cache=cached))
    torch.manual_seed(0)
    model, criterion, _ = build_model(experiment)
    model.to(device)
    criterion.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=1e-4, fused=True)
    loader = build_loader(dataset, batch, shuffle=True, num_workers=workers, pin_memory=device.type == "cuda",
                          generator=epoch_generator(0, 0))
    batches = iter(loader)
    options = dict(grad_clip=experiment.train.grad_clip, amp_dtype=amp)
    run_epoch(model, criterion, optimizer, batches, 0, device, max_steps=1, **options)  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(device)
    with PeakRSS() as rss:
        stats = run_epoch(model, criterion, optimizer, batches, 0, device, max_steps=steps, **options)
        if device.type == "cuda":
            torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else rss.peak
    return {"steps_s": stats.steps / stats.seconds, "samples_s": stats.samples / stats.seconds,
            "data_share": stats.data_seconds / stats.seconds, "step_ms": 1000 * stats.seconds / stats.steps,
            "peak_mib": peak / 2**20, "params": count_parameters(model), "steps": stats.steps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu | cuda")
    parser.add_argument("--n", type=int, default=None, help="samples in the store (default: 256 CPU, 1536 GPU)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=None, help="timed steps per configuration (6 CPU, 40 GPU)")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    args = parser.parse_args()
    device = torch.device(args.device)
    gpu = device.type == "cuda"
    n = args.n or (1536 if gpu else 256)
    steps = args.steps or (40 if gpu else 6)
    if (steps + 1) * args.batch > n:
        parser.error(f"--steps {steps} + 1 warm-up step of batch {args.batch} need more than --n {n} samples")
    print(describe_machine(device))
    tmp = Path(tempfile.mkdtemp(prefix="vl-train-bench-"))
    try:
        started = time.perf_counter()
        rows = make_rows(n)
        store = write_store(tmp / "features.zarr", rows, threads=min(8, os.cpu_count() or 1))
        print(f"store: {n} samples x (3 video + 2 text) entries written in {time.perf_counter() - started:.1f} s")
        bf16 = torch.bfloat16 if gpu and torch.cuda.is_bf16_supported() else None
        configs = ([("fp32, cached (reference)", True, None), ("bf16 autocast, cached", True, bf16),
                    ("bf16 autocast, uncached", False, bf16)] if gpu else
                   [("fp32, uncached loader (reference)", False, None), ("fp32, cached loader", True, None)])
        results = {}
        for label, cached, amp in configs:
            results[label] = r = measure(rows, store, device, cached, amp, args.batch, steps, args.workers)
            print(f"{label}: {r['steps_s']:.3f} steps/s ({r['step_ms']:.0f} ms/step, {r['samples_s']:.1f} samples/s), "
                  f"data wait {100 * r['data_share']:.1f}% of the time, peak {r['peak_mib']:.0f} MiB "
                  f"{'GPU allocated' if gpu else 'RSS'} ({r['steps']} steps, batch {args.batch})")
        first = next(iter(results.values()))
        print(f"model: {PRESET}, {first['params'] / 1e6:.2f} M parameters, inputs 3586-d clips x {N_CLIPS}, "
              f"1280-d tokens x {N_TOKENS}")
        reference = results[configs[0][0]]
        for label, r in list(results.items())[1:]:
            print(f"ratio {label} / reference: {r['steps_s'] / reference['steps_s']:.2f}x steps/s, "
                  f"peak memory {r['peak_mib'] / reference['peak_mib']:.2f}x")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
