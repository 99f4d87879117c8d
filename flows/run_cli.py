"""The `videolights run CONFIG.yaml` command: the whole DAG of a pipeline config."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from flows.cli_common import RichProgress, fail


def run(
    config_file: Path = typer.Argument(..., help="pipeline config (YAML), e.g. configs/demo.yaml"),
    refresh: list[str] = typer.Option([], "--refresh", help="redo this step even when it is current (repeatable): "
                                      "data, decode, extract, synthesize, pretrain, zero_shot, finetune, evaluate"),
    workdir: Optional[Path] = typer.Option(None, "--workdir", help="write here instead of the config's workdir"),
    device: Optional[str] = typer.Option(None, "--device", help="override the config's device: auto | cpu | cuda[:N]"),
) -> None:
    """Run data -> decode -> extract -> synthesize -> pretrain -> finetune -> evaluate from CONFIG_FILE;
    finished steps are skipped, a killed run resumes where it stopped."""
    from flows.dag import pipeline_flow
    from flows.outcome import run_flow
    from pipeline.common import progress
    from pipeline.workflow.config import STEPS, PipelineConfig, expand_path
    from pipeline.workflow.config_files import ConfigFileError, load_config, validate_config

    try:
        config = load_config(PipelineConfig, config_file)
        updates = {"workdir": str(workdir)} if workdir else {}
        if device:
            updates["device"] = device
        # the workdir is made absolute here, so flows and deployments see the same paths
        updates["workdir"] = str((Path.cwd() / expand_path(updates.get("workdir", config.workdir))).resolve())
        config = validate_config(PipelineConfig, {**config.model_dump(), **updates}, str(config_file))
    except ConfigFileError as exc:
        fail(str(exc))
    bad = [step for step in refresh if step not in STEPS]
    if bad:
        fail(f"--refresh {', '.join(bad)}: unknown step; steps are {', '.join(STEPS)}")
    typer.echo(f"running {config.name} from {config_file} in {config.workdir}", err=True)
    with RichProgress() as bar, progress.listening(bar):
        report = run_flow(pipeline_flow, config=config, refresh=list(refresh))
    typer.echo(report.text())
    if not report.ok:
        typer.secho(f"{config.name} failed: {report.failure()}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=1)
