"""The parent `videolights-pipeline` flow: data -> decode -> extract -> synthesize -> pretrain ->
(zero-shot) -> finetune -> evaluate, each step a flow of its own, skipped when its outputs are
complete and current, so a run killed anywhere resumes with only the unfinished work.

Each video is decoded once: the extract step's decode pass also records the decode step's clip
grids and feeds the synthesize step; those two steps decode only the videos extraction does not
(outside the annotation files)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.states import Failed

from flows.decode import decode_flow
from flows.extract import SharedDecode, extract_flow
from flows.outcome import run_flow
from flows.progress_artifacts import PrefectProgress
from flows.steps import evaluate_flow, finetune_flow, pretrain_flow, synthesize_flow
from pipeline.common import progress
from pipeline.common.summary import RunSummary
from pipeline.datasets.readers import read_annotations
from pipeline.extract import DecodeConfig, GridTap, resolve_videos
from pipeline.synthetic import SynthesisJob
from pipeline.video import list_videos, video_id
from pipeline.workflow.config import STEPS, PipelineConfig, RunPaths, Step
from pipeline.workflow.report import MetricsRow, PipelineReport, StepOutcome
from pipeline.workflow.steps import HEADLINE, DataRecord, chance_level, prepare_data
from storage import FeatureStore
from storage.atomic import atomic_file


@task(name="prepare-data", cache_policy=NO_CACHE)
def prepare_data_task(config: PipelineConfig) -> DataRecord:
    return prepare_data(config, RunPaths.of(config))


def _summary_detail(summary: RunSummary, counts: str | None = None) -> str:
    detail = counts or f"{summary.done} done, {summary.skipped} skipped, {summary.failed} failed"
    if summary.failures:
        detail += " (" + "; ".join(f"{f.item}: {f.reason}" for f in summary.failures[:3]) + ")"
    return detail


def _merge(step: str, summaries: list[RunSummary]) -> RunSummary:
    merged = RunSummary(step=step)
    for s in summaries:
        merged.done += s.done
        merged.skipped += s.skipped
        merged.failures += s.failures
        merged.seconds += s.seconds
        merged.notes += s.notes
    return merged


class _Runner:
    """Runs the steps in order; after a failure the remaining steps are 'not reached'."""

    def __init__(self, report: PipelineReport):
        self.report = report
        self.stopped = False

    def run(self, step: str, enabled: bool, fn: Callable[[], tuple[object, str, bool]]) -> object | None:
        if not enabled:
            self.report.steps.append(StepOutcome(step=step, status="off"))
            return None
        if self.stopped:
            self.report.steps.append(StepOutcome(step=step, status="not reached"))
            return None
        started = time.perf_counter()
        try:
            value, detail, skipped = fn()
        except Exception as exc:  # the report names the step and the reason; the flow then fails
            self.stopped = True
            reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:400]
            self.report.steps.append(StepOutcome(step=step, status="failed", detail=reason,
                                                 seconds=time.perf_counter() - started))
            return None
        self.report.steps.append(StepOutcome(step=step, status="skipped" if skipped else "done", detail=detail,
                                             seconds=time.perf_counter() - started))
        return value


def _artifact_key(name: str, what: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", f"{name}-{what}".lower()).strip("-")


@flow(name="videolights-pipeline", log_prints=True)
def pipeline_flow(config: PipelineConfig, refresh: list[Step] | None = None) -> PipelineReport:
    """Run the whole DAG of `config`. `refresh` names steps to redo even when their outputs are current
    (a refreshed step makes the steps after it see new inputs, so they redo only what changed)."""
    started = time.perf_counter()
    refresh = set(refresh or [])
    unknown = refresh - set(STEPS)
    if unknown:
        raise ValueError(f"refresh: unknown steps {sorted(unknown)}; steps are {', '.join(STEPS)}")
    paths = RunPaths.of(config)
    kind = config.data.kind
    report = PipelineReport(name=config.name, dataset=kind, headline=list(HEADLINE[kind]),
                            tiny=config.features.extractor_preset == "tiny")
    runner = _Runner(report)

    with progress.listening(PrefectProgress(config.name)):
        data: DataRecord | None = runner.run("data", True, lambda: _data(config))
        runner.run("decode", True, lambda: _decode(config, paths, "decode" in refresh, report))
        extracted = runner.run("extract", True, lambda: _extract(config, paths, refresh, report))
        runner.run("synthesize", config.synthesize.enabled,
                   lambda: _synthesize(config, "synthesize" in refresh, extracted, report))
        pretrain = runner.run("pretrain", config.pretrain.enabled,
                              lambda: _train_step(pretrain_flow, config, "pretrain" in refresh))
        zero_shot = runner.run("zero_shot", config.pretrain.enabled and config.evaluate.zero_shot,
                               lambda: _eval_step(config, _checkpoint(config, pretrain), "zero_shot",
                                                  "zero_shot" in refresh, test=False))
        finetune = runner.run("finetune", True, lambda: _train_step(finetune_flow, config, "finetune" in refresh))
        final = runner.run("evaluate", True, lambda: _eval_step(config, _checkpoint(config, finetune), "finetuned",
                                                                "evaluate" in refresh, test=True))

    if final is not None:
        report.rows.append(MetricsRow(name=f"{config.finetune.preset} (fine-tuned)" if config.pretrain.enabled
                                      else config.finetune.preset, metrics=final.brief, checkpoint=final.checkpoint))
    if zero_shot is not None:
        report.rows.append(MetricsRow(name=f"{config.pretrain.preset} (zero-shot)", metrics=zero_shot.brief,
                                      checkpoint=zero_shot.checkpoint))
    if config.evaluate.chance and data is not None:
        report.rows.append(MetricsRow(name="chance (random predictions)", metrics=chance_level(config, paths)))
    report.outputs = _outputs(paths, config, pretrain, finetune, final)
    report.seconds = time.perf_counter() - started
    with atomic_file(paths.report, "w") as handle:
        handle.write(report.markdown())
    if report.rows:
        create_table_artifact(report.table_rows(), key=_artifact_key(config.name, "metrics"),
                              description=f"{config.name}: val metrics (%) of each model and the chance level")
    create_markdown_artifact(report.markdown(), key=_artifact_key(config.name, "report"),
                             description=f"{config.name}: steps done / skipped / failed, metrics, outputs")
    get_run_logger().info(report.text())
    if not report.ok:  # the run ends FAILED; run_flow(pipeline_flow, ...) still returns the report
        return Failed(message=report.failure(), data=report)
    return report


def _data(config: PipelineConfig) -> tuple[DataRecord, str, bool]:
    record = prepare_data_task(config)
    how = "generated" if record.generated else "found"
    return record, f"{how}: {record.n_videos} videos, {record.n_train_rows} train / {record.n_val_rows} val rows", False


def _decode_settings(config: PipelineConfig) -> DecodeConfig:
    settings = config.extract.decode
    if config.extract.crop_size is not None:
        settings = settings.model_copy(update={"short_side": config.extract.crop_size})
    return settings


def _splits(paths: RunPaths) -> list[Path]:
    return [paths.train, paths.val] + ([paths.test] if paths.test else [])


def _annotated_videos(config: PipelineConfig, paths: RunPaths) -> list[Path]:
    """The video files the extract step decodes: those the annotation files name."""
    vids = [row.vid for split in _splits(paths) for row in read_annotations(split, config.data.kind)]
    return resolve_videos(paths.videos, vids)[0]


def _decode(config: PipelineConfig, paths: RunPaths, force: bool,
            report: PipelineReport) -> tuple[RunSummary, str, bool]:
    """Clip grids of the videos no annotation file names; the others' grids are recorded on the
    extract step's decode pass (each video decoded once), so here they are only counted."""
    settings = _decode_settings(config)
    annotated = _annotated_videos(config, paths)
    on_extract = {p.resolve() for p in annotated}
    videos = [str(p) for p in list_videos(paths.videos) if p.resolve() not in on_extract]
    summary = (run_flow(decode_flow, videos=videos, store=paths.store, config=settings, force=force) if videos
               else RunSummary(step="decode"))
    report.failed_items += summary.failed
    grids = GridTap(FeatureStore(paths.store), settings, force)
    left = sum(grids.wanted(video_id(p), p) for p in annotated)
    detail = _summary_detail(summary) + (f"; {left} left to extract's decode pass" if left else "")
    return summary, detail, summary.done == 0 and not summary.failed and not left


def _synthesis_job(config: PipelineConfig, paths: RunPaths) -> SynthesisJob | None:
    """The synthesize step's work, done on the extract step's decode pass when both decode on one clip grid."""
    settings = config.synthesize_settings()
    if (not config.synthesize.enabled or settings.decode.clip_seconds != config.extract.decode.clip_seconds
            or not paths.synthetic_videos.is_dir()):  # a missing folder is the synthesize step's to report
        return None
    return SynthesisJob(videos=[str(p) for p in list_videos(paths.synthetic_videos)], out=str(paths.synthetic),
                        config=settings)


def _extract(config: PipelineConfig, paths: RunPaths, refresh: set[str], report: PipelineReport):
    shared = SharedDecode(grid=_decode_settings(config), grid_force="decode" in refresh,
                          synthesis=_synthesis_job(config, paths) if "synthesize" not in refresh else None)
    summaries = [run_flow(extract_flow, store=paths.store, video_dir=str(paths.videos), annotations=str(split),
                          dataset=config.data.kind, config=config.extract_settings(), force="extract" in refresh,
                          shared=shared)
                 for split in _splits(paths)]
    merged = _merge("extract", summaries)
    report.failed_items += merged.failed
    if merged.failed and not (merged.done + merged.skipped):
        raise RuntimeError(f"no video could be extracted ({_summary_detail(merged)})")
    grids, synthesized = sum(s.grids for s in summaries), sum(s.synthesized for s in summaries)
    riders = ([f"{grids} clip grids"] if grids else []) + ([f"{synthesized} videos synthesized"] if synthesized else [])
    detail = _summary_detail(merged)
    if riders:
        detail += "; " + " and ".join(riders) + " on the same decode pass"
    return synthesized, detail, merged.done == 0 and merged.skipped > 0 and not (grids or synthesized)


def _synthesize(config: PipelineConfig, refresh: bool, synthesized_in_extract: int | None, report: PipelineReport):
    """The synthesize step: what the extract step's decode pass did not synthesize (videos outside
    the annotation files, or all of them when it could not share its pass)."""
    summary = run_flow(synthesize_flow, config, refresh=refresh)
    report.failed_items += summary.failed
    earlier = synthesized_in_extract or 0
    counts = (f"{earlier} synthesized on extract's decode pass, {summary.done} more here, {summary.failed} failed"
              if earlier else None)
    detail = _summary_detail(summary, counts)
    return summary, detail, summary.done == 0 and summary.skipped > 0 and not earlier


def _train_step(step_flow, config: PipelineConfig, refresh: bool):
    record = step_flow(config, refresh=refresh)
    skipped = record.cached
    best = f", best epoch {record.best_epoch}" if record.best_epoch else ""
    resumed = f", resumed at epoch {record.resumed_from_epoch}" if record.resumed_from_epoch > 1 and not skipped else ""
    return record, f"{record.final_epoch} epochs{best}{resumed} -> {record.out_dir}", skipped


def _checkpoint(config: PipelineConfig, record) -> str:
    if record is None:
        raise RuntimeError("its training step did not finish")
    if config.evaluate.checkpoint == "best" and record.best_checkpoint:
        return record.best_checkpoint
    return record.last_checkpoint


def _eval_step(config: PipelineConfig, checkpoint: str, name: str, refresh: bool, test: bool):
    record = evaluate_flow(config, checkpoint, name=name, test=test, refresh=refresh)
    shown = ", ".join(f"{k} {record.brief[k]:.1f}" for k in HEADLINE[config.data.kind][:2] if k in record.brief)
    return record, shown, record.cached


def _outputs(paths: RunPaths, config: PipelineConfig, pretrain, finetune, final) -> dict[str, str]:
    outputs = {"feature store": paths.store}
    if config.synthesize.enabled:
        outputs["synthetic rows"] = str(paths.synthetic)
    if pretrain is not None:
        outputs["pretrained model"] = pretrain.checkpoint
    if finetune is not None:
        outputs["fine-tuned model"] = finetune.checkpoint
    if final is not None:
        outputs["val submission"] = final.submission
        outputs["metrics"] = final.metrics_path
        if final.test_submission:
            outputs["test submission"] = final.test_submission
        if final.plots:
            outputs["plots"] = str(Path(final.plots[0]).parent)
    outputs["report"] = str(paths.report)
    return outputs
