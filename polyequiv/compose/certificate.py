"""Exact certificates of the dimension of the variety ``V`` of equivariant networks.

Notation of :mod:`polyequiv.compose.variety`: ``P`` parameters, the tied subspace ``T ⊆ V``, the
equations ``E(θ) = 0`` of :mod:`polyequiv.compose.expansion`.  Two certificates:

**Local, at a random rational point θ₀ of T** (:func:`local_certificate`).

* Upper bound: ``dim_θ₀ V ≤ dim ker J_E(θ₀) ≤ P − rank_p J_E(θ₀)`` (a rank modulo ``p`` is at most
  the rank over Q).
* Lower bound: hidden units can be mixed without changing the function.  Between two free layers
  ℓ, ℓ+1, ``h ↦ g h`` (``g ∈ GL(w_ℓ)``) on layer ℓ's outputs is undone by layer ℓ+1 reading
  ``g⁻¹ h`` (a full polynomial layer is closed under linear substitutions; with bias on both
  layers also under translations ``h ↦ h + c``).  So ``F``, the closure of all ``g·θ`` for
  ``θ ∈ T`` (*the gauge orbits of T*), is irreducible, lies in ``V`` and contains θ₀, and
  ``dim_θ₀ V ≥ dim F ≥ rank_p [B_T | ∂(g·θ₀)/∂g]``: the tangent vectors of T and of the gauge
  group at θ₀, computed exactly modulo ``p`` (:func:`gauge_directions`).
* When the two bounds meet, θ₀ is a smooth point of ``V``: the only component of ``V`` through
  it is ``F``, of exactly that dimension.  (Near generic points of T, V is the gauge orbits of T.)

**Global, from a Gröbner basis** (:func:`groebner_dimension`): the Krull dimension of the ideal
of the equations, ``dim V`` over the complex numbers, exactly: a Gröbner basis over Q in
degree-reverse-lexicographic order (FLINT's ``fmpz_mpoly_vec.buchberger_naive``, within limits on
its size), whose leading monomials span a monomial ideal of the same dimension, ``P`` minus the
fewest variables meeting every leading monomial (:func:`monomial_dimension`).  ``dim V`` can
exceed the local dimension at T: V also holds degenerate networks, e.g. every network whose
last layer is zero (its output is 0), a linear subspace of dimension ``P − P_L``
(:func:`zero_layer_subspaces` lists those known to lie in V).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from polyequiv.compose.groebner import (
    GROEBNER_LIMITS,
    GROEBNER_SECONDS,
    GroebnerDimension,
    groebner_dimension,
)
from polyequiv.compose.network import NetworkSpec
from polyequiv.compose.parameters import NetworkParameters
from polyequiv.compose.variety import (
    PRIMES,
    VarietyProblem,
    fraction_matrix_mod_p,
    random_tied_point,
    rank_mod_p,
)

#: Parameters above which no Gröbner basis is attempted.
MAX_GROEBNER_PARAMS = 40


# ---------------------------------------------------------------------- local certificate


def gauge_directions(
    spec: NetworkSpec, parameters: NetworkParameters, weights: np.ndarray, p: int
) -> np.ndarray:
    """``(P, g)`` tangent vectors of hidden-unit mixings (and shifts) at ``weights``, modulo ``p``.

    For each hidden layer ℓ whose layer and the next are free, and each ``E = e_a e_bᵀ``: layer ℓ's
    row ``a`` moves by row ``b`` (``h_a += ε h_b``), and each weight ``W_{ℓ+1}[k, t]`` moves
    ``−W[k, t]`` onto the tuple ``t`` with one ``a`` replaced by ``b`` (``−h_b ∂/∂h_a``).  With bias on
    both, the shift ``h_a += ε`` adds 1 to row ``a``'s constant weight and replaces an ``a`` by the
    bias input.
    """
    columns = []
    for number in range(len(spec.layers) - 1):
        here, after = spec.layers[number], spec.layers[number + 1]
        if here.tied or after.tied:
            continue
        width = here.num_outputs
        sources = list(range(width)) + ([width] if here.bias and after.bias else [])
        for a in range(width):
            for b in sources:
                columns.append(_mixing(spec, parameters, weights, p, number, a, b))
    if not columns:
        return np.zeros((parameters.num_params, 0), dtype=np.int64)
    return np.stack(columns, axis=1)


def _mixing(
    spec: NetworkSpec, parameters: NetworkParameters, weights: np.ndarray, p: int, number: int, a: int, b: int
) -> np.ndarray:
    """The tangent vector of ``h_a += ε h_b`` (``b = width``: ``h_a += ε``) between layers ℓ, ℓ+1."""
    vector = np.zeros(parameters.num_params, dtype=np.int64)
    here, index = spec.layers[number], spec.weight_indices[number]
    count, first = index.num_tuples, parameters.param_offsets[number]
    width = here.num_outputs
    if b < width:
        vector[first + a * count : first + (a + 1) * count] = weights[
            first + b * count : first + (b + 1) * count
        ]
    else:
        constant = _position(index.tuples, (spec.input_width(number),) * here.degree)
        vector[first + a * count + constant] = 1
    nxt, after = spec.weight_indices[number + 1], spec.layers[number + 1]
    tuples, first_next = nxt.tuples, parameters.param_offsets[number + 1]
    lookup = {tuple(t): i for i, t in enumerate(tuples.tolist())}
    for k in range(after.num_outputs):
        for position, t in enumerate(tuples.tolist()):
            weight = int(weights[first_next + k * len(tuples) + position])
            for slot, entry in enumerate(t):
                if entry != a or not weight:
                    continue
                moved = list(t)
                moved[slot] = b
                target = lookup[tuple(sorted(moved)) if after.indexing == "ordered" else tuple(moved)]
                j = first_next + k * len(tuples) + target
                vector[j] = (vector[j] - weight) % p
    return vector % p


def _position(tuples: np.ndarray, wanted: tuple[int, ...]) -> int:
    """Row of ``wanted`` (the all-bias tuple: the constant weight) in a layer's index tuples."""
    return int(np.flatnonzero((tuples == np.array(wanted)).all(axis=1))[0])


@dataclass
class LocalCertificate:
    """Bounds on ``dim_θ₀ V`` at a random rational point θ₀ of T (module docstring)."""

    tied_dim: int
    lower: int
    upper: int
    prime: int

    @property
    def certified(self) -> bool:
        return self.lower == self.upper

    @property
    def dimension(self) -> int | None:
        return self.upper if self.certified else None


def local_certificate(spec: NetworkSpec, *, seed: int = 0, prime: int = PRIMES[0]) -> LocalCertificate:
    """``rank_p [B_T | gauge] ≤ dim_θ₀ V ≤ P − rank_p J_E(θ₀)`` at ``θ₀ = B_T τ``, τ random integers."""
    problem = VarietyProblem(spec)
    parameters = problem.parameters
    theta = random_tied_point(parameters, np.random.default_rng(seed))
    theta_p = np.array(
        [int(v.numerator % prime * pow(v.denominator, prime - 2, prime) % prime) for v in theta],
        dtype=np.int64,
    )
    _, je, _, _ = problem.equations_and_jacobian(theta_p, prime)
    upper = parameters.num_params - rank_mod_p(je, prime)
    weights = theta_p  # on free layers the parameters are the weights; tied layers get no gauge
    tangents = np.concatenate(
        [
            fraction_matrix_mod_p(parameters.tied_basis, prime),
            gauge_directions(spec, parameters, weights, prime),
        ],
        axis=1,
    )
    return LocalCertificate(parameters.tied_dim, rank_mod_p(tangents, prime), upper, prime)


# ---------------------------------------------------------------------- global certificate


def zero_layer_subspaces(spec: NetworkSpec, parameters: NetworkParameters) -> list[tuple[str, int]]:
    """Linear subspaces ``{W_ℓ = 0}`` that lie in V, with their dimensions ``P − P_ℓ``.

    The last layer always (the output is 0); an earlier layer when the output is invariant (a
    constant is invariant) or no later layer has bias (the output is 0 again).
    """
    found = []
    last = len(spec.layers) - 1
    for number in range(len(spec.layers)):
        later_bias = any(layer.bias for layer in spec.layers[number + 1 :])
        if number == last or not spec.equivariant or not later_bias:
            size = parameters.param_offsets[number + 1] - parameters.param_offsets[number]
            found.append((f"layer {number + 1} zero", parameters.num_params - size))
    return found


@dataclass
class DimensionCertificate:
    """Both certificates for one network (module docstring)."""

    spec: NetworkSpec
    num_params: int
    local: LocalCertificate
    groebner: GroebnerDimension | None
    subspaces: list[tuple[str, int]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def global_lower(self) -> int:
        return max([self.local.lower] + [d for _, d in self.subspaces])

    def components(self) -> list[dict[str, Any]]:
        """What is known to lie in V, with dimensions: the gauge orbits of T (an irreducible
        component when the local certificate holds) and the zero-layer subspaces (irreducible; a
        component when their dimension is ``dim V``, since nothing larger can contain them)."""
        rows: list[dict[str, Any]] = [
            {
                "name": "gauge orbits of T",
                "dimension": self.local.dimension,
                "bounds": [self.local.lower, self.local.upper],
                "component": self.local.certified,
            }
        ]
        top = self.groebner.dimension if self.groebner is not None and self.groebner.complete else None
        rows += [
            {"name": name, "dimension": d, "bounds": [d, d], "component": True if d == top else None}
            for name, d in self.subspaces
        ]
        return rows

    @property
    def local_upper(self) -> int:
        """The smaller of the tangent bound and ``dim V`` (when the Gröbner basis finished)."""
        groebner = self.groebner
        if groebner is not None and groebner.complete and groebner.dimension is not None:
            return min(self.local.upper, groebner.dimension)
        return self.local.upper

    @property
    def singular(self) -> bool:
        """True when ``dim V`` is below the tangent bound at θ₀: θ₀ is then a singular point."""
        return self.local_upper < self.local.upper

    @property
    def verdict(self) -> str:
        local = self.local
        lines = []
        if local.certified:
            lines.append(
                f"near generic points of T, V is the gauge orbits of T, of dimension {local.upper} "
                f"(dim T {local.tied_dim})"
            )
        else:
            lines.append(
                f"at the point of T: {local.lower} ≤ local dim V ≤ {self.local_upper} (not certified)"
            )
        if self.singular:
            lines.append(
                f"the tangent space there (dim {local.upper}) is larger than V: a singular point of V"
            )
        if self.groebner is not None and self.groebner.complete:
            dim = self.groebner.dimension
            where = [name for name, d in self.subspaces if d == dim]
            if local.certified and local.upper == dim:
                where.insert(0, "the gauge orbits of T")
            reached = f"; components of that dimension: {', '.join(where)}" if where else ""
            lines.append(
                f"dim V = {dim} (Gröbner basis over Q, {self.groebner.basis_size} polynomials){reached}"
            )
        return "; ".join(lines)

    def summary(self) -> dict[str, Any]:
        groebner = self.groebner
        return {
            "parameters": self.num_params,
            "tied_dim": self.local.tied_dim,
            "local_lower": self.local.lower,
            "local_upper": self.local.upper,
            "local_certified": self.local.certified,
            "local_upper_with_groebner": self.local_upper,
            "singular_point": self.singular,
            "prime": self.local.prime,
            "groebner_dim": None if groebner is None else groebner.dimension,
            "groebner_complete": None if groebner is None else groebner.complete,
            "groebner_basis_size": None if groebner is None else groebner.basis_size,
            "groebner_seconds": None if groebner is None else round(groebner.seconds, 6),
            "groebner_message": None if groebner is None else groebner.message,
            "components": self.components(),
            "verdict": self.verdict,
            "seconds": round(self.seconds, 6),
        }


def certify_dimension(
    spec: NetworkSpec,
    *,
    seed: int = 0,
    groebner: bool = True,
    limits: tuple[int, int, int] = GROEBNER_LIMITS,
    seconds: float | None = GROEBNER_SECONDS,
) -> DimensionCertificate:
    """The local certificate at T and, for at most :data:`MAX_GROEBNER_PARAMS` parameters, dim V."""
    from polyequiv.compose.expansion import expand_network, network_constraints

    started = time.perf_counter()
    parameters = NetworkParameters(spec)
    local = local_certificate(spec, seed=seed)
    result = None
    if groebner and parameters.num_params <= MAX_GROEBNER_PARAMS:
        constraints = network_constraints(expand_network(spec))
        polynomials = [
            {_dense(key, parameters.num_params): value for key, value in equation.polynomial}
            for equation in constraints.equations
        ]
        result = groebner_dimension(polynomials, parameters.num_params, limits, seconds)
    elif groebner:
        result = GroebnerDimension(None, False, 0, 0.0, f"more than {MAX_GROEBNER_PARAMS} parameters")
    return DimensionCertificate(
        spec,
        parameters.num_params,
        local,
        result,
        zero_layer_subspaces(spec, parameters),
        time.perf_counter() - started,
    )


def _dense(key: tuple[tuple[int, int], ...], size: int) -> tuple[int, ...]:
    row = [0] * size
    for j, e in key:
        row[j] = e
    return tuple(row)
