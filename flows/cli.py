"""The `videolights` command line: each command runs one flow with a progress bar and a summary."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from flows.runtime import apply_defaults

apply_defaults()

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="VideoLights pipeline: decode, extract, synthesize, train, evaluate, predict.")


@app.callback()
def _root() -> None:
    """VideoLights pipeline: decode, extract, synthesize, train, evaluate, predict."""


class _RichProgress:
    """Draws pipeline.progress events as rich progress bars on stderr (when it is a terminal)."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=Console(stderr=True),
                                 disable=not sys.stderr.isatty())
        self.tasks: dict[str, int] = {}

    def __enter__(self) -> "_RichProgress":
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


def _fail(message: str) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


@app.command()
def decode(
    video_dir: Path = typer.Argument(..., help="folder of videos (mp4, mkv, webm, ...)"),
    store: str = typer.Option(..., "--store", help="feature store: a folder or an fsspec URL (s3://...)"),
    clip_seconds: float = typer.Option(2.0, help="clip length in seconds"),
    workers: int = typer.Option(2, min=1, help="videos decoded at the same time"),
    backend: str = typer.Option("auto", help="auto | decord | pyav"),
    force: bool = typer.Option(False, help="redo videos whose records are current"),
) -> None:
    """Probe and decode every video of VIDEO_DIR into its 2-second clip grid, recorded in STORE."""
    from pydantic import ValidationError

    from flows.decode import decode_flow, with_workers
    from pipeline import progress
    from pipeline.decode import DecodeConfig
    from pipeline.video import list_videos

    try:
        config = DecodeConfig(clip_seconds=clip_seconds, backend=backend)
        videos = [str(p) for p in list_videos(video_dir)]
    except (ValidationError, FileNotFoundError) as exc:
        _fail(str(exc))
    if not videos:
        _fail(f"{video_dir}: no video files found")
    with _RichProgress() as bar, progress.listening(bar):
        summary = with_workers(decode_flow, workers)(videos=videos, store=store, config=config, force=force)
    typer.echo(summary.text())
    raise typer.Exit(code=0 if summary.ok else 1)


@app.command()
def extract(
    videos: Path = typer.Option(..., "--videos", help="folder of the videos (named <vid>.mp4 etc.)"),
    store: str = typer.Option(..., "--store", help="feature store: a folder or an fsspec URL"),
    dataset: Optional[Path] = typer.Option(None, "--dataset", help="annotation jsonl: extract its videos and queries"),
    dataset_kind: str = typer.Option("qvhighlights", help="qvhighlights | charades_sta | tvsum | pretrain"),
    extractors: str = typer.Option("slowfast,clip,blip2", help="comma-separated video extractors"),
    preset: str = typer.Option("tiny", help="tiny (random small encoders) | paper (real weights)"),
    device: str = typer.Option("cpu", help="cpu | cuda | cuda:N"),
    weights_dir: Optional[Path] = typer.Option(None, help="where paper weights are (default: the usual caches)"),
    clip_seconds: float = typer.Option(2.0, help="clip length in seconds (1 for Charades-STA)"),
    batch_size: int = typer.Option(32, min=1, help="clips per network call"),
    shard_size: int = typer.Option(64, min=1, help="videos per task"),
    force: bool = typer.Option(False, help="redo entries that are current"),
) -> None:
    """Extract video features (one decode pass per video) and query features into STORE."""
    from pydantic import ValidationError

    from flows.extract import extract_flow
    from pipeline import progress
    from pipeline.decode import DecodeConfig
    from pipeline.extract import ExtractConfig

    try:
        config = ExtractConfig(extractors=tuple(e.strip() for e in extractors.split(",") if e.strip()),
                               preset=preset, device=device, weights_dir=str(weights_dir) if weights_dir else None,
                               batch_size=batch_size, decode=DecodeConfig(clip_seconds=clip_seconds))
    except ValidationError as exc:
        _fail(str(exc))
    if not videos.is_dir():
        _fail(f"{videos}: not a directory of videos")
    with _RichProgress() as bar, progress.listening(bar):
        summary = extract_flow(store=store, video_dir=str(videos), annotations=str(dataset) if dataset else None,
                               dataset=dataset_kind, config=config, shard_size=shard_size, force=force)
    typer.echo(summary.text())
    raise typer.Exit(code=0 if summary.ok else 1)


@app.command("import-features")
def import_features_cmd(
    src: Path = typer.Argument(..., help="folder of the release's npz files"),
    store: str = typer.Option(..., "--store", help="feature store: a folder or an fsspec URL"),
    extractor: str = typer.Option(..., "--extractor", help="store group to fill: slowfast | clip | blip2 | ..."),
    kind: str = typer.Option("video", help="video ({vid}.npz, key features) | text (qid{qid}.npz)"),
    version: str = typer.Option("public-release", help="version recorded for the imported entries"),
) -> None:
    """Import a public feature release (npz per video or query) into STORE, arrays unchanged."""
    from pipeline.interop import import_features, release_spec
    from storage import FeatureStore

    if kind not in ("video", "text"):
        _fail(f"--kind must be 'video' or 'text', got {kind!r}")
    if not src.is_dir():
        _fail(f"{src}: not a directory of npz files")
    try:
        n = import_features(src, FeatureStore(store), extractor, kind, release_spec(extractor, version=version))
    except ValueError as exc:
        _fail(str(exc))
    typer.echo(f"imported {n} {kind}/{extractor} entries from {src} into {store}")


@app.command("export-features")
def export_features_cmd(
    store: str = typer.Option(..., "--store", help="feature store: a folder or an fsspec URL"),
    extractor: str = typer.Option(..., "--extractor", help="store group to export"),
    out: Path = typer.Option(..., "--out", help="folder for the npz files"),
    kind: str = typer.Option("video", help="video | text"),
) -> None:
    """Export STORE's entries of one extractor in the public npz layout."""
    from pipeline.interop import export_features
    from storage import FeatureStore

    if kind not in ("video", "text"):
        _fail(f"--kind must be 'video' or 'text', got {kind!r}")
    n = export_features(FeatureStore(store, mode="r"), extractor, kind, out)
    typer.echo(f"exported {n} {kind}/{extractor} entries to {out}")


@app.command("model-info")
def model_info(preset: Optional[str] = typer.Argument(None, help="a preset name; omit to list them")) -> None:
    """List the model presets, or print one preset's configuration and trainable parameter count."""
    from model.presets import describe_preset, list_presets

    if preset is None:
        typer.echo("\n".join(list_presets()))
        return
    try:
        typer.echo(describe_preset(preset))
    except ValueError as exc:
        _fail(str(exc))


@app.command()
def evaluate(
    submission: Path = typer.Option(..., "--submission", help="predictions, official submission jsonl"),
    ground_truth: Path = typer.Option(..., "--ground-truth", help="annotations jsonl of the same split"),
    dataset: str = typer.Option("qvhighlights", help="qvhighlights | charades_sta | tvsum"),
    extended: bool = typer.Option(False, help="also R1@0.3 and mIoU (the Charades-STA style keys)"),
    out: Optional[Path] = typer.Option(None, "--out", help="also write the metrics JSON here"),
) -> None:
    """Evaluate a submission; prints the metrics as JSON with the official key names."""
    import json

    from pipeline.evaluation import SubmissionError, evaluate_files

    for path in (submission, ground_truth):
        if not path.is_file():
            _fail(f"{path}: file not found")
    try:
        metrics = evaluate_files(submission, ground_truth, dataset=dataset, extended=extended)
    except (SubmissionError, ValueError) as exc:
        _fail(str(exc))
    text = json.dumps(metrics, indent=4)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")
    typer.echo(text)


@app.command()
def demo(
    out: Path = typer.Option(Path("demo-out"), help="where the demo writes its videos and store"),
    workers: int = typer.Option(2, min=1, help="videos decoded at the same time"),
) -> None:
    """Generate a few videos and run the pipeline on them with embedded defaults (no server, no GPU)."""
    from flows.decode import decode_flow, with_workers
    from pipeline import progress
    from pipeline.demo import generate_demo_videos

    videos = generate_demo_videos(out / "videos")
    store = out / "store"
    with _RichProgress() as bar, progress.listening(bar):
        summary = with_workers(decode_flow, workers)(videos=[str(p) for p in videos], store=str(store))
    typer.echo(summary.text())
    typer.echo(f"videos: {out / 'videos'}\nfeature store: {store} (clip grids under video/clips/)")
    raise typer.Exit(code=0 if summary.ok else 1)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
