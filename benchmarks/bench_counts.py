"""Benchmark exact counting with full indexing: blockwise elimination against the global one.

For each layer (Sₙ, full indexing, gauge none) the equations and classes are
derived once per process, then the exact counts (``free_parameters``,
``function_dim``: two ranks over Q) and the exact basis ``B`` are computed by

* ``blockwise`` — :mod:`polyequiv.blocks` (the default since this benchmark), and
* ``global`` — one sparse ``DomainMatrix`` elimination over Q of the whole system
  (the former path; refused above ``MAX_EXACT_NONZEROS`` and stopped after
  ``--global-timeout`` seconds).

Each method runs in a fresh Python process.  Times are CPU seconds of that
process (``time.process_time``: the machine is shared, and wall time there
measures the neighbours too); the JSON has the wall seconds as well
(``*_wall_seconds``).  Both methods must give the same counts and
the same basis (compared by a SHA-256 of its exact rational entries); the script
exits with status 1 if they differ.

    python benchmarks/bench_counts.py            # quadratic n = 5…100, cubic n = 5, 8, 10 (a few minutes)
    python benchmarks/bench_counts.py --quick    # a smoke run (seconds)
    python benchmarks/bench_counts.py --out benchmarks/out/counts.json

Prints one JSON document and then an aligned table.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from _report import emit_json

CHILD = r"""
import hashlib, json, resource, sys, time
from polyequiv import LayerSpec
from polyequiv.derivation import count_parameters, free_basis
from polyequiv.engines.sparse import derive_sparse
from polyequiv.errors import SizeLimitError
from polyequiv.graph import ConstraintGraph
from polyequiv.indexing import WeightIndex
case = json.loads(sys.argv[1])
spec = LayerSpec(n=case["n"], degree=case["degree"], indexing="full", gauge="none")
def clock():
    return time.perf_counter(), time.process_time()
def record(name, started):
    wall, cpu = clock()
    out[name + "_wall_seconds"], out[name + "_seconds"] = wall - started[0], cpu - started[1]
out = {"spec": str(spec), "method": case["method"]}
started = clock()
graph = ConstraintGraph(derive_sparse(WeightIndex(spec)))
out.update(weights=graph.num_weights, classes=graph.num_classes)
record("equations", started)
try:
    started = clock()
    out.update(count_parameters(graph, case["method"]))
    record("count", started)
    print(json.dumps(out), flush=True)
    if case["basis"]:
        started = clock()
        basis = free_basis(graph, case["method"])
        record("basis", started)
        digest = hashlib.sha256()
        for j, vector in enumerate(basis):
            for c in sorted(vector):
                digest.update(f"{c},{j},{vector[c].numerator}/{vector[c].denominator};".encode())
        out["basis_sha256"] = digest.hexdigest()
except SizeLimitError as error:
    out["refused"] = str(error)
out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out), flush=True)
"""

FULL_CASES = [dict(degree=2, n=n) for n in (5, 10, 20, 50, 100)] + [dict(degree=3, n=n) for n in (5, 8, 10)]
QUICK_CASES = [dict(degree=2, n=5), dict(degree=3, n=4)]
COUNTS = ("distinct_weights", "free_parameters", "function_dim", "additive_rank")


def run_method(case: dict, method: str, timeout: float, basis: bool) -> dict:
    """One method on one case in a fresh process; ``timed_out`` (with the counts if they came)."""
    payload = json.dumps({**case, "method": method, "basis": basis})
    try:
        completed = subprocess.run(
            [sys.executable, "-c", CHILD, payload],
            capture_output=True, text=True, check=True, timeout=timeout,
        )
        lines = completed.stdout
    except subprocess.TimeoutExpired as expired:
        lines = expired.stdout.decode() if isinstance(expired.stdout, bytes) else (expired.stdout or "")
        rows = [json.loads(line) for line in lines.strip().splitlines() if line.strip()]
        return {**(rows[-1] if rows else {"method": method}), "timed_out": timeout}
    return json.loads(lines.strip().splitlines()[-1])


def compare(blockwise: dict, reference: dict) -> str:
    """``same`` / ``DIFFERENT`` / ``n/a`` for counts and basis of the two methods."""
    if "free_parameters" not in reference:
        return "n/a"
    if any(blockwise[k] != reference[k] for k in COUNTS):
        return "DIFFERENT"
    if "basis_sha256" in reference and reference["basis_sha256"] != blockwise.get("basis_sha256"):
        return "DIFFERENT"
    return "same" if "basis_sha256" in reference else "same counts"


def _seconds(row: dict, key: str) -> str:
    if key in row:
        return f"{row[key]:.3f}"
    if "refused" in row:
        return "refused"
    if "timed_out" in row:
        return f">{row['timed_out']:.0f}"
    return "-"


def table(results: list[dict]) -> str:
    header = ("layer", "weights", "classes", "free", "fdim", "equations s", "blockwise count s",
              "blockwise basis s", "global count s", "global basis s", "speed-up", "agree")
    rows = []
    for r in results:
        b, g = r["blockwise"], r["global"]
        speedup = f"{g['count_seconds'] / b['count_seconds']:,.0f}x" if "count_seconds" in g else "-"
        rows.append((b["spec"], f"{b['weights']:,}", f"{b['classes']:,}", f"{b['free_parameters']:,}",
                     str(b["function_dim"]), f"{b['equations_seconds']:.3f}", _seconds(b, "count_seconds"),
                     _seconds(b, "basis_seconds"), _seconds(g, "count_seconds"), _seconds(g, "basis_seconds"),
                     speedup, r["agree"]))
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    fmt = "  ".join(["{:<" + str(widths[0]) + "}"] + ["{:>" + str(w) + "}" for w in widths[1:]])
    return "\n".join([fmt.format(*header), *(fmt.format(*row) for row in rows)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny cases only (a smoke test)")
    parser.add_argument("--global-timeout", type=float, default=120.0,
                        help="seconds the global elimination may take per case (default 120)")
    parser.add_argument("--no-basis", action="store_true", help="time the counts only")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args()
    results = []
    for case in QUICK_CASES if args.quick else FULL_CASES:
        blockwise = run_method(case, "blockwise", 600.0, not args.no_basis)
        reference = run_method(case, "global", args.global_timeout, not args.no_basis)
        agree = compare(blockwise, reference)
        results.append({**case, "blockwise": blockwise, "global": reference, "agree": agree})
    document = {"python": sys.version.split()[0], "global_timeout": args.global_timeout, "cases": results}
    emit_json(document, args.out)
    print(table(results))
    if any(r["agree"] == "DIFFERENT" for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
