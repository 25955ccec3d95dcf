"""Least squares against Adam on the models linear in their weights, and the laws `explain` reads back.

    python benchmarks/bench_exact_fit.py                 # full sizes (lstsq) + the --quick sizes of both
    python benchmarks/bench_exact_fit.py --quick         # a smoke run

For each (task, model): the exact least-squares fit (``--solver lstsq``, the default for these
models) at full and quick sizes, and Adam with the model's own settings at quick sizes; graph tasks
are tested at 10, 50, 200 and 1,000 nodes, set tasks at c = 5 … 100.  Then ``explain`` on each
least-squares run.  Prints one JSON document, then Markdown tables.  One torch thread.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _report import emit_json

from polyequiv.explain import explain_run
from polyequiv.training import RunConfig, format_table
from polyequiv.training.results import metric_by_cardinality
from polyequiv.training.run import train

CASES = (("graph-degree", "tied-edge-linear"), ("triangles", "tied-edge-cubic"),
         ("sum-of-squares", "tied-quadratic"), ("center", "tied-quadratic"), ("times-sum", "tied-quadratic"))
GRAPH_SIZES = [10, 50, 200, 1000]


def sizes_of(task: str, quick: bool) -> dict[str, Any]:
    options: dict[str, Any] = {"quick": True} if quick else {}
    if task in ("graph-degree", "triangles"):
        options.update(cardinalities=GRAPH_SIZES, test=3)
    return options


def run(task: str, model: str, solver: str, quick: bool, out: Path,
        epochs: int | None = None) -> dict[str, Any]:
    steps = {"epochs": epochs} if solver == "adam" and epochs else {}
    config = RunConfig.create(task, model, solver=solver, task_options=sizes_of(task, quick), **steps)
    return train(config, out / f"{task}-{model}-{solver}-{'quick' if quick else 'full'}")


def row(results: dict[str, Any], label: str) -> list[str]:
    accuracy = metric_by_cardinality(results, "accuracy")
    relative = metric_by_cardinality(results, "relative_mae")
    largest = max(relative)
    quality = (f"{100 * accuracy[largest]:.2f}%" if accuracy[largest] is not None else "—")
    solver = results["training"]["solver"]
    return [results["task"]["name"], results["model"]["name"], label,
            f"{results['training']['wall_time_s']:.1f}", str(largest), quality, f"{relative[largest]:.2e}",
            f"{solver['rank']}/{solver['parameters']}" if solver["name"] == "lstsq" else "—",
            "yes" if solver.get("rational") else "no"]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="quick sizes only, Adam for 2 epochs")
    parser.add_argument("--out", type=Path, default=None, help="run folders (default: a temporary folder)")
    parser.add_argument("--json", type=Path, default=None, help="also write the JSON document here")
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="smoke-" if args.quick else "bench-exact-"))
    rows, laws, document = [], [], []
    for task, model in CASES:
        variants = [("lstsq", True), ("adam", True)] if args.quick else [("lstsq", False), ("lstsq", True),
                                                                          ("adam", True)]
        for solver, quick in variants:
            print(f"{task} / {model}: {solver}, {'quick' if quick else 'full'} sizes", file=sys.stderr)
            results = run(task, model, solver, quick, out, epochs=2 if args.quick else None)
            rows.append(row(results, f"{solver} ({'quick' if quick else 'full'})"))
            document.append(results)
        explanation = explain_run(out / f"{task}-{model}-lstsq-{'quick' if args.quick else 'full'}")
        laws.append([task, model, explanation.formula(), f"{explanation.checks['scaled']['size']}",
                     f"{explanation.checks['scaled']['max_error_vs_target']:.3g}"])
    emit_json({"runs": document, "laws": laws}, args.json)
    print(format_table(["task", "model", "solver", "train s", "largest size", "acc", "rel MAE", "rank",
                        "rational"], rows, markdown=True))
    print()
    print(format_table(["task", "model", "explain", "checked at size", "max error there"], laws,
                       markdown=True))


if __name__ == "__main__":
    main()
