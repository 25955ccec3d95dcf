"""Elements of a matrix group in float64 for numerical checks, and exact character sums for finite ones.

Random elements (:func:`random_elements`) are ``(σ, g)`` pairs: ``σ`` uniform in
the permutation factor (if any, :func:`polyequiv.groups.random_group_elements`)
and ``g = exp(Σ_i c_i A_i) · w`` with ``c_i`` normal (scaled by ``spread``) and
``w`` a random word in the finite generators and their inverses.  For a compact
group such as ``O(d)`` these reach every component; for the Lorentz group they
include boosts of rapidity about ``spread``.

For a finite group (no Lie generators, order at most :data:`MAX_CHARACTER_ORDER`)
:func:`character_count` gives the number of independent equivariant polynomial
maps without solving any equation: with real matrices ``χ(h⁻¹) = χ(h)``, so

    dim Hom_G(Sym^d(In), Out) = (1/|G|) Σ_h χ_{Sym^d In}(h) χ_Out(h),

where ``χ_{Sym^d}`` comes from the power sums ``p_j = χ_In(h^j)`` by Newton's
identity ``j h_j = Σ_{i=1..j} p_i h_{j−i}``, and ``χ_In(σ, g) = Σ_terms m · fix(σ) · tr(g)^k``
(``fix(σ)`` the point coordinates σ fixes).  This is Molien's formula read off in degree ``d``.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from polyequiv import groups
from polyequiv.matrix_groups import MatrixGroup, enumerate_elements
from polyequiv.matrix_reps import MatrixRepresentation
from polyequiv.matrix_spec import MatrixLayerSpec
from polyequiv.reps import Representation

#: A group element for numerical checks: a point permutation (array form, or None) and a float64 matrix.
Element = tuple[np.ndarray | None, np.ndarray]

#: Largest group order :func:`character_count` sums over.
MAX_CHARACTER_ORDER = 200_000


def _float(matrix) -> np.ndarray:
    return np.array([[float(v) for v in row] for row in matrix], dtype=np.float64)


def random_matrices(group: MatrixGroup, count: int, rng: np.random.Generator, spread: float = 0.5) -> list:
    """``count`` random float64 elements ``exp(Σ c_i A_i) · w`` (see the module docstring)."""
    from scipy.linalg import expm

    lie = [_float(a) for a in group.lie]
    finite = [_float(g) for g in group.finite]
    finite += [np.linalg.inv(g) for g in finite]
    out = []
    for _ in range(count):
        element = np.eye(group.dim)
        if lie:
            coefficients = rng.standard_normal(len(lie)) * spread
            element = expm(sum(c * a for c, a in zip(coefficients, lie, strict=True)))
        for _ in range(int(rng.integers(0, 8)) if finite else 0):
            element = element @ finite[int(rng.integers(len(finite)))]
        out.append(element)
    return out


def generator_elements(spec: MatrixLayerSpec, step: float = 0.3) -> list[Element]:
    """The generators as elements: ``(σ, I)``, ``(None, g)``, and ``(None, exp(step·A))`` for Lie ones."""
    from scipy.linalg import expm

    identity = np.eye(spec.dim)
    out: list[Element] = [
        (np.asarray(s, dtype=np.int64), identity) for s in spec.group.permutation_generators
    ]
    out += [(None, _float(g)) for g in spec.group.matrix.finite]
    out += [(None, expm(step * _float(a))) for a in spec.group.matrix.lie]
    return out


def random_elements(spec: MatrixLayerSpec, count: int, rng: np.random.Generator) -> list[Element]:
    """``count`` random elements ``(σ, g)`` of the whole group of ``spec``."""
    matrices = random_matrices(spec.group.matrix, count, rng)
    if not spec.group.has_points:
        return [(None, g) for g in matrices]
    perms = groups.random_group_elements(spec.n, spec.group.permutation_generators, count, rng)
    return [(perm, g) for perm, g in zip(perms, matrices, strict=True)]


def action_matrices(spec: MatrixLayerSpec, element: Element) -> tuple[np.ndarray, np.ndarray]:
    """``(ρ_in, ρ_out)`` of one element as dense float64 arrays on the input coordinates (no bias)
    and on the outputs."""
    sigma, matrix = element
    return (spec.input.dense_action(sigma, matrix, spec.n), spec.output.dense_action(sigma, matrix, spec.n))


def character_count(spec: MatrixLayerSpec) -> int | None:
    """The function dimension of ``spec`` by character averaging (module docstring), or ``None`` when the
    group has Lie generators or more than :data:`MAX_CHARACTER_ORDER` elements."""
    matrices = enumerate_elements(spec.group.matrix)
    if matrices is None or spec.group.permutation_order * len(matrices) > MAX_CHARACTER_ORDER:
        return None
    perms = _permutation_elements(spec)
    traces = [_trace_powers(g, spec.degree) for g in matrices]
    total = Fraction(0)
    for sigma in perms:
        fixed_in = [_fixed_counts(spec.input, sigma, spec.n, j) for j in range(1, spec.degree + 1)]
        fixed_out = _fixed_counts(spec.output, sigma, spec.n, 1)
        for powers in traces:
            p = [
                _character(spec.input, fixed_in[j - 1], powers[j - 1]) + spec.bias
                for j in range(1, spec.degree + 1)
            ]
            h = [Fraction(1)]
            for j in range(1, spec.degree + 1):
                h.append(sum((p[i - 1] * h[j - i] for i in range(1, j + 1)), Fraction(0)) / j)
            total += h[spec.degree] * _character(spec.output, fixed_out, powers[0])
    count = total / (len(perms) * len(matrices))
    if count.denominator != 1:
        raise ArithmeticError(f"character average {count} for {spec} is not an integer")
    return int(count)


def _permutation_elements(spec: MatrixLayerSpec) -> list[np.ndarray]:
    if not spec.group.has_points:
        return [np.zeros(0, dtype=np.int64)]
    group = groups.permutation_group(spec.n, spec.group.permutation_generators)
    return [np.asarray(p.array_form, dtype=np.int64) for p in group.generate()]


def _fixed_counts(rep: MatrixRepresentation, sigma: np.ndarray, n: int, power: int) -> list[int]:
    """Per term: point coordinates fixed by ``σ^power`` (all of them without a permutation factor)."""
    out = []
    for term in rep.terms:
        points = Representation((term.points,))
        if sigma.size == 0:
            out.append(points.size(n))
            continue
        moved = np.arange(sigma.size)
        for _ in range(power):
            moved = sigma[moved]
        image = points.permutation_array(moved)
        out.append(int(np.count_nonzero(image == np.arange(image.size))))
    return out


def _trace_powers(matrix, degree: int) -> list[Fraction]:
    """``tr(g^j)`` for ``j = 1..degree``, exactly."""
    current = matrix
    out = []
    for _ in range(degree if degree else 1):
        out.append(sum((current[i][i] for i in range(len(matrix))), Fraction(0)))
        current = tuple(
            tuple(
                sum((a * b for a, b in zip(row, col, strict=True)), Fraction(0))
                for col in zip(*matrix, strict=True)
            )
            for row in current
        )
    return out


def _character(rep: MatrixRepresentation, fixed: list[int], trace: Fraction) -> Fraction:
    return sum(
        (term.multiplicity * f * trace**term.power for term, f in zip(rep.terms, fixed, strict=True)),
        Fraction(0),
    )
