"""A decode worker: takes videos, claims and decodes each once, preprocesses clips, feeds the taps."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import torch

from pipeline.extract.config import DONE_ELSEWHERE, ExtractConfig
from pipeline.extract.messages import (
    ClipsReady,
    VideoDecoded,
    VideoDeferred,
    VideoFailed,
    VideoSettled,
    WorkerCrashed,
    WorkerDone,
)
from pipeline.extract.plan import VideoJob
from pipeline.extract.procs import DecodeProcess, SlotLease, process_job, slot_bytes
from pipeline.extract.taps import DecodeTap, TapSession
from pipeline.extractors import VideoExtractor
from pipeline.video.clips import ClipChunk, DecodeStats, VideoDecodeError, VideoInfo, host_frames
from pipeline.video.reader import decode_clips_on, probe_video
from pipeline.video.sampling import SamplingSpec


class DecodeWorker:
    """Run in a thread: takes videos from `jobs` until none is left or `stop` is set, and puts
    `Message`s on `out` (always ending with WorkerDone). A video whose entries another run holds is
    deferred; an unreadable one fails alone; any other error stops this worker (WorkerCrashed)."""

    def __init__(self, jobs: queue.Queue, out: queue.Queue, extractors: Mapping[str, VideoExtractor],
                 config: ExtractConfig, stats: dict[str, DecodeStats], pool: ThreadPoolExecutor,
                 claim: Callable[[VideoJob], bool], taps: Sequence[DecodeTap], stop: threading.Event):
        self.jobs, self.out, self.extractors, self.config = jobs, out, extractors, config
        self.stats, self.pool, self.claim, self.taps, self.stop = stats, pool, claim, taps, stop

    def __call__(self) -> None:
        try:
            while not self.stop.is_set():
                try:
                    job = self.jobs.get_nowait()
                except queue.Empty:
                    return
                if not self._one(job):
                    return
        finally:
            self.out.put(WorkerDone())

    def _one(self, job: VideoJob) -> bool:
        """One video; False when the worker must stop."""
        sessions: list[TapSession] = []
        try:
            if not self.claim(job):
                self.out.put(VideoDeferred(job.vid))
                return True
            info = probe_video(job.path) if job.needed or self.taps else None
            for tap in self.taps:  # one by one: a tap raising leaves the sessions opened before it to fail()
                session = tap.open(job.vid, job.path, info)
                if session is not None:
                    sessions.append(session)
            if not job.needed and not sessions:
                self.out.put(VideoSettled(job.vid, DONE_ELSEWHERE if job.planned else ""))
                return True
            self._decode(job, info, sessions)
            return True
        except VideoDecodeError as exc:
            for session in sessions:
                session.fail(exc.reason)
            self.out.put(VideoFailed(job.vid, exc.reason))
            return True
        except Exception as exc:  # a bug or a broken environment: stop the run
            for session in sessions:  # let the taps drop what they hold for this video
                session.fail(f"extraction stopped: {exc}")
            self.out.put(WorkerCrashed(job.vid, exc))
            return False

    def _decode(self, job: VideoJob, info: VideoInfo | None, sessions: list[TapSession]) -> None:
        """Decode the video once: its clips to the engine, its chunks to every tap session."""
        consumers = {name: self.extractors[name].sampling for name in job.needed}
        for session in sessions:
            consumers.update(session.consumers)
        stats = self.stats[job.vid] = DecodeStats()
        n_clips = {name: 0 for name in job.needed}
        for first, clips, chunk, lease in self._chunks(job, info, consumers, stats):
            for name in job.needed:
                self.out.put(ClipsReady(job.vid, name, first, clips[name], lease))
                n_clips[name] = max(n_clips[name], first + len(clips[name]))
            for session in sessions:
                session.feed(chunk)
        while sessions:  # a closed session leaves the list: fail() is for the unfinished only
            sessions.pop(0).close(stats)
        self.out.put(VideoDecoded(job.vid, n_clips))

    def _chunks(self, job: VideoJob, info: VideoInfo | None, consumers: dict[str, SamplingSpec], stats: DecodeStats
                ) -> Iterator[tuple[int, dict[str, list[torch.Tensor]], ClipChunk, SlotLease | None]]:
        """(first clip, extractor -> preprocessed clips, the chunk, None) per chunk, decoded in this thread:
        on the GPU when the settings and the video allow it, else on the CPU (`decode_clips_on`)."""
        decode = self.config.decode
        for chunk in decode_clips_on(self.config.device, job.path, consumers, decode.clip_seconds,
                                     decode.chunk_seconds, decode.backend, info, stats):
            clips = {name: list(self.pool.map(self.extractors[name].preprocess_clip, chunk.frames[name]))
                     for name in job.needed}
            yield chunk.first_clip, clips, host_frames(chunk, exclude=job.needed), None

    def interrupt(self) -> None:
        """The run is stopping: nothing to do for a thread (it checks `stop` between videos)."""

    def close(self) -> None:
        """The run is over."""


class ProcessDecodeWorker(DecodeWorker):
    """A DecodeWorker whose decoding and preprocessing run in a process of its own (`DecodeProcess`):
    this thread claims, probes and opens the taps as before, then relays the process's chunks."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.preprocessors = {name: ext.without_network() for name, ext in self.extractors.items()}
        decode = self.config.decode
        self.slot_size = slot_bytes(self.preprocessors, decode.clip_seconds, decode.chunk_seconds)
        self.process = self._start()

    def _start(self) -> DecodeProcess:
        return DecodeProcess(self.preprocessors, self.config.queue_chunks + 1, self.slot_size)

    def _chunks(self, job: VideoJob, info: VideoInfo | None, consumers: dict[str, SamplingSpec], stats: DecodeStats
                ) -> Iterator[tuple[int, dict[str, list[torch.Tensor]], ClipChunk, SlotLease | None]]:
        if not self.process.alive:  # it died on an earlier video: a fresh one for this
            self.process.close()
            self.process = self._start()
        yield from self.process.decode(process_job(job.vid, job.path, info, consumers, job.needed, self.config.decode),
                                       stats)

    def interrupt(self) -> None:
        self.process.stop()

    def close(self) -> None:
        self.process.close()
