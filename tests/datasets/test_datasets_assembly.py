"""VideoLightsDataset on real annotations and generated features: inputs, masks and targets."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pipeline.datasets import DatasetConfig, VideoLightsDataset, collate, spans_cxw_to_windows
from pipeline.datasets.windows import window_clip_range
from dataset_helpers import TEXT_DIMS, VIDEO_DIMS


def _normalised(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float32)
    return x / (np.linalg.norm(x, axis=1, keepdims=True) + 1e-5)


def _batch(ds: VideoLightsDataset, indices=None) -> dict:
    return collate([ds[i] for i in (indices if indices is not None else range(len(ds)))])


@pytest.fixture(scope="module")
def qvh_eval(qvh_rows, qvh_features):
    cfg = DatasetConfig.for_kind("qvhighlights", blip2=True, split="eval", max_windows=50)
    ds = VideoLightsDataset(qvh_rows, qvh_features.store, cfg)
    return ds, _batch(ds)


def test_qvhighlights_inputs(qvh_eval, qvh_rows, qvh_features) -> None:
    ds, batch = qvh_eval
    b = len(qvh_rows)
    dv = sum(VIDEO_DIMS.values()) + 2
    assert batch["src_vid"].shape == (b, 75, dv) and batch["src_vid"].dtype == torch.float32
    assert batch["src_vid_mask"].dtype == torch.float32
    lengths = batch["src_vid_mask"].sum(1).long().tolist()
    assert lengths[3] == 70 and all(n == math.ceil(r.duration / 2) for i, (n, r) in enumerate(zip(lengths, qvh_rows))
                                    if i != 3)
    for i, row in enumerate(qvh_rows):
        n = lengths[i]
        vid = batch["src_vid"][i].numpy()
        col = 0
        # order slowfast, clip, blip2: each block equals that encoder's stored features, normalised
        for name in ("slowfast", "clip", "blip2"):
            block = vid[:n, col:col + VIDEO_DIMS[name]]
            stored = qvh_features.video[(name, row.vid)][:n]
            np.testing.assert_allclose(block, _normalised(stored), rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(np.linalg.norm(block, axis=1), 1.0, atol=1e-4)
            col += VIDEO_DIMS[name]
        assert (vid[:n, :6] > 0).all() and (vid[:n, 6:10] < 0).all()  # the clip block carries CLIP's sign
        ends = np.arange(n, dtype=np.float32) / n
        np.testing.assert_allclose(vid[:n, -2:], np.stack([ends, ends + 1 / n], 1), atol=1e-6)
        assert not vid[n:].any() and not batch["saliency_all_labels"][i, n:].any()


def test_qvhighlights_text(qvh_eval, qvh_rows, qvh_features) -> None:
    _, batch = qvh_eval
    assert batch["src_txt"].shape[2] == TEXT_DIMS["clip"] + TEXT_DIMS["blip2"]
    for i, row in enumerate(qvh_rows):
        clip_tokens = qvh_features.text[("clip", str(row.qid))]
        blip_tokens = qvh_features.text[("blip2", str(row.qid))]
        n = min(len(clip_tokens), len(blip_tokens), 32)  # cut to the shortest encoder
        assert batch["src_txt_mask"][i].sum() == n
        txt = batch["src_txt"][i].numpy()
        np.testing.assert_allclose(txt[:n, :4], _normalised(clip_tokens[:n]), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(txt[:n, 4:], _normalised(blip_tokens[:n]), rtol=1e-5, atol=1e-6)
        assert not txt[n:].any()


def test_qvhighlights_windows_round_trip(qvh_eval, qvh_rows) -> None:
    _, batch = qvh_eval
    for i, (row, meta) in enumerate(zip(qvh_rows, batch["meta"])):
        spans = batch["span_labels"][i]["spans"]
        assert spans.dtype == torch.float32 and ((spans >= 0) & (spans <= 1)).all()
        seconds = spans_cxw_to_windows(spans, meta["n_clips"], 2.0, meta["clip_offset"])
        end = meta["n_clips"] * 2.0  # the short video's features end at 140 s
        expected = np.clip(np.asarray(row.relevant_windows, dtype=np.float64), 0, end)
        expected = expected[expected[:, 1] > expected[:, 0]]
        np.testing.assert_allclose(seconds.numpy(), expected, atol=1e-4)


def test_qvhighlights_saliency(qvh_eval, qvh_rows) -> None:
    _, batch = qvh_eval
    pos, neg = batch["saliency_pos_labels"], batch["saliency_neg_labels"]
    assert pos.dtype == neg.dtype == torch.int64 and pos.shape == neg.shape == (len(qvh_rows), 2)
    for i, row in enumerate(qvh_rows):
        n = int(batch["src_vid_mask"][i].sum())
        sums = {c: sum(s) for c, s in zip(row.relevant_clip_ids, row.saliency_scores) if c < n}
        expected = np.zeros(n, np.float32)
        expected[list(sums)] = list(sums.values())
        np.testing.assert_array_equal(batch["saliency_all_labels"][i, :n].numpy(), expected)
        hard_pos, easy_pos = pos[i].tolist()
        hard_neg, easy_neg = neg[i].tolist()
        assert sums[hard_pos] == max(sums.values()) and sums[hard_neg] == min(sums.values())
        assert easy_pos in sums and easy_neg not in sums and 0 <= easy_neg < n


def test_eval_draws_are_fixed_and_training_draws_change_per_epoch(qvh_rows, qvh_features) -> None:
    cfg = DatasetConfig(kind="qvhighlights", split="eval", video_extractors=("slowfast",))
    ds = VideoLightsDataset(qvh_rows, qvh_features.store, cfg)
    first = _batch(ds, range(6))
    ds.set_epoch(7)
    assert torch.equal(first["saliency_neg_labels"], _batch(ds, range(6))["saliency_neg_labels"])
    train = VideoLightsDataset(qvh_rows, qvh_features.store, cfg.model_copy(update={"split": "train"}))
    draws = []
    for epoch in (0, 1, 0):
        train.set_epoch(epoch)
        draws.append(_batch(train, range(6))["saliency_neg_labels"])
    assert torch.equal(draws[0], draws[2]) and not torch.equal(draws[0], draws[1])


def test_max_windows_keeps_a_subset(qvh_rows, qvh_features) -> None:
    many = next(i for i, r in enumerate(qvh_rows) if len(r.relevant_windows) > 2)
    cfg = DatasetConfig(kind="qvhighlights", max_windows=2, video_extractors=("clip",))
    ds = VideoLightsDataset(qvh_rows.select([many]), qvh_features.store, cfg)
    windows = {tuple(w) for w in qvh_rows[many].relevant_windows}
    for epoch in range(3):
        ds.set_epoch(epoch)
        got = spans_cxw_to_windows(ds[0].spans_cxw, 75, 2.0).round(decimals=3).tolist()
        assert len(got) == 2 and all(tuple(w) in windows for w in got)


def test_charades_one_second_clips(charades_rows, charades_features) -> None:
    cfg = DatasetConfig(kind="charades_sta", split="eval")
    assert cfg.clip_seconds == 1.0 and cfg.max_clips == 75
    ds = VideoLightsDataset(charades_rows, charades_features.store, cfg)
    batch = _batch(ds)
    assert batch["src_vid"].shape[2] == VIDEO_DIMS["slowfast"] + VIDEO_DIMS["clip"] + 2
    for i, row in enumerate(charades_rows):
        n = int(batch["src_vid_mask"][i].sum())
        assert n == math.ceil(row.duration) == batch["meta"][i]["n_clips"]
        seconds = spans_cxw_to_windows(batch["span_labels"][i]["spans"], n, 1.0)
        np.testing.assert_allclose(seconds.numpy(), row.relevant_windows, atol=1e-4)
        first, last = window_clip_range(*row.relevant_windows[0], 1.0, n)
        inside = np.zeros(n, np.float32)
        inside[first:last + 1] = 1
        np.testing.assert_array_equal(batch["saliency_all_labels"][i, :n].numpy(), inside)
        assert all(first <= p <= last for p in batch["saliency_pos_labels"][i].tolist())
        assert all(not first <= q <= last for q in batch["saliency_neg_labels"][i].tolist())
        assert len(set(batch["saliency_pos_labels"][i].tolist())) == min(2, last - first + 1)


def test_charades_training_crop_keeps_the_window(charades_rows, charades_features) -> None:
    cfg = DatasetConfig(kind="charades_sta", max_clips=12, video_extractors=("slowfast", "clip"))
    ds = VideoLightsDataset(charades_rows, charades_features.store, cfg)
    offsets = set()
    for epoch in range(4):
        ds.set_epoch(epoch)
        for i, row in enumerate(charades_rows):
            s = ds[i]
            assert s.src_vid.shape[0] == s.meta["n_clips"] == min(12, math.ceil(row.duration))
            start, end = row.relevant_windows[0]
            lo, hi = s.meta["clip_offset"], s.meta["clip_offset"] + s.meta["n_clips"]
            expected = [max(start, lo), min(end, hi)]
            if end - start <= 11:  # a window that fits is kept whole
                assert lo <= math.floor(start) and math.ceil(end) <= hi
                expected = [start, end]
            got = spans_cxw_to_windows(s.spans_cxw, s.meta["n_clips"], 1.0, lo)
            np.testing.assert_allclose(got.numpy()[0], expected, atol=1e-4)
            np.testing.assert_allclose(s.src_vid[:, -2], np.arange(s.meta["n_clips"]) / s.meta["n_clips"], atol=1e-6)
            offsets.add((i, lo))
    assert len(offsets) > len(charades_rows)  # crops move between epochs


def test_tvsum_per_clip_targets(tvsum_rows, tvsum_features) -> None:
    ds = VideoLightsDataset(tvsum_rows, tvsum_features.store, DatasetConfig(kind="tvsum"))
    assert ds.config.max_clips == 1000
    batch = _batch(ds)
    assert "span_labels" not in batch
    assert batch["saliency_pos_labels"].shape == (len(tvsum_rows), 1)
    for i, row in enumerate(tvsum_rows):
        label = np.asarray(row.label)
        n = int(batch["src_vid_mask"][i].sum())
        assert n == len(label) == row.duration
        expected = (label - 1).sum(1) / 80 * 12  # 20 annotators x (5 - 1) -> QVHighlights' 0..12
        np.testing.assert_allclose(batch["saliency_all_labels"][i, :n].numpy(), expected, rtol=1e-6)
        assert expected[batch["saliency_pos_labels"][i, 0]] == expected.max()
        assert expected[batch["saliency_neg_labels"][i, 0]] == expected.min()


def test_tvsum_one_domain(tvsum_rows, tvsum_features) -> None:
    domain = tvsum_rows[1].domain
    ds = VideoLightsDataset(tvsum_rows, tvsum_features.store, DatasetConfig(kind="tvsum", domain=domain))
    assert [r.vid for r in ds.rows] == [r.vid for r in tvsum_rows if r.domain == domain]
    assert ds[0].meta["vid"] == ds.rows[0].vid
