"""Checkpoints: atomic writes, weights-only loads, and RNG states stored as plain lists and tensors."""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from storage.atomic import atomic_file

log = logging.getLogger(__name__)

#: Bumped when the layout of a training checkpoint changes.
CHECKPOINT_FORMAT = 1
LAST = "last.ckpt"
BEST = "best.ckpt"
#: Prefix of the temporary files a checkpoint is written to before the rename.
TEMP_PREFIX = ".tmp-"


def save_checkpoint(payload: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write `payload` with torch.save so that `path` is either the old file or the complete new one.

    The bytes go to a temporary file in the same folder, are fsynced, and the file is renamed
    over `path` (os.replace is atomic on POSIX and Windows); the folder is fsynced so the rename
    survives a power cut. A failure removes the temporary file.

    Args:
        payload: plain dicts, lists, numbers, strings and tensors only (weights_only loadable).
        path: destination, e.g. run/last.ckpt.

    Returns:
        The destination path.
    """
    path = Path(path)
    with atomic_file(path, "wb", temp_prefix=TEMP_PREFIX) as handle:
        torch.save(payload, handle)
    return path


def remove_stale_temp_files(folder: str | os.PathLike) -> list[str]:
    """Delete temporary files that a killed save_checkpoint / write left in `folder`; return their names.

    Call it only when no other process writes into the folder (at the start of a run).
    """
    removed = []
    for path in Path(folder).glob(f"{TEMP_PREFIX}*"):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path.name)
    if removed:
        log.warning("%s: removed %d unfinished temporary files of an interrupted run: %s", folder, len(removed),
                    removed[:5])
    return removed


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint with `torch.load(..., weights_only=True)`.

    An authors' release checkpoint (a pickled argparse Namespace of options beside the weights) is
    read with only that class allowed and converted on the fly (model.release_checkpoint), with a
    log line; `videolights convert-checkpoint` saves the conversion once.

    Raises:
        FileNotFoundError: no file at `path`.
        ValueError: the file is neither a checkpoint of this pipeline ("model" and "config") nor a
            release checkpoint that converts (the message says why), or is truncated.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no checkpoint file here")
    from model.release_checkpoint import convert_release_file, is_release_checkpoint

    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        ckpt = None  # pickled objects (a release's option Namespace?): read with that class allowed, or refused
    except (RuntimeError, EOFError) as exc:
        raise ValueError(f"{path}: cannot be loaded with weights_only=True ({str(exc).splitlines()[0]}); "
                         "expected a checkpoint written by this pipeline (plain dicts and tensors)") from exc
    if ckpt is None or (isinstance(ckpt, dict) and is_release_checkpoint(ckpt)):
        log.info("%s: an authors' release checkpoint; converting it on the fly (save the result once with "
                 "`videolights convert-checkpoint %s --out OURS.ckpt`)", path, path)
        return convert_release_file(path)
    if not isinstance(ckpt, dict) or "model" not in ckpt or "config" not in ckpt:
        keys = sorted(ckpt) if isinstance(ckpt, dict) else type(ckpt).__name__
        raise ValueError(f"{path}: has {keys}; expected a dict with 'model' (state_dict) and 'config'")
    return ckpt


def rng_state() -> dict[str, Any]:
    """Python, NumPy, torch and CUDA generator states, as lists/ints/floats/tensors (weights_only safe)."""
    version, state, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "python": {"version": version, "state": list(state), "gauss": gauss},
        "numpy": {"kind": str(kind), "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
                  "pos": int(pos), "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what `rng_state` captured (CUDA states only when CUDA is available)."""
    py = state["python"]
    random.setstate((py["version"], tuple(py["state"]), py["gauss"]))
    npy = state["numpy"]
    np.random.set_state((npy["kind"], npy["keys"].numpy().astype(np.uint32), npy["pos"], npy["has_gauss"],
                         npy["cached_gaussian"]))
    torch.set_rng_state(state["torch"].cpu())
    if state.get("cuda") and torch.cuda.is_available():
        cuda = list(state["cuda"])
        if len(cuda) != torch.cuda.device_count():
            log.warning("checkpoint has %d CUDA generator states, this machine %d GPUs; restoring the first %d",
                        len(cuda), torch.cuda.device_count(), min(len(cuda), torch.cuda.device_count()))
        for index, gen in enumerate(cuda[: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(gen.cpu(), index)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all CUDA devices included)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
