"""Step keys: what a step's output depends on, hashed. Never a bare path: files count by content,
store entries by their extractor spec and source fingerprint, configs by value, code by version.

A key names the step's output folder and is the Prefect cache key of the step's task, so a
changed input gives a new folder (the old run stays) and an unchanged one is skipped.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from model.config import FeatureSet
from storage import FeatureStore
from storage.fingerprint import hash_file

#: Bumped when a step's code changes what it writes for the same inputs.
STEP_VERSIONS = {"pretrain": "1", "finetune": "1", "zero_shot": "1", "evaluate": "1"}


def content_digest(path: str | os.PathLike) -> str:
    """BLAKE2b of a file's bytes (renaming or touching a file does not change it)."""
    return hash_file(path)


def store_digest(store: FeatureStore, features: FeatureSet, vids: Iterable[str], qids: Iterable[str]) -> str:
    """Digest of the store entries a model reads for these videos and queries.

    Each entry counts by its spec (extractor, version, weights, sampling) and the fingerprint of
    its source's content, not by its creation time or the file's mtime: re-extracting (or
    re-generating) the same video with the same encoder keeps the digest; a new extractor version
    or a changed video changes it. A missing entry counts as missing, so extracting it later
    changes the digest too.
    """
    digest = hashlib.blake2b(digest_size=16)
    groups = [("video", name, sorted(set(vids))) for name in features.video]
    groups += [("text", name, sorted(set(qids))) for name in features.text]
    for kind, extractor, keys in groups:
        for key in keys:
            attrs = store.attrs(kind, extractor, key)
            source = {k: v for k, v in (attrs or {}).get("source", {}).items() if k != "mtime_ns"}
            identity = None if attrs is None else {"spec": attrs.get("spec"), "source": source,
                                                   "shape": attrs.get("shape")}
            digest.update(json.dumps([kind, extractor, key, identity], sort_keys=True).encode())
    return digest.hexdigest()


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, Path):
        raise TypeError(f"{value}: a path is not a key part; pass content_digest(path)")
    return value


def step_key(step: str, /, **parts: Any) -> str:
    """Hex key of a step from its named parts (configs, digests, small values), with the step's version."""
    payload = {"step": step, "version": STEP_VERSIONS.get(step, "1"),
               "parts": {name: _plain(value) for name, value in sorted(parts.items())}}
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
