"""Benchmark the constraint engines: time and peak memory of `derive` (equations + classes + exact counts).

Each case runs in a fresh Python process so that its peak resident memory
(``ru_maxrss``) is its own; the process's resident memory after imports is
reported too, so the engine's share is ``peak − baseline``.

    python benchmarks/bench_engine.py            # the full set (about two minutes)
    python benchmarks/bench_engine.py --quick    # a smoke run (seconds)
    python benchmarks/bench_engine.py --out benchmarks/out/engine.json

Prints one JSON document (all cases) and then an aligned table, plus the
growth exponent of time in n (least-squares slope of log time against log n)
for each series.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from pathlib import Path

from _report import emit_json

CHILD = r"""
import json, resource, sys, time
from polyequiv import LayerSpec, derive
case = json.loads(sys.argv[1])
spec = LayerSpec(n=case["n"], degree=case["degree"], transpositions=case.get("transpositions", "adjacent"))
baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
best = float("inf")
for _ in range(case["repeats"]):
    start = time.perf_counter()
    result = derive(spec, engine=case["engine"])
    best = min(best, time.perf_counter() - start)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({
    "spec": str(spec), "engine": result.engine, "n": spec.n, "degree": spec.degree,
    "transpositions": spec.transpositions, "weights": result.num_weights,
    "equalities": result.system.num_equalities, "distinct_weights": result.distinct_weights,
    "seconds": best, "peak_rss_mb": peak / 1024, "baseline_rss_mb": baseline / 1024,
}))
"""

FULL_SERIES = {
    "symbolic quadratic": [dict(engine="symbolic", degree=2, n=n) for n in range(3, 11)],
    "symbolic quadratic, all transpositions": [
        dict(engine="symbolic", degree=2, n=n, transpositions="all") for n in range(3, 9)
    ],
    "sparse quadratic": [dict(engine="sparse", degree=2, n=n) for n in (10, 20, 50, 100, 200)],
    "sparse quadratic, minimal pair": [
        dict(engine="sparse", degree=2, n=n, transpositions="minimal") for n in (10, 20, 50, 100, 200)
    ],
    "sparse cubic": [dict(engine="sparse", degree=3, n=n) for n in (10, 20, 30)],
}
QUICK_SERIES = {
    "symbolic quadratic": [dict(engine="symbolic", degree=2, n=n) for n in (3, 4)],
    "sparse quadratic": [dict(engine="sparse", degree=2, n=n) for n in (10, 20)],
}


def run_case(case: dict, repeats: int) -> dict:
    payload = json.dumps({**case, "repeats": repeats})
    completed = subprocess.run(
        [sys.executable, "-c", CHILD, payload], capture_output=True, text=True, check=True
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def growth_exponent(rows: list[dict]) -> float | None:
    """Slope of log(seconds) against log(n): time ≈ c·n^slope."""
    points = [(math.log(r["n"]), math.log(r["seconds"])) for r in rows if r["seconds"] > 0]
    if len(points) < 2:
        return None
    mx = sum(x for x, _ in points) / len(points)
    my = sum(y for _, y in points) / len(points)
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / sxx


def table(results: dict[str, list[dict]], exponents: dict[str, float | None]) -> str:
    header = ("series", "n", "d", "weights", "equalities", "distinct", "seconds", "peak MB", "engine MB")
    rows = []
    for name, cases in results.items():
        for r in cases:
            rows.append(
                (
                    name,
                    str(r["n"]),
                    str(r["degree"]),
                    f"{r['weights']:,}",
                    f"{r['equalities']:,}",
                    str(r["distinct_weights"]),
                    f"{r['seconds']:.3f}",
                    f"{r['peak_rss_mb']:.0f}",
                    f"{r['peak_rss_mb'] - r['baseline_rss_mb']:.0f}",
                )
            )
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    fmt = "  ".join(["{:<" + str(widths[0]) + "}"] + ["{:>" + str(w) + "}" for w in widths[1:]])
    lines = [fmt.format(*header), *(fmt.format(*row) for row in rows), ""]
    for name, slope in exponents.items():
        if slope is not None:
            lines.append(f"{name}: time grows like n^{slope:.2f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny cases only (a smoke test)")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs per case")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args()
    series = QUICK_SERIES if args.quick else FULL_SERIES
    results = {name: [run_case(case, args.repeats) for case in cases] for name, cases in series.items()}
    exponents = {name: growth_exponent(rows) for name, rows in results.items()}
    document = {"python": sys.version.split()[0], "series": results, "growth_exponents": exponents}
    emit_json(document, args.out)
    print(table(results, exponents))


if __name__ == "__main__":
    main()
