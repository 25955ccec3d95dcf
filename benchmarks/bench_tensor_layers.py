"""Benchmark TensorPolyLayer: against the dense tied layer, a hand-written IGN layer, and at n = 1,000.

Three sections, every time the median of ``--repeats`` forward + backward passes
(loss ``mean(y²)``) after one warm-up, the layers of a comparison timed in
interleaved rounds so that the load of a shared machine hits them alike,
``torch.set_num_threads(--threads)`` (default 1), float32:

* ``dense``: :class:`~polyequiv.nn.TensorPolyLayer` against
  :class:`~polyequiv.nn.TiedPolynomialLayer` on the same spec (linear ``E -> V`` with
  4 → 4 channels, ``V2 -> V`` with 4 → 4, ``V2 -> V2`` with 1 → 1, batch 32, n = 10, 30, 100); the
  dense layer is refused, with the weights it would materialise, when it exceeds
  ``MAX_DENSE_ENTRIES``.  The dense layer's construction (derivation and index) is
  reported too but not timed against.
* ``ign``: linear ``V2 -> V2`` against :class:`IGNLinear`, the 15-operation basis of
  Maron et al. 2019 written by hand below (batch 32, 16 → 16 and 4 → 4 channels,
  n = 20, 50, 100).  First both are checked to span the same function space: the
  outputs of each with one unit parameter at a time, on random float64 inputs
  (n = 6, 2 → 2 channels), are fitted by least squares from the other's, and the
  relative residuals go into the JSON (``fit``).
* ``large``: quadratic and cubic ``E -> V`` at n = 1,000 (batch 1, 1 → 1 and 2 → 2
  channels), forward alone and forward + backward, on a random symmetric graph.

    python benchmarks/bench_tensor_layers.py [--quick] [--threads 1] [--repeats 7]
                                             [--out benchmarks/out/tensor_layers.json]

Prints one JSON document, a blank line, then aligned tables.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from _report import emit_json
from torch import Tensor, nn

from polyequiv.errors import SizeLimitError
from polyequiv.nn import TensorPolyLayer, TiedPolynomialLayer
from polyequiv.spec import LayerSpec


class IGNLinear(nn.Module):
    """The linear Sₙ-equivariant ``V2 -> V2`` layer of Maron et al. 2019, by hand: 15 operations.

    With ``X`` of shape ``(batch, n, n, c_in)``, ``d_i = X_ii``, row sums ``r_i = Σ_k X_ik``,
    column sums ``s_i = Σ_k X_ki``, total ``t = Σ_kl X_kl`` and trace ``τ = Σ_k X_kk``:

        Y_ij = X_ij W₁ + X_ji W₂ + (d_i W₃ + r_i W₄ + s_i W₅) + (d_j W₆ + r_j W₇ + s_j W₈)
               + t W₉ + τ W₁₀ + δ_ij (d_i W₁₁ + r_i W₁₂ + s_i W₁₃ + t W₁₄ + τ W₁₅),

    each ``W`` a ``c_in × c_out`` matrix: identity, transpose, the diagonal, row and
    column sums broadcast along rows or columns, the total and the trace broadcast,
    and the five node quantities put on the diagonal — Bell(4) = 15 operations.
    Channel mixing is applied to the reduced quantities before broadcasting.
    """

    def __init__(self, c_in: int, c_out: int, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(15, c_in, c_out, dtype=dtype) / math.sqrt(15 * c_in))

    def forward(self, x: Tensor) -> Tensor:
        w = self.weight
        diagonal = torch.diagonal(x, dim1=1, dim2=2).transpose(1, 2)  # (batch, n, c)
        rows, columns = x.sum(2), x.sum(1)
        total, trace = rows.sum(1), diagonal.sum(1)
        y = x @ w[0] + x.transpose(1, 2) @ w[1]
        along_rows = diagonal @ w[2] + rows @ w[3] + columns @ w[4]
        along_columns = diagonal @ w[5] + rows @ w[6] + columns @ w[7]
        everywhere = total @ w[8] + trace @ w[9]
        on_diagonal = diagonal @ w[10] + rows @ w[11] + columns @ w[12]
        on_diagonal = on_diagonal + (total @ w[13] + trace @ w[14])[:, None]
        y = y + along_rows[:, :, None] + along_columns[:, None, :] + everywhere[:, None, None]
        return y + torch.diag_embed(on_diagonal.transpose(1, 2)).permute(0, 2, 3, 1)


# ---------------------------------------------------------------------------- helpers
def timed(steps: dict[str, Callable[[], None]], repeats: int) -> dict[str, float]:
    """Median seconds of each step (and ``NAME_min``, the fastest pass: noise on a loaded machine
    only adds time), one warm-up each, then ``repeats`` interleaved rounds."""
    for step in steps.values():
        step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(values) for name, values in times.items()}
    return medians | {f"{name}_min": min(values) for name, values in times.items()}


def training_step(module: nn.Module, *inputs: Tensor) -> Callable[[], None]:
    def step() -> None:
        module.zero_grad(set_to_none=True)
        module(*inputs).square().mean().backward()

    return step


def random_input(term: str, batch: int, n: int, channels: int, dtype=torch.float32) -> Tensor:
    x = torch.randn(batch, n, n, channels, dtype=dtype)
    if term == "E":
        x = (x + x.transpose(1, 2)) * (1 - torch.eye(n, dtype=dtype))[None, :, :, None]
    return x


def coordinates(term: str, x: Tensor) -> Tensor:
    """The dense layer's rows: ``E`` as pairs ``i < j`` in lexicographic order, ``V2`` row-major."""
    if term == "E":
        i, j = torch.triu_indices(x.shape[1], x.shape[1], offset=1)
        return x[:, i, j, :]
    return x.reshape(x.shape[0], -1, x.shape[-1])


def responses(module: nn.Module, x: Tensor) -> Tensor:
    """Columns: the module's outputs on ``x`` with one unit parameter each (outputs are linear in
    the parameters)."""
    (weight,) = list(module.parameters())
    columns = []
    with torch.no_grad():
        for number in range(weight.numel()):
            weight.zero_()
            weight.view(-1)[number] = 1.0
            columns.append(module(x).reshape(-1))
    return torch.stack(columns, dim=1)


def relative_residual(a: Tensor, b: Tensor) -> float:
    """How far the columns of ``a`` lie from the span of ``b`` (least squares, relative)."""
    solution = torch.linalg.lstsq(b, a).solution
    return float((b @ solution - a).norm() / a.norm())


# ---------------------------------------------------------------------------- sections
def fit_check(n: int = 6, channels: int = 2) -> dict:
    """Both layers span the same maps: each one's unit responses lie in the other's span."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(4, n, n, channels, dtype=torch.float64, generator=generator)
    ours = TensorPolyLayer("V2", "V2", 1, channels, channels, dtype=torch.float64)
    ign = IGNLinear(channels, channels, dtype=torch.float64)
    a, b = responses(ours, x), responses(ign, x)
    return {
        "n": n,
        "channels": channels,
        "parameters": {"tensor": ours.num_parameters, "ign": ign.weight.numel()},
        "rank": {"tensor": int(torch.linalg.matrix_rank(a)), "ign": int(torch.linalg.matrix_rank(b))},
        "residual_tensor_in_ign": relative_residual(a, b),
        "residual_ign_in_tensor": relative_residual(b, a),
    }


def dense_section(sizes: tuple[int, ...], repeats: int, batch: int = 32) -> list[dict]:
    rows = []
    for term, out, channels in (("E", "V", 4), ("V2", "V", 4), ("V2", "V2", 1)):
        for n in sizes:
            spec = LayerSpec(n=n, degree=1, input=term, output=out)
            row: dict = {"section": "dense", "layer": str(spec), "n": n, "channels": channels, "batch": batch}
            x = random_input(term, batch, n, channels)
            ours = TensorPolyLayer(term, out, 1, channels, channels)
            steps = {"tensor": training_step(ours, x)}
            start = time.perf_counter()
            try:
                dense = TiedPolynomialLayer(spec, channels, channels)
            except SizeLimitError as error:
                row.update(dense_refused=str(error), dense_weights=error.estimate)
            else:
                row.update(dense_build_s=time.perf_counter() - start, dense_weights=dense.dense_shape.numel())
                steps["dense"] = training_step(dense, coordinates(term, x))
            row["parameters"] = ours.num_parameters
            row.update({f"{name}_s": seconds for name, seconds in timed(steps, repeats).items()})
            if "dense_s" in row:
                row["speedup"] = row["dense_s"] / row["tensor_s"]
                row["speedup_min"] = row["dense_min_s"] / row["tensor_min_s"]
            rows.append(row)
    return rows


def ign_section(
    sizes: tuple[int, ...], channel_list: tuple[int, ...], repeats: int, batch: int = 32
) -> list[dict]:
    rows = []
    for channels in channel_list:
        for n in sizes:
            x = random_input("V2", batch, n, channels)
            ours, ign = TensorPolyLayer("V2", "V2", 1, channels, channels), IGNLinear(channels, channels)
            seconds = timed({"tensor": training_step(ours, x), "ign": training_step(ign, x)}, repeats)
            rows.append({
                "section": "ign", "layer": "linear V2 -> V2", "n": n, "channels": channels, "batch": batch,
                "parameters": ours.num_parameters, "tensor_s": seconds["tensor"], "ign_s": seconds["ign"],
                "ratio": seconds["tensor"] / seconds["ign"],
                "ratio_min": seconds["tensor_min"] / seconds["ign_min"],
            })
    return rows


def large_section(n: int, repeats: int) -> list[dict]:
    rows = []
    x1 = (torch.rand(1, n, n, 1) < 0.05).float().triu(1)
    graph = (x1 + x1.transpose(1, 2)).squeeze(-1)
    for degree in (2, 3):
        for channels in (1, 2):
            x = graph[..., None].expand(1, n, n, channels) * torch.rand(channels)
            layer = TensorPolyLayer("E", "V", degree, channels, channels)

            def forward(layer=layer, x=x) -> None:
                with torch.no_grad():
                    layer(x)

            seconds = timed({"forward": forward, "step": training_step(layer, x)}, repeats)
            rows.append({
                "section": "large", "layer": f"{['', '', 'quadratic', 'cubic'][degree]} E -> V", "n": n,
                "channels": channels, "batch": 1, "patterns": len(layer.patterns),
                "parameters": layer.num_parameters,
                "forward_s": seconds["forward"], "step_s": seconds["step"],
            })
    return rows


# ---------------------------------------------------------------------------- report
def aligned(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    lines = [header, ["-" * w for w in widths], *rows]

    def cells(line: list[str]) -> str:
        padded = [c.rjust(w) for c, w in zip(line, widths, strict=True)]
        return "  ".join([line[0].ljust(widths[0]), *padded[1:]])

    return "\n".join(cells(line) for line in lines)


def ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{1000 * seconds:.1f}"


def report(document: dict) -> str:
    fit = document["fit"]
    parts = [
        f"same function space (n = {fit['n']}, {fit['channels']} → {fit['channels']} channels, float64): "
        f"ranks {fit['rank']['tensor']} / {fit['rank']['ign']}, residuals "
        f"{fit['residual_tensor_in_ign']:.1e} (ours in IGN's span), "
        f"{fit['residual_ign_in_tensor']:.1e} (IGN in ours)",
        "",
    ]
    dense = [r for r in document["cases"] if r["section"] == "dense"]
    parts.append(aligned(
        ["dense comparison", "n", "c", "params", "tensor ms", "dense ms", "speed-up", "(fastest)",
         "dense build s", "dense weights / note"],
        [[r["layer"], str(r["n"]), str(r["channels"]), str(r["parameters"]), ms(r["tensor_s"]),
          ms(r.get("dense_s")), f"{r['speedup']:.1f}×" if "speedup" in r else "-",
          f"{r['speedup_min']:.1f}×" if "speedup" in r else "-",
          f"{r['dense_build_s']:.2f}" if "dense_build_s" in r else "-",
          f"{r['dense_weights']:,}" + (" (refused: over MAX_DENSE_ENTRIES)" if "dense_refused" in r else "")]
         for r in dense],
    ))
    ign = [r for r in document["cases"] if r["section"] == "ign"]
    parts += ["", aligned(
        ["IGN comparison", "n", "c", "params", "tensor ms", "IGN ms", "tensor / IGN", "(fastest)"],
        [[r["layer"], str(r["n"]), str(r["channels"]), str(r["parameters"]), ms(r["tensor_s"]),
          ms(r["ign_s"]), f"{r['ratio']:.2f}", f"{r['ratio_min']:.2f}"] for r in ign],
    )]
    large = [r for r in document["cases"] if r["section"] == "large"]
    parts += ["", aligned(
        ["large graphs", "n", "c", "patterns", "params", "forward s", "fwd+bwd s"],
        [[r["layer"], str(r["n"]), str(r["channels"]), str(r["patterns"]), str(r["parameters"]),
          f"{r['forward_s']:.2f}", f"{r['step_s']:.2f}"] for r in large],
    )]
    parts += ["", f"batch 32 (large: 1), {document['threads']} thread(s), median of {document['repeats']} "
              "interleaved forward + backward passes; (fastest): the same ratio of the fastest passes"]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--repeats", type=int, help="timed passes per layer (default 7; quick 2)")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    repeats = args.repeats or (2 if args.quick else 7)
    if args.quick:
        cases = dense_section((6,), repeats) + ign_section((8,), (2,), repeats) + large_section(40, repeats)
    else:
        cases = (dense_section((10, 30, 100), repeats) + ign_section((20, 50, 100), (16, 4), repeats)
                 + large_section(1000, max(1, min(repeats, 3))))
    document = {
        "python": sys.version.split()[0], "torch": torch.__version__, "threads": args.threads,
        "repeats": repeats, "quick": args.quick, "fit": fit_check(), "cases": cases,
    }
    emit_json(document, args.out)
    print(report(document))


if __name__ == "__main__":
    main()
