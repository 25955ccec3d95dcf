"""Physics tasks (a domain of :mod:`polyequiv.tasks`): EMLP's three synthetic problems, made from their
definitions.

Finzi, Welling & Wilson, "A Practical Method for Constructing Equivariant Multilayer Perceptrons for
Arbitrary Matrix Groups" (ICML 2021), §7: the data are drawn as in their ``emlp/datasets.py``
(the distributions and formulas below; the code here is written from them).  Inputs are the flat
coordinates of :mod:`polyequiv.matrix_reps` for the task's group and input representation; outputs
likewise.

``inertia``
    Five masses ``m_i = softplus(z_i)`` and positions ``r_i`` (``z``, ``r`` standard normal) →
    the inertia tensor ``Σ_i m_i (|r_i|² I − r_i r_iᵀ)`` (9 entries, row-major).
    Group ``S(5) x O(3)``, ``V⊗1 + V⊗V -> 1⊗V2``, degree 3.
``particle-interaction``
    Four four-momenta ``p₁ … p₄ ~ N(0, I/16)`` (time first) → the e⁻μ⁻ scattering ``|M|²`` (below).
    Group ``O(1,3)``, ``4*V -> 1``, degree 4.
``o5-synthetic``
    Two vectors ``x₁, x₂ ~ N(0, I₅)`` → ``sin|x₁| − |x₂|³/2 + x₁·x₂ / (|x₁||x₂|)`` (not a
    polynomial).  Group ``O(5)``, ``2*V -> 1``; the derived layer has degree ≤ 6.

The e⁻μ⁻ amplitude, with the Minkowski metric ``η = diag(1, −1, −1, −1)`` and ``p·q = pᵀηq``:
the electron tensor ``L_e^{ab} = p₁^a p₃^b − (p₁·p₃ − p₁·p₁) η^{ab}`` and the muon tensor
``L^μ_{ab} = (ηp₂)_a (ηp₄)_b − (p₂·p₄ − p₂·p₂) η_{ab}`` are contracted, ``|M|² = 4 Σ_ab L_e^{ab}
L^μ_{ab}``.  Expanded: ``4[(p₁·p₂)(p₃·p₄) − (p₂·p₄ − p₂²)(p₁·p₃) − (p₁·p₃ − p₁²)(p₂·p₄) + 4(p₁·p₃ −
p₁²)(p₂·p₄ − p₂²)]``, a quartic Lorentz invariant (EMLP's dataset; the textbook amplitude also
divides by the propagator ``q⁴``, which EMLP leaves out).

EMLP states the inertia task's group as O(3) only; the masses and positions are also exchangeable,
so the layer here is derived for ``S(5) x O(3)`` (fewer weights, the same law) and, being n-free,
is tested on clouds of other sizes (``cardinalities``).  The other two tasks have no points: their
test split is keyed by 1.

The splits come from ``numpy.random.default_rng([seed, 13, stream])``; targets are float64, exact
on the float64 inputs.  ``scale`` multiplies every input before the target is computed (the
check ``polyequiv explain`` makes far outside the training range).

    >>> task = make(TASKS["inertia"], seed=0, quick=True)
    >>> task.train.values.shape, task.train.targets.shape, sorted(task.test)
    ((300, 20), (300, 9), [5])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from polyequiv.tasks.base import TaskError, TaskSizes

#: Minkowski metric of the particle task (time first).
MINKOWSKI = np.diag([1.0, -1.0, -1.0, -1.0])


@dataclass(frozen=True)
class PhysicsBatch:
    """Inputs and targets of one split.

    Attributes
    ----------
    values : numpy.ndarray
        ``(m, coordinates)`` float64: the flat coordinates of the input representation.
    mask : numpy.ndarray
        All ``True``: ``(m, outputs)`` for a tensor target, ``(m,)`` for an invariant.
    targets : numpy.ndarray
        ``(m, outputs)`` (row-major tensor entries) or ``(m,)``, float64.
    points : int
        Points per sample (1 for tasks without a permutation factor).
    spec : str
        The layer spec whose group and representations the coordinates follow (at ``points``).
    """

    values: np.ndarray
    mask: np.ndarray
    targets: np.ndarray
    points: int
    spec: str

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def take(self, rows: np.ndarray | slice) -> PhysicsBatch:
        return PhysicsBatch(self.values[rows], self.mask[rows], self.targets[rows], self.points, self.spec)

    def acted_on(self, rng: np.random.Generator) -> tuple[PhysicsBatch, Callable[[np.ndarray], np.ndarray]]:
        """Every sample moved by its own random group element ``h`` (:mod:`polyequiv.matrix_elements`),
        and the map taking predictions ``f(x)`` to what an equivariant model predicts on ``h·x``:
        ``ρ_out(h) f(x)`` row by row (the identity for an invariant)."""
        from polyequiv.matrix_elements import action_matrices, random_elements
        from polyequiv.matrix_spec import MatrixLayerSpec

        spec = MatrixLayerSpec.parse(self.spec)
        actions = [action_matrices(spec, element) for element in random_elements(spec, len(self), rng)]
        moved = np.stack([rho_in @ x for (rho_in, _), x in zip(actions, self.values, strict=True)])

        def expected(predictions: np.ndarray) -> np.ndarray:
            if predictions.ndim == 1:
                return predictions
            return np.stack([rho_out @ y for (_, rho_out), y in zip(actions, predictions, strict=True)])

        return PhysicsBatch(moved, self.mask, self.targets, self.points, self.spec), expected

    def padded(self, extra: int) -> None:
        """Physics samples have no padding (the diagnostics then report ``padding_shift`` as ``None``)."""
        return None


Generator = Callable[[np.random.Generator, int, int, float], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class PhysicsTaskDefinition:
    """One named physics task: its group and representations, the degree of its derived layer, sizes.

    ``group`` names the permutation factor with ``{n}`` (``"S({n}) x O(3)"``); ``degree`` and ``bias``
    are those of the ``tied-poly`` model's layer; ``size_agnostic`` tasks may be tested on other
    numbers of points.
    """

    name: str
    formula: str
    group: str
    input: str
    output: str
    degree: int
    bias: bool
    points: int
    generate: Generator
    full: TaskSizes
    quick: TaskSizes
    reference: str = ""
    size_agnostic: bool = False
    elements: str = "geometric"
    classification: bool = False

    @property
    def equivariant(self) -> bool:
        return self.output.strip() != "1"

    @property
    def discrete(self) -> bool:
        return False

    def layer_spec(self, points: int | None = None) -> str:
        """The derived layer's spec string at ``points`` (default: the task's)."""
        group = self.group.format(n=points or self.points)
        return f"{group} {_degree_word(self.degree)} ordered {self.input} -> {self.output}" + (
            " +bias" if self.bias else "")


def _degree_word(degree: int) -> str:
    return {1: "linear", 2: "quadratic", 3: "cubic", 4: "quartic"}.get(degree, f"degree-{degree}")


@dataclass(frozen=True)
class PhysicsTask:
    """A generated physics task: definition, sizes, seed and splits (test keyed by points per sample)."""

    definition: PhysicsTaskDefinition
    sizes: TaskSizes
    seed: int
    train: PhysicsBatch
    valid: PhysicsBatch | None
    test: dict[int, PhysicsBatch] = field(repr=False)

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def equivariant(self) -> bool:
        return self.definition.equivariant

    @property
    def discrete(self) -> bool:
        return False

    @property
    def classification(self) -> bool:
        return False

    @property
    def max_cardinality(self) -> int:
        """Points per training sample (fixed-width models take exactly this many)."""
        return self.definition.points

    def to_dict(self) -> dict[str, Any]:
        d = self.definition
        return {
            "name": d.name,
            "formula": d.formula,
            "elements": f"{d.input} under {d.group.format(n=d.points)}",
            "kind": "equivariant" if d.equivariant else "invariant",
            "seed": self.seed,
            "sizes": self.sizes.to_dict(),
            "layer": d.layer_spec(),
        }


# ---------------------------------------------------------------------- generators
def inertia_data(rng: np.random.Generator, count: int, points: int, scale: float = 1.0
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Masses ``softplus(z)`` and positions ``N(0, I₃)`` of ``points`` particles; the inertia tensor."""
    z = rng.standard_normal((count, 4 * points))
    masses = np.logaddexp(0.0, z[:, :points]) * scale
    positions = z[:, points:].reshape(count, points, 3) * scale
    squared = (positions**2).sum(axis=2)
    tensor = (np.einsum("bi,bi,ac->bac", masses, squared, np.eye(3))
              - np.einsum("bi,bia,bic->bac", masses, positions, positions))
    return np.concatenate([masses, positions.reshape(count, -1)], axis=1), tensor.reshape(count, 9)


def scattering_data(rng: np.random.Generator, count: int, points: int = 1, scale: float = 1.0
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Four four-momenta ``N(0, I/16)`` (time first); ``|M|²`` from the lepton tensors (module docstring)."""
    momenta = rng.standard_normal((count, 4, 4)) / 4 * scale
    p1, p2, p3, p4 = (momenta[:, k] for k in range(4))

    def dot(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        return np.einsum("ba,ac,bc->b", u, MINKOWSKI, v)

    electron = (np.einsum("ba,bc->bac", p1, p3)
                - (dot(p1, p3) - dot(p1, p1))[:, None, None] * MINKOWSKI)
    lowered2, lowered4 = p2 @ MINKOWSKI, p4 @ MINKOWSKI
    muon = (np.einsum("ba,bc->bac", lowered2, lowered4)
            - (dot(p2, p4) - dot(p2, p2))[:, None, None] * MINKOWSKI)
    return momenta.reshape(count, 16), 4 * np.einsum("bac,bac->b", electron, muon)


def o5_data(rng: np.random.Generator, count: int, points: int = 1, scale: float = 1.0
            ) -> tuple[np.ndarray, np.ndarray]:
    """Two vectors of R⁵, ``N(0, I)``; ``sin|x₁| − |x₂|³/2 + x₁·x₂ / (|x₁||x₂|)``."""
    x = rng.standard_normal((count, 10)) * scale
    x1, x2 = x[:, :5], x[:, 5:]
    n1, n2 = np.linalg.norm(x1, axis=1), np.linalg.norm(x2, axis=1)
    return x, np.sin(n1) - n2**3 / 2 + (x1 * x2).sum(axis=1) / (n1 * n2)


# ---------------------------------------------------------------------- registry
def _sizes(train: int, valid: int, test: int, points: int, cardinalities: Sequence[int] | None = None
           ) -> TaskSizes:
    return TaskSizes(train=train, valid=valid, test=test, cardinalities=tuple(cardinalities or (points,)),
                     min_train=points, max_train=points)


_EMLP = "Finzi, Welling & Wilson 2021 (EMLP), §7 and emlp/datasets.py"

TASKS: dict[str, PhysicsTaskDefinition] = {
    "inertia": PhysicsTaskDefinition(
        name="inertia", formula="Σ_i m_i (|r_i|² I − r_i r_iᵀ) of 5 masses m_i at positions r_i",
        group="S({n}) x O(3)", input="V⊗1 + V⊗V", output="1⊗V2", degree=3, bias=False, points=5,
        generate=inertia_data, full=_sizes(3_000, 1_000, 1_000, 5), quick=_sizes(300, 100, 300, 5),
        reference=_EMLP + " (Inertia: O(3); EMLP at 3,000 training samples: test MSE 0.028)",
        size_agnostic=True,
    ),
    "particle-interaction": PhysicsTaskDefinition(
        name="particle-interaction", formula="|M|² of e⁻μ⁻ scattering: 4 L_e^{ab} L^μ_{ab} of four momenta",
        group="O(1,3)", input="4*V", output="1", degree=4, bias=False, points=1,
        generate=scattering_data, full=_sizes(3_000, 1_000, 1_000, 1), quick=_sizes(300, 100, 300, 1),
        reference=_EMLP + " (ParticleInteraction: O(1,3); EMLP at 3,000: test MSE 2.7e-4)",
    ),
    "o5-synthetic": PhysicsTaskDefinition(
        name="o5-synthetic", formula="sin|x₁| − |x₂|³/2 + x₁·x₂/(|x₁||x₂|) of two vectors of R⁵",
        group="O(5)", input="2*V", output="1", degree=6, bias=True, points=1,
        generate=o5_data, full=_sizes(3_000, 1_000, 1_000, 1), quick=_sizes(300, 100, 300, 1),
        reference=_EMLP + " (O5Synthetic: O(5); EMLP at 3,000: test MSE 0.031)",
    ),
}

# stream ids of numpy.random.default_rng([seed, 13, stream]); test streams add the points
_STREAMS = {"train": 0, "valid": 1, "test": 2}


def make(
    definition: PhysicsTaskDefinition,
    *,
    seed: int = 0,
    quick: bool = False,
    train: int | None = None,
    valid: int | None = None,
    test: int | None = None,
    cardinalities: Sequence[int] | None = None,
    scale: float = 1.0,
) -> PhysicsTask:
    """Generate the physics task ``definition`` from ``seed`` (called by :func:`polyequiv.tasks.make_task`).

    Parameters
    ----------
    definition : PhysicsTaskDefinition
        One of :data:`TASKS`.
    seed : int
        Seed of every split; the same seed gives the same arrays.
    quick : bool
        Small sizes (CI, notebooks): 300 / 100 / 300.
    train, valid, test : int, optional
        Samples per split (``valid`` may be 0).
    cardinalities : sequence of int, optional
        Points per test sample, one test split each (point-cloud tasks only; others have 1).
    scale : float
        Multiplies every input before its target is computed.

    Raises
    ------
    TaskError
        For bad sizes, a negative seed, test sizes a task without points cannot have, or a
        non-positive scale.
    """
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool) or seed < 0:
        raise TaskError(f"seed must be a non-negative integer, got {seed!r}")
    if not isinstance(scale, int | float) or isinstance(scale, bool) or not 0 < scale < np.inf:
        raise TaskError(f"scale must be a positive finite number, got {scale!r}")
    base = definition.quick if quick else definition.full
    wanted = tuple(sorted({int(c) for c in cardinalities})) if cardinalities is not None else None
    if wanted is not None and not definition.size_agnostic and wanted != (definition.points,):
        raise TaskError(f"task {definition.name!r} has no points to vary (its samples are one "
                        f"{definition.input}); it takes no cardinalities other than {definition.points}")
    sizes = _sizes(base.train if train is None else int(train), base.valid if valid is None else int(valid),
                   base.test if test is None else int(test), definition.points, wanted)
    splits: dict[str, PhysicsBatch | None] = {}
    for split, count in (("train", sizes.train), ("valid", sizes.valid)):
        rng = np.random.default_rng([int(seed), 13, _STREAMS[split]])
        splits[split] = _batch(definition, rng, count, definition.points, scale) if count else None
    tests = {c: _batch(definition, np.random.default_rng([int(seed), 13, _STREAMS["test"], c]), sizes.test, c,
                       scale) for c in sizes.cardinalities}
    return PhysicsTask(definition=definition, sizes=sizes, seed=int(seed), train=splits["train"],
                       valid=splits["valid"], test=tests)


def _batch(definition: PhysicsTaskDefinition, rng: np.random.Generator, count: int, points: int,
           scale: float) -> PhysicsBatch:
    values, targets = definition.generate(rng, count, points, float(scale))
    return PhysicsBatch(values, np.ones(targets.shape, dtype=bool), targets, points,
                        definition.layer_spec(points))
