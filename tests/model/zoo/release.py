"""Helpers for the tests against the golden fixtures of the authors' releases
(VIDEOLIGHTS_DATA/release/<model>/, see its README.md)."""

from __future__ import annotations

import argparse
import json
import math
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

OUTPUT_ATOL = 1e-5
LOSS_RTOL = 1e-5


def load(path: Path) -> Any:
    """torch.load of a fixture file (weights_only, argparse.Namespace allowed)."""
    with torch.serialization.safe_globals([argparse.Namespace]):
        return torch.load(path, map_location="cpu", weights_only=True)


def formula_values(index: int, shape: tuple[int, ...], name: str, dtype: torch.dtype) -> Tensor:
    """The README's paper-size weight formula for the index-th state-dict entry."""
    n = int(np.prod(shape)) if shape else 1
    k = np.arange(n, dtype=np.uint64)
    h = (k + np.uint64((index + 1) * 2654435761 % 2**32)) % np.uint64(2**32)
    mask = np.uint64(0xFFFFFFFF)
    h ^= h >> np.uint64(16)
    h = (h * np.uint64(0x85EBCA6B)) & mask
    h ^= h >> np.uint64(13)
    h = (h * np.uint64(0xC2B2AE35)) & mask
    h ^= h >> np.uint64(16)
    s = 2.0 * (h.astype(np.float64) / 2.0**32) - 1.0
    s = s.reshape(shape)
    if name.endswith("running_var"):
        v = 1.0 + 0.5 * np.abs(s)
    elif len(shape) >= 2:
        v = math.sqrt(3.0 / int(np.prod(shape[1:]))) * s
    elif len(shape) == 1 and name.endswith("weight"):
        v = 1.0 + 0.1 * s
    else:
        v = 0.1 * s
    return torch.from_numpy(np.asarray(v)).to(dtype)


_DTYPES = {str(d): d for d in (torch.float32, torch.float64, torch.float16, torch.bfloat16,
                               torch.int64, torch.int32, torch.bool, torch.uint8)}


def paper_size_checkpoint(folder: Path) -> dict[str, Any]:
    """A release-format checkpoint {"model", "opt"} of the script-size model with formula weights."""
    spec = json.loads((folder / "paper_size_keys.json").read_text())
    state: OrderedDict[str, Tensor] = OrderedDict()
    for i, (name, shape, dtype) in enumerate(spec["keys"]):
        dt = _DTYPES[dtype] if dtype in _DTYPES else getattr(torch, dtype.replace("torch.", ""))
        if dt.is_floating_point:
            state[name] = formula_values(i, tuple(shape), name, dt)
        else:
            state[name] = torch.zeros(shape, dtype=dt)  # integer entries keep their value (0 when fresh)
    return {"model": state, "opt": argparse.Namespace(**spec["opt"])}


def zero_dropout(model: nn.Module) -> None:
    """Every dropout probability 0 (nn.Dropout p, float `dropout` attributes, DropPath drop_prob)."""
    for module in model.modules():
        if isinstance(module, nn.modules.dropout._DropoutNd):
            module.p = 0.0
        for attr in ("dropout", "drop_prob"):
            if isinstance(getattr(module, attr, None), float):
                setattr(module, attr, 0.0)


def assert_close_tree(ours: Any, ref: Any, path: str = "outputs", atol: float = OUTPUT_ATOL) -> int:
    """Compare every tensor of `ref` that `ours` also has (dicts by key, lists by index).

    Returns:
        the number of tensors compared (callers assert it covers what they expect).
    """
    if isinstance(ref, dict):
        assert isinstance(ours, dict), f"{path}: expected a dict, got {type(ours).__name__}"
        return sum(assert_close_tree(ours[k], v, f"{path}.{k}", atol) for k, v in ref.items() if k in ours)
    if isinstance(ref, (list, tuple)):
        if ref and not isinstance(ref[0], (Tensor, dict, list, tuple)):
            assert list(ours) == list(ref), f"{path}: {ours} != {ref}"
            return 0
        assert len(ours) == len(ref), f"{path}: length {len(ours)} != release {len(ref)}"
        return sum(assert_close_tree(o, r, f"{path}[{i}]", atol) for i, (o, r) in enumerate(zip(ours, ref)))
    if isinstance(ref, Tensor):
        assert isinstance(ours, Tensor), f"{path}: expected a tensor, got {type(ours).__name__}"
        assert tuple(ours.shape) == tuple(ref.shape), f"{path}: shape {tuple(ours.shape)} != {tuple(ref.shape)}"
        if not ref.dtype.is_floating_point:
            assert torch.equal(ours.to(ref.dtype), ref), f"{path}: {ours} != {ref}"
            return 1
        diff = (ours.detach().double() - ref.double()).abs().max().item() if ref.numel() else 0.0
        assert diff <= atol, f"{path}: max abs difference {diff:.3g} > {atol}"
        return 1
    return 0


def assert_loss_close(ours: float, ref: float, what: str, rtol: float = LOSS_RTOL) -> None:
    """Relative comparison of one loss value (absolute 1e-7 floor for values at zero)."""
    assert abs(ours - ref) <= rtol * abs(ref) + 1e-7, f"{what}: {ours!r} != release {ref!r}"
