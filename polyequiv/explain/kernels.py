"""Explaining an image model's tied layer: its circular convolution kernels, tap by tap.

The image models (:mod:`polyequiv.models.images`) put a nonlinear classifier (ELU, mean over
pixels, a linear map to class scores) after the derived translation-equivariant layer, so the
network is not a polynomial; the layer is.  Hidden channel ``c`` of a linear layer computes

    h_c(p) = b_c + Σ_u w_c(u) · x(p + u)        (offsets u = (dr, dc), indices mod H, W),

and :class:`KernelReport` lists ``b_c`` and the taps ``w_c(u)`` on the layer's support, to three
significant digits; a tap within ``tolerance · max|w_c|`` of a simple fraction (denominator
≤ 12: 0, ±1, ±1/2, …) is shown as that fraction.  Learned kernels of a classifier are rarely a
short law, so the fractions mark what is, and the rest is shown as it is.  A quadratic
(Volterra) layer's second-order weights are counted, not listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from polyequiv.rationals import simplest_rational

DEFAULT_TOLERANCE = 1e-3
#: Largest denominator a tap is shown as a fraction with.
SIMPLE_DENOMINATOR = 12


@dataclass
class KernelReport:
    """The kernels of a circular layer (see the module docstring); prints like an explanation."""

    run: str
    model: str
    task: str
    support: tuple[int, int]
    offsets: list[tuple[int, int]]
    biases: list[float]
    kernels: list[list[float]]
    quadratic: int
    tolerance: float

    def text(self) -> str:
        lines = [f"{self.model}: the tied layer h_c(p) = b_c + Σ_u w_c(u) x(p + u), one kernel per hidden "
                 f"channel ({self.support[0]}×{self.support[1]} taps, offsets u = (dr, dc) mod the grid); "
                 "the classifier after it (ELU, mean, linear) is not a polynomial", ""]
        for channel, (bias, taps) in enumerate(zip(self.biases, self.kernels, strict=True)):
            lines.append(f"channel {channel}: b = {self.show(bias, max(abs(bias), 1e-12))}")
            size = max(abs(t) for t in taps) or 1.0
            grid = np.array([self.show(t, size) for t in taps], dtype=object).reshape(self.layout)
            width = max(len(cell) for cell in grid.ravel())
            lines += ["  " + " ".join(cell.rjust(width) for cell in row) for row in grid]
        if self.quadratic:
            lines.append(f"and {self.quadratic} second-order (Volterra) weights per channel, not listed")
        lines.append(f"taps to 3 digits; a fraction where one with denominator ≤ {SIMPLE_DENOMINATOR} lies "
                     f"within {self.tolerance:g} × the channel's largest tap")
        return "\n".join(lines)

    @property
    def layout(self) -> tuple[int, int]:
        """The grid the taps are printed in: the support, a 1D kernel as one row."""
        return self.support if self.support[1] > 1 else (1, self.support[0])

    def show(self, value: float, size: float) -> str:
        simple = simplest_rational(value, self.tolerance * size)
        return str(simple) if simple.denominator <= SIMPLE_DENOMINATOR else f"{value:.3g}"

    def latex(self) -> str:
        rows = []
        for channel, taps in enumerate(self.kernels):
            size = max(abs(t) for t in taps) or 1.0
            grid = np.array([_latex(self.show(t, size)) for t in taps], dtype=object).reshape(self.support)
            body = " \\\\ ".join(" & ".join(row) for row in grid)
            rows.append(f"w_{{{channel}}} = \\begin{{pmatrix}} {body} \\end{{pmatrix}}")
        return ",\\quad ".join(rows)

    def sympy(self) -> Any:
        import sympy

        return [sympy.Matrix(np.array([sympy.nsimplify(self.show(t, max(abs(v) for v in taps) or 1.0))
                                       for t in taps], dtype=object).reshape(self.support))
                for taps in self.kernels]

    def to_dict(self) -> dict[str, Any]:
        return {"run": self.run, "model": self.model, "task": self.task, "layer": "circular convolution",
                "support": list(self.support), "offsets": [list(u) for u in self.offsets],
                "channels": [{"bias": b, "taps": k}
                             for b, k in zip(self.biases, self.kernels, strict=True)],
                "quadratic_weights_per_channel": self.quadratic, "tolerance": self.tolerance}


def kernel_report(run: str, model_name: str, task: str, layer: Any, tolerance: float | None) -> KernelReport:
    """The report of a :class:`~polyequiv.nn.CircularPolyLayer` with one input channel."""
    tolerance = DEFAULT_TOLERANCE if tolerance is None else tolerance
    linear = layer.linear.detach().double().numpy()[:, 0, :] if layer.linear is not None else None
    channels = layer.out_channels
    kernels = [[float(t) for t in linear[c]] if linear is not None else [0.0] * len(layer.offsets)
               for c in range(channels)]
    biases = [float(b) for b in layer.constant.detach()] if layer.constant is not None else [0.0] * channels
    quadratic = layer.quadratic.shape[1] if layer.quadratic is not None else 0
    offsets = [tuple(int(v) for v in row) for row in layer.offsets.tolist()]
    return KernelReport(run, model_name, task, tuple(layer.support), offsets, biases, kernels, quadratic,
                        tolerance)


def _latex(text: str) -> str:
    if "/" not in text:
        return text
    numerator, denominator = text.lstrip("-").split("/")
    return ("-" if text.startswith("-") else "") + f"\\frac{{{numerator}}}{{{denominator}}}"
