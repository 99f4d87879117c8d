"""The training loop: AdamW + StepLR epochs, periodic evaluation, best-checkpoint selection, exact resume."""

from __future__ import annotations

import copy
import json
import logging
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from model.build import build_model, make_checkpoint
from model.config import ExperimentConfig
from pipeline.common import progress
from pipeline.common.checkpoint import (
    BEST,
    CHECKPOINT_FORMAT,
    LAST,
    load_checkpoint,
    remove_stale_temp_files,
    rng_state,
    save_checkpoint,
    seed_everything,
    set_rng_state,
)
from pipeline.common.device import (
    amp_dtype_for,
    autocast,
    float_outputs,
    resolve_device,
)
from pipeline.common.jsonl import write_jsonl
from pipeline.datasets import forward_kwargs, targets, to_device
from pipeline.evaluation import evaluate_submission
from pipeline.evaluation.kinds import kind_info
from pipeline.inference.submission import predict_rows
from pipeline.training.config import TrainResult, TrainRunConfig
from pipeline.datasets.loading import (
    EVALUATION,
    build_dataset,
    build_loader,
    checked,
    epoch_generator,
    ground_truth,
    read_split,
    store_specs,
)
from pipeline.training.selection import check_rule, selection_score

log = logging.getLogger(__name__)

PROGRESS_KEY = "train"
METRICS = "metrics.jsonl"
CONFIG = "config.json"
BEST_PREDICTIONS = "best_val_preds.jsonl"


@dataclass
class EpochStats:
    """One epoch of optimisation.

    Attributes:
        losses: mean over steps of every weighted loss term and "total".
        steps: optimiser steps; samples: samples seen.
        seconds: wall time of the epoch; data_seconds: of it, time spent waiting for batches.
    """

    losses: dict[str, float]
    steps: int
    samples: int
    seconds: float
    data_seconds: float


def run_epoch(model: nn.Module, criterion: nn.Module, optimizer: torch.optim.Optimizer, batches: Iterable[dict],
              epoch: int, device: torch.device, *, grad_clip: float | None = None,
              amp_dtype: torch.dtype | None = None, max_steps: int | None = None,
              progress_key: str | None = None) -> EpochStats:
    """Train one epoch (or `max_steps` steps) over `batches`.

    Args:
        model, criterion, optimizer: the run's objects (model and criterion on `device`).
        batches: collated batches (pipeline.datasets.collate).
        epoch: 0-based epoch index; the criterion's hard-sample weight is (epoch + 1) * c.
        device: where the model is.
        grad_clip: max gradient norm, None = no clipping.
        amp_dtype: autocast dtype of the forward pass (bf16 on GPU) or None; losses run in fp32.
        max_steps: stop after this many steps (benchmarks).
        progress_key: pipeline.common.progress key advanced once per step.

    Raises:
        FloatingPointError: the loss became NaN or infinite (the step is not applied).
    """
    model.train()
    criterion.train()
    sums: dict[str, torch.Tensor] = {}
    steps = samples = 0
    data_seconds = 0.0
    started = waited = time.perf_counter()
    for batch in batches:
        data_seconds += time.perf_counter() - waited
        batch = to_device(batch, device, non_blocking=True)
        goal = targets(batch)
        goal["epoch"] = epoch
        with autocast(device, amp_dtype):
            outputs = model(**forward_kwargs(model, batch, epoch, training=True))
        losses = criterion(float_outputs(outputs), goal)
        total = losses["total"]
        if not torch.isfinite(total):
            raise FloatingPointError(f"epoch {epoch + 1}, step {steps + 1}: loss is {float(total)} "
                                     f"({ {k: float(v) for k, v in losses.items()} }); lower the learning rate")
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        if grad_clip:
            nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        for name, value in losses.items():
            sums[name] = sums.get(name, 0.0) + value.detach()
        steps += 1
        samples += len(batch["meta"])
        if progress_key:
            progress.advance(progress_key)
        if max_steps is not None and steps >= max_steps:
            break
        waited = time.perf_counter()
    means = {k: float(v) / max(steps, 1) for k, v in sums.items()}  # one device sync per epoch
    return EpochStats(means, steps, samples, time.perf_counter() - started, data_seconds)


def evaluate(model: nn.Module, postprocess: nn.Module, batches: Iterable[dict], gt_rows: list[dict], kind: str,
             device: torch.device, amp_dtype: torch.dtype | None = None) -> tuple[dict, list[dict]]:
    """Predict a validation split and score it with the official-equal metrics.

    Returns:
        (metrics as evaluate_submission returns them, the submission rows).
    """
    rows = predict_rows(model, postprocess, batches, device, amp_dtype)
    dataset, extended = EVALUATION[kind]
    return evaluate_submission(rows, gt_rows, dataset=dataset, extended=extended), rows


@dataclass
class _Run:
    """Everything a run trains and evaluates with."""

    experiment: ExperimentConfig
    device: torch.device
    model: nn.Module
    criterion: nn.Module
    postprocess: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    train_set: Any
    val_loader: Any = None
    val_gt: list[dict] = field(default_factory=list)
    extractors: dict[str, dict] = field(default_factory=dict)
    #: EMA copy of the model (train.ema_decay), what evaluation and best.ckpt use
    ema: nn.Module | None = None

    @property
    def inference_model(self) -> nn.Module:
        return self.ema if self.ema is not None else self.model


@dataclass
class _State:
    epoch: int = 0
    best_score: float | None = None
    best_epoch: int | None = None
    best_metrics: dict = field(default_factory=dict)


def _build(config: TrainRunConfig, experiment: ExperimentConfig, device: torch.device) -> _Run:
    train = experiment.train
    train_rows = read_split(config.train_annotations, config.dataset_kind, config.domain)
    train_set = build_dataset(train_rows, config.store, experiment, config.dataset_kind, "train", config.cache)
    val_loader, val_gt = None, []
    if config.val_annotations is not None:
        val_rows = read_split(config.val_annotations, config.eval_kind, config.domain)
        val_set = build_dataset(val_rows, config.store, experiment, config.eval_kind, "eval", config.cache)
        val_loader = build_loader(val_set, train.batch_size, shuffle=False, num_workers=config.num_workers,
                                  pin_memory=device.type == "cuda")
        val_gt = ground_truth(val_rows)
    model, criterion, postprocess = build_model(experiment)
    model.to(device)
    criterion.to(device)
    # the fused kernel: one pass over all parameters (on CPU ~10x faster than the per-tensor loop)
    optimizer = torch.optim.AdamW(model.parameters(), lr=train.lr, weight_decay=train.weight_decay,
                                  fused=device.type in ("cpu", "cuda"))
    # lr_drop=None: a constant learning rate (a step period no run reaches)
    step = train.lr_drop if train.lr_drop is not None else 2**31 - 1
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=step, gamma=0.1)
    ema = None
    if train.ema_decay is not None:
        ema = copy.deepcopy(model).eval().requires_grad_(False)
    return _Run(experiment, device, model, criterion, postprocess, optimizer, scheduler, train_set, val_loader, val_gt,
                store_specs(config.store, experiment, train_rows), ema)


@torch.no_grad()
def update_ema(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """e <- decay * e + (1 - decay) * w for every floating-point state entry (others copied), as
    TaskWeave's release does once per epoch."""
    for averaged, current in zip(ema.state_dict().values(), model.state_dict().values()):
        if averaged.dtype.is_floating_point:
            averaged.mul_(decay).add_(current.detach(), alpha=1.0 - decay)
        else:
            averaged.copy_(current)


def _payload(run: _Run, config: TrainRunConfig, state: _State, full: bool) -> dict[str, Any]:
    """The checkpoint dict: plain values and tensors only, so it loads with weights_only=True."""
    payload = make_checkpoint(run.model, run.experiment)
    if run.ema is not None:
        payload["model_ema"] = run.ema.state_dict()
    payload.update(format=CHECKPOINT_FORMAT, epoch=state.epoch, stage=config.stage,
                   run=config.model_dump(mode="json"), extractors=run.extractors,
                   best={"score": state.best_score, "epoch": state.best_epoch, "metrics": state.best_metrics})
    if full:
        payload.update(optimizer=run.optimizer.state_dict(), scheduler=run.scheduler.state_dict(), rng=rng_state())
    return payload


def _flatten(prefix: str, value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return {k2: v2 for k, v in value.items() for k2, v2 in _flatten(f"{prefix}{k}.", v).items()}
    return {prefix.rstrip("."): value}


def config_differences(old: dict, new: dict, ignore: Iterable[str] = ()) -> list[str]:
    """`field: old -> new` for every differing leaf of two config dicts, except those in `ignore`.

    >>> config_differences({"train": {"lr": 1, "epochs": 5}}, {"train": {"lr": 2, "epochs": 9}}, ["train.epochs"])
    ['train.lr: 1 -> 2']
    """
    a, b = _flatten("", old), _flatten("", new)
    keys = sorted((set(a) | set(b)) - set(ignore))
    return [f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in keys if a.get(k) != b.get(k)]


def _resume(run: _Run, path: Path) -> _State:
    ckpt = load_checkpoint(path)
    missing = [k for k in ("optimizer", "scheduler", "rng", "epoch") if k not in ckpt]
    if missing:
        raise ValueError(f"{path}: lacks {missing}; expected a last.ckpt written by pipeline.training")
    diff = config_differences(ckpt["config"], run.experiment.model_dump(mode="json"),
                              ignore=("train.epochs", "train.eval_every"))
    if diff:
        raise ValueError(f"{path} was trained with another configuration ({'; '.join(diff)}); resume with the "
                         "same preset, features and overrides, or train into another out_dir")
    run.model.load_state_dict(ckpt["model"])
    if run.ema is not None:
        run.ema.load_state_dict(ckpt["model_ema"])
    run.optimizer.load_state_dict(ckpt["optimizer"])
    run.scheduler.load_state_dict(ckpt["scheduler"])
    set_rng_state(ckpt["rng"])
    best = ckpt.get("best") or {}
    log.info("resuming %s after epoch %d", path, ckpt["epoch"])
    return _State(int(ckpt["epoch"]), best.get("score"), best.get("epoch"), dict(best.get("metrics") or {}))


def load_initial_weights(model: nn.Module, path: str | os.PathLike) -> tuple[list[str], list[str]]:
    """Load a (pretraining) checkpoint's model weights into `model`, nothing else.

    Returns:
        (missing keys: in the model, not in the checkpoint; unexpected keys: the reverse).

    Raises:
        ValueError: a tensor of the checkpoint has another shape than the model's (another
            feature set or architecture).
    """
    ckpt = load_checkpoint(path)
    source, own = ckpt["model"], model.state_dict()
    bad = [f"{k} {tuple(source[k].shape)} vs {tuple(own[k].shape)}" for k in source
           if k in own and source[k].shape != own[k].shape]
    if bad:
        raise ValueError(f"{path}: {len(bad)} tensors differ in shape from this model's ({'; '.join(bad[:3])}"
                         f"{'; ...' if len(bad) > 3 else ''}); was it trained with another feature set or preset?")
    result = model.load_state_dict(source, strict=False)
    log.info("initialised from %s: %d tensors loaded, %d missing %s, %d unexpected %s", path,
             len(source) - len(result.unexpected_keys), len(result.missing_keys), result.missing_keys[:5],
             len(result.unexpected_keys), result.unexpected_keys[:5])
    return list(result.missing_keys), list(result.unexpected_keys)


def _keep_metrics(path: Path, epochs: int) -> None:
    """Drop metric lines of epochs after `epochs` (written by a run killed after its last checkpoint)."""
    if not path.exists():
        return
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    kept = [line for line in lines if json.loads(line).get("epoch", 0) <= epochs]
    write_jsonl((json.loads(line) for line in kept), path)


def _append(path: Path, record: dict) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def _epoch_line(epoch: int, total: int, stats: EpochStats, lr: float, brief: dict | None, score: float | None,
                state: _State, shown_metrics: tuple[str, ...]) -> str:
    data_share = 100 * stats.data_seconds / max(stats.seconds, 1e-9)
    text = (f"epoch {epoch}/{total}: loss {stats.losses.get('total', float('nan')):.4f}, lr {lr:.2e}, "
            f"{stats.steps} steps in {stats.seconds:.1f} s (data {data_share:.0f}%)")
    if brief is not None:
        shown = ", ".join(f"{k} {brief[k]:.2f}" for k in shown_metrics if k in brief)
        text += f"; eval {shown}; score {score:.2f} (best {state.best_score:.2f} at epoch {state.best_epoch})"
    return text


def train(config: TrainRunConfig) -> TrainResult:
    """Train (or pretrain, or fine-tune) a model as `config` says; see TrainRunConfig.

    Each epoch: AdamW steps over the shuffled training split (shuffling and sample draws depend
    only on (seed, epoch)), gradient clipping and StepLR as the preset says, bf16 autocast on
    GPU; every eval_every epochs (and after the last) the validation split is scored with
    pipeline.evaluation and the preset's select_metric (pipeline.training.selection), and a
    better score rewrites best.ckpt and best_val_preds.jsonl. After every epoch last.ckpt is
    rewritten atomically with model, optimiser, scheduler, epoch, RNG states, config and best
    score, a JSON line goes to metrics.jsonl, and one log line is emitted. pipeline.common.progress
    gets "train" events (one per step).

    A run killed at any point continues with resume=True from its last.ckpt; on CPU the result
    is bitwise the uninterrupted run's (same thread count), on GPU up to CUDA's
    nondeterministic kernels. Temporary files of an interrupted checkpoint write are removed.

    Raises:
        FileExistsError: out_dir already holds a last.ckpt and resume is False.
        ValueError, FileNotFoundError, AnnotationError, MissingFeaturesError: bad configuration
            or inputs (the messages say which and what to do).
    """
    started = time.perf_counter()
    experiment = config.experiment()
    train_cfg = experiment.train
    check_rule(train_cfg.select_metric)
    device = resolve_device(config.device)
    amp_dtype = amp_dtype_for(device, config.amp)
    out = config.out
    fresh = not out.exists() or not any(out.iterdir())
    out.mkdir(parents=True, exist_ok=True)
    last, best, metrics_path = out / LAST, out / BEST, out / METRICS
    if last.exists() and not config.resume:
        raise FileExistsError(f"{out} already holds a run ({LAST}); pass resume=True (--resume) to continue it, "
                              "or choose another output folder")
    remove_stale_temp_files(out)
    seed_everything(train_cfg.seed)
    run = _build(config, experiment, device)
    missing: list[str] = []
    unexpected: list[str] = []
    if config.resume and last.exists():
        state = _resume(run, last)
        _keep_metrics(metrics_path, state.epoch)
    else:
        if config.resume:  # a warning only where something was there to resume
            log.log(logging.INFO if fresh else logging.WARNING, "%s: no %s to resume; starting at epoch 1", out, LAST)
        if config.init_from is not None:
            missing, unexpected = load_initial_weights(run.model, config.init_from)
        state = _State()
        metrics_path.unlink(missing_ok=True)
    write_jsonl([{"run": config.model_dump(mode="json"), "experiment": experiment.model_dump(mode="json")}],
                out / CONFIG)
    first_epoch = state.epoch + 1
    _train_epochs(run, config, state, amp_dtype, metrics_path)
    seconds = time.perf_counter() - started
    return TrainResult(out, last, best if best.exists() else None, state.best_score, state.best_epoch,
                       state.best_metrics, first_epoch, state.epoch, metrics_path, missing, unexpected, seconds)


def _train_epochs(run: _Run, config: TrainRunConfig, state: _State, amp_dtype: torch.dtype | None,
                  metrics_path: Path) -> None:
    train_cfg, out = run.experiment.train, config.out
    total = train_cfg.epochs
    if state.epoch >= total:
        log.info("%s: already trained %d of %d epochs; nothing to do", out, state.epoch, total)
        return
    batches = -(-len(run.train_set) // train_cfg.batch_size)
    progress.start(PROGRESS_KEY, (total - state.epoch) * batches, f"train {config.preset}")
    try:
        for epoch in range(state.epoch, total):
            run.train_set.set_epoch(epoch)
            loader = build_loader(run.train_set, train_cfg.batch_size, shuffle=True, num_workers=config.num_workers,
                                  pin_memory=run.device.type == "cuda",
                                  generator=epoch_generator(train_cfg.seed, epoch))
            lr = run.optimizer.param_groups[0]["lr"]
            stats = run_epoch(run.model, run.criterion, run.optimizer, checked(loader, run.experiment, config.store),
                              epoch, run.device, grad_clip=train_cfg.grad_clip, amp_dtype=amp_dtype,
                              progress_key=PROGRESS_KEY)
            run.scheduler.step()
            if run.ema is not None:
                update_ema(run.ema, run.model, train_cfg.ema_decay)
            brief, score = _maybe_evaluate(run, config, state, epoch, amp_dtype)
            state.epoch = epoch + 1
            save_checkpoint(_payload(run, config, state, full=True), out / LAST)
            _append(metrics_path, {"epoch": epoch + 1, "stage": config.stage, "lr": lr, "loss": stats.losses,
                                   "steps": stats.steps, "samples": stats.samples, "seconds": stats.seconds,
                                   "data_seconds": stats.data_seconds, "eval": brief, "score": score,
                                   "best_score": state.best_score, "best_epoch": state.best_epoch})
            log.info("%s", _epoch_line(epoch + 1, total, stats, lr, brief, score, state,
                                       kind_info(config.eval_kind).headline))
    finally:
        progress.finish(PROGRESS_KEY)


def _maybe_evaluate(run: _Run, config: TrainRunConfig, state: _State, epoch: int,
                    amp_dtype: torch.dtype | None) -> tuple[dict | None, float | None]:
    train_cfg = run.experiment.train
    due = (epoch + 1) % train_cfg.eval_every == 0 or epoch + 1 == train_cfg.epochs
    if run.val_loader is None or not due:
        return None, None
    metrics, rows = evaluate(run.inference_model, run.postprocess, checked(run.val_loader, run.experiment, config.store),
                             run.val_gt, config.eval_kind, run.device, amp_dtype)
    brief = metrics["brief"]
    score = selection_score(train_cfg.select_metric, brief)
    if state.best_score is None or score > state.best_score:
        state.best_score, state.best_epoch, state.best_metrics = score, epoch + 1, dict(brief)
        best_state = _State(epoch + 1, score, epoch + 1, dict(brief))
        save_checkpoint(_payload(run, config, best_state, full=False), config.out / BEST)
        write_jsonl(rows, config.out / BEST_PREDICTIONS)
    return brief, score
