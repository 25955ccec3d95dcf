"""`polyequiv train`, `polyequiv compare`, `polyequiv plot`: set tasks, models, results and pictures."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from polyequiv.fileio import atomic_write_text
from polyequiv.locking import LockedError
from polyequiv.tasks import TaskError, task_names
from polyequiv.training.results import ResultsError, comparison_rows, find_runs, format_table, read_results
from polyequiv_cli.options import (
    DamagedFileError,
    OneLineChoice,
    RefusedError,
    check_writable,
    echo_json,
    file_errors,
    parse_n_range,
)

# torch is imported only by the commands that train, so `polyequiv derive` stays fast; this list is
# checked against polyequiv.models.model_names() by the tests.
MODEL_NAMES = ("tied-linear", "tied-quadratic", "deepsets", "lstm", "mlp", "penalty-mlp", "sharing-linear",
               "variety-tied", "variety-penalty", "variety-projected",
               "tied-edge-linear", "tied-edge-cubic", "tied-edge-quartic", "tied-edge-quintic", "gcn", "gin",
               "row-mlp", "graph-linear", "deepsets-rows", "ppgn",
               "tied-circular-linear", "tied-circular-quadratic", "cnn", "image-mlp", "seed-sharing",
               "tied-poly", "coordinate-mlp", "augmented-mlp", "scalar-mlp")
#: Torch thread pools beyond this are refused (torch crashes on absurd values such as 100,000).
MAX_THREADS = 256
LOSSES = ("l1", "mse", "cross-entropy")
#: Image files `plot` writes (matplotlib's formats, picked by the suffix).
IMAGE_FORMATS = ("png", "svg", "pdf", "jpg", "jpeg", "eps", "ps", "tif", "tiff", "webp")
SCHEDULES = ("constant", "cosine")
SOLVERS = ("adam", "lstsq")


def _library_errors() -> tuple[type[Exception], ...]:
    from polyequiv.models import ModelError
    from polyequiv.training.checkpoint import CheckpointError
    from polyequiv.training.config import ConfigError
    from polyequiv.training.folder import RunFolderError

    return TaskError, ResultsError, ModelError, ConfigError, CheckpointError, RunFolderError


def training_errors(function: Callable) -> Callable:
    """Library errors (bad sizes, config mismatch, occupied run folder, damaged run files) as one-line
    usage errors, exit 2.

    A folder locked by another process is refused with one line naming that process (exit 2).  A run
    stopped by SIGTERM / Ctrl-C after writing its checkpoint says where, with exit status 128 + the
    signal's number (143, 130); a failed worker, ranks that disagree, or a checkpoint that could not
    be written (a full disk) exit 1 with one line.
    """

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except LockedError as error:
            _quiet_unless_main_rank(2)
            raise RefusedError(f"refused: {error}") from None
        except ValueError as error:
            if isinstance(error, file_errors()):
                _quiet_unless_main_rank(2)
                raise DamagedFileError(str(error)) from None
            if isinstance(error, _library_errors()):
                _quiet_unless_main_rank(2)
                raise click.BadParameter(str(error)) from None
            raise
        except RuntimeError as error:
            from polyequiv.training.distributed import WorkerError
            from polyequiv.training.stopping import InterruptedRunError
            from polyequiv.training.world import RankStateError

            if isinstance(error, InterruptedRunError):
                _quiet_unless_main_rank(error.exit_code)
                click.echo(f"Error: {error}", err=True)
                sys.exit(error.exit_code)
            if isinstance(error, WorkerError | RankStateError):
                _quiet_unless_main_rank(1)
                raise click.ClickException(str(error)) from None
            raise
        except OSError as error:
            from polyequiv.training.loop import RunFileWriteError

            if isinstance(error, RunFileWriteError):
                _quiet_unless_main_rank(1)
                raise click.ClickException(error.strerror or str(error)) from None
            raise

    return wrapper


def _quiet_unless_main_rank(code: int) -> None:
    """Under ``torchrun`` every rank meets the same error: only rank 0 prints it, the others just exit."""
    if os.environ.get("RANK", "0") not in ("", "0") and "WORLD_SIZE" in os.environ:
        sys.exit(code)


def _parse_options(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``("hidden=4", "pooling=mean")`` → ``{"hidden": 4, "pooling": "mean"}`` (JSON values parsed)."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE (e.g. hidden=4)", param_hint="'--option'")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        options[key.strip()] = value
    return options


def run_options(command: Callable) -> Callable:
    """Flags shared by `train` and `compare`: task sizes, optimiser settings, seed, threads, device."""
    options = [
        click.option("--epochs", type=click.IntRange(min=1), default=None,
                     help="Epochs (default: the model's own; 20 for the lab's settings)."),
        click.option("--batch-size", type=click.IntRange(min=1), default=None,
                     help="Sets per step (default 64)."),
        click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=None,
                     help="Adam learning rate (default: the model's own; the lab's is 1e-3)."),
        click.option("--loss", type=click.Choice(LOSSES), default=None,
                     help="Training loss (default: the model's own; l1 for sets, cross-entropy for images)."),
        click.option("--schedule", type=click.Choice(SCHEDULES), default=None,
                     help="Constant rate, or cosine decay to 0 (default: the model's own)."),
        click.option("--solver", type=click.Choice(SOLVERS), default=None,
                     help="adam: gradient steps; lstsq: the exact least-squares fit in one pass, float64 "
                          "(default for models linear in their weights on regression tasks)."),
        click.option("--ridge", type=click.FloatRange(min=0), default=None,
                     help="λ of the least-squares fit's λ‖θ‖² (default 0; --solver lstsq only)."),
        click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
                     help="Seeds data, weights and batch order: same seed, same numbers."),
        click.option("--quick", is_flag=True, help="Small sizes (CI, notebooks): e.g. 5,000 training sets."),
        click.option("--train-size", type=click.IntRange(min=1), default=None, help="Training sets."),
        click.option("--valid-size", type=click.IntRange(min=0), default=None, help="Validation sets."),
        click.option("--test-size", type=click.IntRange(min=1), default=None,
                     help="Test sets per cardinality."),
        click.option("--cardinalities", default=None, metavar="RANGE",
                     help="Test cardinalities, e.g. 5-100:5 or 5,10,100."),
        click.option("--train-cardinalities", default=None, metavar="LOW[-HIGH]",
                     help="Training set (graph) sizes, uniform in LOW..HIGH (default: the task's, "
                          "e.g. 1-10; the variety-* models fix both to their network's n)."),
        click.option("--split", type=click.Choice(["by-graph", "random"]), default=None,
                     help="Graph tasks: split train/test by base graph (default) or at random (the seed's)."),
        click.option("--family", type=click.Choice(["er", "regular"]), default=None,
                     help="Graph tasks: Erdős–Rényi graphs (default) or random regular graphs."),
        click.option("--option", "option_pairs", multiple=True, metavar="KEY=VALUE",
                     help="Model option, repeatable: hidden=4, pooling=mean, penalty=1.0, …"),
        click.option("--threads", type=click.IntRange(min=1, max=MAX_THREADS), default=1, show_default=True,
                     help="Torch threads; 1 is fastest for these small models."),
        click.option("--device", default="cpu", show_default=True,
                     help="Torch device: cpu, cuda, cuda:1, mps."),
        click.option("--progress/--no-progress", default=None,
                     help="Progress bar on stderr (default: when stderr is a terminal)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _check_device(device: str) -> str:
    import torch

    try:
        if device == "cuda":  # no allocation: under torchrun or --nproc each rank picks its own GPU
            if not torch.cuda.is_available():
                raise RuntimeError("no CUDA device is available")
        else:
            torch.empty(0, device=device)
    except (RuntimeError, AssertionError) as error:
        message = str(error).splitlines()[0] if str(error) else "not available"
        raise click.BadParameter(f"device {device!r} cannot be used here: {message}",
                                 param_hint="'--device'") from None
    return device


def _task_options(quick: bool, train_size: int | None, valid_size: int | None, test_size: int | None,
                  cardinalities: str | None, split: str | None = None,
                  train_cardinalities: str | None = None, family: str | None = None) -> dict[str, Any]:
    options: dict[str, Any] = {"quick": True} if quick else {}
    if family is not None:
        options["family"] = family
    if train_cardinalities is not None:
        options["train_cardinalities"] = _parse_train_cardinalities(train_cardinalities)
    if split is not None:
        options["split"] = split
    sizes = {"train": train_size, "valid": valid_size, "test": test_size}
    options.update({k: v for k, v in sizes.items() if v is not None})
    if cardinalities is not None:
        try:
            options["cardinalities"] = parse_n_range(cardinalities)
        except click.BadParameter as error:
            raise click.BadParameter(error.message, param_hint="'--cardinalities'") from None
    return options


def _parse_train_cardinalities(text: str) -> list[int]:
    """``"3"`` → ``[3, 3]``, ``"1-10"`` → ``[1, 10]``."""
    low, sep, high = text.strip().partition("-")
    try:
        bounds = [int(low), int(high) if sep else int(low)]
    except ValueError:
        bounds = []
    if not bounds or min(bounds) < 1 or bounds[0] > bounds[1] or bounds[1] > 100_000:
        raise click.BadParameter(f"{text!r} is not LOW or LOW-HIGH, 1 ≤ LOW ≤ HIGH ≤ 100000 (e.g. 3, 1-10)",
                                 param_hint="'--train-cardinalities'")
    return bounds


def _echo_err(line: str) -> None:
    click.echo(line, err=True)


TASK_OPTION = click.option("--task", "task", type=OneLineChoice(task_names()), required=True, metavar="TASK",
                           help="Task: sets, graphs, images or physics ('polyequiv tasks' lists them, each "
                                "with the models that fit it).")


@click.command("train")
@TASK_OPTION
@click.option("--model", "model", type=OneLineChoice(MODEL_NAMES), required=True, metavar="MODEL",
              help="Model ('polyequiv models --task TASK' lists those that fit a task; another is refused "
                   "before anything is generated).")
@run_options
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Run folder: checkpoint.pt, train.log, results.json.")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint.")
@click.option("--overwrite", is_flag=True, help="Replace a run already in --out.")
@click.option("--nproc", type=click.IntRange(min=1), default=1, show_default=True,
              help="Train data-parallel in N processes (gloo on cpu, nccl on cuda, one GPU each); "
              "--batch-size stays the global batch. Under torchrun leave it out.")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@training_errors
def train_command(task: str, model: str, out: Path, resume: bool, overwrite: bool, nproc: int,
                  output_format: str,
                  epochs: int | None, batch_size: int | None, lr: float | None, loss: str | None,
                  schedule: str | None, seed: int, quick: bool, train_size: int | None,
                  valid_size: int | None, test_size: int | None, cardinalities: str | None,
                  train_cardinalities: str | None, split: str | None, family: str | None, solver: str | None,
                  ridge: float | None, option_pairs: tuple[str, ...], threads: int, device: str,
                  progress: bool | None) -> None:
    """Train (or fit) one model on one task; write a checkpoint every epoch and results.json at the end.

    \b
    Example: polyequiv train --task digit-sum --model tied-linear --out runs/tied
    The log goes to stderr and runs/tied/train.log; the table of accuracy and
    MAE per test cardinality to stdout.  Interrupted? Add --resume.
    Several processes: --nproc 2, or torchrun --nproc-per-node 2 $(which polyequiv) train ...
    """
    from polyequiv.training.config import RunConfig
    from polyequiv.training.run import train

    if resume and overwrite:
        raise click.BadParameter("give --resume (continue the run) or --overwrite (replace it), not both",
                                 param_hint="'--resume'")
    settings = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "loss": loss, "schedule": schedule,
                "solver": solver, "ridge": ridge, "model_options": _parse_options(option_pairs),
                "task_options": _task_options(quick, train_size, valid_size, test_size, cardinalities, split,
                                              train_cardinalities, family)}
    if resume:
        settings = _resumed_settings(out, settings)
    config = RunConfig.create(task, model, seed=seed, **settings)
    show = sys.stderr.isatty() if progress is None else progress
    results = train(config, out, resume=resume, overwrite=overwrite, threads=threads,
                    device=_check_device(device), progress=show, echo=_echo_err, nproc=nproc)
    if results is None:
        return
    if output_format == "json":
        echo_json(results)
    else:
        click.echo(format_table(*comparison_rows([results])))


def _resumed_settings(out: Path, given: dict[str, Any]) -> dict[str, Any]:
    """``--resume`` continues the run in ``out``: every setting left out is the checkpoint's own (its
    epochs, optimiser, solver, sizes and model options), so that only what is given can differ from it
    (``--epochs N``, larger, extends the run; anything else is refused as a config change)."""
    from polyequiv.training.checkpoint import CheckpointError
    from polyequiv.training.folder import peek_checkpoint

    try:
        saved = peek_checkpoint(out)["config"]
    except CheckpointError:
        return given  # train() reports the missing or damaged checkpoint
    stepless = saved.get("solver") == "lstsq" and given.get("solver") in (None, "lstsq")
    filled = {key: saved.get(key) if value is None and not (stepless and key in ("lr", "schedule")) else value
              for key, value in given.items() if key not in ("model_options", "task_options")}
    filled["model_options"] = given["model_options"] or saved.get("model_options", {})
    filled["task_options"] = given["task_options"] or saved.get("task_options", {})
    return filled


@click.command("compare")
@TASK_OPTION
@click.option("--models", default=None, metavar="NAMES",
              help="Comma-separated models (default: all that can do the task at its own sizes; the "
                   f"fixed-size variety-* networks only when named): {', '.join(MODEL_NAMES)}.")
@run_options
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder of run folders, one per model (default: runs/compare-TASK).")
@click.option("--overwrite", is_flag=True, help="Retrain models whose runs are already in --out.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write every run's results to this JSON file.")
@click.option("--format", "output_format", type=click.Choice(["text", "markdown", "json"]), default="text",
              show_default=True)
@training_errors
def compare_command(task: str, models: str | None, out: Path | None, overwrite: bool, json_path: Path | None,
                    output_format: str, epochs: int | None, batch_size: int | None, lr: float | None,
                    loss: str | None, schedule: str | None, seed: int, quick: bool, train_size: int | None,
                    valid_size: int | None, test_size: int | None, cardinalities: str | None,
                    train_cardinalities: str | None, split: str | None, family: str | None,
                    solver: str | None, ridge: float | None, option_pairs: tuple[str, ...],
                    threads: int, device: str, progress: bool | None) -> None:
    """Train every model on one task with the same seed and print one table.

    \b
    Example: polyequiv compare --task digit-sum --quick
    Finished runs in --out with the same settings are reused, interrupted ones resumed.
    Settings given here (--epochs, --lr, …) apply to every model; otherwise each
    model trains with its own defaults (the lab's for deepsets, lstm and mlp).
    """
    from polyequiv.models import get_model_definition
    from polyequiv.training.comparison import compare, supported_models
    from polyequiv.training.config import RunConfig, default_solver

    if json_path is not None:
        check_writable(json_path, "'--json'")
    wanted = None
    if models is not None:
        wanted = [name.strip() for name in models.split(",") if name.strip()]
        if not wanted:
            raise click.BadParameter(f"{models!r} names no model; e.g. --models deepsets,tied-linear",
                                     param_hint="'--models'")
        for name in wanted:
            if name not in MODEL_NAMES:
                raise click.BadParameter(f"unknown model {name!r}; choose from {', '.join(MODEL_NAMES)}",
                                         param_hint="'--models'")
    able, unable = supported_models(task, wanted)
    for name, reason in unable.items():
        _echo_err(f"skipping {name}: {reason}")
    if not able:
        raise click.BadParameter(f"none of the models can do {task}", param_hint="'--models'")
    options = _parse_options(option_pairs)
    for key in options:
        if not any(key in get_model_definition(name).options for name in able):
            raise click.BadParameter(f"no model here takes option {key!r}", param_hint="'--option'")
    task_options = _task_options(quick, train_size, valid_size, test_size, cardinalities, split,
                                 train_cardinalities, family)
    configs = []
    for name in able:
        accepted = get_model_definition(name).options
        model_options = {k: v for k, v in options.items() if k in accepted}
        if (solver or default_solver(task, name, model_options)) == "lstsq" and (epochs or lr or schedule):
            _echo_err(f"{name}: fitted exactly by least squares "
                      "(--epochs, --lr, --schedule apply to the others)")
        configs.append(RunConfig.for_compare(
            task, name, seed=seed, batch_size=batch_size, loss=loss, task_options=task_options,
            model_options=model_options, solver=solver, ridge=ridge, epochs=epochs, lr=lr, schedule=schedule))
    show = sys.stderr.isatty() if progress is None else progress
    runs = compare(configs, out or Path("runs") / f"compare-{task}", overwrite=overwrite, threads=threads,
                   device=_check_device(device), progress=show, echo=_echo_err)
    if json_path is not None:
        atomic_write_text(json_path, json.dumps(runs, indent=2) + "\n")
    if output_format == "json":
        echo_json(runs)
    else:
        click.echo(format_table(*comparison_rows(runs), markdown=output_format == "markdown"))


@click.command("plot")
@click.argument("runs", nargs=-1, type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Image file (.png, .svg, .pdf).")
@click.option("--metric", type=click.Choice(["accuracy", "mae", "relative_mae", "relative_mse"]),
              default=None,
              help="What to draw against cardinality (default: accuracy when the task has it, else MAE).")
@click.option("--patterns", "pattern_spec", default=None, metavar="SPEC",
              help="Draw the partition diagram of every pattern of an Sₙ layer instead, "
                   "e.g. 'S5 quadratic ordered E -> V'.")
@click.option("--title", default=None, help="Figure title.")
def plot_command(runs: tuple[Path, ...], output: Path, metric: str | None, pattern_spec: str | None,
                 title: str | None) -> None:
    """Draw accuracy (or error) against set cardinality, one line per run (the lab's Task 7).

    \b
    Example: polyequiv plot runs/compare-digit-sum -o accuracy.png
    RUNS are run folders, or folders of run folders (as written by compare).
    With --patterns SPEC (no RUNS): one partition diagram per pattern of the layer,
    e.g. polyequiv plot --patterns 'S5 cubic ordered E -> V' -o triangles.png
    """
    if pattern_spec is not None:
        if runs or metric:
            raise click.UsageError("--patterns draws a layer's patterns: give no RUNS and no --metric")
        _plot_patterns(pattern_spec, output, title)
        return
    if not runs:
        raise click.UsageError("give RUNS (run folders), or --patterns SPEC")
    from polyequiv.training.plotting import plot_metric, run_labels

    check_writable(output, "'--output'")
    image_format = output.suffix.lstrip(".").lower() or "png"
    if image_format not in IMAGE_FORMATS:
        raise click.BadParameter(f"cannot draw a .{image_format} image; use one of "
                                 f"{', '.join('.' + f for f in IMAGE_FORMATS)}", param_hint="'--output'")
    try:
        folders = find_runs(runs)
    except ResultsError as error:
        raise click.BadParameter(str(error), param_hint="'RUNS'") from None
    try:
        results = [read_results(path) for path in folders]
    except ResultsError as error:
        raise DamagedFileError(str(error)) from None
    if metric is None:
        metric = "accuracy" if all(row.get("accuracy") is not None for run in results
                                   for row in run["evaluation"]["per_cardinality"]) else "mae"
    try:
        plot_metric(results, metric, output, labels=run_labels(results, folders), title=title)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="'--metric'") from None
    except OSError as error:
        raise click.BadParameter(f"cannot write {output}: {error.strerror or error}",
                                 param_hint="'--output'") from None
    click.echo(f"wrote {output} ({len(results)} runs, {metric})")


def _plot_patterns(text: str, output: Path, title: str | None) -> None:
    """``polyequiv plot --patterns SPEC``: the partition diagrams of an Sₙ layer's patterns."""
    from polyequiv.errors import SpecError
    from polyequiv.patterns import layer_patterns, pattern_path_problem
    from polyequiv.spec import LayerSpec

    try:
        spec = LayerSpec.parse(text)
    except SpecError as error:
        raise click.BadParameter(str(error), param_hint="'--patterns'") from None
    problem = pattern_path_problem(spec)
    if problem is not None:
        raise click.BadParameter(f"{spec}: {problem}", param_hint="'--patterns'")
    patterns = [p for p in layer_patterns(spec.input, spec.output, spec.degree, bias=spec.bias)
                if p.num_blocks <= spec.n]
    if len(patterns) > 64:
        raise click.BadParameter(f"{spec} has {len(patterns)} patterns; draw at most 64 "
                                 "(a lower degree or fewer terms)", param_hint="'--patterns'")
    import matplotlib

    matplotlib.use("Agg")
    from polyequiv.viz import plot_patterns

    figure = plot_patterns(patterns, title=title or f"{spec}: {len(patterns)} patterns")
    try:
        figure.savefig(output, dpi=130)
    except (OSError, ValueError) as error:
        raise click.BadParameter(f"cannot write {output}: {error}", param_hint="'-o'") from None
    click.echo(f"wrote {output} ({len(patterns)} patterns of {spec})")
