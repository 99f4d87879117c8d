"""Named experiment presets: every model at its release's script settings per dataset, plus tiny
ones of the same classes for tests and the demo; and the text `videolights model-info` prints."""

from __future__ import annotations

from typing import Any

from model.build import build_model, count_parameters
from model.config import ExperimentConfig, FeatureSet, TrainConfig
from model.zoo.family import Family, ScriptPreset
from model.zoo.registry import FAMILIES, get_family

SF_C = FeatureSet(video=("slowfast", "clip"), text=("clip",))
SF_C_B = FeatureSet(video=("slowfast", "clip", "blip2"), text=("clip", "blip2"))
_FEATURES = {"sf_c": SF_C, "sf_c_b": SF_C_B}

#: Training-loop settings of this pipeline per dataset (evaluation cadence, checkpoint selection)
#: that the release scripts leave to their own code; script values override the rest.
_DATASET_TRAIN: dict[str, dict[str, Any]] = {
    "qvhighlights": {"select_metric": "qvhighlights-weighted"},
    "charades_sta": {"select_metric": "R1@0.3", "clip_seconds": 1.0},
    "tvsum": {"select_metric": "tvsum-top5-mAP"},
    "pretrain": {"select_metric": "qvhighlights-weighted", "lr_drop": None},
}
#: Tiny models' training: a few short epochs on small batches.
_TINY_TRAIN = TrainConfig(epochs=5, batch_size=4, max_clips=16, eval_every=1)
#: Input sizes of the tiny presets (features=None: tests feed synthetic inputs or name features).
_TINY_DIMS = (18, 12)


def _from_script(preset: ScriptPreset) -> ExperimentConfig:
    train = TrainConfig.model_validate({**_DATASET_TRAIN.get(preset.dataset, {}), **preset.train})
    return ExperimentConfig(model=preset.model, train=train, features=_FEATURES[preset.features])


def _tiny(family: Family) -> ExperimentConfig:
    """The family's tiny config; training keeps the release's EMA of the weights where it has one."""
    ema = {p.train.get("ema_decay") for p in family.presets.values()} - {None}
    train = _TINY_TRAIN.model_copy(update={"ema_decay": ema.pop()}) if len(ema) == 1 else _TINY_TRAIN
    return ExperimentConfig(model=family.tiny(*_TINY_DIMS), train=train, features=None)


def _all_presets() -> dict[str, ExperimentConfig]:
    presets: dict[str, ExperimentConfig] = {}
    for family in FAMILIES.values():
        for name, preset in family.presets.items():
            presets[name] = _from_script(preset)
        tiny_name = "tiny" if family.name == "videolights" else f"{family.name}-tiny"
        presets[tiny_name] = _tiny(family)
    return presets


PRESETS: dict[str, ExperimentConfig] = _all_presets()


def list_presets() -> list[str]:
    """Names of all presets, sorted."""
    return sorted(PRESETS)


def get_preset(name: str) -> ExperimentConfig:
    """The preset called `name`.

    Raises:
        ValueError: unknown name (the message lists the known ones).
    """
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; known presets: {', '.join(list_presets())}")
    return PRESETS[name]


def preset_source(name: str) -> str | None:
    """The release script a preset's values come from (None for the tiny presets)."""
    for family in FAMILIES.values():
        if name in family.presets:
            return family.presets[name].source
    return None


def _flatten(prefix: str, value: Any) -> list[str]:
    if isinstance(value, dict):
        return [line for k, v in value.items() for line in _flatten(f"{prefix}{k}.", v)]
    return [f"{prefix.rstrip('.')}: {value}"]


def differences_table(model_name: str) -> str:
    """The model's release-vs-corrected table as markdown (name, release, corrected, why)."""
    family = get_family(model_name)
    rows = ["| difference | release | corrected | why |", "|---|---|---|---|"]
    for d in family.config.DIFFERENCES:
        rows.append(f"| `{d.name}` | {d.release} | {d.corrected} | {d.why} |")
    if len(rows) == 2:
        rows.append("| (none) | | | nothing in this release needed correcting |")
    return "\n".join(rows)


def describe_experiment(cfg: ExperimentConfig, title: str) -> str:
    """Human-readable configuration, its fidelity table, ending with `parameters: N` (built on CPU)."""
    model, _, _ = build_model(cfg)
    family = get_family(cfg.model.name)
    corrected = cfg.model.fidelity == "corrected"
    applied = "all" if corrected else (", ".join(cfg.model.corrections) or "none")
    lines = [title, f"paper: {family.paper}", *_flatten("", cfg.model_dump(mode="json")),
             f"fidelity: {cfg.model.fidelity} (corrections applied: {applied})",
             "release vs corrected:", differences_table(cfg.model.name),
             f"parameters: {count_parameters(model)}"]  # fmt: skip
    return "\n".join(lines)


def describe_preset(name: str) -> str:
    """describe_experiment() of a preset, with the release script its values come from.

    Raises:
        ValueError: unknown name.
    """
    cfg = get_preset(name)
    source = preset_source(name)
    title = f"preset: {name}" + (f"\nsource: {source}" if source else "")
    return describe_experiment(cfg, title)
