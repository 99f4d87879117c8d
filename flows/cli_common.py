"""What every `videolights` command shares: rich progress bars and user-facing errors."""

from __future__ import annotations

import sys

import typer


class RichProgress:
    """Draws pipeline.progress events as rich progress bars on stderr (when it is a terminal)."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

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
