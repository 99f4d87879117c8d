"""Synthesize benchmark: captions per second and synthetic rows per video-hour, ours vs the release's approach.

- ours:      `pipeline.synthetic.synthesize`: one decode pass per video feeds the caption and the
             score frames; captions batched over a video's intervals (`--batch-size`), (frame,
             caption) pairs scored in batches; caption text features written to a store.
- reference: the release's generator (`pretrain_data_generator_using_blip2.py`): two decodes per
             video (the 0.1 fps caption frames, then the 0.5 fps clip frames), one generate call
             per caption and one ITM call per (clip, caption) pair; same models and settings.

Presets: `tiny` (the tests' small random models; CPU here) or `random-paper` (the real
architectures with random weights: BLIP-2 ViT-g + Q-Former + OPT-2.7B captioner in bf16 on CUDA,
the ViT-g ITM model, CLIP ViT-B/32 and the Q-Former text encoder; speed is what is measured, the
captions are meaningless and random weights may stop early or run to max_new_tokens).
Usage: python benchmarks/synthesize.py [--preset tiny|random-paper] [--device cpu|cuda] [--videos 3]
       [--seconds 60] [--batch-size 16] [--num-beams 5] [--max-new-tokens 30] [--skip-reference]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from pipeline.extractors.captioner import Blip2Captioner, GenerationSettings
from pipeline.synthetic import (
    SynthesisModels,
    SynthesizeConfig,
    build_synthesis_models,
    plan_intervals,
    score_mapping,
    synthesis_consumers,
    synthesize,
)
from pipeline.synthetic.scorer import CaptionFrameScorer
from pipeline.video import decode_clips, probe_video
from machine import describe_machine, sync  # benchmarks/machine.py (scripts run from this folder)

# the paper's corpus: 187,682 synthetic rows from QVHighlights (about 10k videos of 150 s)
PAPER_ROWS = 187_682


class Timed:
    """Wraps a model method and adds up its wall time and calls (CUDA synchronised)."""

    def __init__(self, fn, device: str):
        self.fn, self.device, self.seconds, self.items = fn, device, 0.0, 0

    def __call__(self, items, *args, **kwargs):
        started = time.perf_counter()
        out = self.fn(items, *args, **kwargs)
        sync(self.device)
        self.seconds += time.perf_counter() - started
        self.items += len(items)
        return out


def random_paper_models(device: str, config: SynthesizeConfig) -> SynthesisModels:
    """The real architectures with random weights; the Q-Former text encoder shares the scorer's model."""
    from pipeline.extractors.blip2 import Blip2TextEncoder
    from pipeline.extractors.clip import ClipTextEncoder, build_open_clip

    captioner = Blip2Captioner.random_paper(config.seed, device, config.generation)
    scorer = CaptionFrameScorer.random_paper(config.scorer, config.seed, device)
    text = {"clip": ClipTextEncoder(build_open_clip("paper"), preset="paper", weights_id="random", device=device),
            "blip2": Blip2TextEncoder(scorer.model, scorer.tokenizer, preset="paper", weights_id="random",
                                      device=device)}
    return SynthesisModels(captioner=captioner, scorer=scorer, text_encoders=text)


def make_videos(folder: Path, count: int, seconds: float) -> list[Path]:
    from pipeline.workflow.demo import moving_square_frames
    from pipeline.video.writer import write_video

    return [write_video(folder / f"bench_{i:03d}.mp4", moving_square_frames(480, 270, i), int(seconds * 30), fps=30,
                        width=480, height=270) for i in range(count)]


def run_ours(videos: list[Path], models: SynthesisModels, config: SynthesizeConfig, device: str) -> dict:
    caption = Timed(models.captioner.caption, device)
    score = Timed(models.scorer.score, device)
    models.captioner.caption, models.scorer.score = caption, score
    try:
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            summary = synthesize(videos, Path(tmp) / "store", Path(tmp) / "out.jsonl", config, models=models)
            sync(device)
            seconds = time.perf_counter() - started
    finally:
        del models.captioner.caption, models.scorer.score  # back to the class methods
    assert summary.ok and summary.done == len(videos), summary.text()
    return {"seconds": seconds, "captions": caption.items, "caption_s": caption.seconds, "pairs": score.items,
            "score_s": score.seconds, "rows": summary.rows_written, "intervals": summary.intervals}


def run_reference(videos: list[Path], models: SynthesisModels, config: SynthesizeConfig, device: str) -> dict:
    """The release's structure: a decode per frame rate, one generate per caption, one ITM call per pair."""
    consumers = synthesis_consumers(config)
    mapping = score_mapping(config.mapping, config.linear_scale)
    started, captions, caption_s, pairs = time.perf_counter(), 0, 0.0, 0
    for path in videos:
        info = probe_video(path)
        intervals = plan_intervals(path.stem, info.duration, config)
        name, spec = next(iter(consumers.items()))
        caption_frames = {iv.index: None for iv in intervals}
        for chunk in decode_clips(path, {name: spec}, info=info):  # pass 1: caption frames
            for k, frames in enumerate(chunk.frames[name]):
                for iv in intervals:
                    if iv.caption_clip == chunk.first_clip + k:
                        caption_frames[iv.index] = frames[iv.caption_offset]
        name, spec = list(consumers.items())[1]
        clip_frames = [f[0] for chunk in decode_clips(path, {name: spec}, info=info) for f in chunk.frames[name]]
        for iv in intervals:  # pass 2 frames scored one pair at a time
            t0 = time.perf_counter()
            (text,) = models.captioner.caption([caption_frames[iv.index]], batch_size=1)
            sync(device)
            caption_s += time.perf_counter() - t0
            captions += 1
            mapping(np.concatenate([models.scorer.score([clip_frames[c]], [text], 1) for c in iv.clip_ids]))
            pairs += len(iv.clip_ids)
    sync(device)
    return {"seconds": time.perf_counter() - started, "captions": captions, "caption_s": caption_s, "pairs": pairs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=["tiny", "random-paper"], default="tiny")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--videos", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--batch-size", type=int, default=16, help="intervals per generate call")
    parser.add_argument("--num-beams", type=int, default=5)
    parser.add_argument("--max-new-tokens", type=int, default=30)
    parser.add_argument("--skip-reference", action="store_true")
    args = parser.parse_args()
    print(describe_machine(args.device))
    config = SynthesizeConfig(device=args.device, caption_batch_size=args.batch_size,
                              generation=GenerationSettings(num_beams=args.num_beams, max_new_tokens=args.max_new_tokens))
    t0 = time.perf_counter()
    models = build_synthesis_models(config) if args.preset == "tiny" else random_paper_models(args.device, config)
    print(f"models ({args.preset}) built in {time.perf_counter() - t0:.1f} s; decoding {config.generation.model_dump()}")
    with tempfile.TemporaryDirectory() as tmp:
        videos = make_videos(Path(tmp), args.videos, args.seconds)
        hours = args.videos * args.seconds / 3600
        print(f"videos: {args.videos} x {args.seconds:.0f} s, 480x270 30 fps H.264; caption batch {args.batch_size}")
        run_ours(videos[:1], models, config, args.device)  # warm-up: lazy inits, cuDNN autotuning
        ours = run_ours(videos, models, config, args.device)
        print(f"{'run':<30}{'seconds':>9}{'captions/s':>12}{'pairs/s':>10}{'video-h/h':>11}")
        print(f"{'ours (one decode, batched)':<30}{ours['seconds']:>9.2f}{ours['captions'] / ours['seconds']:>12.2f}"
              f"{ours['pairs'] / ours['seconds']:>10.1f}{hours * 3600 / ours['seconds']:>11.1f}")
        print(f"  captioning alone: {ours['captions'] / ours['caption_s']:.2f} captions/s "
              f"({ours['caption_s'] / ours['seconds']:.0%} of the time); scoring alone: "
              f"{ours['pairs'] / ours['score_s']:.1f} pairs/s ({ours['score_s'] / ours['seconds']:.0%})")
        if not args.skip_reference:
            ref = run_reference(videos, models, config, args.device)
            print(f"{'reference (2 decodes, 1 by 1)':<30}{ref['seconds']:>9.2f}{ref['captions'] / ref['seconds']:>12.2f}"
                  f"{ref['pairs'] / ref['seconds']:>10.1f}{hours * 3600 / ref['seconds']:>11.1f}")
            print(f"speed-up of ours over the reference: {ref['seconds'] / ours['seconds']:.2f}x "
                  f"(captioning alone {ref['caption_s'] / ours['caption_s']:.2f}x)")
    rows_per_hour = ours["rows"] / hours
    filtered = ours["intervals"] - ours["rows"]
    print(f"synthetic rows per video-hour: {rows_per_hour:.0f} (one per {config.interval_seconds:g} s interval: at "
          f"most {3600 / config.interval_seconds:.0f}; {filtered} of {ours['intervals']} captions filtered)")
    print(f"projected for the paper's {PAPER_ROWS:,} QVHighlights rows at this rate: "
          f"{PAPER_ROWS / (ours['captions'] / ours['seconds']) / 3600:.2f} h")
    if args.device.startswith("cuda"):
        print(f"peak GPU memory: {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")


if __name__ == "__main__":
    main()
