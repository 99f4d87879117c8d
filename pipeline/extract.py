"""The extract stage: one decode pass per video feeds every extractor; features go into the store.

Decoding and preprocessing run in decode threads (several videos at a time, with a pool of CPU
workers for the per-clip preprocessing) and hand chunks of clips to the inference loop through a bounded
queue, so the GPU (or CPU) encodes while the next clips are decoded. Batches span clips and
videos; a video's features are written as soon as all of its clips are encoded.

Runs sharing a store split the work: a decode thread claims a video's entries before decoding it
and the claim is released once they are written (or the video failed); a video claimed by another
run is put off to the end of the pass, then waited for, and only what that run left is computed.

Other consumers of decoded frames ride on the same pass through `DecodeTap`s (the synthesize
stage's captioner is one): a tap adds its sampling specs to a video's decode and receives its
chunks in the decode thread, so a video both stages need is decoded once.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from pipeline import progress
from pipeline.decode import DONE_ELSEWHERE, DecodeConfig, usable_video_ids
from pipeline.extractors import TextEncoder, VideoExtractor, build_extractor, build_text_encoder
from pipeline.sampling import SamplingSpec
from pipeline.video import ClipChunk, DecodeStats, VideoDecodeError, VideoInfo, decode_clips, probe_video, video_id
from storage import Claim, EntrySpec, FeatureStore, fingerprint_file, fingerprint_text

log = logging.getLogger(__name__)

PROGRESS_KEY = "extract"


class ExtractConfig(BaseModel):
    """Which encoders run, where, and how work is batched.

    Attributes:
        extractors: video extractors to run (registry names: slowfast, clip, blip2).
        text_encoders: query encoders to run (clip, blip2); default: those of `extractors` that have one.
        preset: "tiny" (small random seeded models, labelled tiny in the store) or "paper" (real weights).
        device: "cpu", "cuda" or "cuda:N".
        weights_dir: where paper weights are read from (None: the usual caches).
        batch_size: clips per network call; batches span clips and videos.
        decode_workers: videos decoded at the same time (threads; decord and PyAV release the GIL).
        preprocess_workers: CPU threads preprocessing clips while the network runs.
        queue_chunks: decoded-and-preprocessed chunks held ahead of the network (bounds memory).
        decode: clip length and decoder settings.
        seed: initialisation seed of tiny presets.
        crop_size: pixels every video extractor decodes (short side) and centre-crops; None keeps
            each extractor's own (224). Small values suit the tiny presets (32-px networks).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    extractors: tuple[str, ...] = ("slowfast", "clip", "blip2")
    text_encoders: tuple[str, ...] | None = None
    preset: Literal["tiny", "paper"] = "tiny"
    device: str = "cpu"
    weights_dir: str | None = None
    batch_size: int = Field(default=32, ge=1)
    decode_workers: int = Field(default=1, ge=1)
    preprocess_workers: int = Field(default=2, ge=1)
    queue_chunks: int = Field(default=2, ge=1)
    decode: DecodeConfig = DecodeConfig()
    seed: int = 0
    crop_size: int | None = Field(default=None, ge=8)

    def text_names(self) -> tuple[str, ...]:
        if self.text_encoders is not None:
            return self.text_encoders
        return tuple(name for name in ("clip", "blip2") if name in self.extractors)


def video_entry_spec(extractor: VideoExtractor, clip_seconds: float) -> EntrySpec:
    return EntrySpec(extractor=extractor.name, version=extractor.version, weights_id=extractor.weights_id,
                     preset=extractor.preset, clip_seconds=clip_seconds,
                     sampling=extractor.sampling.model_dump(mode="json"))


def text_entry_spec(encoder: TextEncoder) -> EntrySpec:
    return EntrySpec(extractor=encoder.name, version=encoder.version, weights_id=encoder.weights_id,
                     preset=encoder.preset)


_built: dict[tuple, object] = {}
_built_lock = threading.Lock()


def _cached_build(kind: str, name: str, config: ExtractConfig):
    """Encoders are built once per process and settings (loading real weights takes tens of seconds)."""
    key = (kind, name, config.preset, config.device, config.weights_dir, config.seed)
    with _built_lock:
        if key not in _built:
            build = build_extractor if kind == "video" else build_text_encoder
            _built[key] = build(name, config.preset, config.device, config.weights_dir, config.seed)
        return _built[key]


def build_video_extractors(config: ExtractConfig) -> dict[str, VideoExtractor]:
    built = {name: _cached_build("video", name, config) for name in config.extractors}
    if config.crop_size is None:
        return built
    return {name: extractor.with_crop_size(config.crop_size) for name, extractor in built.items()}


def build_text_encoders(config: ExtractConfig) -> dict[str, TextEncoder]:
    return {name: _cached_build("text", name, config) for name in config.text_names()}


def resolve_videos(video_dir: str | os.PathLike, vids: Iterable[str]) -> tuple[list[Path], list[ExtractRecord]]:
    """Files of the wanted videos in `video_dir` (any video suffix), and a failed record per missing one."""
    from pipeline.video import list_videos

    by_stem = {p.stem: p for p in list_videos(video_dir)}
    found, missing = [], []
    for vid in dict.fromkeys(vids):
        if vid in by_stem:
            found.append(by_stem[vid])
        else:
            missing.append(ExtractRecord(vid=vid, path=str(Path(video_dir) / vid), status="failed",
                                         reason=f"no video file named {vid}.<mp4|mkv|webm|...> in {video_dir}"))
    return found, missing


class TapSession(Protocol):
    """One video's share of a decode pass for a `DecodeTap`: the frames it needs, then its chunks.

    An exception a session raises stops the extraction run: a tap whose own work may fail (a model
    error on one video) records that failure itself and lets the pass go on.
    """

    consumers: Mapping[str, SamplingSpec]  # names must not clash with extractor names

    def feed(self, chunk: ClipChunk) -> None: ...

    def close(self, stats: DecodeStats) -> None:
        """Every chunk was fed (`stats`: the pass's counts): finish the video (its failures are its own to record)."""

    def fail(self, reason: str) -> None:
        """The video could not be decoded."""


class DecodeTap(Protocol):
    """Another stage that takes frames from the extraction's decode pass (called from decode threads)."""

    def wanted(self, vid: str, path: Path) -> bool:
        """Whether this video still has work for the tap (the video is decoded for it even when its features are current)."""

    def open(self, vid: str, path: Path, info: VideoInfo) -> TapSession | None:
        """The session of this video, or None when the tap has nothing to do with it after all."""


FEATURES_CURRENT = "features current; decoded only for another stage"


class ExtractRecord(BaseModel):
    """The outcome of one video (or query batch): small enough to pass between Prefect tasks."""

    vid: str
    path: str
    status: Literal["done", "skipped", "failed"]
    extractors: list[str] = []
    n_clips: int = 0
    seconds: float = 0.0
    reason: str = ""


@dataclass
class _Job:
    vid: str
    path: Path
    needed: list[str]
    started: float = 0.0
    n_clips: int | None = None
    rows: dict[str, dict[int, np.ndarray]] = field(default_factory=lambda: defaultdict(dict))
    pending: int = 0
    claim: Claim | None = None
    planned: tuple[str, ...] = ()

    def entry_names(self) -> list[str]:
        return [FeatureStore.entry_path("video", name, self.vid) for name in self.needed]


_END = object()


def plan_videos(paths: Iterable[str | os.PathLike], store: FeatureStore, extractors: Mapping[str, VideoExtractor],
                clip_seconds: float, force: bool = False, since: datetime | None = None,
                taps: Sequence[DecodeTap] = ()) -> tuple[list[_Job], list[ExtractRecord]]:
    """Which extractors each video still needs: missing or stale entries; with `force`, every entry
    not written since `since` (when this run started; default now), i.e. not by another run.
    A video no extractor needs is still decoded when a tap wants it. A file whose id cannot be a
    store key (or repeats another's) gets a failed record."""
    written_after = (since or datetime.now(timezone.utc)) if force else None
    usable, refused = usable_video_ids(list(paths))
    jobs, settled = [], [ExtractRecord(vid=path.stem, path=str(path), status="failed", reason=reason)
                        for path, reason in refused]
    for path, reason in refused:
        log.warning("%s: failed: %s", path, reason)
    for vid, path in usable:
        needed = _needed(store, vid, path, list(extractors), extractors, clip_seconds, written_after)
        if needed or any(tap.wanted(vid, path) for tap in taps):
            jobs.append(_Job(vid=vid, path=path, needed=needed, planned=tuple(needed)))
        else:
            settled.append(ExtractRecord(vid=vid, path=str(path), status="skipped", extractors=list(extractors)))
    return jobs, settled


def _needed(store: FeatureStore, vid: str, path: Path, names: Iterable[str], extractors: Mapping[str, VideoExtractor],
            clip_seconds: float, written_after: datetime | None) -> list[str]:
    return [name for name in names
            if store.status("video", name, vid, video_entry_spec(extractors[name], clip_seconds), path,
                            written_after).state != "current"]


def _claim(job: _Job, store: FeatureStore, extractors: Mapping[str, VideoExtractor], clip_seconds: float,
           written_after: datetime | None) -> bool:
    """Claim the video's entries for this run (False: another run holds one), then drop the
    extractors that another run finished since the plan (releasing the claim if none is left)."""
    if job.claim is not None:  # claimed (and checked) already
        return True
    claim = store.try_claim(job.entry_names())
    if claim is None:
        return False
    job.claim = claim
    job.needed = _needed(store, job.vid, job.path, job.needed, extractors, clip_seconds, written_after)
    if not job.needed:
        claim.release()
    return True


def _produce(jobs: queue.Queue, extractors: Mapping[str, VideoExtractor], config: ExtractConfig,
             out: queue.Queue, stats: dict[str, DecodeStats], stop: threading.Event, pool: ThreadPoolExecutor,
             claim: Callable[[_Job], bool], taps: Sequence[DecodeTap]) -> None:
    """One decode worker: take videos from `jobs`, claim each (or report it "deferred": another
    run holds it), decode it once, preprocess its clips for every extractor it needs, hand them
    to the inference loop, and give every tap that wants the video its frames of the same pass."""
    try:
        while not stop.is_set():
            try:
                job = jobs.get_nowait()
            except queue.Empty:
                return
            sessions: list[TapSession] = []
            try:
                if not claim(job):
                    out.put(("deferred", job.vid))
                    continue
                info = probe_video(job.path) if job.needed or taps else None
                for tap in taps:  # one by one: a tap raising leaves the sessions opened before it to fail()
                    session = tap.open(job.vid, job.path, info)
                    if session is not None:
                        sessions.append(session)
                if not job.needed and not sessions:
                    out.put(("others", job.vid, DONE_ELSEWHERE if job.planned else ""))
                    continue
                consumers = {name: extractors[name].sampling for name in job.needed}
                for session in sessions:
                    consumers.update(session.consumers)
                stats[job.vid] = DecodeStats()
                n_clips = 0
                for chunk in decode_clips(job.path, consumers, config.decode.clip_seconds, config.decode.chunk_seconds,
                                          config.decode.backend, info, stats[job.vid]):
                    for name in job.needed:
                        tensors = list(pool.map(extractors[name].preprocess_clip, chunk.frames[name]))
                        out.put(("clips", job.vid, name, chunk.first_clip, tensors))
                    for session in sessions:
                        session.feed(chunk)
                    n_clips = chunk.first_clip + len(chunk.clip_times)
                while sessions:  # a closed session leaves the list: fail() is for the unfinished only
                    sessions.pop(0).close(stats[job.vid])
                out.put(("end", job.vid, n_clips))
            except VideoDecodeError as exc:
                for session in sessions:
                    session.fail(exc.reason)
                out.put(("fail", job.vid, exc.reason))
            except Exception as exc:  # anything else is a bug or a broken environment: stop the run
                for session in sessions:  # let the taps drop what they hold for this video
                    session.fail(f"extraction stopped: {exc}")
                out.put(("error", job.vid, exc))
                return
    finally:
        out.put(_END)


def extract_videos(paths: Iterable[str | os.PathLike], store: FeatureStore, extractors: Mapping[str, VideoExtractor],
                   config: ExtractConfig = ExtractConfig(), force: bool = False,
                   decode_stats: dict[str, DecodeStats] | None = None,
                   taps: Sequence[DecodeTap] = ()) -> list[ExtractRecord]:
    """Extract every extractor's features for every video that needs them, decoding each video once.

    Returns one record per video, in the order of `paths` (done / skipped / failed with a reason);
    unreadable videos fail alone. A video another run was extracting into the same store is waited
    for at the end and not computed again: its record says skipped, "done by another run".
    `decode_stats`, when given, receives each decoded video's DecodeStats. `taps` receive the
    frames they ask for from the same decode pass (a video only a tap wants is decoded for it
    alone: its record says skipped, FEATURES_CURRENT).
    """
    paths = [Path(p) for p in paths]
    clip_seconds = config.decode.clip_seconds
    since = datetime.now(timezone.utc)
    written_after = since if force else None
    jobs, records = plan_videos(paths, store, extractors, clip_seconds, force, since, taps)
    progress.start(PROGRESS_KEY, len(jobs) + len(records), "extract")
    progress.advance(PROGRESS_KEY, len(records))
    stats = decode_stats if decode_stats is not None else {}
    finished, deferred = _run_jobs(jobs, store, extractors, config, stats, written_after, taps) if jobs else ([], [])
    records += finished
    for job in deferred:  # claimed by another run: wait for it, then do only what it left
        log.info("%s: claimed by another run; waiting for it", job.vid)
        claim = store.claim(job.entry_names())  # holding no other claim, so waiting cannot deadlock
        try:
            job.needed = _needed(store, job.vid, job.path, job.needed, extractors, clip_seconds, written_after)
            if job.needed or any(tap.wanted(job.vid, job.path) for tap in taps):
                redo = _Job(vid=job.vid, path=job.path, needed=job.needed, claim=claim, planned=job.planned)
                records += _run_jobs([redo], store, extractors, config, stats, written_after, taps)[0]
                continue
        finally:
            claim.release()
        log.info("%s: %s", job.vid, DONE_ELSEWHERE)
        records.append(ExtractRecord(vid=job.vid, path=str(job.path), status="skipped", extractors=list(extractors),
                                     reason=DONE_ELSEWHERE))
        progress.advance(PROGRESS_KEY)
    rank = {vid: i for i, vid in reversed(list(enumerate(video_id(p) for p in paths)))}
    return sorted(records, key=lambda r: rank.get(r.vid, len(rank)))


def _run_jobs(jobs: list[_Job], store: FeatureStore, extractors: Mapping[str, VideoExtractor], config: ExtractConfig,
              stats: dict[str, DecodeStats], written_after: datetime | None,
              taps: Sequence[DecodeTap] = ()) -> tuple[list[ExtractRecord], list[_Job]]:
    """One pass of the engine over `jobs`: (records of the videos it settled, jobs claimed by another run)."""
    by_vid = {job.vid: job for job in jobs}
    inbox: queue.Queue = queue.Queue(maxsize=config.queue_chunks * max(1, len(extractors)) * config.decode_workers)
    stop = threading.Event()
    todo: queue.Queue = queue.Queue()
    for job in jobs:
        todo.put(job)
    pool = ThreadPoolExecutor(config.preprocess_workers, thread_name_prefix="preprocess")
    claim = partial(_claim, store=store, extractors=extractors, clip_seconds=config.decode.clip_seconds,
                    written_after=written_after)
    producers = [threading.Thread(target=_produce, args=(todo, extractors, config, inbox, stats, stop, pool, claim, taps),
                                  name=f"decode-{i}", daemon=True)
                 for i in range(min(config.decode_workers, len(jobs)))]
    batches: dict[str, list[tuple[str, int, torch.Tensor]]] = defaultdict(list)
    finished: dict[str, ExtractRecord] = {}
    deferred: list[_Job] = []

    def flush(name: str) -> None:
        items = batches.pop(name, [])
        if not items:
            return
        rows = extractors[name].encode_batch(torch.stack([t for _, _, t in items])).numpy()
        for (vid, index, _), row in zip(items, rows):
            if vid in by_vid and vid not in finished:
                by_vid[vid].rows[name][index] = row
        for vid in {vid for vid, _, _ in items}:
            _maybe_write(vid)

    def _maybe_write(vid: str) -> None:
        job = by_vid[vid]
        if vid in finished or job.n_clips is None:
            return
        if any(len(job.rows[name]) < job.n_clips for name in job.needed):
            return
        if not job.needed:  # decoded for the taps only
            finished[vid] = ExtractRecord(vid=vid, path=str(job.path), status="skipped", extractors=list(extractors),
                                          n_clips=job.n_clips, reason=FEATURES_CURRENT)
            progress.advance(PROGRESS_KEY)
            return
        for name in job.needed:  # under the job's claim: no other run writes these entries now
            ext = extractors[name]
            feats = np.stack([job.rows[name][i] for i in range(job.n_clips)])
            store.write_video(name, vid, feats, video_entry_spec(ext, config.decode.clip_seconds), fingerprint_file(job.path),
                              extra={"n_clips": job.n_clips})
        _release(job)
        seconds = time.perf_counter() - job.started
        finished[vid] = ExtractRecord(vid=vid, path=str(job.path), status="done", extractors=job.needed,
                                      n_clips=job.n_clips, seconds=seconds)
        job.rows.clear()
        log.info("%s: %s features of %d clips written in %.2f s", vid, "+".join(job.needed), job.n_clips, seconds)
        progress.advance(PROGRESS_KEY)

    started = time.perf_counter()
    for job in jobs:
        job.started = started
    for producer in producers:
        producer.start()
    running = len(producers)
    try:
        while running:
            item = inbox.get()
            if item is _END:
                running -= 1
                continue
            kind, vid = item[0], item[1]
            if kind == "clips":
                _, _, name, first, tensors = item
                batches[name].extend((vid, first + i, t) for i, t in enumerate(tensors))
                if len(batches[name]) >= config.batch_size:
                    flush(name)
            elif kind == "end":
                by_vid[vid].n_clips = item[2]
                _maybe_write(vid)
            elif kind == "deferred":
                deferred.append(by_vid[vid])
            elif kind == "others":
                if item[2]:
                    log.info("%s: %s", vid, item[2])
                finished[vid] = ExtractRecord(vid=vid, path=str(by_vid[vid].path), status="skipped",
                                              extractors=list(extractors), reason=item[2])
                progress.advance(PROGRESS_KEY)
            elif kind == "fail":
                log.warning("%s: failed: %s", by_vid[vid].path, item[2])
                _release(by_vid[vid])
                finished[vid] = ExtractRecord(vid=vid, path=str(by_vid[vid].path), status="failed", reason=item[2])
                for name in list(batches):
                    batches[name] = [b for b in batches[name] if b[0] != vid]
                progress.advance(PROGRESS_KEY)
            else:
                raise RuntimeError(f"extraction stopped at {by_vid[vid].path}: {item[2]!r}") from item[2]
        for name in list(batches):
            flush(name)
    finally:
        stop.set()
        while any(p.is_alive() for p in producers):  # unblock producers waiting on a full queue
            try:
                inbox.get_nowait()
            except queue.Empty:
                for producer in producers:
                    producer.join(timeout=0.05)
        pool.shutdown(wait=False)
        for job in jobs:  # claims of videos left unwritten by an error
            _release(job)
    return [finished[job.vid] for job in jobs if job.vid in finished], deferred


def _release(job: _Job) -> None:
    if job.claim is not None:
        job.claim.release()


def extract_queries(queries: Mapping[str, str], store: FeatureStore, encoders: Mapping[str, TextEncoder],
                    batch_size: int = 64, force: bool = False) -> dict[str, int]:
    """Encode every query (qid -> text) that is missing or stale for each text encoder.

    Returns encoder name -> number of queries written. The query text's hash is the entry's
    source fingerprint, so an edited query is re-encoded. A run claims one encoder's queries at a
    time (`text/<encoder>`); an encoder claimed by another run is waited for after the others, and
    only the queries that run left are encoded.
    """
    written_after = datetime.now(timezone.utc) if force else None
    written: dict[str, int] = {}
    busy = []
    for name, encoder in encoders.items():
        claim = store.try_claim([store.group_path("text", name)])
        if claim is None:
            busy.append(name)
            continue
        with claim:
            written[name] = _encode_queries(queries, store, name, encoder, batch_size, written_after)
    for name in busy:
        log.info("text/%s: claimed by another run; waiting for it", name)
        with store.claim([store.group_path("text", name)]):
            written[name] = _encode_queries(queries, store, name, encoders[name], batch_size, written_after)
    return {name: written[name] for name in encoders}


def _encode_queries(queries: Mapping[str, str], store: FeatureStore, name: str, encoder: TextEncoder,
                    batch_size: int, written_after: datetime | None) -> int:
    """Encode the queries whose `text/<name>` entry is not current; returns how many."""
    spec = text_entry_spec(encoder)
    todo = [qid for qid, text in queries.items()
            if store.status("text", name, qid, spec, fingerprint_text(text), written_after).state != "current"]
    for start in range(0, len(todo), batch_size):
        chunk = todo[start:start + batch_size]
        feats = encoder.encode_text([queries[q] for q in chunk], batch_size=batch_size)
        for qid, f in zip(chunk, feats):
            store.write_text(name, qid, f.tokens, f.pooled, spec, fingerprint_text(queries[qid]))
    log.info("text/%s: %d queries encoded, %d current", name, len(todo), len(queries) - len(todo))
    return len(todo)
