"""Prefect caching of the pipeline's steps: the key is the step plan's fingerprint, results and
cache locks live in the run's workdir.

A plan's key (pipeline.workflow.keys.step_key) hashes the step's config and code version, its
input files by content, and the store entries it reads by extractor spec and source fingerprint;
never a bare path. The cache is SERIALIZABLE with file locks: two runs reaching the same step
with the same key do the work once, the second waits and then reads the first one's result.

The locks are OS locks (`FlockLockManager`), not Prefect's FileSystemLockManager: Prefect's
transactions take their lock with no expiry, and that manager's lock is a file that outlives
its holder, so a run killed during training would leave every later run of the same step
waiting forever. An flock is dropped by the kernel when its holder dies, even by SIGKILL.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from prefect.cache_policies import CachePolicy
from prefect.context import TaskRunContext
from prefect.locking.protocol import LockManager

from storage.locks import Claim, Locks

# Claims held by this process: (lock folder, key) -> (holder, claim). Module-level so that copies
# of a manager (Prefect copies task options) see the same holders.
_claims: dict[tuple[str, str], tuple[str, Claim]] = {}
_claims_lock = threading.Lock()
_POLL = 0.1


@dataclass
class PlanKey(CachePolicy):
    """Cache key = `<task name>-<plan.key>` of the task's `plan` argument (None: not cached)."""

    parameter: str = "plan"

    def compute_key(self, task_ctx: TaskRunContext, inputs: dict[str, Any], flow_parameters: dict[str, Any],
                    **kwargs: Any) -> str | None:
        plan = (inputs or {}).get(self.parameter)
        key = getattr(plan, "key", None)
        return None if key is None else f"{task_ctx.task.name}-{key}"


class FlockLockManager(LockManager):
    """Prefect's lock manager protocol over `storage.locks.Locks`: an exclusive flock per cache key
    under `folder`, excluding other processes and other threads of this one; a dead holder's
    lock is free at once. `hold_timeout` is not needed (and ignored): a live holder is working."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self._locks = Locks(self.folder, space=f"prefect-cache:{self.folder.resolve()}")

    def __repr__(self) -> str:
        return f"FlockLockManager({str(self.folder)!r})"

    def _slot(self, key: str) -> tuple[str, str]:
        return self._locks.space, key

    def acquire_lock(self, key: str, holder: str, acquire_timeout: float | None = None,
                     hold_timeout: float | None = None) -> bool:
        if self.is_lock_holder(key, holder):
            return True
        if acquire_timeout is None:
            claim: Claim | None = self._locks.claim([key])
        else:
            deadline = time.monotonic() + acquire_timeout
            while (claim := self._locks.try_claim([key])) is None and time.monotonic() < deadline:
                time.sleep(_POLL)
            if claim is None:
                return False
        with _claims_lock:
            _claims[self._slot(key)] = (holder, claim)
        return True

    async def aacquire_lock(self, key: str, holder: str, acquire_timeout: float | None = None,
                            hold_timeout: float | None = None) -> bool:
        return await anyio.to_thread.run_sync(self.acquire_lock, key, holder, acquire_timeout, hold_timeout)

    def release_lock(self, key: str, holder: str) -> None:
        with _claims_lock:
            held = _claims.get(self._slot(key))
            if held is None or held[0] != holder:
                raise ValueError(f"No lock held by {holder} for transaction with key {key}")
            del _claims[self._slot(key)]
        held[1].release()

    def is_locked(self, key: str) -> bool:
        if self._locks.holds(key):
            return True
        claim = self._locks.try_claim([key])
        if claim is None:
            return True
        claim.release()
        return False

    def is_lock_holder(self, key: str, holder: str) -> bool:
        with _claims_lock:
            held = _claims.get(self._slot(key))
        return held is not None and held[0] == holder

    def wait_for_lock(self, key: str, timeout: float | None = None) -> bool:
        if timeout is None:  # asleep until the holder releases (or dies)
            self._locks.claim([key]).release()
            return True
        deadline = time.monotonic() + timeout
        while self.is_locked(key):
            if time.monotonic() >= deadline:
                return False
            time.sleep(_POLL)
        return True

    async def await_for_lock(self, key: str, timeout: float | None = None) -> bool:
        return await anyio.to_thread.run_sync(self.wait_for_lock, key, timeout)


def cached_in(workdir: str | Path) -> dict[str, Any]:
    """Task options that keep the step results, cache records and cache locks under `workdir/.prefect`."""
    root = Path(workdir) / ".prefect"
    (root / "locks").mkdir(parents=True, exist_ok=True)
    policy = PlanKey().configure(key_storage=str(root / "cache-keys"), isolation_level="SERIALIZABLE",
                                 lock_manager=FlockLockManager(root / "locks"))
    return {"cache_policy": policy, "persist_result": True, "result_storage": root / "results"}
