"""The seed paper's method (§2.6), with sympy: expand both sides and match coefficients.

For every generator σ and every output k the engine builds

    LHS = y_k(σ·x)        RHS = y_{σ(k)}(x)     (RHS = y(x) when invariant)

(for tensor representations ``x`` runs over the input coordinates and ``k`` over
the output coordinates, both permuted as in :mod:`polyequiv.reps`) with symbolic
weights, expands ``LHS − RHS`` as a polynomial in ``x`` and
reads off the coefficient of every monomial: each one is a linear form in the
weights that must vanish.  The bias input is the literal ``1`` (homogenisation
is done by substitution, not by index arithmetic), so this path shares no
index bookkeeping with :mod:`polyequiv.engines.sparse`.
"""

from __future__ import annotations

import sympy as sp

from polyequiv.constraints import ConstraintSystem, canonical_form, symmetric_gauge_ties, system_from_forms
from polyequiv.indexing import WeightIndex


def weight_symbols(index: WeightIndex) -> list[sp.Symbol]:
    """One sympy symbol per weight id, named as in the seed (``W^k_ij``)."""
    return [sp.Symbol(index.weight_name(w)) for w in range(index.num_weights)]


def layer_polynomials(index: WeightIndex, symbols: list[sp.Symbol]) -> tuple[list[sp.Expr], list[sp.Symbol]]:
    """The layer ``y_k(x) = Σ_t W^k_t Π_j x_{t_j}`` as sympy expressions, and the input symbols."""
    spec = index.spec
    xs = list(sp.symbols(f"x0:{spec.num_coordinates}"))
    inputs: list[sp.Expr] = xs + ([sp.Integer(1)] if spec.bias else [])
    tuples = index.tuples.tolist()
    outputs = []
    for k in range(index.num_outputs):
        terms = []
        for t_id, t in enumerate(tuples):
            terms.append(symbols[k * index.num_tuples + t_id] * sp.Mul(*[inputs[i] for i in t]))
        outputs.append(sp.Add(*terms))
    return outputs, xs


def derive_symbolic(index: WeightIndex) -> ConstraintSystem:
    """Derive all coefficient-matching equations of ``index.spec`` with sympy."""
    spec = index.spec
    symbols = weight_symbols(index)
    weight_id = {s: w for w, s in enumerate(symbols)}
    outputs, xs = layer_polynomials(index, symbols)
    forms = set()
    for sigma in spec.group_generators:
        on_inputs = spec.input_permutation(sigma).tolist()
        on_outputs = spec.output_permutation(sigma).tolist()
        substitution = {xs[c]: xs[on_inputs[c]] for c in range(spec.num_coordinates)}
        for k in range(index.num_outputs):
            lhs = outputs[k].xreplace(substitution)
            rhs = outputs[on_outputs[k]]
            difference = sp.expand(lhs - rhs)
            if difference == 0:
                continue
            for coefficient in sp.Poly(difference, *xs).coeffs():
                terms = [(weight_id[s], int(c)) for s, c in coefficient.as_coefficients_dict().items()]
                form = canonical_form(terms)
                if form is not None:
                    forms.add(form)
    return system_from_forms(index, forms, symmetric_gauge_ties(index), engine="symbolic")
