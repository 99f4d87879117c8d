"""Decode benchmark: one decode pass for two consumers vs one ffmpeg pipe per consumer vs the floor.

Consumers: CLIP-style (1 frame per 2-s clip, short side 224) and SlowFast-style (30 fps, short side 224).
- floor:     `ffmpeg -i VIDEO -f null -` (decode only, full resolution, no conversion)
- reference: the public extractors' approach, one `ffmpeg` process per consumer piping raw RGB frames
             (`-vf fps=...,scale=...`), frames collected in Python
- ours:      `pipeline.video.decode_clips` with both consumers in one pass (PyAV, the default; decord;
             torchcodec on the CPU when the [gpu] extra is installed)

Each approach runs in its own process so peak memory (max RSS, the process and its children) is its own.
The last line is `decode ratio: ours/floor=X.XX pipes/ours=Y.YY` for the default back-end (PyAV).
Usage: python benchmarks/decode.py [--video PATH] [--seconds 120] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLIP_FPS = 0.5
SHORT = 224


def _scale_filter() -> str:
    return f"scale='if(gt(iw,ih),-2,{SHORT})':'if(gt(iw,ih),{SHORT},-2)'"


def run_floor(video: str) -> dict:
    subprocess.run(["ffmpeg", "-v", "error", "-i", video, "-an", "-f", "null", "-"], check=True)
    return {}


def _pipe_frames(video: str, vf: str, width: int, height: int) -> int:
    cmd = ["ffmpeg", "-v", "error", "-i", video, "-an", "-vf", vf, "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:"]
    import numpy as np

    frame_bytes = width * height * 3
    frames = []
    with subprocess.Popen(cmd, stdout=subprocess.PIPE) as proc:
        while chunk := proc.stdout.read(frame_bytes):
            if len(chunk) == frame_bytes:
                frames.append(np.frombuffer(chunk, np.uint8).reshape(height, width, 3))
    return len(frames)


def run_pipes(video: str) -> dict:
    from pipeline.video import probe_video, scaled_size

    info = probe_video(video)
    width, height = scaled_size(*info.display_size, SHORT)
    n_clip = _pipe_frames(video, f"fps={CLIP_FPS},{_scale_filter()}", width, height)
    n_sf = _pipe_frames(video, f"fps=30,{_scale_filter()}", width, height)
    return {"clip_frames": n_clip, "slowfast_frames": n_sf}


def run_ours(video: str, backend: str) -> dict:
    from pipeline.video import DecodeStats, decode_clips
    from pipeline.video.sampling import ReferenceFrames, ReferenceSlowFast

    stats = DecodeStats()
    # what the extractors read: the public pipelines' frames (CLIP's one per clip, HERO's 32 SlowFast positions)
    consumers = {"clip": ReferenceFrames(short_side=SHORT), "slowfast": ReferenceSlowFast(short_side=SHORT)}
    n_clip = n_sf = 0
    for chunk in decode_clips(video, consumers, backend=backend, stats=stats):
        n_clip += sum(len(c) for c in chunk.frames["clip"])
        n_sf += sum(len(c) for c in chunk.frames["slowfast"])
    return {"clip_frames": n_clip, "slowfast_frames": n_sf, "opens": stats.opens, "backend": stats.backend}


def child(approach: str, video: str) -> None:
    started = time.perf_counter()
    if approach == "floor":
        extra = run_floor(video)
    elif approach == "pipes":
        extra = run_pipes(video)
    else:
        extra = run_ours(video, approach.split(":", 1)[1])
    seconds = time.perf_counter() - started
    rss_kb = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    print(json.dumps({"seconds": seconds, "peak_mb": rss_kb / 1024, **extra}))


def make_video(path: Path, seconds: int) -> None:
    """A 1280x720 30-fps H.264 test pattern with motion and noise (decoding cost like real footage)."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate=30:duration={seconds}",
                    "-vf", "noise=alls=12:allf=t", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
                    str(path)], check=True)


def measure(approach: str, video: str, repeat: int) -> dict:
    runs = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, __file__, "--child", approach, "--video", video], check=True,
                             capture_output=True, text=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    best = dict(runs[0])
    best["seconds"] = statistics.median(r["seconds"] for r in runs)
    best["peak_mb"] = max(r["peak_mb"] for r in runs)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", help="video to decode (default: a generated 1280x720 30-fps clip)")
    parser.add_argument("--seconds", type=int, default=120, help="length of the generated video")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.video)
        return
    if shutil.which("ffmpeg") is None:
        sys.exit("ffmpeg is needed for the reference and the floor (apt-get install ffmpeg)")
    with tempfile.TemporaryDirectory() as tmp:
        video = args.video
        if video is None:
            video = str(Path(tmp) / "bench.mp4")
            make_video(Path(video), args.seconds)
        from pipeline.video import probe_video

        info = probe_video(video)
        print(f"machine: {platform.platform()} | {platform.processor() or platform.machine()} | {os.cpu_count()} CPUs")
        print(f"video: {info.width}x{info.height} {info.fps:.2f} fps {info.duration:.1f} s {info.codec}; "
              f"median of {args.repeat} runs each")
        from pipeline.video.gpu import torchcodec_problem

        approaches = ["floor", "pipes", "ours:decord", "ours:pyav"] + ([] if torchcodec_problem() else ["ours:torchcodec"])
        results = {name: measure(name, video, args.repeat) for name in approaches}
    floor = results["floor"]["seconds"]
    pipes = results["pipes"]["seconds"]
    print(f"{'approach':<14}{'seconds':>9}{'x floor':>9}{'pipes/this':>12}{'peak MB':>9}  frames (clip, slowfast)")
    for name, r in results.items():
        frames = f"({r.get('clip_frames', '-')}, {r.get('slowfast_frames', '-')})"
        print(f"{name:<14}{r['seconds']:>9.2f}{r['seconds'] / floor:>9.2f}{pipes / r['seconds']:>12.2f}"
              f"{r['peak_mb']:>9.0f}  {frames}")
    ours = results["ours:pyav"]["seconds"]
    print(f"video-seconds per wall-second, ours:pyav: {info.duration / ours:.1f}")
    print(f"decode ratio: ours/floor={ours / floor:.2f} pipes/ours={pipes / ours:.2f}")


if __name__ == "__main__":
    main()
