"""Benchmark the point-cloud layer against the dense exact-basis layer: build time and forward time against
the number of points, for the inertia layer ``S(n) x O(3) cubic V⊗1 + V⊗V -> 1⊗V2``.

For every ``n``: the :class:`~polyequiv.nn.PointCloudPolyLayer` (12 patterns whatever ``n``) is built
once and run on a batch of 256 clouds; where the dense :class:`~polyequiv.nn.TiedPolynomialLayer` is
small enough (``n ≤ 10``: it derives the S(n) x O(3) layer and materialises ``9 × C(4n + 2, 3)``
weights) it is built (derivation included) and run too, the point-cloud layer's weights are fitted
to a random dense layer by least squares, and the largest difference of their outputs on fresh
clouds is recorded (it must be at rounding level: the two span the same functions).

CPU seconds are reported beside wall seconds (the machine is shared; the JSON records the load average).

    python benchmarks/bench_point_layers.py            # n = 5 … 1000 (about a minute)
    python benchmarks/bench_point_layers.py --quick    # n = 5 only (seconds)
    python benchmarks/bench_point_layers.py --out benchmarks/out/point_layers.json
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch
from _report import emit_json

from polyequiv.matrix_spec import MatrixLayerSpec
from polyequiv.nn import PointCloudPolyLayer, TiedPolynomialLayer

BATCH = 256
DENSE_UP_TO = 10


def clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def timed(function, repeats: int = 3) -> tuple[object, float, float]:
    """The result of ``function()`` and its best wall and CPU seconds over ``repeats`` runs."""
    best_wall = best_cpu = float("inf")
    for _ in range(repeats):
        wall, cpu = clock()
        result = function()
        end_wall, end_cpu = clock()
        best_wall, best_cpu = min(best_wall, end_wall - wall), min(best_cpu, end_cpu - cpu)
    return result, best_wall, best_cpu


def row(n: int) -> dict:
    spec = MatrixLayerSpec.parse(f"S({n}) x O(3) cubic ordered V⊗1 + V⊗V -> 1⊗V2")
    torch.manual_seed(n)
    x = torch.randn(BATCH, spec.num_coordinates, 1, dtype=torch.float64)
    fast, build_wall, build_cpu = timed(lambda: PointCloudPolyLayer(spec, dtype=torch.float64), 1)
    with torch.no_grad():
        _, forward_wall, forward_cpu = timed(lambda: fast(x))
    out = {"n": n, "coordinates": spec.num_coordinates, "patterns": fast.num_parameters,
           "fast_build_seconds": build_cpu, "fast_build_wall_seconds": build_wall,
           "fast_forward_seconds": forward_cpu, "fast_forward_wall_seconds": forward_wall}
    if n <= DENSE_UP_TO:
        dense, dense_wall, dense_cpu = timed(lambda: TiedPolynomialLayer(spec, dtype=torch.float64), 1)
        with torch.no_grad():
            _, dense_forward_wall, dense_forward_cpu = timed(lambda: dense(x))
            features = fast.pattern_values(x).reshape(-1, fast.num_parameters)
            fast.weight.copy_(torch.linalg.lstsq(features, dense(x)[..., 0].reshape(-1)).solution)
            fresh = torch.randn(BATCH, spec.num_coordinates, 1, dtype=torch.float64)
            difference = float((fast(fresh) - dense(fresh)).abs().max() / dense(fresh).abs().max())
        out.update({"dense_weights": dense.dense_shape.numel(), "dense_build_seconds": dense_cpu,
                    "dense_build_wall_seconds": dense_wall, "dense_forward_seconds": dense_forward_cpu,
                    "dense_forward_wall_seconds": dense_forward_wall, "max_relative_difference": difference})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n = 5 only (a smoke test)")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    load_before = os.getloadavg()
    sizes = (5,) if args.quick else (5, 10, 20, 50, 200, 1000)
    rows = [row(n) for n in sizes]
    emit_json({"python": sys.version.split()[0], "torch": torch.__version__, "batch": BATCH,
               "load_average": {"before": load_before, "after": os.getloadavg()}, "rows": rows}, args.out)
    print(f"{'n':>5}  {'patterns':>8}  {'fast build s':>12}  {'fast fwd ms':>11}  {'dense weights':>13}  "
          f"{'dense build s':>13}  {'dense fwd ms':>12}  {'max rel diff':>12}")
    for r in rows:
        dense = (f"{r['dense_weights']:>13,}  {r['dense_build_seconds']:>13.3f}  "
                 f"{1e3 * r['dense_forward_seconds']:>12.2f}  {r['max_relative_difference']:>12.1e}"
                 if "dense_weights" in r else f"{'-':>13}  {'-':>13}  {'-':>12}  {'-':>12}")
        print(f"{r['n']:>5}  {r['patterns']:>8}  {r['fast_build_seconds']:>12.3f}  "
              f"{1e3 * r['fast_forward_seconds']:>11.2f}  {dense}")
    print(f"\nload average {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after "
          f"({os.cpu_count()} CPUs); CPU seconds, batch {BATCH}, 1 thread")


if __name__ == "__main__":
    main()
