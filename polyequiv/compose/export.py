"""The expanded network polynomial as text, LaTeX, JSON or a sympy script, grouped by monomial.

Each output is written as ``y_k = Σ_α c_{k,α}(θ) x^α``, one group ``{c_{k,α}}`` per monomial
``x^α`` as the seed's program prints it (its ``Z₂ = { … } + { … } X₀₁ + …``), but exact and
collected: every parameter monomial appears once with its integer coefficient.  Monomials go by
total degree, then ``x_0`` before ``x_1`` (``x_0² , x_0 x_1, x_1²``); the terms of a coefficient go
in the order of :class:`polyequiv.compose.expansion.PolynomialEquation` (sorted sparse monomials).
Parameters are named as in the equations (``w2_1_0b``: layer 2, output 1, inputs 0 and the bias).

Formats (:data:`FORMATS`):

* ``text``: ``y_0 = {w1_0_0·w2_0 + …}·x_0 + …``, one monomial group per line;
* ``latex``: an ``align*`` environment;
* ``json``: ``{"format": "polyequiv-expansion", "spec", "parameters", "inputs", "outputs":
  [{"output", "coefficients": [{"monomial": α, "terms": [[[[j, e], …], c], …]}]}]}`` with ``j``
  indexing ``parameters`` (streamed, so large expansions need no second copy in memory);
* ``sympy``: a Python script that defines the symbols and the list ``y`` of sympy expressions
  (``exec`` it, or paste it into a notebook).

The writers yield chunks of text; :func:`write_expansion` sends them to a stream.

    >>> from polyequiv.compose import NetworkSpec, expand_network
    >>> expansion = expand_network(NetworkSpec.parse("S2 [linear free -> invariant]"))
    >>> print("".join(expansion_chunks(expansion, "text")), end="")
    y = {w1_0}·x_0
      + {w1_1}·x_1
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, TextIO

import numpy as np

from polyequiv.compose.matching import canonical_order
from polyequiv.compose.rendering import Power, Renderer, latex_power, text_power

if TYPE_CHECKING:
    from polyequiv.compose.expansion import NetworkExpansion

FORMAT = "polyequiv-expansion"
FORMATS = ("text", "latex", "json", "sympy")


def expansion_chunks(expansion: NetworkExpansion, output_format: str) -> Iterator[str]:
    """The expansion in ``output_format`` (module docstring), as chunks of text."""
    writers = {"text": _text, "latex": _latex, "json": _json, "sympy": _sympy}
    if output_format not in writers:
        raise ValueError(f"unknown expansion format {output_format!r}; choose one of {', '.join(FORMATS)}")
    return writers[output_format](expansion)


def write_expansion(expansion: NetworkExpansion, output_format: str, stream: TextIO) -> None:
    for chunk in expansion_chunks(expansion, output_format):
        stream.write(chunk)


def grouped_terms(
    expansion: NetworkExpansion, k: int
) -> Iterator[tuple[tuple[int, ...], np.ndarray, np.ndarray]]:
    """``(α, exponents, coefficients)`` of each ``c_{k,α}`` of output ``k`` in display order: the
    ``(r, P)`` parameter exponents of its terms in canonical order and their ``r`` coefficients."""
    table = expansion.coefficient_table
    monomials = table.monomials
    present = np.flatnonzero(table.counts[k])
    order = sorted(present.tolist(), key=lambda m: (int(monomials[m].sum()), [-int(e) for e in monomials[m]]))
    for m in order:
        exponents, coeffs = expansion.segments.coefficient(k, m)
        rows = canonical_order(exponents)
        yield tuple(int(e) for e in monomials[m]), exponents[rows], coeffs[rows]


def _output_name(expansion: NetworkExpansion, k: int, latex: bool = False) -> str:
    if not expansion.spec.equivariant:
        return "y"
    return f"y_{{{k}}}" if latex else f"y_{k}"


def _x_monomial(alpha: tuple[int, ...], times: str, power: Power, latex: bool = False) -> str:
    names = [f"x_{{{i}}}" if latex else f"x_{i}" for i in range(len(alpha))]
    return times.join(names[i] if e == 1 else power(names[i], e) for i, e in enumerate(alpha) if e)


def _text(expansion: NetworkExpansion) -> Iterator[str]:
    power: Power = text_power
    render = expansion.renderer()
    for k in range(expansion.num_outputs):
        head = f"{_output_name(expansion, k)} = "
        first = True
        for alpha, exponents, coeffs in grouped_terms(expansion, k):
            x = _x_monomial(alpha, "·", power)
            group = "{" + render.polynomial(exponents, coeffs) + "}" + (f"·{x}" if x else "")
            yield (head if first else " " * (len(head) - 2) + "+ ") + group + "\n"
            first = False
        if first:
            yield head + "0\n"


def _latex(expansion: NetworkExpansion) -> Iterator[str]:
    power: Power = latex_power
    render = expansion.renderer(latex=True)
    yield "\\begin{align*}\n"
    for k in range(expansion.num_outputs):
        lines = [
            "\\left("
            + render.polynomial(exponents, coeffs)
            + "\\right)"
            + (" " + _x_monomial(alpha, " ", power, latex=True) if any(alpha) else "")
            for alpha, exponents, coeffs in grouped_terms(expansion, k)
        ]
        body = " \\\\\n  &\\quad + ".join(lines) if lines else "0"
        end = " \\\\\n" if k + 1 < expansion.num_outputs else "\n"
        yield f"{_output_name(expansion, k, latex=True)} &= {body}{end}"
    yield "\\end{align*}\n"


def _json(expansion: NetworkExpansion) -> Iterator[str]:
    header = {
        "format": FORMAT,
        "spec": expansion.spec.to_dict(),
        "parameters": expansion.parameter_names(),
        "inputs": [f"x_{i}" for i in range(expansion.spec.n)],
        "terms": expansion.num_terms,
    }
    yield json.dumps(header)[:-1] + ', "outputs": ['
    for k in range(expansion.num_outputs):
        yield ("" if k == 0 else ", ") + f'{{"output": {k}, "coefficients": ['
        for number, (alpha, exponents, coeffs) in enumerate(grouped_terms(expansion, k)):
            yield ("" if number == 0 else ", ") + f'{{"monomial": {json.dumps(list(alpha))}, "terms": ['
            yield _json_terms(exponents, coeffs) + "]}"
        yield "]}"
    yield "]}\n"


def _json_terms(exponents: np.ndarray, coeffs: np.ndarray) -> str:
    """``[[[j, e], …], c], …`` of the terms, written directly (``json.dumps`` per term is slow)."""
    rows, columns = np.nonzero(exponents)
    values = exponents[rows, columns].tolist()
    pairs = np.array([f"[{j}, {e}]" for j, e in zip(columns.tolist(), values, strict=True)], dtype=object)
    out = []
    starts = np.searchsorted(rows, np.arange(exponents.shape[0] + 1)).tolist()
    for i, value in enumerate(coeffs.tolist()):
        out.append(f"[[{', '.join(pairs[starts[i] : starts[i + 1]].tolist())}], {int(value)}]")
    return ", ".join(out)


def _sympy(expansion: NetworkExpansion) -> Iterator[str]:
    names = expansion.parameter_names(python=True)
    inputs = [f"x_{i}" for i in range(expansion.spec.n)]
    power: Power = lambda name, e: f"{name}**{e}"  # noqa: E731
    render = Renderer(names, "*", power, expansion.max_parameter_exponent)
    yield f"# {expansion.spec}: the expanded outputs y (polyequiv compose --expand-only)\n"
    yield "from sympy import symbols\n\n"
    for group in (names, inputs):
        yield f"{', '.join(group)}{',' if len(group) == 1 else ''} = symbols({' '.join(group)!r})\n"
    yield "y = [\n"
    for k in range(expansion.num_outputs):
        parts = [
            f"({render.polynomial(exponents, coeffs)})"
            + (f"*{_x_monomial(alpha, '*', power)}" if any(alpha) else "")
            for alpha, exponents, coeffs in grouped_terms(expansion, k)
        ]
        yield "    " + ("\n    + ".join(parts) if parts else "0") + ",\n"
    yield "]\n"
