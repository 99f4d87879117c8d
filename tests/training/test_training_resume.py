"""Exact resume: a run stopped after epoch k and resumed ends where an uninterrupted run ends."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from pipeline.common import progress
from pipeline.training import LAST, train

EPOCHS = 3
#: 24 planted videos x 2 queries at batch 8.
STEPS_PER_EPOCH = 6


class _StopAt:
    """A progress listener that interrupts training at its n-th step, as Ctrl-C would."""

    def __init__(self, step: int):
        self.step, self.seen = step, 0

    def start(self, key: str, total: int, description: str) -> None:
        pass

    def advance(self, key: str, n: int = 1) -> None:
        if key == "train":
            self.seen += n
            if self.seen == self.step:
                raise KeyboardInterrupt

    def finish(self, key: str) -> None:
        pass


def _state(folder: Path) -> dict:
    return torch.load(folder / LAST, weights_only=True)


def _metrics(folder: Path) -> list[dict]:
    rows = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    for row in rows:  # timings differ between runs
        row.pop("seconds"), row.pop("data_seconds")
    return rows


def _assert_same_run(a: Path, b: Path) -> None:
    first, second = _state(a), _state(b)
    assert first["epoch"] == second["epoch"] == EPOCHS
    for name, tensor in first["model"].items():
        assert torch.equal(tensor, second["model"][name]), name
    states = first["optimizer"]["state"], second["optimizer"]["state"]
    assert states[0].keys() == states[1].keys()
    for index, tensors in states[0].items():
        assert all(torch.equal(value, states[1][index][k]) for k, value in tensors.items())
    assert first["scheduler"] == second["scheduler"]
    assert torch.equal(first["rng"]["torch"], second["rng"]["torch"])
    assert first["best"] == second["best"]
    assert _metrics(a) == _metrics(b)


@pytest.fixture(scope="module")
def uninterrupted(small_data, tmp_path_factory) -> Path:
    from planted import TINY_CLIP

    from pipeline.training import TrainRunConfig

    out = tmp_path_factory.mktemp("uninterrupted")
    torch.set_num_threads(1)
    train(TrainRunConfig(preset="tiny", features=TINY_CLIP, train_annotations=small_data["train"],
                         val_annotations=small_data["val"], store=small_data["store"], out_dir=str(out),
                         epochs=EPOCHS, batch_size=8, lr=1e-3, eval_every=1, device="cpu"))
    return out


def test_interrupted_mid_epoch_then_resumed_equals_uninterrupted(make_config, uninterrupted, tmp_path) -> None:
    config = make_config(out=tmp_path / "cut", epochs=EPOCHS)
    with progress.listening(_StopAt(STEPS_PER_EPOCH + 2)), pytest.raises(KeyboardInterrupt):
        train(config)  # stopped in the middle of epoch 2
    assert _state(tmp_path / "cut")["epoch"] == 1
    result = train(config.model_copy(update={"resume": True}))
    assert (result.first_epoch, result.final_epoch) == (2, EPOCHS)
    _assert_same_run(uninterrupted, tmp_path / "cut")


def test_k_epochs_then_resumed_to_n_equals_uninterrupted(make_config, uninterrupted, tmp_path) -> None:
    train(make_config(out=tmp_path / "short", epochs=1))
    train(make_config(out=tmp_path / "short", epochs=EPOCHS, resume=True))
    _assert_same_run(uninterrupted, tmp_path / "short")


def test_an_existing_run_is_not_overwritten_and_resume_checks_the_config(make_config, uninterrupted) -> None:
    with pytest.raises(FileExistsError, match="--resume"):
        train(make_config(out=uninterrupted, epochs=EPOCHS))
    with pytest.raises(ValueError, match="train.lr"):
        train(make_config(out=uninterrupted, epochs=EPOCHS, lr=5e-4, resume=True))
    before = _state(uninterrupted)["model"]
    result = train(make_config(out=uninterrupted, epochs=EPOCHS, resume=True))  # already finished
    assert result.final_epoch == EPOCHS
    assert all(torch.equal(t, _state(uninterrupted)["model"][k]) for k, t in before.items())


def _cli(small_data: dict, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "flows.cli", "train", "--preset", "tiny", "--features", "clip/clip",
            "--extractor-preset", "tiny", "--train", small_data["train"], "--val", small_data["val"],
            "--store", small_data["store"], "--out", str(out), "--epochs", str(EPOCHS), "--batch-size", "8",
            "--lr", "1e-3", "--eval-every", "1", "--device", "cpu", *extra]


@pytest.mark.slow
def test_a_killed_cli_run_resumes_to_the_uninterrupted_result(small_data, uninterrupted, tmp_path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # the reference ran on one thread
    out = tmp_path / "killed"
    proc = subprocess.Popen(_cli(small_data, out), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 240
    metrics = out / "metrics.jsonl"
    while time.monotonic() < deadline and proc.poll() is None:
        if metrics.exists() and len(metrics.read_text().splitlines()) >= 1:
            break
        time.sleep(0.02)
    assert proc.poll() is None, proc.stdout.read().decode()[-2000:]
    os.kill(proc.pid, signal.SIGKILL)  # no cleanup, no atexit: a real crash
    proc.wait()
    done = subprocess.run(_cli(small_data, out, "--resume"), env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "epochs 2.." in done.stdout or "epochs 3.." in done.stdout, done.stdout
    _assert_same_run(uninterrupted, out)
    assert not [p.name for p in out.iterdir() if p.name.startswith(".tmp-")]  # a killed write's leftovers are removed
