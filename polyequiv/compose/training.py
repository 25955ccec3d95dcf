"""Training a network inside the variety ``V`` of equivariant networks, three ways (numpy, float64).

The output is linear in the coefficients: ``y_k(x) = Σ_α c_{k,α}(θ) x^α = Φ(x) c_k``, so the loss
``L = mean (y − target)²`` has ``∇_θ L = J_cᵀ ∇_c L`` with ``J_c`` the forward-mode Jacobian of
:mod:`polyequiv.compose.variety`.  The methods (Adam steps on the parameters):

``tied``
    ``θ = B_T τ``; train ``τ`` (every layer individually equivariant, the baseline).
``penalty``
    train ``θ`` freely on ``L + λ |E(θ)|²`` (``E`` the equations), from the same tied start.
``projected``
    project the gradient on the tangent space ``ker J_E(θ)``, step, then retract onto ``V`` with
    Gauss–Newton on ``E(θ) = 0`` (minimum-norm steps).

Each run reports the test MSE, the equivariance residual on random elements of the whole group,
``max |f(σ·x) − σ·f(x)| / max |f(x)|`` (invariant: ``σ·f = f``), the number of trained
parameters and the time.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from polyequiv import groups
from polyequiv.compose.network import NetworkSpec
from polyequiv.compose.variety import VarietyProblem, evaluate_network
from polyequiv.errors import SpecError
from polyequiv.tasks.sets import TASKS

METHODS = ("tied", "penalty", "projected")


@dataclass
class VarietyRun:
    """One training run (see the module docstring)."""

    method: str
    task: str
    trained_parameters: int
    steps: int
    train_mse: float
    test_mse: float
    equation_residual: float
    equivariance_residual: float
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def task_data(spec: NetworkSpec, task: str, samples: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """``x`` uniform in the task's range, shape (samples, n), and the targets, shape (samples, outputs)."""
    if task not in TASKS:
        raise SpecError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    definition = TASKS[task]
    if definition.equivariant != spec.equivariant:
        kinds = {True: "equivariant", False: "invariant"}
        raise SpecError(
            f"task {task!r} is {kinds[definition.equivariant]}, the network is {kinds[spec.equivariant]}"
        )
    x = rng.uniform(definition.low, definition.high, size=(samples, spec.n))
    targets = np.asarray(definition.target(x, np.ones_like(x, dtype=bool)), dtype=float)
    return x, targets.reshape(samples, -1)


def _features(problem: VarietyProblem, x: np.ndarray) -> np.ndarray:
    monomials = np.array(problem.jacobian.algebra.monomials)  # (M, n)
    return np.prod(x[:, None, :] ** monomials[None, :, :], axis=2)


def equivariance_residual(
    spec: NetworkSpec, weights: np.ndarray, x: np.ndarray, rng: np.random.Generator, elements: int = 16
) -> float:
    """``max_σ max |f(σ·x) − σ·f(x)| / max |f(x)|`` over ``elements`` random elements of the whole group."""
    y = evaluate_network(spec, weights, x)
    scale = max(float(np.abs(y).max()), 1e-300)
    worst = 0.0
    for sigma in groups.random_group_elements(spec.n, spec.group_generators, elements, rng):
        moved = evaluate_network(spec, weights, x[:, sigma])
        expected = y[:, sigma] if spec.equivariant else y
        worst = max(worst, float(np.abs(moved - expected).max()) / scale)
    return worst


def train_in_variety(
    spec: NetworkSpec,
    task: str,
    method: str,
    *,
    steps: int = 400,
    learning_rate: float = 0.02,
    penalty: float = 10.0,
    samples: int = 512,
    seed: int = 0,
) -> VarietyRun:
    """Train ``spec`` on ``task`` with ``method`` (``tied``, ``penalty`` or ``projected``)."""
    if method not in METHODS:
        raise SpecError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    problem = VarietyProblem(spec)
    x_train, t_train = task_data(spec, task, samples, rng)
    x_test, t_test = task_data(spec, task, samples, rng)
    phi = _features(problem, x_train)
    outputs, size = spec.num_outputs, problem.jacobian.algebra.size
    basis = problem.tied_basis_float
    tau = 0.5 * rng.standard_normal(basis.shape[1]) / np.sqrt(max(basis.shape[1], 1))
    theta = basis @ tau

    def loss_gradient(theta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
        e, je, c, jc = problem.equations_and_jacobian(theta)
        residual = phi @ c.reshape(outputs, size).T - t_train  # (samples, outputs)
        grad_c = (2.0 / residual.size) * (phi.T @ residual).T.reshape(-1)
        return float(np.mean(residual**2)), jc.T @ grad_c, e, je

    variable = tau if method == "tied" else theta
    first, second = np.zeros_like(variable), np.zeros_like(variable)
    for step in range(1, steps + 1):
        current = basis @ variable if method == "tied" else variable
        _, grad, e, je = loss_gradient(current)
        if method == "tied":
            grad = basis.T @ grad
        elif method == "penalty":
            grad = grad + 2.0 * penalty * je.T @ e
        else:
            grad = tangent_component(je, grad)
        first = 0.9 * first + 0.1 * grad
        second = 0.999 * second + 0.001 * grad**2
        update = learning_rate * (first / (1 - 0.9**step)) / (np.sqrt(second / (1 - 0.999**step)) + 1e-8)
        variable = variable - update
        if method == "projected":
            variable = retract(problem, variable)
    theta = basis @ variable if method == "tied" else variable
    train_mse, _, e, _ = loss_gradient(theta)
    weights = problem.embedding_float @ theta
    prediction = evaluate_network(spec, weights, x_test)
    return VarietyRun(
        method=method,
        task=task,
        trained_parameters=int(variable.shape[0]),
        steps=steps,
        train_mse=train_mse,
        test_mse=float(np.mean((prediction - t_test) ** 2)),
        equation_residual=float(np.abs(e).max()) if e.size else 0.0,
        equivariance_residual=equivariance_residual(spec, weights, x_test, rng),
        seconds=time.perf_counter() - started,
    )


def tangent_component(je: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """``g − J_E⁺ J_E g``: the component of ``g`` in ``ker J_E`` (the tangent space of ``V``).

    ``J_E⁺ J_E`` is the orthogonal projection onto the row space ``(ker J_E)^⊥``.
    """
    if not je.size:
        return grad
    correction, *_ = np.linalg.lstsq(je, je @ grad, rcond=None)
    return grad - correction


def retract(problem: VarietyProblem, theta: np.ndarray, iterations: int = 4) -> np.ndarray:
    """Gauss–Newton (minimum-norm steps) back onto ``E(θ) = 0``, to ``max |E| ≤ 1e-13 · max |c|``."""
    for _ in range(iterations):
        e, je, c, _ = problem.equations_and_jacobian(theta)
        if not e.size or np.abs(e).max() <= 1e-13 * max(float(np.abs(c).max()), 1e-300):
            break
        fix, *_ = np.linalg.lstsq(je, -e, rcond=None)
        theta = theta + fix
    return theta


def compare_methods(spec: NetworkSpec, task: str, **options: Any) -> list[VarietyRun]:
    """:func:`train_in_variety` with every method, same data and same tied start."""
    return [train_in_variety(spec, task, method, **options) for method in METHODS]
