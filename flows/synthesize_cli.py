"""The `videolights synthesize` command: synthetic pretraining rows and caption features for a folder of videos."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

import typer

from flows.cli_common import PresetChoice, RichProgress, fail


def synthesize(
    videos: Path = typer.Option(..., "--videos", help="folder of videos (the file name without suffix is the vid)"),
    store: str = typer.Option(..., "--store", help="feature store for the captions' text features (folder or fsspec URL)"),
    out: Path = typer.Option(..., "--out", help="pretraining rows (jsonl); a rerun resumes it"),
    preset: PresetChoice = typer.Option("tiny", help="tiny (random small models) or paper (BLIP-2 OPT-2.7B + ITM)"),
    device: str = typer.Option("auto", help="auto (CUDA when available) | cpu | cuda | cuda:N"),
    weights_dir: Optional[Path] = typer.Option(None, "--weights-dir", help="where paper weights are (default: caches)"),
    max_duration: Optional[float] = typer.Option(None, "--max-duration", help="skip videos longer than this (s)"),
    frame_rule: Literal["middle", "first", "random"] = typer.Option("middle", "--frame-rule",
                                                                  help="representative frame of an interval"),
    scorer: Literal["itm", "itc"] = typer.Option("itm", help="caption-frame similarity: itm (matching probability), itc (cosine)"),
    mapping: Literal["release", "identity", "linear"] = typer.Option("release", help="similarity -> score"),
    num_beams: int = typer.Option(5, "--num-beams", min=1, help="caption beam search width (1 = greedy)"),
    max_new_tokens: int = typer.Option(30, "--max-new-tokens", min=1, help="most tokens per caption"),
    clip_seconds: float = typer.Option(2.0, "--clip-seconds", help="clip grid of relevant_clip_ids (s)"),
    batch_size: int = typer.Option(16, "--batch-size", min=1, help="intervals captioned per generate call"),
    overwrite: bool = typer.Option(False, help="start OUT again instead of resuming it"),
) -> None:
    """Caption every 10-s interval of each video in VIDEOS (BLIP-2), score its 2-s clips, write OUT and caption features."""

    from pipeline.common import progress
    from pipeline.common.device import resolve_device
    from pipeline.extract import DecodeConfig
    from pipeline.extractors import MissingWeightsError
    from pipeline.extractors.captioner import GenerationSettings
    from pipeline.synthetic import (
        OutputLockedError,
        OutputMismatchError,
        SynthesizeConfig,
    )
    from pipeline.synthetic import synthesize as run_synthesize

    try:
        config = SynthesizeConfig(
            preset=preset, device=device, weights_dir=str(weights_dir) if weights_dir else None,
            max_duration=max_duration, frame_rule=frame_rule, scorer=scorer, mapping=mapping,
            generation=GenerationSettings(num_beams=num_beams, max_new_tokens=max_new_tokens),
            decode=DecodeConfig(clip_seconds=clip_seconds), caption_batch_size=batch_size,
        )
        resolve_device(config.device)
    except ValueError as exc:  # a pydantic ValidationError, or a CUDA device asked for where there is none
        fail(str(exc))
    if not videos.is_dir():
        fail(f"{videos}: not a directory of videos")
    try:
        with RichProgress() as bar, progress.listening(bar):
            summary = run_synthesize(videos, store, out, config, overwrite=overwrite)
    except (MissingWeightsError, OutputMismatchError, OutputLockedError) as exc:
        fail(str(exc))
    typer.echo(summary.text())
    typer.echo(f"rows: {out}\ncaption features: {store} (text/{'|'.join(config.text_encoders)}/<qid>)")
    raise typer.Exit(code=0 if summary.ok else 1)
