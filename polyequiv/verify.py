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
from polyequiv.matrix_elements import (
    Element,
    action_matrices,
    character_count,
    generator_elements,
    random_elements,
)
from polyequiv.matrix_spec import MatrixLayerSpec
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
    group_order: int | None
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
        order = "infinite order" if self.group_order is None else f"order {self.group_order:,}"
        lines = [
            f"layer                {self.spec}",
            f"group elements       {self.elements_checked} random elements of a group of {order} "
            f"(+ generators), {self.inputs_checked} random inputs",
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
    if isinstance(spec, MatrixLayerSpec):
        return _verify_matrix(result, elements=elements, inputs=inputs, seed=seed)
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

    perturbed_name, perturbed_residual = _perturb(
        index, weights, _constrained_weight(index),
        lambda w: equivariance_residual(index, w, all_elements, x), problems,
    )

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


def matrix_equivariance_residual(
    index: WeightIndex, weights: np.ndarray, elements: list[Element], x: np.ndarray
) -> float:
    """``max |f(ρ_in(h) x) − ρ_out(h) f(x)| / max |f(x)|`` over matrix-group elements ``h = (σ, g)``
    (:mod:`polyequiv.matrix_elements`); ``ρ_out f(x)`` is ``f(x)`` for an invariant.

    The scale is at least 10⁻³ of ``max Σ_t |W_t x^t|``, the size of the terms before they cancel, so a
    layer whose function is zero (full indexing with ``function_dim = 0``: only gauge directions) is
    measured by its rounding error rather than by 0/0."""
    fx = evaluate_layer(index, weights, x)
    terms = evaluate_layer(index, np.abs(weights), np.abs(x))
    scale = max(float(np.abs(fx).max()), 1e-3 * float(np.abs(terms).max()), 1e-300)
    worst = 0.0
    for element in elements:
        rho_in, rho_out = action_matrices(index.spec, element)
        lhs = evaluate_layer(index, weights, x @ rho_in.T)
        rhs = fx @ rho_out.T if index.spec.equivariant else fx
        worst = max(worst, float(np.abs(lhs - rhs).max()) / scale)
    return worst


def _verify_matrix(result: Derivation, *, elements: int, inputs: int, seed: int) -> VerificationReport:
    """:func:`verify` for a matrix group: the generators (``exp(0.3 A)`` for Lie ones) and random elements
    ``exp(Σ c_i A_i)·w`` in float64, a perturbed weight, and the character count for finite groups."""
    spec, index = result.spec, result.index
    _check_sizes(spec.num_inputs, index.num_tuples, elements=elements, inputs=inputs, seed=seed)
    rng = np.random.default_rng(seed)
    checked = generator_elements(spec) + random_elements(spec, elements, rng)
    x = rng.standard_normal((inputs, spec.num_coordinates))
    weights = random_tied_weights(result, rng)
    residual = matrix_equivariance_residual(index, weights, checked, x)
    problems = [] if residual <= TOLERANCE else [f"equivariance error {residual:.2e} exceeds {TOLERANCE:.0e}"]
    perturbed_name, perturbed_residual = _perturb(
        index, weights, _first_constrained_weight(result),
        lambda w: matrix_equivariance_residual(index, w, checked, x), problems,
    )
    independent = character_count(spec)
    if independent is None:
        method = (f"continuous group (Lie algebra of dimension {spec.group.matrix.lie_dim})"
                  if spec.group.matrix.lie else "group too large to enumerate")
    else:
        method = "character averaging (Molien)"
        if independent != result.function_dim:
            problems.append(f"derived count {result.function_dim} differs from {method} count {independent}")
    return VerificationReport(
        spec=str(spec), group_order=result.group_order, elements_checked=elements, inputs_checked=inputs,
        max_residual=residual, perturbed_weight=perturbed_name, perturbed_residual=perturbed_residual,
        count_method=method, independent_count=independent, derived_count=result.function_dim,
        problems=problems,
    )


def _perturb(
    index: WeightIndex, weights: np.ndarray, target: int | None, residual_of, problems: list[str]
) -> tuple[str | None, float | None]:
    """Add 1 to weight ``target``: the residual ``residual_of(weights)`` must then exceed
    :data:`BREAK_THRESHOLD` (else a problem is recorded).  Returns the weight's name and that residual."""
    if target is None:
        return None, None
    broken = weights.copy()
    broken[target] += 1.0
    name, residual = index.weight_name(target), residual_of(broken)
    if not residual > BREAK_THRESHOLD:
        problems.append(f"perturbing {name} did not break equivariance")
    return name, residual


def _first_constrained_weight(result: Derivation) -> int | None:
    """A weight that some equation involves: moving it alone changes a constrained coefficient, so the
    layer must stop being equivariant (gauge ties excluded)."""
    system = result.system
    candidates = [system.equalities.reshape(-1), system.additive_weights]
    present = np.concatenate(candidates) if any(c.size for c in candidates) else np.zeros(0, np.int64)
    return int(present.min()) if present.size else None


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
