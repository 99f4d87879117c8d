"""The compare flow: one task per model (train or resume, infer, evaluate), then the comparison table as artifacts."""

from __future__ import annotations

import time

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from pipeline.workflow.compare import (
    CompareConfig,
    CompareModel,
    CompareResult,
    ModelResult,
    compare_model,
    table_rows,
    write_comparison,
)


# The run folders decide what is done (last.ckpt of the same configuration), so Prefect's cache is
# off; no retries: a failed training step fails the same way again, and a rerun of the flow resumes.
@task(name="compare-model", cache_policy=NO_CACHE, task_run_name="train and evaluate {entry.label}")
def compare_model_task(config: CompareConfig, entry: CompareModel) -> ModelResult:
    return compare_model(config, entry)


def _reason(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"


@flow(name="compare", log_prints=True)
def compare_flow(config: CompareConfig) -> CompareResult:
    """Train and score each model of `config` in turn (a failed model does not stop the others),
    then write comparison.md / comparison.json and publish the table as Prefect artifacts."""
    started = time.perf_counter()
    rows: list[ModelResult] = []
    failures: dict[str, str] = {}
    for entry in config.models:  # one at a time: each run takes the whole device
        state = compare_model_task(config, entry, return_state=True)
        if state.is_completed():
            rows.append(state.result())
        else:
            failures[entry.label] = _reason(state.result(raise_on_failure=False))
    result = write_comparison(config, rows, failures, seconds=time.perf_counter() - started)
    if rows:
        create_table_artifact(table_rows(rows, config.headline), key="model-comparison",
                              description=f"models compared on {config.dataset_kind} ({config.val_annotations})")
    create_markdown_artifact(result.markdown, key="model-comparison-report", description="model comparison table")
    get_run_logger().info(result.summary().text())
    return result
