"""Benchmark the n-free pattern path and print the tensor counts table of docs/tensors.md.

Three measurements:

* ``count``: :func:`polyequiv.patterns.count_by_patterns` on n = 10⁶ layers, in
  process, best of ``--repeats`` (the first call, which enumerates and caches the
  partitions, is reported separately as ``cold``);
* ``cli``: wall time of the whole ``polyequiv count -n 1000000 ...`` process
  (interpreter start and imports included);
* ``table``: free parameters of linear and quadratic ``In -> Out`` layers for
  n = 1..6 and for every n ≥ the number of index positions (n-free).

    python benchmarks/bench_patterns.py                 # everything (about ten seconds)
    python benchmarks/bench_patterns.py --quick         # a smoke run
    python benchmarks/bench_patterns.py --out benchmarks/out/patterns.json

Prints one JSON document and then aligned tables.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

from _report import emit_json

from polyequiv import LayerSpec
from polyequiv.patterns import _orbits, count_by_patterns, count_patterns

BIG_N = 1_000_000
COUNT_CASES = [
    ("V", "V", 3, False),
    ("E", "V", 3, False),
    ("E", "V", 3, True),
    ("E", "E", 3, False),
    ("V2", "V2", 2, False),
    ("V + E", "V + E", 2, True),
    ("E", "V", 4, False),
]
TABLE_PAIRS = [
    ("V", "V"),
    ("V", "V2"),
    ("V2", "V"),
    ("V2", "V2"),
    ("E", "V"),
    ("V", "E"),
    ("E", "E"),
    ("E", "1"),
]


def time_count(rep_in: str, rep_out: str, degree: int, bias: bool, repeats: int) -> dict:
    spec = LayerSpec(n=BIG_N, degree=degree, input=rep_in, output=rep_out, bias=bias)
    _orbits.cache_clear()
    start = time.perf_counter()
    result = count_by_patterns(spec)
    cold = time.perf_counter() - start
    best = min(_timed(lambda: count_by_patterns(spec)) for _ in range(repeats))
    return {
        "spec": str(spec),
        "free_parameters": result.free_parameters,
        "patterns_n_free": result.total_patterns,
        "cold_seconds": cold,
        "warm_seconds": best,
    }


def _timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def time_cli(args: list[str]) -> dict:
    executable = shutil.which("polyequiv") or str(Path(sys.executable).with_name("polyequiv"))
    start = time.perf_counter()
    completed = subprocess.run([executable, *args], capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - start
    row = completed.stdout.splitlines()[2].split()
    return {
        "command": "polyequiv " + " ".join(args),
        "free_parameters": int(row[4]),
        "path": row[-1],
        "seconds": seconds,
    }


def counts_table(sizes: range) -> list[dict]:
    rows = []
    for rep_in, rep_out in TABLE_PAIRS:
        for degree in (1, 2):
            by_n = [
                count_patterns(rep_in, rep_out, degree, n=n)
                if n >= 2 or "E" not in rep_in + rep_out
                else None
                for n in sizes
            ]
            rows.append(
                {
                    "layer": f"{rep_in} -> {rep_out}",
                    "degree": degree,
                    "by_n": by_n,
                    "n_free": count_patterns(rep_in, rep_out, degree),
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two cases, one repeat, no CLI runs")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args()
    cases = COUNT_CASES[:2] if args.quick else COUNT_CASES
    repeats = 1 if args.quick else args.repeats
    document = {
        "count": [time_count(*case, repeats) for case in cases],
        "cli": []
        if args.quick
        else [
            time_cli(["count", "-n", str(BIG_N), "--degree", "3"]),
            time_cli(["count", "-n", str(BIG_N), "--input", "E", "--output", "V", "--degree", "3"]),
        ],
        "table": counts_table(range(1, 7)),
    }
    emit_json(document, args.out)
    print(f"{'layer at n = 10⁶':<44} {'free':>5} {'cold s':>8} {'warm s':>8}")
    for row in document["count"]:
        print(
            f"{row['spec']:<44} {row['free_parameters']:>5} "
            f"{row['cold_seconds']:>8.4f} {row['warm_seconds']:>8.5f}"
        )
    for row in document["cli"]:
        print(
            f"{row['command']:<72} {row['free_parameters']:>4} via {row['path']}, {row['seconds']:.2f} s wall"
        )
    print()
    print("| layer | degree | n = 1 | 2 | 3 | 4 | 5 | 6 | n-free |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in document["table"]:
        cells = " | ".join("–" if v is None else str(v) for v in row["by_n"])
        print(f"| `{row['layer']}` | {row['degree']} | {cells} | {row['n_free']} |")


if __name__ == "__main__":
    main()
