"""Train composed networks three ways with `polyequiv compare` (issue 9 item 4; seed 004 §2.6–2.8).

For each (network, task) of :data:`CASES` the models ``variety-tied``, ``variety-penalty`` and
``variety-projected`` train with the training loop of every other model (their defaults: 5 epochs,
batch 64, Adam 1e-2 with cosine decay, MSE; the task's full sizes at cardinality n: 20,000
training sets) from the same tied start, and the table reports per run:

* ``params``: trained scalars (dim T for tied, every weight otherwise);
* ``valid MSE`` (the last epoch's validation loss) and ``test MAE`` (test sets of cardinality n),
  from ``results.json``;
* ``max|E|``: ``max |E(θ)| / max |c(θ)|``, the equations of an equivariant output (0 on V);
* ``off T``: ``‖θ − P_T θ‖ / ‖θ‖`` (0 when every layer is individually equivariant);
* ``equiv.``: ``max |f(σ·x) − σ·f(x)| / max |f|`` in float64 over 16 random elements of the
  network's whole group and 64 random inputs (the model's ``equivariance_residual``);
* ``train s``: training seconds (mean over the seeds).

Each case runs at seeds 0, 1, 2 (data, start point and batch order): a network whose output is a
polynomial of degree ≥ 2 in its hidden units has a saddle at ``h = 0``, and some starts end there.

    python benchmarks/bench_variety_training.py                 # the table of docs/composition.md
    python benchmarks/bench_variety_training.py --quick         # a smoke run (one network, 256 sets)
    python benchmarks/bench_variety_training.py --out runs/bench-variety

Prints one JSON document and then a Markdown table.  Run folders are reused (compare's rule).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from polyequiv.training.comparison import compare
from polyequiv.training.config import RunConfig

METHODS = ("tied", "penalty", "projected")
CASES = [
    ("S3 [quadratic free -> 3, linear free -> invariant]", "sum-of-squares"),
    ("S3 [linear free -> 3, quadratic free -> invariant]", "square-of-sum"),
    ("S4 [quadratic free -> 4, linear free -> invariant]", "pairwise-products"),
    ("S3 [linear free -> 3, quadratic free -> 3]", "times-sum"),
    ("S4 [quadratic free +bias -> 2, quadratic free -> invariant]", "sum-of-squares"),
]
QUICK_CASES = CASES[:1]


def run_case(network: str, task: str, out: Path, quick: bool, seed: int) -> list[dict[str, Any]]:
    sizes = {"train": 256, "valid": 64, "test": 64} if quick else {}
    configs = [RunConfig.create(task, f"variety-{method}", seed=seed, epochs=1 if quick else None,
                                model_options={"network": network}, task_options=sizes)
               for method in METHODS]
    slug = "".join(c if c.isalnum() else "-" for c in network).strip("-")
    runs = compare(configs, out / f"{task}-{slug}-seed{seed}")
    rows = []
    for method, run in zip(METHODS, runs, strict=True):
        test = run["evaluation"]["per_cardinality"][0]
        diagnostics = run["diagnostics"]
        rows.append({
            "network": network,
            "task": task,
            "method": method,
            "seed": seed,
            "params": run["model"]["parameters"],
            "test_mae": test["mae"],
            "valid_mse": run["training"]["final_valid_loss"],
            "equation_residual": diagnostics["equation_residual"],
            "equivariance_residual": diagnostics["equivariance_residual"],
            "distance_from_tied": diagnostics["distance_from_tied"],
            "permutation_shift": diagnostics["permutation_shift"],
            "train_seconds": run["training"]["wall_time_s"],
        })
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """One line per (network, method): per-seed values joined by " / ", the worst residuals."""
    lines = ["| network | task | method | params | valid MSE per seed | test MAE per seed | max\\|E\\| "
             "| equiv. | off T | train s |", "| --- | --- | --- | --: | --- | --- | --: | --: | --- | --: |"]
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["network"], row["task"], row["method"]), []).append(row)
    last = None
    for (network, task, method), runs in groups.items():
        first = (network, task) != last
        last = (network, task)

        def each(key: str, runs: list[dict[str, Any]] = runs) -> str:
            return " / ".join(f"{run[key]:.1e}" for run in runs)

        lines.append(
            f"| {'`' + network + '`' if first else ''} | {task if first else ''} | {method} "
            f"| {runs[0]['params']} | {each('valid_mse')} | {each('test_mae')} "
            f"| {max(run['equation_residual'] for run in runs):.1e} "
            f"| {max(run['equivariance_residual'] for run in runs):.1e} | {each('distance_from_tied')} "
            f"| {sum(run['train_seconds'] for run in runs) / len(runs):.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one network, 256 sets, 1 epoch, seed 0")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder of the run folders (default: runs/bench-variety; --quick: a temporary "
                             "one)")
    args = parser.parse_args(argv)
    temporary = None
    if args.out is None and args.quick:
        temporary = Path(tempfile.mkdtemp(prefix="bench-variety-"))
    out = args.out or temporary or Path("runs/bench-variety")
    try:
        seeds = [0] if args.quick else [int(seed) for seed in args.seeds.split(",")]
        rows = [row for network, task in (QUICK_CASES if args.quick else CASES) for seed in seeds
                for row in run_case(network, task, out, args.quick, seed)]
    finally:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
    print(json.dumps({"benchmark": "variety-training", "quick": args.quick, "rows": rows}, indent=2))
    print()
    print(table(rows))


if __name__ == "__main__":
    main()
