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


@pytest.mark.parametrize("args,expected", [
    (["extract", "--preset", "papr"], "Invalid value for '--preset': Value error, 'papr' is not one of 'tiny', 'paper'."),
    (["extract", "--dataset-kind", "qvh"], "Invalid value for '--dataset-kind': Value error, 'qvh' is not one of "
                                           "'qvhighlights', 'charades_sta', 'tvsum', 'pretrain'."),
    (["decode", "--backend", "ffmpeg"], "Invalid value for '--backend': Value error, 'ffmpeg' is not one of "
                                        "'auto', 'decord', 'pyav', 'torchcodec'."),
])
def test_a_misspelt_choice_is_refused_with_the_choices(capsys, videos, tmp_path, args, expected):
    where = ["--videos", str(videos)] if args[0] == "extract" else [str(videos)]
    code, out, err = _run(capsys, args[0], *where, "--store", str(tmp_path / "s"), *args[1:])
    assert code == 2 and out == ""
    assert expected in " ".join(err.replace("│", " ").split())


def test_an_option_the_config_refuses_names_the_option(capsys, videos, tmp_path):
    code, out, err = _run(capsys, "extract", "--videos", str(videos), "--store", str(tmp_path / "s"),
                          "--extractors", "clip,clp")
    assert (code, out) == (2, "")
    assert err == "--extractors: Value error, unknown video extractor 'clp'; expected some of slowfast, clip, blip2 " \
                  "(got ('clip', 'clp'))\n"


def test_version(capsys):
    code, out, _ = _run(capsys, "--version")
    assert code == 0 and out.startswith("videolights-pipeline ") and out.strip().split()[-1][0].isdigit()


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
    assert err.count("not found") == 1 and "Traceback" not in err and len(err.splitlines()) < 10
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


def test_train_without_features_names_the_flag_to_pass(capsys, tmp_path):
    code, out, err = _run(capsys, "train", "--preset", "tiny", "--train", str(tmp_path / "t.jsonl"),
                          "--store", str(tmp_path / "s"), "--out", str(tmp_path / "run"))
    assert (code, out) == (2, "")
    assert "--features clip/clip --extractor-preset tiny" in err and "FeatureSet" not in err


def test_the_tvsum_domains_are_the_datasets():
    from typing import get_args

    from flows.cli_common import TVSumDomainChoice
    from pipeline.datasets.rows import TVSUM_DOMAINS

    assert get_args(TVSumDomainChoice) == TVSUM_DOMAINS
