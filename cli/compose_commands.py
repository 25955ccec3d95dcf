"""`polyequiv compose`: expand a stack of polynomial layers, derive its equations, measure its variety."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from polyequiv import groups
from polyequiv.errors import SpecError
from polyequiv_cli.options import echo_json, library_errors

if TYPE_CHECKING:  # polyequiv.compose (flint, scipy) is imported by the command, not by `polyequiv --help`
    from polyequiv.compose.network import NetworkSpec

DEFAULT_SAMPLE = 10


@click.command("compose")
@click.option("-n", "n", type=click.IntRange(min=1), help="Number of set elements.")
@click.option(
    "--layers",
    help="DEGREE:tied|free:WIDTH[:bias][:full] per layer, comma separated, e.g. 2:free:3,2:free:invariant.",
)
@click.option("--spec", "spec_text", help="A network spec string, e.g. 'S3 [quadratic free -> 3, ...]'.")
@click.option("--bias", is_flag=True, help="Give every layer the bias input (h_b ≡ 1).")
@click.option("--indexing", type=click.Choice(["ordered", "full"]), default="ordered", show_default=True)
@click.option(
    "--group",
    type=click.Choice(["symmetric", "cyclic", "dihedral", "custom"]),
    default="symmetric",
    show_default=True,
)
@click.option(
    "--generators", help="Generators of a custom group in cycle notation, e.g. '(0 1)(2 3),(0 2 4)'."
)
@click.option("--variety/--no-variety", default=True, show_default=True, help="Measure the variety at T.")
@click.option("--search/--no-search", default=True, show_default=True, help="Look for points of V outside T.")
@click.option("--show-constraints", is_flag=True, help="List every equation (default: a sample).")
@click.option(
    "--train",
    "train_task",
    type=click.Choice(["sum-of-squares", "square-of-sum", "pairwise-products", "center", "times-sum"]),
    help="Also train the network on this set task three ways: tied, penalty, projected onto V.",
)
@click.option("--steps", type=click.IntRange(min=1), default=300, show_default=True, help="Training steps.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "latex"]),
    default="text",
    show_default=True,
)
@library_errors
def compose_command(
    n: int | None,
    layers: str | None,
    spec_text: str | None,
    bias: bool,
    indexing: str,
    group: str,
    generators: str | None,
    variety: bool,
    search: bool,
    show_constraints: bool,
    train_task: str | None,
    steps: int,
    seed: int,
    output_format: str,
) -> None:
    """Compose polynomial layers: expand the output, derive its polynomial equations, measure the variety.

    \b
    Example: polyequiv compose -n 3 --layers 2:free:3,2:free:invariant
    prints the weights, expansion terms, equations by degree, and dim T, the
    tangent dimension of the variety of invariant networks, the function dimension.
    """
    spec = _build(n, layers, spec_text, bias, indexing, group, generators)
    spec.check_size()
    from polyequiv.compose.expansion import expand_network, network_constraints
    from polyequiv.compose.training import compare_methods
    from polyequiv.compose.variety import NetworkJacobian, measure_variety

    if variety:
        NetworkJacobian(spec)  # its size is refused here, with the estimate, before anything is expanded
    constraints = network_constraints(expand_network(spec))
    measurement = measure_variety(spec, seed=seed, search=search) if variety else None
    runs = compare_methods(spec, train_task, steps=steps, seed=seed) if train_task else []
    limit = None if show_constraints else DEFAULT_SAMPLE
    equations = constraints.equations[:limit] if limit is not None else constraints.equations
    if output_format == "json":
        data: dict[str, Any] = constraints.summary()
        data["equations_shown"] = [str(e) for e in equations]
        if measurement is not None:
            data["variety"] = measurement.summary()
        if runs:
            data["training"] = [run.to_dict() for run in runs]
        echo_json(data)
        return
    if output_format == "latex":
        click.echo("\\begin{align*}")
        click.echo(" \\\\\n".join(e.latex().replace(" = ", " &= ") for e in equations))
        click.echo("\\end{align*}")
        if limit is not None and len(constraints.equations) > limit:
            click.echo(f"% {len(constraints.equations) - limit} more equations (use --show-constraints)")
        return
    click.echo("\n".join(_text_report(spec, constraints, equations, limit, measurement, runs, train_task,
                                      steps)))


def _text_report(spec: NetworkSpec, constraints: Any, equations: list[Any], limit: int | None,
                 measurement: Any, runs: list[Any], train_task: str | None, steps: int) -> list[str]:
    """The lines of ``compose``'s text output: expansion, equations, variety, training."""
    summary = constraints.summary()
    lines = [
        f"network: {spec}",
        f"  weights {summary['weights']}, parameters {summary['parameters']}, output degree {spec.degree}",
        f"  expansion: {summary['expansion_terms']:,} terms, {summary['coefficients']:,} coefficients "
        f"({summary['expansion_seconds']:.3g} s)",
        f"  equations: {summary['equations']:,} distinct, by degree "
        + ", ".join(f"{d}: {c}" for d, c in constraints.by_degree().items())
        + f" ({summary['constraint_seconds']:.3g} s)",
    ]
    for equation in equations:
        lines.append(f"    {equation}")
    if limit is not None and len(constraints.equations) > limit:
        lines.append(f"    … {len(constraints.equations) - limit} more (use --show-constraints)")
    if measurement is not None:
        lines += _variety_lines(measurement.summary())
    if runs:
        lines += _training_lines(runs, train_task, steps)
    return lines


def _variety_lines(m: dict[str, Any]) -> list[str]:
    lines = [
        "variety at a random rational point of T (ranks modulo "
        + " and ".join(str(p) for p in m["primes"])
        + (", which agree)" if m["primes_agree"] else ", which DISAGREE)"),
        f"  dim T {m['tied_dim']}, tangent dim of V {m['tangent_dim']}, function dim "
        f"{m['function_dim']} (V: {m['variety_function_dim']}, T: {m['tied_function_dim']}), "
        f"gauge {m['gauge_dim']}",
        f"  {m['verdict']}",
    ]
    if "search" in m:
        found = m["search"]
        lines.append(f"  search: {found['message']}")
        if found["found"]:
            lines.append(
                f"    equation residual {found['equation_residual']:.2e}, distance to T "
                f"{found['distance_to_tied']:.3g}, layers individually equivariant "
                f"{found['layers_individually_equivariant']}"
            )
    return lines


def _training_lines(runs: list[Any], train_task: str | None, steps: int) -> list[str]:
    lines = [f"training on {train_task} ({steps} Adam steps, same data and tied start):",
             f"  {'method':<10} {'params':>6} {'train MSE':>10} {'test MSE':>10} {'max |E|':>9} "
             f"{'equiv. residual':>15} {'seconds':>8}"]
    for run in runs:
        lines.append(
            f"  {run.method:<10} {run.trained_parameters:>6} {run.train_mse:>10.3e} "
            f"{run.test_mse:>10.3e} {run.equation_residual:>9.1e} "
            f"{run.equivariance_residual:>15.1e} {run.seconds:>8.2f}"
        )
    return lines


def _build(
    n: int | None,
    layers: str | None,
    spec_text: str | None,
    bias: bool,
    indexing: str,
    group: str,
    generators: str | None,
) -> NetworkSpec:
    from polyequiv.compose.network import NetworkSpec, parse_layer_flags

    if spec_text:
        if layers or n is not None:
            raise SpecError("give either --spec or -n with --layers, not both")
        return NetworkSpec.parse(spec_text)
    if n is None or not layers:
        raise SpecError("give -n and --layers (e.g. -n 3 --layers 2:free:3,2:free:invariant), or --spec")
    gens = tuple(groups.parse_generators(generators, n)) if generators else ()
    return NetworkSpec(
        n=n,
        layers=parse_layer_flags(layers, bias=bias, indexing=indexing),
        group=group,
        generators=gens,
    )
