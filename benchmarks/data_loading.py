"""Benchmark: does loading starve training? Store reads per item vs the in-memory cache vs one training step.

Usage: python benchmarks/data_loading.py [--n 2000] [--batch 32] [--workers 0] [--device cpu|cuda]

Builds a temporary Zarr feature store with random float16 features for N QVHighlights-sized
samples (150-s videos -> 75 clips of SlowFast 2304 + CLIP 512 + BLIP-2 768 dims; 20-token
queries of CLIP 512 + BLIP-2 768 dims) through the store's API, then, in the same run:
  (a) a VideoLightsDataset reading every item from the store (uncached),
  (b) the same dataset with the in-memory cache,
both through a torch DataLoader with `collate`, and (c) one optimisation step (forward, loss,
backward, AdamW) of the paper-size VideoLights-B model on one of those batches. Prints
samples/s, batches/s, the ratios between them, peak memory and the machine.

A 32 x 75 x 3586 float32 batch (34 MB) is above glibc's largest mmap threshold (32 MB), so each
one is freshly mapped and page-faulted in (the page-fault count is printed). Where faults are
slow (VMs), `MALLOC_MMAP_THRESHOLD_=1000000000 MALLOC_TRIM_THRESHOLD_=4000000000` in the
environment lets the allocator reuse that memory.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from pipeline.datasets import (
    Annotations,
    DatasetConfig,
    QVHighlightsRow,
    VideoLightsDataset,
    collate,
    forward_kwargs,
    targets,
    to_device,
)
from storage import EntrySpec, FeatureStore, fingerprint_text
from machine import describe_machine  # benchmarks/machine.py (scripts run from this folder)

VIDEO_DIMS = {"slowfast": 2304, "clip": 512, "blip2": 768}
TEXT_DIMS = {"clip": 512, "blip2": 768}
N_CLIPS, N_TOKENS, DURATION = 75, 20, 150
#: The paper-size model's CPU step for batch 32 measured earlier here, used if the model cannot be built.
REFERENCE_STEP_S = 1.0


def make_rows(n: int, seed: int = 0) -> Annotations:
    """N labelled QVHighlights-style rows with random windows and annotator scores."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        start = int(rng.integers(0, 60)) * 2
        length = min(int(rng.integers(2, 20)) * 2, DURATION - start)
        ids = list(range(start // 2, (start + length) // 2))
        scores = rng.integers(0, 5, size=(len(ids), 3)).tolist()
        rows.append(QVHighlightsRow(qid=i, query=f"query {i}", duration=DURATION, vid=f"bench{i:05d}_0.0_150.0",
                                    relevant_windows=[(start, start + length)], relevant_clip_ids=ids,
                                    saliency_scores=scores))
    return Annotations.from_rows("qvhighlights", rows, "benchmark")


def build_store(path: Path, rows: Annotations, threads: int) -> FeatureStore:
    """Write every row's video and query features through the store API (threads in parallel)."""
    store = FeatureStore(path)
    src = fingerprint_text("benchmark")
    specs = {name: EntrySpec(extractor=name, version="bench", weights_id="random", preset="tiny",
                             clip_seconds=2.0 if name in VIDEO_DIMS else None) for name in VIDEO_DIMS}

    def write(i: int) -> None:
        rng = np.random.default_rng(i)
        row = rows[i]
        for name, dim in VIDEO_DIMS.items():
            store.write_video(name, row.vid, rng.standard_normal((N_CLIPS, dim), dtype=np.float32),
                              specs[name], src)
        for name, dim in TEXT_DIMS.items():
            tokens = rng.standard_normal((N_TOKENS, dim), dtype=np.float32)
            store.write_text(name, row.qid, tokens, tokens[0], specs[name], src)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(write, range(len(rows))))
    return store


def time_loader(ds: VideoLightsDataset, batch: int, workers: int,
                max_batches: int | None) -> tuple[float, float, int, int, int]:
    """(wall s, this process's CPU s, minor page faults, samples, batches) of one shuffled pass.

    CPU seconds leave out time lost to other processes on a shared machine; with workers > 0,
    CPU and page faults count only the main process.
    """
    loader = DataLoader(ds, batch_size=batch, shuffle=True, collate_fn=collate, num_workers=workers,
                        generator=torch.Generator().manual_seed(0), persistent_workers=False)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    start, cpu, samples, batches = time.perf_counter(), time.process_time(), 0, 0
    for b in loader:
        samples += b["src_vid"].shape[0]
        batches += 1
        if max_batches is not None and batches >= max_batches:
            break
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    return time.perf_counter() - start, time.process_time() - cpu, faults, samples, batches


def time_train_step(batch: dict, device: str, repeats: int) -> float | None:
    """Median seconds of one optimisation step of the paper-size VideoLights-B model, or None."""
    try:
        from model.build import build_model
        from model.presets import get_preset
    except ImportError as exc:
        print(f"model: not importable ({exc}); using the reference step time")
        return None
    cfg = get_preset("videolights-b-qvhighlights")
    model, criterion, _ = build_model(cfg)
    model.to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=1e-4)
    batch = to_device(batch, device)
    params = sum(p.numel() for p in model.parameters())
    times = []
    for i in range(repeats + 1):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        losses = criterion(model(**forward_kwargs(model, batch, epoch=0, training=True)), {**targets(batch), "epoch": 0})
        losses["total"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.1)
        optimizer.step()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        if i:  # the first step warms up
            times.append(time.perf_counter() - start)
    print(f"model: videolights-b-qvhighlights, {params / 1e6:.1f} M parameters, video_dim "
          f"{cfg.model.video_dim}, text_dim {cfg.model.text_dim}, on {device}")
    return statistics.median(times)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="samples (one video + one query each)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    parser.add_argument("--uncached-batches", type=int, default=20, help="batches timed for the slow path")
    parser.add_argument("--loader-threads", type=int, default=1,
                        help="torch threads while loading (DataLoader workers use 1; 0 keeps torch's default)")
    parser.add_argument("--write-threads", type=int, default=4)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, default=3, help="timed training steps (after one warm-up)")
    parser.add_argument("--store", type=Path, default=None, help="reuse/keep a store folder here")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    print(describe_machine(args.device))
    rows = make_rows(args.n)
    tmp = None
    if args.store is None:
        tmp = tempfile.mkdtemp(prefix="vl-bench-")
        args.store = Path(tmp) / "features.zarr"
    start = time.perf_counter()
    if args.store.exists():
        store = FeatureStore(args.store)
        print(f"store: reusing {args.store}")
    else:
        store = build_store(args.store, rows, args.write_threads)
        print(f"store: wrote {args.n} x (3 video + 2 text) entries in {time.perf_counter() - start:.1f} s")
    try:
        cfg = DatasetConfig.for_kind("qvhighlights", blip2=True)
        results = {}
        model_threads = torch.get_num_threads()
        if args.loader_threads:
            # on a busy machine, multi-threaded copies of small tensors mostly wait for each other
            torch.set_num_threads(args.loader_threads)
        print(f"loading with {torch.get_num_threads()} torch thread(s), {args.workers} DataLoader workers")
        for label, cached in (("(a) store per item", False), ("(b) in-memory cache", True)):
            start = time.perf_counter()
            ds = VideoLightsDataset(rows, store, cfg.model_copy(update={"cache": cached}))
            setup = time.perf_counter() - start
            limit = None if cached else args.uncached_batches
            secs, cpu, faults, samples, batches = time_loader(ds, args.batch, args.workers, limit)
            results[label] = (samples / secs, batches / secs, secs / batches)
            extra = f", cache {ds.features.nbytes / 2**20:.0f} MiB" if cached else ""
            print(f"{label}: setup {setup:.1f} s{extra}; {samples} samples in {secs:.2f} s -> "
                  f"{samples / secs:.0f} samples/s, {batches / secs:.2f} batches/s "
                  f"({1000 * secs / batches:.1f} ms per batch of {args.batch} wall, {1000 * cpu / batches:.1f} ms "
                  f"CPU, {faults // batches} page faults)")
        torch.set_num_threads(model_threads)
        batch = collate([ds[i] for i in range(args.batch)])
        print(f"batch: src_vid {tuple(batch['src_vid'].shape)}, src_txt {tuple(batch['src_txt'].shape)}")
        step = time_train_step(batch, args.device, args.steps)
        measured = step is not None
        step = step if measured else REFERENCE_STEP_S
        (a_sps, _, a_bt), (b_sps, _, b_bt) = results.values()
        print(f"training step ({'measured' if measured else 'reference, not measured'}, batch {args.batch}, "
              f"{args.device}): {1000 * step:.0f} ms")
        print(f"ratio cache / store: {b_sps / a_sps:.1f}x the samples/s")
        print(f"loader time per batch / training step: store {a_bt / step:.2f}, cache {b_bt / step:.3f} "
              "(< 1: loading keeps up with training in one process)")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak memory (RSS): {peak:.0f} MiB")
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
