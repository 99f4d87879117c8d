"""Typed configs read from YAML files: errors name the file and the field."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from model.config import without_model_tag
from pipeline.common.errors import UserInputError

M = TypeVar("M", bound=BaseModel)


class ConfigFileError(UserInputError, ValueError):
    """A config file that cannot be read or does not validate; the message names the file and fields."""


def _field_path(loc: tuple) -> str:
    return ".".join(str(part) for part in without_model_tag(loc)) or "(top level)"


def describe_validation_error(exc: ValidationError, source: str | None,
                              field_name: Callable[[tuple], str] = _field_path) -> str:
    """One line per problem: `source: field.path: message (got value)` (no `source: ` when None;
    `field_name` names a field from its location, e.g. as a command-line option)."""
    lines = []
    for err in exc.errors():
        got = err.get("input")
        shown = "" if isinstance(got, dict) or got is None else f" (got {got!r})"
        where = f"{source}: " if source is not None else ""
        lines.append(f"{where}{field_name(err['loc'])}: {err['msg']}{shown}")
    return "\n".join(lines)


def validate_config(model: type[M], data: object, source: str) -> M:
    """`model.model_validate(data)`, with a ConfigFileError naming `source` and each bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigFileError(describe_validation_error(exc, source)) from None


def load_config(model: type[M], path: str | os.PathLike) -> M:
    """Read a YAML mapping from `path` and validate it as `model`.

    Raises:
        ConfigFileError: the file is missing, is not YAML, is not a mapping, or a field is invalid.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigFileError(f"{path}: cannot read the config ({exc.strerror or exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigFileError(f"{path}:{where} not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict):
        raise ConfigFileError(f"{path}: expected a mapping of settings at the top level, got "
                              f"{type(data).__name__}")
    return validate_config(model, data, str(path))
