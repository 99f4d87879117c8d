"""Step flows of the parent DAG that are not decode/extract: synthesize, pretrain, finetune, evaluate.

Each takes the run's PipelineConfig (the same object the parent flow takes, so a deployment of a
single step gets the same parameters), works out its own inputs from it, and is skipped when its
outputs are complete and current: synthesize by the store and its resumable jsonl, training and
evaluation by Prefect's cache keyed on the step plan (see flows/caching.py).
"""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.states import State

from flows.caching import cached_in
from flows.outcome import finish
from flows.progress_artifacts import progress_artifacts
from flows.retrying import retry_transient
from pipeline.common.summary import RunSummary
from pipeline.synthetic import synthesize
from pipeline.workflow.config import PipelineConfig, RunPaths
from pipeline.workflow.steps import (
    EvalPlan,
    EvalRecord,
    TrainPlan,
    TrainRecord,
    eval_outputs_present,
    plan_evaluate,
    plan_train,
    run_evaluate,
    run_train,
    train_outputs_present,
)


@task(name="synthesize-videos", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=5,
      retry_condition_fn=retry_transient)
def synthesize_task(config: PipelineConfig, force: bool = False) -> RunSummary:
    paths = RunPaths.of(config)
    summary = synthesize(paths.synthetic_videos, paths.store, paths.synthetic, config.synthesize_settings(),
                         overwrite=force)
    summary.notes.append(f"{summary.rows_written} rows written to {paths.synthetic}")
    return summary


@flow(name="synthesize", log_prints=True)
def synthesize_flow(config: PipelineConfig, refresh: bool = False) -> RunSummary:
    """Synthetic pretraining rows (BLIP-2 captions + saliency over 10-s intervals) and caption features;
    videos finished by an earlier run are skipped (the jsonl resumes), `refresh` starts the jsonl over."""
    with progress_artifacts("synthesize"):
        summary = synthesize_task(config, refresh)
    create_markdown_artifact(summary.markdown(), key="synthesize-summary", description="synthesize run summary")
    get_run_logger().info(summary.text())
    return finish(summary, "synthesize-summary", "videos")


@task(name="train", task_run_name="train {plan.stage}")
def train_task(plan: TrainPlan, refresh: bool = False) -> TrainRecord:
    return run_train(plan, refresh=refresh)


@task(name="evaluate", task_run_name="evaluate {plan.name}")
def evaluate_task(plan: EvalPlan) -> EvalRecord:
    return run_evaluate(plan)


def _run_cached(task_obj, plan, workdir, outputs_present: bool, refresh: bool, task_kwargs: dict | None = None):
    """Run a plan-keyed task; a cached result is used only while the step's outputs are still on disk.
    Returns (the record with `cached` set, whether it came from the cache)."""
    options = cached_in(workdir)
    state: State = task_obj.with_options(refresh_cache=refresh or not outputs_present, **options)(
        plan, return_state=True, **(task_kwargs or {}))
    cached = state.name == "Cached"
    return state.result().model_copy(update={"cached": cached}), cached


def _train(stage: str, config: PipelineConfig, refresh: bool) -> tuple[TrainRecord, bool]:
    paths = RunPaths.of(config)
    init_from = None
    if stage == "finetune" and config.pretrain.enabled:
        pretrain = plan_train("pretrain", config, paths)
        if not train_outputs_present(pretrain):
            raise RuntimeError(f"finetune starts from the pretraining run {pretrain.run.out_dir}, which is not "
                               "finished; run the pretrain step first")
        best = pretrain.run.out / "best.ckpt"
        init_from = str(best if best.exists() else pretrain.run.out / "last.ckpt")
    plan = plan_train(stage, config, paths, init_from=init_from)
    return _run_cached(train_task.with_options(task_run_name=f"train {stage}"), plan, paths.workdir,
                       train_outputs_present(plan), refresh, {"refresh": refresh})


@flow(name="pretrain", log_prints=True)
def pretrain_flow(config: PipelineConfig, refresh: bool = False) -> TrainRecord:
    """Pretrain on the synthetic rows (validated on the dataset's val split); skipped when a finished
    run with the same key exists, continued from its last checkpoint when a run was killed."""
    record, cached = _train("pretrain", config, refresh)
    get_run_logger().info("pretrain: %s %s (epoch %d)", "cached" if cached else "trained", record.out_dir,
                          record.final_epoch)
    return record


@flow(name="finetune", log_prints=True)
def finetune_flow(config: PipelineConfig, refresh: bool = False) -> TrainRecord:
    """Train on the dataset's train split, from the pretrained weights when pretraining is on."""
    record, cached = _train("finetune", config, refresh)
    get_run_logger().info("finetune: %s %s (epoch %d)", "cached" if cached else "trained", record.out_dir,
                          record.final_epoch)
    return record


@flow(name="evaluate", log_prints=True)
def evaluate_flow(config: PipelineConfig, checkpoint: str, name: str = "finetuned", test: bool = True,
                  refresh: bool = False) -> EvalRecord:
    """Val-split submission, official metrics and plots of `checkpoint` (+ the test submission)."""
    paths = RunPaths.of(config)
    plan = plan_evaluate(name, checkpoint, config, paths, test=test)
    record, cached = _run_cached(evaluate_task.with_options(task_run_name=f"evaluate {name}"), plan, paths.workdir,
                                 eval_outputs_present(plan), refresh)
    get_run_logger().info("evaluate %s: %s %s", name, "cached" if cached else "evaluated", record.metrics_path)
    return record
