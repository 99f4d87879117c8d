"""PipelineConfig: the whole DAG in one typed config (YAML under configs/), and where each step writes.

Relative paths in a config resolve against `workdir`; `workdir` itself resolves against the
directory the command runs in. `${VAR}` in a path expands from the environment (e.g.
`${VIDEOLIGHTS_DATA}/qvhighlights/highlight_val_release.jsonl`), and an unset variable is an
error that names the field.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from model.config import FeatureSet, without_model_tag
from pipeline.workflow.demo import DemoDataConfig
from pipeline.extract import ExtractConfig
from pipeline.synthetic.config import SynthesizeConfig
from pipeline.training.config import DeviceName, PresetName, build_experiment

STEPS = ("data", "decode", "extract", "synthesize", "pretrain", "zero_shot", "finetune", "evaluate")
"""Steps of the parent flow, in DAG order (`--refresh` takes these names)."""
Step = Literal["data", "decode", "extract", "synthesize", "pretrain", "zero_shot", "finetune", "evaluate"]

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def expand_path(value: str) -> str:
    """`${VAR}` replaced from the environment; an unset variable raises ValueError naming it."""
    def sub(match: re.Match) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise ValueError(f"environment variable {name} is not set (used in {value!r})")
        return os.environ[name]

    return os.path.expanduser(_VAR.sub(sub, value))


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DataConfig(_Frozen):
    """The dataset: a folder of videos and annotation files (or a generated demo dataset).

    Attributes:
        kind: annotation format: qvhighlights, charades_sta or tvsum.
        videos: folder of the videos (`<vid>.mp4` etc.).
        train, val: jsonl files of the splits (val: the evaluated split).
        test: optional unlabelled split: a submission file is written for it.
        domain: TVSum only: the domain one model is trained on.
        generate: make a dataset with planted moments first (the demo): then videos/train/val
            must be left out; they are the generated ones under `<workdir>/data`.
    """

    kind: Literal["qvhighlights", "charades_sta", "tvsum"] = "qvhighlights"
    videos: str | None = None
    train: str | None = None
    val: str | None = None
    test: str | None = None
    domain: str | None = None
    generate: DemoDataConfig | None = None

    @model_validator(mode="after")
    def _sources(self) -> DataConfig:
        given = {name: getattr(self, name) for name in ("videos", "train", "val")}
        if self.generate is not None:
            clash = [name for name, value in given.items() if value is not None]
            if clash:
                raise ValueError(f"generate makes the dataset; leave out {', '.join(clash)}")
            if self.kind != "qvhighlights":
                raise ValueError("generate writes QVHighlights-format rows; kind must be qvhighlights")
        else:
            missing = [name for name, value in given.items() if value is None]
            if missing:
                raise ValueError(f"{', '.join(missing)} missing (or set generate to make a demo dataset)")
        return self


class TrainStepConfig(_Frozen):
    """One training step (pretrain or finetune): the model preset and the run's overrides.

    Attributes:
        enabled: run this step (pretrain off: finetune trains from scratch).
        preset: model preset (`videolights model-info` lists them).
        epochs, batch_size, lr, eval_every, seed: overrides of the preset's training settings.
        model_overrides: ModelConfig fields to change (e.g. {"dec_layers": 2}).
        amp: bf16 autocast on CUDA.
    """

    enabled: bool = True
    preset: PresetName = "videolights-qvhighlights"
    epochs: int | None = Field(None, ge=1)
    batch_size: int | None = Field(None, ge=1)
    lr: float | None = Field(None, gt=0)
    eval_every: int | None = Field(None, ge=1)
    seed: int | None = None
    model_overrides: dict[str, Any] = Field(default_factory=dict)
    amp: bool = True


class SynthesizeStepConfig(SynthesizeConfig):
    """The synthesize step: SynthesizeConfig plus whether it runs and on which videos.

    Attributes:
        enabled: make synthetic pretraining rows (needed by pretrain).
        videos: folder to caption; default: the dataset's videos.
    """

    enabled: bool = True
    videos: str | None = None

    def settings(self) -> SynthesizeConfig:
        return SynthesizeConfig(**self.model_dump(exclude={"enabled", "videos"}))


class EvaluateStepConfig(_Frozen):
    """The evaluation: metrics of the fine-tuned model (and zero-shot of the pretrained one).

    Attributes:
        zero_shot: also evaluate the pretrained checkpoint before fine-tuning (the paper's -ZS rows).
        chance: also evaluate a seeded random submission of the same rows, as the chance level.
        plots: validation videos to plot (saliency curve, predicted and true moments).
        checkpoint: "best" (best validation epoch) or "last".
    """

    zero_shot: bool = True
    chance: bool = True
    plots: int = Field(2, ge=0)
    checkpoint: Literal["best", "last"] = "best"


class PipelineConfig(_Frozen):
    """The whole DAG: data -> decode -> extract -> synthesize -> pretrain -> finetune -> evaluate.

    Attributes:
        name: run name (reports, artifact keys).
        workdir: every output goes under it (relative to the current directory).
        store: feature store (a folder relative to workdir, or an fsspec URL).
        device: "cpu", "cuda", "cuda:N" or "auto", for every step.
        data: the dataset.
        features: which features the model reads (video and text encoders; extractor preset).
        extract: extraction settings (its extractors and text encoders follow `features`).
        decode_workers: videos probed and checked at the same time in the decode step.
        synthesize: synthetic pretraining data.
        pretrain: pretraining on the synthetic rows.
        finetune: training on the dataset's train split (from the pretrained weights when
            pretraining ran).
        evaluate: what is evaluated and plotted.
    """

    name: str = "videolights"
    workdir: str = "runs/videolights"
    store: str = "store"
    device: DeviceName = "auto"
    data: DataConfig
    features: FeatureSet = FeatureSet()
    extract: ExtractConfig = ExtractConfig()
    decode_workers: int = Field(2, ge=1)
    synthesize: SynthesizeStepConfig = SynthesizeStepConfig(enabled=False)
    pretrain: TrainStepConfig = TrainStepConfig(enabled=False, preset="videolights-pretrain")
    finetune: TrainStepConfig = TrainStepConfig()
    evaluate: EvaluateStepConfig = EvaluateStepConfig()

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"name {value!r}: letters, digits, '_', '-' and '.' only")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> PipelineConfig:
        if self.pretrain.enabled and not self.synthesize.enabled:
            raise ValueError("pretrain.enabled needs synthesize.enabled (pretraining reads the synthetic rows)")
        if not self.finetune.enabled:
            raise ValueError("finetune.enabled: the pipeline always trains on the dataset; it cannot be off")
        preset_of = {"extract": self.extract.preset, "features": self.features.extractor_preset}
        if self.synthesize.enabled:
            preset_of["synthesize"] = self.synthesize.preset
        if len(set(preset_of.values())) > 1:
            raise ValueError(f"extractor presets differ ({preset_of}); features, extract and synthesize must "
                             "use the same encoders")
        if self.data.domain is not None and self.data.kind != "tvsum":
            raise ValueError(f"data.domain={self.data.domain!r} filters TVSum videos; data.kind is {self.data.kind!r}")
        for stage in ("pretrain", "finetune"):
            step: TrainStepConfig = getattr(self, stage)
            if step.enabled:
                _check_experiment(stage, step, self.features)
        for name, path in self.path_fields().items():
            try:
                expand_path(path)  # an unset ${VAR} is refused now, not halfway through a run
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
        return self

    def path_fields(self) -> dict[str, str]:
        """The config's paths by field name (those that are set)."""
        data = self.data
        values = {"workdir": self.workdir, "store": self.store, "data.videos": data.videos, "data.train": data.train,
                  "data.val": data.val, "data.test": data.test, "synthesize.videos": self.synthesize.videos}
        return {name: value for name, value in values.items() if value}

    def extract_settings(self) -> ExtractConfig:
        """The extraction config with the feature set's encoders and the run's device."""
        return self.extract.model_copy(update={"extractors": tuple(self.features.video),
                                               "text_encoders": tuple(self.features.text),
                                               "device": _concrete_device(self.device)})

    def synthesize_settings(self) -> SynthesizeConfig:
        settings = self.synthesize.settings()
        return settings.model_copy(update={"device": _concrete_device(self.device)})


def _check_experiment(stage: str, step: TrainStepConfig, features: FeatureSet) -> None:
    """The step's preset with the run's features and overrides must be a valid experiment."""
    try:
        build_experiment(step.preset, features, step.model_overrides)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, without_model_tag(e['loc'])))}: {e['msg']}" for e in exc.errors())
        raise ValueError(f"{stage}.model_overrides give an invalid {step.preset} model: {problems}") from None


def _concrete_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class RunPaths(BaseModel):
    """Where a pipeline run reads and writes, all resolved (absolute paths, or the store URL)."""

    workdir: Path
    store: str
    videos: Path
    train: Path
    val: Path
    test: Path | None
    synthetic: Path
    synthetic_videos: Path
    train_root: Path
    eval_root: Path
    report: Path

    @classmethod
    def of(cls, config: PipelineConfig, cwd: str | os.PathLike | None = None) -> RunPaths:
        base = Path(cwd or os.getcwd())
        workdir = (base / expand_path(config.workdir)).resolve()

        def under(value: str) -> Path:
            return (workdir / expand_path(value)).resolve()

        store = expand_path(config.store)
        store = store if "://" in store else str(under(store))
        data = config.data
        if data.generate is not None:
            videos, train, val = workdir / "data" / "videos", workdir / "data" / "annotations" / "train.jsonl", \
                workdir / "data" / "annotations" / "val.jsonl"
        else:
            videos, train, val = under(data.videos), under(data.train), under(data.val)
        return cls(workdir=workdir, store=store, videos=videos, train=train, val=val,
                   test=under(data.test) if data.test else None,
                   synthetic=workdir / "synthetic" / "pretrain.jsonl",
                   synthetic_videos=under(config.synthesize.videos) if config.synthesize.videos else videos,
                   train_root=workdir / "train", eval_root=workdir / "eval", report=workdir / "report.md")
