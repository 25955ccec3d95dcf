"""Benchmark derivations under matrix groups: time against the dimension d and the degree, and the
derivations that the physics tasks need (inertia, Lorentz invariants of four momenta, O(5) invariants).

Two measurements:

* ``grid``: ``O(d)`` layers ``2*V -> V`` and ``2*V -> 1`` for d = 2…6 and degree 1…4, derived in one
  process after a warm-up: the equations and exact counts (``derive``), then the exact basis.
* ``tasks``: each task's derivation in a fresh process — in-process seconds for ``derive`` and the
  basis, and the wall time of the whole process (start-up and imports included) running
  ``polyequiv derive ... --format json`` (as ``python -m polyequiv_cli.main``), which prints the basis.

CPU seconds (``time.process_time``) are reported beside wall seconds: the machine is shared (the JSON
records the load average), and wall time there measures the neighbours too.

    python benchmarks/bench_matrix_groups.py            # the grid and the tasks (about a minute)
    python benchmarks/bench_matrix_groups.py --quick    # a smoke run (seconds)
    python benchmarks/bench_matrix_groups.py --out benchmarks/out/matrix_groups.json

Prints one JSON document and then aligned tables.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from _report import emit_json

#: The derivations the physics tasks of issue 16 need, as CLI flags and as spec strings.
TASKS = {
    "inertia (O(3))": ["--group", "O(3)", "--input", "5*1 + 5*V", "--output", "V2", "--degree", "3"],
    "inertia (S(5) x O(3))": [
        "--group",
        "S(5) x O(3)",
        "--input",
        "V(x)1 + V(x)V",
        "--output",
        "1(x)V2",
        "--degree",
        "3",
    ],
    "particle-interaction (O(1,3))": [
        "--group",
        "O(1,3)",
        "--input",
        "4*V",
        "--output",
        "1",
        "--degree",
        "4",
    ],
    "o5-synthetic (O(5), degree 4)": ["--group", "O(5)", "--input", "2*V", "--output", "1", "--degree", "4"],
    "o5-synthetic (O(5), degree 6)": ["--group", "O(5)", "--input", "2*V", "--output", "1", "--degree", "6"],
}
QUICK_TASKS = ["o5-synthetic (O(5), degree 4)"]

CHILD = r"""
import json, sys, time
import flint, scipy.sparse, sympy  # imported before timing: the in-process seconds measure the work
from polyequiv import derive
from polyequiv.matrix_spec import MatrixLayerSpec
def clock():
    return time.perf_counter(), time.process_time()
out = {}
for text in json.loads(sys.argv[1]):
    spec = MatrixLayerSpec.parse(text)
    wall, cpu = clock()
    result = derive(spec)
    out_wall, out_cpu = clock()
    basis = result.free_basis
    end_wall, end_cpu = clock()
    out[text] = {"spec": str(spec), "weights": result.num_weights, "free_parameters": result.free_parameters,
                 "function_dim": result.function_dim, "constraint_kinds": result.system.kind_counts(),
                 "derive_seconds": out_cpu - cpu, "derive_wall_seconds": out_wall - wall,
                 "basis_seconds": end_cpu - out_cpu, "basis_wall_seconds": end_wall - out_wall,
                 "basis_vectors": len(basis)}
print(json.dumps(out))
"""


def run_child(texts: list[str]) -> dict:
    """Derive ``texts`` (spec strings) in one fresh process, after a small warm-up derivation."""
    payload = json.dumps(["O(2) linear ordered V -> V", *texts])
    completed = subprocess.run(
        [sys.executable, "-c", CHILD, payload], capture_output=True, text=True, check=True, timeout=1800
    )
    return json.loads(completed.stdout)


def grid_specs(quick: bool) -> list[str]:
    dims, degrees = ((2, 3), (1, 2)) if quick else ((2, 3, 4, 5, 6), (1, 2, 3, 4))
    names = {1: "linear", 2: "quadratic", 3: "cubic", 4: "quartic"}
    return [f"O({d}) {names[k]} ordered 2*V -> {out}" for out in ("V", "1") for d in dims for k in degrees]


def task_row(name: str, flags: list[str]) -> dict:
    """One task: in-process seconds (fresh process) and the whole ``polyequiv derive`` process's wall time."""
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-m", "polyequiv_cli.main", "derive", *flags, "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    whole = time.perf_counter() - started
    data = json.loads(completed.stdout)
    label = data["spec"]["label"]
    inner = run_child([label])[label]
    return {"task": name, **inner, "process_wall_seconds": whole, "basis_printed": len(data["basis"])}


def table(rows: list[dict], first: str, columns: list[tuple[str, str]]) -> str:
    header = (first, *[title for title, _ in columns])
    cells = [(row[first], *[_cell(row.get(key)) for _, key in columns]) for row in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]
    fmt = "  ".join(["{:<" + str(widths[0]) + "}"] + ["{:>" + str(w) + "}" for w in widths[1:]])
    return "\n".join([fmt.format(*header), *(fmt.format(*c) for c in cells)])


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "-" if value is None else str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny cases only (a smoke test)")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args()
    load_before = os.getloadavg()
    grid = run_child(grid_specs(args.quick))
    grid_rows = [{"layer": text, **row} for text, row in grid.items() if text != "O(2) linear ordered V -> V"]
    names = QUICK_TASKS if args.quick else list(TASKS)
    task_rows = [task_row(name, TASKS[name]) for name in names]
    document = {
        "python": sys.version.split()[0],
        "cpu_count": os.cpu_count(),
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "grid": grid_rows,
        "tasks": task_rows,
    }
    emit_json(document, args.out)
    columns = [
        ("weights", "weights"),
        ("free", "free_parameters"),
        ("derive s", "derive_seconds"),
        ("basis s", "basis_seconds"),
        ("derive wall s", "derive_wall_seconds"),
    ]
    print(table(grid_rows, "layer", columns))
    print()
    print(table(task_rows, "task", [*columns, ("whole process wall s", "process_wall_seconds")]))
    print(
        f"\nload average {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after ({os.cpu_count()} CPUs)"
    )


if __name__ == "__main__":
    main()
