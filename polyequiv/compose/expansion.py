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
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, overload

import numpy as np

from polyequiv.compose.block_expansion import expand_blocks
from polyequiv.compose.layout import ExpansionLayout
from polyequiv.compose.matching import (
    CoefficientTable,
    PackedEquations,
    TermSegments,
    canonical_order,
    coefficient_table,
    disjoint_coefficients,
    match_coefficients,
    sparse_rows,
)
from polyequiv.compose.network import NetworkSpec
from polyequiv.compose.packed import MonomialPacking, PackedPolynomial
from polyequiv.compose.parameters import NetworkParameters
from polyequiv.compose.rendering import Renderer, latex_power, text_power
from polyequiv.errors import SizeLimitError, SpecError

#: Terms (over both sides of every generator's equations) that the ``merge`` matching sorts;
#: about 60 B each while sorted, so 1.5 GB at the limit (``disjoint`` matching sorts none).
MAX_MERGE_TERMS = 25_000_000

#: A polynomial in the parameters: sparse monomial ``((param, exponent), ...)`` → integer coefficient.
ParamPolynomial = dict[tuple[tuple[int, int], ...], int]


@dataclass
class NetworkExpansion:
    """The expanded outputs of a network.  Build it with :func:`expand_network`.

    ``terms[k]`` is output ``k`` as a :class:`PackedPolynomial` in the parameters and x, its keys
    laid out by ``layout`` (:mod:`polyequiv.compose.layout`), which decodes them to exponents
    ``(θ_0, …, θ_{P−1}, x_0, …, x_{n−1})`` (the parameters, then x).
    """

    spec: NetworkSpec
    parameters: NetworkParameters
    layout: ExpansionLayout
    terms: tuple[PackedPolynomial, ...]
    seconds: float

    @property
    def packing(self) -> MonomialPacking:
        return self.layout.packing

    @property
    def num_params(self) -> int:
        return self.parameters.num_params

    @property
    def num_outputs(self) -> int:
        return len(self.terms)

    def parameter_names(self, *, latex: bool = False, python: bool = False) -> list[str]:
        """``w2_1_0b`` (layer 2, output 1, inputs 0 and the bias), LaTeX, or a Python identifier."""
        names = [self.parameters.param_name(j, latex=latex) for j in range(self.num_params)]
        return [name.replace(".", "_") for name in names] if python else names

    @property
    def max_parameter_exponent(self) -> int:
        return max(self.layout.parameter_bounds, default=1)

    def renderer(self, *, latex: bool = False) -> Renderer:
        """How equations name the parameters: ``w1_0_1^2·w2_0`` or ``{w^{(1)}_{0,1}}^{2} w^{(2)}_{0}``."""
        if latex:
            return Renderer(self.parameter_names(latex=True), " ", latex_power, self.max_parameter_exponent)
        return Renderer(self.parameter_names(), "·", text_power, self.max_parameter_exponent)

    @property
    def num_terms(self) -> int:
        """Terms (parameter monomial × x monomial) over all outputs."""
        return sum(len(p) for p in self.terms)

    def term_dict(self, output: int) -> dict[tuple[int, ...], int]:
        """Output ``k`` as ``{(exponents of θ, then of x): coefficient}``."""
        poly = self.terms[output]
        rows = self.layout.decode(poly.keys).tolist()
        return {tuple(row): int(c) for row, c in zip(rows, poly.coeffs.tolist(), strict=True)}

    def coefficients(self, output: int) -> dict[tuple[int, ...], ParamPolynomial]:
        """``{α: c_{k,α}}`` for output ``k``, the coefficients as sparse parameter polynomials."""
        return self._grouped[output]

    @cached_property
    def _grouped(self) -> list[dict[tuple[int, ...], ParamPolynomial]]:
        return [_group_exponents(self.layout.decode(p.keys), p.coeffs, self.num_params) for p in self.terms]

    @cached_property
    def coefficient_table(self) -> CoefficientTable:
        """Every term labelled by its x monomial (:func:`polyequiv.compose.matching.coefficient_table`)."""
        return coefficient_table(self)

    @cached_property
    def segments(self) -> TermSegments:
        """The terms of each coefficient ``c_{k,α}`` (:class:`polyequiv.compose.matching.TermSegments`)."""
        return TermSegments(self, self.coefficient_table)

    @property
    def num_coefficients(self) -> int:
        """Nonzero coefficients ``c_{k,α}`` (pairs of an output and an x monomial)."""
        return self.coefficient_table.num_coefficients

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
            name if e == 1 else (f"{{{name}}}^{{{e}}}" if latex else f"{name}^{e}")
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
    layout, terms = expand_blocks(spec, parameters)
    return NetworkExpansion(
        spec=spec,
        parameters=parameters,
        layout=layout,
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
    import flint  # only the FLINT paths need it

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

    def _side(self, sign: int, latex: bool, limit: int | None = None) -> str:
        terms = [(key, value) for key, value in self.polynomial if value * sign > 0]
        more = max(len(terms) - limit, 0) if limit is not None else 0
        return format_side(self.expansion, terms[:limit], latex=latex, more=more)

    def __str__(self) -> str:
        return f"{self._side(1, False)} = {self._side(-1, False)}"

    def latex(self) -> str:
        return f"{self._side(1, True)} = {self._side(-1, True)}"

    def abbreviated(self, terms: int = 4) -> str:
        """``str`` with at most ``terms`` terms on each side and the number left out."""
        return f"{self._side(1, False, terms)} = {self._side(-1, False, terms)}"


def format_side(
    expansion: NetworkExpansion, terms: list[tuple[tuple[tuple[int, int], ...], int]], *, latex: bool = False,
    more: int = 0
) -> str:
    """``c·monomial + …`` of one side of an equation (coefficients as absolute values)."""
    parts = []
    for key, value in terms:
        monomial = expansion.parameter_monomial(key, latex=latex)
        size = abs(value)
        parts.append(monomial if size == 1 else f"{size}{' ' if latex else '·'}{monomial}")
    if more:
        parts.append(f"… ({more:,} more terms)")
    return " + ".join(parts) if parts else "0"


class EquationList(Sequence[PolynomialEquation]):
    """The equations of a :class:`NetworkConstraints`, unpacked one by one when read."""

    def __init__(self, packed: PackedEquations, expansion: NetworkExpansion) -> None:
        self.packed, self.expansion = packed, expansion

    def __len__(self) -> int:
        return len(self.packed)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<{len(self)} equations ({self.packed.method} matching)>"

    @overload
    def __getitem__(self, index: int) -> PolynomialEquation: ...

    @overload
    def __getitem__(self, index: slice) -> list[PolynomialEquation]: ...

    def __getitem__(self, index: int | slice) -> PolynomialEquation | list[PolynomialEquation]:
        if isinstance(index, slice):
            return [self._unpack(i) for i in range(*index.indices(len(self)))]
        if not -len(self) <= index < len(self):
            raise IndexError(f"equation {index} of {len(self)}")
        return self._unpack(index % len(self))

    def _sorted_terms(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Equation ``i``'s parameter exponents and coefficients, canonically ordered and signed."""
        exponents, coeffs = self.packed.terms(i)
        order = canonical_order(exponents)
        exponents, coeffs = exponents[order], coeffs[order]
        return exponents, (-coeffs if len(coeffs) and coeffs[0] < 0 else coeffs)

    def text(self, i: int, *, latex: bool = False) -> str:
        """``str(self[i])`` (or ``self[i].latex()``), rendered from the arrays: fast for long equations."""
        cache = self.__dict__.setdefault("_renderers", {})
        if latex not in cache:
            cache[latex] = self.expansion.renderer(latex=latex)
        exponents, coeffs = self._sorted_terms(i)
        values = np.asarray(coeffs).astype(object)
        render, positive = cache[latex], values > 0
        return " = ".join(render.side(exponents[m], np.abs(values[m])) for m in (positive, ~positive))

    def abbreviated(self, i: int, terms: int = 4) -> str:
        """``str(self[i].abbreviated(terms))`` without unpacking the terms that are not shown."""
        exponents, coeffs = self._sorted_terms(i)
        sides = []
        for rows in (np.flatnonzero(coeffs > 0), np.flatnonzero(coeffs < 0)):
            shown = rows[:terms]
            listed = list(zip(sparse_rows(exponents[shown]), map(int, coeffs[shown].tolist()), strict=True))
            sides.append(format_side(self.expansion, listed, more=max(len(rows) - terms, 0)))
        return " = ".join(sides)

    def _unpack(self, i: int) -> PolynomialEquation:
        packed = self.packed
        exponents, coeffs = self._sorted_terms(i)
        terms = list(zip(sparse_rows(exponents), map(int, coeffs.tolist()), strict=True))
        monomial = tuple(int(e) for e in packed.table.monomials[packed.monomial[i]])
        return PolynomialEquation(
            int(packed.generator[i]), int(packed.output[i]), monomial, tuple(terms), self.expansion
        )


@dataclass
class NetworkConstraints:
    """The polynomial equations of a network.  Build it with :func:`network_constraints`.

    ``packed`` holds them as arrays (:class:`polyequiv.compose.matching.PackedEquations`);
    ``equations`` unpacks each into a :class:`PolynomialEquation` when it is read.
    """

    expansion: NetworkExpansion
    packed: PackedEquations
    seconds: float

    @property
    def spec(self) -> NetworkSpec:
        return self.expansion.spec

    @cached_property
    def equations(self) -> EquationList:
        return EquationList(self.packed, self.expansion)

    def by_degree(self) -> dict[int, int]:
        """Number of distinct equations of each total degree in the parameters."""
        return self.packed.by_degree()

    @property
    def num_equation_terms(self) -> int:
        return int(self.packed.size.sum())

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
            "equations": len(self.packed),
            "equation_terms": self.num_equation_terms,
            "equations_by_degree": {str(k): v for k, v in self.by_degree().items()},
            "matching": self.packed.method,
            "expansion_seconds": round(expansion.seconds, 6),
            "constraint_seconds": round(self.seconds, 6),
        }


def network_constraints(expansion: NetworkExpansion, method: str = "auto") -> NetworkConstraints:
    """Coefficient matching under every generator (see the module docstring), deduplicated up to sign.

    Each equation is ``c_{k,α} − c_{σ(k),β}`` with ``α_i = β_{σ(i)}``, computed in the packed
    representation (:mod:`polyequiv.compose.matching`): ``method="disjoint"`` reads the equations
    off pairs of coefficient labels (first and last layers free), ``"merge"`` sorts their terms;
    ``"auto"`` takes the first where it applies.

    Raises
    ------
    SizeLimitError
        When merging would sort more than :data:`MAX_MERGE_TERMS` terms (checked before sorting).
    """
    started = time.perf_counter()
    merging = method == "merge" or (method == "auto" and not disjoint_coefficients(expansion.spec))
    read = 2 * len(expansion.spec.group_generators) * expansion.num_terms
    if merging and read > MAX_MERGE_TERMS:
        raise SizeLimitError(
            f"the equations of {expansion.spec} would sort about {read:,} terms (each generator's "
            f"equations read every term twice), about {read * 60 / 1e9:.1f} GB; the limit is "
            f"{MAX_MERGE_TERMS:,}. Make the first and last layers free (their equations need no "
            "sorting), or use fewer or narrower layers",
            estimate=read,
            limit=MAX_MERGE_TERMS,
        )
    packed = match_coefficients(expansion, method)
    return NetworkConstraints(expansion, packed, time.perf_counter() - started)
