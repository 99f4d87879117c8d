"""Fixtures of the dataset tests: real annotation subsets and temp Zarr stores of generated features."""

from __future__ import annotations

from pathlib import Path

import pytest
from dataset_helpers import FeatureSet, subset, write_features

from pipeline.datasets import Annotations
from storage import FeatureStore


@pytest.fixture(scope="module")
def qvh_rows(data_dir: Path) -> Annotations:
    return subset(data_dir, "qvhighlights", 12)


@pytest.fixture(scope="module")
def qvh_features(qvh_rows, tmp_path_factory) -> FeatureSet:
    store = FeatureStore(tmp_path_factory.mktemp("qvh") / "features.zarr")
    # one video shorter than its annotation says: targets must stay inside the features
    short = {str(qvh_rows[3].vid): 70}
    return write_features(store, qvh_rows, 2.0, clip_counts=short)


@pytest.fixture(scope="module")
def charades_rows(data_dir: Path) -> Annotations:
    return subset(data_dir, "charades_sta", 10)


@pytest.fixture(scope="module")
def charades_features(charades_rows, tmp_path_factory) -> FeatureSet:
    store = FeatureStore(tmp_path_factory.mktemp("charades") / "features.zarr")
    return write_features(store, charades_rows, 1.0, video_extractors=("slowfast", "clip"),
                          text_encoders=("clip",))


@pytest.fixture(scope="module")
def tvsum_rows(data_dir: Path) -> Annotations:
    return subset(data_dir, "tvsum", 4)


@pytest.fixture(scope="module")
def tvsum_features(tvsum_rows, tmp_path_factory) -> FeatureSet:
    store = FeatureStore(tmp_path_factory.mktemp("tvsum") / "features.zarr")
    return write_features(store, tvsum_rows, 2.0, video_extractors=("slowfast", "clip"), text_encoders=("clip",))
