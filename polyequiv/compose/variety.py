"""The variety ``V`` of equivariant networks near the tied subspace ``T``, measured exactly.

``c(θ)`` is the vector of output coefficients ``c_{k,α}`` (all monomials of degree
≤ the network degree) and ``E(θ) = A c(θ)`` the equations of
:mod:`polyequiv.compose.expansion` (``A`` is the linear coefficient matching).
At a point ``θ₀ ∈ T``:

* ``rank J_E`` (``J_E = A J_c``) gives the Zariski tangent space of ``V``:
  ``tangent_dim = #params − rank J_E``.  Since ``T ⊆ V``, ``J_E`` vanishes on
  ``T`` and ``rank J_E ≤ #params − dim T``; a rank computed modulo a prime ``p``
  is at most the rank over Q at the same (integer) point.  So a modular rank of
  ``#params − dim T`` *proves* ``tangent_dim = dim T`` at that rational point, and
  then the only component of ``V`` through it is ``T`` ("near generic tied points
  the variety is the tied subspace").
* ``function_dim = rank J_c``: dimension of the set of functions the whole family
  computes near ``θ₀``; ``#params − function_dim`` gauge directions (rescaling
  between layers, mixing hidden units) change no function.
* ``variety_function_dim = rank J_c − rank J_E`` (= ``dim J_c(ker J_E)``) and
  ``tied_function_dim = rank J_c B_T``: first-order dimensions of the function
  sets of ``V`` and of ``T``.  Equal, the extra tangent directions of ``V`` are
  gauge to first order.

Jacobians are computed by forward-mode evaluation of the network on
polynomials in ``x`` with coefficients modulo a prime (int64, every product
reduced; primes below 2²⁸ so that 64 reduced products sum without overflow),
at a random integer point ``τ`` of ``T``, for two primes.  The same code runs in
float64 for :func:`search_outside_tied`.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse

from polyequiv.compose.network import NetworkSpec
from polyequiv.compose.parameters import NetworkParameters
from polyequiv.errors import SizeLimitError

#: Two primes below 2**28 (sympy.prevprime), so that 64 products of reduced residues fit in int64.
PRIMES = (268_435_399, 268_435_367)
_CHUNK = 64
#: Entries (coefficients × parameters) of one forward-mode Jacobian held in memory.
MAX_JACOBIAN_ENTRIES = 30_000_000  # float64/int64: 240 MB at the limit


def _mod(values: Any, p: int | None) -> Any:
    return values if p is None else values % p


class XPolynomialAlgebra:
    """Polynomials in ``x₀ … x_{n−1}`` of degree ≤ D, as dense coefficient arrays over a fixed basis.

    A value with tangents is an array of shape ``(M, 1 + P)``: column 0 the
    coefficients, columns 1… their derivatives along ``P`` directions.
    """

    def __init__(self, n: int, degree: int) -> None:
        self.n, self.degree = n, degree
        monomials = [m for d in range(degree + 1) for m in _exponents(n, d)]
        self.monomials = monomials
        self.index = {m: i for i, m in enumerate(monomials)}
        self.degrees = np.array([sum(m) for m in monomials])
        self._tables: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, Any]] = {}

    @property
    def size(self) -> int:
        return len(self.monomials)

    def _table(self, da: int, db: int) -> tuple[np.ndarray, np.ndarray, Any]:
        key = (da, db)
        if key not in self._tables:
            left = np.flatnonzero(self.degrees <= da)
            right = np.flatnonzero(self.degrees <= db)
            rows, cols, targets = [], [], []
            for i in left.tolist():
                for j in right.tolist():
                    total = tuple(a + b for a, b in zip(self.monomials[i], self.monomials[j], strict=True))
                    if sum(total) <= self.degree:
                        rows.append(i)
                        cols.append(j)
                        targets.append(self.index[total])
            scatter = scipy.sparse.csr_matrix(
                (np.ones(len(targets), dtype=np.int64), (targets, np.arange(len(targets)))),
                shape=(self.size, len(targets)),
            )
            self._tables[key] = (np.array(rows), np.array(cols), scatter)
        return self._tables[key]

    def multiply(self, a: np.ndarray, da: int, b: np.ndarray, db: int, p: int | None) -> np.ndarray:
        """Product of two values with tangents (Leibniz rule), degrees ``da`` and ``db``."""
        rows, cols, scatter = self._table(da, db)
        a_rows, b_cols = a[rows], b[cols]
        terms = np.empty_like(a_rows)
        terms[:, 0] = _mod(a_rows[:, 0] * b_cols[:, 0], p)
        terms[:, 1:] = _mod(
            _mod(a_rows[:, :1] * b_cols[:, 1:], p) + _mod(a_rows[:, 1:] * b_cols[:, :1], p), p
        )
        return _mod(scatter @ terms, p)


def _exponents(n: int, degree: int) -> list[tuple[int, ...]]:
    out = []
    for combo in itertools.combinations_with_replacement(range(n), degree):
        exponent = [0] * n
        for i in combo:
            exponent[i] += 1
        out.append(tuple(exponent))
    return sorted(out, reverse=True)


class NetworkJacobian:
    """Forward-mode evaluation of ``c(w)`` and ``∂c/∂w`` (all weights) for one network spec."""

    def __init__(self, spec: NetworkSpec) -> None:
        self.spec = spec
        self.algebra = XPolynomialAlgebra(spec.n, spec.degree)
        rows = max(
            2 * spec.weight_indices[number].tuples.shape[0] + layer.num_outputs + spec.input_width(number) + 1
            for number, layer in enumerate(spec.layers)
        )
        entries = self.algebra.size * rows * (spec.num_weights + 1)
        if entries > MAX_JACOBIAN_ENTRIES:
            raise SizeLimitError(
                f"the forward-mode Jacobian of {spec} needs about {entries:,} entries at once "
                f"({self.algebra.size} monomials × {rows} polynomials of its widest layer × "
                f"{spec.num_weights + 1} columns); the limit is {MAX_JACOBIAN_ENTRIES:,}",
                estimate=entries,
                limit=MAX_JACOBIAN_ENTRIES,
            )

    def evaluate(self, weights: np.ndarray, p: int | None) -> np.ndarray:
        """``(K, M, 1 + W)``: each output's coefficients (column 0) and their derivatives by each weight."""
        spec, algebra = self.spec, self.algebra
        dtype = np.int64 if p is not None else np.float64
        weights = np.asarray(weights, dtype=dtype)
        width = spec.num_weights + 1
        size = algebra.size
        units = []
        for i in range(spec.n):
            unit = np.zeros((size, width), dtype=dtype)
            unit[algebra.index[tuple(int(j == i) for j in range(spec.n))], 0] = 1
            units.append(unit)
        unit_degree = 1
        constant = np.zeros((size, width), dtype=dtype)
        constant[algebra.index[(0,) * spec.n], 0] = 1
        for number, layer in enumerate(spec.layers):
            inputs = [*units, constant] if layer.bias else units
            input_degrees = [unit_degree] * len(units) + ([0] if layer.bias else [])
            tuples = spec.weight_indices[number].tuples.tolist()
            products: dict[tuple[int, ...], tuple[np.ndarray, int]] = {}
            stack = []
            for t in tuples:
                key = tuple(sorted(t))
                if key not in products:
                    value, degree = constant, 0
                    for i in key:
                        value = algebra.multiply(value, degree, inputs[i], input_degrees[i], p)
                        degree += input_degrees[i]
                    products[key] = (value, degree)
                stack.append(products[key][0])
            stacked = np.stack(stack)  # (T, M, width)
            offset = spec.weight_offsets[number]
            count = len(tuples)
            outputs = []
            for k in range(layer.num_outputs):
                w = weights[offset + k * count : offset + (k + 1) * count]
                out = _weighted_sum(w, stacked, p)
                ids = offset + k * count + np.arange(count)
                out[:, 1 + ids] = _mod(out[:, 1 + ids] + stacked[:, :, 0].T, p)
                outputs.append(out)
            units = outputs
            unit_degree *= layer.degree
        return np.stack(units)


def _weighted_sum(w: np.ndarray, stacked: np.ndarray, p: int | None) -> np.ndarray:
    """``Σ_t w_t · stacked[t]``, reduced modulo ``p`` every ``_CHUNK`` products."""
    if p is None:
        return np.tensordot(w, stacked, axes=1)
    total = np.zeros(stacked.shape[1:], dtype=np.int64)
    for start in range(0, w.shape[0], _CHUNK):
        part = np.tensordot(w[start : start + _CHUNK], stacked[start : start + _CHUNK], axes=1)
        total = (total + part % p) % p
    return total


def matching_rows(spec: NetworkSpec, algebra: XPolynomialAlgebra) -> tuple[np.ndarray, np.ndarray]:
    """Flattened coefficient ids ``(k·M + idx α, σ(k)·M + idx β)``: each difference is one equation."""
    left, right = [], []
    size = algebra.size
    for sigma in spec.group_generators:
        for k in range(spec.num_outputs):
            target = sigma[k] if spec.equivariant else k
            for j, beta in enumerate(algebra.monomials):
                alpha = tuple(beta[sigma[i]] for i in range(spec.n))
                left.append(k * size + algebra.index[alpha])
                right.append(target * size + j)
    return np.array(left, dtype=np.int64), np.array(right, dtype=np.int64)


def rank_mod_p(matrix: np.ndarray, p: int) -> int:
    """Rank of an integer matrix modulo the prime ``p`` (Gaussian elimination, int64 residues)."""
    a = np.array(matrix, dtype=np.int64) % p
    rows, cols = a.shape
    rank = 0
    for col in range(cols):
        if rank == rows:
            break
        nonzero = np.flatnonzero(a[rank:, col])
        if nonzero.size == 0:
            continue
        pivot = rank + int(nonzero[0])
        if pivot != rank:
            a[[rank, pivot]] = a[[pivot, rank]]
        inverse = pow(int(a[rank, col]), p - 2, p)
        a[rank] = (a[rank] * inverse) % p
        below = a[rank + 1 :, col].copy()
        mask = below != 0
        if mask.any():
            a[rank + 1 :][mask] = (a[rank + 1 :][mask] - (below[mask, None] * a[rank]) % p) % p
        rank += 1
    return rank


def fraction_matrix_mod_p(matrix: np.ndarray, p: int) -> np.ndarray:
    """An object array of Fractions as residues modulo ``p`` (denominators must be units)."""
    out = np.zeros(matrix.shape, dtype=np.int64)
    for index, value in np.ndenumerate(matrix):
        value = Fraction(value)
        if value:
            out[index] = value.numerator % p * pow(value.denominator, p - 2, p) % p
    return out


def modmatmul(a: np.ndarray, b: np.ndarray, p: int) -> np.ndarray:
    """``a @ b mod p`` for residue matrices, in chunks that cannot overflow int64."""
    total = np.zeros((a.shape[0], b.shape[1]), dtype=np.int64)
    for start in range(0, a.shape[1], _CHUNK):
        total = (total + (a[:, start : start + _CHUNK] @ b[start : start + _CHUNK]) % p) % p
    return total


@dataclass
class VarietyPoint:
    """Exact ranks at one point of ``T`` modulo one prime."""

    prime: int
    equation_rank: int
    function_dim: int
    tied_function_dim: int
    residual_zero: bool


@dataclass
class VarietyMeasurement:
    """What :func:`measure_variety` found; see the module docstring for the meaning of each number."""

    spec: NetworkSpec
    num_weights: int
    num_params: int
    tied_dim: int
    points: list[VarietyPoint]
    seconds: float
    search: SearchResult | None = None

    @property
    def tangent_dim(self) -> int:
        """``#params − rank J_E``, the largest rank over the primes (each rank is a lower bound)."""
        return self.num_params - max(pt.equation_rank for pt in self.points)

    @property
    def function_dim(self) -> int:
        return max(pt.function_dim for pt in self.points)

    @property
    def tied_function_dim(self) -> int:
        return max(pt.tied_function_dim for pt in self.points)

    @property
    def variety_function_dim(self) -> int:
        return max(pt.function_dim - pt.equation_rank for pt in self.points)

    @property
    def primes_agree(self) -> bool:
        first = self.points[0]
        return all(
            (pt.equation_rank, pt.function_dim, pt.tied_function_dim)
            == (first.equation_rank, first.function_dim, first.tied_function_dim)
            for pt in self.points
        )

    @property
    def is_tied_subspace(self) -> bool:
        """True when the tangent space at the point equals ``T`` (then ``V = T`` near it)."""
        return self.tangent_dim == self.tied_dim

    @property
    def verdict(self) -> str:
        if self.is_tied_subspace:
            return "near generic tied points the variety is the tied subspace"
        extra = self.tangent_dim - self.tied_dim
        gauge = self.variety_function_dim == self.tied_function_dim
        return f"the tangent space of the variety is {extra} dimension(s) larger than T" + (
            " (to first order these directions are gauge: no new functions)"
            if gauge
            else f" and reaches {self.variety_function_dim - self.tied_function_dim} more function dims"
        )

    def summary(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "spec": self.spec.to_dict(),
            "weights": self.num_weights,
            "parameters": self.num_params,
            "tied_dim": self.tied_dim,
            "tangent_dim": self.tangent_dim,
            "function_dim": self.function_dim,
            "variety_function_dim": self.variety_function_dim,
            "tied_function_dim": self.tied_function_dim,
            "gauge_dim": self.num_params - self.function_dim,
            "primes": [pt.prime for pt in self.points],
            "primes_agree": self.primes_agree,
            "tied_point_satisfies_equations": all(pt.residual_zero for pt in self.points),
            "verdict": self.verdict,
            "seconds": round(self.seconds, 6),
        }
        if self.search is not None:
            data["search"] = self.search.summary()
        return data


class VarietyProblem:
    """The maps ``θ ↦ c(θ)`` and ``θ ↦ E(θ)`` of one network, exactly (mod p) or in float64."""

    def __init__(self, spec: NetworkSpec) -> None:
        self.spec = spec
        self.parameters = NetworkParameters(spec)
        self.jacobian = NetworkJacobian(spec)
        self.left, self.right = matching_rows(spec, self.jacobian.algebra)

    @cached_property
    def embedding_float(self) -> np.ndarray:
        return self.parameters.embedding.astype(float)

    @cached_property
    def tied_basis_float(self) -> np.ndarray:
        return self.parameters.tied_basis.astype(float)

    def coefficients_and_jacobian(self, theta: np.ndarray, p: int | None) -> tuple[np.ndarray, np.ndarray]:
        """``c(θ)`` (flattened, length K·M) and ``J_c`` (K·M × #params)."""
        if p is None:
            weights = self.embedding_float @ theta
            embedding = self.embedding_float
        else:
            embedding = fraction_matrix_mod_p(self.parameters.embedding, p)
            weights = modmatmul(embedding, np.asarray(theta, dtype=np.int64)[:, None] % p, p)[:, 0]
        values = self.jacobian.evaluate(weights, p)
        flat = values.reshape(-1, values.shape[-1])
        c, jw = flat[:, 0], flat[:, 1:]
        jc = jw @ embedding if p is None else modmatmul(jw, embedding, p)
        return c, jc

    def equations_and_jacobian(self, theta: np.ndarray, p: int | None = None) -> tuple[np.ndarray, ...]:
        """``E(θ)``, ``J_E``, ``c(θ)``, ``J_c``."""
        c, jc = self.coefficients_and_jacobian(theta, p)
        e = _mod(c[self.left] - c[self.right], p)
        je = _mod(jc[self.left] - jc[self.right], p)
        return e, je, c, jc


def random_tied_point(
    parameters: NetworkParameters, rng: np.random.Generator, bound: int = 2**20
) -> np.ndarray:
    """Exact rational parameters ``θ = B_T τ`` for a random integer ``τ`` (object array of Fractions)."""
    tau = [Fraction(int(v)) for v in rng.integers(-bound, bound + 1, size=parameters.tied_dim)]
    basis = parameters.tied_basis
    return np.array(
        [
            sum((basis[i, j] * tau[j] for j in range(len(tau)) if basis[i, j]), Fraction(0))
            for i in range(basis.shape[0])
        ],
        dtype=object,
    )


def measure_variety(
    spec: NetworkSpec, *, seed: int = 0, primes: tuple[int, ...] = PRIMES, search: bool = True
) -> VarietyMeasurement:
    """Exact tangent, function and tied dimensions at a random rational point of ``T``.

    When the tangent space is larger than ``T`` and ``search`` is set, :func:`search_outside_tied`
    looks for an equivariant network outside ``T``.
    """
    started = time.perf_counter()
    problem = VarietyProblem(spec)
    parameters = problem.parameters
    rng = np.random.default_rng(seed)
    theta = random_tied_point(parameters, rng)
    points = []
    for p in primes:
        theta_p = np.array(
            [int(v.numerator % p * pow(v.denominator, p - 2, p) % p) for v in theta], dtype=np.int64
        )
        e, je, _, jc = problem.equations_and_jacobian(theta_p, p)
        tied = fraction_matrix_mod_p(parameters.tied_basis, p)
        points.append(
            VarietyPoint(
                prime=p,
                equation_rank=rank_mod_p(je, p),
                function_dim=rank_mod_p(jc, p),
                tied_function_dim=rank_mod_p(modmatmul(jc, tied, p), p),
                residual_zero=not np.any(e),
            )
        )
    measurement = VarietyMeasurement(
        spec=spec,
        num_weights=spec.num_weights,
        num_params=parameters.num_params,
        tied_dim=parameters.tied_dim,
        points=points,
        seconds=0.0,
    )
    if search and not measurement.is_tied_subspace:
        measurement.search = search_outside_tied(problem, seed=seed)
    measurement.seconds = time.perf_counter() - started
    return measurement


# ---------------------------------------------------------------------- search for V \ T


@dataclass
class SearchResult:
    """An equivariant network found by moving off ``T`` and projecting back onto ``V`` (float64)."""

    found: bool
    theta: np.ndarray
    residual: float
    distance_to_tied: float
    layers_equivariant: list[bool]
    new_function: bool | None
    function_fit_residual: float
    message: str

    def summary(self) -> dict[str, Any]:
        return {
            "found": self.found,
            "equation_residual": self.residual,
            "distance_to_tied": self.distance_to_tied,
            "layers_individually_equivariant": self.layers_equivariant,
            "new_function": self.new_function,
            "function_fit_residual": self.function_fit_residual,
            "message": self.message,
            "parameters": [float(v) for v in self.theta],
        }


def _gauss_newton(
    residual_and_jacobian: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    x: np.ndarray,
    iterations: int = 100,
    tolerance: float = 1e-14,
) -> tuple[np.ndarray, float]:
    """Minimum-norm Gauss–Newton steps until ``max |r| < tolerance`` or five steps without progress."""
    best_x, best = x, math.inf
    stalled = 0
    for _ in range(iterations):
        r, j = residual_and_jacobian(x)
        current = float(np.max(np.abs(r))) if r.size else 0.0
        if current < best:
            best_x, best, stalled = x, current, (stalled + 1 if current > 0.9 * best else 0)
        else:
            stalled += 1
        if best < tolerance or stalled >= 5 or not np.isfinite(current):
            break
        step, *_ = np.linalg.lstsq(j, -r, rcond=None)
        for _ in range(8):  # halve a step that does not reduce the residual (damped Gauss–Newton)
            r_next, _ = residual_and_jacobian(x + step)
            if r_next.size == 0 or float(np.max(np.abs(r_next))) < current:
                break
            step = step / 2
        x = x + step
    return best_x, best


def _orthonormal(matrix: np.ndarray) -> np.ndarray:
    if matrix.shape[1] == 0:
        return matrix
    u, s, _ = np.linalg.svd(matrix, full_matrices=False)
    return u[:, s > 1e-10 * s.max()]


def _directions_off_tied(problem: VarietyProblem, theta0: np.ndarray, tied_q: np.ndarray) -> np.ndarray:
    """Orthonormal tangent directions of ``V`` at ``θ₀`` (null space of ``J_E(θ₀)``) orthogonal to ``T``."""
    _, je, _, _ = problem.equations_and_jacobian(theta0)
    _, s, vt = np.linalg.svd(je, full_matrices=je.shape[0] < je.shape[1])
    rank = int(np.sum(s > 1e-9 * (s.max() if s.size else 1.0)))
    null = vt[rank:].T
    return _orthonormal(null - tied_q @ (tied_q.T @ null))


#: Step lengths (× the typical parameter size) tried from each tied start point.
SEARCH_STEPS = (1.0, 1.0, 0.5, 0.5, 0.2, 0.2)


def search_outside_tied(problem: VarietyProblem, *, seed: int = 0, step: float = 0.5,
                        starts: int = 4) -> SearchResult:
    """Move from a float point of ``T`` along tangent directions of ``V`` not in ``T`` and project back.

    1. ``θ₀ = B_T τ`` with ``τ ~ N(0, 1)``; the tangent directions are the null space of ``J_E(θ₀)``
       (SVD), minus their component in ``T``.
    2. ``θ = θ₀ + length·d`` for a random unit combination ``d`` of them, then Gauss–Newton on
       ``E(θ) = 0`` (minimum-norm least-squares steps, damped when a full step does not reduce the
       residual); found when ``max |E| ≤ 1e-10 · max |c|`` and ``θ ∉ T``.  Six tries per start
       point (lengths ``step × SEARCH_STEPS``), at up to ``starts`` start points: at singular tied
       points (linearly dependent hidden units) many directions lead nowhere.
    3. New function or gauge: fit ``c(B_T τ) ≈ c(θ)`` over ``τ`` by Gauss–Newton from the projection
       of ``θ`` onto ``T`` and a few random starts; a relative fit residual below 1e-8 means the
       found network computes a tied network's function.
    """
    rng = np.random.default_rng(seed + 1)
    params = problem.parameters
    tied = problem.tied_basis_float
    tied_q = _orthonormal(tied)

    def equations(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        e, je, _, _ = problem.equations_and_jacobian(theta)
        return e, je

    found = False
    theta = tied @ rng.standard_normal(tied.shape[1])
    relative = distance = 0.0
    tries = 0
    for _ in range(starts):
        theta0 = tied @ rng.standard_normal(tied.shape[1])
        off = _directions_off_tied(problem, theta0, tied_q)
        if off.shape[1] == 0:
            return SearchResult(False, theta0, 0.0, 0.0, [], None, 0.0, "no tangent direction of V outside T")
        scale = np.linalg.norm(theta0) / math.sqrt(len(theta0))
        for length in SEARCH_STEPS:
            tries += 1
            direction = off @ rng.standard_normal(off.shape[1])
            direction /= np.linalg.norm(direction)
            start = theta0 + step * length * scale * direction
            _, _, c_start, _ = problem.equations_and_jacobian(start)
            tolerance = 1e-13 * float(np.max(np.abs(c_start)))
            theta, residual = _gauss_newton(equations, start, tolerance=tolerance)
            _, _, c, _ = problem.equations_and_jacobian(theta)
            relative = residual / max(float(np.max(np.abs(c))), 1e-300)
            distance = float(np.linalg.norm(theta - tied_q @ (tied_q.T @ theta)) / np.linalg.norm(theta))
            found = relative <= 1e-10 and distance > 1e-6
            if found:
                break
        if found:
            break
    layers = []
    for number in range(len(problem.spec.layers)):
        p0, p1 = params.param_offsets[number], params.param_offsets[number + 1]
        block = _orthonormal(tied[p0:p1][:, np.any(tied[p0:p1] != 0, axis=0)])
        part = theta[p0:p1]
        layers.append(
            bool(np.linalg.norm(part - block @ (block.T @ part)) <= 1e-8 * max(np.linalg.norm(part), 1))
        )
    if not found:
        message = (
            f"projection did not converge in {tries} tries (last relative residual {relative:.2e})"
            if relative > 1e-10
            else f"projection fell back onto T ({tries} tries)"
        )
        return SearchResult(False, theta, relative, distance, layers, None, math.nan, message)

    def fit(tau: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ct, jc = problem.coefficients_and_jacobian(tied @ tau, None)
        return ct - c, jc @ tied

    starts = [np.linalg.lstsq(tied, theta, rcond=None)[0]] + [
        rng.standard_normal(tied.shape[1]) for _ in range(4)
    ]
    best = math.inf
    size = max(float(np.max(np.abs(c))), 1e-300)
    for start in starts:
        _, value = _gauss_newton(fit, start, iterations=80, tolerance=1e-13 * size)
        best = min(best, value / size)
        if best <= 1e-8:
            break
    new_function = best > 1e-8
    message = "found an equivariant network whose layers are not all individually equivariant; " + (
        f"it computes a function no tied network near it computes (fit residual {best:.2e})"
        if new_function
        else f"it computes the same function as a tied network (gauge; fit residual {best:.2e})"
    )
    return SearchResult(True, theta, relative, distance, layers, new_function, best, message)


def evaluate_network(spec: NetworkSpec, weights: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Numeric forward pass, ``x`` of shape (batch, n) → (batch, outputs), float64."""
    h = np.asarray(x, dtype=float)
    for number, layer in enumerate(spec.layers):
        inputs = np.concatenate([h, np.ones((h.shape[0], 1))], axis=1) if layer.bias else h
        tuples = spec.weight_indices[number].tuples
        features = np.prod(inputs[:, tuples], axis=2) if tuples.shape[1] else np.ones((h.shape[0], 1))
        offset, count = spec.weight_offsets[number], tuples.shape[0]
        w = np.asarray(weights[offset : offset + layer.num_outputs * count], dtype=float)
        h = features @ w.reshape(layer.num_outputs, count).T
    return h
