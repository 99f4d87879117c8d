"""Feature access for datasets: the entries a dataset needs, a per-item store reader and an in-memory cache."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from pipeline.datasets.errors import MissingFeaturesError
from storage import FeatureStore

log = logging.getLogger(__name__)

Kind = Literal["video", "text"]
Group = tuple[Kind, str]
"""(kind, extractor) of store entries, e.g. ("video", "slowfast")."""

#: How to create missing entries; {url} is the store. Keep in step with the `videolights` CLI.
EXTRACT_HINT = ("videolights extract --dataset ANNOTATIONS.jsonl --videos VIDEO_DIR --store {url} "
                "--extractors {extractor} (creates the missing {kind} entries)")


class FeatureSource(Protocol):
    """Where a dataset gets its raw (stored-dtype) features from."""

    def video(self, extractor: str, vid: str) -> np.ndarray:
        """(n_clips, dim) features of a video."""

    def text(self, extractor: str, qid: str) -> np.ndarray:
        """(n_tokens, dim) token features of a query."""


@dataclass(frozen=True)
class EntryShapes:
    """Shape of every needed entry, per (kind, extractor): key -> (rows, dim), and the stored dtype."""

    shapes: Mapping[Group, Mapping[str, tuple[int, int]]]
    dtypes: Mapping[Group, np.dtype]


def check_entries(store: FeatureStore, needs: Mapping[Group, Iterable[str]], workers: int = 4) -> EntryShapes:
    """Shapes of the needed entries; raise one error listing every missing or incomplete one.

    Args:
        store: the feature store.
        needs: (kind, extractor) -> keys (vids or qids as strings).
        workers: threads reading entry metadata.

    Raises:
        MissingFeaturesError: listing the missing (kind, extractor, key) and the command that
            creates them.
    """
    jobs = [(kind, ext, key) for (kind, ext), keys in needs.items() for key in dict.fromkeys(keys)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        found = list(pool.map(lambda job: store.attrs(*job), jobs))
    missing = [job for job, attrs in zip(jobs, found) if attrs is None]
    if missing:
        kinds = dict.fromkeys((kind, ext) for kind, ext, _ in missing)
        hint = "; ".join(EXTRACT_HINT.format(url=store.url, kind=k, extractor=e) for k, e in kinds)
        raise MissingFeaturesError(store.url, missing, hint)
    shapes: dict[Group, dict[str, tuple[int, int]]] = {group: {} for group in needs}
    dtypes: dict[Group, np.dtype] = {}
    for (kind, ext, key), attrs in zip(jobs, found):
        rows, dim = (int(v) for v in attrs["shape"])
        shapes[(kind, ext)][key] = (rows, dim)
        # mixed float16/float32 entries share float32, which holds both exactly
        dtypes[(kind, ext)] = np.result_type(dtypes.get((kind, ext), np.float16), attrs.get("dtype", "float16"))
    return EntryShapes(shapes, dtypes)


class StoreFeatures:
    """Reads every entry from the store when asked (no caching); picklable for DataLoader workers."""

    def __init__(self, store: FeatureStore):
        self.store = store

    def video(self, extractor: str, vid: str) -> np.ndarray:
        return self.store.read_video(extractor, vid)

    def text(self, extractor: str, qid: str) -> np.ndarray:
        return self.store.read_text(extractor, qid)[0]

    def __getstate__(self) -> dict:
        return {"url": self.store.url}

    def __setstate__(self, state: dict) -> None:
        self.store = FeatureStore(state["url"], mode="r")


class CachedFeatures:
    """Every needed entry, read once, in one contiguous array per (kind, extractor).

    Attributes:
        arrays: (kind, extractor) -> (total rows, dim) array in the stored dtype.
        index: (kind, extractor) -> key -> (start, stop) rows of that entry.
    """

    def __init__(self, arrays: dict[Group, np.ndarray], index: dict[Group, dict[str, tuple[int, int]]]):
        self.arrays, self.index = arrays, index

    @classmethod
    def load(cls, store: FeatureStore, shapes: EntryShapes, workers: int = 4,
             max_rows: Mapping[Kind, int] | None = None) -> CachedFeatures:
        """Read every entry of `shapes` into preallocated contiguous arrays.

        Args:
            store: the feature store.
            shapes: what check_entries returned.
            workers: reader threads.
            max_rows: per kind, rows kept per entry (e.g. {"text": max_query_tokens}); None keeps all.
        """
        start = time.perf_counter()
        arrays, index, jobs = {}, {}, []
        for (kind, ext), entries in shapes.shapes.items():
            limit = (max_rows or {}).get(kind)
            offsets, total, dims = {}, 0, {d for _, d in entries.values()}
            if len(dims) > 1:
                raise ValueError(f"{store.url}: {kind}/{ext} entries have different dims {sorted(dims)}; "
                                 "expected one feature size per extractor (mixed extractor versions?)")
            for key, (rows, _) in entries.items():
                rows = min(rows, limit) if limit is not None else rows
                offsets[key] = (total, total + rows)
                total += rows
            dtype = shapes.dtypes.get((kind, ext), np.float16)
            arrays[(kind, ext)] = np.empty((total, dims.pop() if dims else 0), dtype=dtype)
            index[(kind, ext)] = offsets
            jobs += [(kind, ext, key, span) for key, span in offsets.items()]

        def fill(job) -> None:
            kind, ext, key, (lo, hi) = job
            data = store.read_video(ext, key) if kind == "video" else store.read_text(ext, key)[0]
            arrays[(kind, ext)][lo:hi] = data[:hi - lo]

        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(fill, jobs))
        size = sum(a.nbytes for a in arrays.values())
        log.info("cached %d feature entries (%.1f MiB) from %s in %.1f s", len(jobs), size / 2**20,
                 store.url, time.perf_counter() - start)
        return cls(arrays, index)

    def _get(self, kind: Kind, extractor: str, key: str) -> np.ndarray:
        try:
            lo, hi = self.index[(kind, extractor)][key]
        except KeyError:
            raise KeyError(f"{kind}/{extractor}/{key} is not in the feature cache; it caches only the "
                           "entries of the dataset it was built for") from None
        return self.arrays[(kind, extractor)][lo:hi]

    def video(self, extractor: str, vid: str) -> np.ndarray:
        return self._get("video", extractor, vid)

    def text(self, extractor: str, qid: str) -> np.ndarray:
        return self._get("text", extractor, qid)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.arrays.values())
