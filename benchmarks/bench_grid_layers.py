"""Benchmark translation-equivariant grid layers: compiled (FFT / unfold) against the dense tied layer.

Forward + backward time per batch (median of the timed repetitions after one warm-up), float32,
one thread by default:

* ``dense``    — :class:`TiedPolynomialLayer` on ``T{H}x{W} … ordered equivariant`` (weights gathered
  into ``n·T·c_out·c_in^d`` entries every forward); refused with its size beyond the dense limit;
* ``circular`` — :class:`CircularPolyLayer`, the same layer run as a circular convolution (FFT) or a
  Volterra filter (unfolded shifts + einsum), on the whole grid or a ``k×k`` kernel support.

Series: linear 32×32 (1→1 and 4→4 channels, the ≥ 20× target), quadratic on small grids where the
dense layer fits, quadratic 32×32 (dense refused: its size is printed), quadratic 28×28 with kernel
supports 3×3 and 5×5 (1 → 8 channels, the MNIST-sized case).

    python benchmarks/bench_grid_layers.py [--quick] [--threads 1] [--out benchmarks/out/grid_layers.json]

Prints one JSON document, a blank line, then an aligned table with the speed-up of every compiled
case over the dense case of the same grid, degree and channels.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from _report import emit_json

from polyequiv.errors import SizeLimitError
from polyequiv.nn import TiedPolynomialLayer
from polyequiv.nn.grid_layers import CircularPolyLayer
from polyequiv.spec import LayerSpec


def cases(quick: bool) -> list[dict]:
    """The benchmark cases (``--quick``: tiny grids, a smoke test)."""
    if quick:
        plan = [((8, 8), 1, 1, 1, None, 4), ((4, 4), 2, 1, 2, None, 4), ((8, 8), 2, 1, 2, 3, 4)]
        repeats = 2
    else:
        plan = [
            ((32, 32), 1, 1, 1, None, 64),
            ((32, 32), 1, 4, 4, None, 64),
            ((32, 32), 1, 4, 4, 3, 64),
            ((8, 8), 2, 1, 4, None, 64),
            ((10, 10), 2, 1, 4, None, 64),
            ((32, 32), 2, 1, 8, 5, 64),
            ((28, 28), 2, 1, 8, 3, 64),
            ((28, 28), 2, 1, 8, 5, 64),
            ((28, 28), 2, 4, 8, 3, 64),
        ]
        repeats = 5
    out = []
    for shape, degree, c_in, c_out, support, batch in plan:
        base = {
            "shape": f"{shape[0]}x{shape[1]}",
            "degree": degree,
            "c_in": c_in,
            "c_out": c_out,
            "batch": batch,
            "repeats": repeats,
        }
        if support is None:
            out.append({**base, "layer": "dense", "support": "full"})
        out.append(
            {**base, "layer": "circular", "support": "full" if support is None else f"{support}x{support}"}
        )
    if not quick:  # the dense layer beyond its limit: refused, with its size
        out.insert(
            9,
            {
                "shape": "32x32",
                "degree": 2,
                "c_in": 1,
                "c_out": 8,
                "batch": 64,
                "repeats": repeats,
                "layer": "dense",
                "support": "full",
            },
        )
    return out


def build(case: dict) -> torch.nn.Module:
    height, width = (int(v) for v in case["shape"].split("x"))
    if case["layer"] == "dense":
        spec = LayerSpec.on_grid((height, width), case["degree"])
        return TiedPolynomialLayer(spec, case["c_in"], case["c_out"])
    support = None if case["support"] == "full" else int(case["support"].split("x")[0])
    return CircularPolyLayer(
        (height, width), case["degree"], case["c_in"], case["c_out"], kernel_support=support
    )


def run_case(case: dict) -> dict:
    """Time one case; a refused dense layer reports its size instead."""
    torch.manual_seed(0)
    result = dict(case)
    try:
        module = build(case)
    except SizeLimitError as refusal:
        result.update(refused=str(refusal).split(";")[0], weights=refusal.estimate)
        return result
    height, width = (int(v) for v in case["shape"].split("x"))
    images = torch.randn(case["batch"], case["c_in"], height, width)
    x = images.flatten(2).transpose(1, 2).contiguous() if case["layer"] == "dense" else images

    def step() -> None:
        module.zero_grad(set_to_none=True)
        module(x).square().mean().backward()

    step()
    times = []
    for _ in range(case["repeats"]):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    result.update(seconds=statistics.median(times), parameters=sum(p.numel() for p in module.parameters()))
    return result


def table(rows: list[dict]) -> str:
    header = ("grid", "degree", "channels", "support", "layer", "params", "s / batch", "speed-up")
    dense = {
        (r["shape"], r["degree"], r["c_in"], r["c_out"]): r.get("seconds")
        for r in rows
        if r["layer"] == "dense"
    }
    lines = []
    for r in rows:
        reference = dense.get((r["shape"], r["degree"], r["c_in"], r["c_out"]))
        if "refused" in r:
            timing, speedup, params = f"refused ({r['weights']:,} weights)", "—", "—"
        else:
            timing, params = f"{r['seconds']:.4g}", f"{r['parameters']:,}"
            speedup = f"{reference / r['seconds']:.1f}×" if reference and r["layer"] != "dense" else "—"
        lines.append(
            (
                r["shape"],
                str(r["degree"]),
                f"{r['c_in']}→{r['c_out']}",
                r["support"],
                r["layer"],
                params,
                timing,
                speedup,
            )
        )
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
    fmt = "  ".join("{:>" + str(w) + "}" for w in widths)
    return "\n".join([fmt.format(*header), *(fmt.format(*line) for line in lines)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny grids (a smoke test)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = [run_case(case) for case in cases(args.quick)]
    document = {
        "benchmark": "grid_layers",
        "threads": args.threads,
        "torch": torch.__version__,
        "cases": rows,
    }
    emit_json(document, args.out)
    print(table(rows))


if __name__ == "__main__":
    main()
