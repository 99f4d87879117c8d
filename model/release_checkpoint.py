"""Convert an authors' release checkpoint into this pipeline's checkpoint format.

The release's stored options give the model and its configuration (feature sizes, layers, hidden
size, heads, queries, loss weights), the feature set and the training record; every release tensor
is mapped into our model or listed as unused with the reason; the provenance (source file, sha256,
release options) travels in the checkpoint and `videolights model-info` shows it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from model.build import make_checkpoint
from model.config import ExperimentConfig, FeatureSet, TrainConfig
from model.zoo.convert import (
    ReleaseCheckpointError,
    load_release_checkpoint,
    model_from_release,
    release_options,
)
from model.zoo.registry import get_family, identify_release

log = logging.getLogger(__name__)

#: Release option -> TrainConfig field (options every release of this lineage shares).
_TRAIN_OPTIONS = {
    "n_epoch": "epochs", "bsz": "batch_size", "lr": "lr", "lr_drop": "lr_drop", "wd": "weight_decay",
    "grad_clip": "grad_clip", "seed": "seed", "clip_length": "clip_seconds", "max_v_l": "max_clips",
    "max_q_l": "max_query_tokens",
}  # fmt: skip


def is_release_checkpoint(ckpt: Mapping[str, Any]) -> bool:
    """A checkpoint saved by an authors' train.py (options Namespace, no config of ours)."""
    return "opt" in ckpt and "model" in ckpt and "config" not in ckpt


def features_for(video_dim: int, text_dim: int, options: Mapping[str, Any]) -> FeatureSet | None:
    """The feature set of this pipeline whose sizes are (video_dim, text_dim), or None when none is.

    The paper encoders are tried first, then the tiny ones (tests, demos).

    >>> features_for(2818, 512, {"ctx_mode": "video_tef"}).video
    ('slowfast', 'clip')
    >>> features_for(34, 32, {"ctx_mode": "video_tef"}).extractor_preset
    'tiny'
    """
    endpoints = "tef" in str(options.get("ctx_mode", "video_tef"))
    videos = [("slowfast", "clip"), ("slowfast", "clip", "blip2"), ("clip",), ("clip", "blip2"), ("slowfast",)]
    texts = [("clip",), ("clip", "blip2"), ("blip2",)]
    for preset in ("paper", "tiny"):
        for video in videos:
            for text in texts:
                features = FeatureSet(video=video, text=text, temporal_endpoints=endpoints, extractor_preset=preset)
                if features.dims() == (video_dim, text_dim):
                    return features
    return None


def _train_config(options: Mapping[str, Any]) -> TrainConfig:
    values = {}
    for option, field in _TRAIN_OPTIONS.items():
        value = options.get(option)
        if value is None or (option in ("max_v_l", "max_q_l") and int(value) <= 0):
            continue
        values[field] = value
    if values.get("grad_clip") == 0:
        values["grad_clip"] = None
    return TrainConfig.model_validate(values)


def _plain(value: Any) -> Any:
    """A JSON- and weights_only-safe copy of an option value."""
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


def convert_release(
    ckpt: Mapping[str, Any], model: str = "auto", source: str | None = None, sha256: str | None = None
) -> dict[str, Any]:
    """Our checkpoint (build.make_checkpoint format, with provenance) from a release checkpoint dict.

    Args:
        ckpt: the release checkpoint (model.zoo.convert.load_release_checkpoint).
        model: "auto" (recognised from options and keys) or a model name (model.zoo.registry).
        source, sha256: the file it came from, recorded in the provenance.

    Raises:
        ReleaseCheckpointError: unknown model, or a tensor that does not fit (the key is named).
    """
    options = release_options(ckpt)
    try:
        family = identify_release(options, set(ckpt["model"])) if model == "auto" else get_family(model)
    except ValueError as err:
        raise ReleaseCheckpointError(str(err)) from None
    weights = family.ema_key if family.ema_key and ckpt.get(family.ema_key) else "model"
    try:
        net, _, config, unused = model_from_release(ckpt, family, weights)
    except ReleaseCheckpointError:
        raise
    except (KeyError, ValueError, RuntimeError) as err:
        raise ReleaseCheckpointError(f"not a {family.name} release checkpoint: {err}") from None
    features = features_for(config.video_dim, config.text_dim, options)
    if features is None:
        log.warning("no feature set of this pipeline has sizes (%d, %d); the converted model cannot read "
                    "videos through the pipeline's extractors", config.video_dim, config.text_dim)
    experiment = ExperimentConfig(model=config, train=_train_config(options), features=features)
    provenance = {
        "source": source, "sha256": sha256, "release": family.paper, "model": family.name,
        "weights": weights, "epoch": _plain(ckpt.get("epoch")),
        "unused": dict(sorted(unused.items())), "options": _plain(options),
    }  # fmt: skip
    return make_checkpoint(net, experiment, provenance)


def convert_release_file(path: str | Path, model: str = "auto") -> dict[str, Any]:
    """convert_release() of a file, with its name and sha256 in the provenance.

    Raises:
        FileNotFoundError: no such file.
        ReleaseCheckpointError: refused (pickled objects beyond Namespace) or not convertible.
    """
    path = Path(path)
    ckpt = load_release_checkpoint(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return convert_release(ckpt, model, source=str(path), sha256=digest)


