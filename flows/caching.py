"""Prefect caching of the pipeline's steps: the key is the step plan's fingerprint, results and
cache locks live in the run's workdir.

A plan's key (pipeline.workflow.keys.step_key) hashes the step's config and code version, its
input files by content, and the store entries it reads by extractor spec and source fingerprint;
never a bare path. The cache is SERIALIZABLE with file locks: two runs reaching the same step
with the same key do the work once, the second waits and then reads the first one's result.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect.cache_policies import CachePolicy
from prefect.context import TaskRunContext
from prefect.locking.filesystem import FileSystemLockManager


@dataclass
class PlanKey(CachePolicy):
    """Cache key = `<task name>-<plan.key>` of the task's `plan` argument (None: not cached)."""

    parameter: str = "plan"

    def compute_key(self, task_ctx: TaskRunContext, inputs: dict[str, Any], flow_parameters: dict[str, Any],
                    **kwargs: Any) -> str | None:
        plan = (inputs or {}).get(self.parameter)
        key = getattr(plan, "key", None)
        return None if key is None else f"{task_ctx.task.name}-{key}"


def cached_in(workdir: str | Path) -> dict[str, Any]:
    """Task options that keep the step results, cache records and cache locks under `workdir/.prefect`."""
    root = Path(workdir) / ".prefect"
    (root / "locks").mkdir(parents=True, exist_ok=True)
    policy = PlanKey().configure(key_storage=str(root / "cache-keys"), isolation_level="SERIALIZABLE",
                                 lock_manager=FileSystemLockManager(lock_files_directory=root / "locks"))
    return {"cache_policy": policy, "persist_result": True, "result_storage": root / "results"}
