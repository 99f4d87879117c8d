"""The `videolights compare` command: several models trained and scored on one dataset, one table."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from flows.cli_common import RichProgress, fail


def compare(
    config_file: Path = typer.Option(..., "--config", help="comparison YAML (see configs/compare-qvhighlights.yaml)"),
    device: Optional[str] = typer.Option(None, "--device", help="override the file's device: auto|cpu|cuda|cuda:N"),
    out: Optional[Path] = typer.Option(None, "--out", help="override the file's out_dir"),
) -> None:
    """Train each model of the config file on the same data, features and splits; print the comparison table.

    A rerun continues killed model runs and keeps finished ones (not retrained).
    """
    from pipeline.common import progress
    from pipeline.common.device import resolve_device
    from pipeline.workflow.compare import CompareConfig
    from pipeline.workflow.config_files import ConfigFileError, load_config, validate_config

    try:
        config = load_config(CompareConfig, config_file)
        updates = {k: v for k, v in {"device": device, "out_dir": str(out) if out else None}.items() if v}
        if updates:
            config = validate_config(CompareConfig, {**config.model_dump(), **updates}, f"{config_file} (with options)")
        resolve_device(config.device)
    except (ConfigFileError, ValueError) as exc:  # a bad file or field, or CUDA asked for where there is none
        fail(str(exc))
    for name in ("train_annotations", "val_annotations"):  # before any model starts: every model needs them
        if not Path(getattr(config, name)).is_file():
            fail(f"{config_file}: {name}: {getattr(config, name)}: file not found")
    from flows.compare import compare_flow

    try:
        with RichProgress() as bar, progress.listening(bar):
            result = compare_flow(config=config)
    except KeyboardInterrupt:
        typer.secho("interrupted; run the same command again to continue (finished models are kept)",
                    fg=typer.colors.YELLOW, err=True)
        raise typer.Exit(code=130)
    typer.echo(result.markdown)
    typer.echo(result.summary().text())
    raise typer.Exit(code=0 if not result.failures else 1)
