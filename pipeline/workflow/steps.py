"""The parent flow's steps as plain functions: plan a step (its key, from what it depends on), then run it.

Flows wrap these in tasks; each returns small records (paths, numbers), never arrays.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from pipeline.datasets.readers import read_annotations
from pipeline.workflow.demo import generate_demo_dataset
from pipeline.evaluation import evaluate_files
from pipeline.evaluation.chance import chance_metrics
from pipeline.evaluation.kinds import KINDS, kind_info
from pipeline.evaluation.rows import read_jsonl
from pipeline.inference import infer, plot_prediction
from pipeline.training import TrainRunConfig, train
from pipeline.workflow.config import PipelineConfig, RunPaths, TrainStepConfig
from pipeline.workflow.keys import content_digest, step_key, store_digest
from storage import FeatureStore
from storage.atomic import atomic_file

log = logging.getLogger(__name__)

#: Headline metrics per dataset kind, in table order.
HEADLINE: dict[str, tuple[str, ...]] = {kind: info.headline for kind, info in KINDS.items()}


class DataRecord(BaseModel):
    """The dataset a run uses: files and counts."""

    videos: str
    train: str
    val: str
    test: str | None
    n_train_rows: int
    n_val_rows: int
    n_videos: int
    generated: bool


def prepare_data(config: PipelineConfig, paths: RunPaths) -> DataRecord:
    """Generate the demo dataset when the config asks for it; check that the dataset's files are there."""
    data = config.data
    if data.generate is not None:
        generate_demo_dataset(paths.videos.parent, data.generate)
    for what, path in (("data.videos", paths.videos), ("data.train", paths.train), ("data.val", paths.val),
                       ("data.test", paths.test)):
        if path is not None and not path.exists():
            raise FileNotFoundError(f"{what}: {path} does not exist")
    n_train = len(read_annotations(paths.train, data.kind))
    n_val = len(read_annotations(paths.val, data.kind))
    n_videos = sum(1 for p in paths.videos.iterdir() if p.is_file() and not p.name.startswith("."))
    return DataRecord(videos=str(paths.videos), train=str(paths.train), val=str(paths.val),
                      test=str(paths.test) if paths.test else None, n_train_rows=n_train, n_val_rows=n_val,
                      n_videos=n_videos, generated=data.generate is not None)


def split_ids(path: str | Path, kind: str) -> tuple[list[str], list[str]]:
    """(vids, qids) of an annotation file."""
    rows = read_annotations(path, kind)
    return [str(r.vid) for r in rows], [str(r.qid) for r in rows]


# training ----------------------------------------------------------------------------------------
Stage = Literal["pretrain", "finetune"]


class TrainPlan(BaseModel):
    """A training step ready to run: its run config (out_dir named by the key) and its key."""

    stage: Stage
    key: str
    run: TrainRunConfig


class TrainRecord(BaseModel):
    """What a training step produced."""

    stage: Stage
    key: str
    out_dir: str
    checkpoint: str
    best_checkpoint: str | None
    last_checkpoint: str
    final_epoch: int
    best_epoch: int | None
    best_metrics: dict
    seconds: float
    resumed_from_epoch: int
    cached: bool = False


def plan_train(stage: Stage, config: PipelineConfig, paths: RunPaths, init_from: str | None = None) -> TrainPlan:
    """The run config of a training step and its key: the step config, the training rows and
    validation rows by content, the store entries they read, and the starting checkpoint by content."""
    step: TrainStepConfig = getattr(config, stage)
    kind = config.data.kind
    if stage == "pretrain":
        train_rows, train_kind = paths.synthetic, "pretrain"
    else:
        train_rows, train_kind = paths.train, kind
    vids, qids = split_ids(train_rows, train_kind)
    val_vids, val_qids = split_ids(paths.val, kind)
    store = FeatureStore(paths.store)
    key = step_key(stage, step=step, features=config.features, train_kind=train_kind, val_kind=kind,
                   domain=config.data.domain,
                   train_rows=content_digest(train_rows), val_rows=content_digest(paths.val),
                   store=store_digest(store, config.features, vids + val_vids, qids + val_qids),
                   init_from=content_digest(init_from) if init_from else None)
    run = TrainRunConfig(
        preset=step.preset, train_annotations=str(train_rows), val_annotations=str(paths.val),
        dataset_kind=train_kind, val_kind=kind, store=paths.store,
        out_dir=str(paths.train_root / f"{stage}-{key[:12]}"), features=config.features,
        model_overrides=step.model_overrides, domain=config.data.domain, epochs=step.epochs,
        batch_size=step.batch_size, lr=step.lr, eval_every=step.eval_every, seed=step.seed,
        device=config.device, amp=step.amp, init_from=init_from,
        resume=True, stage="finetune" if init_from else ("pretrain" if stage == "pretrain" else "train"))
    return TrainPlan(stage=stage, key=key, run=run)


def run_train(plan: TrainPlan, refresh: bool = False) -> TrainRecord:
    """Train (continuing the step's own run folder if a killed run left one); `refresh` starts it over."""
    out = Path(plan.run.out_dir)
    if refresh and out.exists():
        log.info("%s: --refresh: removing %s", plan.stage, out)
        shutil.rmtree(out)
    result = train(plan.run)
    chosen = result.best_checkpoint or result.last_checkpoint
    return TrainRecord(stage=plan.stage, key=plan.key, out_dir=str(out), checkpoint=str(chosen),
                       best_checkpoint=str(result.best_checkpoint) if result.best_checkpoint else None,
                       last_checkpoint=str(result.last_checkpoint), final_epoch=result.final_epoch,
                       best_epoch=result.best_epoch, best_metrics=result.best_metrics, seconds=result.seconds,
                       resumed_from_epoch=result.first_epoch)


def train_outputs_present(plan: TrainPlan) -> bool:
    """The step's run folder still holds a finished run (a cached record is trusted only then)."""
    metrics = Path(plan.run.out_dir) / "metrics.jsonl"
    if not (Path(plan.run.out_dir) / "last.ckpt").exists() or not metrics.exists():
        return False
    lines = read_jsonl(metrics).rows
    return bool(lines) and lines[-1].get("epoch") == plan.run.experiment().train.epochs


# evaluation --------------------------------------------------------------------------------------
class EvalPlan(BaseModel):
    """An evaluation ready to run."""

    name: str
    key: str
    checkpoint: str
    annotations: str
    dataset_kind: str
    store: str
    out_dir: str
    device: str
    plots: int
    test: str | None = None


class EvalRecord(BaseModel):
    """What an evaluation produced: metrics (brief), the submission and plots."""

    name: str
    key: str
    checkpoint: str
    submission: str
    metrics_path: str
    brief: dict[str, float]
    plots: list[str]
    test_submission: str | None = None
    seconds: float
    cached: bool = False


def plan_evaluate(name: str, checkpoint: str, config: PipelineConfig, paths: RunPaths,
                  test: bool = False) -> EvalPlan:
    """Evaluate `checkpoint` on the val split; key: the checkpoint and rows by content, the store entries."""
    kind = config.data.kind
    vids, qids = split_ids(paths.val, kind)
    key = step_key("zero_shot" if name == "zero_shot" else "evaluate", name=name,
                   checkpoint=content_digest(checkpoint), rows=content_digest(paths.val), kind=kind,
                   store=store_digest(FeatureStore(paths.store), config.features, vids, qids),
                   plots=config.evaluate.plots,
                   test=content_digest(paths.test) if test and paths.test else None)
    return EvalPlan(name=name, key=key, checkpoint=checkpoint, annotations=str(paths.val), dataset_kind=kind,
                    store=paths.store, out_dir=str(paths.eval_root / f"{name}-{key[:12]}"), device=config.device,
                    plots=config.evaluate.plots, test=str(paths.test) if test and paths.test else None)


def _plot_rows(plan: EvalPlan, submission: Path, out: Path) -> list[str]:
    if plan.plots == 0 or plan.dataset_kind == "tvsum":
        return []
    preds = read_jsonl(submission).rows
    truth = {str(row["qid"]): row for row in read_jsonl(plan.annotations).rows}
    written = []
    by_video: dict[str, list[dict]] = {}
    for pred in preds:
        gt = truth.get(str(pred["qid"]), {})
        by_video.setdefault(str(gt.get("vid", pred.get("vid"))), []).append(
            {**pred, "query": gt.get("query", ""), "duration": gt.get("duration"),
             "relevant_windows": gt.get("relevant_windows"),
             "clip_seconds": kind_info(plan.dataset_kind).clip_seconds})
    for vid in sorted(by_video)[:plan.plots]:
        checkpoint = Path(plan.checkpoint)
        title = f"{vid}: the {plan.name.replace('_', '-')} model ({checkpoint.parent.name}/{checkpoint.name})"
        written.append(str(plot_prediction(by_video[vid], out / f"{plan.name}-{vid}.png", title=title)))
    return written


def run_evaluate(plan: EvalPlan) -> EvalRecord:
    """Write the val submission, its official metrics (metrics.json) and plots; the test submission too."""
    started = time.perf_counter()
    out = Path(plan.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    submission = out / "val_submission.jsonl"
    infer(plan.checkpoint, plan.annotations, plan.store, submission, dataset_kind=plan.dataset_kind,
          device=plan.device)
    metrics = evaluate_files(submission, plan.annotations, dataset=plan.dataset_kind)
    metrics_path = out / "metrics.json"
    with atomic_file(metrics_path, "w") as handle:
        json.dump(metrics, handle, indent=2)
    test_submission = None
    if plan.test:
        test_submission = str(infer(plan.checkpoint, plan.test, plan.store, out / "test_submission.jsonl",
                                    dataset_kind=plan.dataset_kind, device=plan.device).path)
    brief = {k: float(v) for k, v in metrics.get("brief", {}).items() if isinstance(v, (int, float))}
    return EvalRecord(name=plan.name, key=plan.key, checkpoint=plan.checkpoint, submission=str(submission),
                      metrics_path=str(metrics_path), brief=brief, plots=_plot_rows(plan, submission, out / "plots"),
                      test_submission=test_submission, seconds=time.perf_counter() - started)


def eval_outputs_present(plan: EvalPlan) -> bool:
    out = Path(plan.out_dir)
    return (out / "metrics.json").exists() and (out / "val_submission.jsonl").exists()


def chance_level(config: PipelineConfig, paths: RunPaths) -> dict[str, float]:
    """Brief metrics of seeded random submissions on the val split (the floor the model must beat)."""
    rows = read_jsonl(paths.val).rows
    clip = config.extract.decode.clip_seconds
    return chance_metrics(rows, config.data.kind, clip_seconds=clip)
