"""`polyequiv explain RUN`: the learned function of a polynomial model as a short exact formula."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from polyequiv_cli.options import DamagedFileError, check_writable


@click.command("explain")
@click.argument("run", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--format", "output_format", type=click.Choice(["text", "latex", "json", "sympy"]),
              default="text", show_default=True)
@click.option("--tolerance", type=click.FloatRange(min=0, min_open=True, max=1), default=None,
              help="Relative to the largest prediction: how far the formula may move any prediction on fresh "
                   "data (default: twice the model's own largest error against the targets).")
@click.option("--refit", "refit", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write the simplified exact formula as a new run folder, evaluated at the run's test "
                   "sizes and at 10× the training size.")
@click.option("--plot", "plot", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Draw the surviving patterns as partition diagrams with their coefficients "
                   "(graph models).")
def explain_command(run: Path, output_format: str, tolerance: float | None, refit: Path | None,
                    plot: Path | None) -> None:
    """Read a trained polynomial model back as a formula in its patterns.

    \b
    Example: polyequiv explain runs/triangles
             y_k = 1/2 · Σ_{j,l} A_kj A_kl A_jl
    Works on tied set, graph, variety and physics (tied-poly) models and on formula runs; MLPs, GIN,
    CNNs are refused.
    """
    from polyequiv.explain import ExplainError, explain_run
    from polyequiv.models import ModelError
    from polyequiv.tasks import TaskError
    from polyequiv.training.checkpoint import CheckpointError
    from polyequiv.training.config import ConfigError
    from polyequiv.training.results import ResultsError

    if plot is not None:
        check_writable(plot, "'--plot'")
    if refit is not None and (refit.is_file() or (refit.is_dir() and any(refit.iterdir()))):
        raise click.BadParameter(f"{refit} already exists and is not an empty folder; give a new folder for "
                                 "the formula run", param_hint="'--refit'")
    try:
        explanation = explain_run(run, tolerance)
        written = _refit(explanation, run, refit) if refit is not None else None
        if plot is not None:
            _plot(explanation, plot)
    except (CheckpointError, ResultsError) as error:
        raise DamagedFileError(str(error)) from None
    except PlotError as error:
        raise click.BadParameter(str(error), param_hint="'--plot'") from None
    except RefitError as error:
        raise click.BadParameter(str(error), param_hint="'--refit'") from None
    except (ExplainError, ConfigError, ModelError, TaskError) as error:
        raise click.BadParameter(str(error), param_hint="'RUN'") from None
    if output_format == "json":
        data = explanation.to_dict()
        if written is not None:
            data["refit"] = {"folder": str(refit),
                             "per_cardinality": written["evaluation"]["per_cardinality"]}
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    elif output_format == "latex":
        click.echo(explanation.latex())
    elif output_format == "sympy":
        click.echo(repr(explanation.sympy()))
    else:
        click.echo(explanation.text())
        if written is not None:
            rows = written["evaluation"]["per_cardinality"]
            worst = max(rows, key=lambda row: row["mae"] or 0)
            click.echo(f"refit: wrote {refit} (formula model); test sizes "
                       f"{', '.join(str(r['cardinality']) for r in rows)}; largest MAE {worst['mae']:.3g} "
                       f"at {worst['cardinality']}")


class PlotError(ValueError):
    """``--plot`` cannot draw this explanation."""


class RefitError(ValueError):
    """``--refit`` cannot write this explanation."""


def _refit(explanation: Any, run: Path, out: Path) -> dict[str, Any]:
    from polyequiv.explain import ExplainError, write_formula_run

    try:
        return write_formula_run(explanation, run, out)
    except ExplainError as error:
        raise RefitError(str(error)) from None


def _plot(explanation, output: Path) -> None:
    patterns = getattr(explanation, "patterns", {})
    drawn = [term for term in getattr(explanation, "terms", []) if term.feature.key in patterns]
    if not drawn:
        raise PlotError("--plot draws graph patterns; this formula has none (set formulas are power sums, "
                        "physics formulas sums over particles and axes)")
    import matplotlib

    matplotlib.use("Agg")
    from polyequiv.viz import plot_patterns

    figure = plot_patterns([patterns[t.feature.key] for t in drawn], title=explanation.formula())
    for ax, term in zip(figure.axes, drawn, strict=False):
        ax.set_title(f"{term.coefficient} · {term.feature.text}", fontsize=8)
    try:
        figure.savefig(output, dpi=130)
    except (OSError, ValueError) as error:
        raise PlotError(f"cannot write {output}: {error}") from None
