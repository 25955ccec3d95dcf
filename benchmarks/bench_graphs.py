"""Train every graph model on the graph tasks and print the results tables (Markdown + JSON).

    python benchmarks/bench_graphs.py                  # graph-degree (both splits) and triangles, full sizes
    python benchmarks/bench_graphs.py --quick          # a smoke run (small sizes, 2 epochs)

Runs go to ``--out`` (default ``runs/bench-graphs``), one folder per task and
split, so an interrupted benchmark picks up where it stopped.  One torch thread.
The seed's figures (003 §3.3, graph-degree, 10-node graphs, its random split):
GCN 57.69 %, row-wise MLP 100 %.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from polyequiv.training import RunConfig, compare, format_table
from polyequiv.training.comparison import supported_models
from polyequiv.training.results import metric_by_cardinality

SEED_FIGURES = {"gcn": "57.69 %", "row-mlp": "100 %"}
SIZES = (5, 10, 20, 50)
#: (task, split, models): every graph model on both tasks split by base graph; the seed's random
#: split only for the seed's two models and the linear tied layer (what it is there to compare).
SECTIONS: tuple[tuple[str, str, tuple[str, ...] | None], ...] = (
    ("graph-degree", "by-graph", None),
    ("graph-degree", "random", ("tied-edge-linear", "gcn", "row-mlp")),
    ("triangles", "by-graph", None),
)


def runs_of(task: str, out: Path, quick: bool, split: str,
            models: Sequence[str] | None = None) -> list[dict[str, Any]]:
    able, _ = supported_models(task, models)
    options: dict[str, Any] = {"quick": True} if quick else {}
    if split != "by-graph":
        options["split"] = split
    configs = [RunConfig.for_compare(task, name, seed=0, epochs=2 if quick else None, task_options=options)
               for name in able]
    return compare(configs, out / task / split, echo=lambda line: print(line, file=sys.stderr))


def table(runs: Sequence[dict[str, Any]], seed_column: bool) -> str:
    header = ["model", "params", "train s", *(f"acc n={n}" for n in SIZES)]
    header += ["seed (n=10)"] if seed_column else []
    rows = []
    for run in runs:
        accuracy = metric_by_cardinality(run, "accuracy")
        cells = [f"{100 * accuracy[n]:.2f}%" if accuracy.get(n) is not None else "—" for n in SIZES]
        row = [run["model"]["name"], f"{run['model']['parameters']:,}",
               f"{run['training']['wall_time_s']:.1f}", *cells]
        rows.append(row + ([SEED_FIGURES.get(run["model"]["name"], "")] if seed_column else []))
    return format_table(header, rows, markdown=True)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/bench-graphs"), help="folder of run folders")
    parser.add_argument("--quick", action="store_true", help="small sizes and 2 epochs (a smoke run)")
    parser.add_argument("--json", type=Path, default=Path("benchmarks/out/graphs.json"),
                        help="every run's results, by section")
    args = parser.parse_args(argv)
    collected: dict[str, list[dict[str, Any]]] = {}
    for task, split, models in SECTIONS:
        runs = runs_of(task, args.out, args.quick, split, models)
        collected[f"{task}/{split}"] = runs
        print(f"## {task}, split {split}\n\n{table(runs, task == 'graph-degree')}\n", flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(collected, indent=2) + "\n")


if __name__ == "__main__":
    main()
