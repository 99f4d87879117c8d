"""Model comparison: several presets trained and evaluated on one dataset, features and metrics; one table."""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from model.build import build_model, count_parameters
from model.config import FeatureSet, without_model_tag
from model.presets import get_preset
from pipeline.common.summary import ItemFailure, RunSummary
from pipeline.datasets.readers import DatasetKind
from pipeline.evaluation import evaluate_files
from pipeline.evaluation.kinds import KINDS
from pipeline.inference import infer
from pipeline.training import (
    BEST,
    EVALUATION,
    LAST,
    TrainRunConfig,
    load_checkpoint,
    train,
)
from pipeline.training.config import DeviceName, PresetName
from pipeline.training.loop import METRICS, config_differences
from pipeline.workflow.published import Published, published_for
from storage.atomic import atomic_file

log = logging.getLogger(__name__)

COMPARISON_MD = "comparison.md"
COMPARISON_JSON = "comparison.json"
#: Per model folder: the submission of best.ckpt on the val split and its full metrics.
PREDICTIONS = "val_preds.jsonl"
VAL_METRICS = "val_metrics.json"
#: Brief metrics shown per dataset kind (pretraining rows are scored as Charades-STA).
HEADLINE: dict[str, tuple[str, ...]] = {kind: info.headline for kind, info in KINDS.items()}
#: Run fields that must match for a model folder's run to count as this comparison's.
_RUN_FIELDS = ("train_annotations", "val_annotations", "dataset_kind", "val_kind", "store", "stage")
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
Status = Literal["trained", "resumed", "finished"]


class CompareModel(BaseModel):
    """One model of a comparison.

    Attributes:
        label: name of the model in the table and of its folder under out_dir: letters, digits,
            ".", "_", "-", starting with a letter or digit, at most 64 characters.
        preset: model preset (`videolights model-info` lists them), e.g. "trdetr-qvhighlights".
        model_overrides: ModelConfig fields to change (e.g. {"dec_layers": 2}).
        epochs, batch_size, lr, eval_every: this model's TrainConfig values; None = the
            comparison's shared value (and, when that is None too, the preset's).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    label: str
    preset: PresetName
    model_overrides: dict[str, Any] = Field(default_factory=dict)
    epochs: int | None = Field(None, ge=1)
    batch_size: int | None = Field(None, ge=1)
    lr: float | None = Field(None, gt=0)
    eval_every: int | None = Field(None, ge=1)

    @field_validator("label")
    @classmethod
    def _safe_label(cls, value: str) -> str:
        if not _LABEL.match(value):
            raise ValueError(f"label {value!r} is not a safe folder name; use letters, digits, '.', '_' and '-', "
                             "starting with a letter or digit (at most 64 characters)")
        if value.lower() in (COMPARISON_MD, COMPARISON_JSON):
            raise ValueError(f"label {value!r} is the name of a comparison file; choose another")
        return value


class CompareConfig(BaseModel):
    """Several models trained and evaluated on one dataset with the same features, splits and metrics.

    Relative paths are read from the current directory.

    Attributes:
        train_annotations: jsonl of the training rows (shared by every model).
        val_annotations: jsonl of the rows every model is selected on and scored on.
        dataset_kind: format of both files: qvhighlights, charades_sta, tvsum or pretrain.
        split: which split val_annotations is ("val" or "test"); the papers' published numbers of
            that dataset and split are listed under the table, labelled as the papers'.
        store: feature store URL (a folder or an fsspec URL).
        features: feature set every model reads; None = the presets' own, which must then be
            the same for all models (required for presets without one, e.g. `tiny`).
        out_dir: comparison folder: one run folder per model label, comparison.md, comparison.json.
        epochs, batch_size, lr, eval_every: TrainConfig values of every model (a model entry may
            override them); None = each preset's.
        seed: training seed of every model; None = each preset's.
        device: "auto" (CUDA when available), "cpu", "cuda" or "cuda:N".
        amp: bf16 autocast on CUDA (ignored on CPU).
        num_workers: DataLoader worker processes (0 = load in the training process).
        cache: hold the split's features in memory while training.
        infer_batch_size: samples per forward pass when predicting the val split.
        models: the models, in table order (labels unique, case-insensitively).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    train_annotations: str
    val_annotations: str
    dataset_kind: DatasetKind = "qvhighlights"
    split: Literal["val", "test"] = "val"
    store: str
    features: FeatureSet | None = None
    out_dir: str
    epochs: int | None = Field(None, ge=1)
    batch_size: int | None = Field(None, ge=1)
    lr: float | None = Field(None, gt=0)
    eval_every: int | None = Field(None, ge=1)
    seed: int | None = None
    device: DeviceName = "auto"
    amp: bool = True
    num_workers: int = Field(0, ge=0)
    cache: bool = True
    infer_batch_size: int = Field(64, ge=1)
    # last: its validator sees the shared fields above (pydantic validates in definition order)
    models: list[CompareModel] = Field(..., min_length=1)

    @field_validator("models")
    @classmethod
    def _consistent_models(cls, models: list[CompareModel], info: ValidationInfo) -> list[CompareModel]:
        seen: dict[str, str] = {}
        for index, entry in enumerate(models):
            if entry.label.lower() in seen:
                raise _error([((index, "label"), f"label used twice (as {seen[entry.label.lower()]!r}); labels "
                               "name the models' folders and must be unique (case-insensitively)", entry.label)])
            seen[entry.label.lower()] = entry.label
        shared = info.data
        if set(CompareConfig.model_fields) - {"models"} - set(shared):
            return models  # a shared field is invalid (reported on its own); the runs cannot be checked
        if shared["features"] is None:
            presets = [get_preset(e.preset).features for e in models]
            if None in presets:
                index = presets.index(None)
                raise _error([((index, "preset"), "this preset has no feature set (it is a synthetic-input "
                               "preset); set `features`, e.g. {video: [clip], text: [clip], extractor_preset: "
                               "tiny}", models[index].preset)])
            sets = [s for s in presets if s is not None]  # all of them (narrows the type)
            if len(set(sets)) > 1:
                index = next(i for i, s in enumerate(sets) if s != sets[0])
                described = "; ".join(f"{e.label}: {_describe(s)}" for e, s in zip(models, sets))
                raise _error([((index, "preset"), f"the presets read different features ({described}); set "
                               "`features` so that every model reads the same ones", models[index].preset)])
        for index, entry in enumerate(models):  # each model's training run must validate
            try:
                _run_config(shared, entry)
            except ValidationError as exc:
                raise _error([((index, *_entry_field(err["loc"])), f"{err['msg']} [model {entry.label!r}]",
                                err.get("input")) for err in exc.errors()]) from None
        return models

    def run_config(self, entry: CompareModel) -> TrainRunConfig:
        """The training run of `entry` in out_dir/<label> (resume=True: a killed run continues)."""
        return _run_config(self.model_dump(exclude={"models"}), entry)

    @property
    def headline(self) -> tuple[str, ...]:
        """The brief metrics of the table for this dataset kind."""
        return HEADLINE[self.dataset_kind]


def _run_config(shared: dict[str, Any], entry: CompareModel) -> TrainRunConfig:
    def pick(name: str) -> Any:
        own = getattr(entry, name)
        return own if own is not None else shared[name]

    features = shared["features"]
    return TrainRunConfig(
        preset=entry.preset, train_annotations=shared["train_annotations"],
        val_annotations=shared["val_annotations"], dataset_kind=shared["dataset_kind"], store=shared["store"],
        out_dir=str(Path(shared["out_dir"]) / entry.label),
        features=FeatureSet.model_validate(features) if isinstance(features, dict) else features,
        model_overrides=entry.model_overrides, epochs=pick("epochs"), batch_size=pick("batch_size"), lr=pick("lr"),
        eval_every=pick("eval_every"), seed=shared["seed"], device=shared["device"], amp=shared["amp"],
        num_workers=shared["num_workers"], cache=shared["cache"], resume=True)


def _error(problems: list[tuple[tuple, str, Any]]) -> ValidationError:
    """A ValidationError of (location, message, input) problems; raised in a field validator, the
    locations are taken relative to the field (so errors name `models.1.label`, not just `models`)."""
    details = [InitErrorDetails(type=PydanticCustomError("value_error", "{message}", {"message": message}),
                                loc=loc, input=value) for loc, message, value in problems]
    return ValidationError.from_exception_data("CompareConfig", details)


def _entry_field(loc: tuple) -> tuple:
    """Location of a TrainRunConfig error in a model entry: ModelConfig fields come from model_overrides."""
    loc = without_model_tag(loc)
    return ("model_overrides", *loc[1:]) if loc[:1] == ("model",) else loc


def _describe(features: FeatureSet) -> str:
    return f"{','.join(features.video)}/{','.join(features.text)} ({features.extractor_preset})"


@dataclass(frozen=True)
class ModelResult:
    """One model's row of the comparison (small values only: it crosses Prefect task boundaries).

    Attributes:
        label, preset: as configured; model: the architecture (model.zoo.registry name, e.g. qd_detr).
        parameters: trainable parameters.
        status: "trained" (from scratch), "resumed" (continued a killed run) or "finished"
            (already trained with the same configuration: not retrained).
        epochs: epochs trained; best_epoch: epoch of best.ckpt (the preset's selection rule on val).
        train_seconds: optimisation time summed over the epochs of metrics.jsonl (all sessions of
            a resumed run; evaluation and setup excluded).
        metrics: the headline brief metrics of best.ckpt on the val split (percent), from infer +
            pipeline.evaluation.
        run_dir, checkpoint, predictions: the run folder, best.ckpt and the val submission.
    """

    label: str
    preset: PresetName
    model: str
    parameters: int
    status: Status
    epochs: int
    best_epoch: int | None
    train_seconds: float
    metrics: dict[str, float]
    run_dir: str
    checkpoint: str
    predictions: str


@dataclass(frozen=True)
class CompareResult:
    """What a comparison wrote: the rows, the models that failed (label -> reason) and the two tables."""

    rows: list[ModelResult]
    markdown_path: Path
    json_path: Path
    markdown: str
    failures: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> RunSummary:
        """done = trained or resumed, skipped = finished before, failures with their reasons."""
        return RunSummary(step="compare", done=sum(r.status != "finished" for r in self.rows),
                          skipped=sum(r.status == "finished" for r in self.rows), seconds=self.seconds,
                          failures=[ItemFailure(item=k, reason=v) for k, v in self.failures.items()],
                          notes=[f"table: {self.markdown_path}", f"json: {self.json_path}"])


def trained_epochs(run: TrainRunConfig) -> int:
    """Epochs already trained in run.out_dir by a run of this very configuration (0: no run there).

    The run's last.ckpt must record the same experiment (model, loss, features, TrainConfig but
    its epochs) and the same data; a run of fewer epochs is continued, one of more is refused.

    Raises:
        ValueError: the folder holds a run of another configuration or data, or of more epochs.
    """
    last = run.out / LAST
    if not last.exists():
        return 0
    ckpt = load_checkpoint(last)
    experiment = run.experiment()
    diff = config_differences(ckpt["config"], experiment.model_dump(mode="json"), ignore=("train.epochs",))
    recorded = ckpt.get("run") or {}
    diff += [f"{k}: {recorded.get(k)!r} -> {getattr(run, k)!r}"
             for k in _RUN_FIELDS if recorded.get(k) != getattr(run, k)]
    if diff:
        raise ValueError(f"{last} was trained with another configuration ({'; '.join(diff)}); remove {run.out} "
                         "to retrain this model, or give the comparison another out_dir")
    epochs, wanted = int(ckpt["epoch"]), experiment.train.epochs
    if epochs > wanted:
        raise ValueError(f"{last} has trained {epochs} epochs, the comparison asks for {wanted}; remove {run.out} "
                         f"to retrain this model, or set its epochs to at least {epochs}")
    return epochs


def _train_seconds(metrics_path: Path) -> float:
    lines = metrics_path.read_text().splitlines() if metrics_path.exists() else []
    return sum(float(json.loads(line).get("seconds", 0.0)) for line in lines if line.strip())


def compare_model(config: CompareConfig, entry: CompareModel) -> ModelResult:
    """Train `entry` into out_dir/<label> (or continue it, or keep it when finished), then score it.

    best.ckpt predicts the val split (val_preds.jsonl, written by pipeline.inference.infer) and
    pipeline.evaluation scores the file (val_metrics.json): every model is measured by the same
    code on the same rows, whatever the training loop logged.

    Raises:
        ValueError: the model folder holds a run of another configuration (see trained_epochs),
            or training / inference refused the inputs; FileNotFoundError, MissingFeaturesError,
            FloatingPointError as pipeline.training.train raises them.
    """
    run = config.run_config(entry)
    experiment = run.experiment()
    done = trained_epochs(run)
    status: Status = "finished" if done == experiment.train.epochs else "resumed" if done else "trained"
    if status == "finished":
        log.info("%s: %s already holds %d trained epochs of this configuration; not retrained", entry.label,
                 run.out, done)
    else:
        train(run)
    best = run.out / BEST
    ckpt = load_checkpoint(best)
    predictions = run.out / PREDICTIONS
    infer(best, config.val_annotations, config.store, predictions, dataset_kind=config.dataset_kind,
          device=config.device, batch_size=config.infer_batch_size, num_workers=config.num_workers, amp=config.amp)
    dataset, extended = EVALUATION[config.dataset_kind]
    metrics = evaluate_files(predictions, config.val_annotations, dataset=dataset, extended=extended)
    with atomic_file(run.out / VAL_METRICS, "w") as handle:
        json.dump(metrics, handle, indent=2)
    brief = metrics["brief"]
    result = ModelResult(
        label=entry.label, preset=entry.preset, model=experiment.model.name,
        parameters=count_parameters(build_model(experiment)[0]), status=status, epochs=experiment.train.epochs,
        best_epoch=(ckpt.get("best") or {}).get("epoch"), train_seconds=round(_train_seconds(run.out / METRICS), 1),
        metrics={k: brief[k] for k in config.headline if k in brief}, run_dir=str(run.out), checkpoint=str(best),
        predictions=str(predictions))
    log.info("%s (%s): %s", entry.label, status, ", ".join(f"{k} {v:.2f}" for k, v in result.metrics.items()))
    return result


def table_rows(rows: list[ModelResult], headline: tuple[str, ...]) -> list[dict[str, Any]]:
    """Flat table rows: model, preset, parameters, epochs, best epoch, train seconds, headline metrics."""
    return [{"model": r.label, "preset": r.preset, "parameters": r.parameters, "epochs": r.epochs,
             "best epoch": r.best_epoch, "train s": r.train_seconds, **{k: r.metrics.get(k) for k in headline}}
            for r in rows]


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def comparison_markdown(config: CompareConfig, rows: list[ModelResult], failures: dict[str, str]) -> str:
    """The comparison as a markdown document: what was compared, the table, the failed models."""
    table = table_rows(rows, config.headline)
    columns = list(table[0]) if table else ["model"]
    features = {_describe(config.run_config(m).experiment().features) for m in config.models}
    lines = [f"# Model comparison on {config.dataset_kind}", "",
             f"- train: `{config.train_annotations}`, selected and scored on: `{config.val_annotations}`",
             f"- features: {', '.join(sorted(features))}, store `{config.store}`",
             "- metrics: best.ckpt (each preset's selection rule on val) -> infer -> pipeline.evaluation, percent",
             ""]
    if config.features is not None and config.features.extractor_preset == "tiny":
        lines += ["**Tiny features** (random small encoders): for tests and demos only, not real results.", ""]
    lines += ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(row[c]) for c in columns) + " |" for row in table]
    lines += _published_lines(config, rows)
    if failures:
        lines += ["", "| failed model | reason |", "|---|---|"]
        lines += [f"| {label} | {reason.replace('|', '/')} |" for label, reason in failures.items()]
    return "\n".join(lines) + "\n"


def _published_lines(config: CompareConfig, rows: list[ModelResult]) -> list[str]:
    """The papers' numbers for the compared models on this dataset and split, labelled as such."""
    seen: dict[str, tuple[str, Published]] = {}
    for row in rows:
        features = config.run_config(_entry(config, row.label)).experiment().features
        for paper in published_for(row.model, config.dataset_kind, config.split, features):
            seen.setdefault(f"{paper.model}/{paper.label}", (row.label, paper))
    if not seen:
        return []
    columns = config.headline
    lines = ["", f"Published numbers on {config.dataset_kind} {config.split} (from the papers, not measured here):", "",
             "| paper model | compared as | " + " | ".join(columns) + " | source |", "|" + "---|" * (len(columns) + 3)]
    for label, paper in seen.values():
        cells = " | ".join(_cell(paper.metrics.get(c)) for c in columns)
        lines.append(f"| {paper.label} | {label} | {cells} | {paper.source} |")
    return lines


def _entry(config: CompareConfig, label: str) -> CompareModel:
    return next(m for m in config.models if m.label == label)


def write_comparison(config: CompareConfig, rows: list[ModelResult], failures: dict[str, str] | None = None,
                     seconds: float = 0.0) -> CompareResult:
    """Write out_dir/comparison.md and comparison.json (atomically) for the models' rows.

    Args:
        rows: the models that were scored, in table order.
        failures: label -> one-line reason of the models that failed (listed below the table).
        seconds: wall time of the comparison, recorded in the JSON.
    """
    failures = dict(failures or {})
    out = Path(config.out_dir)
    markdown = comparison_markdown(config, rows, failures)
    document = {"dataset_kind": config.dataset_kind, "train_annotations": config.train_annotations,
                "val_annotations": config.val_annotations, "store": config.store, "headline": list(config.headline),
                "models": [asdict(r) for r in rows], "failures": failures, "seconds": round(seconds, 1),
                "config": config.model_dump(mode="json")}
    with atomic_file(out / COMPARISON_MD, "w") as handle:
        handle.write(markdown)
    with atomic_file(out / COMPARISON_JSON, "w") as handle:
        json.dump(document, handle, indent=2)
    return CompareResult(rows, out / COMPARISON_MD, out / COMPARISON_JSON, markdown, failures, seconds)


def compare(config: CompareConfig) -> CompareResult:
    """Train and score every model of `config` in turn, then write the comparison table.

    Resumable: a rerun continues a killed model run from its last.ckpt and does not retrain a
    finished one (see trained_epochs). The first failing model raises (the compare flow instead
    records failures and finishes the other models).

    Returns:
        CompareResult with one row per model and the paths of comparison.md / comparison.json.
    """
    started = time.perf_counter()
    rows = [compare_model(config, entry) for entry in config.models]
    return write_comparison(config, rows, seconds=time.perf_counter() - started)
