"""Benchmark the torch layers: forward + backward time and peak memory per batch.

Quadratic equivariant Sₙ layer with bias, batch 256, 16 → 16 channels, n = 10, 100, 1000:

* ``dense``   — :class:`TiedPolynomialLayer`, weights materialised (``n·M·c_out·c_in²`` entries,
  ``M = C(n + 2, 2)`` monomials); refused with its size when beyond the limit;
* ``set``     — :class:`SetPolyLayer`, the same parameters through power sums;
* ``deepsets``— the DeepSets equivariant linear layer ``x_k Λ + (Σ_j x_j) Γ + b`` (reference).

A second series with 4 → 4 channels lets the dense layer run at n = 100 too.
Each case runs in a fresh process (``torch.set_num_threads(--threads)``, default 1:
small models run erratically here with 2 threads); time is the median of the
timed repetitions after a warm-up; memory is the growth of the process's peak
resident set (``ru_maxrss``) from just before the first forward + backward
(module and input already built) to the end: the working memory of a batch,
which ``tracemalloc`` would not see (torch allocates outside Python).

    python benchmarks/bench_layers.py [--quick] [--threads 1] [--out benchmarks/out/layers.json]
                                      [--plot benchmarks/out/layers.png] [--load layers.json]

``--plot`` draws time per batch against ``n`` (log-log, one panel per channel
setting; a refused dense case is marked at the top with the weights it needs);
``--load`` re-prints and re-plots a saved JSON without running anything.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from _report import emit_json

CHILD = r"""
import json, resource, statistics, sys, time
import torch
from torch import nn
case = json.loads(sys.argv[1])
torch.set_num_threads(case["threads"])
torch.manual_seed(0)
from polyequiv.errors import SizeLimitError
from polyequiv.nn import SetPolyLayer, TiedPolynomialLayer
from polyequiv.spec import LayerSpec

class DeepSetsLinear(nn.Module):
    def __init__(self, c_in, c_out):
        super().__init__()
        self.own, self.pooled = nn.Linear(c_in, c_out), nn.Linear(c_in, c_out, bias=False)
    def forward(self, x):
        return self.own(x) + self.pooled(x.sum(dim=1, keepdim=True))

n, c_in, c_out, batch = case["n"], case["c_in"], case["c_out"], case["batch"]
result = {**case}
try:
    if case["layer"] == "dense":
        module = TiedPolynomialLayer(LayerSpec(n=n, degree=2, bias=True), c_in, c_out)
    elif case["layer"] == "set":
        module = SetPolyLayer(2, c_in, c_out, bias=True)
    else:
        module = DeepSetsLinear(c_in, c_out)
except SizeLimitError as error:
    result.update(refused=str(error), estimate=error.estimate)
    print(json.dumps(result)); sys.exit(0)
x = torch.randn(batch, n, c_in)
def step():
    module.zero_grad(set_to_none=True)
    module(x).square().mean().backward()
baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
step()  # warm-up: its allocations count towards the peak
times = []
for _ in range(case["repeats"]):
    start = time.perf_counter(); step(); times.append(time.perf_counter() - start)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
result.update(seconds=statistics.median(times), peak_growth_mb=(peak - baseline) / 1024, peak_mb=peak / 1024,
              parameters=sum(p.numel() for p in module.parameters()))
print(json.dumps(result))
"""


def cases(quick: bool, threads: int) -> list[dict]:
    sizes, channels, repeats = ((10,), ((4, 4),), 2) if quick else ((10, 100, 1000), ((16, 16), (4, 4)), 5)
    out = []
    for c_in, c_out in channels:
        for n in sizes:
            for layer in ("dense", "set", "deepsets"):
                out.append(
                    dict(
                        layer=layer, n=n, c_in=c_in, c_out=c_out, batch=256, repeats=repeats, threads=threads
                    )
                )
    return out


def run_case(case: dict) -> dict:
    completed = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(case)], capture_output=True, text=True
    )
    if completed.returncode != 0:
        return {**case, "failed": completed.stderr.strip().splitlines()[-1][:300]}
    return json.loads(completed.stdout.strip().splitlines()[-1])


def table(rows: list[dict]) -> str:
    header = ("channels", "n", "layer", "parameters", "fwd+bwd ms", "peak growth MB", "note")
    lines = []
    for r in rows:
        note = ""
        if "refused" in r:
            note = f"refused: needs {r['estimate']:,} dense weights"
        elif "failed" in r:
            note = "failed: " + r["failed"]
        lines.append(
            (
                f"{r['c_in']}→{r['c_out']}",
                str(r["n"]),
                r["layer"],
                f"{r.get('parameters', 0):,}" if "seconds" in r else "-",
                f"{1000 * r['seconds']:.1f}" if "seconds" in r else "-",
                f"{r['peak_growth_mb']:.0f}" if "seconds" in r else "-",
                note,
            )
        )
    widths = [max(len(h), *(len(x[i]) for x in lines)) for i, h in enumerate(header)]
    fmt = "  ".join(
        "{:<" + str(w) + "}" if i in (2, 6) else "{:>" + str(w) + "}" for i, w in enumerate(widths)
    )
    speedups = []
    by_key = {(r["c_in"], r["n"], r["layer"]): r for r in rows}
    for (c, n, layer), r in by_key.items():
        dense = by_key.get((c, n, "dense"))
        if layer == "set" and "seconds" in r and dense and "seconds" in dense:
            speedups.append(
                f"{c}→{c} channels, n = {n}: set layer "
                f"{dense['seconds'] / r['seconds']:.1f}× faster than dense"
            )
    return "\n".join([fmt.format(*header), *(fmt.format(*x) for x in lines), "", *speedups])


def plot(rows: list[dict], path: Path) -> Path:
    """Time per forward + backward against n, log-log, a panel per channel setting."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    settings = sorted({(r["c_in"], r["c_out"]) for r in rows}, reverse=True)
    figure, axes = plt.subplots(1, len(settings), figsize=(5 * len(settings), 4), squeeze=False)
    labels = {"dense": "dense TiedPolynomialLayer", "set": "SetPolyLayer", "deepsets": "DeepSets linear"}
    for axis, (c_in, c_out) in zip(axes[0], settings, strict=True):
        chosen = [r for r in rows if (r["c_in"], r["c_out"]) == (c_in, c_out)]
        for layer, marker in (("dense", "s"), ("set", "o"), ("deepsets", "^")):
            done = sorted(
                (r["n"], 1000 * r["seconds"]) for r in chosen if r["layer"] == layer and "seconds" in r
            )
            if done:
                axis.plot(*zip(*done, strict=True), marker=marker, label=labels[layer])
            for r in chosen:
                if r["layer"] == layer and "refused" in r:
                    axis.annotate(
                        f"dense refused:\n{r['estimate']:.1e} weights",
                        (r["n"], 1),
                        xycoords=("data", "axes fraction"),
                        ha="center",
                        va="top",
                        fontsize=8,
                        color="C0",
                    )
        axis.set(xscale="log", yscale="log", xlabel="set size n", ylabel="forward + backward (ms)")
        axis.set_title(f"quadratic Sₙ layer, batch 256, {c_in} → {c_out} channels", fontsize=10)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8, loc="best")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one tiny case per layer (a smoke test)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    parser.add_argument("--plot", type=Path, help="also draw time against n into this image (PNG)")
    parser.add_argument("--load", type=Path, help="report a saved JSON instead of running the cases")
    args = parser.parse_args()
    if args.load:
        document = json.loads(args.load.read_text())
    else:
        rows = [run_case(case) for case in cases(args.quick, args.threads)]
        document = {"python": sys.version.split()[0], "threads": args.threads, "cases": rows}
    emit_json(document, args.out)
    print(table(document["cases"]))
    if args.plot:
        print(f"\nfigure: {plot(document['cases'], args.plot)}")


if __name__ == "__main__":
    main()
