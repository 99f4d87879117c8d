"""One decode pass gives every interval its representative frame and every clip its scored frame."""

from __future__ import annotations

import importlib.util

import pytest
from synthetic_helpers import write_time_coded

from timecode import decode_time_code
from pipeline.synthetic import IntervalCollector, SynthesizeConfig, plan_intervals, synthesis_consumers
from pipeline.video import DecodeStats, decode_clips


def _collect(path, duration, config, backend="auto"):
    stats = DecodeStats()
    collector = IntervalCollector(plan_intervals(path.stem, duration, config))
    done = []
    for chunk in decode_clips(path, synthesis_consumers(config), config.decode.clip_seconds,
                              config.decode.chunk_seconds, backend, stats=stats):
        done += collector.feed(chunk)
    assert collector.incomplete == []
    return done, stats


@pytest.mark.parametrize("backend", [
    pytest.param("decord", marks=pytest.mark.skipif(importlib.util.find_spec("decord") is None,
                                                    reason="decord is an optional extra ([decord])")),
    "pyav"])
def test_the_middle_frame_is_captioned(tmp_path, backend):
    fps = 30
    path = write_time_coded(tmp_path / "v.mp4", 35.0, fps=fps)
    done, stats = _collect(path, 35.0, SynthesizeConfig(), backend)
    assert stats.opens == 1  # one decode pass for the caption and the score frames
    assert [f.interval.index for f in done] == [0, 1, 2]
    for f in done:
        # a 10-s interval at 30 fps holds frames 300 i .. 300 i + 299; its middle frame is 300 i + 150
        middle = 300 * f.interval.index + 150
        assert decode_time_code(f.caption_frame) == middle
        assert f.caption_frame_time == pytest.approx(middle / fps)
        assert min(f.caption_frame.shape[:2]) == 224  # decoded at the BLIP-2 input's short side
        for clip, frame in f.clip_frames.items():
            assert decode_time_code(frame) == clip * 2 * fps  # each clip's first frame is scored


def test_first_and_random_rules_pick_their_frames(tmp_path):
    fps = 10
    path = write_time_coded(tmp_path / "v.mp4", 30.0, fps=fps)
    done, _ = _collect(path, 30.0, SynthesizeConfig(frame_rule="first"))
    assert [decode_time_code(f.caption_frame) for f in done] == [0, 100, 200]
    config = SynthesizeConfig(frame_rule="random", seed=7)
    done, _ = _collect(path, 30.0, config)
    for f in done:
        assert decode_time_code(f.caption_frame) == round(f.interval.caption_time_s * fps)
        assert 100 * f.interval.index <= decode_time_code(f.caption_frame) < 100 * (f.interval.index + 1)


def test_the_collector_refuses_chunks_without_its_consumers(tmp_path):
    path = write_time_coded(tmp_path / "v.mp4", 10.0)
    collector = IntervalCollector(plan_intervals("v", 10.0))
    chunk = next(iter(decode_clips(path, {"clip": synthesis_consumers()["synthetic-score"]})))
    with pytest.raises(KeyError, match="synthesis_consumers"):
        collector.feed(chunk)
