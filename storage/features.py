"""The Zarr v3 feature store: `video/<extractor>/<vid>` and `text/<extractor>/<qid>` entries."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import numpy as np
import zarr
from pydantic import BaseModel, ConfigDict

from storage.fingerprint import SourceFingerprint
from storage.keys import validate_key
from storage.locks import LOCK_DIR, Claim, Locks

log = logging.getLogger(__name__)

Kind = Literal["video", "text"]
COMPLETE = "complete"
STORE_FORMAT = 1


class EntrySpec(BaseModel):
    """Who produced an entry, and how: an entry is current only when all of this matches.

    Attributes:
        extractor: extractor name (also the store group), e.g. "clip".
        version: the extractor's code version; bump when outputs change.
        weights_id: identity of the weights ("tiny:..." for tiny presets).
        preset: "paper" or "tiny" (tiny outputs are labelled as such).
        clip_seconds: clip length in seconds (video entries), None for text.
        sampling: the frame-sampling spec as a dict (video entries), None for text.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    extractor: str
    version: str
    weights_id: str
    preset: str
    clip_seconds: float | None = None
    sampling: dict[str, Any] | None = None


class EntryStatus(BaseModel):
    model_config = ConfigDict(frozen=True)
    state: Literal["current", "missing", "stale"]
    reason: str = ""


@dataclass
class StorePlan:
    """What a dataset needs from the store: `stale` maps key -> why it is stale."""

    current: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    stale: dict[str, str] = field(default_factory=dict)

    @property
    def todo(self) -> list[str]:
        return self.missing + list(self.stale)


class FeatureStore:
    """Features of videos and queries in one Zarr v3 group (a local folder or any fsspec URL).

    Every entry carries its producer (`EntrySpec`), its source fingerprint, shapes, the time it
    was created and, written last, a completion flag: entries without the flag (a writer killed
    half-way) are invisible to readers and reported missing.

    Runs sharing a store claim entries (`claim`) before computing them, so that no two compute the
    same one; every write holds its entry's claim (its caller's, or one taken for the write), so
    one writer at a time touches an entry. Local stores lock files under `<root>/.locks`, seen by
    every process; fsspec stores only lock within this process (see `storage.locks.Locks`).
    """

    def __init__(self, url: str | os.PathLike, mode: Literal["a", "r"] = "a",
                 storage_options: dict[str, Any] | None = None):
        self.url = str(url)
        try:
            self.root = zarr.open_group(store=self.url, mode=mode, storage_options=storage_options,
                                        zarr_format=3)
        except FileNotFoundError as exc:
            if mode != "r":
                raise
            raise FileNotFoundError(f"{self.url}: no feature store here (open it with mode='a' to create one)") from exc
        if mode == "a" and "store_format" not in self.root.attrs:
            self.root.attrs["store_format"] = STORE_FORMAT
        self.locks = _store_locks(self.root.store, self.url)

    def __repr__(self) -> str:
        return f"FeatureStore({self.url!r})"

    @staticmethod
    def entry_path(kind: Kind, extractor: str, key: object) -> str:
        if kind not in ("video", "text"):
            raise ValueError(f"kind must be 'video' or 'text', got {kind!r}")
        return f"{kind}/{validate_key(extractor, 'extractor')}/{validate_key(key, f'{kind} id')}"

    @staticmethod
    def group_path(kind: Kind, extractor: str) -> str:
        """`<kind>/<extractor>`: the name a run claims to own every entry of one extractor."""
        if kind not in ("video", "text"):
            raise ValueError(f"kind must be 'video' or 'text', got {kind!r}")
        return f"{kind}/{validate_key(extractor, 'extractor')}"

    # claims --------------------------------------------------------------------------------
    def claim(self, names: Iterable[str]) -> Claim:
        """Claim entries (`entry_path`s, or a `group_path`) for this process before computing them,
        waiting until other holders release them.

        Returns:
            A `Claim`: a context manager; `release()` frees it.
        """
        return self.locks.claim(names)

    def try_claim(self, names: Iterable[str]) -> Claim | None:
        """`claim` without waiting: None at once when another run (or thread) holds any of `names`."""
        return self.locks.try_claim(names)

    @contextlib.contextmanager
    def _writing(self, path: str) -> Iterator[None]:
        """Hold `path`'s claim while writing it: the caller's if this process has one, else a new one.

        A claim belongs to the process: threads of one process that write one entry must claim it.
        """
        if self.locks.holds(path):
            yield
        else:
            with self.locks.claim([path]):
                yield

    # writing -------------------------------------------------------------------------------
    def write_video(self, extractor: str, vid: str, features: np.ndarray, spec: EntrySpec,
                    source: SourceFingerprint, dtype: str = "float16", extra: Mapping[str, Any] | None = None) -> None:
        """Store `[n_clips, dim]` features of video `vid` (float16 unless `dtype` says otherwise)."""
        arr = np.asarray(features)
        if arr.ndim != 2:
            raise ValueError(f"video/{extractor}/{vid}: expected a [n_clips, dim] array, got shape {arr.shape}")
        attrs = self._attrs(spec, source, {"shape": list(arr.shape), "dtype": dtype, **(extra or {})})
        path = self.entry_path("video", extractor, vid)
        with self._writing(path):
            node = self.root.create_array(path, shape=arr.shape, dtype=dtype, chunks=_whole(arr.shape),
                                          attributes=attrs, overwrite=True)
            node[...] = arr.astype(dtype, copy=False)
            node.attrs[COMPLETE] = True

    def write_text(self, extractor: str, qid: object, tokens: np.ndarray, pooled: np.ndarray | None,
                   spec: EntrySpec, source: SourceFingerprint, dtype: str = "float16") -> None:
        """Store `[n_tokens, dim]` token features (+ an optional pooled `[dim]` vector) of query `qid`."""
        tok = np.asarray(tokens)
        if tok.ndim != 2:
            raise ValueError(f"text/{extractor}/{qid}: expected [n_tokens, dim] tokens, got shape {tok.shape}")
        extra: dict[str, Any] = {"shape": list(tok.shape), "dtype": dtype, "has_pooled": pooled is not None}
        path = self.entry_path("text", extractor, qid)
        with self._writing(path):
            group = self.root.create_group(path, attributes=self._attrs(spec, source, extra), overwrite=True)
            group.create_array("tokens", data=tok.astype(dtype, copy=False), chunks=_whole(tok.shape))
            if pooled is not None:
                pool = np.asarray(pooled)
                group.create_array("pooled", data=pool.astype(dtype, copy=False), chunks=_whole(pool.shape))
            group.attrs[COMPLETE] = True

    @staticmethod
    def _attrs(spec: EntrySpec, source: SourceFingerprint, extra: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "spec": spec.model_dump(mode="json"),
            "source": source.model_dump(mode="json"),
            "tiny": spec.preset == "tiny",
            "created": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            **extra,
        }

    # reading -------------------------------------------------------------------------------
    def _complete_node(self, kind: Kind, extractor: str, key: object):
        """The entry's array or group if it is complete, else None (one metadata read)."""
        path = self.entry_path(kind, extractor, key)
        try:
            node = self.root[path]
        except (KeyError, FileNotFoundError, ValueError) as exc:  # absent, or metadata cut short by a kill
            if not isinstance(exc, KeyError):
                log.warning("%s/%s: unreadable entry metadata (%s); treating it as missing", self.url, path, exc)
            return None
        return node if node.attrs.get(COMPLETE) is True else None

    def attrs(self, kind: Kind, extractor: str, key: object) -> dict[str, Any] | None:
        """Attributes of a complete entry, or None when it is absent, unreadable or incomplete."""
        node = self._complete_node(kind, extractor, key)
        return None if node is None else dict(node.attrs)

    def _require(self, kind: Kind, extractor: str, key: object):
        node = self._complete_node(kind, extractor, key)
        if node is None:
            path = self.entry_path(kind, extractor, key)
            raise KeyError(f"{self.url}: no complete entry {path}; run `videolights extract` for it")
        return node

    def read_video(self, extractor: str, vid: str) -> np.ndarray:
        """The stored `[n_clips, dim]` array (stored dtype). Raises KeyError naming the entry if absent."""
        return self._require("video", extractor, vid)[...]

    def read_text(self, extractor: str, qid: object) -> tuple[np.ndarray, np.ndarray | None]:
        """(tokens `[n_tokens, dim]`, pooled `[dim]` or None) of a query."""
        group = self._require("text", extractor, qid)
        pooled = group["pooled"][...] if group.attrs.get("has_pooled") else None
        return group["tokens"][...], pooled

    def keys(self, kind: Kind, extractor: str) -> list[str]:
        """Keys of the complete entries of one (kind, extractor), sorted."""
        base = f"{kind}/{validate_key(extractor, 'extractor')}"
        if base not in self.root:
            return []
        group = self.root[base]
        names = sorted(group.array_keys()) if kind == "video" else sorted(group.group_keys())
        return [k for k in names if self.attrs(kind, extractor, k) is not None]

    def extractors(self, kind: Kind) -> list[str]:
        return sorted(self.root[kind].group_keys()) if kind in self.root else []

    def delete(self, kind: Kind, extractor: str, key: object) -> None:
        path = self.entry_path(kind, extractor, key)
        with self._writing(path):
            if path in self.root:
                del self.root[path]

    # staleness -----------------------------------------------------------------------------
    def status(self, kind: Kind, extractor: str, key: object, spec: EntrySpec,
               source: str | os.PathLike | SourceFingerprint | None = None,
               written_after: datetime | None = None) -> EntryStatus:
        """Whether an entry exists, complete, made by `spec` from `source` (a file path or a fingerprint).

        With `written_after` (a forced rerun that started then), an entry written earlier is stale:
        only entries another run wrote since count as current.
        """
        attrs = self.attrs(kind, extractor, key)
        if attrs is None:
            return EntryStatus(state="missing")
        stored = attrs.get("spec", {})
        wanted = spec.model_dump(mode="json")
        for name, value in wanted.items():
            if stored.get(name) != value:
                return EntryStatus(state="stale", reason=f"{name} changed: {stored.get(name)!r} -> {value!r}")
        if source is not None:
            before = SourceFingerprint.model_validate(attrs["source"])
            if isinstance(source, SourceFingerprint):
                same = before.content_hash == source.content_hash
            else:
                same = Path(source).exists() and before.same_content(source)
            if not same:
                return EntryStatus(state="stale", reason="source changed")
        created = attrs.get("created")
        if written_after is not None and (created is None or datetime.fromisoformat(created) < written_after):
            return EntryStatus(state="stale", reason=f"written before {written_after.isoformat()} (forced rerun)")
        return EntryStatus(state="current")

    def plan(self, kind: Kind, extractor: str, sources: Mapping[str, str | os.PathLike | SourceFingerprint | None],
             spec: EntrySpec, written_after: datetime | None = None) -> StorePlan:
        """Sort the keys of a dataset into current, missing and stale entries."""
        result = StorePlan()
        for key, source in sources.items():
            st = self.status(kind, extractor, key, spec, source, written_after)
            if st.state == "current":
                result.current.append(key)
            elif st.state == "missing":
                result.missing.append(key)
            else:
                result.stale[key] = st.reason
        return result


def _store_locks(store: object, url: str) -> Locks:
    """OS locks under `<root>/.locks` for a local folder (also as file://); in-process ones for fsspec stores."""
    folder = getattr(store, "root", None)  # zarr's LocalStore
    fs = getattr(store, "fs", None)  # zarr's FsspecStore
    protocols = (fs.protocol,) if isinstance(getattr(fs, "protocol", None), str) else getattr(fs, "protocol", ())
    if folder is None and "file" in protocols:
        folder = getattr(store, "path", None)
    if folder is not None:
        return Locks(Path(folder) / LOCK_DIR, space=str(Path(folder).resolve()))
    return Locks(None, space=url, shared="memory" not in protocols)


def _whole(shape: Iterable[int]) -> tuple[int, ...]:
    """One chunk holding the whole (small) array: one read per entry."""
    return tuple(max(1, int(s)) for s in shape)

