"""Loading: missing store entries, the in-memory cache, DataLoader workers, configs, and the model reading a batch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from dataset_helpers import VIDEO_DIMS, write_features
from pydantic import ValidationError
from torch.utils.data import DataLoader

from pipeline.datasets import (
    Annotations,
    DatasetConfig,
    MissingFeaturesError,
    PretrainRow,
    VideoLightsDataset,
    collate,
    forward_kwargs,
    read_annotations,
    spans_cxw_to_windows,
    targets,
    windows_to_spans_cxw,
)
from storage import FeatureStore


def _assert_same_batches(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], torch.Tensor):
            assert torch.equal(a[key], b[key]), key
        elif key == "span_labels":
            assert all(torch.equal(x["spans"], y["spans"]) for x, y in zip(a[key], b[key]))
        else:
            assert a[key] == b[key], key


def test_missing_entries_are_listed_with_the_command(qvh_rows, tmp_path: Path) -> None:
    store = FeatureStore(tmp_path / "features.zarr")
    write_features(store, qvh_rows.select(range(4)), 2.0)
    store.delete("video", "blip2", qvh_rows[1].vid)
    store.delete("text", "clip", qvh_rows[2].qid)
    cfg = DatasetConfig.for_kind("qvhighlights", blip2=True)
    with pytest.raises(MissingFeaturesError) as info:
        VideoLightsDataset(qvh_rows.select(range(5)), store, cfg)
    err = info.value
    assert sorted(err.missing) == sorted([
        ("video", "blip2", qvh_rows[1].vid),
        ("text", "clip", str(qvh_rows[2].qid)),
        *[("video", e, qvh_rows[4].vid) for e in ("slowfast", "clip", "blip2")],
        *[("text", e, str(qvh_rows[4].qid)) for e in ("clip", "blip2")],
    ])
    text = str(err)
    assert f"{store.url}: 7 feature entries needed by the dataset are missing" in text
    assert f"video/blip2: 2 missing: {qvh_rows[1].vid}, {qvh_rows[4].vid}" in text
    assert f"--store {store.url} --extractors blip2 (creates the missing video entries)" in text
    assert "--extractors clip (creates the missing text entries)" in text


@pytest.mark.parametrize("split", ["train", "eval"])
def test_cached_and_uncached_batches_are_identical(qvh_rows, qvh_features, split: str) -> None:
    cfg = DatasetConfig.for_kind("qvhighlights", blip2=True, split=split, max_query_tokens=10)
    plain = VideoLightsDataset(qvh_rows, qvh_features.store, cfg)
    cached = VideoLightsDataset(qvh_rows, qvh_features.store, cfg.model_copy(update={"cache": True}))
    assert cached.features.nbytes > 0
    for ds in (plain, cached):
        ds.set_epoch(3)
    _assert_same_batches(collate([plain[i] for i in range(len(plain))]),
                         collate([cached[i] for i in range(len(cached))]))


def test_dataloader_workers_give_the_same_batches(charades_rows, charades_features) -> None:
    cfg = DatasetConfig(kind="charades_sta", max_clips=20)
    ds = VideoLightsDataset(charades_rows, charades_features.store, cfg)
    ds.set_epoch(2)
    serial = list(DataLoader(ds, batch_size=4, collate_fn=collate))
    # spawned, as build_loader does: a fork after zarr's I/O thread started breaks the children
    forked = list(DataLoader(ds, batch_size=4, collate_fn=collate, num_workers=2, multiprocessing_context="spawn"))
    assert len(serial) == len(forked) == 3
    for a, b in zip(serial, forked):
        _assert_same_batches(a, b)


def test_config_validation() -> None:
    with pytest.raises(ValidationError, match="order .*'slowfast', 'clip', 'blip2'.*silently ruins"):
        DatasetConfig(kind="qvhighlights", video_extractors=("clip", "slowfast"))
    with pytest.raises(ValidationError, match="order"):
        DatasetConfig(kind="qvhighlights", text_encoders=("blip2", "clip"))
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        DatasetConfig(kind="qvhighlights", max_vl=10)
    with pytest.raises(ValidationError, match="even k"):
        DatasetConfig(kind="qvhighlights", saliency_pairs=3)
    with pytest.raises(ValidationError, match="domain='BK' is for TVSum rows"):
        DatasetConfig(kind="qvhighlights", domain="BK")
    with pytest.raises(ValidationError, match="domain"):
        DatasetConfig(kind="tvsum", domain="XX")
    assert DatasetConfig(kind="tvsum").model_dump()["max_clips"] == 1000
    assert DatasetConfig(kind="charades_sta", clip_seconds=2).clip_seconds == 2.0
    b = DatasetConfig.for_kind("qvhighlights", blip2=True)
    assert b.video_extractors == ("slowfast", "clip", "blip2") and b.text_encoders == ("clip", "blip2")
    with pytest.raises(ValidationError, match="frozen"):
        b.max_clips = 3


def test_train_split_refuses_unlabelled_rows(data_dir: Path, qvh_features) -> None:
    rows = read_annotations(data_dir / "qvhighlights/highlight_test_release.jsonl", "qvhighlights").select([0])
    with pytest.raises(ValueError, match=r"line 1 \(qid 3158\): no labels; a train split needs"):
        VideoLightsDataset(rows, qvh_features.store, DatasetConfig(kind="qvhighlights"))


def test_unlabelled_eval_rows_give_inputs_only(data_dir: Path, tmp_path: Path) -> None:
    rows = read_annotations(data_dir / "qvhighlights/highlight_test_release.jsonl", "qvhighlights").select([0, 1])
    store = FeatureStore(tmp_path / "features.zarr")
    write_features(store, rows, 2.0, video_extractors=("clip",), text_encoders=("clip",))
    ds = VideoLightsDataset(rows, store, DatasetConfig(kind="qvhighlights", split="eval", video_extractors=("clip",)))
    batch = collate([ds[0], ds[1]])
    assert set(batch) == {"src_vid", "src_vid_mask", "src_txt", "src_txt_mask", "meta"}
    assert targets(batch) == {}


def _pretrain_rows(qvh_rows) -> Annotations:
    rows = []
    for row in qvh_rows.rows[:4]:
        start, end = 20.0, 30.0
        rows.append(PretrainRow(qid=f"{row.vid}_{start}_{end}", query="a caption", duration=row.duration,
                                vid=row.vid, relevant_windows=[(start, end)], relevant_clip_ids=[10, 11, 12, 13, 14],
                                saliency_scores=[[2.0], [5.5], [2.0], [9.0], [3.0]]))
    return Annotations.from_rows("pretrain", rows, "synthetic")


def test_pretraining_rows(qvh_rows, tmp_path: Path) -> None:
    rows = _pretrain_rows(qvh_rows)
    store = FeatureStore(tmp_path / "features.zarr")
    write_features(store, rows, 2.0, video_extractors=("slowfast",), text_encoders=("clip",))
    cfg = DatasetConfig(kind="pretrain", video_extractors=("slowfast",))
    batch = collate([VideoLightsDataset(rows, store, cfg)[i] for i in range(4)])
    assert batch["saliency_all_labels"][0, 10:15].tolist() == [2.0, 5.5, 2.0, 9.0, 3.0]
    assert batch["saliency_pos_labels"][:, 0].tolist() == [13] * 4  # the hardest positive
    assert batch["saliency_neg_labels"][:, 0].tolist() == [10] * 4  # lowest score, the first of the ties
    window = collate([VideoLightsDataset(rows, store, cfg.model_copy(update={"pretrain_saliency": "window"}))[0]])
    assert window["saliency_all_labels"][0].nonzero().flatten().tolist() == [10, 11, 12, 13, 14]
    np.testing.assert_allclose(spans_cxw_to_windows(window["span_labels"][0]["spans"], 75, 2.0), [[20, 30]])


@pytest.mark.parametrize("name", ["videolights", "trdetr", "taskweave", "moment_detr", "qd_detr", "cg_detr"])
def test_every_model_reads_a_batch_and_its_targets(name, qvh_rows, qvh_features) -> None:
    from model.build import build_model
    from model.config import ExperimentConfig, TrainConfig
    from model.zoo.registry import get_family

    cfg = DatasetConfig.for_kind("qvhighlights", blip2=True)
    batch = collate([VideoLightsDataset(qvh_rows, qvh_features.store, cfg)[i] for i in range(4)])
    video_dim = sum(VIDEO_DIMS.values()) + 2
    model_cfg = get_family(name).tiny(video_dim, batch["src_txt"].shape[2])
    model, criterion, _ = build_model(ExperimentConfig(model=model_cfg, train=TrainConfig(max_clips=75), features=None))
    torch.manual_seed(0)
    model.train()
    outputs = model(**forward_kwargs(model, batch, epoch=0, training=True))
    losses = criterion(outputs, {**targets(batch), "epoch": 0})
    assert torch.isfinite(losses["total"]) and "loss_span" in losses
    losses["total"].backward()


def test_round_trip_on_every_real_window(data_dir: Path) -> None:
    for name, kind, clip_seconds in [("qvhighlights/highlight_train_release.jsonl", "qvhighlights", 2.0),
                                     ("qvhighlights/highlight_val_release.jsonl", "qvhighlights", 2.0),
                                     ("charades_sta/charades_sta_train.jsonl", "charades_sta", 1.0),
                                     ("charades_sta/charades_sta_test.jsonl", "charades_sta", 1.0)]:
        rows = read_annotations(data_dir / name, kind)
        windows = [np.asarray(r.relevant_windows) for r in rows]
        n_clips = np.repeat([int(np.ceil(r.duration / clip_seconds)) for r in rows], [len(w) for w in windows])
        flat = np.concatenate(windows)
        spans = torch.cat([windows_to_spans_cxw(w, int(np.ceil(r.duration / clip_seconds)), clip_seconds)
                           for w, r in zip(windows, rows)])
        assert ((spans >= 0) & (spans <= 1)).all()
        back = spans_cxw_to_windows(spans, 1, 1.0) * torch.as_tensor(n_clips * clip_seconds)[:, None]
        np.testing.assert_allclose(back.numpy(), flat, atol=1e-4, err_msg=name)