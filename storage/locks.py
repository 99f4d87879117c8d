"""Claims on store entries: OS file locks shared by every process on a local store, in-process elsewhere."""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import cast

from storage.keys import validate_key

log = logging.getLogger(__name__)

LOCK_DIR = ".locks"
"""Folder of a local store's lock files: `<root>/.locks/<kind>/<extractor>/<key>.lock`."""

# Names claimed by this process, per lock space (a store): the first, in-process layer of every
# claim. It lets a writer see that its own process already holds an entry, and is the only
# layer on stores without OS locks.
_held: dict[str, set[str]] = {}
_changed = threading.Condition()
_warned: set[str] = set()


def _forget_after_fork() -> None:
    """A forked child holds none of its parent's claims (and must not inherit a locked condition)."""
    global _changed
    _changed = threading.Condition()
    for names in _held.values():
        names.clear()


os.register_at_fork(after_in_child=_forget_after_fork)


class Claim:
    """Exclusive claims on a few names of one `Locks` space, held until `release()` (or the with block ends).

    A claim belongs to the process, not to a thread: the extract engine claims a video in a decode
    thread and releases it in the thread that writes its features.
    """

    def __init__(self, locks: Locks, names: tuple[str, ...], fds: list[int]):
        self.locks = locks
        self.names = names
        self._fds = fds
        self._released = False

    def __repr__(self) -> str:
        return f"Claim({self.locks.space!r}, {list(self.names)}{', released' if self._released else ''})"

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def release(self) -> None:
        """Drop the claims (a second call does nothing)."""
        with _changed:
            if self._released:
                return
            self._released = True
        try:
            for name, fd in zip(self.names, self._fds):
                self.locks._unlock_file(name, fd)
        finally:
            with _changed:
                _held[self.locks.space].difference_update(self.names)
                _changed.notify_all()


class Locks:
    """Named exclusive locks shared by every process that opens the same store.

    With a `folder` (local stores), a claim is an `fcntl.flock` on `<folder>/<name>.lock`. The
    kernel drops the lock when its holder dies, even by SIGKILL, so a crashed run never leaves a
    claim behind (which a "lock file exists" scheme would). A lock file exists only while held:
    the holder unlinks it before unlocking, and a claimer that locked a file already unlinked
    retries on the file now at the path. flock also works on NFS (emulated with POSIX locks).

    Without a folder (fsspec stores: memory://, s3://, ...) claims exclude the threads of this
    process only. That is complete for memory:// (a process-local store); for shared remote
    stores `shared=True` logs a warning once: two processes may then compute the same entry, and
    two writers of one entry at the same instant may leave one's attributes over the other's data.

    Args:
        folder: where lock files live, or None for in-process claims only.
        space: identity of the store (its URL): claims on one space exclude each other.
        shared: the store may be written by other processes this class cannot see (warn once).
    """

    def __init__(self, folder: str | os.PathLike | None, space: str, shared: bool = False):
        self.folder = None if folder is None else Path(folder)
        self.space = space
        self.shared = shared
        with _changed:
            _held.setdefault(space, set())

    def __repr__(self) -> str:
        return f"Locks({self.space!r}, folder={self.folder})"

    def holds(self, name: str) -> bool:
        """Whether a claim of this process holds `name` (whichever thread took it)."""
        with _changed:
            return name in _held[self.space]

    def try_claim(self, names: Iterable[str]) -> Claim | None:
        """Claim all `names` now, or none of them: None when any is held (by this or another process)."""
        wanted = self._check(names)
        with _changed:
            if not _held[self.space].isdisjoint(wanted):
                return None
            _held[self.space].update(wanted)
        return self._take(wanted, blocking=False)

    def claim(self, names: Iterable[str]) -> Claim:
        """Claim all `names`, waiting (asleep, not polling) until every holder has released them.

        Names are taken in sorted order, so two processes that both wait for several names
        cannot deadlock; a caller must not wait while holding other claims taken out of order.
        """
        wanted = self._check(names)
        with _changed:
            _changed.wait_for(lambda: _held[self.space].isdisjoint(wanted))
            _held[self.space].update(wanted)
        return cast(Claim, self._take(wanted, blocking=True))

    # internals -----------------------------------------------------------------------------
    def _check(self, names: Iterable[str]) -> tuple[str, ...]:
        wanted = tuple(sorted(set(names)))
        for name in wanted:
            for part in name.split("/"):
                validate_key(part, "lock name part")
        if self.folder is None and self.shared and self.space not in _warned:
            _warned.add(self.space)
            log.warning("%s: entry claims hold within this process only (no OS locks on this store); "
                        "two processes extracting into it may compute the same entries: give each run "
                        "its own videos, or extract into a local store and copy it", self.space)
        return wanted

    def _take(self, wanted: tuple[str, ...], blocking: bool) -> Claim | None:
        """The OS locks of names already reserved in this process; on a busy one (or an error) none."""
        fds: list[int] = []
        try:
            for name in wanted:
                fd = self._lock_file(name, blocking)
                if fd is None:
                    break
                fds.append(fd)
        finally:
            if len(fds) < len(wanted):
                Claim(self, wanted, fds).release()  # unlocks what was locked, unreserves every name
        return Claim(self, wanted, fds) if len(fds) == len(wanted) else None

    def _path(self, name: str) -> Path:
        return cast(Path, self.folder) / f"{name}.lock"

    def _lock_file(self, name: str, blocking: bool) -> int | None:
        """A descriptor holding the OS lock of `name`; None when busy and not `blocking`; -1 without a folder."""
        if self.folder is None:
            return -1
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
                held = os.fstat(fd)
                try:
                    current = os.path.samestat(held, os.stat(path))
                except FileNotFoundError:
                    current = False
                if current and held.st_size:  # left by a killed holder: replace it by a fresh one
                    os.unlink(path)
                    current = False
            except BlockingIOError:
                os.close(fd)
                return None
            except BaseException:
                os.close(fd)
                raise
            if current:  # else another holder unlinked it between our open and our lock: retry
                # who holds it, for a person looking (no truncate: ext4 would flush the file on close)
                os.write(fd, f"{socket.gethostname()} {os.getpid()}\n".encode())
                return fd
            os.close(fd)

    def _unlock_file(self, name: str, fd: int) -> None:
        if self.folder is None or fd < 0:
            return
        try:
            os.unlink(self._path(name))  # before unlocking: a waiter then sees its file is gone
        except FileNotFoundError:
            pass
        os.close(fd)
