"""Data-parallel training: time per run with 1, 2, … processes, the speed-up, and how close the numbers stay.

    python benchmarks/bench_distributed.py                       # digit-sum, deepsets, batches 64 and 512
    python benchmarks/bench_distributed.py --nprocs 1,2,4 --batch-sizes 256 --train-size 50000
    python benchmarks/bench_distributed.py --quick               # a smoke run (seconds)

For every global batch size and process count it trains the same config with
``train(config, out, nproc=N)`` and reports

``train s``     rank 0's training time (the epochs, without start-up and evaluation)
``whole s``     the whole call: fork server and workers starting, process group, training, evaluation
``speed-up``    ``train s`` of one process divided by this one's
``max Δloss``   the largest relative difference of the epoch losses from the one-process run

The first launch in a process also starts the fork server (it imports torch and
polyequiv once); it is in ``whole s`` of the first multi-process row.  Prints one
JSON document, a blank line, then an aligned table.  The machine's core count
and load average are recorded: on a machine shared with other work the speed-up
is a lower bound.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _report import emit_json

from polyequiv.training import RunConfig, format_table
from polyequiv.training.results import metric_by_cardinality
from polyequiv.training.run import train


def measure(task: str, model: str, train_size: int, batch_size: int, epochs: int, nprocs: Sequence[int],
            out: Path, test_size: int = 1000) -> list[dict[str, Any]]:
    """One row per process count: times, speed-up against the first entry, and the largest loss difference."""
    config = RunConfig.create(task, model, seed=0, epochs=epochs, batch_size=batch_size,
                              task_options={"train": train_size, "test": test_size, "cardinalities": [5, 50]})
    rows: list[dict[str, Any]] = []
    reference: dict[str, Any] | None = None
    for nproc in nprocs:
        started = time.perf_counter()
        results = train(config, out / f"batch{batch_size}-n{nproc}", nproc=nproc, overwrite=True)
        whole = time.perf_counter() - started
        assert results is not None
        reference = reference or results
        losses, base = results["training"]["loss_history"], reference["training"]["loss_history"]
        train_s = results["training"]["wall_time_s"]
        rows.append({
            "batch_size": batch_size, "processes": nproc, "steps": epochs * -(-train_size // batch_size),
            "train_s": train_s, "whole_s": round(whole, 3),
            "speed_up": round(reference["training"]["wall_time_s"] / train_s, 3),
            "max_relative_loss_difference": max(abs(a - b) / abs(b)
                                                for a, b in zip(losses, base, strict=True)),
            "final_train_loss": results["training"]["final_train_loss"],
            "mae_at_50": metric_by_cardinality(results, "mae")[50],
        })
    return rows


def table(rows: Sequence[dict[str, Any]]) -> str:
    header = ["batch", "processes", "steps", "train s", "whole s", "speed-up", "max Δloss", "MAE@50"]
    body = [[str(r["batch_size"]), str(r["processes"]), f"{r['steps']:,}", f"{r['train_s']:.2f}",
             f"{r['whole_s']:.2f}", f"{r['speed_up']:.2f}×", f"{r['max_relative_loss_difference']:.1e}",
             f"{r['mae_at_50']:.4g}"] for r in rows]
    return format_table(header, body)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="digit-sum")
    parser.add_argument("--model", default="deepsets")
    parser.add_argument("--train-size", type=int, default=20_000)
    parser.add_argument("--batch-sizes", default="64,512", help="Global batch sizes, comma-separated.")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--nprocs", default="1,2",
                        help="Process counts, comma-separated (the first is the base).")
    parser.add_argument("--out", type=Path, default=None, help="Run folders (default: a temporary folder).")
    parser.add_argument("--json", type=Path, default=None, help="Also write the JSON document here.")
    parser.add_argument("--quick", action="store_true",
                        help="A smoke run: 600 sets, batch 64, one epoch, 100 test sets.")
    args = parser.parse_args(argv)
    if args.quick:
        args.train_size, args.batch_sizes, args.epochs = 600, "64", 1
    nprocs = [int(n) for n in args.nprocs.split(",")]
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as scratch:
        out = args.out or Path(scratch)
        rows = [row for batch in batch_sizes
                for row in measure(args.task, args.model, args.train_size, batch, args.epochs, nprocs, out,
                                   test_size=100 if args.quick else 1000)]
    document = {
        "benchmark": "distributed", "task": args.task, "model": args.model, "train_size": args.train_size,
        "epochs": args.epochs, "cpu_count": os.cpu_count(),
        "load_average_1min": {"before": round(load_before[0], 2), "after": round(os.getloadavg()[0], 2)},
        "rows": rows,
    }
    emit_json(document, args.json)
    print(f"{args.task} / {args.model}: {args.train_size:,} training sets, {args.epochs} epochs, "
          f"{os.cpu_count()} cores, load {load_before[0]:.1f} → {os.getloadavg()[0]:.1f}")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
