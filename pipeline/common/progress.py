"""In-process progress events: stages report, the CLI (or nothing) listens."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol


class ProgressListener(Protocol):
    def start(self, key: str, total: int, description: str) -> None: ...
    def advance(self, key: str, n: int = 1) -> None: ...
    def finish(self, key: str) -> None: ...


_lock = threading.Lock()
_listeners: list[ProgressListener] = []


@contextmanager
def listening(listener: ProgressListener) -> Iterator[ProgressListener]:
    """Send progress events of this process to `listener` while the block runs."""
    with _lock:
        _listeners.append(listener)
    try:
        yield listener
    finally:
        with _lock:
            _listeners.remove(listener)


def listeners() -> list[ProgressListener]:
    """The listeners now attached (a copy)."""
    with _lock:
        return list(_listeners)


def start(key: str, total: int, description: str) -> None:
    for listener in list(_listeners):
        listener.start(key, total, description)


def advance(key: str, n: int = 1) -> None:
    for listener in list(_listeners):
        listener.advance(key, n)


def finish(key: str) -> None:
    for listener in list(_listeners):
        listener.finish(key)
