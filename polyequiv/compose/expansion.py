"""Exact sparse expansion of a network's output, and its coefficient-matching equations.

The output ``y_k`` of a :class:`NetworkSpec` is a polynomial in ``x`` whose
coefficients are polynomials with integer coefficients in the network's
parameters (:mod:`polyequiv.compose.parameters`)::

    y_k = Σ_α c_{k,α}(θ) x^α.

It is computed exactly as sparse polynomials over ZZ, never by expanding a
symbolic expression: :func:`expand_network` assembles each output from
disjoint blocks of shared products of the previous layers' outputs, in packed
numpy arrays (:mod:`polyequiv.compose.block_expansion`); :func:`expand_network_flint`
computes the same polynomials layer by layer with FLINT's ``fmpz_mpoly``
products and sums (the reference path of the tests and the benchmark).

Equations
---------
With ``(σ·x)_i = x_{σ(i)}``, ``y_k(σ·x) = Σ_α c_{k,α} x^{σ_*α}`` where
``(σ_*α)_{σ(i)} = α_i``.  Equivariance under a generator σ,
``y_k(σ·x) = y_{σ(k)}(x)`` (invariance: ``y(σ·x) = y(x)``), holds exactly when,
for every output ``k`` and monomial ``β``,

    c_{k,α}(θ) − c_{σ(k),β}(θ) = 0,     α_i = β_{σ(i)},

a polynomial equation in the parameters.  Invariance under the generators is
invariance under the group they generate.

    >>> from polyequiv.compose import NetworkSpec
    >>> expansion = expand_network(NetworkSpec.parse("S2 [linear free -> 2, linear free -> invariant]"))
    >>> expansion.num_terms
    4
    >>> [str(e) for e in network_constraints(expansion).equations]
    ['w1_0_0·w2_0 + w1_1_0·w2_1 = w1_0_1·w2_0 + w1_1_1·w2_1']
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import flint
import numpy as np

from polyequiv.compose.block_expansion import expand_blocks
from polyequiv.compose.network import NetworkSpec
from polyequiv.compose.packed import MonomialPacking, PackedPolynomial
from polyequiv.compose.parameters import NetworkParameters
from polyequiv.errors import SizeLimitError, SpecError

#: Expansion terms :func:`network_constraints` reads into Python (≈ 30 µs each, so ≈ 15 s).
MAX_CONSTRAINT_TERMS = 500_000

#: A polynomial in the parameters: sparse monomial ``((param, exponent), ...)`` → integer coefficient.
ParamPolynomial = dict[tuple[tuple[int, int], ...], int]


@dataclass
class NetworkExpansion:
    """The expanded outputs of a network.  Build it with :func:`expand_network`.

    ``terms[k]`` is output ``k`` as a :class:`PackedPolynomial` over the variables
    ``(θ_0, …, θ_{P−1}, x_0, …, x_{n−1})`` (the parameters, then x), decoded by ``packing``.
    """

    spec: NetworkSpec
    parameters: NetworkParameters
    packing: MonomialPacking
    terms: tuple[PackedPolynomial, ...]
    seconds: float

    @property
    def num_params(self) -> int:
        return self.parameters.num_params

    @property
    def num_outputs(self) -> int:
        return len(self.terms)

    @property
    def num_terms(self) -> int:
        """Terms (parameter monomial × x monomial) over all outputs."""
        return sum(len(p) for p in self.terms)

    def term_dict(self, output: int) -> dict[tuple[int, ...], int]:
        """Output ``k`` as ``{(exponents of θ, then of x): coefficient}``."""
        return self.terms[output].to_dict(self.packing)

    def coefficients(self, output: int) -> dict[tuple[int, ...], ParamPolynomial]:
        """``{α: c_{k,α}}`` for output ``k``, the coefficients as sparse parameter polynomials."""
        return self._grouped[output]

    @cached_property
    def _grouped(self) -> list[dict[tuple[int, ...], ParamPolynomial]]:
        return [_group_exponents(p.exponents(self.packing), p.coeffs, self.num_params) for p in self.terms]

    @cached_property
    def num_coefficients(self) -> int:
        """Nonzero coefficients ``c_{k,α}`` (pairs of an output and an x monomial)."""
        return sum(len(self.coefficients(k)) for k in range(self.num_outputs))

    @cached_property
    def context(self) -> Any:
        """The FLINT ring ``ZZ[t_0..t_{P−1}, x_0..x_{n−1}]`` (lex) of :attr:`outputs`."""
        return _flint_context(self.num_params, self.spec.n)

    @cached_property
    def outputs(self) -> tuple[Any, ...]:
        """The outputs as FLINT ``fmpz_mpoly``, converted from :meth:`term_dict` on first use."""
        return tuple(self.context.from_dict(self.term_dict(k)) for k in range(self.num_outputs))

    def parameter_monomial(self, key: tuple[tuple[int, int], ...], *, latex: bool = False) -> str:
        names = [self.parameters.param_name(p, latex=latex) for p, _ in key]
        powers = [
            name if e == 1 else (f"{name}^{{{e}}}" if latex else f"{name}^{e}")
            for name, (_, e) in zip(names, key, strict=True)
        ]
        return (" " if latex else "·").join(powers) if powers else "1"


@dataclass
class FlintExpansion:
    """The outputs expanded with FLINT products and sums (:func:`expand_network_flint`)."""

    spec: NetworkSpec
    parameters: NetworkParameters
    context: Any
    outputs: tuple[Any, ...]
    seconds: float

    @property
    def num_terms(self) -> int:
        return sum(len(p) for p in self.outputs)

    def term_dict(self, output: int) -> dict[tuple[int, ...], int]:
        return {tuple(int(e) for e in m): int(c) for m, c in self.outputs[output].to_dict().items()}


def expand_network(spec: NetworkSpec) -> NetworkExpansion:
    """Expand every output of ``spec`` exactly (integer coefficients).

    The outputs are built as disjoint blocks of shared products in packed numpy arrays
    (:mod:`polyequiv.compose.block_expansion`); :func:`expand_network_flint` is the plain
    FLINT computation of the same polynomials.

    Raises
    ------
    SizeLimitError
        When the estimated number of terms (:meth:`NetworkSpec.estimate_terms`) is over the limit.
    SpecError
        For a tied layer whose ties are not plain equalities (full indexing), which would need
        rational coefficients.
    """
    spec.check_size()
    started = time.perf_counter()
    parameters = NetworkParameters(spec)
    _check_equality_ties(spec, parameters)
    packing, terms = expand_blocks(spec, parameters)
    return NetworkExpansion(
        spec=spec,
        parameters=parameters,
        packing=packing,
        terms=terms,
        seconds=time.perf_counter() - started,
    )


def _check_equality_ties(spec: NetworkSpec, parameters: NetworkParameters) -> None:
    for number, layer in enumerate(spec.layers):
        if layer.tied and not parameters.equalities_only(number):
            raise SpecError(
                f"tied layer {number + 1} ({spec.layer_spec(number)}) has additive ties; its expansion "
                "needs rational coefficients: use ordered indexing or make the layer free"
            )


def _flint_context(num_params: int, n: int) -> Any:
    return flint.fmpz_mpoly_ctx.get((("t", num_params), ("x", n)), "lex")


def expand_network_flint(spec: NetworkSpec) -> FlintExpansion:
    """The reference path: each layer's outputs as FLINT ``fmpz_mpoly`` products and balanced sums."""
    spec.check_size()
    started = time.perf_counter()
    parameters = NetworkParameters(spec)
    _check_equality_ties(spec, parameters)
    num_params, n = parameters.num_params, spec.n
    context = _flint_context(num_params, n)
    gens = context.gens()
    one = context.constant(1)
    units = list(gens[num_params:])
    for number, layer in enumerate(spec.layers):
        weights = _layer_weight_polys(parameters, number, gens)
        inputs = [*units, one] if layer.bias else units
        tuples = spec.weight_indices[number].tuples.tolist()
        products: dict[tuple[int, ...], Any] = {}
        for t in tuples:
            key = tuple(sorted(t))
            if key not in products:
                value = one
                for i in key:
                    value = value * inputs[i]
                products[key] = value
        units = [
            _balanced_sum(
                [
                    weights[k * len(tuples) + position] * products[tuple(sorted(t))]
                    for position, t in enumerate(tuples)
                ]
            )
            for k in range(layer.num_outputs)
        ]
    return FlintExpansion(
        spec=spec,
        parameters=parameters,
        context=context,
        outputs=tuple(units),
        seconds=time.perf_counter() - started,
    )


def _balanced_sum(polys: list[Any]) -> Any:
    """Pairwise sum (each term is copied about log₂(len) times instead of len times)."""
    while len(polys) > 1:
        polys = [polys[i] + polys[i + 1] if i + 1 < len(polys) else polys[i] for i in range(0, len(polys), 2)]
    return polys[0]


def _layer_weight_polys(parameters: NetworkParameters, layer: int, gens: tuple[Any, ...]) -> list[Any]:
    """Each weight of ``layer`` as a polynomial: its own parameter, or its class's (tied layers)."""
    spec = parameters.spec
    first = parameters.param_offsets[layer]
    count = spec.weight_indices[layer].num_weights
    if spec.layers[layer].tied:
        classes = parameters.scheme(layer).class_of_weight.tolist()
        return [gens[first + c] for c in classes]
    return [gens[first + i] for i in range(count)]


def group_by_x(poly: Any, num_params: int) -> dict[tuple[int, ...], ParamPolynomial]:
    """Split a FLINT polynomial of the expansion ring into ``{x exponent: parameter polynomial}``."""
    grouped: dict[tuple[int, ...], ParamPolynomial] = {}
    for exponents, coefficient in poly.to_dict().items():
        x_part = tuple(int(e) for e in exponents[num_params:])
        key = tuple((i, int(e)) for i, e in enumerate(exponents[:num_params]) if e)
        grouped.setdefault(x_part, {})[key] = int(coefficient)
    return grouped


def _group_exponents(
    exponents: np.ndarray, coeffs: np.ndarray, num_params: int
) -> dict[tuple[int, ...], ParamPolynomial]:
    """:func:`group_by_x` for an ``(m, P + n)`` exponent array and its coefficients."""
    grouped: dict[tuple[int, ...], ParamPolynomial] = {}
    rows, columns = np.nonzero(exponents[:, :num_params])
    values = exponents[rows, columns].tolist()
    ends = np.searchsorted(rows, np.arange(1, exponents.shape[0] + 1)).tolist()
    pairs = list(zip(columns.tolist(), values, strict=True))
    start = 0
    for x_part, end, coefficient in zip(
        map(tuple, exponents[:, num_params:].tolist()), ends, coeffs.tolist(), strict=True
    ):
        grouped.setdefault(x_part, {})[tuple(pairs[start:end])] = int(coefficient)
        start = end
    return grouped


@dataclass(frozen=True)
class PolynomialEquation:
    """``[x^β] y_k(σ·x) = [x^β] y_{σ(k)}(x)`` after cancellation: ``polynomial = 0``.

    ``str`` prints the positive terms on the left and the negative ones, negated, on the right.
    """

    generator: int
    output: int
    monomial: tuple[int, ...]
    polynomial: tuple[tuple[tuple[tuple[int, int], ...], int], ...]
    expansion: NetworkExpansion = field(repr=False, compare=False, hash=False)

    @property
    def degree(self) -> int:
        """Total degree in the parameters."""
        return max(sum(e for _, e in key) for key, _ in self.polynomial)

    def _side(self, sign: int, latex: bool) -> str:
        parts = []
        for key, value in self.polynomial:
            if value * sign > 0:
                monomial = self.expansion.parameter_monomial(key, latex=latex)
                size = abs(value)
                parts.append(monomial if size == 1 else f"{size}{' ' if latex else '·'}{monomial}")
        return " + ".join(parts) if parts else "0"

    def __str__(self) -> str:
        return f"{self._side(1, False)} = {self._side(-1, False)}"

    def latex(self) -> str:
        return f"{self._side(1, True)} = {self._side(-1, True)}"


@dataclass
class NetworkConstraints:
    """The polynomial equations of a network.  Build it with :func:`network_constraints`."""

    expansion: NetworkExpansion
    equations: list[PolynomialEquation]
    seconds: float

    @property
    def spec(self) -> NetworkSpec:
        return self.expansion.spec

    def by_degree(self) -> dict[int, int]:
        """Number of distinct equations of each total degree in the parameters."""
        return dict(sorted(Counter(e.degree for e in self.equations).items()))

    def summary(self) -> dict[str, Any]:
        expansion = self.expansion
        return {
            "spec": expansion.spec.to_dict(),
            "group_generators": [list(g) for g in expansion.spec.group_generators],
            "weights": expansion.spec.num_weights,
            "parameters": expansion.num_params,
            "output_degree": expansion.spec.degree,
            "expansion_terms": expansion.num_terms,
            "estimated_terms": expansion.spec.estimate_terms(),
            "coefficients": expansion.num_coefficients,
            "equations": len(self.equations),
            "equations_by_degree": {str(k): v for k, v in self.by_degree().items()},
            "expansion_seconds": round(expansion.seconds, 6),
            "constraint_seconds": round(self.seconds, 6),
        }


def network_constraints(expansion: NetworkExpansion) -> NetworkConstraints:
    """Coefficient matching under every generator (see the module docstring), deduplicated up to sign.

    Each equation is ``c_{k,α} − c_{σ(k),β}`` with ``α_i = β_{σ(i)}``, read off the grouped
    coefficients of the outputs (each output is converted once, not once per generator).
    """
    if expansion.num_terms > MAX_CONSTRAINT_TERMS:
        raise SizeLimitError(
            f"the equations of {expansion.spec} would read {expansion.num_terms:,} expansion terms "
            f"(about {expansion.num_terms * 3e-5:,.0f} s); the limit is {MAX_CONSTRAINT_TERMS:,}. "
            "Use fewer or narrower layers, or no bias",
            estimate=expansion.num_terms,
            limit=MAX_CONSTRAINT_TERMS,
        )
    started = time.perf_counter()
    spec = expansion.spec
    n = spec.n
    coefficients = [expansion.coefficients(k) for k in range(expansion.num_outputs)]
    seen: set[tuple[Any, ...]] = set()
    equations: list[PolynomialEquation] = []
    for number, sigma in enumerate(spec.group_generators):
        for k in range(len(coefficients)):
            target = sigma[k] if spec.equivariant else k
            moved = {_push_forward(alpha, sigma) for alpha in coefficients[k]}
            for beta in sorted(moved | set(coefficients[target])):
                alpha = tuple(beta[sigma[i]] for i in range(n))
                difference = dict(coefficients[k].get(alpha, {}))
                for key, value in coefficients[target].get(beta, {}).items():
                    difference[key] = difference.get(key, 0) - value
                terms = tuple(sorted((key, value) for key, value in difference.items() if value))
                if not terms:
                    continue
                if terms[0][1] < 0:
                    terms = tuple((key, -value) for key, value in terms)
                if terms in seen:
                    continue
                seen.add(terms)
                equations.append(PolynomialEquation(number, k, beta, terms, expansion))
    return NetworkConstraints(expansion, equations, time.perf_counter() - started)


def _push_forward(alpha: tuple[int, ...], sigma: tuple[int, ...]) -> tuple[int, ...]:
    """``σ_*α``: the exponent of ``Π_i x_{σ(i)}^{α_i}``, i.e. ``(σ_*α)_{σ(i)} = α_i``."""
    beta = [0] * len(alpha)
    for i, a in enumerate(alpha):
        beta[sigma[i]] = a
    return tuple(beta)
