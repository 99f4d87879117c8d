"""Decoder table: the CPU back-ends behind `pipeline.video.decode_clips`, measured on the same videos.

Columns (one row per back-end: PyAV (default), decord, torchcodec when the [gpu] extra is installed):
- speed:   seconds of one pass with the extractors' two consumers (CLIP's ReferenceFrames and
           SlowFast's ReferenceSlowFast at short side 224) over a generated 1280x720 30-fps H.264
           video with noise, median of --repeat runs, each in its own process (as benchmarks/decode.py)
- peak MB: max RSS of that process
- frames:  whether every frame chosen (frame index per clip and consumer) equals PyAV's, whose choice
           the reference tests pin to the public extractors' (constant frame rate video)
- VFR:     the same on a variable-frame-rate video (frame intervals 20/100/50 ms)
- rotation: what a 90-degree-rotated video gets (frames upright, or refused)
- pixels:  mean |difference| (grey levels) from PyAV's pixels, which equal the references'
- seek ms: milliseconds per frame fetched at 10 positions spread over the video through the
           library's own random access (decord's index, torchcodec's get_frame_at, PyAV's seek
           to the keyframe before and decode forward)
Usage: python benchmarks/decoders.py [--seconds 60] [--repeat 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from decode import make_video, measure  # benchmarks/decode.py (scripts run from this folder)

from pipeline.video import decode_clips, probe_video
from pipeline.video.gpu import torchcodec_problem
from pipeline.video.sampling import ReferenceFrames, ReferenceSlowFast
from pipeline.video.writer import write_video

CONSUMERS = {"clip": ReferenceFrames(short_side=224), "slowfast": ReferenceSlowFast(short_side=224)}


def _pass(path: Path, backend: str, short: int = 224) -> list:
    consumers = {name: spec.model_copy(update={"short_side": short}) for name, spec in CONSUMERS.items()}
    return list(decode_clips(path, consumers, backend=backend))


def same_frames(path: Path, backend: str, reference: list) -> str:
    try:
        chunks = _pass(path, backend, short=64)
    except Exception as exc:  # a back-end refusing the video is a finding of the table
        return f"refused ({type(exc).__name__})"
    differ = sum(int(not np.array_equal(a, b)) for r, c in zip(reference, chunks) for n in CONSUMERS
                 for a, b in zip(r.frame_index[n], c.frame_index[n]))
    total = sum(len(r.frame_index[n]) for r in reference for n in CONSUMERS)
    return "same" if differ == 0 and len(chunks) == len(reference) else f"{differ}/{total} clips differ"


def pixel_difference(path: Path, backend: str, reference: list) -> float:
    chunks = _pass(path, backend, short=64)
    diffs = [np.abs(np.asarray(a, np.int16) - np.asarray(b.cpu() if hasattr(b, "cpu") else b, np.int16)).mean()
             for r, c in zip(reference, chunks) for n in CONSUMERS for a, b in zip(r.frames[n], c.frames[n])]
    return float(np.mean(diffs))


def rotation(path: Path, backend: str) -> str:
    try:
        chunk = _pass(path, backend, short=32)[0]
    except Exception as exc:
        return f"refused ({type(exc).__name__})"
    h, w = chunk.frames["clip"][0].shape[1:3]
    return "upright" if h > w else "not turned"


def seek_ms(path: Path, backend: str, positions: int = 10) -> float:
    n = probe_video(path).n_frames
    keys = np.linspace(0, n - 1, positions).astype(int).tolist()
    started = time.perf_counter()
    if backend == "decord":
        import decord

        reader = decord.VideoReader(str(path))
        for k in keys:
            reader[k].asnumpy()
    elif backend == "torchcodec":
        from torchcodec.decoders import VideoDecoder

        decoder = VideoDecoder(str(path), seek_mode="exact")
        for k in keys:
            decoder.get_frame_at(k)
    else:
        import av

        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            step = 1 / float(stream.average_rate) / float(stream.time_base)
            for k in keys:
                container.seek(int(k * step), stream=stream, backward=True)
                for frame in container.decode(stream):
                    if frame.pts >= int(k * step) - 1:
                        frame.to_ndarray(format="rgb24")
                        break
    return (time.perf_counter() - started) * 1000 / positions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=60, help="length of the generated 720p video")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    backends = ["pyav", "decord"] + ([] if torchcodec_problem() else ["torchcodec"])
    with tempfile.TemporaryDirectory() as tmp:
        cfr = Path(tmp) / "cfr.mp4"
        make_video(cfr, args.seconds)
        frame = lambda i, t: np.full((90, 160, 3), (i * 7) % 256, np.uint8)  # noqa: E731
        vfr = write_video(Path(tmp) / "vfr.mp4", frame, 300, fps=30, width=160, height=90,
                          frame_times=np.cumsum(np.r_[0.0, np.tile([0.02, 0.1, 0.05], 100)])[:300].tolist())
        rotated = write_video(Path(tmp) / "rot.mp4", frame, 90, fps=30, width=160, height=90, rotation=90)
        reference_cfr, reference_vfr = _pass(cfr, "pyav", short=64), _pass(vfr, "pyav", short=64)
        print(f"video: 1280x720 30 fps H.264 with noise, {args.seconds} s; median of {args.repeat} runs")
        print(f"{'back-end':<12}{'speed s':>9}{'peak MB':>9}  {'frames':<20}{'VFR':<20}{'rotation':<28}"
              f"{'pixels':>8}{'seek ms':>9}")
        for backend in backends:
            run = measure(f"ours:{backend}", str(cfr), args.repeat)
            print(f"{backend:<12}{run['seconds']:>9.2f}{run['peak_mb']:>9.0f}  "
                  f"{same_frames(cfr, backend, reference_cfr):<20}{same_frames(vfr, backend, reference_vfr):<20}"
                  f"{rotation(rotated, backend):<28}{pixel_difference(cfr, backend, reference_cfr):>8.2f}"
                  f"{seek_ms(cfr, backend):>9.1f}", flush=True)


if __name__ == "__main__":
    main()
