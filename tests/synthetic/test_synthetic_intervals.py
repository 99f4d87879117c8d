"""Interval arithmetic, frame rules, qids, score mappings and the config: pure functions, no models."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from pipeline.extract import DecodeConfig
from pipeline.synthetic import (
    SynthesizeConfig,
    identity_score,
    interval_qid,
    linear_score,
    n_intervals,
    plan_intervals,
    release_score,
    score_mapping,
)


@pytest.mark.parametrize("duration", [0.0, 0.5, 5.0, 9.0, 9.99])
def test_videos_shorter_than_one_interval_have_none(duration):
    assert n_intervals(duration) == 0
    assert plan_intervals("v", duration) == []


@pytest.mark.parametrize("duration, n", [(10.0, 1), (35.0, 3), (150.0, 15), (19.999, 1), (20.0, 2)])
def test_intervals_tile_the_video_from_zero(duration, n):
    intervals = plan_intervals("vid_x", duration)
    assert len(intervals) == n == math.floor(duration / 10 + 1e-9)
    for i, iv in enumerate(intervals):
        assert (iv.index, iv.start_s, iv.end_s) == (i, 10.0 * i, 10.0 * i + 10)
        assert iv.end_s <= duration
        # the interval's five 2-s clips, and nothing else
        assert iv.clip_ids == tuple(range(5 * i, 5 * i + 5))
        assert iv.clip_ids[0] * 2.0 == iv.start_s and (iv.clip_ids[-1] + 1) * 2.0 == iv.end_s
        assert interval_qid("vid_x", iv.start_s, iv.end_s) == f"vid_x_{10 * i}_{10 * i + 10}"
    ids = [c for iv in intervals for c in iv.clip_ids]
    assert ids == list(range(5 * n)) and max(ids, default=-1) < math.ceil(duration / 2)


def test_probe_noise_does_not_lose_the_last_interval():
    assert n_intervals(9.9999999) == 1 and n_intervals(149.99999999) == 15


def test_middle_rule_targets_the_middle_of_the_interval():
    for iv in plan_intervals("v", 150.0):
        assert iv.caption_time_s == iv.start_s + 5.0
        # 5 s into the interval is the middle of its third 2-s clip
        assert iv.caption_clip == iv.clip_ids[2]
        assert iv.caption_offset == 0


def test_first_rule_targets_the_start():
    config = SynthesizeConfig(frame_rule="first")
    for iv in plan_intervals("v", 35.0, config):
        assert (iv.caption_time_s, iv.caption_clip, iv.caption_offset) == (iv.start_s, iv.clip_ids[0], 0)


def test_random_rule_is_seeded_inside_the_interval_and_on_the_grid():
    config = SynthesizeConfig(frame_rule="random", random_frames_per_clip=4, seed=3)
    a = plan_intervals("v", 150.0, config)
    assert a == plan_intervals("v", 150.0, config)
    assert a != plan_intervals("v", 150.0, config.model_copy(update={"seed": 4}))
    assert a != plan_intervals("w", 150.0, config)
    offsets = config.caption_offsets()
    for iv in a:
        assert iv.start_s <= iv.caption_time_s < iv.end_s
        assert iv.caption_clip in iv.clip_ids
        assert iv.caption_clip * 2.0 + offsets[iv.caption_offset] * 2.0 == pytest.approx(iv.caption_time_s)
    assert len({iv.caption_time_s - iv.start_s for iv in a}) > 3


def test_other_grids():
    config = SynthesizeConfig(decode=DecodeConfig(clip_seconds=1.0))
    (iv,) = plan_intervals("v", 12.0, config)
    assert iv.clip_ids == tuple(range(10)) and iv.caption_clip == 5 and config.caption_offsets() == (0.0,)
    with pytest.raises(ValidationError, match="not a multiple of decode.clip_seconds"):
        SynthesizeConfig(interval_seconds=7.0)


def test_config_refuses_typos_and_bad_values():
    with pytest.raises(ValidationError, match="extra"):
        SynthesizeConfig(frame_rul="middle")
    with pytest.raises(ValidationError):
        SynthesizeConfig(frame_rule="last")
    with pytest.raises(ValidationError):
        SynthesizeConfig(scores_per_clip=4)
    with pytest.raises(ValidationError):
        SynthesizeConfig(generation={"num_beams": 0})
    with pytest.raises(ValidationError):
        SynthesizeConfig(generation={"do_sample": True})


def test_rows_manifest_ignores_run_only_settings():
    base = SynthesizeConfig()
    assert base.rows_manifest() == SynthesizeConfig(device="cuda", caption_batch_size=3, max_duration=60,
                                                    text_encoders=("clip",)).rows_manifest()
    assert base.rows_manifest() != SynthesizeConfig(mapping="identity").rows_manifest()
    assert base.rows_manifest() != SynthesizeConfig(generation={"num_beams": 1}).rows_manifest()


def test_release_mapping_on_known_inputs():
    p = np.array([0.0, 0.2, 0.4, 0.41, 0.5, 0.8, 1.0])
    expected = [math.e, math.e, math.e, math.exp(1.025), math.exp(1.25), math.exp(2.0), math.exp(2.5)]
    np.testing.assert_allclose(release_score(p), expected, rtol=1e-12)
    # the outer clamp (min 2) never binds: every score is at least e
    assert release_score(np.linspace(-5, 5, 101)).min() == pytest.approx(math.e)
    assert release_score(np.array([1.0]))[0] == pytest.approx(12.182493960703473)
    # monotone above the knee at p = 0.4
    assert np.all(np.diff(release_score(np.linspace(0.4, 1.0, 50))) > 0)


def test_identity_and_linear_mappings_on_known_inputs():
    s = np.array([-0.5, 0.0, 0.3, 1.0, 1.2])
    np.testing.assert_allclose(identity_score(s), [0.0, 0.0, 0.3, 1.0, 1.2])
    np.testing.assert_allclose(linear_score(s, 12.0), [0.0, 0.0, 3.6, 12.0, 12.0])
    np.testing.assert_allclose(score_mapping("linear", 4.0)(s), [0.0, 0.0, 1.2, 4.0, 4.0])
    assert score_mapping("release") is release_score
    with pytest.raises(ValueError, match="unknown score mapping"):
        score_mapping("softmax")
