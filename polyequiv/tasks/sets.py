"""Set tasks (a domain of :mod:`polyequiv.tasks`): digit sums, real sums, polynomial set functions.

Generated on the fly with numpy from a seed.

Every task is a set function of ``x = (x_1, …, x_n)`` with ``n`` varying from
set to set.  Sets of different sizes are stored in one ``(m, L)`` array,
**left-padded** with ``0`` to a common length ``L`` (the DeepSets lab's
layout), with a boolean mask that is ``True`` on the real elements:

    values  [[0, 0, 4, 5, 1],      mask [[F, F, T, T, T],
             [3, 8, 2, 2, 7]]            [T, T, T, T, T]]

Invariant tasks have one target per set, ``f(σ·x) = f(x)``; equivariant tasks
have one target per element, ``f(σ·x) = σ·f(x)`` with ``(σ·x)_i = x_{σ(i)}``
(targets are ``0`` at padding).  The targets, with ``p_1 = Σ_i x_i`` and
``p_2 = Σ_i x_i²`` the power sums over the real elements:

=====================  ============================  ===============
task                   target                        kind
=====================  ============================  ===============
``digit-sum``          ``p_1`` (digits 1..10)        invariant
``real-sum``           ``p_1`` (reals in [0, 1])     invariant
``sum-of-squares``     ``p_2``                       invariant
``square-of-sum``      ``p_1²``                      invariant
``pairwise-products``  ``Σ_{i<j} x_i x_j``           invariant
``center``             ``x_k − p_1 / n``             equivariant
``times-sum``          ``x_k · p_1``                 equivariant
``two-sets``           ``x_k − mean(A)`` on the      equivariant
                       first half A, ``mean(B)`` on  (S₄ × S₄ only)
                       the second half B (n = 8)
=====================  ============================  ===============

``two-sets`` is the one task whose symmetry is not the whole Sₙ: its 8 elements are two sets
of 4 with different roles (the first is centred, the second averaged), so it is equivariant under
permutations inside each half (S₄ × S₄, :attr:`TaskDefinition.blocks` = 2) and under nothing that
mixes the halves; no candidate group of :mod:`polyequiv.discovery` is that group.

The train, validation and test sets come from independent streams
``numpy.random.default_rng([seed, stream])``, so changing the test sizes does
not change the training set, and the same seed always gives the same arrays.

    >>> task = make(TASKS["digit-sum"], seed=0, quick=True)
    >>> task.train.values.shape, sorted(task.test)[:3]
    ((5000, 10), [5, 10, 20])
    >>> bool((task.train.targets == task.train.values.sum(axis=1)).all())
    True

This module is numpy only; the torch side lives in :mod:`polyequiv.models`
and :mod:`polyequiv.training`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from polyequiv.tasks.base import TaskError, TaskSizes

#: Padding value; the lab's digits are 1..10, so 0 never is an element there.
PAD = 0


@dataclass(frozen=True)
class SetBatch:
    """Sets of one split, left-padded to a common length.

    Attributes
    ----------
    values : numpy.ndarray
        ``(m, L)``: ``int64`` digits for digit tasks, ``float32`` reals otherwise; ``0`` at padding.
    mask : numpy.ndarray
        ``(m, L)`` bool, ``True`` on real elements (always a suffix of each row).
    targets : numpy.ndarray
        ``(m,)`` for invariant tasks, ``(m, L)`` for equivariant ones (``0`` at padding); ``float64``, the
        exact value of the target on the (``float32``) elements, so that an exact fit can be seen to be
        exact (a ``float32`` target would carry a relative rounding error of up to 6·10⁻⁸).
    """

    values: np.ndarray
    mask: np.ndarray
    targets: np.ndarray

    def __len__(self) -> int:
        return int(self.values.shape[0])

    @property
    def length(self) -> int:
        """Padded length ``L``."""
        return int(self.values.shape[1])

    @property
    def cardinalities(self) -> np.ndarray:
        """Number of real elements of each set."""
        return self.mask.sum(axis=1)

    def take(self, rows: np.ndarray | slice) -> SetBatch:
        """The sets at ``rows`` (a view for slices)."""
        return SetBatch(self.values[rows], self.mask[rows], self.targets[rows])

    def permuted(self, rng: np.random.Generator) -> tuple[SetBatch, np.ndarray]:
        """Each set with its real elements shuffled (padding stays on the left), and the row-wise order."""
        keys = rng.random(self.values.shape) + np.where(self.mask, 1.0, 0.0)  # padding sorts first
        order = np.argsort(keys, axis=1, kind="stable")
        rows = np.arange(len(self))[:, None]
        targets = self.targets[rows, order] if self.targets.ndim == 2 else self.targets
        return SetBatch(self.values[rows, order], self.mask[rows, order], targets), order

    def padded(self, extra: int) -> SetBatch:
        """The same sets with ``extra`` more padding zeros on the left."""
        values = np.pad(self.values, ((0, 0), (extra, 0)))
        mask = np.pad(self.mask, ((0, 0), (extra, 0)))
        targets = np.pad(self.targets, ((0, 0), (extra, 0))) if self.targets.ndim == 2 else self.targets
        return SetBatch(values, mask, targets)


Target = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class TaskDefinition:
    """One named task: its elements, its target and its default sizes."""

    name: str
    formula: str
    elements: str  # "digits" (1..10) or "reals" (uniform in [low, high])
    equivariant: bool
    target: Target
    full: TaskSizes
    quick: TaskSizes
    low: float = 0.0
    high: float = 1.0
    reference: str = ""
    blocks: int = 1  # the real elements form this many consecutive halves/blocks, each permuted alone

    @property
    def discrete(self) -> bool:
        """Integer targets: accuracy (rounded prediction equals the target) is meaningful."""
        return self.elements == "digits"


@dataclass(frozen=True)
class SetTask:
    """A generated task: the definition, the sizes and seed used, and the three splits."""

    definition: TaskDefinition
    sizes: TaskSizes
    seed: int
    train: SetBatch
    valid: SetBatch | None
    test: dict[int, SetBatch] = field(repr=False)

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def equivariant(self) -> bool:
        return self.definition.equivariant

    @property
    def discrete(self) -> bool:
        return self.definition.discrete

    @property
    def max_cardinality(self) -> int:
        """The largest set the task shows a model: fixed-width models need this many inputs."""
        return max(self.sizes.max_train, *self.sizes.cardinalities)

    def to_dict(self) -> dict[str, Any]:
        """Name, formula, kind, seed and sizes, JSON-ready (what a run records about its data)."""
        d = self.definition
        return {
            "name": d.name,
            "formula": d.formula,
            "elements": d.elements if d.elements == "digits" else f"reals in [{d.low:g}, {d.high:g}]",
            "kind": "equivariant" if d.equivariant else "invariant",
            "seed": self.seed,
            "sizes": self.sizes.to_dict(),
        }


# ---------------------------------------------------------------------- targets
def _power_sum(values: np.ndarray, mask: np.ndarray, power: int) -> np.ndarray:
    x = np.where(mask, values.astype(np.float64), 0.0)
    return (x**power).sum(axis=1)


def target_sum(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``p_1 = Σ_i x_i``."""
    return _power_sum(values, mask, 1)


def target_sum_of_squares(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``p_2 = Σ_i x_i²``."""
    return _power_sum(values, mask, 2)


def target_square_of_sum(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``p_1² = (Σ_i x_i)²``."""
    return _power_sum(values, mask, 1) ** 2


def target_pairwise_products(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``Σ_{i<j} x_i x_j = (p_1² − p_2) / 2``."""
    return (_power_sum(values, mask, 1) ** 2 - _power_sum(values, mask, 2)) / 2


def target_center(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``x_k − p_1 / n`` on real elements, ``0`` at padding."""
    n = np.maximum(mask.sum(axis=1), 1)
    mean = _power_sum(values, mask, 1) / n
    return np.where(mask, values.astype(np.float64) - mean[:, None], 0.0)


def target_times_sum(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``x_k · p_1`` on real elements, ``0`` at padding."""
    return np.where(mask, values.astype(np.float64) * _power_sum(values, mask, 1)[:, None], 0.0)


def target_two_sets(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``x_k − mean(A)`` for ``k`` in the first half ``A`` of the real elements, ``mean(B)`` for ``k`` in
    the second half ``B``; ``0`` at padding."""
    x = np.where(mask, values.astype(np.float64), 0.0)
    n = mask.sum(axis=1, keepdims=True)
    position = np.cumsum(mask, axis=1) - 1  # rank of each real element among its row's
    first = mask & (position < n // 2)
    second = mask & ~first
    mean_a = (x * first).sum(axis=1, keepdims=True) / np.maximum(first.sum(axis=1, keepdims=True), 1)
    mean_b = (x * second).sum(axis=1, keepdims=True) / np.maximum(second.sum(axis=1, keepdims=True), 1)
    return np.where(first, x - mean_a, np.where(second, mean_b, 0.0))


# ---------------------------------------------------------------------- registry
_CARDINALITIES_5_TO_100 = tuple(range(5, 101, 5))
_POLY_CARDINALITIES = (5, 10, 20, 50, 100)
_POLY_FULL = TaskSizes(train=20_000, valid=2_000, test=2_000, cardinalities=_POLY_CARDINALITIES,
                       min_train=1, max_train=10)
_POLY_QUICK = TaskSizes(train=2_000, valid=200, test=200, cardinalities=_POLY_CARDINALITIES,
                        min_train=1, max_train=10)


def _polynomial(name: str, formula: str, target: Target, equivariant: bool) -> TaskDefinition:
    return TaskDefinition(name=name, formula=formula, elements="reals", equivariant=equivariant,
                          target=target, full=_POLY_FULL, quick=_POLY_QUICK, low=-1.0, high=1.0)


TASKS: dict[str, TaskDefinition] = {
    "digit-sum": TaskDefinition(
        name="digit-sum",
        formula="Σ_i x_i, digits x_i ∈ {1..10}",
        elements="digits",
        equivariant=False,
        target=target_sum,
        full=TaskSizes(train=100_000, valid=0, test=10_000, cardinalities=_CARDINALITIES_5_TO_100,
                       min_train=1, max_train=10),
        quick=TaskSizes(train=5_000, valid=0, test=500, cardinalities=(5, 10, 20, 50, 100),
                        min_train=1, max_train=10),
        reference="DeepSets lab, Tasks 1-2 (Zaheer et al. 2017)",
    ),
    "real-sum": TaskDefinition(
        name="real-sum",
        formula="Σ_i x_i, x_i uniform in [0, 1], n = 10",
        elements="reals",
        equivariant=False,
        target=target_sum,
        full=TaskSizes(train=8_000, valid=1_000, test=1_000, cardinalities=(10,), min_train=10, max_train=10),
        quick=TaskSizes(train=2_000, valid=200, test=200, cardinalities=(10,), min_train=10, max_train=10),
        reference="Agarwal et al., 'Save your priors for another day', §3.1 (DeepSets L1 0.015, MLP 0.032)",
    ),
    "sum-of-squares": _polynomial("sum-of-squares", "Σ_i x_i²", target_sum_of_squares, False),
    "square-of-sum": _polynomial("square-of-sum", "(Σ_i x_i)²", target_square_of_sum, False),
    "pairwise-products": _polynomial("pairwise-products", "Σ_{i<j} x_i x_j", target_pairwise_products, False),
    "center": _polynomial("center", "x_k − (1/n) Σ_i x_i", target_center, True),
    "times-sum": _polynomial("times-sum", "x_k · Σ_i x_i", target_times_sum, True),
    "two-sets": TaskDefinition(
        name="two-sets",
        formula="x_k − mean(A) on the first 4 (A), mean(B) on the last 4 (B); x_i uniform in [−1, 1]",
        elements="reals",
        equivariant=True,
        target=target_two_sets,
        full=TaskSizes(train=8_000, valid=1_000, test=1_000, cardinalities=(8,), min_train=8, max_train=8),
        quick=TaskSizes(train=2_000, valid=200, test=200, cardinalities=(8,), min_train=8, max_train=8),
        low=-1.0,
        high=1.0,
        reference="issue 21: a symmetry outside every candidate list (S4 × S4)",
        blocks=2,
    ),
}

# stream ids of numpy.random.default_rng([seed, stream]): one per split (test: one per cardinality)
_TRAIN_STREAM, _VALID_STREAM, _TEST_STREAM = 0, 1, 1_000


def make(
    definition: TaskDefinition,
    *,
    seed: int = 0,
    quick: bool = False,
    train: int | None = None,
    valid: int | None = None,
    test: int | None = None,
    cardinalities: Sequence[int] | None = None,
    train_cardinalities: Sequence[int] | None = None,
) -> SetTask:
    """Generate the set task ``definition`` from ``seed`` (called by :func:`polyequiv.tasks.make_task`).

    Parameters
    ----------
    definition : TaskDefinition
        One of :data:`TASKS`.
    seed : int
        Seed of every split; the same seed gives the same arrays.
    quick : bool
        Start from the task's small sizes (for CI and notebooks) instead of the full ones.
    train, valid, test : int, optional
        Override the number of training sets, validation sets, and test sets per cardinality.
    cardinalities : sequence of int, optional
        Override the test cardinalities.
    train_cardinalities : (low, high), optional
        Override the training (and validation) cardinalities, uniform in ``low..high`` (``(3, 3)``:
        every training set has 3 elements, what a fixed-size network needs).

    Returns
    -------
    SetTask
        Training sets of cardinality uniform in ``min_train..max_train`` left-padded
        to ``max_train``; a test split per cardinality ``c`` of unpadded sets of exactly ``c`` elements.

    Raises
    ------
    TaskError
        For non-positive sizes.

    Examples
    --------
    >>> task = make(TASKS["times-sum"], seed=1, train=8, test=4, cardinalities=[3, 30])
    >>> task.train.targets.shape, task.test[30].values.shape, task.equivariant
    ((8, 10), (4, 30), True)
    """
    base = definition.quick if quick else definition.full
    if cardinalities is not None:
        cardinalities = tuple(sorted({int(c) for c in cardinalities}))
    min_train, max_train = base.min_train, base.max_train
    if train_cardinalities is not None:
        bounds = [int(c) for c in train_cardinalities]
        if len(bounds) != 2:
            raise TaskError(f"training cardinalities are [low, high], got {list(train_cardinalities)}")
        min_train, max_train = bounds
    sizes = TaskSizes(
        train=base.train if train is None else int(train),
        valid=base.valid if valid is None else int(valid),
        test=base.test if test is None else int(test),
        cardinalities=base.cardinalities if cardinalities is None else cardinalities,
        min_train=min_train,
        max_train=max_train,
    )
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise TaskError(f"seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)

    def split(stream: int, count: int, low: int, high: int, length: int) -> SetBatch:
        return draw_sets(definition, np.random.default_rng([seed, stream]), count, low, high, length)

    train_split = split(_TRAIN_STREAM, sizes.train, sizes.min_train, sizes.max_train, sizes.max_train)
    valid_split = (split(_VALID_STREAM, sizes.valid, sizes.min_train, sizes.max_train, sizes.max_train)
                   if sizes.valid else None)
    test_splits = {c: split(_TEST_STREAM + c, sizes.test, c, c, c) for c in sizes.cardinalities}
    return SetTask(definition=definition, sizes=sizes, seed=seed, train=train_split, valid=valid_split,
                   test=test_splits)


def draw_sets(definition: TaskDefinition, rng: np.random.Generator, count: int, low: int, high: int,
              length: int) -> SetBatch:
    """``count`` sets with cardinality uniform in ``low..high``, left-padded with 0 to ``length``.

    Draw order (what makes a seed reproducible): the cardinalities, then a full
    ``(count, length)`` block of elements, of which the last ``n`` of each row are kept.
    """
    if count < 1 or low < 1 or high < low or length < high:
        raise TaskError(f"cannot draw {count} sets of cardinality {low}..{high} padded to {length}")
    sizes = rng.integers(low, high + 1, size=count)
    if definition.elements == "digits":
        elements = rng.integers(1, 11, size=(count, length))
    else:
        elements = rng.uniform(definition.low, definition.high, size=(count, length)).astype(np.float32)
    mask = np.arange(length)[None, :] >= (length - sizes)[:, None]
    values = np.where(mask, elements, PAD).astype(elements.dtype)
    targets = definition.target(values, mask).astype(np.float64)
    return SetBatch(values=values, mask=mask, targets=targets)
