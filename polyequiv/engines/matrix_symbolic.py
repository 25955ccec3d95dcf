"""The seed's method for matrix groups, literally, with sympy: substitute the group action, expand, match.

For every generator and every output coordinate ``k`` the engine builds, with
symbolic weights and inputs,

* a finite generator ``g``:   ``LHS = y_k(ρ_in(g) x)``,  ``RHS = Σ_{k'} ρ_out(g)[k, k'] y_{k'}(x)``;
* a Lie generator ``A``:      ``LHS = d/dt y_k(x + t ρ_in(A) x) at t = 0`` (the same first-order term
  as ``exp(tA)``),  ``RHS = Σ_{k'} dρ_out(A)[k, k'] y_{k'}(x)``,

expands ``LHS − RHS`` as a polynomial in ``x`` and reads off the coefficient of
every monomial: a linear form in the weights with rational coefficients, which
must vanish.  The representation matrices are built here from the group's
generators with sympy Kronecker products (``ρ(σ, g) = ⊕ I ⊗ P_σ ⊗ g^{⊗k}`` term by
term, ``dρ(A) = ⊕ I ⊗ Σ_j I ⊗ A ⊗ I``), so this path shares only the weight
numbering with :mod:`polyequiv.engines.matrix`, which must give the same
canonical forms.
"""

from __future__ import annotations

import math
from functools import reduce

import numpy as np
import sympy as sp

from polyequiv.constraints import ConstraintSystem, canonical_form, symmetric_gauge_ties, system_from_forms
from polyequiv.engines.symbolic import layer_polynomials, weight_symbols
from polyequiv.indexing import WeightIndex
from polyequiv.matrix_reps import MatrixRepresentation
from polyequiv.matrix_spec import MatrixLayerSpec
from polyequiv.reps import Representation


def _term_matrix(rep: MatrixRepresentation, n: int, sigma, matrix: sp.Matrix, lie: bool) -> sp.Matrix:
    """``⊕_terms I_m ⊗ P_σ ⊗ g^{⊗k}`` (finite) or ``⊕ I_m ⊗ I_P ⊗ Σ_j I ⊗ A ⊗ I`` (Lie)."""
    d = matrix.shape[0]
    blocks = []
    for term in rep.terms:
        size = Representation((term.points,)).size(n)
        if sigma is None:
            points = sp.eye(size)
        else:
            image = Representation((term.points,)).permutation_array(np.asarray(sigma, dtype=np.int64))
            points = sp.zeros(size, size)
            for row, column in enumerate(image.tolist()):
                points[row, column] = 1
        if lie:
            tensor = sp.zeros(d**term.power, d**term.power)
            for slot in range(term.power):
                factors = [sp.eye(d)] * slot + [matrix] + [sp.eye(d)] * (term.power - slot - 1)
                tensor += reduce(sp.kronecker_product, factors)
        else:
            tensor = reduce(sp.kronecker_product, [matrix] * term.power, sp.eye(1))
        blocks.append(sp.kronecker_product(sp.eye(term.multiplicity), sp.kronecker_product(points, tensor)))
    return sp.diag(*blocks)


def generator_matrices(spec: MatrixLayerSpec) -> list[tuple[str, sp.Matrix, sp.Matrix]]:
    """``(kind, ρ_in, ρ_out)`` for every generator, as exact sympy matrices (``dρ`` for Lie ones)."""
    n, d = spec.n, spec.dim
    out = []
    for sigma in spec.group.permutation_generators:
        out.append(
            (
                "finite",
                _term_matrix(spec.input, n, sigma, sp.eye(d), False),
                _term_matrix(spec.output, n, sigma, sp.eye(d), False),
            )
        )
    for generator in spec.group.matrix.finite:
        g = sp.Matrix([[sp.Rational(v.numerator, v.denominator) for v in row] for row in generator])
        out.append(
            (
                "finite",
                _term_matrix(spec.input, n, None, g, False),
                _term_matrix(spec.output, n, None, g, False),
            )
        )
    for generator in spec.group.matrix.lie:
        a = sp.Matrix([[sp.Rational(v.numerator, v.denominator) for v in row] for row in generator])
        out.append(
            ("lie", _term_matrix(spec.input, n, None, a, True), _term_matrix(spec.output, n, None, a, True))
        )
    return out


def derive_matrix_symbolic(index: WeightIndex) -> ConstraintSystem:
    """Derive all coefficient-matching equations of a :class:`MatrixLayerSpec` with sympy."""
    symbols = weight_symbols(index)
    weight_id = {s: w for w, s in enumerate(symbols)}
    outputs, xs = layer_polynomials(index, symbols)
    x = sp.Matrix(xs)
    t = sp.Symbol("t")
    forms = set()
    for kind, rho_in, rho_out in generator_matrices(index.spec):
        moved = rho_in * x if kind == "finite" else x + t * (rho_in * x)
        substitution = dict(zip(xs, moved, strict=True))
        for k in range(index.num_outputs):
            lhs = outputs[k].xreplace(substitution)
            if kind == "lie":  # the first-order term in t: d/dt at t = 0
                lhs = sp.expand(lhs).coeff(t, 1)
            rhs = sum(
                (rho_out[k, j] * outputs[j] for j in range(index.num_outputs) if rho_out[k, j] != 0),
                sp.Integer(0),
            )
            difference = sp.expand(lhs - rhs)
            if difference == 0:
                continue
            for coefficient in sp.Poly(difference, *xs).coeffs() if xs else [difference]:
                form = _integer_form(coefficient, weight_id)
                if form is not None:
                    forms.add(form)
    return system_from_forms(index, forms, symmetric_gauge_ties(index), engine="symbolic")


def _integer_form(coefficient: sp.Expr, weight_id: dict[sp.Symbol, int]):
    """A linear form with rational coefficients as a canonical integer form (denominators cleared)."""
    terms = [(weight_id[s], sp.Rational(c)) for s, c in coefficient.as_coefficients_dict().items()]
    scale = math.lcm(*(int(c.q) for _, c in terms)) if terms else 1
    return canonical_form((w, int(c * scale)) for w, c in terms)
