"""Two real processes extracting the same videos and queries into one store: every entry once, none corrupt."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest

from pipeline.extract import DONE_ELSEWHERE, DecodeConfig
from pipeline.extract import ExtractConfig, build_video_extractors, video_entry_spec
from storage import FeatureStore

CONFIG = ExtractConfig(extractors=("clip",), preset="tiny", batch_size=8)
N_QUERIES = 24

RUN = textwrap.dedent("""
    import json, sys, time
    from pipeline.extract import decode_or_fail
    from pipeline.extract import ExtractConfig, build_text_encoders, build_video_extractors, extract_queries, extract_videos
    from storage import FeatureStore

    url, out, videos, queries = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
    config = ExtractConfig.model_validate_json(sys.argv[5])
    extractors, encoders = build_video_extractors(config), build_text_encoders(config)
    store = FeatureStore(url)
    print("ready", flush=True)
    sys.stdin.readline()  # both runs start together
    started = time.perf_counter()
    records = extract_videos(videos, store, extractors, config)
    decoded = [decode_or_fail(v, store, config.decode) for v in videos]
    written = extract_queries(queries, store, encoders, batch_size=4)
    result = {"records": [r.model_dump() for r in records], "decoded": [r.model_dump() for r in decoded],
              "written": written, "seconds": time.perf_counter() - started}
    json.dump(result, open(out, "w"))
""")


def _start(tmp_path: Path, name: str, url: str, videos: list[Path], queries: dict[str, str]) -> subprocess.Popen:
    args = [url, str(tmp_path / f"{name}.json"), json.dumps([str(v) for v in videos]), json.dumps(queries),
            CONFIG.model_dump_json()]
    proc = subprocess.Popen([sys.executable, "-c", RUN, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc


@pytest.mark.slow  # two fresh processes import open_clip and torch: ~25 s on two idle cores
def test_two_processes_on_one_store_compute_each_entry_once(tmp_path, make_video):
    videos = [make_video(f"v{i}.mp4", seconds=4.0 + i % 3) for i in range(6)]
    queries = {str(q): f"a person does thing number {q}" for q in range(N_QUERIES)}
    url = str(tmp_path / "store")
    store = FeatureStore(url)
    # this test holds v0 while the runs start: both put it off, wait for it, and only one computes it
    held = store.claim([store.entry_path("video", "clip", "v0")])
    runs = [_start(tmp_path, name, url, videos, queries) for name in ("a", "b")]
    started = time.perf_counter()
    for run in runs:
        run.stdin.write("go\n")
        run.stdin.flush()
    others = [store.entry_path("video", "clip", v.stem) for v in videos[1:]]
    while not all(store.attrs(*p.split("/")) for p in others) and time.perf_counter() - started < 120:
        time.sleep(0.05)
    held.release()
    for run in runs:
        assert run.wait(timeout=300) == 0
    wall = time.perf_counter() - started
    results = {name: json.loads((tmp_path / f"{name}.json").read_text()) for name in ("a", "b")}

    done = Counter(r["vid"] for res in results.values() for r in res["records"] if r["status"] == "done")
    assert done == Counter(v.stem for v in videos), done  # every video computed, by one run only
    for res in results.values():
        assert all(r["status"] in ("done", "skipped") for r in res["records"]), res["records"]
    v0 = {name: next(r for r in res["records"] if r["vid"] == "v0") for name, res in results.items()}
    assert sorted((r["status"], r["reason"]) for r in v0.values()) == [("done", ""), ("skipped", DONE_ELSEWHERE)]

    decoded = Counter(r["vid"] for res in results.values() for r in res["decoded"] if r["status"] == "done")
    assert decoded == Counter(v.stem for v in videos), decoded
    assert sum(res["written"]["clip"] for res in results.values()) == N_QUERIES

    extractor = build_video_extractors(CONFIG)["clip"]
    spec = video_entry_spec(extractor, CONFIG.decode.clip_seconds)
    for video in videos:
        assert store.status("video", "clip", video.stem, spec, video).state == "current"
        feats = store.read_video("clip", video.stem)
        assert feats.shape == (store.attrs("video", "clip", video.stem)["n_clips"], extractor.dim)
        assert store.status("video", "clips", video.stem, DecodeConfig().grid_spec(), video).state == "current"
    assert sorted(store.keys("text", "clip"), key=int) == list(queries)
    assert not list((tmp_path / "store" / ".locks").rglob("*.lock"))  # every claim released
    split = {name: sum(r["status"] == "done" for r in res["records"]) for name, res in results.items()}
    print(f"two runs, {len(videos)} videos: done per run {split}, wall {wall:.1f} s, "
          f"run seconds {[round(res['seconds'], 1) for res in results.values()]}")


@pytest.mark.parametrize("force", [False, True])
def test_a_video_claimed_by_another_run_is_waited_for_then_redone_if_left_undone(tmp_path, make_video, force):
    """The other run let go without writing (it failed or was killed): this run computes the video."""
    from pipeline.extract import extract_videos

    video = make_video("v.mp4", seconds=3.0)
    store = FeatureStore(tmp_path / "store")
    extractors = build_video_extractors(CONFIG)
    if force:
        extract_videos([video], store, extractors, CONFIG)
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from storage import FeatureStore
        FeatureStore({str(tmp_path / "store")!r}).claim(["video/clip/v"])
        print("held", flush=True)
        time.sleep(1.0)
    """)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    records = extract_videos([video], store, extractors, CONFIG, force=force)
    assert holder.wait() == 0
    assert [(r.status, r.reason) for r in records] == [("done", "")]
    assert store.read_video("clip", "v").shape[0] == records[0].n_clips
