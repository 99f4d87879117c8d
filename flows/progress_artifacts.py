"""Prefect progress artifacts fed by the stages' progress events (pipeline.common.progress)."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from uuid import UUID

from prefect.artifacts import create_progress_artifact, update_progress_artifact

from pipeline.common import progress

log = logging.getLogger(__name__)


class PrefectProgress:
    """A ProgressListener that shows each long step (decode, extract, train, ...) as a progress
    artifact in the Prefect UI, updated at most every `every` seconds."""

    def __init__(self, prefix: str, every: float = 2.0):
        self.prefix = re.sub(r"[^a-z0-9-]+", "-", prefix.lower()).strip("-") or "run"
        self.every = every
        self._lock = threading.Lock()
        self._bars: dict[str, list] = {}  # key -> [artifact id, total, done, last update time]

    def start(self, key: str, total: int, description: str) -> None:
        try:
            slug = re.sub(r"[^a-z0-9-]+", "-", key.lower()).strip("-")
            artifact = create_progress_artifact(0.0, key=f"{self.prefix}-{slug}-progress", description=description)
        except Exception as exc:  # progress display must never fail a run
            log.debug("progress artifact for %s not created: %s", key, exc)
            return
        with self._lock:
            self._bars[key] = [artifact, max(1, total), 0, time.monotonic()]

    def advance(self, key: str, n: int = 1) -> None:
        with self._lock:
            bar = self._bars.get(key)
            if bar is None:
                return
            bar[2] += n
            if time.monotonic() - bar[3] < self.every:
                return
            bar[3] = time.monotonic()
            artifact, percent = bar[0], min(100.0, 100.0 * bar[2] / bar[1])
        self._update(artifact, percent)

    def finish(self, key: str) -> None:
        with self._lock:
            bar = self._bars.pop(key, None)
        if bar is not None:
            self._update(bar[0], 100.0)

    @staticmethod
    def _update(artifact: UUID, percent: float) -> None:
        try:
            update_progress_artifact(artifact, percent)
        except Exception as exc:
            log.debug("progress artifact %s not updated: %s", artifact, exc)


@contextmanager
def progress_artifacts(prefix: str) -> Iterator[None]:
    """Progress artifacts of the stages' events for this flow run, unless an enclosing run (the
    parent DAG) already makes them: CLI runs and deployment runs show the same progress."""
    if any(isinstance(listener, PrefectProgress) for listener in progress.listeners()):
        yield
        return
    with progress.listening(PrefectProgress(prefix)):
        yield
