"""`cifar-doctor compare`: train recipes side by side (see cifar_doctor.training.compare)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from ..render import Format
from .common import (
    DATA_HELP,
    check_output,
    emit,
    exit_for,
    fail_on_option,
    format_option,
    json_option,
    output_format,
    output_option,
    validate_fail_on,
)
from .completion import complete_recipe

#: Said on stderr under the compact text report: where the rest is.
DETAILS_HINT = (
    "cifar-doctor: evidence, explanations, fix code and per-epoch results: --details "
    "(or --format html, markdown, json)\n"
)


def compare(
    recipes: list[str] = typer.Argument(
        ...,
        metavar="RECIPE...",
        autocompletion=complete_recipe,
        help="Recipes to train: original, revised, fixed, keras-example, or a user recipe "
        "path/to/file.py:function or module:function.",
    ),
    epochs: Optional[int] = typer.Option(None, "--epochs", "-e", help="Epochs per run (default: each recipe's own)."),
    limit: Optional[str] = typer.Option(
        None, "--limit", metavar="N", help="Train on a stratified subset of N >= 10 images (test capped at N)."
    ),
    batch_size: Optional[int] = typer.Option(
        None,
        "--batch-size",
        "-b",
        help="Batch size for every run (default: each recipe's own, scaled "
        "down on small data to at least 50 steps per epoch).",
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the subset, the initial weights and the shuffling."),
    deterministic: bool = typer.Option(
        False, "--deterministic", help="Also enable TensorFlow op determinism (slower)."
    ),
    data: Optional[Path] = typer.Option(
        None,
        "--data",
        "-d",
        help=DATA_HELP + " Default: CIFAR-10 from the Keras cache, else a download, else the bundled sample.",
    ),
    until_verdict: bool = typer.Option(
        False,
        "--until-verdict",
        help="Stop a run as soon as its verdict is certain (an error-level cause on 2 consecutive epochs).",
    ),
    save: Optional[Path] = typer.Option(
        None,
        "--save",
        metavar="DIR",
        help="Write per-run history CSV/JSON, model .keras, curves PNG and reports into DIR (new or empty).",
    ),
    strategy: str = typer.Option(
        "default",
        "--strategy",
        metavar="NAME",
        help="tf.distribute strategy: default, mirrored (local GPUs, else the CPU's logical "
        "devices), multiworker (MultiWorkerMirroredStrategy; reads TF_CONFIG).",
    ),
    devices: Optional[int] = typer.Option(
        None, "--devices", metavar="N", help="Split the CPU into N logical devices first (test a strategy on CPU)."
    ),
    mixed_precision: bool = typer.Option(
        False, "--mixed-precision", help="Train under the Keras policy mixed_float16 (float32 output layer)."
    ),
    train_labels: Optional[str] = typer.Option(
        None,
        "--train-labels",
        metavar="FILE[:KEY]",
        help="Train on these labels instead of the data's: an .npy file or FILE.npz:KEY, one label per "
        "training image in the data's order (e.g. CIFAR-10N's human labels).",
    ),
    fmt: Format = format_option(),
    json_flag: bool = json_option(),
    output: Optional[Path] = output_option(),
    fail_on: str = fail_on_option(
        "never",
        "Exit 1 when a run has a finding at or above this severity: error, "
        "warning, info, never; 2 when a check crashed. Default never: a "
        "comparison that ran is a success.",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress on stderr."),
    details: bool = typer.Option(
        False,
        "--details",
        help="Text: each run's full report (evidence, explanations, fix code) and the "
        "per-epoch results. Default: each run's verdict and one line per finding. "
        "JSON, Markdown and HTML always hold everything.",
    ),
) -> None:
    """Train recipes side by side on CIFAR-10 and diagnose each run (data checks, curves, counterfactual).

    Trains with TensorFlow (Keras 3 on the TensorFlow backend), from one uint8 copy of the data.
    """
    validate_fail_on(fail_on)
    check_output(output, [data, _labels_path(train_labels)])
    from ..training.compare import compare as run_compare
    from .progress import LiveView

    report = run_compare(
        recipes,
        epochs=epochs,
        limit=limit,
        batch_size=batch_size,
        seed=seed,
        deterministic=deterministic,
        data=data,
        until_verdict=until_verdict,
        save=save,
        progress=LiveView(enabled=not quiet),
        strategy=strategy,
        devices=devices,
        mixed_precision=mixed_precision,
        train_labels=train_labels,
    )
    fmt = output_format(fmt, json_flag)
    emit(report, fmt, output, details=details)
    if fmt is Format.text and not details and not quiet:
        sys.stderr.write(DETAILS_HINT)
    raise typer.Exit(exit_for(report, fail_on))


def _labels_path(spec: Optional[str]) -> Optional[Path]:
    """The file of `--train-labels FILE[:KEY]`, which `--output` must not overwrite."""
    if spec is None:
        return None
    from ..training.labels import split_spec

    return split_spec(spec)[0]
