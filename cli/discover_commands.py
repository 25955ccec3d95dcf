"""`polyequiv discover`: which group's weight ties does a learned weight tensor show (seed 003, measured)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import click
import numpy as np

from polyequiv import discovery
from polyequiv.fileio import atomic_write_bytes
from polyequiv_cli.options import echo_json

#: Where the first dense linear weight of a model sits in its state dict, and how to read it:
#: ``(entry, mode, input)``; :func:`_reshape_model_weight` turns the entry into the array ``discover`` reads.
_MODEL_WEIGHTS: dict[str, tuple[str, str, str]] = {
    # PenaltyMLP.weights[0]: (N, N+1, C, 1) = (output k, input i with the bias last, channel, 1)
    "penalty-mlp": ("weights.0", "equivariant", "V"),
    # PaddedMLP.net[0]: Linear(2N → hidden) on [x, mask]; each hidden unit reads x through one row
    "mlp": ("net.0.weight", "invariant", "V"),
    # RowMLP.layer: Linear(L → hidden) on each node's adjacency row: one invariant layer per hidden unit
    "row-mlp": ("layer.weight", "invariant", "V"),
    # GraphLinear.weight: (L, L, L) = (output node k, i, j), read as the E → V layer the adjacency sees
    "graph-linear": ("weight", "equivariant", "E"),
    # SeedSharingNetwork.weight: (C, H/s, W/s, H, W) = (class, translation, pixel): with stride 1 one
    # (translations × pixels) = (n, n) matrix per class, pixels row-major as the torus groups number them
    "seed-sharing": ("weight", "equivariant", "V"),
}


def _reshape_model_weight(model: str, array: np.ndarray) -> np.ndarray:
    if model == "penalty-mlp":  # drop the bias input, channels first: (C, N, N)
        n = array.shape[0]
        return np.transpose(array[:, :n, :, 0], (2, 0, 1))
    if model == "mlp":  # the x half of [x, mask]: (hidden, N), one invariant layer per hidden unit
        return array[:, : array.shape[1] // 2]
    if model == "seed-sharing":
        classes, rows, cols, height, width = array.shape
        if rows * cols != height * width:
            raise ValueError(f"a strided seed-sharing weight {array.shape} has {rows * cols} translations "
                             f"for {height * width} pixels: no square layer to compare with the candidates")
        return array.reshape(classes, rows * cols, height * width)
    return array


def load_weights(source: Path, tensor: str | None) -> tuple[np.ndarray, str, str | None]:
    """The weight array of ``source`` (run folder, checkpoint, ``.npy`` or ``.json``), a description of
    where it came from, and the mode its model implies (``None``: let ``discover`` decide).

    Raises
    ------
    ValueError
        For a missing or unreadable file, or a checkpoint without the named (or a known) weight.
    """
    array, origin, mode, _ = load_layout(source, tensor)
    return array, origin, mode


def load_layout(source: Path, tensor: str | None) -> tuple[np.ndarray, str, str | None, str | None]:
    """:func:`load_weights` and the input representation the model implies (``"E"`` for
    ``graph-linear``; ``None`` for a file: a set, unless ``--input`` says otherwise)."""
    if source.is_dir() or source.suffix == ".pt":
        return _from_checkpoint(source, tensor)
    array, origin, mode = _from_file(source)
    return array, origin, mode, None


def _from_file(source: Path) -> tuple[np.ndarray, str, str | None]:
    if not source.is_file():
        raise ValueError(f"{source} is neither a run folder nor a weight file")
    if source.suffix == ".npy":
        try:
            array = np.load(source, allow_pickle=False)
        except (ValueError, OSError) as error:
            raise ValueError(f"cannot read {source} as .npy: {error}") from None
        if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
            raise ValueError(f"{source} holds {array.dtype} values, not numbers")
        return array, str(source), None
    if source.suffix == ".json":
        try:
            data = json.loads(source.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(f"cannot read {source} as JSON: {error}") from None
        if isinstance(data, dict):
            if "weights" not in data:
                raise ValueError(f"{source}: a JSON object needs a 'weights' entry (a nested list)")
            data = data["weights"]
        try:
            return np.asarray(data, dtype=np.float64), str(source), None
        except (TypeError, ValueError):
            raise ValueError(f"{source}: 'weights' is not a rectangular nested list of numbers") from None
    raise ValueError(f"{source}: expected a run folder, checkpoint.pt, .npy or .json file")


def _from_checkpoint(source: Path, tensor: str | None) -> tuple[np.ndarray, str, str | None, str | None]:
    from polyequiv.training.checkpoint import CHECKPOINT_NAME, load_checkpoint

    path = source / CHECKPOINT_NAME if source.is_dir() else source
    state = load_checkpoint(path)
    model = str(state.get("config", {}).get("model", "?"))
    weights = state.get("model", {})
    if tensor is not None:
        if tensor not in weights:
            raise ValueError(f"{path} has no entry {tensor!r}; entries: {', '.join(weights)}")
        return weights[tensor].detach().double().numpy(), f"{path} [{tensor}]", None, None
    if model not in _MODEL_WEIGHTS:
        raise ValueError(f"{path}: model {model!r} has no known dense linear weight; name a state-dict "
                         f"entry with --tensor (entries: {', '.join(weights)})")
    entry, mode, input_rep = _MODEL_WEIGHTS[model]
    array = _reshape_model_weight(model, weights[entry].detach().double().numpy())
    origin = f"{path} [{model}: {entry}]"
    trained = _trained_nodes(state.get("config", {}))
    if model in _PADDED_GRAPH_MODELS and trained is not None and trained < array.shape[-1]:
        # graphs are zero-padded on the right to the largest *test* graph: weights of nodes no
        # training graph reaches never get a gradient, so only the trained block is read
        array = array[..., :trained, :trained, :trained] if array.ndim == 3 else array[..., :trained]
        origin += f", the {trained}-node block the training graphs reach"
    return array, origin, mode, input_rep


#: Fixed-width graph models whose weight's node axes run over graphs zero-padded on the right.
_PADDED_GRAPH_MODELS = ("row-mlp", "graph-linear")


def _trained_nodes(config: dict) -> int | None:
    """The largest training graph of a run's task (``None`` when the config does not say)."""
    from polyequiv.tasks import TaskError, get_definition

    try:
        definition = get_definition(str(config.get("task")))
    except TaskError:
        return None
    sizes = definition.quick if (config.get("task_options") or {}).get("quick") else definition.full
    return int(sizes.max_train)


@click.command("discover")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--degree", type=click.IntRange(1, 2), default=1, show_default=True,
              help="1: a linear layer's matrix (…, n_out, n_in); 2: a quadratic layer's (…, n, n, n).")
@click.option("--mode", type=click.Choice(discovery.MODES), default=None,
              help="Equivariant (square) or invariant (rows) layer; default: the model's, else by shape.")
@click.option("--input", "input_rep", type=click.Choice(discovery.INPUTS), default=None,
              help="Input of the layer: V (a set; default), or a graph node model's (…, n, n, n) weight "
                   "as V2 → V or as the E → V combination W[k,i,j] + W[k,j,i] an adjacency matrix sees "
                   "(default for graph-linear runs).")
@click.option("--tensor", default=None, metavar="NAME", help="State-dict entry of a checkpoint to read.")
@click.option("--clusters", type=click.IntRange(min=1), default=None,
              help="Classes per channel (default: chosen by BIC).")
@click.option("--tolerance", type=click.FloatRange(min=0), default=None,
              help="Cut the sorted values at every gap wider than this (instead of BIC).")
@click.option("--min-ari", type=click.FloatRange(-1, 1), default=discovery.MIN_ARI, show_default=True,
              help="Below this ARI no candidate counts as found (verdict: trivial).")
@click.option("--max-residual", type=click.FloatRange(min=0), default=discovery.MAX_RESIDUAL,
              show_default=True, help="Above this residual ‖W − P_G W‖/‖W‖ neither.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Draw learned weights, clustered classes and the best candidate side by side.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def discover_command(source: Path, degree: int, mode: str | None, input_rep: str | None, tensor: str | None,
                     clusters: int | None,
                     tolerance: float | None, min_ari: float,
                     max_residual: float, plot: Path | None, fmt: str) -> None:
    """Cluster learned weights and rank candidate groups (Sₙ, Cₙ, Dₙ, tori, trivial) by ARI.

    \b
    Example: polyequiv discover runs/penalty-sum
             polyequiv discover weights.npy --plot discover.png --format json
    SOURCE is a run folder (its checkpoint.pt), a checkpoint, or a .npy / .json weight file.
    """
    if clusters is not None and tolerance is not None:
        raise click.UsageError("give --clusters or --tolerance, not both")
    try:
        weights, origin, model_mode, model_input = load_layout(source, tensor)
        result = discovery.discover(weights, degree=degree, mode=mode or model_mode or "auto",
                                    clusters=clusters, tolerance=tolerance, min_ari=min_ari,
                                    max_residual=max_residual, input=input_rep or model_input or "V")
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="'SOURCE'") from None
    if plot is not None:
        _plot(result, plot, origin)
    if fmt == "json":
        echo_json({"source": origin, **result.to_dict(), **({"plot": str(plot)} if plot else {})})
        return
    layout = result.layout
    read_as = "" if layout.input == "V" else f" {layout.input} → V"
    click.echo(f"{origin}: shape {layout.shape} read as {layout.channels} × {layout.mode}{read_as} degree-"
               f"{layout.degree} layer on n = {layout.n}")
    plural = "class" if result.num_clusters == 1 else "classes"
    click.echo(f"clustered into {result.num_clusters} {plural} ({result.criterion})")
    click.echo(f"best: {result.verdict}")
    click.echo(discovery.format_table(result))
    if plot is not None:
        click.echo(f"wrote {plot}")


def _plot(result: discovery.Discovery, path: Path, title: str) -> Any:
    from matplotlib.figure import Figure

    grids = discovery.heatmap_grids(result)
    lo = min(float(g.min()) for _, g in grids)
    hi = max(float(g.max()) for _, g in grids)
    rows, cols = grids[0][1].shape
    width = min(18.0, 3 * 3.6 * max(1.0, cols / max(rows, 1)) ** 0.5)
    figure = Figure(figsize=(width, 4.2))
    axes = figure.subplots(1, 3)
    image = None
    for ax, (name, grid) in zip(axes, grids, strict=True):
        image = ax.imshow(grid, cmap="coolwarm", vmin=lo, vmax=hi, interpolation="nearest", aspect="auto")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("input")
    axes[0].set_ylabel("output (channels stacked)")
    figure.colorbar(image, ax=list(axes), shrink=0.8)
    figure.suptitle(f"{Path(title).name if len(title) > 60 else title}: {result.verdict}", fontsize=9)
    buffer = io.BytesIO()
    suffix = path.suffix.lstrip(".").lower() or "png"
    try:
        figure.savefig(buffer, format=suffix, dpi=110)
    except ValueError as error:
        raise click.BadParameter(str(error).splitlines()[0], param_hint="'--plot'") from None
    atomic_write_bytes(path, buffer.getvalue())
    return figure
