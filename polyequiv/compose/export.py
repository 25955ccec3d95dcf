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
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TextIO

import numpy as np

from polyequiv.compose.matching import sparse_rows

if TYPE_CHECKING:
    from polyequiv.compose.expansion import NetworkExpansion

FORMAT = "polyequiv-expansion"
#: ``power(name, e)``: how a format writes ``name`` to the power ``e``.
Power = Callable[[str, int], str]
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
) -> Iterator[tuple[tuple[int, ...], list[tuple[tuple[tuple[int, int], ...], int]]]]:
    """``(α, [(sparse parameter monomial, coefficient), …])`` of output ``k``, in display order."""
    table = expansion.coefficient_table
    monomials = table.monomials
    present = np.flatnonzero(table.counts[k])
    order = sorted(present.tolist(), key=lambda m: (int(monomials[m].sum()), [-int(e) for e in monomials[m]]))
    for m in order:
        exponents, coeffs = expansion.segments.coefficient(k, m)
        terms = sorted(zip(sparse_rows(exponents), map(int, coeffs.tolist()), strict=True))
        yield tuple(int(e) for e in monomials[m]), terms


def _output_name(expansion: NetworkExpansion, k: int, latex: bool = False) -> str:
    if not expansion.spec.equivariant:
        return "y"
    return f"y_{{{k}}}" if latex else f"y_{k}"


def _parameter_names(expansion: NetworkExpansion, *, latex: bool = False, python: bool = False) -> list[str]:
    names = [expansion.parameters.param_name(j, latex=latex) for j in range(expansion.num_params)]
    return [name.replace(".", "_") for name in names] if python else names


def _monomial(names: list[str], key: tuple[tuple[int, int], ...], times: str, power: Power) -> str:
    return times.join(names[j] if e == 1 else power(names[j], e) for j, e in key)


def _polynomial(terms: list, names: list[str], times: str, power: Power) -> str:
    parts = []
    for key, value in terms:
        monomial = _monomial(names, key, times, power)
        size = abs(value)
        body = (f"{size}{times}{monomial}" if size != 1 else monomial) if monomial else str(size)
        parts.append(("- " if value < 0 else "+ ") + body)
    text = " ".join(parts) if parts else "0"
    return text[2:] if text.startswith("+ ") else "-" + text[2:] if text.startswith("- ") else text


def _x_monomial(alpha: tuple[int, ...], times: str, power: Power, latex: bool = False) -> str:
    names = [f"x_{{{i}}}" if latex else f"x_{i}" for i in range(len(alpha))]
    return _monomial(names, tuple((i, e) for i, e in enumerate(alpha) if e), times, power)


def _text(expansion: NetworkExpansion) -> Iterator[str]:
    names = _parameter_names(expansion)
    power: Power = lambda name, e: f"{name}^{e}"  # noqa: E731
    for k in range(expansion.num_outputs):
        head = f"{_output_name(expansion, k)} = "
        first = True
        for alpha, terms in grouped_terms(expansion, k):
            x = _x_monomial(alpha, "·", power)
            group = "{" + _polynomial(terms, names, "·", power) + "}" + (f"·{x}" if x else "")
            yield (head if first else " " * (len(head) - 2) + "+ ") + group + "\n"
            first = False
        if first:
            yield head + "0\n"


def _latex(expansion: NetworkExpansion) -> Iterator[str]:
    names = _parameter_names(expansion, latex=True)
    power: Power = lambda name, e: f"{{{name}}}^{{{e}}}"  # noqa: E731
    yield "\\begin{align*}\n"
    for k in range(expansion.num_outputs):
        lines = [
            "\\left("
            + _polynomial(terms, names, " ", power)
            + "\\right)"
            + (" " + _x_monomial(alpha, " ", power, latex=True) if any(alpha) else "")
            for alpha, terms in grouped_terms(expansion, k)
        ]
        body = " \\\\\n  &\\quad + ".join(lines) if lines else "0"
        end = " \\\\\n" if k + 1 < expansion.num_outputs else "\n"
        yield f"{_output_name(expansion, k, latex=True)} &= {body}{end}"
    yield "\\end{align*}\n"


def _json(expansion: NetworkExpansion) -> Iterator[str]:
    header = {
        "format": FORMAT,
        "spec": expansion.spec.to_dict(),
        "parameters": _parameter_names(expansion),
        "inputs": [f"x_{i}" for i in range(expansion.spec.n)],
        "terms": expansion.num_terms,
    }
    yield json.dumps(header)[:-1] + ', "outputs": ['
    for k in range(expansion.num_outputs):
        yield ("" if k == 0 else ", ") + f'{{"output": {k}, "coefficients": ['
        for number, (alpha, terms) in enumerate(grouped_terms(expansion, k)):
            item = {"monomial": list(alpha), "terms": [[[list(p) for p in key], c] for key, c in terms]}
            yield ("" if number == 0 else ", ") + json.dumps(item)
        yield "]}"
    yield "]}\n"


def _sympy(expansion: NetworkExpansion) -> Iterator[str]:
    names = _parameter_names(expansion, python=True)
    inputs = [f"x_{i}" for i in range(expansion.spec.n)]
    power: Power = lambda name, e: f"{name}**{e}"  # noqa: E731
    yield f"# {expansion.spec}: the expanded outputs y (polyequiv compose --expand-only)\n"
    yield "from sympy import symbols\n\n"
    for group in (names, inputs):
        yield f"{', '.join(group)}{',' if len(group) == 1 else ''} = symbols({' '.join(group)!r})\n"
    yield "y = [\n"
    for k in range(expansion.num_outputs):
        parts = [
            f"({_polynomial(terms, names, '*', power)})"
            + (f"*{_x_monomial(alpha, '*', power)}" if any(alpha) else "")
            for alpha, terms in grouped_terms(expansion, k)
        ]
        yield "    " + ("\n    + ".join(parts) if parts else "0") + ",\n"
    yield "]\n"
