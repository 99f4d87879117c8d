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
import pytest
import torch
from torch import Tensor, nn

from model.zoo.convert import load_release_checkpoint, model_from_release, release_options

OUTPUT_ATOL = 1e-5
LOSS_RTOL = 1e-5
#: The two input batches of every fixture folder.
BATCHES = ("unpadded", "padded")


def load(path: Path) -> Any:
    """torch.load of a fixture file (weights_only, argparse.Namespace allowed)."""
    with torch.serialization.safe_globals([argparse.Namespace]):
        return torch.load(path, map_location="cpu", weights_only=True)


def release_folder(release_dir: Path, name: str) -> Path:
    """release_dir / name; skips the test when that folder is missing."""
    path = release_dir / name
    if not path.is_dir():
        pytest.skip(f"{path} is missing")
    return path


def load_fixtures(folder: Path) -> dict[str, Any]:
    """A release folder's golden files: {"folder", "ckpt", "inputs", "targets", "outputs", "losses"}."""
    return {
        "folder": folder,
        "ckpt": load_release_checkpoint(folder / "release.ckpt"),
        "inputs": load(folder / "inputs.pt"),
        "targets": load(folder / "targets.pt"),
        "outputs": load(folder / "outputs.pt"),
        "losses": json.loads((folder / "losses.json").read_text()),
    }


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


def paper_size_spec(folder: Path) -> dict[str, Any]:
    """paper_size_keys.json: {"keys": [[name, shape, dtype], ...], "n_params", "opt"}."""
    return json.loads((folder / "paper_size_keys.json").read_text())


def paper_size_model(folder: Path, family: Any) -> tuple[nn.Module, Any, dict[str, str]]:
    """(model in eval mode, config, unused release keys) of the paper-size checkpoint."""
    model, _, cfg, unused = model_from_release(paper_size_checkpoint(folder), family)
    return model.eval(), cfg, unused


def assert_paper_size_keys(model: nn.Module, unused: dict[str, str], spec: dict[str, Any]) -> None:
    """Every release key is mapped (none unused), the model has exactly those keys and the release's size."""
    assert unused == {}
    assert set(model.state_dict()) == {name for name, _, _ in spec["keys"]}
    assert sum(p.numel() for p in model.parameters()) == spec["n_params"]


def assert_recognises_only(recognises: Any, release_dir: Path, names: tuple[str, ...]) -> None:
    """`recognises(options, keys)` is true for the release checkpoints of the `names` folders only
    (at least one of them and one other folder must be there)."""
    folders = sorted(p for p in release_dir.iterdir() if (p / "release.ckpt").is_file())
    assert any(p.name in names for p in folders), names
    assert any(p.name not in names for p in folders), "no other release folder"
    for path in folders:
        ckpt = load_release_checkpoint(path / "release.ckpt")
        assert recognises(release_options(ckpt), set(ckpt["model"])) == (path.name in names), path.name


def zero_dropout(model: nn.Module) -> None:
    """Every dropout probability 0 (nn.Dropout p, float `dropout` attributes, DropPath drop_prob)."""
    for module in model.modules():
        if isinstance(module, nn.modules.dropout._DropoutNd):
            module.p = 0.0
        for attr in ("dropout", "drop_prob"):
            if isinstance(getattr(module, attr, None), float):
                setattr(module, attr, 0.0)


def eval_outputs(model: nn.Module, inputs: dict[str, Any], **kwargs: Any) -> Any:
    """Eval-mode forward without gradients."""
    model.eval()
    with torch.no_grad():
        return model(**inputs, **kwargs)


def train_outputs(model: nn.Module, inputs: dict[str, Any], **kwargs: Any) -> Any:
    """Train-mode forward with every dropout 0 (what the fixtures' losses were computed with)."""
    model.train()
    zero_dropout(model)
    return model(**inputs, **kwargs)


def assert_output_shapes(outputs: dict[str, Any], bsz: int, num_queries: int, n_clips: int, aux_layers: int) -> None:
    """The moment and saliency heads' output shapes and the number of auxiliary decoder layers."""
    assert outputs["pred_logits"].shape == (bsz, num_queries, 2)
    assert outputs["pred_spans"].shape == (bsz, num_queries, 2)
    assert outputs["saliency_scores"].shape == (bsz, n_clips)
    assert len(outputs["aux_outputs"]) == aux_layers


def max_diff(a: Tensor, b: Tensor) -> float:
    """Largest absolute difference, in float64."""
    return (a.detach().double() - b.detach().double()).abs().max().item()


def epoch_of(key: str) -> int:
    """The epoch of a losses.json key ("epoch0", "epoch_3")."""
    return int(key.removeprefix("epoch").removeprefix("_"))


def saliency_labels(n_clips: int, runs: list[tuple[int, list[float]]]) -> Tensor:
    """(videos, n_clips) saliency scores: video b's scores `runs[b][1]` from clip `runs[b][0]` on, 0 elsewhere."""
    labels = torch.zeros(len(runs), n_clips)
    for b, (first, values) in enumerate(runs):
        labels[b, first : first + len(values)] = torch.tensor(values)
    return labels


def tiny_inputs(
    lengths: list[int], tokens: list[int], video_dim: int, text_dim: int, generator: torch.Generator
) -> dict[str, Tensor]:
    """Random model inputs padded as our collate pads them: masks, and zero features past each length."""
    bsz, n_clips, n_tokens = len(lengths), max(lengths), max(tokens)
    vid_mask = (torch.arange(n_clips)[None] < torch.tensor(lengths)[:, None]).float()
    txt_mask = (torch.arange(n_tokens)[None] < torch.tensor(tokens)[:, None]).float()
    return {
        "src_vid": torch.randn(bsz, n_clips, video_dim, generator=generator) * vid_mask[..., None],
        "src_vid_mask": vid_mask,
        "src_txt": torch.randn(bsz, n_tokens, text_dim, generator=generator) * txt_mask[..., None],
        "src_txt_mask": txt_mask,
    }


def tiny_targets(
    labels: Tensor, spans: list[list[list[float]]] | None, pos: list[list[int]], neg: list[list[int]]
) -> dict[str, Any]:
    """Targets as our collate builds them (no release-only keys); spans None: a highlight-only batch."""
    targets: dict[str, Any] = {} if spans is None else {"span_labels": [{"spans": torch.tensor(s)} for s in spans]}
    targets["saliency_pos_labels"] = torch.tensor(pos)
    targets["saliency_neg_labels"] = torch.tensor(neg)
    targets["saliency_all_labels"] = labels
    return targets


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


def assert_losses_match(ours: dict[str, Tensor], ref: dict[str, Any], what: str) -> None:
    """Every loss of a losses.json entry's loss_dict, and the objective (our "total"), against the release."""
    for name, value in ref["loss_dict"].items():
        assert_loss_close(float(ours[name].detach()), value, f"{what}/{name}")
    assert_loss_close(float(ours["total"].detach()), ref["objective"], f"{what}/total")
