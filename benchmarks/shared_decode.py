"""Extract + synthesize: one shared decode pass vs a decode pass per stage, measured in the same run.

- shared:    `extract_videos(..., taps=[SynthesisTap])`: each video is decoded once; the extractors
             and the synthesize stage (captions of 10-s intervals, per-clip scores) take their frames
             from that pass (what the pipeline's DAG does when both steps run).
- reference: `extract_videos(...)` then `synthesize(...)`: the public release's way, each stage
             decoding every video itself.

Both write the same features and rows (checked). Presets are the tiny ones (CPU); the decode work
is real (480x270 30 fps H.264 videos, frames at 224 px), so the ratio is the decode share saved.
Usage: python benchmarks/shared_decode.py [--videos 3] [--seconds 60] [--extractors clip,slowfast]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from extract import make_videos  # benchmarks/extract.py (scripts run from this folder)
from machine import describe_machine, sync  # benchmarks/machine.py

from pipeline.extract import ExtractConfig, build_video_extractors, extract_videos
from pipeline.extractors.captioner import GenerationSettings
from pipeline.synthetic import SynthesizeConfig, build_synthesis_models, open_synthesis, synthesize
from pipeline.video import DecodeStats
from storage import FeatureStore


def _rows(path: Path) -> list[dict]:
    return sorted((json.loads(line) for line in path.read_text().splitlines()), key=lambda r: r["qid"])


def run(videos: list[str], shared: bool, extract_config: ExtractConfig, synth_config: SynthesizeConfig, models,
        folder: Path) -> dict:
    store, out = FeatureStore(folder / "store"), folder / "rows.jsonl"
    extractors = build_video_extractors(extract_config)
    stats: dict[str, DecodeStats] = {}
    started = time.perf_counter()
    if shared:
        with open_synthesis(store, out, synth_config, videos=videos, models=models) as tap:
            records = extract_videos(videos, store, extractors, extract_config, decode_stats=stats, taps=[tap])
        summary = tap.summary
    else:
        records = extract_videos(videos, store, extractors, extract_config, decode_stats=stats)
        summary = synthesize(videos, store, out, synth_config, models=models)
    sync(extract_config.device)
    seconds = time.perf_counter() - started
    assert all(r.status == "done" for r in records) and summary.ok and summary.done == len(videos), summary.text()
    opens = sum(s.opens for s in stats.values()) + (0 if shared else len(videos))  # synthesize() opens each once
    return {"seconds": seconds, "opens": opens, "rows": _rows(out)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--extractors", default="clip,slowfast")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each; the best is kept")
    args = parser.parse_args()
    print(describe_machine("cpu"))
    extract_config = ExtractConfig(extractors=tuple(args.extractors.split(",")), text_encoders=(), preset="tiny")
    synth_config = SynthesizeConfig(text_encoders=(), generation=GenerationSettings(num_beams=1, max_new_tokens=8))
    models = build_synthesis_models(synth_config)
    with tempfile.TemporaryDirectory() as tmp:
        videos = make_videos(Path(tmp), args.videos, args.seconds)
        print(f"videos: {args.videos} x {args.seconds:.0f} s, 480x270 30 fps H.264; extractors {args.extractors} "
              f"(tiny, 224 px) + synthesis (tiny, {synth_config.decode.short_side} px)")
        results: dict[str, dict] = {}
        for attempt in range(args.repeats):
            for name, shared in (("reference", False), ("shared", True)):
                folder = Path(tmp) / f"{name}-{attempt}"
                result = run(videos, shared, extract_config, synth_config, models, folder)
                if name not in results or result["seconds"] < results[name]["seconds"]:
                    results[name] = result
        assert results["shared"]["rows"] == results["reference"]["rows"], "the two ways wrote different rows"
        video_s = args.videos * args.seconds
        print(f"{'run':<34}{'seconds':>9}{'video-s/s':>11}{'decodes':>9}")
        for name, label in (("reference", "reference (a decode per stage)"), ("shared", "shared (one decode pass)")):
            r = results[name]
            print(f"{label:<34}{r['seconds']:>9.2f}{video_s / r['seconds']:>11.1f}{r['opens']:>9}")
        print(f"speed-up of the shared pass: {results['reference']['seconds'] / results['shared']['seconds']:.2f}x "
              f"(best of {args.repeats}; same rows: {len(results['shared']['rows'])})")


if __name__ == "__main__":
    main()
