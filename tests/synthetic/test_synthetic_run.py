"""synthesize() end to end on generated videos with tiny models: rows, filters, store, failures, resume."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pipeline.datasets.readers import read_annotations
from pipeline.extractors.blip2 import Blip2Extractor
from pipeline.synthetic import (
    OutputLockedError,
    OutputMismatchError,
    SynthesisOutput,
    VideoSynthesizer,
    synthesize,
)
from pipeline.synthetic.output import progress_path
from pipeline.video import DecodeStats, decode_clips, probe_video
from storage import FeatureStore

DURATIONS = {"short": 5.0, "ten": 10.0, "mid": 35.0, "long": 150.0, "still": 30.0}


@pytest.fixture(scope="module")
def run(video_dir, tiny_models, fast_config, tmp_path_factory):
    """One synthesize() run over all test videos (the bad one included)."""
    root = tmp_path_factory.mktemp("run")
    out, store = root / "out" / "pretrain.jsonl", root / "store"
    summary = synthesize(video_dir, store, out, fast_config, models=tiny_models)
    return {"summary": summary, "out": out, "store": store, "root": root}


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_summary_counts_videos_rows_and_filters(run):
    s = run["summary"]
    assert (s.done, s.skipped, s.failed) == (5, 0, 1)
    assert s.failures[0].item.endswith("bad.mp4") and "not a readable media file" in s.failures[0].reason
    assert not s.ok
    # 0 + 1 + 3 + 15 + 3 intervals; the still video's captions 2 and 3 repeat its first
    assert s.intervals == 22 and s.captions_repeated == 2 and s.captions_empty == 0
    assert s.rows_written == 20 == len(_rows(run["out"]))
    text = s.text()
    assert "5 done, 0 skipped (0 finished earlier), 1 failed" in text and "FAILED" in text
    assert "rows written: 20 from 22 intervals; captions filtered: 0 empty, 2 repeated" in text


def test_rows_are_valid_qvhighlights_pretraining_rows(run):
    annotations = read_annotations(run["out"], "pretrain")  # raises on any malformed row
    assert len(annotations) == 20
    per_vid: dict[str, list] = {}
    for row in annotations:
        per_vid.setdefault(row.vid, []).append(row)
        (start, end), = row.relevant_windows
        assert end - start == 10.0 and start % 10 == 0 and end <= row.duration
        assert row.qid == f"{row.vid}_{start:g}_{end:g}"
        assert row.relevant_clip_ids == list(range(int(start // 2), int(end // 2)))
        assert len(row.saliency_scores) == 5 and all(len(s) == 1 for s in row.saliency_scores)
        # the release mapping: every score in [e, e^2.5]
        assert all(2.718 <= s[0] <= 12.1825 for s in row.saliency_scores)
        assert row.query.strip() and row.duration == DURATIONS[row.vid]
    assert {vid: len(rows) for vid, rows in per_vid.items()} == {"ten": 1, "mid": 3, "long": 15, "still": 1}
    assert [r.relevant_windows[0][0] for r in per_vid["long"]] == [10.0 * i for i in range(15)]


def test_caption_features_are_in_the_store(run):
    store = FeatureStore(run["store"], mode="r")
    qids = [row["qid"] for row in _rows(run["out"])]
    for encoder in ("clip", "blip2"):
        assert store.keys("text", encoder) == sorted(qids)
        tokens, pooled = store.read_text(encoder, qids[0])
        assert tokens.ndim == 2 and tokens.shape[1] == 32 and pooled.shape == (32,)
        attrs = store.attrs("text", encoder, qids[0])
        assert attrs["tiny"] is True and attrs["spec"]["preset"] == "tiny"


def test_progress_file_records_settings_and_finished_videos(run):
    lines = [json.loads(x) for x in progress_path(run["out"]).read_text().splitlines()]
    manifest = lines[0]["manifest"]
    assert manifest["generation"] == {"num_beams": 1, "max_new_tokens": 8, "min_new_tokens": 1,
                                      "repetition_penalty": 1.0, "length_penalty": 1.0}
    assert (manifest["frame_rule"], manifest["scorer"], manifest["mapping"]) == ("middle", "itm", "release")
    records = {r["vid"]: r for r in lines[1:]}
    assert set(records) == {"short", "ten", "mid", "long", "still"}  # the failed video is not finished
    assert records["long"]["weights"] == {"captioner": "tiny:seed0", "scorer": "tiny:seed0"}
    assert records["short"]["rows"] == 0


def test_a_rerun_has_nothing_to_do(run, video_dir, tiny_models, fast_config):
    before = run["out"].read_bytes()
    again = synthesize(video_dir, run["store"], run["out"], fast_config, models=tiny_models)
    assert (again.done, again.skipped, again.already_done, again.failed, again.rows_written) == (0, 5, 5, 1, 0)
    assert run["out"].read_bytes() == before


def test_resume_after_a_kill_repairs_and_completes_without_duplicates(run, video_dir, tiny_models, fast_config,
                                                                      tmp_path):
    full = _rows(run["out"])
    out = tmp_path / "pretrain.jsonl"
    # what a kill while writing "long" leaves: its rows appended but not committed (no progress record),
    # and a half-written line after them
    records = progress_path(run["out"]).read_text().splitlines()
    kept = [r for r in records if json.loads(r).get("vid") != "long"]
    progress_path(out).write_text("\n".join(kept) + "\n")
    lines = run["out"].read_text().splitlines()
    out.write_text("\n".join(lines) + "\n" + lines[-1][: len(lines[-1]) // 2])
    resumed = synthesize(video_dir, run["store"], out, fast_config, models=tiny_models)
    assert resumed.done == 1 and resumed.already_done == 4 and resumed.rows_written == 15
    assert any("half-written" in n for n in resumed.notes) and any("dropped 15 rows" in n for n in resumed.notes)
    rows = _rows(out)
    assert len({r["qid"] for r in rows}) == len(rows) == len(full)
    # redone rows are identical to the first run's: captions and scores are deterministic
    assert sorted(rows, key=lambda r: r["qid"]) == sorted(full, key=lambda r: r["qid"])
    assert len(read_annotations(out, "pretrain")) == 20


def test_other_settings_cannot_resume_an_output(run, video_dir, tiny_models, fast_config, tmp_path):
    out = tmp_path / "pretrain.jsonl"
    shutil.copy(run["out"], out)
    shutil.copy(progress_path(run["out"]), progress_path(out))
    other = fast_config.model_copy(update={"frame_rule": "first"})
    with pytest.raises(OutputMismatchError, match="frame_rule: 'middle' -> 'first'"):
        synthesize(video_dir, run["store"], out, other, models=tiny_models)
    redo = synthesize([video_dir / "ten.mp4"], run["store"], out, other, models=tiny_models, overwrite=True)
    assert redo.done == 1 and len(_rows(out)) == 1
    stray = tmp_path / "stray.jsonl"
    stray.write_text('{"qid": "x_0_10"}\n')
    with pytest.raises(OutputMismatchError, match="no progress file"):
        synthesize([], run["store"], stray, fast_config)


def test_one_writer_per_output(tmp_path):
    with SynthesisOutput(tmp_path / "o.jsonl", {"a": 1}):
        with pytest.raises(OutputLockedError, match="another synthesize run"):
            with SynthesisOutput(tmp_path / "o.jsonl", {"a": 1}):
                pass


def test_too_long_videos_are_skipped_with_a_reason(video_dir, tiny_models, fast_config, tmp_path):
    config = fast_config.model_copy(update={"max_duration": 20.0})
    s = synthesize([video_dir / "ten.mp4", video_dir / "mid.mp4"], tmp_path / "store", tmp_path / "o.jsonl", config,
                   models=tiny_models)
    assert (s.done, s.skipped, s.failed) == (1, 1, 0)
    assert s.skips[0].item.endswith("mid.mp4") and "longer than max_duration=20 s" in s.skips[0].reason
    assert "skipped" in s.text() and "max_duration" in s.text()


def test_a_shared_decode_pass_feeds_synthesis_and_an_extractor(run, video_dir, tiny_models, fast_config):
    path = video_dir / "mid.mp4"
    info = probe_video(path)
    extractor = Blip2Extractor.tiny()
    synth = VideoSynthesizer("mid", info.duration, tiny_models, fast_config)
    stats, clips = DecodeStats(), []
    for chunk in decode_clips(path, {**synth.consumers, "blip2": extractor.sampling}, info=info, stats=stats):
        synth.feed(chunk)
        clips += chunk.frames["blip2"]
    result = synth.finish()
    assert stats.opens == 1 and len(clips) == 18
    assert extractor.encode_video(clips).shape == (18, 32)
    assert result.rows == [r for r in _rows(run["out"]) if r["vid"] == "mid"]
    assert result.caption_frame_times == {0: 5.0, 1: 15.0, 2: 25.0}  # the middle frames


def test_the_extraction_pass_synthesizes_with_one_decode_per_video(run, video_dir, tiny_models, fast_config,
                                                                   tmp_path):
    from pipeline.extract import FEATURES_CURRENT, ExtractConfig, build_video_extractors, extract_videos
    from pipeline.synthetic import open_synthesis

    names = ("short", "ten", "mid", "still")
    paths = [video_dir / f"{n}.mp4" for n in names] + [video_dir / "bad.mp4"]
    store = FeatureStore(tmp_path / "store")
    config = ExtractConfig(extractors=("clip",), text_encoders=())
    extractors = build_video_extractors(config)
    expected = [r for r in _rows(run["out"]) if r["vid"] in names]

    def extract_with_synthesis(out: Path, taken=paths):
        stats: dict = {}
        with open_synthesis(store, out, fast_config, videos=taken, models=tiny_models) as tap:
            records = extract_videos(paths, store, extractors, config, decode_stats=stats, taps=[tap])
        return records, stats, tap.summary

    records, stats, summary = extract_with_synthesis(tmp_path / "a.jsonl")
    assert [r.status for r in records] == ["done"] * 4 + ["failed"]
    assert {vid: s.opens for vid, s in stats.items()} == {n: 1 for n in names}  # one decode for both stages
    assert summary.done == 4 and summary.rows_written == len(expected) > 0
    assert sorted(_rows(tmp_path / "a.jsonl"), key=lambda r: r["qid"]) == sorted(expected, key=lambda r: r["qid"])
    assert store.attrs("text", "clip", expected[0]["qid"]) is not None  # caption features stored

    # features current: the videos are decoded for synthesis alone, and only those the tap takes
    records, stats, summary = extract_with_synthesis(tmp_path / "b.jsonl", taken=paths[1:3])
    assert [(r.status, r.reason) for r in records[:4]] == [("skipped", "")] + [("skipped", FEATURES_CURRENT)] * 2 + [
        ("skipped", "")]
    assert set(stats) == {"ten", "mid"} and summary.done == 2
    assert {r["vid"] for r in _rows(tmp_path / "b.jsonl")} == {"ten", "mid"}

    # the synthesize stage afterwards finds them finished
    after = synthesize(paths, store, tmp_path / "a.jsonl", fast_config, models=tiny_models)
    assert after.already_done == 4 and after.rows_written == 0 and after.failed == 1


def test_a_synthesis_error_on_the_extraction_pass_leaves_extraction_going(video_dir, fast_config, tmp_path,
                                                                           empty_hf_cache):
    """Absent paper weights: extraction finishes, the tap stops taking videos, and the synthesize
    stage on its own pass raises the explained error."""
    from pipeline.extract import ExtractConfig, build_video_extractors, extract_videos
    from pipeline.extractors import MissingWeightsError
    from pipeline.synthetic import open_synthesis

    paper = fast_config.model_copy(update={"preset": "paper", "weights_dir": str(tmp_path / "weights")})
    paths = [video_dir / "ten.mp4", video_dir / "mid.mp4"]
    store = FeatureStore(tmp_path / "store")
    config = ExtractConfig(extractors=("clip",), text_encoders=())
    with open_synthesis(store, tmp_path / "rows.jsonl", paper, videos=paths, contain_errors=True) as tap:
        records = extract_videos(paths, store, build_video_extractors(config), config, taps=[tap])
    assert [r.status for r in records] == ["done", "done"]
    assert tap.broken is not None and tap.broken.startswith("MissingWeightsError")
    assert tap.summary.done == 0 and not _rows(tmp_path / "rows.jsonl")
    with pytest.raises(MissingWeightsError):
        synthesize(paths, store, tmp_path / "rows.jsonl", paper)


def test_output_repairs_a_record_cut_mid_write(tmp_path):
    path, manifest = tmp_path / "o.jsonl", {"frame_rule": "middle"}
    rows = {"a": [{"qid": "a_0_10", "vid": "a"}, {"qid": "a_10_20", "vid": "a"}], "b": [{"qid": "b_0_10", "vid": "b"}]}
    with SynthesisOutput(path, manifest) as out:
        for vid, vid_rows in rows.items():
            out.append_video(vid, vid_rows, {"rows": len(vid_rows)})
    progress = progress_path(path)
    progress.write_bytes(progress.read_bytes()[:-5])  # b's record cut short by a kill
    with SynthesisOutput(path, manifest) as out:
        assert set(out.done) == {"a"}
        assert out.repaired == ["cut a half-written last line", "dropped 1 rows of 1 unfinished video(s)"]
    assert _rows(path) == rows["a"]
    assert progress.read_text().endswith("\n") and len(progress.read_text().splitlines()) == 2
    with SynthesisOutput(path, manifest) as out:  # nothing left to repair
        assert out.repaired == [] and set(out.done) == {"a"}
