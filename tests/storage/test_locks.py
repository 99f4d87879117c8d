"""Entry claims: exclusive across real processes, released when the holder dies, guarding every write."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

from storage import EntrySpec, FeatureStore, Locks, fingerprint_text

SPEC = EntrySpec(extractor="clip", version="1", weights_id="tiny:seed0", preset="tiny", clip_seconds=2.0)
ENTRY = "video/clip/v1"


def _holder(url: str, names: list[str], then: str = "wait") -> subprocess.Popen:
    """A process that claims `names` in the store at `url`, says "held", then waits for a line on stdin
    ("wait": releases and says "released") or sleeps until killed ("sleep")."""
    script = textwrap.dedent(f"""
        import sys, time
        from storage import FeatureStore
        claim = FeatureStore({url!r}).claim({names!r})
        print("held", flush=True)
        if {then!r} == "sleep":
            time.sleep(600)
        sys.stdin.readline()
        claim.release()
        print("released", flush=True)
        sys.stdin.readline()
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def _tell(proc: subprocess.Popen, expect: str | None = None) -> None:
    proc.stdin.write("\n")
    proc.stdin.flush()
    if expect:
        assert proc.stdout.readline().strip() == expect


def test_try_claim_fails_while_another_process_holds_it_and_succeeds_after_release(tmp_path):
    url = str(tmp_path / "store")
    store = FeatureStore(url)
    proc = _holder(url, [ENTRY, "video/slowfast/v1"])
    try:
        assert store.try_claim([ENTRY]) is None
        assert store.try_claim(["video/slowfast/v1", "video/clip/v2"]) is None  # all or nothing
        other = store.try_claim(["video/clip/v2"])  # unrelated entries stay free
        assert other is not None
        other.release()
        held_file = tmp_path / "store" / ".locks" / "video" / "clip" / "v1.lock"
        assert held_file.read_text().split()[1] == str(proc.pid)  # who holds it, for a person looking
        _tell(proc, "released")
        claim = store.try_claim([ENTRY, "video/slowfast/v1"])
        assert claim is not None and store.locks.holds(ENTRY)
        claim.release()
        assert not store.locks.holds(ENTRY)
        assert not list((tmp_path / "store" / ".locks").rglob("*.lock"))  # lock files exist only while held
    finally:
        proc.kill()
        proc.wait()


def test_a_claim_held_by_a_killed_process_is_released(tmp_path):
    url = str(tmp_path / "store")
    store = FeatureStore(url)
    proc = _holder(url, [ENTRY], then="sleep")
    assert store.try_claim([ENTRY]) is None
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    assert (tmp_path / "store" / ".locks" / "video" / "clip" / "v1.lock").exists()  # left behind, but unlocked
    claim = store.try_claim([ENTRY])
    assert claim is not None
    claim.release()
    with store.claim([ENTRY]):  # and the blocking claim does not wait
        pass


def test_blocking_claim_sleeps_until_the_other_process_releases(tmp_path):
    url = str(tmp_path / "store")
    store = FeatureStore(url)
    proc = _holder(url, [ENTRY])
    try:
        got = threading.Event()

        def wait_for_it() -> None:
            with store.claim([ENTRY]):
                got.set()

        waiter = threading.Thread(target=wait_for_it)
        waiter.start()
        assert not got.wait(0.3)
        _tell(proc, "released")
        assert got.wait(10)
        waiter.join()
    finally:
        proc.kill()
        proc.wait()


def test_a_write_waits_for_the_entrys_claim_held_by_another_process(tmp_path):
    """Writes are serialised per entry: a writer not holding the claim waits for its holder, so two
    writers never interleave the array's re-creation, chunks and flag."""
    url = str(tmp_path / "store")
    store = FeatureStore(url)
    proc = _holder(url, [ENTRY])
    try:
        done = threading.Event()
        writer = threading.Thread(target=lambda: (store.write_video("clip", "v1", np.ones((2, 3)), SPEC,
                                                                    fingerprint_text("x")), done.set()))
        writer.start()
        assert not done.wait(0.3) and store.attrs("video", "clip", "v1") is None
        _tell(proc, "released")
        assert done.wait(10)
        writer.join()
        assert store.read_video("clip", "v1").shape == (2, 3)
    finally:
        proc.kill()
        proc.wait()


def test_claims_exclude_threads_of_one_process_and_writes_under_ones_own_claim_proceed(tmp_path):
    store = FeatureStore(tmp_path / "store")
    same_store = FeatureStore(tmp_path / "store")
    with store.claim([ENTRY]):
        seen = []
        other = threading.Thread(target=lambda: seen.append(same_store.try_claim([ENTRY])))
        other.start()
        other.join()
        assert seen == [None] and same_store.locks.holds(ENTRY)  # a claim belongs to the process
        store.write_video("clip", "v1", np.ones((2, 3)), SPEC, fingerprint_text("x"))  # our claim: no wait
    assert store.read_video("clip", "v1").shape == (2, 3)
    assert same_store.try_claim([ENTRY]) is not None


def test_memory_stores_claim_in_process_without_lock_files_or_warning(caplog):
    store = FeatureStore("memory://videolights-locks/store")
    assert store.locks.folder is None
    with caplog.at_level(logging.WARNING, logger="storage.locks"):
        with store.claim([ENTRY]):
            assert store.try_claim([ENTRY]) is None
        store.write_video("clip", "v1", np.ones((2, 3)), SPEC, fingerprint_text("x"))
    assert store.read_video("clip", "v1").shape == (2, 3)
    assert not caplog.records  # memory:// lives in this process: in-process claims are complete


def test_stores_other_processes_may_share_without_os_locks_warn_once(caplog):
    locks = Locks(None, space="s3://bucket/videolights-test", shared=True)
    with caplog.at_level(logging.WARNING, logger="storage.locks"):
        for _ in range(3):
            with locks.claim([ENTRY]):
                assert locks.try_claim([ENTRY]) is None
    assert len(caplog.records) == 1 and "within this process only" in caplog.records[0].getMessage()


@pytest.mark.parametrize("name", ["../x", "video/../x", "/abs", "video//x"])
def test_lock_names_are_store_paths(tmp_path, name):
    with pytest.raises(ValueError):
        FeatureStore(tmp_path / "store").try_claim([name])
