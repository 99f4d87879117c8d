"""Read an authors' release checkpoint safely and rebuild it as our model.

A release checkpoint is a dict {"model": state dict, "opt": argparse.Namespace, ...} saved with
torch.save. It is read with `torch.load(weights_only=True)` allowing only `argparse.Namespace`
beyond tensors and containers: a file that needs any other object is refused, never unpickled.
"""

from __future__ import annotations

import argparse
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from model.zoo.family import Family


class ReleaseCheckpointError(ValueError):
    """A release checkpoint that cannot be read or converted (the message says why and what to do)."""


def load_release_checkpoint(path: str | Path) -> dict[str, Any]:
    """torch.load with weights_only=True and only argparse.Namespace allow-listed.

    Raises:
        ReleaseCheckpointError: the file needs other pickled objects, or is not a checkpoint dict.
        FileNotFoundError: no such file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint file")
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ReleaseCheckpointError(
            f"{path}: refused: it holds pickled objects other than tensors and argparse.Namespace "
            f"({first[:300]}); only release checkpoints saved by the authors' train.py are read"
        ) from None
    except (RuntimeError, EOFError) as err:
        raise ReleaseCheckpointError(f"{path}: not a readable torch checkpoint ({err})") from None
    if not isinstance(ckpt, dict) or "model" not in ckpt or "opt" not in ckpt:
        keys = sorted(ckpt) if isinstance(ckpt, dict) else type(ckpt).__name__
        raise ReleaseCheckpointError(
            f"{path}: expected a release checkpoint with keys 'model' and 'opt'; found {keys}"
        )
    return ckpt


def release_options(ckpt: Mapping[str, Any]) -> dict[str, Any]:
    """The release's training options as a plain dict (vars of the stored Namespace)."""
    opt = ckpt["opt"]
    return dict(vars(opt)) if isinstance(opt, argparse.Namespace) else dict(opt)


def load_mapped(model: nn.Module, mapped: Mapping[str, Tensor]) -> None:
    """Load a mapped state dict strictly, naming the first key whose shape or presence differs.

    Raises:
        ReleaseCheckpointError: a missing, unexpected or mis-shaped key.
    """
    ours = model.state_dict()
    missing = [k for k in ours if k not in mapped]
    unexpected = [k for k in mapped if k not in ours]
    if missing or unexpected:
        raise ReleaseCheckpointError(
            f"converted weights do not fit the model: missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    for key, value in mapped.items():
        if tuple(value.shape) != tuple(ours[key].shape):
            raise ReleaseCheckpointError(
                f"{key}: release tensor has shape {tuple(value.shape)}; the model built from the "
                f"release's options expects {tuple(ours[key].shape)}"
            )
    model.load_state_dict(dict(mapped), strict=True)


def model_from_release(
    ckpt: Mapping[str, Any], family: Family, weights: str = "model"
) -> tuple[nn.Module, nn.Module, Any, dict[str, str]]:
    """Build `family`'s model from a release checkpoint dict.

    Args:
        ckpt: the release checkpoint (load_release_checkpoint).
        family: the model's Family.
        weights: checkpoint key of the state dict to load ("model", or the EMA key).

    Returns:
        (model, criterion, config, unused) with unused = {release key: why it is not used}.
    """
    config = family.config_from_options(release_options(ckpt))
    model, criterion = family.build(config)
    mapped, unused = family.map_state_dict(ckpt[weights], config)
    load_mapped(model, mapped)
    return model, criterion, config, unused
