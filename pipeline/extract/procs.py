"""Decode worker processes: each decodes and preprocesses one video at a time in a process of its own
(its own GIL), writing the clips into shared-memory slots the inference loop reads without a copy.

Why processes: with decode threads, PyAV's filter-graph push/pull and the per-frame picking hold the
GIL, so a second thread added ~20% (profiled), not ~100%. A process per decode worker scales with cores.

How frames travel (per worker process, all slots made by the parent):
- the parent creates `slots` shared-memory segments, each big enough for one chunk of every
  extractor's preprocessed clips (uint8, `clip_shape` each; known up front), and starts the process;
- for each chunk the process takes a free slot, writes each extractor's clips there as one
  [n, *clip_shape] block, and sends a small message (slot, offsets, shapes; a tap's frames and the
  chunk's times are pickled with it: a few frames per chunk);
- the parent wraps the blocks as tensors (views, no copy) and hands them on with a `SlotLease`;
  the engine stacks them into its batches (the one copy) and returns the lease, freeing the slot.
A process holds at most `slots` chunks ahead, so memory stays flat in video length.

Bad input fails the video alone (VideoDecodeError's reason travels back); a decoder process that
dies (a crash inside FFmpeg) fails its video and is replaced. Processes are daemonic, ignore SIGINT
(the parent stops them), and exit when the parent's end of their pipe closes. The slots' names are
removed once the process has mapped them, so a run killed outright leaves no shared memory behind.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import signal
import threading
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from multiprocessing import shared_memory, spawn
from pathlib import Path

import numpy as np
import torch

from pipeline.extract.config import DecodeConfig
from pipeline.extractors import VideoExtractor
from pipeline.video.clips import ClipChunk, DecodeStats, VideoDecodeError, VideoInfo, host_frames
from pipeline.video.reader import decode_clips
from pipeline.video.sampling import SamplingSpec

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 5.0
"""How long a stopping decoder process may take to exit before it is terminated (then killed)."""

_context_lock = threading.Lock()
_context: multiprocessing.context.BaseContext | None = None


def _mp_context(modules: list[str]) -> multiprocessing.context.BaseContext:
    """A forkserver context: workers fork from a clean server process (never from a parent holding
    torch/Prefect threads), with this module and `modules` (the extractors' classes: open_clip,
    transformers... take seconds) imported once in the server, which the first run starts. A later
    run needing other modules has its processes import them."""
    global _context
    with _context_lock:
        if _context is None:
            if "forkserver" in multiprocessing.get_all_start_methods():
                _context = multiprocessing.get_context("forkserver")
                _context.set_forkserver_preload(["pipeline.extract.procs", *sorted(set(modules))])
            else:  # macOS / Windows
                _context = multiprocessing.get_context("spawn")
        return _context


def _start_without_main(process: multiprocessing.process.BaseProcess) -> None:
    """Start `process` without re-running the parent's main script in it, which multiprocessing does
    by default for the forkserver and spawn methods: a script calling the engine without an
    `if __name__ == "__main__"` guard would run again in every decoder process (and fail there).
    The decoder needs only this module and the extractors' classes, imported by module name."""
    original = spawn.get_preparation_data

    def without_main(name: str) -> dict:
        data = original(name)
        data.pop("init_main_from_path", None)
        data.pop("init_main_from_name", None)
        return data

    with _context_lock:
        spawn.get_preparation_data = without_main
        try:
            process.start()
        finally:
            spawn.get_preparation_data = original


@dataclass(frozen=True)
class ProcessJob:
    """What a decoder process is told about one video."""

    vid: str
    path: str
    info: VideoInfo | None
    consumers: dict[str, SamplingSpec]
    needed: tuple[str, ...]
    clip_seconds: float
    chunk_seconds: float
    backend: str


def slot_bytes(preprocessors: Mapping[str, VideoExtractor], clip_seconds: float, chunk_seconds: float) -> int:
    """Bytes of one slot: a chunk's clips (`chunk_seconds // clip_seconds`) for every extractor."""
    clips = max(1, int(chunk_seconds // clip_seconds))
    return max(1, clips * sum(math.prod(p.clip_shape) for p in preprocessors.values()))


class SlotLease:
    """One chunk's slot, lent to the engine until each of its `parts` (extractors) was batched."""

    def __init__(self, owner: DecodeProcess, slot: int, parts: int):
        self.owner, self.slot, self.parts = owner, slot, parts
        self._lock = threading.Lock()

    def done(self) -> None:
        """One extractor's clips of the slot are no longer needed (copied into a batch or dropped)."""
        with self._lock:
            self.parts -= 1
            last = self.parts == 0
        if last:
            self.owner.free(self.slot)

    @property
    def starved(self) -> bool:
        """Every slot of the owning process is lent: it waits until the engine returns one."""
        return self.owner.starved


class DecodeProcess:
    """A decoder process and its shared-memory slots (parent side)."""

    def __init__(self, preprocessors: Mapping[str, VideoExtractor], slots: int, size: int):
        ctx = _mp_context([type(p).__module__ for p in preprocessors.values()])
        self.slots = [shared_memory.SharedMemory(create=True, size=size) for _ in range(slots)]
        self._views = [np.ndarray((size,), np.uint8, buffer=s.buf) for s in self.slots]
        self.lent = 0
        self._lock = threading.Lock()
        jobs_r, self._jobs = ctx.Pipe(duplex=False)
        self._results, results_w = ctx.Pipe(duplex=False)
        self.process = ctx.Process(target=_serve, name="videolights-decode", daemon=True,
                                   args=(jobs_r, results_w, [s.name for s in self.slots], dict(preprocessors)))
        _start_without_main(self.process)
        jobs_r.close()
        results_w.close()
        self._unlink_once_attached()

    def _unlink_once_attached(self) -> None:
        """Remove the slots' names as soon as the process has mapped them: the memory then lives only
        as long as a process maps it, so even a run killed with SIGKILL (no cleanup at all) leaves
        nothing behind in /dev/shm."""
        try:
            ready = self._results.recv()
        except (EOFError, OSError):
            ready = None
        for segment in self.slots:
            segment.unlink()
        if ready != ("ready",):
            self.process.join(timeout=STOP_TIMEOUT_S)
            raise RuntimeError(f"the decoder process did not start (exit code {self.process.exitcode})")

    @property
    def alive(self) -> bool:
        return self.process.is_alive()

    @property
    def starved(self) -> bool:
        return self.lent >= len(self.slots)

    def _send(self, message: tuple) -> None:
        with self._lock:
            try:
                self._jobs.send(message)
            except (OSError, ValueError):  # the process is gone: nothing to tell it
                pass

    def free(self, slot: int) -> None:
        with self._lock:
            self.lent -= 1
        self._send(("free", slot))

    def decode(self, job: ProcessJob, stats: DecodeStats
               ) -> Iterator[tuple[int, dict[str, list[torch.Tensor]], ClipChunk, SlotLease | None]]:
        """Yields (first clip, extractor -> its preprocessed clips, the chunk for the taps, the lease
        of the slot holding the clips) per chunk; fills `stats` at the end.

        Raises:
            VideoDecodeError: the video is not readable, or the process died on it.
            RuntimeError: anything else went wrong in the process (its traceback in the message).
        """
        self._send(("job", job))
        while True:
            try:
                message = self._results.recv()
            except (EOFError, OSError):
                self.process.join(timeout=STOP_TIMEOUT_S)
                raise VideoDecodeError(job.path, f"the decoder process died (exit code {self.process.exitcode})")
            kind = message[0]
            if kind == "chunk":
                _, slot, first, parts, chunk = message
                yield first, self._tensors(slot, parts), chunk, self._lease(slot, len(parts))
            elif kind == "done":
                for key, value in vars(message[1]).items():
                    setattr(stats, key, value)
                return
            elif kind == "failed":
                raise VideoDecodeError(job.path, message[1])
            else:
                raise RuntimeError(f"decoder process failed on {job.path}:\n{message[1]}")

    def _lease(self, slot: int, parts: int) -> SlotLease | None:
        if slot < 0:
            return None
        with self._lock:
            self.lent += 1
        return SlotLease(self, slot, parts)

    def _tensors(self, slot: int, parts: dict[str, tuple[int, tuple[int, ...]]]) -> dict[str, list[torch.Tensor]]:
        out = {}
        for name, (offset, shape) in parts.items():
            block = self._views[slot][offset:offset + math.prod(shape)].reshape(shape)
            out[name] = list(torch.from_numpy(block).unbind(0))  # views into the slot
        return out

    def stop(self) -> None:
        """Ask the process to stop after its current chunk (its pipe then closes)."""
        self._send(("stop",))

    def close(self) -> None:
        """Stop the process (terminate, then kill, if it does not exit) and unmap the slots."""
        self.stop()
        self.process.join(timeout=STOP_TIMEOUT_S)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout=STOP_TIMEOUT_S)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self._jobs.close()
        self._results.close()
        self._views = []
        for segment in self.slots:  # their names went at the start (`_unlink_once_attached`)
            try:
                segment.close()
            except BufferError:  # a tensor still views it: the mapping goes when that tensor does
                _still_mapped.append(segment)


_still_mapped: list[shared_memory.SharedMemory] = []


class _Stop(Exception):
    """The parent asked the process to stop."""


def _serve(jobs, results, slot_names: list[str], preprocessors: dict[str, VideoExtractor]) -> None:
    """The decoder process: decode the jobs it is sent, one at a time, until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    torch.set_num_threads(1)
    slots = [shared_memory.SharedMemory(name=name) for name in slot_names]
    worker = _Worker(jobs, results, slots, preprocessors)
    try:
        results.send(("ready",))
        while True:
            message = jobs.recv()
            if message[0] == "stop":
                return
            if message[0] == "free":
                worker.free.append(message[1])
                continue
            worker.run(message[1])
    except (_Stop, EOFError, BrokenPipeError):
        return
    finally:
        worker.views.clear()
        for segment in slots:
            try:
                segment.close()
            except BufferError:  # a view survived (an exception's traceback): the exit unmaps it
                pass


class _Worker:
    def __init__(self, jobs, results, slots: list[shared_memory.SharedMemory],
                 preprocessors: dict[str, VideoExtractor]):
        self.jobs, self.results, self.preprocessors = jobs, results, preprocessors
        self.views = [np.ndarray((s.size,), np.uint8, buffer=s.buf) for s in slots]
        self.free = list(range(len(slots)))

    def run(self, job: ProcessJob) -> None:
        stats = DecodeStats()
        try:
            for chunk in decode_clips(job.path, job.consumers, job.clip_seconds, job.chunk_seconds, job.backend,
                                      job.info, stats):
                self._check_messages(block=False)
                self._send_chunk(job, chunk)
        except VideoDecodeError as exc:
            self.results.send(("failed", exc.reason))
        except (_Stop, EOFError, BrokenPipeError):
            raise
        except Exception:  # a bug or a broken environment: the parent stops the run with this text
            self.results.send(("crashed", traceback.format_exc()))
        else:
            self.results.send(("done", stats))

    def _check_messages(self, block: bool) -> None:
        while block or self.jobs.poll():
            message = self.jobs.recv()
            if message[0] == "stop":
                raise _Stop
            if message[0] == "free":
                self.free.append(message[1])
                block = False

    def _send_chunk(self, job: ProcessJob, chunk: ClipChunk) -> None:
        slot, parts = -1, {}
        if job.needed:
            while not self.free:
                self._check_messages(block=True)
            slot = self.free.pop()
            offset, view = 0, self.views[slot]
            for name in job.needed:
                clips = chunk.frames[name]
                pre = self.preprocessors[name]
                shape = (len(clips), *pre.clip_shape)
                block = view[offset:offset + math.prod(shape)].reshape(shape)
                for i, clip in enumerate(clips):
                    block[i] = pre.preprocess_clip(clip).cpu().numpy()
                parts[name] = (offset, shape)
                offset += math.prod(shape)
        taps = [name for name in job.consumers if name not in job.needed]
        chunk = host_frames(chunk, exclude=job.needed)
        tap_chunk = ClipChunk(first_clip=chunk.first_clip, clip_times=chunk.clip_times,
                              frames={n: chunk.frames[n] for n in taps},
                              frame_times={n: chunk.frame_times[n] for n in taps},
                              frame_index={n: chunk.frame_index[n] for n in taps})
        self.results.send(("chunk", slot, chunk.first_clip, parts, tap_chunk))


def process_job(vid: str, path: Path, info: VideoInfo | None, consumers: Mapping[str, SamplingSpec],
                needed: list[str], decode: DecodeConfig) -> ProcessJob:
    """What a decoder process needs to decode one video with `decode`'s settings."""
    return ProcessJob(vid=vid, path=str(path), info=info, consumers=dict(consumers), needed=tuple(needed),
                      clip_seconds=decode.clip_seconds, chunk_seconds=decode.chunk_seconds, backend=decode.backend)
