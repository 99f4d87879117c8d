"""Annotation readers: every real row parses; bad rows are reported with file, line and what was expected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.datasets import (
    AnnotationError,
    CharadesRow,
    PretrainRow,
    QVHighlightsRow,
    TVSumRow,
    read_annotations,
)

REAL_FILES = [
    ("qvhighlights/highlight_train_release.jsonl", "qvhighlights", 7218, True),
    ("qvhighlights/highlight_val_release.jsonl", "qvhighlights", 1550, True),
    ("qvhighlights/highlight_test_release.jsonl", "qvhighlights", 1542, False),
    ("charades_sta/charades_sta_train.jsonl", "charades_sta", 12404, True),
    ("charades_sta/charades_sta_test.jsonl", "charades_sta", 3720, True),
    ("tvsum/tvsum_train.jsonl", "tvsum", 40, True),
    ("tvsum/tvsum_val.jsonl", "tvsum", 10, True),
]
ROW_TYPES = {"qvhighlights": QVHighlightsRow, "charades_sta": CharadesRow, "tvsum": TVSumRow}

GOOD_QVH = {"qid": 1, "query": "a dog runs", "duration": 150, "vid": "abc_0.0_150.0",
            "relevant_windows": [[26, 36]], "relevant_clip_ids": [13, 14, 15, 16, 17],
            "saliency_scores": [[1, 2, 3]] * 5}


@pytest.mark.parametrize(("name", "kind", "count", "labelled"), REAL_FILES, ids=[f[0] for f in REAL_FILES])
def test_every_real_row_parses(data_dir: Path, name: str, kind: str, count: int, labelled: bool) -> None:
    rows = read_annotations(data_dir / name, kind, require_labels=labelled)
    assert len(rows) == count
    assert all(isinstance(r, ROW_TYPES[kind]) for r in rows)
    assert all(r.has_labels == labelled for r in rows)
    assert rows.lines[0] == 1 and rows.lines[-1] == count
    assert rows.where(0).startswith(f"{data_dir / name}, line 1 (qid ")


def test_test_split_refused_where_labels_are_required(data_dir: Path) -> None:
    with pytest.raises(AnnotationError, match=r"line 1 \(qid 3158\): no relevant_windows"):
        read_annotations(data_dir / "qvhighlights/highlight_test_release.jsonl", "qvhighlights",
                         require_labels=True)


def _write(tmp_path: Path, rows: list) -> Path:
    path = tmp_path / "annotations.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def _problems(tmp_path: Path, kind: str, bad: dict | str, **kwargs) -> str:
    """Read [good, bad] and return the error text; the bad row sits on line 2."""
    good = dict(GOOD_QVH) if kind == "qvhighlights" else None
    rows = [good, bad] if good else [bad]
    path = _write(tmp_path, rows)
    with pytest.raises(AnnotationError) as info:
        read_annotations(path, kind, **kwargs)
    text = str(info.value)
    assert str(path) in text
    return text


@pytest.mark.parametrize(("change", "expected"), [
    ({"relevant_windows": [[40, 30]]}, r"line 2 \(qid 2\): relevant_windows\[0\] = \[40, 30\]; expected .*start < end"),
    ({"saliency_scores": [[1, 2, 3]] * 4}, r"line 2 .*saliency_scores has 4 entries but relevant_clip_ids has 5"),
    ({"saliency_scores": [[1, 2]] * 5}, r"line 2 .*saliency_scores\[0\] has 2 scores; expected 3"),
    ({"saliency_scores": [[1, 2, 9]] * 5}, r"line 2 .*saliency_scores\[0\]\[2\]: .*less than or equal to 4"),
    ({"relevant_clip_ids": [13, 14, 15, 16, 80]}, r"line 2 .*relevant_clip_ids reaches 80; a 150 s video has 75 clips"),
    ({"relevant_windows": [[26, 160]]}, r"line 2 .*<= duration \(150 s\)"),
    ({"vid": None}, r"line 2 .*vid None \(row 2\): expected a string or an integer"),
    ({"vid": "../etc"}, r"line 2 .*vid '../etc' \(row 2\): contains a path separator"),
    ({"relevant_window": [[1, 2]]}, r"line 2 .*relevant_window: unknown field"),
    ({"relevant_clip_ids": None}, r"line 2 .*must come together"),
    ({"qid": 1}, r"line 2 \(qid 1\): qid already used on line 1"),
    ({"query": "  "}, r"line 2 .*query is blank"),
])
def test_bad_qvhighlights_rows(tmp_path: Path, change: dict, expected: str) -> None:
    bad = {**GOOD_QVH, "qid": 2, **change}
    assert __import__("re").search(expected, _problems(tmp_path, "qvhighlights", bad))


def test_missing_field_names_what_rows_need(tmp_path: Path) -> None:
    bad = {k: v for k, v in GOOD_QVH.items() if k != "duration"} | {"qid": 2}
    text = _problems(tmp_path, "qvhighlights", bad)
    assert "line 2 (qid 2): duration: missing field; QVHighlightsRow rows need query, duration, vid, qid" in text


def test_invalid_json_and_non_objects(tmp_path: Path) -> None:
    path = _write(tmp_path, [GOOD_QVH, "{not json", "[1, 2]", {**GOOD_QVH, "qid": 5, "relevant_windows": [[9, 1]]}])
    with pytest.raises(AnnotationError) as info:
        read_annotations(path, "qvhighlights")
    text = str(info.value)
    assert "3 bad row(s)" in text
    assert "line 2: not valid JSON" in text
    assert "line 3: got a JSON list; expected one JSON object per line" in text
    assert "line 4 (qid 5): relevant_windows[0]" in text
    assert info.value.problems[0].startswith("line 2")


def test_bad_charades_and_tvsum_rows(tmp_path: Path) -> None:
    charades = {"qid": 7, "query": "person opens a door.", "duration": 30.5, "vid": "AO8RW",
                "relevant_windows": [[12.0, 31.0]]}
    assert "line 1 (qid 7): relevant_windows[0] = [12, 31]" in _problems(tmp_path, "charades_sta", charades)
    empty = {**charades, "relevant_windows": []}
    assert "relevant_windows: List should have at least 1 item" in _problems(tmp_path, "charades_sta", empty)
    tvsum = {"qid": "v1", "query": "t", "duration": 3, "vid": "v1", "relevant_clip_ids": None,
             "relevant_windows": None, "label": [[1, 2], [3, 4], [5, 1]], "domain": "BK"}
    ragged = {**tvsum, "label": [[1, 2], [3]]}
    assert "label[1] has 1 annotator scores; expected 2" in _problems(tmp_path, "tvsum", ragged)
    assert "label[0] has score 7.0; expected annotator scores in 1..5" in _problems(
        tmp_path, "tvsum", {**tvsum, "label": [[1, 7]]})
    assert "domain: Input should be 'BK'" in _problems(tmp_path, "tvsum", {**tvsum, "domain": "XX"})


def _pretrain(**change) -> dict:
    row = {"qid": "abc_0.0_150.0_10.0_20.0", "query": "a man cooks", "duration": 150,
           "vid": "abc_0.0_150.0", "split": "train", "relevant_windows": [[10.0, 20.0]],
           "relevant_clip_ids": [5, 6, 7, 8, 9], "saliency_scores": [[2.0], [3.5], [12.1], [2.0], [2.0]]}
    return {**row, **change}


def test_pretrain_rows(tmp_path: Path) -> None:
    path = _write(tmp_path, [_pretrain(), _pretrain(qid="abc_0.0_150.0_20_30", relevant_windows=[[20, 30]],
                                                      relevant_clip_ids=[10, 11], saliency_scores=[[1, 2, 3]] * 2)])
    rows = read_annotations(path, "pretrain")
    assert [type(r) for r in rows] == [PretrainRow, PretrainRow]
    assert rows[0].windows == [(10.0, 20.0)]
    text = _problems(tmp_path, "pretrain", _pretrain(qid="abc_0.0_150.0_10.0_25.0"))
    assert "names the interval [10, 25] but relevant_windows[0] is [10, 20]" in text
    assert "is not qid '{vid}_{start}_{end}'" in _problems(tmp_path, "pretrain", _pretrain(qid="xyz_1_2"))
    ragged = _pretrain(saliency_scores=[[2.0], [3.0, 1.0], [2.0], [2.0], [2.0]])
    assert "saliency_scores[1] has 2 scores; expected 1" in _problems(tmp_path, "pretrain", ragged)
    # clip ids are checked against the clip grid the rows were made on
    one_second = _pretrain(relevant_clip_ids=[140, 141, 142, 143, 144])
    assert "reaches 144; a 150 s video has 75 clips of 2 s" in _problems(tmp_path, "pretrain", one_second)
    assert len(read_annotations(_write(tmp_path, [one_second]), "pretrain", clip_seconds=1.0)) == 1


def test_unknown_kind(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown dataset kind 'mad'"):
        read_annotations(_write(tmp_path, [GOOD_QVH]), "mad")  # type: ignore[arg-type]
