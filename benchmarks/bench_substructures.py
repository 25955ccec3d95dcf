"""The substructure counting suite: tied E → V layers against GIN, GCN and a PPGN at 1×, 5×, 20× and off
the training distribution.

The protocol of Chen et al. 2020 at node level, graphs generated in code
(:mod:`polyequiv.tasks.graph_counts`, :mod:`polyequiv.tasks.graph_families`): for each count
(triangles, 3-stars, tailed triangles, 4-cycles, chordal 4-cycles) and each family (Erdős–Rényi,
random regular), train every model on 2,000 graphs of 8–12 nodes, then test on 100 fresh graphs
of 12, 60 and 240 nodes of the same family, and on 100 adversarial graphs of 12 nodes
(:func:`~polyequiv.tasks.graphs.adversarial_batches`: dense G(n, p ≥ 0.8), the other family,
the own family with two node pairs flipped).  Metrics: the fraction of nodes whose rounded
prediction is the count, and the mean absolute error divided by the standard deviation of the
counts (normalised MAE).  The tied models are fitted by least squares (their default), the
others by Adam with the lab's settings (20 epochs, batch 64, lr 1e-3, L1).

    python benchmarks/bench_substructures.py [--quick] [--out runs/bench-substructures]
                                             [--json benchmarks/out/substructures.json]

Runs go to ``--out``, one folder per (count, family, model), so an interrupted benchmark picks up
where it stopped.  Prints one JSON document, a blank line, then one table per count and family.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _report import emit_json

from polyequiv.explain.runs import load_model
from polyequiv.tasks import make_task
from polyequiv.tasks.graphs import adversarial_batches
from polyequiv.training import RunConfig, compare
from polyequiv.training.evaluation import predict, to_tensors

COUNTS = ("triangles", "3-stars", "tailed-triangles", "4-cycles", "chordal-4-cycles")
FAMILIES = ("er", "regular")
MODELS = ("tied-edge-linear", "tied-edge-cubic", "tied-edge-quartic", "tied-edge-quintic",
          "gin", "gcn", "ppgn")
SIZES = (12, 60, 240)


def task_options(task: str, family: str, quick: bool) -> dict[str, Any]:
    """The suite's sizes; ``triangles`` (a task of its own, with 5 relabelled copies per graph) gets
    the suite's sizes and a sixth as many base graphs, so that every count trains on ~2,000 graphs."""
    options: dict[str, Any] = {"family": family, "quick": True} if quick else {"family": family}
    if task == "triangles":
        options.update(train_cardinalities=[8, 12], cardinalities=list(SIZES),
                       train=34 if quick else 334, test=10 if quick else 100)
    return options


def normalised(predictions: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> dict[str, float]:
    """Accuracy of the rounded prediction and MAE / std of the counts, over the real nodes."""
    real = mask.bool()
    guess, truth = predictions[real].double(), targets[real].double()
    spread = float(truth.std()) if truth.numel() > 1 else 0.0
    mae = float((guess - truth).abs().mean())
    return {"accuracy": float((torch.round(guess) == truth).double().mean()),
            "normalised_mae": mae / spread if spread > 0 else (0.0 if mae == 0 else float("inf"))}


def score(folder: Path, task: str, options: dict[str, Any], family: str, count: int) -> dict[str, Any]:
    """The run's model on the test sizes and on the adversarial graphs."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        config, model = load_model(folder)
        generated = make_task(task, seed=config.seed, **options)
        batches = {str(size): batch for size, batch in sorted(generated.test.items())}
        batches |= adversarial_batches(task, seed=config.seed, family=family, size=SIZES[0], count=count)
        scores = {}
        for name, batch in batches.items():
            values, mask, targets = to_tensors(batch)
            scores[name] = normalised(predict(model.double(), values, mask), targets, mask)
    finally:
        torch.set_default_dtype(previous)
    return scores


def run_section(task: str, family: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    options = task_options(task, family, args.quick)
    epochs = 2 if args.quick else None
    configs = [RunConfig.for_compare(task, name, seed=0, epochs=epochs, task_options=options)
               for name in args.models.split(",")]
    folder = args.out / task / family
    runs = compare(configs, folder, echo=lambda line: print(line, file=sys.stderr))
    rows = []
    for run in runs:
        name = run["model"]["name"]
        rows.append({"model": name, "parameters": run["model"]["parameters"],
                     "train_s": run["training"]["wall_time_s"], "solver": run["config"]["solver"],
                     "scores": score(folder / name, task, options, family, 10 if args.quick else 100)})
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    names = list(rows[0]["scores"])
    header = f"  {'model':18s} {'params':>7s}" + "".join(f" {name:>16s}" for name in names)
    lines = [header, "  " + "-" * (len(header) - 2)]
    for row in rows:
        cells = "".join(f" {100 * s['accuracy']:6.1f}% {s['normalised_mae']:8.1e}"
                        for s in row["scores"].values())
        lines.append(f"  {row['model']:18s} {row['parameters']:7,d}{cells}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and 2 epochs (a smoke run)")
    parser.add_argument("--out", type=Path, default=Path("runs/bench-substructures"), help="run folders")
    parser.add_argument("--json", type=Path, default=None, help="also write the JSON here")
    parser.add_argument("--counts", default=",".join(COUNTS), help="comma-separated counts to run")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated models to train")
    parser.add_argument("--families", default=",".join(FAMILIES), help="comma-separated graph families")
    args = parser.parse_args()
    torch.set_num_threads(1)
    document: dict[str, Any] = {"load_average_before": [round(v, 2) for v in os.getloadavg()], "sections": {}}
    for task in args.counts.split(","):
        for family in args.families.split(","):
            with contextlib.redirect_stdout(sys.stderr):
                document["sections"][f"{task}/{family}"] = run_section(task, family, args)
    document["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    emit_json(document, args.json)
    print(f"load average (1, 5, 15 min): {document['load_average_before']} before, "
          f"{document['load_average_after']} after\n")
    print("accuracy of the rounded count and MAE / std of the counts; columns: test size (nodes), then the\n"
          "adversarial graphs of 12 nodes (dense, the other family, two node pairs flipped)\n")
    for section, rows in document["sections"].items():
        print(f"## {section}\n{table(rows)}\n")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
