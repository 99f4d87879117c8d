"""Truncated files whose index comes first (faststart mp4) are refused, not decoded into frozen frames."""

from __future__ import annotations

import importlib.util

import re

import pytest

from timecode import decode_time_code, remux_faststart, time_coded_frames
from pipeline.video.writer import write_video
from pipeline.video.sampling import FramesPerClip, ResampleFps
from pipeline.video import VideoDecodeError, decode_clips, probe_video

DECORD = pytest.param("decord", marks=pytest.mark.skipif(importlib.util.find_spec("decord") is None,
                                                        reason="decord is an optional extra ([decord])"))
BACKENDS = [DECORD, "pyav"]


@pytest.fixture(scope="module")
def faststart_charades(charades_video, tmp_path_factory):
    path = remux_faststart(charades_video, tmp_path_factory.mktemp("faststart") / "charades_fs.mp4")
    assert path.read_bytes()[:64].find(b"moov") >= 0  # the index really is first
    return path


def _cut(path, fraction, out):
    data = path.read_bytes()
    out.write_bytes(data[: int(len(data) * fraction)])
    return out


def test_whole_faststart_file_decodes(faststart_charades):
    info = probe_video(faststart_charades)
    assert info.duration == pytest.approx(30.7, abs=0.06)
    chunks = list(decode_clips(faststart_charades, {"c": FramesPerClip()}, info=info))
    assert sum(len(c.clip_times) for c in chunks) == 16


@pytest.mark.parametrize("fraction,stop", [(0.1, 2.3), (0.5, 13.9), (0.9, 28.1)])
def test_cut_faststart_file_is_refused_naming_where_frames_stop(faststart_charades, tmp_path, fraction, stop):
    cut = _cut(faststart_charades, fraction, tmp_path / "cut.mp4")
    with pytest.raises(VideoDecodeError) as err:
        probe_video(cut)
    match = re.fullmatch(r"truncated: frames stop at ([\d.]+) s of 30\.7 s", err.value.reason)
    assert match, err.value.reason
    assert float(match.group(1)) == pytest.approx(stop, abs=1.5)  # where the cut falls, within a GOP


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("faststart", [False, True])
def test_stated_duration_slightly_past_the_last_frame_still_passes(tmp_path, backend, faststart):
    # 40 frames at 10 fps, the last shown 0.8 s: the stream states 4.7 s, its last frame starts at 3.9 s
    path = write_video(tmp_path / "v.mp4", time_coded_frames(64, 48), 40, fps=10, faststart=faststart,
                       last_frame_seconds=0.8)
    info = probe_video(path)
    assert info.duration == pytest.approx(4.7, abs=0.01)
    chunks = list(decode_clips(path, {"c": FramesPerClip(short_side=48), "sf": ResampleFps(fps=10, short_side=48)},
                               backend=backend, info=info))
    frames = [f for c in chunks for f in c.frames["c"]]
    assert [decode_time_code(f[0]) for f in frames] == [0, 20, 39]
    tail = chunks[-1].frames["sf"][-1]  # the last 0.7-s clip shows the last frame throughout
    assert {decode_time_code(f) for f in tail} == {39} and len(tail) == 7


def test_pyav_streaming_stops_at_a_cut_the_probe_did_not_see(faststart_charades, tmp_path):
    # the probe of the whole file is reused for a cut copy, as a run would if the file were cut
    # between probe and decode: the streaming decoder itself must notice the frames stopping
    info = probe_video(faststart_charades)
    cut = _cut(faststart_charades, 0.5, tmp_path / "cut.mp4")
    with pytest.raises(VideoDecodeError, match=r"truncated: frames stop at \d+\.\d s of 30\.7 s"):
        for _ in decode_clips(cut, {"c": FramesPerClip()}, backend="pyav", info=info):
            pass
