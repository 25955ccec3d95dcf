"""Numerical verification of a derivation, on the whole group and not only its generators.

1. Draw one random value per free parameter, spread it over the classes with
   the exact basis (so the additive constraints hold), and evaluate the layer
   in float64.
2. For random elements ``σ`` of the *whole* group (uniform, from the
   stabiliser chain) and random inputs ``x``, check ``f(σ·x) = σ·f(x)``
   (``f(σ·x) = f(x)`` when invariant), with ``(σ·x)_i = x_{σ(i)}``.
3. Perturb a single constrained weight and check that equivariance breaks, so
   that the check in 2 could have failed.
4. Compare the count with an independent one (Burnside's lemma on slots, see
   :mod:`polyequiv.orbits`; for Sₙ beyond 40 elements the partition closed form,
   or for tensors the n-free patterns of :mod:`polyequiv.patterns`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from polyequiv import groups
from polyequiv.derivation import Derivation
from polyequiv.engines.sparse import slot_pairs
from polyequiv.errors import SizeLimitError, SpecError
from polyequiv.graph import component_labels
from polyequiv.indexing import WeightIndex
from polyequiv.orbits import (
    MAX_ENUMERATED_ORDER,
    MAX_SYMMETRIC_N,
    burnside_orbit_count,
    symmetric_closed_form,
)
from polyequiv.patterns import count_by_patterns

#: Relative residual below which a layer counts as equivariant in float64.
TOLERANCE = 1e-9
#: Relative residual above which a perturbed layer counts as broken.
BREAK_THRESHOLD = 1e-4
#: Entries of the largest float64 array verification may allocate (group elements × n, inputs × tuples).
MAX_VERIFY_ENTRIES = 50_000_000


def evaluate_layer(index: WeightIndex, weights: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``y_k = Σ_t W^k_t Π_j x_{t_j}`` for a batch ``x`` of shape ``(batch, coordinates)``.

    Returns ``(batch, outputs)`` when equivariant, ``(batch,)`` when invariant; for a set
    both sizes are ``n``, for tensors they count coordinates (:mod:`polyequiv.reps`).
    """
    x = np.asarray(x, dtype=np.float64)
    if index.spec.bias:
        x = np.concatenate([x, np.ones((x.shape[0], 1))], axis=1)
    products = np.ones((x.shape[0], index.num_tuples))
    for column in range(index.tuples.shape[1]):
        products *= x[:, index.tuples[:, column]]
    y = products @ np.asarray(weights, dtype=np.float64).reshape(index.num_outputs, index.num_tuples).T
    return y if index.spec.equivariant else y[:, 0]


def random_tied_weights(result: Derivation, rng: np.random.Generator) -> np.ndarray:
    """A random weight vector in the derived subspace: classes from the exact basis, one value each."""
    theta = rng.standard_normal(len(result.free_basis))
    class_values = np.zeros(result.distinct_weights)
    for coefficient, vector in zip(theta, result.free_basis, strict=True):
        for cls, value in vector.items():
            class_values[cls] += coefficient * float(value)
    return class_values[result.graph.class_of_weight]


def equivariance_residual(
    index: WeightIndex, weights: np.ndarray, elements: np.ndarray, x: np.ndarray
) -> float:
    """``max |f(σ·x) − σ·f(x)| / max |f(x)|`` over the given group elements (rows of array forms
    on the n elements; σ acts on tensor coordinates index-wise, :mod:`polyequiv.reps`)."""
    fx = evaluate_layer(index, weights, x)
    scale = max(float(np.abs(fx).max()), 1e-300)
    worst = 0.0
    spec = index.spec
    for sigma in elements:
        lhs = evaluate_layer(index, weights, x[:, spec.input.permutation_array(sigma)])
        rhs = fx[:, spec.output.permutation_array(sigma)] if spec.equivariant else fx
        worst = max(worst, float(np.abs(lhs - rhs).max()) / scale)
    return worst


@dataclass
class VerificationReport:
    """What :func:`verify` checked and found."""

    spec: str
    group_order: int
    elements_checked: int
    inputs_checked: int
    max_residual: float
    perturbed_weight: str | None
    perturbed_residual: float | None
    count_method: str
    independent_count: int | None
    derived_count: int
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["passed"] = self.passed
        return data

    def lines(self) -> list[str]:
        lines = [
            f"layer                {self.spec}",
            f"group elements       {self.elements_checked} random elements of a group of order "
            f"{self.group_order:,} (+ generators), {self.inputs_checked} random inputs",
            f"equivariance error   {self.max_residual:.2e} (tolerance {TOLERANCE:.0e})",
        ]
        if self.perturbed_weight is None:
            lines.append("perturbation         skipped: the group moves no weight, nothing to break")
        else:
            lines.append(
                f"perturbation         {self.perturbed_weight} + 1 gives error {self.perturbed_residual:.2e}"
                f" (must exceed {BREAK_THRESHOLD:.0e})"
            )
        if self.independent_count is None:
            lines.append(f"independent count    skipped ({self.count_method})")
        else:
            lines.append(
                f"independent count    {self.independent_count} by {self.count_method}, "
                f"derived {self.derived_count}"
            )
        lines.append(
            "result               " + ("PASS" if self.passed else "FAIL: " + "; ".join(self.problems))
        )
        return lines


def verify(result: Derivation, *, elements: int = 20, inputs: int = 8, seed: int = 0) -> VerificationReport:
    """Check ``result`` numerically on random elements of the whole group; see the module docstring.

    Raises
    ------
    SpecError
        For ``elements`` or ``inputs`` below 1 or not integers, or a negative ``seed``.
    SizeLimitError
        When the sampled elements or the input products would exceed :data:`MAX_VERIFY_ENTRIES`.
    """
    spec, index = result.spec, result.index
    _check_sizes(spec.n, index.num_tuples, elements=elements, inputs=inputs, seed=seed)
    rng = np.random.default_rng(seed)
    sampled = groups.random_group_elements(spec.n, spec.group_generators, elements, rng)
    generators = np.array(spec.group_generators, dtype=np.int64).reshape(-1, spec.n)
    all_elements = np.concatenate([generators, sampled])
    x = rng.standard_normal((inputs, spec.num_coordinates))
    weights = random_tied_weights(result, rng)
    residual = equivariance_residual(index, weights, all_elements, x)
    problems = []
    if not residual <= TOLERANCE:
        problems.append(f"equivariance error {residual:.2e} exceeds {TOLERANCE:.0e}")

    target = _constrained_weight(index)
    perturbed_name, perturbed_residual = None, None
    if target is not None:
        broken = weights.copy()
        broken[target] += 1.0
        perturbed_name = index.weight_name(target)
        perturbed_residual = equivariance_residual(index, broken, all_elements, x)
        if not perturbed_residual > BREAK_THRESHOLD:
            problems.append(f"perturbing {perturbed_name} did not break equivariance")

    method, independent, derived = _independent_count(result)
    if independent is not None and independent != derived:
        problems.append(f"derived count {derived} differs from {method} count {independent}")
    return VerificationReport(
        spec=str(spec),
        group_order=result.group_order,
        elements_checked=elements,
        inputs_checked=inputs,
        max_residual=residual,
        perturbed_weight=perturbed_name,
        perturbed_residual=perturbed_residual,
        count_method=method,
        independent_count=independent,
        derived_count=derived,
        problems=problems,
    )


def _check_sizes(n: int, num_tuples: int, *, elements: int, inputs: int, seed: int) -> None:
    for name, value, minimum in (("elements", elements, 1), ("inputs", inputs, 1), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
            raise SpecError(f"{name} must be an integer ≥ {minimum}, got {value!r}")
    for what, entries in (("group elements", elements * n), ("input products", inputs * num_tuples)):
        if entries > MAX_VERIFY_ENTRIES:
            raise SizeLimitError(
                f"verification would hold {entries:,} {what} ({elements:,} elements, {inputs:,} inputs); "
                f"the limit is {MAX_VERIFY_ENTRIES:,}. Use fewer --elements or --inputs",
                estimate=entries,
                limit=MAX_VERIFY_ENTRIES,
            )


def _constrained_weight(index: WeightIndex) -> int | None:
    """The first weight whose slot the group moves (changing it alone must break equivariance)."""
    pairs = slot_pairs(index)
    if pairs.shape[0] == 0:
        return None
    orbit = component_labels(index.num_slots, pairs)
    sizes = np.bincount(orbit)
    slots = index.slot_of_weight(np.arange(index.num_weights))
    candidates = np.nonzero(sizes[orbit[slots]] > 1)[0]
    return int(candidates[0]) if candidates.size else None


def _independent_count(result: Derivation) -> tuple[str, int | None, int]:
    """Burnside (or the Sₙ closed form) against function_dim, which for every indexing
    equals the number of slot orbits."""
    spec = result.spec
    derived = result.function_dim
    if spec.group == "symmetric" and spec.n > MAX_SYMMETRIC_N and spec.is_set_layer:
        closed = symmetric_closed_form(spec.n, spec.degree, bias=spec.bias, equivariant=spec.equivariant)
        return "the partition closed form", closed, derived
    if spec.group == "symmetric" and spec.n > MAX_SYMMETRIC_N:
        # function_dim is the number of slot orbits for every indexing: count them by patterns
        ordered = dataclasses.replace(spec, indexing="ordered", gauge="none")
        return "the n-free partition patterns", count_by_patterns(ordered).free_parameters, derived
    if spec.group != "symmetric" and result.group_order > MAX_ENUMERATED_ORDER:
        return f"group order above {MAX_ENUMERATED_ORDER:,}", None, derived
    return "Burnside's lemma", burnside_orbit_count(spec), derived
