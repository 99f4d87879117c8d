"""The `videolights` command line, with progress bars and a summary at the end of each command.

decode, extract, synthesize, run and compare run Prefect flows (fan-out, retries, step caching,
artifacts); train, infer, predict, evaluate, model-info and import/export-features call pipeline/
directly: each is one local process with nothing to orchestrate (`run` and `compare` put training
and evaluation into flows when they are steps of a larger run).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal, Optional

import typer

from flows.cli_common import (
    BackendChoice,
    ConvertModelChoice,
    DatasetKindChoice,
    EvalDatasetChoice,
    FeatureKindChoice,
    PresetChoice,
    RichProgress,
    StageChoice,
    TVSumDomainChoice,
    describe_options_error,
    fail,
    user_error_message,
)
from flows.compare_cli import compare as compare_cmd
from flows.run_cli import run as run_cmd
from flows.runtime import apply_defaults
from flows.synthesize_cli import synthesize as synthesize_cmd

apply_defaults()

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="VideoLights pipeline: decode, extract, synthesize, train, evaluate, predict.")


_debug = False


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"videolights-pipeline {version('videolights-pipeline')}")
        raise typer.Exit()


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="show the traceback of errors you can fix too"),
          _version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                        help="print the version and exit")) -> None:
    """VideoLights pipeline: decode, extract, synthesize, train, evaluate, predict."""
    global _debug
    _debug = debug


@app.command()
def decode(
    video_dir: Path = typer.Argument(..., help="folder of videos (mp4, mkv, webm, ...)"),
    store: str = typer.Option(..., "--store", help="feature store: a folder or an fsspec URL (s3://...)"),
    clip_seconds: float = typer.Option(2.0, help="clip length in seconds"),
    workers: int = typer.Option(2, min=1, help="videos decoded at the same time"),
    backend: BackendChoice = typer.Option("auto", help="decoder back-end (auto: PyAV; decord, torchcodec on request)"),
    force: bool = typer.Option(False, help="redo videos whose records are current"),
) -> None:
    """Probe and decode every video of VIDEO_DIR into its 2-second clip grid, recorded in STORE."""
    from pydantic import ValidationError

    from flows.decode import decode_flow, with_workers
    from flows.outcome import run_flow
    from pipeline.common import progress
    from pipeline.extract import DecodeConfig
    from pipeline.video import list_videos

    try:
        config = DecodeConfig(clip_seconds=clip_seconds, backend=backend)
        videos = [str(p) for p in list_videos(video_dir)]
    except ValidationError as exc:
        fail(describe_options_error(exc))
    except FileNotFoundError as exc:
        fail(str(exc))
    if not videos:
        fail(f"{video_dir}: no video files found")
    with RichProgress() as bar, progress.listening(bar):
        summary = run_flow(with_workers(decode_flow, workers), videos=videos, store=store, config=config, force=force)
    typer.echo(summary.text())
    raise typer.Exit(code=0 if summary.ok else 1)


@app.command()
def extract(
    videos: Path = typer.Option(..., "--videos", help="folder of the videos (named <vid>.mp4 etc.)"),
    store: str = typer.Option(..., "--store", help="feature store: a folder or an fsspec URL"),
    dataset: Optional[Path] = typer.Option(None, "--dataset", help="annotation jsonl: extract its videos and queries"),
    dataset_kind: DatasetKindChoice = typer.Option("qvhighlights", help="format of --dataset"),
    extractors: str = typer.Option("slowfast,clip,blip2", help="comma-separated video extractors"),
    preset: PresetChoice = typer.Option("tiny", help="tiny (random small encoders) or paper (real weights)"),
    device: str = typer.Option("auto", help="auto (CUDA when available) | cpu | cuda | cuda:N"),
    weights_dir: Optional[Path] = typer.Option(None, help="where paper weights are (default: the usual caches)"),
    clip_seconds: float = typer.Option(2.0, help="clip length in seconds (1 for Charades-STA)"),
    batch_size: int = typer.Option(32, min=1, help="clips per network call"),
    shard_size: int = typer.Option(64, min=1, help="videos per task"),
    force: bool = typer.Option(False, help="redo entries that are current"),
) -> None:
    """Extract video features (one decode pass per video) and query features into STORE."""
    from pydantic import ValidationError

    from flows.extract import extract_flow
    from flows.outcome import run_flow
    from pipeline.common import progress
    from pipeline.datasets.readers import ROW_MODELS, read_annotations
    from pipeline.extract import (
        DecodeConfig,
        ExtractConfig,
        build_text_encoders,
        build_video_extractors,
    )

    try:
        config = ExtractConfig(extractors=tuple(e.strip() for e in extractors.split(",") if e.strip()),
                               preset=preset, device=device, weights_dir=str(weights_dir) if weights_dir else None,
                               batch_size=batch_size, decode=DecodeConfig(clip_seconds=clip_seconds))
    except ValidationError as exc:
        fail(describe_options_error(exc))
    if not videos.is_dir():
        fail(f"{videos}: not a directory of videos")
    # what fails the same way every time fails here, before a flow run starts: the annotation file's
    # rows and the encoders' weights (built once per process, so the flow reuses them)
    if dataset_kind not in ROW_MODELS:
        fail(f"--dataset-kind: expected one of {', '.join(ROW_MODELS)}, got {dataset_kind!r}")
    if dataset is not None:
        read_annotations(dataset, dataset_kind)
    build_video_extractors(config)
    build_text_encoders(config)
    with RichProgress() as bar, progress.listening(bar):
        summary = run_flow(extract_flow, store=store, video_dir=str(videos),
                           annotations=str(dataset) if dataset else None, dataset=dataset_kind, config=config,
                           shard_size=shard_size, force=force)
    typer.echo(summary.text())
    raise typer.Exit(code=0 if summary.ok else 1)


@app.command("import-features")
def import_features_cmd(
    src: Path = typer.Argument(..., help="folder of the release's npz files"),
    store: str = typer.Option(..., "--store", help="feature store: a folder or an fsspec URL"),
    extractor: str = typer.Option(..., "--extractor", help="store group to fill: slowfast | clip | blip2 | ..."),
    kind: FeatureKindChoice = typer.Option("video", help="video ({vid}.npz, key features) or text (qid{qid}.npz)"),
    version: str = typer.Option("public-release", help="version recorded for the imported entries"),
) -> None:
    """Import a public feature release (npz per video or query) into STORE, arrays unchanged."""
    from pipeline.extract.releases import import_features, release_spec
    from storage import FeatureStore

    if kind not in ("video", "text"):
        fail(f"--kind must be 'video' or 'text', got {kind!r}")
    if not src.is_dir():
        fail(f"{src}: not a directory of npz files")
    try:
        n = import_features(src, FeatureStore(store), extractor, kind, release_spec(extractor, version=version))
    except ValueError as exc:
        fail(str(exc))
    typer.echo(f"imported {n} {kind}/{extractor} entries from {src} into {store}")


@app.command("export-features")
def export_features_cmd(
    store: str = typer.Option(..., "--store", help="feature store: a folder or an fsspec URL"),
    extractor: str = typer.Option(..., "--extractor", help="store group to export"),
    out: Path = typer.Option(..., "--out", help="folder for the npz files"),
    kind: FeatureKindChoice = typer.Option("video", help="video or text entries"),
) -> None:
    """Export STORE's entries of one extractor in the public npz layout."""
    from pipeline.extract.releases import export_features
    from storage import FeatureStore

    if kind not in ("video", "text"):
        fail(f"--kind must be 'video' or 'text', got {kind!r}")
    n = export_features(FeatureStore(store, mode="r"), extractor, kind, out)
    typer.echo(f"exported {n} {kind}/{extractor} entries to {out}")


@app.command()
def frames(
    video: Path = typer.Argument(..., help="a video file"),
    extractor: Literal["clip", "blip2", "slowfast"] = typer.Option(..., "--extractor", help="whose frames"),
    out: Path = typer.Option(..., "--out", help="npz: n_clips, src_frame_index, src_pts_seconds, clips, pixels"),
    clips: Optional[str] = typer.Option(None, "--clips", help="pixels of these clips only, e.g. 0,7,15"),
    sheet: Optional[Path] = typer.Option(None, "--sheet", help="also draw the frames into this PNG"),
    clip_seconds: float = typer.Option(2.0, "--clip-seconds", help="clip length in seconds"),
) -> None:
    """What EXTRACTOR reads of VIDEO: the source frame behind every frame of every clip, and the pixels
    after scale and crop (before normalisation), from the same decode pass extraction uses."""
    from pipeline.extract.frames_view import contact_sheet, extractor_frames, save_frames
    from pipeline.video import VideoDecodeError

    if not video.is_file():
        fail(f"{video}: file not found")
    try:
        wanted = [int(c) for c in clips.split(",") if c.strip()] if clips else None
    except ValueError:
        fail(f"--clips {clips!r}: expected clip indices separated by commas, e.g. 0,7,15")
    try:
        arrays = extractor_frames(video, extractor, wanted, clip_seconds)
    except (ValueError, VideoDecodeError) as exc:
        fail(str(exc))
    save_frames(arrays, out)
    if sheet is not None:
        contact_sheet(arrays, sheet)
    k = arrays["src_frame_index"].shape[1]
    typer.echo(f"{video.name}: {int(arrays['n_clips'])} {extractor} clips of {k} frame(s); "
               f"pixels of {len(arrays['clips'])} clips -> {out}" + (f"; sheet -> {sheet}" if sheet else ""))


@app.command("model-info")
def model_info(target: Optional[str] = typer.Argument(
        None, help="a preset name or a checkpoint file (ours or an authors' release); omit to list the presets")) -> None:
    """List the model presets, or print one preset's (or checkpoint's) configuration, its release-vs-corrected
    table, where converted weights came from, and the trainable parameter count."""
    from model.presets import describe_experiment, describe_preset, list_presets

    if target is None:
        typer.echo("\n".join(list_presets()))
        return
    if target in list_presets():
        typer.echo(describe_preset(target))
        return
    if not Path(target).is_file():
        fail(f"{target!r} is neither a preset nor a checkpoint file; presets: {', '.join(list_presets())}")
    from model.config import ExperimentConfig
    from pipeline.common.checkpoint import load_checkpoint

    try:
        ckpt = load_checkpoint(target)
    except ValueError as exc:
        fail(str(exc))
    text = describe_experiment(ExperimentConfig.model_validate(ckpt["config"]), f"checkpoint: {target}")
    provenance = ckpt.get("provenance")
    if provenance:
        text += "\n" + _describe_provenance(provenance)
    typer.echo(text)


def _describe_provenance(provenance: dict) -> str:
    lines = ["converted from an authors' release:",
             f"  source: {provenance.get('source')}", f"  sha256: {provenance.get('sha256')}",
             f"  release: {provenance.get('release')}", f"  weights: {provenance.get('weights')} "
             f"(epoch {provenance.get('epoch')})"]
    unused = provenance.get("unused") or {}
    lines.append(f"  release tensors not used: {len(unused)}")
    lines += [f"    {key}: {why}" for key, why in unused.items()]
    options = provenance.get("options") or {}
    lines.append("  release options: " + ", ".join(f"{k}={v}" for k, v in sorted(options.items())))
    return "\n".join(lines)


@app.command("convert-checkpoint")
def convert_checkpoint(
    source: Path = typer.Argument(..., help="a checkpoint saved by an authors' release train.py"),
    out: Path = typer.Option(..., "--out", help="where to write this pipeline's checkpoint"),
    model: ConvertModelChoice = typer.Option("auto", help="the release's model; auto = recognised from the file"),
) -> None:
    """Convert an authors' release checkpoint (VideoLights, TR-DETR, TaskWeave, Moment-DETR, QD-DETR,
    CG-DETR) into this pipeline's format: read safely (weights_only, only argparse.Namespace allowed),
    model and configuration from the stored options, every tensor mapped or listed as unused."""
    from model.release_checkpoint import ReleaseCheckpointError, convert_release_file
    from pipeline.common.checkpoint import save_checkpoint

    try:
        ckpt = convert_release_file(source, model)
    except (ReleaseCheckpointError, FileNotFoundError) as exc:
        fail(str(exc))
    save_checkpoint(ckpt, out)
    provenance = ckpt["provenance"]
    typer.echo(f"{source} -> {out}: {provenance['model']} ({provenance['weights']} weights, "
               f"{len(ckpt['model'])} tensors; {len(provenance['unused'])} release tensors unused); "
               f"`videolights model-info {out}` shows the configuration and provenance")


@app.command()
def evaluate(
    submission: Path = typer.Option(..., "--submission", help="predictions, official submission jsonl"),
    ground_truth: Path = typer.Option(..., "--ground-truth", help="annotations jsonl of the same split"),
    dataset: EvalDatasetChoice = typer.Option("qvhighlights", help="which evaluation protocol"),
    extended: bool = typer.Option(False, help="also R1@0.3 and mIoU (the Charades-STA style keys)"),
    out: Optional[Path] = typer.Option(None, "--out", help="also write the metrics JSON here"),
) -> None:
    """Evaluate a submission; prints the metrics as JSON with the official key names."""
    import json

    from pipeline.evaluation import SubmissionError, evaluate_files

    for path in (submission, ground_truth):
        if not path.is_file():
            fail(f"{path}: file not found")
    try:
        metrics = evaluate_files(submission, ground_truth, dataset=dataset, extended=extended)
    except (SubmissionError, ValueError) as exc:
        fail(str(exc))
    text = json.dumps(metrics, indent=4)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")
    typer.echo(text)


# --- training and inference (train, infer, predict) -----------------------------------------


def _parse_features(features: Optional[str], extractor_preset: Optional[str], preset: str):
    """--features "slowfast,clip/clip" and --extractor-preset -> a FeatureSet (None = the preset's)."""
    from model.config import FeatureSet
    from model.presets import get_preset

    if features is None and extractor_preset is None:
        return None
    if features is None:
        base = get_preset(preset).features
        if base is None:
            fail(f"preset {preset!r} has no feature set; pass --features VIDEO/TEXT, e.g. clip/clip")
        return base.model_copy(update={"extractor_preset": extractor_preset})
    video, sep, text = features.partition("/")
    if not sep or not video.strip() or not text.strip():
        fail(f"--features {features!r}: expected VIDEO/TEXT encoder lists, e.g. slowfast,clip/clip")
    return FeatureSet(video=tuple(v.strip() for v in video.split(",") if v.strip()),
                      text=tuple(t.strip() for t in text.split(",") if t.strip()),
                      extractor_preset=extractor_preset or "paper")


def _require_features(preset: str, features: Optional[str]) -> None:
    """A preset without a feature set (the tiny ones) needs --features: say so as a flag, not in Python."""
    from model.presets import get_preset, list_presets

    if features is None and preset in list_presets() and get_preset(preset).features is None:
        fail(f"preset {preset!r} has no feature set; name the features, e.g. --features clip/clip "
             "--extractor-preset tiny (video encoders / text encoders, in the model's order)")


def _parse_options(options: list[str]) -> dict:
    """["dec_layers=2", "fidelity=corrected"] -> {"dec_layers": 2, "fidelity": "corrected"}
    (values read as JSON, else text)."""
    import json

    parsed = {}
    for option in options:
        key, sep, value = option.partition("=")
        if not sep or not key.strip():
            fail(f"--model-option {option!r}: expected KEY=VALUE, e.g. dec_layers=2")
        try:
            parsed[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            parsed[key.strip()] = value
    return parsed


@app.command("train")
def train_cmd(
    preset: str = typer.Option(..., "--preset", help="model preset (see `videolights model-info`)"),
    train_annotations: Path = typer.Option(..., "--train", help="training annotations jsonl"),
    val_annotations: Optional[Path] = typer.Option(None, "--val", help="validation annotations jsonl (best.ckpt)"),
    dataset_kind: DatasetKindChoice = typer.Option("qvhighlights", "--dataset-kind",
                                     help="qvhighlights | charades_sta | tvsum | pretrain"),
    val_kind: Optional[DatasetKindChoice] = typer.Option(None, "--val-kind", help="format of --val (default: --dataset-kind)"),
    store: str = typer.Option(..., "--store", help="feature store: a folder or an fsspec URL"),
    out: Path = typer.Option(..., "--out", help="run folder: last.ckpt, best.ckpt, metrics.jsonl"),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1, help="override the preset's epochs"),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1, help="override the preset's batch size"),
    lr: Optional[float] = typer.Option(None, "--lr", help="override the preset's learning rate"),
    eval_every: Optional[int] = typer.Option(None, "--eval-every", min=1, help="evaluate every N epochs"),
    seed: Optional[int] = typer.Option(None, "--seed", help="override the preset's seed"),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda | cuda:N"),
    num_workers: int = typer.Option(0, "--num-workers", min=0, help="DataLoader worker processes"),
    cache: bool = typer.Option(True, "--cache/--no-cache", help="hold the features in memory"),
    resume: bool = typer.Option(False, "--resume", help="continue the run in --out from its last.ckpt"),
    init_from: Optional[Path] = typer.Option(None, "--init-from", help="pretraining checkpoint to fine-tune"),
    stage: Optional[StageChoice] = typer.Option(None, "--stage",
                                        help="pretrain | finetune | train (default: finetune with --init-from)"),
    features: Optional[str] = typer.Option(None, "--features", help="VIDEO/TEXT encoders, e.g. slowfast,clip/clip"),
    extractor_preset: Optional[PresetChoice] = typer.Option(None, "--extractor-preset", "--extract-preset",
                                                            help="paper or tiny features"),
    model_option: Optional[list[str]] = typer.Option(
        None, "--model-option", help="KEY=VALUE model config override (repeatable), e.g. fidelity=corrected or dec_layers=2"),
    domain: Optional[TVSumDomainChoice] = typer.Option(None, "--domain", help="TVSum: train one domain's model"),
) -> None:
    """Train, pretrain or fine-tune a model on stored features; prints where the checkpoints are."""
    from pydantic import ValidationError

    from pipeline.common import progress
    from pipeline.datasets import AnnotationError, MissingFeaturesError
    from pipeline.training import TrainRunConfig, train

    _require_features(preset, features)
    try:
        config = TrainRunConfig(
            preset=preset, train_annotations=str(train_annotations),
            val_annotations=str(val_annotations) if val_annotations else None, dataset_kind=dataset_kind,
            val_kind=val_kind, store=store, out_dir=str(out),
            features=_parse_features(features, extractor_preset, preset),
            model_overrides=_parse_options(model_option or []), domain=domain, epochs=epochs,
            batch_size=batch_size, lr=lr, eval_every=eval_every, seed=seed, device=device,
            num_workers=num_workers, cache=cache, init_from=str(init_from) if init_from else None, resume=resume,
            stage=stage or ("finetune" if init_from else "train"))
    except (ValidationError, ValueError) as exc:
        fail(str(exc))
    try:
        with RichProgress() as bar, progress.listening(bar):
            result = train(config)
    except KeyboardInterrupt:
        typer.secho(f"interrupted; continue with the same command plus --resume ({out}/last.ckpt)",
                    fg=typer.colors.YELLOW, err=True)
        raise typer.Exit(code=130)
    except (FileNotFoundError, FileExistsError, ValueError, AnnotationError, MissingFeaturesError) as exc:
        fail(str(exc))
    _echo_trained(preset, init_from, result)


def _echo_trained(preset: str, init_from: Path | None, result) -> None:
    typer.echo(f"trained {preset}: epochs {result.first_epoch}..{result.final_epoch} in {result.seconds:.1f} s")
    if result.missing_keys or result.unexpected_keys:
        typer.echo(f"init from {init_from}: {len(result.missing_keys)} missing keys {result.missing_keys[:5]}, "
                   f"{len(result.unexpected_keys)} unexpected keys {result.unexpected_keys[:5]}")
    if result.best_checkpoint is not None:
        typer.echo(f"best: score {result.best_score:.2f} at epoch {result.best_epoch} -> {result.best_checkpoint}")
    typer.echo(f"last: {result.last_checkpoint}\nmetrics: {result.metrics_path}")


@app.command("infer")
def infer_cmd(
    checkpoint: Path = typer.Option(..., "--checkpoint", help="a checkpoint (best.ckpt / last.ckpt)"),
    dataset: Path = typer.Option(..., "--dataset", help="annotations jsonl of the split to predict"),
    store: str = typer.Option(..., "--store", help="feature store holding the split's features"),
    out: Path = typer.Option(..., "--out", help="submission jsonl to write"),
    dataset_kind: Optional[DatasetKindChoice] = typer.Option(None, "--dataset-kind", help="default: the checkpoint's"),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda | cuda:N"),
    batch_size: int = typer.Option(64, "--batch-size", min=1, help="samples per forward pass"),
) -> None:
    """Write the official submission jsonl of a dataset split for a checkpoint."""
    from pipeline.common import progress
    from pipeline.datasets import AnnotationError, MissingFeaturesError
    from pipeline.inference import infer

    for path in (checkpoint, dataset):
        if not path.is_file():
            fail(f"{path}: file not found")
    try:
        with RichProgress() as bar, progress.listening(bar):
            result = infer(checkpoint, dataset, store, out, dataset_kind=dataset_kind, device=device,
                           batch_size=batch_size)
    except (FileNotFoundError, ValueError, AnnotationError, MissingFeaturesError) as exc:
        fail(str(exc))
    typer.echo(f"wrote {result.n_rows} {result.dataset_kind} predictions to {result.path} in {result.seconds:.1f} s")


@app.command("predict")
def predict_cmd(
    video: Path = typer.Argument(..., help="a video file"),
    queries: list[str] = typer.Argument(..., help="one or more text queries"),
    checkpoint: Path = typer.Option(..., "--checkpoint", help="a checkpoint (best.ckpt / last.ckpt)"),
    out: Optional[Path] = typer.Option(None, "--out", help="write the predictions as JSON here"),
    plot: Optional[Path] = typer.Option(None, "--plot", help="draw saliency and moments into this PNG"),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda | cuda:N"),
    extract_preset: Optional[PresetChoice] = typer.Option(None, "--extract-preset", "--extractor-preset",
                                                          help="paper or tiny extractors; default: the checkpoint's"),
    weights_dir: Optional[Path] = typer.Option(None, "--weights-dir", help="where paper extractor weights are"),
) -> None:
    """Predict moments and per-clip saliency of each QUERY on VIDEO (long videos in overlapping windows)."""
    import json

    from pipeline.common import progress
    from pipeline.extractors import MissingWeightsError
    from pipeline.inference import Predictor, plot_prediction
    from pipeline.video import VideoDecodeError

    for path in (checkpoint, video):
        if not path.is_file():
            fail(f"{path}: file not found")
    try:
        with RichProgress() as bar, progress.listening(bar):
            predictor = Predictor.from_checkpoint(checkpoint, extract_preset=extract_preset, device=device,
                                                  weights_dir=weights_dir)
            results = predictor.predict(video, queries)
    except (FileNotFoundError, ValueError, VideoDecodeError, MissingWeightsError) as exc:
        fail(str(exc))
    text = json.dumps(results, indent=2)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")
    if plot is not None:
        plot_prediction(results, plot)
    if out is None:
        typer.echo(text)
    for res in results:
        best = res["pred_relevant_windows"][0] if res["pred_relevant_windows"] else None
        where = f"{best[0]:.1f}-{best[1]:.1f} s (score {best[2]:.3f})" if best else "no moment"
        typer.echo(f"{res['query']!r}: top moment {where}", err=out is None)
    for path in (out, plot):
        if path is not None:
            typer.echo(f"wrote {path}")


app.command("synthesize")(synthesize_cmd)
app.command("compare")(compare_cmd)
app.command("run")(run_cmd)


def main(argv: list[str] | None = None) -> None:
    """The `videolights` console script: an error the user can fix (a bad input file, option or config,
    missing weights) is one short message on stderr and exit code 2; tracebacks are for bugs
    (or with --debug)."""
    from pipeline.common.errors import is_user_error

    try:
        app(args=argv, prog_name="videolights")
    except Exception as exc:
        if _debug or not is_user_error(exc):
            raise
        typer.secho(user_error_message(exc), fg=typer.colors.RED, err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
