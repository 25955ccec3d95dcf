"""Train every model on every set task and print the README's result tables (Markdown).

    python benchmarks/bench_training.py                      # everything, full sizes (about 15 minutes)
    python benchmarks/bench_training.py --sections real-sum  # one section
    python benchmarks/bench_training.py --quick              # a smoke run (small sizes, 2 epochs)

Runs go to ``--out`` (default ``runs/bench-training``), one folder per task and
variant, so an interrupted benchmark picks up where it stopped (finished runs of
the same settings are reused, interrupted ones resumed).  Threads: 1 (see
``polyequiv train --help``).  Sections:

``digit-sum``   every model, the lab's sizes: accuracy and MAE at c = 5, 10, 20, 50, 100
``real-sum``    every model: test L1 beside the paper's DeepSets 0.015 and MLP 0.032
``polynomial``  the polynomial set tasks: relative MAE at the largest and a training cardinality
``pooling``     size generalisation: tied layers with sum, mean or both poolings, lab vs default training
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from polyequiv.training import RunConfig, compare, comparison_rows, format_table
from polyequiv.training.comparison import supported_models
from polyequiv.training.results import metric_by_cardinality

SECTIONS = ("digit-sum", "real-sum", "polynomial", "pooling")
POLYNOMIAL = ("sum-of-squares", "square-of-sum", "pairwise-products", "center", "times-sum")
PAPER_L1 = {"deepsets": "0.015 (DeepSets)", "mlp": "0.032 (their MLP)"}
LAB = {"lr": 1e-3, "schedule": "constant"}


def runs_of(task: str, models: Sequence[str], out: Path, quick: bool, variant: str = "default",
            model_options: dict[str, Any] | None = None, **settings: Any) -> list[dict[str, Any]]:
    able, _ = supported_models(task, models)
    task_options = {"quick": True} if quick else {}
    epochs = settings.pop("epochs", None)
    epochs = 2 if quick else epochs
    configs = [RunConfig.for_compare(task, name, seed=0, epochs=epochs, task_options=task_options,
                                     model_options=model_options, **settings) for name in able]
    return compare(configs, out / task / variant, echo=lambda line: print(line, file=sys.stderr))


def markdown(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    return format_table(header, rows, markdown=True)


def number(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}g}" if value >= 1e-3 else f"{value:.1e}"


def digit_sum(out: Path, quick: bool) -> tuple[str, list[dict[str, Any]]]:
    runs = runs_of("digit-sum", ["tied-linear", "tied-quadratic", "deepsets", "lstm", "mlp", "penalty-mlp"],
                   out, quick)
    return markdown(*comparison_rows(runs)), runs


def real_sum(out: Path, quick: bool) -> tuple[str, list[dict[str, Any]]]:
    runs = runs_of("real-sum", ["tied-linear", "tied-quadratic", "deepsets", "lstm", "mlp", "penalty-mlp"],
                   out, quick)
    # 8,000 sets of one size make a narrow, ill-conditioned problem for the quadratic read-out
    # (p₁ and p₁² nearly collinear): 20 epochs are 2,500 steps, so it is also shown with 100
    longer = runs_of("real-sum", ["tied-quadratic"], out, quick, variant="epochs-100", epochs=100,
                     solver="adam")
    header = ["model", "epochs", "params", "train s", "test L1 (n = 10)", "paper"]
    rows = [[run["model"]["name"], str(run["config"]["epochs"]), f"{run['model']['parameters']:,}",
             f"{run['training']['wall_time_s']:.1f}", number(metric_by_cardinality(run, "mae")[10]),
             PAPER_L1.get(run["model"]["name"], "")] for run in [*runs, *longer]]
    return markdown(header, rows), [*runs, *longer]


def polynomial(out: Path, quick: bool) -> tuple[str, list[dict[str, Any]]]:
    models = ["tied-linear", "tied-quadratic", "deepsets", "lstm", "mlp", "penalty-mlp"]
    everything, rows_large, rows_train = [], [], []
    for task in POLYNOMIAL:
        runs = runs_of(task, models, out, quick)
        everything += runs
        by_model = {run["model"]["name"]: run for run in runs}
        largest = max(metric_by_cardinality(runs[0], "relative_mae"))
        rows_large.append([task] + [number(metric_by_cardinality(by_model[m], "relative_mae")[largest])
                                    if m in by_model else "n/a" for m in models])
        rows_train.append([task] + [number(metric_by_cardinality(by_model[m], "relative_mae")[10])
                                    if m in by_model else "n/a" for m in models])
    header = ["task", *models]
    text = (f"Relative MAE (MAE / mean |y|) at c = {largest} (trained on c ≤ 10):\n\n"
            + markdown(header, rows_large)
            + "\n\nRelative MAE at c = 10 (inside the training range):\n\n" + markdown(header, rows_train))
    return text, everything


def pooling(out: Path, quick: bool) -> tuple[str, list[dict[str, Any]]]:
    everything, rows = [], []
    for how in ("sum", "mean", "both"):
        for label, settings in (("lab: Adam 1e-3, constant", LAB), ("default: Adam 1e-2, cosine to 0", {})):
            variant = f"{how}-{'lab' if settings else 'cosine'}"
            runs = runs_of("digit-sum", ["tied-linear"], out, quick, variant=variant,
                           model_options={"pooling": how}, **settings)
            everything += runs
            acc, mae = metric_by_cardinality(runs[0], "accuracy"), metric_by_cardinality(runs[0], "mae")
            rows.append([f"tied-linear, {how} pooling", label, f"{runs[0]['model']['parameters']}",
                         *(f"{100 * acc[c]:.2f}%" for c in (10, 50, 100)), number(mae[100])])
    digit_table = markdown(["model", "training", "params", "acc@10", "acc@50", "acc@100", "MAE@100"], rows)
    rows = []
    for how in ("sum", "mean", "both"):
        row = [f"tied-quadratic, {how} pooling"]
        for task in POLYNOMIAL:
            runs = runs_of(task, ["tied-quadratic"], out, quick, variant=f"pooling-{how}",
                           model_options={"pooling": how, "readout_pooling": how})
            everything += runs
            largest = max(metric_by_cardinality(runs[0], "relative_mae"))
            row.append(number(metric_by_cardinality(runs[0], "relative_mae")[largest]))
        rows.append(row)
    poly_table = markdown(["model", *POLYNOMIAL], rows)
    return ("digit-sum, tied-linear (one linear tied layer, 2 channels, then a linear sum read-out):\n\n"
            + digit_table + "\n\nPolynomial tasks, relative MAE at the largest cardinality:\n\n" + poly_table,
            everything)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", default=",".join(SECTIONS),
                        help=f"comma-separated: {', '.join(SECTIONS)}")
    parser.add_argument("--out", type=Path, default=Path("runs/bench-training"), help="folder of run folders")
    parser.add_argument("--quick", action="store_true", help="small sizes and 2 epochs (a smoke run)")
    parser.add_argument("--json", type=Path, default=None, help="also write every run's results here")
    args = parser.parse_args(argv)
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section {sorted(unknown)[0]!r}; choose from {', '.join(SECTIONS)}")
    builders = {"digit-sum": digit_sum, "real-sum": real_sum, "polynomial": polynomial, "pooling": pooling}
    collected = {}
    for section in sections:
        text, runs = builders[section](args.out, args.quick)
        collected[section] = runs
        print(f"## {section}\n\n{text}\n", flush=True)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(collected, indent=2) + "\n")


if __name__ == "__main__":
    main()
