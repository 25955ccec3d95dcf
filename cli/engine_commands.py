"""`polyequiv derive`, `polyequiv count`, `polyequiv verify`."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from tqdm import tqdm

from polyequiv import render
from polyequiv.derivation import check_derivable, derive
from polyequiv.errors import SizeLimitError
from polyequiv.limits import estimate_weights
from polyequiv.matrix_spec import MatrixLayerSpec
from polyequiv.patterns import check_pattern_count, count_by_patterns, pattern_path_problem
from polyequiv.spec import LayerSpec
from polyequiv.verify import verify
from polyequiv_cli.matrix_options import is_matrix_request
from polyequiv_cli.options import build_spec, echo_json, library_errors, parse_n_range, spec_options

_COLOURS = [
    "red",
    "green",
    "yellow",
    "blue",
    "magenta",
    "cyan",
    "bright_red",
    "bright_green",
    "bright_yellow",
    "bright_blue",
    "bright_magenta",
    "bright_cyan",
]


def _colour(label: str, number: int) -> str:
    return click.style(label, fg=_COLOURS[number % len(_COLOURS)], bold=number >= len(_COLOURS))


@click.command("derive")
@spec_options()
@click.option("--show-constraints", is_flag=True, help="List every equation (text: all of them, grouped).")
@click.option("--show-classes", is_flag=True, help="List the classes of tied weights.")
@click.option(
    "--show-basis",
    is_flag=True,
    help="List every vector of the exact basis W = Σ θ_j B_j (matrix groups show a few by default).",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "latex"]),
    default="text",
    show_default=True,
)
@click.pass_context
@library_errors
def derive_command(
    ctx: click.Context,
    n: int,
    show_constraints: bool,
    show_classes: bool,
    show_basis: bool,
    output_format: str,
    engine: str,
    **spec_flags: Any,
) -> None:
    """Derive the weight ties that make a polynomial layer equivariant (or invariant).

    \b
    Example: polyequiv derive -n 5 --degree 2
    prints 4 distinct weights out of 75, the equations, and the tied tensor.
    """
    spec = build_spec(ctx, n, spec_flags)
    result = derive(spec, engine=engine)
    if output_format == "json":
        echo_json(render.json_object(result, show_constraints=show_constraints, show_classes=show_classes,
                                     show_basis=show_basis))
    elif output_format == "latex":
        click.echo(
            render.latex_report(result, limit=None if show_constraints else render.DEFAULT_EQUATION_LIMIT)
        )
    else:
        click.echo(
            render.text_report(
                result, show_constraints=show_constraints, show_classes=show_classes, style=_colour,
                show_basis=show_basis,
            )
        )


@click.command("count")
@click.option(
    "--n",
    "-n",
    "n_range",
    default=None,
    metavar="RANGE",
    help="Sizes to count: 1-8, 3,5,10 or 2-20:2 (grid groups: --shape 4x4,6x6 instead).",
)
@spec_options(with_n=False)
@click.option(
    "--format", "output_format", type=click.Choice(["text", "json", "jsonl"]), default="text",
    show_default=True,
    help="text: a table, a row as each size finishes; json: one list at the end; jsonl: one JSON object "
         "per size as it finishes.",
)
@click.option("--progress/--no-progress", default=None,
              help="A progress bar on stderr (default: when stderr is a terminal).")
@click.pass_context
@library_errors
def count_command(
    ctx: click.Context, n_range: str, output_format: str, progress: bool | None, engine: str,
    **spec_flags: Any,
) -> None:
    """Count distinct weights, free parameters and function dimension over a range of n.

    \b
    Example: polyequiv count --degree 2 --n 1-8 --indexing full
    is the seed's table (22), computed exactly.
    For Sₙ with ordered indexing, large sizes are counted from the n-free partition
    patterns (column "path"; --engine sparse derives instead): polyequiv count -n 1000000 --degree 3;
    edge layers too large to list (--input E --output V, 1 or E, degree 6-8) from
    rooted multigraphs up to isomorphism: polyequiv count --input E --degree 8 -n 20.
    Every size's estimate is checked before the first is counted; rows print as they finish.
    """
    specs = _count_specs(ctx, n_range, spec_flags)
    plans = [_plan_count(spec, engine) for spec in specs]  # a refusal comes before any counting
    show = sys.stderr.isatty() if progress is None else progress
    widths = _count_widths(specs)
    results = []
    if output_format == "text":
        click.echo(_count_title(specs[0]))
        click.echo(render.count_header(widths, first=render.count_first_column(specs[0])))
    with tqdm(total=len(specs), desc="counting", disable=not show, file=sys.stderr, leave=False) as bar:
        for spec, plan in zip(specs, plans, strict=True):
            result = count_by_patterns(spec) if plan == "patterns" else derive(spec, engine=engine)
            results.append(result)
            bar.update()
            if output_format == "text":
                bar.write(render.count_row(result, widths), file=sys.stdout)
            elif output_format == "jsonl":
                line = json.dumps(render.json_object(result, show_constraints=False, show_classes=False))
                bar.write(line, file=sys.stdout)
    if output_format == "json":
        echo_json([render.json_object(r, show_constraints=False, show_classes=False) for r in results])
    elif output_format == "text":
        if any(r.engine == "multigraphs" for r in results):
            click.echo("multigraphs: counted from rooted multigraphs up to isomorphism (one per pattern of "
                       "the edge layer), where listing set partitions would be too large")
        if any(r.engine == "patterns" for r in results):
            click.echo("patterns: counted from the n-free partition patterns (no derivation), where the "
                       "engines would refuse the size")


def _count_specs(ctx: click.Context, n_range: str | None, spec_flags: dict[str, Any]) -> list[Any]:
    """The specs ``count`` counts: one per size of the range, per grid shape, or one matrix group."""
    if is_matrix_request(spec_flags):  # a matrix group names its size in the group: one row
        spec = build_spec(ctx, None, spec_flags)
        if n_range is not None:
            raise click.BadParameter(
                f"{spec.group_label} takes no -n range; write the points in the group, e.g. 'S(5) x O(3)'",
                param_hint="'--n'",
            )
        return [spec]
    if spec_flags.get("shape") is not None and n_range is None:  # grid groups: one row per shape
        shapes = spec_flags.pop("shape").split(",")
        return [build_spec(ctx, None, {**spec_flags, "shape": s}) for s in shapes]
    if n_range is None:
        raise click.UsageError("Missing option '--n' / '-n'.")
    return [build_spec(ctx, n, spec_flags) for n in parse_n_range(n_range)]


#: With ``--engine auto``, Sₙ layers with ordered indexing and more weights than this are counted from
#: their patterns (milliseconds) rather than derived (seconds: S60 cubic has 2.2 million weights).
PATTERNS_ABOVE_WEIGHTS = 200_000


def _plan_count(spec: LayerSpec, engine: str) -> str:
    """``"derive"``, or ``"patterns"`` for Sₙ with ordered indexing where the engines would refuse or
    be slow (over :data:`PATTERNS_ABOVE_WEIGHTS` weights); the refusal (with its estimate) when neither
    can count ``spec``."""
    if (engine == "auto" and not isinstance(spec, MatrixLayerSpec) and pattern_path_problem(spec) is None
            and estimate_weights(spec) > PATTERNS_ABOVE_WEIGHTS):
        check_pattern_count(spec)
        return "patterns"
    try:
        check_derivable(spec, engine)
        return "derive"
    except SizeLimitError as refusal:
        problem = pattern_path_problem(spec)
        if engine != "auto" or problem:
            hint = f" ({problem})" if engine == "auto" else " (--engine auto counts Sₙ by patterns)"
            raise SizeLimitError(
                str(refusal) + hint, estimate=refusal.estimate, limit=refusal.limit
            ) from None
        check_pattern_count(spec)
        return "patterns"


def _count_widths(specs: list[Any]) -> list[int]:
    """Column widths known before counting: the number of weights bounds every count column."""
    number = max(len(render.weights_text(estimate_weights(spec))) for spec in specs)
    first = max(len(render.size_label(spec)) for spec in specs)
    return [max(first, len(render.count_first_column(specs[0]))), max(number, 8), max(number, 7), 5,
            max(number, 4), max(number, 12), 8, 8]


def _count_title(spec: Any) -> str:
    kind = spec.mode if spec.is_set_layer else f"{spec.input} -> {spec.output}"
    if isinstance(spec, MatrixLayerSpec):
        group = f", group {spec.group_label}"
    else:
        letters = spec.group_label.rstrip("0123456789")
        group = f", group {spec.group}" if spec.shape else f", group {letters}n"
    return (f"{spec.degree_name} {spec.indexing} {kind}" + (" +bias" if spec.bias else "")
            + (" +symmetric-gauge" if spec.gauge == "symmetric" else "") + group)


@click.command("verify")
@spec_options()
@click.option(
    "--elements",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Random elements of the whole group to check (besides the generators).",
)
@click.option("--inputs", type=click.IntRange(min=1), default=8, show_default=True, help="Random inputs x.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option(
    "--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.pass_context
@library_errors
def verify_command(
    ctx: click.Context,
    n: int,
    elements: int,
    inputs: int,
    seed: int,
    output_format: str,
    engine: str,
    **spec_flags: Any,
) -> None:
    """Check a derivation numerically on random elements of the whole group; exit 1 on failure.

    \b
    Tied weights drawn at random must satisfy f(σ·x) = σ·f(x); perturbing one
    constrained weight must break it; the count must match Burnside's lemma.
    """
    spec = build_spec(ctx, n, spec_flags)
    report = verify(derive(spec, engine=engine), elements=elements, inputs=inputs, seed=seed)
    if output_format == "json":
        echo_json(report.to_dict())
    else:
        click.echo("\n".join(report.lines()))
    if not report.passed:
        ctx.exit(1)
