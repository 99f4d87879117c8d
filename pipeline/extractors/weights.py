"""Finding weights on disk (a weights directory or the usual caches) and naming them by content."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from pipeline.common.errors import UserInputError

log = logging.getLogger(__name__)

_CHUNK = 1 << 22
# files of an HF `save_pretrained` directory that decide its outputs
_HF_CONTENT_SUFFIXES = (".json", ".safetensors", ".bin", ".txt", ".model")


class MissingWeightsError(UserInputError, FileNotFoundError):
    """Weights that are not on this machine; the message lists where they were looked for and how to get them."""


def find_first(candidates: Sequence[Path], *, what: str, how: str) -> Path:
    """The first existing path of `candidates`, or MissingWeightsError naming all of them.

    Args:
        candidates: paths tried in order (files or directories).
        what: the weights, e.g. "CLIP ViT-B/32 (OpenAI) weights".
        how: how to provide them, e.g. a download URL and the path to put the file at.
    """
    for path in candidates:
        if path.exists():
            return path
    tried = "\n  ".join(str(p) for p in candidates)
    raise MissingWeightsError(f"{what} not found; looked for:\n  {tried}\n{how}")


def _sha256_files(paths: Iterable[Path], root: Path | None = None) -> str:
    digest = hashlib.sha256()
    for path in paths:
        if root is not None:
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        with open(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


def content_hash(path: str | os.PathLike, n_hex: int = 12) -> str:
    """sha256 of a weights file, or of a weights directory's content files (names and bytes).

    Symlinks are followed (the HF cache links snapshot files to blobs). Hashing reads the
    whole file once (a few seconds for the multi-GB BLIP-2 checkpoint), at load time only.
    """
    path = Path(path)
    if path.is_file():
        return _sha256_files([path])[:n_hex]
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in _HF_CONTENT_SUFFIXES and ".cache" not in p.parts)
    if not files:
        raise MissingWeightsError(f"{path}: the weights directory holds no weight or config files")
    return _sha256_files(files, root=path)[:n_hex]


def disk_weights_id(source: str, path: str | os.PathLike, *, tiny: bool) -> str:
    """weights_id of weights loaded from disk: "<source>@sha256:<12 hex>", prefixed "tiny:" for tiny presets."""
    wid = f"{source}@sha256:{content_hash(path)}"
    return f"tiny:{wid}" if tiny else wid


def hf_cache_file(repo_id: str, filename: str) -> Path | None:
    """A file of `repo_id` already in the local Hugging Face cache, or None. Never downloads."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, filename)
    return Path(found) if isinstance(found, str) else None
