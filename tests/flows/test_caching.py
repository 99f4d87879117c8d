"""The step cache's locks: exclusive across processes and threads, and free again the moment a
holder is killed (Prefect's own file-system locks would stay held forever after a SIGKILL)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from prefect import flow, task

from flows.caching import FlockLockManager, cached_in

ROOT = Path(__file__).resolve().parents[2]


def _hold_in_subprocess(script: str, ready: str, **env: str) -> subprocess.Popen:
    """Start `script` in a new Python process and wait until it prints `ready`."""
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONPATH": str(ROOT), "PREFECT_LOGGING_LEVEL": "WARNING", **env})
    out = []
    for line in proc.stdout:
        out.append(line)
        if line.strip() == ready:
            return proc
    proc.wait()
    raise AssertionError(f"the holder process ended before {ready!r}:\n" + "".join(out)[-3000:])


def test_a_killed_holders_lock_is_free_at_once(tmp_path) -> None:
    proc = _hold_in_subprocess(f"""
        import time
        from flows.caching import FlockLockManager
        assert FlockLockManager({str(tmp_path)!r}).acquire_lock("train-abc", "holder-1")
        print("held", flush=True)
        time.sleep(600)
    """, "held")
    try:
        locks = FlockLockManager(tmp_path)
        assert locks.is_locked("train-abc")
        assert not locks.acquire_lock("train-abc", "holder-2", acquire_timeout=0.3)
        assert not locks.wait_for_lock("train-abc", timeout=0.3)
    finally:
        proc.kill()
        proc.wait()
    assert not locks.is_locked("train-abc")
    assert locks.acquire_lock("train-abc", "holder-2", acquire_timeout=5)
    assert locks.is_lock_holder("train-abc", "holder-2") and not locks.is_lock_holder("train-abc", "holder-1")
    locks.release_lock("train-abc", "holder-2")
    assert not locks.is_locked("train-abc")


def test_threads_of_one_process_wait_for_each_other(tmp_path) -> None:
    locks = FlockLockManager(tmp_path)
    assert locks.acquire_lock("k", "a")
    assert locks.acquire_lock("k", "a")  # the holder asking again keeps it
    with pytest.raises(ValueError, match="No lock held by b"):
        locks.release_lock("k", "b")
    order: list[str] = []

    def second() -> None:
        assert FlockLockManager(tmp_path).acquire_lock("k", "b")
        order.append("b acquired")
        locks.release_lock("k", "b")

    waiter = threading.Thread(target=second)
    waiter.start()
    time.sleep(0.3)
    assert order == [] and locks.is_locked("k")
    order.append("a released")
    locks.release_lock("k", "a")
    waiter.join(timeout=10)
    assert order == ["a released", "b acquired"]
    assert locks.wait_for_lock("k") and not locks.is_locked("k")


@pytest.mark.usefixtures("prefect_harness")
def test_a_cached_step_runs_after_its_previous_runner_was_killed(tmp_path) -> None:
    """A run killed inside a cached step (its lock taken) must not block the next run of that step."""
    from prefect.settings import PREFECT_API_URL

    proc = _hold_in_subprocess(f"""
        import time
        from types import SimpleNamespace
        from prefect import flow, task
        from flows.caching import cached_in

        @task(name="step")
        def step(plan):
            print("inside", flush=True)
            time.sleep(600)

        @flow
        def hold():
            step.with_options(**cached_in({str(tmp_path)!r}))(SimpleNamespace(key="same"))

        hold()
    """, "inside", PREFECT_API_URL=PREFECT_API_URL.value())
    proc.kill()
    proc.wait()
    assert list((tmp_path / ".prefect" / "locks").glob("*.lock")), "the killed run held the step's lock"

    @task(name="step")
    def step(plan) -> int:
        return 42

    @flow
    def rerun() -> tuple[int, str]:
        state = step.with_options(**cached_in(tmp_path))(SimpleNamespace(key="same"), return_state=True)
        again = step.with_options(**cached_in(tmp_path))(SimpleNamespace(key="same"), return_state=True)
        return state.result(), again.name

    started = time.monotonic()
    assert rerun() == (42, "Cached")
    assert time.monotonic() - started < 60
