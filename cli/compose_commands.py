"""`polyequiv compose`: expand a stack of polynomial layers, derive its equations, measure its variety."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import click

from polyequiv import groups
from polyequiv.errors import SpecError
from polyequiv.fileio import atomic_write
from polyequiv_cli.options import check_writable, library_errors

if TYPE_CHECKING:  # polyequiv.compose (flint, scipy) is imported by the command, not by `polyequiv --help`
    from polyequiv.compose.network import NetworkSpec

DEFAULT_SAMPLE = 10
#: Terms shown on each side of a sampled equation (``--show-constraints`` shows them all).
SAMPLE_TERMS = 4


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
@click.option(
    "--expand-only",
    is_flag=True,
    help="Print (or with -o write) the expanded network polynomial, grouped by monomial, and stop.",
)
@click.option("--variety/--no-variety", default=True, show_default=True, help="Measure the variety at T.")
@click.option(
    "--certify",
    is_flag=True,
    help="Certify dim V exactly: bounds at a point of T (gauge orbits) and a Gröbner basis over Q.",
)
@click.option(
    "--certify-seconds",
    type=click.FloatRange(min=0, min_open=True),
    default=60.0,
    show_default=True,
    help="Time allowed for the Gröbner basis of --certify.",
)
@click.option("--search/--no-search", default=True, show_default=True, help="Look for points of V outside T.")
@click.option("--show-constraints", is_flag=True, help="List every equation in full (default: a sample).")
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
    type=click.Choice(["text", "json", "latex", "sympy"]),
    default="text",
    show_default=True,
    help="sympy: a Python script of sympy expressions (with --expand-only).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Write the output to this file (atomically) instead of printing it.",
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
    expand_only: bool,
    variety: bool,
    certify: bool,
    certify_seconds: float,
    search: bool,
    show_constraints: bool,
    train_task: str | None,
    steps: int,
    seed: int,
    output_format: str,
    output: Path | None,
) -> None:
    """Compose polynomial layers: expand the output, derive its polynomial equations, measure the variety.

    \b
    Examples:
      polyequiv compose -n 3 --layers 2:free:3,2:free:invariant
        weights, expansion terms, equations by degree, dim T, the tangent
        dimension of the variety of invariant networks, the function dimension
      polyequiv compose --spec "S3 [quadratic free +bias -> 3, quadratic free
        +bias -> 3, quadratic free +bias -> 3]" --no-variety
        the seed's network: all 470 equations
      polyequiv compose --spec "S2 [quadratic free +bias -> 2, linear free -> 2]"
        --expand-only --format json -o y.json
      polyequiv compose --spec "S3 [linear free -> 3, linear free -> 3]" --certify
    """
    if output is not None:
        check_writable(output, "'--output'")
    if output_format == "sympy" and not expand_only:
        raise click.BadParameter("sympy output is for --expand-only", param_hint="'--format'")
    if expand_only and (certify or train_task or show_constraints):
        raise click.BadParameter(
            "--expand-only prints the expansion and stops; drop --certify, --train and --show-constraints",
            param_hint="'--expand-only'",
        )
    spec = _build(n, layers, spec_text, bias, indexing, group, generators)
    spec.check_size()
    from polyequiv.compose.expansion import expand_network, network_constraints

    if expand_only:
        from polyequiv.compose.export import expansion_chunks

        _emit(expansion_chunks(expand_network(spec), output_format), output)
        return
    if variety or certify:
        from polyequiv.compose.variety import NetworkJacobian

        NetworkJacobian(spec)  # its size is refused here, with the estimate, before anything is expanded
    constraints = network_constraints(expand_network(spec))
    measurement = runs = None
    if variety:
        from polyequiv.compose.variety import measure_variety

        measurement = measure_variety(spec, seed=seed, search=search)
    certificate = None
    if certify:
        from polyequiv.compose.certificate import certify_dimension

        certificate = certify_dimension(spec, seed=seed, seconds=certify_seconds)
    if train_task:
        from polyequiv.compose.training import compare_methods

        runs = compare_methods(spec, train_task, steps=steps, seed=seed)
    report = Report(constraints, None if show_constraints else DEFAULT_SAMPLE, measurement, runs or [],
                    train_task, steps, certificate)
    writers = {"json": _json_report, "latex": _latex_report, "text": _text_report}
    _emit(writers[output_format](report), output)


@dataclass
class Report:
    """What one ``compose`` run found, for its writers."""

    constraints: Any
    limit: int | None
    measurement: Any
    runs: list[Any]
    train_task: str | None
    steps: int
    certificate: Any = None

    @property
    def shown(self) -> int:
        """How many equations the report shows (the first ones)."""
        total = len(self.constraints.equations)
        return total if self.limit is None else min(self.limit, total)

    @property
    def left_out(self) -> int:
        return max(len(self.constraints.equations) - (self.limit or len(self.constraints.equations)), 0)


def _emit(chunks: Iterable[str], output: Path | None) -> None:
    """Print the chunks, or write them atomically to ``output``."""
    if output is None:
        for chunk in chunks:
            click.echo(chunk, nl=False)
        return

    def write(stream: BinaryIO) -> None:
        for chunk in chunks:
            stream.write(chunk.encode())

    atomic_write(output, write)
    click.echo(f"wrote {output}", err=True)


def _json_report(report: Report) -> Iterator[str]:
    data: dict[str, Any] = report.constraints.summary()
    listed = report.constraints.equations
    data["equations_shown"] = [listed.text(i) for i in range(report.shown)]
    if report.measurement is not None:
        data["variety"] = report.measurement.summary()
    if report.certificate is not None:
        data["certificate"] = report.certificate.summary()
    if report.runs:
        data["training"] = [run.to_dict() for run in report.runs]
    yield json.dumps(data, indent=2) + "\n"


def _latex_report(report: Report) -> Iterator[str]:
    yield "\\begin{align*}\n"
    listed = report.constraints.equations
    rows = (listed.text(i, latex=True).replace(" = ", " &= ") for i in range(report.shown))
    yield " \\\\\n".join(rows) + "\n"
    yield "\\end{align*}\n"
    if report.left_out:
        yield f"% {report.left_out} more equations (use --show-constraints)\n"


def _text_report(report: Report) -> Iterator[str]:
    """The lines of ``compose``'s text output: expansion, equations, variety, training."""
    constraints = report.constraints
    spec = constraints.spec
    summary = constraints.summary()
    lines = [
        f"network: {spec}",
        f"  weights {summary['weights']}, parameters {summary['parameters']}, output degree {spec.degree}",
        f"  expansion: {summary['expansion_terms']:,} terms, {summary['coefficients']:,} coefficients "
        f"({summary['expansion_seconds']:.3g} s)",
        f"  equations: {summary['equations']:,} distinct ({summary['equation_terms']:,} terms), by degree "
        + ", ".join(f"{d}: {c}" for d, c in constraints.by_degree().items())
        + f" ({summary['constraint_seconds']:.3g} s)",
    ]
    for line in lines:
        yield line + "\n"
    listed = constraints.equations
    for i in range(report.shown):  # streamed: all equations of a large network are long
        yield f"    {listed.text(i) if report.limit is None else listed.abbreviated(i, SAMPLE_TERMS)}\n"
    lines = [f"    … {report.left_out} more (use --show-constraints)"] if report.left_out else []
    if report.measurement is not None:
        lines += _variety_lines(report.measurement.summary())
    if report.certificate is not None:
        lines += _certificate_lines(report.certificate.summary())
    if report.runs:
        lines += _training_lines(report.runs, report.train_task, report.steps)
    for line in lines:
        yield line + "\n"


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


def _certificate_lines(c: dict[str, Any]) -> list[str]:
    lines = [f"certificate (exact: ranks modulo {c['prime']} at a random point of T, a Gröbner basis):"]
    lines += [f"  {part}" for part in c["verdict"].split("; ")]
    if c["groebner_complete"]:
        lines[-1] += f" in {c['groebner_seconds']:.3g} s"
    else:
        lines.append(f"  no Gröbner basis: {c['groebner_message']}")
    lines += [f"  in V: {row['name']}, dim {row['dimension']}" for row in c["components"][1:]]
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
