"""The extract stage's engine: one decode pass per video feeds every extractor; features go into the store.

Decoding and preprocessing run in decode workers, several videos at a time: each a thread of this
process that claims, probes and feeds the taps, with the decoding and per-clip preprocessing in a
process of its own (pipeline.extract.procs: own GIL, clips handed over in shared memory), or, with
threads (ExtractConfig.decodes_in_processes) and for GPU decoding, in the thread itself with a pool of CPU threads for
the preprocessing. They hand typed messages (pipeline.extract.messages) to the inference loop through
a bounded queue, so the GPU (or CPU) encodes while the next clips are decoded. Batches span clips and videos; a video's features are written as soon as all of its clips
are encoded.

Runs sharing a store split the work: a worker claims a video's entries before decoding it and the
claim is released once they are written (or the video failed); a video claimed by another run is
put off to the end of the pass, then waited for, and only what that run left is computed.

Other consumers of decoded frames ride on the same pass through `DecodeTap`s (the clip-grid
recorder, the synthesize stage's captioner): a tap adds its sampling specs to a video's decode and
receives its chunks in the decode worker's thread (in this process), so a video every stage needs is
decoded once.
"""

from __future__ import annotations

import logging
import os
import pickle
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from functools import partial
from pathlib import Path

import numpy as np
import torch

from pipeline.common import progress
from pipeline.extract.config import DONE_ELSEWHERE, ExtractConfig
from pipeline.extract.encoders import video_entry_spec
from pipeline.extract.messages import (
    ClipsReady,
    Message,
    VideoDecoded,
    VideoDeferred,
    VideoFailed,
    VideoSettled,
    WorkerCrashed,
    WorkerDone,
)
from pipeline.extract.plan import (
    FEATURES_CURRENT,
    ExtractRecord,
    VideoJob,
    claim_job,
    needed_extractors,
    plan_videos,
)
from pipeline.extract.taps import DecodeTap
from pipeline.extract.procs import SlotLease, slot_bytes
from pipeline.extract.worker import DecodeWorker, ProcessDecodeWorker
from pipeline.extractors import VideoExtractor
from pipeline.video.clips import DecodeStats
from pipeline.video.gpu import torchcodec_problem
from pipeline.video.reader import video_id
from storage import FeatureStore, fingerprint_file

log = logging.getLogger(__name__)

PROGRESS_KEY = "extract"
IDLE_FLUSH_FRACTION = 0.25
"""A batch this full (of batch_size) is encoded when no decoded clips are waiting (see `_next`)."""


class ExtractionEngine:
    """One pass over `jobs`: decode workers put messages, `run` handles them one by one (`handle`),
    batching clips per extractor across videos and writing each video once all its clips are encoded.

    After `run`: `finished` holds a record per settled video, `deferred` the jobs another run held.
    """

    def __init__(self, jobs: list[VideoJob], store: FeatureStore, extractors: Mapping[str, VideoExtractor],
                 config: ExtractConfig, stats: dict[str, DecodeStats] | None = None,
                 written_after: datetime | None = None, taps: Sequence[DecodeTap] = ()):
        self.jobs, self.store, self.extractors, self.config = jobs, store, extractors, config
        self.stats = stats if stats is not None else {}
        self.written_after, self.taps = written_after, taps
        self.by_vid = {job.vid: job for job in jobs}
        self.batches: dict[str, list[tuple[str, int, torch.Tensor, SlotLease | None]]] = defaultdict(list)
        self.finished: dict[str, ExtractRecord] = {}
        self.deferred: list[VideoJob] = []

    def run(self) -> tuple[list[ExtractRecord], list[VideoJob]]:
        """Decode and encode every job; (records of the videos settled, jobs claimed by another run)."""
        config = self.config
        inbox: queue.Queue = queue.Queue(maxsize=config.queue_chunks * max(1, len(self.extractors))
                                         * config.decode_workers)
        todo: queue.Queue = queue.Queue()
        started = time.perf_counter()
        for job in self.jobs:
            job.started = started
            todo.put(job)
        stop = threading.Event()
        pool = ThreadPoolExecutor(config.preprocess_workers, thread_name_prefix="preprocess")
        claim = partial(claim_job, store=self.store, extractors=self.extractors,
                        clip_seconds=config.decode.clip_seconds, written_after=self.written_after)
        in_processes = (config.decodes_in_processes() and not _gpu_decoding(config) and _picklable(self.extractors)
                        and _shared_memory_room(config, self.extractors, min(config.decode_workers, len(self.jobs))))
        kind = ProcessDecodeWorker if in_processes else DecodeWorker
        workers: list[DecodeWorker] = []
        threads: list[threading.Thread] = []
        try:
            for i in range(min(config.decode_workers, len(self.jobs))):
                workers.append(kind(todo, inbox, self.extractors, config, self.stats, pool, claim, self.taps, stop))
                threads.append(threading.Thread(target=workers[-1], name=f"decode-{i}", daemon=True))
                threads[-1].start()
            running = len(threads)
            while running:
                message = self._next(inbox)
                running -= isinstance(message, WorkerDone)
                self.handle(message)
            for name in list(self.batches):
                self._flush(name)
        finally:
            stop.set()
            for worker in workers:
                worker.interrupt()
            _drain(inbox, threads)
            for worker in workers:
                worker.close()
            pool.shutdown(wait=False)
            for job in self.jobs:  # claims of videos left unwritten by an error
                job.release()
        return [self.finished[job.vid] for job in self.jobs if job.vid in self.finished], self.deferred

    def _next(self, inbox: queue.Queue) -> Message:
        """The next message; while none is waiting, encode a batch that is at least a quarter full
        rather than idle (the decoders are the slower side then: a full batch would only make
        encoding a tail after the last video instead of overlapping the decoding)."""
        while True:
            try:
                return inbox.get_nowait()
            except queue.Empty:
                ready = [name for name, items in self.batches.items() if len(items) >= IDLE_FLUSH_FRACTION
                         * self.config.batch_size]
                if not ready:
                    return inbox.get()
                self._flush(max(ready, key=lambda name: len(self.batches[name])))

    def handle(self, message: Message) -> None:
        """Act on one message of a decode worker."""
        match message:
            case ClipsReady(vid, name, first, tensors, lease):
                self.batches[name].extend((vid, first + i, t, lease) for i, t in enumerate(tensors))
                if lease is not None and not tensors:
                    lease.done()
                if len(self.batches[name]) >= self.config.batch_size:
                    self._flush(name)
                if lease is not None and lease.starved:  # its decoder waits for a slot our batches hold
                    for held in list(self.batches):
                        self._flush(held)
            case VideoDecoded(vid, n_clips):
                self.by_vid[vid].n_clips = n_clips
                self._maybe_write(self.by_vid[vid])
            case VideoDeferred(vid):
                self.deferred.append(self.by_vid[vid])
            case VideoSettled(vid, reason):
                if reason:
                    log.info("%s: %s", vid, reason)
                self._settle(self._record(vid, "skipped", extractors=list(self.extractors), reason=reason))
            case VideoFailed(vid, reason):
                log.warning("%s: failed: %s", self.by_vid[vid].path, reason)
                self.by_vid[vid].release()
                for name in list(self.batches):
                    dropped = [b for b in self.batches[name] if b[0] == vid]
                    self.batches[name] = [b for b in self.batches[name] if b[0] != vid]
                    _return_leases(dropped)
                self._settle(self._record(vid, "failed", reason=reason))
            case WorkerCrashed(vid, error):
                raise RuntimeError(f"extraction stopped at {self.by_vid[vid].path}: {error!r}") from error
            case WorkerDone():
                pass

    def _record(self, vid: str, status: str, **fields) -> ExtractRecord:
        return ExtractRecord(vid=vid, path=str(self.by_vid[vid].path), status=status, **fields)

    def _settle(self, record: ExtractRecord) -> None:
        self.finished[record.vid] = record
        progress.advance(PROGRESS_KEY)

    def _flush(self, name: str) -> None:
        """Encode the clips batched for extractor `name`; write the videos that completes."""
        items = self.batches.pop(name, [])
        if not items:
            return
        try:
            batch = torch.stack([t for _, _, t, _ in items])  # the one copy out of the decoders' slots
        finally:
            _return_leases(items)
        rows = self.extractors[name].encode_batch(batch).numpy()
        for (vid, index, _, _), row in zip(items, rows):
            if vid not in self.finished:
                self.by_vid[vid].rows[name][index] = row
        for vid in dict.fromkeys(vid for vid, _, _, _ in items):
            self._maybe_write(self.by_vid[vid])

    def _maybe_write(self, job: VideoJob) -> None:
        """Write the video's features once every clip is encoded (under the job's claim)."""
        if job.vid in self.finished or not job.complete():
            return
        if not job.needed:  # decoded for the taps only
            self._settle(self._record(job.vid, "skipped", extractors=list(self.extractors), reason=FEATURES_CURRENT))
            return
        source = fingerprint_file(job.path)
        for name in job.needed:
            feats = np.stack([job.rows[name][i] for i in range(job.n_clips[name])])
            spec = video_entry_spec(self.extractors[name], self.config.decode.clip_seconds)
            self.store.write_video(name, job.vid, feats, spec, source, extra={"n_clips": job.n_clips[name]})
        job.release()
        seconds = time.perf_counter() - job.started
        job.rows.clear()
        counts = "/".join(str(job.n_clips[name]) for name in job.needed)
        log.info("%s: %s features of %s clips written in %.2f s", job.vid, "+".join(job.needed), counts, seconds)
        self._settle(self._record(job.vid, "done", extractors=job.needed, n_clips=max(job.n_clips.values()),
                                  seconds=seconds))


def _gpu_decoding(config: ExtractConfig) -> bool:
    """Whether videos may be decoded on the GPU (then in threads: the GPU's video engine does the work,
    the frames stay in device memory); says why not when a CUDA run cannot."""
    if not config.device.startswith("cuda") or config.decode.backend not in ("auto", "torchcodec"):
        return False
    problem = torchcodec_problem()
    if problem:
        log.warning("decoding on the CPU: %s", problem)
    return not problem


def _shared_memory_room(config: ExtractConfig, extractors: Mapping[str, VideoExtractor], workers: int) -> bool:
    """Whether /dev/shm can hold every decoder process's slots (docker gives containers 64 MB unless
    told otherwise; a process writing past it would die on SIGBUS); if not, say so: threads decode."""
    if not os.path.isdir("/dev/shm"):
        return True  # not Linux: shared memory is not a size-limited tmpfs there
    decode = config.decode
    preprocessors = {name: ext.without_network() for name, ext in extractors.items()}
    needed = workers * (config.queue_chunks + 1) * slot_bytes(preprocessors, decode.clip_seconds, decode.chunk_seconds)
    stat = os.statvfs("/dev/shm")
    free = stat.f_bavail * stat.f_frsize
    if needed > free:
        log.warning("decoding in threads, not processes: their shared-memory slots need %.0f MB, /dev/shm has "
                    "%.0f MB free (raise the container's shm size, or lower decode_workers / queue_chunks)",
                    needed / 2**20, free / 2**20)
        return False
    return True


def _picklable(extractors: Mapping[str, VideoExtractor]) -> bool:
    """Whether decode processes can take the extractors' preprocessing (their settings pickle); if
    not (a class made at run time), the run decodes in threads and says why."""
    try:
        for name, extractor in extractors.items():
            if type(extractor).__module__ == "__main__":  # decoder processes do not import the main script
                raise pickle.PicklingError(f"{name}: class {type(extractor).__name__} is defined in __main__")
            pickle.dumps(extractor.without_network())
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        log.warning("decoding in threads, not processes: the extractors' preprocessing cannot be sent to a "
                    "process (%s)", exc)
        return False
    return True


def _return_leases(items: list[tuple[str, int, torch.Tensor, SlotLease | None]]) -> None:
    """Return the slots of batched (or dropped) clips: each lease once per extractor's message."""
    for lease in {id(item[3]): item[3] for item in items if item[3] is not None}.values():
        lease.done()


def _drain(inbox: queue.Queue, threads: list[threading.Thread]) -> None:
    """Unblock workers waiting on a full queue until all have ended."""
    while any(t.is_alive() for t in threads):
        try:
            inbox.get_nowait()
        except queue.Empty:
            for thread in threads:
                thread.join(timeout=0.05)


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
    since = datetime.now(timezone.utc)
    written_after = since if force else None
    jobs, records = plan_videos(paths, store, extractors, config.decode.clip_seconds, force, since, taps)
    progress.start(PROGRESS_KEY, len(jobs) + len(records), "extract")
    progress.advance(PROGRESS_KEY, len(records))
    stats = decode_stats if decode_stats is not None else {}
    deferred: list[VideoJob] = []
    if jobs:
        finished, deferred = ExtractionEngine(jobs, store, extractors, config, stats, written_after, taps).run()
        records += finished
    for job in deferred:
        records.append(_after_other_run(job, store, extractors, config, stats, written_after, taps))
    rank = {vid: i for i, vid in reversed(list(enumerate(video_id(p) for p in paths)))}
    return sorted(records, key=lambda r: rank.get(r.vid, len(rank)))


def _after_other_run(job: VideoJob, store: FeatureStore, extractors: Mapping[str, VideoExtractor],
                     config: ExtractConfig, stats: dict[str, DecodeStats], written_after: datetime | None,
                     taps: Sequence[DecodeTap]) -> ExtractRecord:
    """A video another run held: wait for its claim, then do only what that run left."""
    log.info("%s: claimed by another run; waiting for it", job.vid)
    claim = store.claim(job.entry_names())  # holding no other claim, so waiting cannot deadlock
    try:
        job.needed = needed_extractors(store, job.vid, job.path, job.needed, extractors, config.decode.clip_seconds,
                                       written_after)
        if job.needed or any(tap.wanted(job.vid, job.path) for tap in taps):
            redo = VideoJob(vid=job.vid, path=job.path, needed=job.needed, claim=claim, planned=job.planned)
            return ExtractionEngine([redo], store, extractors, config, stats, written_after, taps).run()[0][0]
    finally:
        claim.release()
    log.info("%s: %s", job.vid, DONE_ELSEWHERE)
    progress.advance(PROGRESS_KEY)
    return ExtractRecord(vid=job.vid, path=str(job.path), status="skipped", extractors=list(extractors),
                         reason=DONE_ELSEWHERE)
