"""What each model package exports: one Family record that the registry, the checkpoint
converter, `model-info` and the presets read."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from torch import Tensor, nn

from model.zoo.fidelity import ZooConfig


@dataclass(frozen=True)
class ScriptPreset:
    """A model configured as one of its release's training scripts configures it.

    Attributes:
        dataset: "qvhighlights", "charades_sta" or "tvsum".
        features: "sf_c" (SlowFast+CLIP video, CLIP text) or "sf_c_b" (+ BLIP-2 video and text).
        model: the model config at the script's options (video_dim/text_dim of the paper features).
        train: TrainConfig overrides from the script (epochs, batch_size, lr, lr_drop, weight_decay,
            grad_clip, seed, clip_seconds, max_clips, max_query_tokens, max_windows).
        source: the release script (path, lines) the values come from.
    """

    dataset: str
    features: str
    model: ZooConfig
    train: Mapping[str, Any]
    source: str


@dataclass(frozen=True)
class Family:
    """One model of the zoo.

    Attributes:
        name: registry key, equal to the config's `name` literal.
        paper: the paper (title, venue) and release repository.
        config: the model's config class.
        build: config -> (model, criterion); criterion(outputs, {**targets, "epoch": e})["total"] is
            the release's training objective.
        tiny: (video_dim, text_dim) -> a small seeded-test config of the same classes.
        config_from_options: vars() of the release's option Namespace -> config.
        map_state_dict: (release state dict, config) -> (our state dict, {release key: why unused}).
        recognises: vars() of a release option Namespace + its state-dict keys -> whether it is this
            model's (for `convert-checkpoint --model auto`).
        presets: name -> ScriptPreset, from the release's scripts.
        ema_key: checkpoint key of the EMA weights the release infers with (TaskWeave), else None.
        forward_extras: keyword arguments of the forward beyond the four feature tensors that the
            pipeline must pass ("epoch", "vid", "qid", "targets").
    """

    name: str
    paper: str
    config: type[ZooConfig]
    build: Callable[[Any], tuple[nn.Module, nn.Module]]
    tiny: Callable[[int, int], ZooConfig]
    config_from_options: Callable[[dict[str, Any]], ZooConfig]
    map_state_dict: Callable[[Mapping[str, Tensor], Any], tuple[dict[str, Tensor], dict[str, str]]]
    recognises: Callable[[dict[str, Any], set[str]], bool]
    presets: Mapping[str, ScriptPreset] = field(default_factory=dict)
    ema_key: str | None = None
    forward_extras: tuple[str, ...] = ()
