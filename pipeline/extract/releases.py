"""Import the public feature releases into the store and export them back, arrays unchanged.

Public layout (moment_detr / QD-DETR / VideoLights releases): one folder per extractor with
`{vid}.npz` (key `features`, [n_clips, dim]) for videos and `qid{qid}.npz` (keys
`last_hidden_state` [n_tokens, dim] and `pooler_output` [dim]) for queries.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Literal

import numpy as np

from storage import EntrySpec, FeatureStore, fingerprint_file

log = logging.getLogger(__name__)

VIDEO_KEY = "features"
TEXT_KEYS = ("last_hidden_state", "pooler_output")
QID_PREFIX = "qid"


def release_spec(extractor: str, version: str = "public-release", weights_id: str = "public-release",
                 clip_seconds: float | None = None) -> EntrySpec:
    """The producer recorded for imported entries (the release's own extractor, not ours)."""
    return EntrySpec(extractor=extractor, version=version, weights_id=weights_id, preset="paper",
                     clip_seconds=clip_seconds)


def import_features(src: str | os.PathLike, store: FeatureStore, extractor: str, kind: Literal["video", "text"],
                    spec: EntrySpec | None = None) -> int:
    """Read every npz of `src` into `text|video/<extractor>/<id>`, keeping dtypes; returns the count.

    Raises ValueError naming the file when an npz lacks the release's keys.
    """
    spec = spec or release_spec(extractor)
    count = 0
    for path in sorted(Path(src).glob("*.npz")):
        with np.load(path) as data:
            if kind == "video":
                if VIDEO_KEY not in data:
                    raise ValueError(f"{path}: no '{VIDEO_KEY}' array (has {sorted(data.files)}); expected the public video layout")
                feats = data[VIDEO_KEY]
                store.write_video(extractor, path.stem, feats, spec, fingerprint_file(path), dtype=str(feats.dtype))
            else:
                if TEXT_KEYS[0] not in data:
                    raise ValueError(f"{path}: no '{TEXT_KEYS[0]}' array (has {sorted(data.files)}); expected the public query layout")
                if not path.stem.startswith(QID_PREFIX):
                    raise ValueError(f"{path}: query files are named qid<qid>.npz")
                tokens = data[TEXT_KEYS[0]]
                pooled = data[TEXT_KEYS[1]] if TEXT_KEYS[1] in data else None
                store.write_text(extractor, path.stem[len(QID_PREFIX):], tokens, pooled, spec, fingerprint_file(path),
                                 dtype=str(tokens.dtype))
        count += 1
    log.info("imported %d %s/%s entries from %s", count, kind, extractor, src)
    return count


def export_features(store: FeatureStore, extractor: str, kind: Literal["video", "text"], out: str | os.PathLike) -> int:
    """Write every complete entry of `kind/extractor` in the public npz layout; returns the count."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    keys = store.keys(kind, extractor)
    for key in keys:
        if kind == "video":
            np.savez(out / f"{key}.npz", **{VIDEO_KEY: store.read_video(extractor, key)})
        else:
            tokens, pooled = store.read_text(extractor, key)
            arrays = {TEXT_KEYS[0]: tokens} if pooled is None else {TEXT_KEYS[0]: tokens, TEXT_KEYS[1]: pooled}
            np.savez(out / f"{QID_PREFIX}{key}.npz", **arrays)
    log.info("exported %d %s/%s entries to %s", len(keys), kind, extractor, out)
    return len(keys)
