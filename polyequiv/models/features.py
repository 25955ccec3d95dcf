"""Named features a learned polynomial is written in: power-sum monomials for sets, patterns for graphs.

A :class:`Dictionary` is a list of named features ``φ_j`` and a way to evaluate them on a batch;
:mod:`polyequiv.explain.simplify` writes a model's predictions as ``Σ_j c_j φ_j`` and shortens it.

Sets (:func:`set_dictionary`).  An Sₙ-invariant polynomial of degree ``≤ D`` in the elements is a
polynomial in the power sums ``p_s = Σ_j x_j^s`` (``s ≤ D``); an equivariant one is, at element
``k``, a polynomial in ``x_k`` and the power sums.  Layers that pool with means bring the set size
in as ``1/n``, ``1/n²``, …, and a bias summed over the set as ``n``.  So the dictionary holds

    x_k^a · p_{s₁} ⋯ p_{s_r} · n^m,    a + s₁ + … + s_r ≤ D,  −D ≤ m ≤ 1

(``a = 0`` for invariant models).  It spans every tied set network of total degree ``D`` without
activations, whichever pooling it uses.

Graphs (:func:`pattern_dictionary`).  The features of an ``E → V`` layer are its n-free patterns
(:mod:`polyequiv.patterns`), each written out as the sum it computes, e.g. the pattern
``{o₁,i₁,i₂}{i₁′,i₃}{i₂′,i₃′}`` is ``Σ_{j,l} A_kj A_kl A_jl = (A³)_kk``: twice the number of
triangles through ``k``.  The layer (:class:`~polyequiv.nn.TensorPolyLayer`) uses the *diagram*
basis: positions in one block carry one index, and the indices of different blocks run over all
nodes independently (they may coincide).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor

_LETTERS = "jlmpqrstuvw"
_SUPERSCRIPTS = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


@dataclass(frozen=True)
class Feature:
    """One named feature: plain text, LaTeX, a sympy expression, and a size for picking the simplest."""

    text: str
    latex: str
    sympy: object
    complexity: int
    key: str = ""


@dataclass
class Dictionary:
    """Named features and their evaluation ``(values, mask) → (rows, features)`` in float64.

    ``rows`` are the predictions a model makes on the batch: one per set (invariant) or one per
    real element (equivariant); ``output`` names them (``y`` or ``y_k``).
    """

    features: list[Feature]
    evaluate: Callable[[Tensor, Tensor], Tensor]
    output: str
    definitions: list[str] = field(default_factory=list)
    patterns: list[object] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.features)


# ---------------------------------------------------------------------- sets
def set_dictionary(degree: int, equivariant: bool) -> Dictionary:
    """Power-sum monomials of total degree ``≤ degree`` times ``n^m`` (see the module docstring)."""
    import sympy

    n, x_k = sympy.Symbol("n", positive=True), sympy.Symbol("x_k")
    p = {s: sympy.Symbol(f"p_{s}") for s in range(1, degree + 1)}
    exponents = []  # (a, (s₁ ≤ … ≤ s_r), m)
    for a in range(degree + 1 if equivariant else 1):
        for total in range(degree - a + 1):
            for parts in _partitions(total):
                for m in range(-degree, 2):
                    exponents.append((a, parts, m))
    features = [_set_feature(a, parts, m, x_k, p, n) for a, parts, m in exponents]

    def evaluate(values: Tensor, mask: Tensor) -> Tensor:
        x = values.to(torch.float64) * mask
        size = mask.sum(dim=1).to(torch.float64).clamp(min=1)
        sums = {s: (x**s).sum(dim=1) for s in range(1, degree + 1)}
        columns = []
        for a, parts, m in exponents:
            invariant = size**m
            for s in parts:
                invariant = invariant * sums[s]
            columns.append(x**a * invariant[:, None] if equivariant else invariant)
        stacked = torch.stack(columns, dim=-1)
        return stacked[mask.bool()] if equivariant else stacked

    definitions = ["p_s = Σ_j x_j^s over the set's real elements; n = the set's size"]
    return Dictionary(features, evaluate, "y_k" if equivariant else "y", definitions)


def _partitions(total: int, largest: int | None = None) -> list[tuple[int, ...]]:
    """Integer partitions of ``total`` as non-increasing tuples."""
    largest = total if largest is None else largest
    if total == 0:
        return [()]
    return [(first, *rest) for first in range(min(total, largest), 0, -1)
            for rest in _partitions(total - first, first)]


def _set_feature(a: int, parts: tuple[int, ...], m: int, x_k, p, n) -> Feature:
    import sympy

    expression = x_k**a * n**m
    for s in parts:
        expression = expression * p[s]
    text_parts = ([_power("x_k", a)] if a else []) + [_power(f"p{s}".translate(_SUBSCRIPTS), c)
                                                       for s, c in _counts(parts)]
    latex_parts = ([f"x_k^{{{a}}}" if a > 1 else "x_k"] if a else []) + [
        f"p_{{{s}}}^{{{c}}}" if c > 1 else f"p_{{{s}}}" for s, c in _counts(parts)]
    if m:
        text_parts.append(_power("n", m))
        latex_parts.append(f"n^{{{m}}}" if m != 1 else "n")
    return Feature(" ".join(text_parts) or "1", " ".join(latex_parts) or "1", sympy.sympify(expression),
                   a + sum(parts) + abs(m), key=f"x{a}p{'.'.join(map(str, parts))}n{m}")


def _counts(parts: tuple[int, ...]) -> list[tuple[int, int]]:
    return [(s, len(list(group))) for s, group in itertools.groupby(parts)]


def _power(name: str, exponent: int) -> str:
    return name if exponent == 1 else name + str(exponent).translate(_SUPERSCRIPTS)


# ---------------------------------------------------------------------- graphs
def pattern_dictionary(layer: object) -> Dictionary:
    """The patterns of a one-channel :class:`~polyequiv.nn.TensorPolyLayer` ``E → V``, written out."""
    import sympy

    patterns = list(layer.patterns)
    features = []
    for pattern in patterns:
        text, latex = pattern_sum(pattern, layer.in_rep.terms)
        features.append(Feature(text, latex, sympy.Symbol(text), pattern.num_blocks + len(pattern.kernel),
                                key=str(pattern)))

    def evaluate(values: Tensor, mask: Tensor) -> Tensor:
        stacked = layer.pattern_values(values.to(torch.float64).unsqueeze(-1), mask=mask)
        return stacked.permute(1, 2, 0)[mask.bool()]

    definitions = ["A = the adjacency matrix; k the output node; each summed index runs over all nodes "
                   "(summed indices may equal each other and k: the diagram basis)"]
    return Dictionary(features, evaluate, "y_k", definitions, patterns)


def pattern_sum(pattern: object, in_terms: tuple[str, ...]) -> tuple[str, str]:
    """``("Σ_{j,l} A_kj A_kl A_jl", LaTeX)``: the sum a pattern computes, one letter per block.

    The block holding the output position ``o₁`` is ``k``; the others are ``j, l, m, …``, each summed
    over all nodes (the diagram basis: different letters may take equal values).  A factor of input
    term ``E`` is ``A_ab``, of ``V`` ``x_a``, of ``Vk`` ``X_{a…}``, of ``1`` the global input ``g``;
    bias factors are 1.
    """
    letters: dict[int, str] = {}
    out_arity = 1 if any(name.startswith("o") for block in pattern.blocks for name in block) else 0
    for position, block in enumerate(pattern.kernel):
        if block not in letters:
            letters[block] = "k" if position < out_arity else _LETTERS[len(letters) - out_arity]
    factors: list[tuple[str, str]] = []
    position = out_arity
    for term, count in zip(in_terms, pattern.composition, strict=False):
        arity = 2 if term == "E" else 0 if term == "1" else int(term[1:] or 1)
        for _ in range(count):
            indices = "".join(letters[pattern.kernel[position + e]] for e in range(arity))
            symbol = {"E": "A", "V": "x", "1": "g"}.get(term, "X")
            factors.append((f"{symbol}_{indices}" if indices else symbol,
                            f"{symbol}_{{{indices}}}" if indices else symbol))
            position += arity
    free = [letters[b] for b in sorted(set(pattern.kernel)) if letters[b] != "k"]
    text_body = " ".join(_collect([f for f, _ in factors])) or "1"
    latex_body = " ".join(_collect([f for _, f in factors], latex=True)) or "1"
    if not free:
        return text_body, latex_body
    return f"Σ_{{{','.join(free)}}} {text_body}", f"\\sum_{{{','.join(free)}}} {latex_body}"


def _collect(factors: list[str], latex: bool = False) -> list[str]:
    """Equal factors as powers: ``A_kj A_kj`` → ``A_kj²``."""
    out = []
    for factor, group in itertools.groupby(sorted(factors, key=factors.index)):
        count = len(list(group))
        out.append(factor if count == 1 else (f"{factor}^{{{count}}}" if latex else _power(factor, count)))
    return out
