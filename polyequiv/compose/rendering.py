"""Polynomials in the network parameters as text, fast: each term's monomial is joined from a table
of ``name^e`` tokens with numpy, so an equation of a million terms renders without a Python loop
per factor.  Used by the equations (:mod:`polyequiv.compose.expansion`) and the export
(:mod:`polyequiv.compose.export`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: ``power(name, e)``: how a format writes ``name`` to the power ``e``.
Power = Callable[[str, int], str]


def text_power(name: str, e: int) -> str:
    """``w1_0^2``."""
    return f"{name}^{e}"


def latex_power(name: str, e: int) -> str:
    """``{w^{(1)}_{0}}^{2}``."""
    return f"{{{name}}}^{{{e}}}"


class Renderer:
    """Writes polynomials in one format: ``names`` of the variables, ``times`` between factors."""

    def __init__(self, names: list[str], times: str, power: Power, max_exponent: int) -> None:
        self.times = times
        self.tokens = np.empty((len(names), max_exponent + 1), dtype=object)
        for j, name in enumerate(names):
            for e in range(1, max_exponent + 1):
                self.tokens[j, e] = (name if e == 1 else power(name, e)) + times

    def monomials(self, exponents: np.ndarray) -> np.ndarray:
        """Each row of ``(r, V)`` exponents as a string (object array; ``""`` for the constant)."""
        rows, columns = np.nonzero(exponents)
        out = np.full(exponents.shape[0], "", dtype=object)
        if len(rows):
            tokens = self.tokens[columns, exponents[rows, columns]]
            starts = np.flatnonzero(np.concatenate([[True], rows[1:] != rows[:-1]]))
            cut = len(self.times)
            out[rows[starts]] = [text[:-cut] if cut else text for text in np.add.reduceat(tokens, starts)]
        return out

    def bodies(self, exponents: np.ndarray, sizes: np.ndarray) -> np.ndarray:
        """``size·monomial`` of each term (``monomial`` for size 1, ``size`` for the constant)."""
        monomials = self.monomials(exponents)
        sized = np.array([f"{v}{self.times}" for v in sizes.tolist()], dtype=object)
        bodies = np.where(sizes == 1, monomials, sized + monomials)
        return np.where(monomials == "", sizes.astype(str).astype(object), bodies)

    def side(self, exponents: np.ndarray, sizes: np.ndarray) -> str:
        """``size·monomial + …`` (one side of an equation; ``0`` when there is no term)."""
        return " + ".join(self.bodies(exponents, sizes).tolist()) if len(sizes) else "0"

    def polynomial(self, exponents: np.ndarray, coeffs: np.ndarray) -> str:
        """``c·monomial ± …`` (terms in the given order; ``0`` when there is none)."""
        if not len(coeffs):
            return "0"
        values = np.asarray(coeffs).astype(object)
        bodies = self.bodies(exponents, np.abs(values))
        signs = np.where(values < 0, " - ", " + ").astype(object)
        text = "".join((signs + bodies).tolist())
        return text[3:] if text.startswith(" + ") else "-" + text[3:]
