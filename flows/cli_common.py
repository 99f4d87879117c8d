"""What every `videolights` command shares: rich progress bars and user-facing errors."""

from __future__ import annotations

import sys
from typing import Literal

import typer
from pydantic import ValidationError

#: The choices of the enumerated options (typer shows and checks them before any work).
DatasetKindChoice = Literal["qvhighlights", "charades_sta", "tvsum", "pretrain"]
EvalDatasetChoice = Literal["qvhighlights", "charades_sta", "tvsum"]
PresetChoice = Literal["tiny", "paper"]
BackendChoice = Literal["auto", "decord", "pyav", "torchcodec"]
FeatureKindChoice = Literal["video", "text"]
StageChoice = Literal["pretrain", "finetune", "train"]
ConvertModelChoice = Literal["auto", "videolights", "trdetr", "taskweave", "moment_detr", "qd_detr", "cg_detr"]
TVSumDomainChoice = Literal["BK", "BT", "DS", "FM", "GA", "MS", "PK", "PR", "VT", "VU"]


class RichProgress:
    """Draws pipeline.common.progress events as rich progress bars on stderr (when it is a terminal)."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=Console(stderr=True),
                                 disable=not sys.stderr.isatty())
        self.tasks: dict[str, int] = {}

    def __enter__(self) -> "RichProgress":
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def start(self, key: str, total: int, description: str) -> None:
        self.tasks[key] = self.progress.add_task(description, total=total)

    def advance(self, key: str, n: int = 1) -> None:
        if key in self.tasks:
            self.progress.advance(self.tasks[key], n)

    def finish(self, key: str) -> None:
        if key in self.tasks:
            self.progress.update(self.tasks[key], visible=True)


def fail(message: str) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


def describe_options_error(exc: ValidationError) -> str:
    """One line per bad option of a command, named as the user typed it.

    >>> from pydantic import BaseModel
    >>> from typing import Literal
    >>> class Options(BaseModel):
    ...     batch_size: int
    ...     preset: Literal["tiny", "paper"]
    >>> try:
    ...     Options(batch_size="x", preset="papr")
    ... except ValidationError as exc:
    ...     print(describe_options_error(exc))
    --batch-size: Input should be a valid integer, unable to parse string as an integer (got 'x')
    --preset: Input should be 'tiny' or 'paper' (got 'papr')
    """
    from pipeline.workflow.config_files import describe_validation_error  # imported here: it pulls in zarr

    return describe_validation_error(exc, None, _option_name)


def _option_name(loc: tuple) -> str:
    names = [str(part) for part in loc if not isinstance(part, int)]
    return "--" + names[-1].replace("_", "-") if names else "options"


def user_error_message(exc: BaseException) -> str:
    """What the command line prints for an error the user can fix (see pipeline.common.errors.is_user_error)."""
    if isinstance(exc, ValidationError):
        return describe_options_error(exc)
    return str(exc)
