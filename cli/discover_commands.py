"""`polyequiv discover`: which group's weight ties does a learned weight tensor show (seed 003, measured)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import click

from polyequiv import discovery
from polyequiv.discovery.runs import load_layout
from polyequiv.fileio import atomic_write_bytes
from polyequiv_cli.options import check_writable, echo_json


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
@click.option("--bootstrap", type=click.IntRange(0, 1000), default=discovery.BOOTSTRAP_DRAWS,
              show_default=True, help="Residual-bootstrap draws: how often clustering again finds the group.")
@click.option("--residual-tolerance", type=click.FloatRange(min=0), default=discovery.RESIDUAL_TOLERANCE,
              show_default=True, help="Report the largest group with residual ‖W − P_G W‖/‖W‖ within this.")
@click.option("--compile", "scheme_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the tying scheme of the discovered group (JSON, as `polyequiv compile` writes it).")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Draw learned weights, clustered classes and the best candidate side by side.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def discover_command(source: Path, degree: int, mode: str | None, input_rep: str | None, tensor: str | None,
                     clusters: int | None, tolerance: float | None, min_ari: float, max_residual: float,
                     bootstrap: int, residual_tolerance: float, scheme_path: Path | None, plot: Path | None,
                     fmt: str) -> None:
    """Cluster learned weights, rank candidate groups (Sₙ, Cₙ, Dₙ, tori, trivial) by ARI, and find
    the whole permutation group that keeps the clustered classes (any group: S4 × S4, C3 ≀ S8, …).

    \b
    Example: polyequiv discover runs/penalty-sum
             polyequiv discover weights.npy --plot discover.png --format json
             polyequiv discover weights.npy --compile scheme.json
    SOURCE is a run folder (its checkpoint.pt), a checkpoint, or a .npy / .json weight file.
    The group's generators feed `polyequiv derive -n N --generators "..."` as printed.
    """
    if clusters is not None and tolerance is not None:
        raise click.UsageError("give --clusters or --tolerance, not both")
    if scheme_path is not None:
        check_writable(scheme_path, "'--compile'")
    try:
        weights, origin, model_mode, model_input = load_layout(source, tensor)
        result = discovery.discover(weights, degree=degree, mode=mode or model_mode or "auto",
                                    clusters=clusters, tolerance=tolerance, min_ari=min_ari,
                                    max_residual=max_residual, input=input_rep or model_input or "V",
                                    bootstrap=bootstrap, residual_tolerance=residual_tolerance)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="'SOURCE'") from None
    scheme = _compile(result, scheme_path) if scheme_path is not None else None
    if plot is not None:
        _plot(result, plot, origin)
    if fmt == "json":
        extra = {**({"plot": str(plot)} if plot else {}), **({"scheme": scheme} if scheme else {})}
        echo_json({"source": origin, **result.to_dict(), **extra})
        return
    _echo_text(result, origin)
    if scheme is not None:
        click.echo(f"wrote {scheme_path}: {scheme['spec']}, {scheme['classes']:,} classes, "
                   f"{scheme['free']:,} free parameters")
    if plot is not None:
        click.echo(f"wrote {plot}")


def _echo_text(result: discovery.Discovery, origin: str) -> None:
    layout = result.layout
    read_as = "" if layout.input == "V" else f" {layout.input} → V"
    click.echo(f"{origin}: shape {layout.shape} read as {layout.channels} × {layout.mode}{read_as} degree-"
               f"{layout.degree} layer on n = {layout.n}")
    plural = "class" if result.num_clusters == 1 else "classes"
    click.echo(f"clustered into {result.num_clusters} {plural} ({result.criterion})")
    for line in discovery.format_group(result):
        click.echo(line)
    click.echo(f"best listed candidate: {result.verdict}")
    found = result.symmetry
    if found is not None and found.order > 1:
        click.echo(f"verdict: {found.name} (order {found.order:,}), the whole group that keeps the classes; "
                   "the listed candidates are Sₙ, Cₙ, Dₙ, tori and the trivial group")
    elif found is not None:
        click.echo("verdict: trivial — no permutation keeps the classes (more data, a longer training or a "
                   "larger penalty may show one)")
    click.echo(discovery.format_table(result))


def _compile(result: discovery.Discovery, path: Path) -> dict[str, Any]:
    """Derive the discovered group's layer and write its tying scheme to ``path`` (atomically)."""
    from polyequiv.derivation import derive
    from polyequiv.scheme import TyingScheme

    found = result.symmetry
    if found is None or found.order == 1:
        raise click.BadParameter("the classes are kept by no permutation (the trivial group): a scheme for "
                                 "it would tie nothing; nothing written", param_hint="'--compile'")
    spec = result.layout.spec("custom", found.generators)
    scheme = TyingScheme.from_derivation(derive(spec))
    try:
        scheme.save(path)
    except OSError as error:
        raise click.BadParameter(f"cannot write {path}: {error.strerror or error}",
                                 param_hint="'--compile'") from None
    return {"path": str(path), "spec": str(spec), "classes": scheme.num_classes, "free": scheme.num_free}


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
