"""Errors a user can fix are one short message on stderr with exit code 2, never a traceback."""

from __future__ import annotations

import json

import pytest

from flows.cli import main


def _run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main(list(args))
    out = capsys.readouterr()
    return done.value.code, out.out, out.err


@pytest.fixture()
def videos(tmp_path, make_video):
    make_video("a.mp4", seconds=2.0)
    return tmp_path


def test_a_misspelt_choice_names_the_option_and_the_choices(capsys, videos, tmp_path):
    code, out, err = _run(capsys, "extract", "--videos", str(videos), "--store", str(tmp_path / "s"),
                          "--preset", "papr")
    assert (code, out, err) == (2, "", "--preset: Input should be 'tiny' or 'paper' (got 'papr')\n")


def test_a_bad_annotation_file_lists_its_rows_without_a_traceback(capsys, videos, tmp_path):
    ann = tmp_path / "bad.jsonl"
    good = {"qid": 1, "query": "a", "duration": 30, "vid": "a", "relevant_windows": [[0, 2]]}
    rows = [json.dumps({**good, "vid": "../x"}), "not json", json.dumps({**good, "qid": 1}),
            json.dumps({**good, "qid": 3, "duration": 0})]
    ann.write_text("\n".join(rows) + "\n")
    code, out, err = _run(capsys, "extract", "--videos", str(videos), "--store", str(tmp_path / "s"),
                          "--dataset", str(ann))
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert lines[0] == f"{ann}: 4 bad row(s)"
    assert lines[1] == ("  line 1 (qid 1): vid: vid '../x' (row 1): contains a path separator; "
                        "ids must be single path segments")
    assert lines[2] == "  line 2: not valid JSON (Expecting value at column 1); expected one JSON object per line"
    assert "line 3" in lines[3] and "qid 1" in lines[3] and "line 4" in lines[4] and "duration" in lines[4]
    assert len(lines) == 5 and "Traceback" not in err


def test_missing_paper_weights_are_told_once(capsys, videos, tmp_path):
    code, out, err = _run(capsys, "extract", "--videos", str(videos), "--store", str(tmp_path / "s"),
                          "--preset", "paper", "--extractors", "clip", "--weights-dir", str(tmp_path / "w"))
    assert code == 2 and out == ""
    assert err.startswith("CLIP paper weights not found; looked for:\n")
    assert err.count("not found") == 1 and "Traceback" not in err
    assert f"{tmp_path / 'w'}/open_clip/ViT-B-32-openai.pt" in err


def test_debug_shows_the_traceback_of_a_user_error(videos, tmp_path):
    from pipeline.datasets import AnnotationError

    ann = tmp_path / "bad.jsonl"
    ann.write_text("not json\n")
    with pytest.raises(AnnotationError):
        main(["--debug", "extract", "--videos", str(videos), "--store", str(tmp_path / "s"), "--dataset", str(ann)])


def test_a_bug_is_not_dressed_as_a_user_error(capsys):
    from flows.cli import user_error_message
    from pipeline.common.errors import is_user_error

    assert not is_user_error(RuntimeError("a bug")) and not is_user_error(ValueError("a bug"))
    assert user_error_message(FileNotFoundError("x.jsonl: file not found")) == "x.jsonl: file not found"
