"""Graph tasks (a domain of :mod:`polyequiv.tasks`): node degrees and triangle counts of random graphs.

Every graph is undirected and simple (no self-loops).  A batch of graphs of one
padded size ``L`` is stored as adjacency matrices ``(m, L, L)`` (``float32``,
symmetric, zero diagonal), a node mask ``(m, L)`` that is ``True`` on real nodes
(padding nodes come first, as padding does for sets, and have no edges) and
per-node targets ``(m, L)`` (``0`` at padding).  Relabelling the nodes by a
permutation σ, ``A ↦ (A_{σ(i)σ(j)})``, permutes the targets the same way: both
tasks are Sₙ-equivariant functions of the edges (``E → V``).

=================  ====================================================  ============
task               target of node k                                      polynomial
=================  ====================================================  ============
``graph-degree``   ``Σ_j A_kj`` (its degree)                             linear
``triangles``      ``Σ_{i<j} A_ki A_ij A_jk = (A³)_kk / 2`` (triangles    cubic
                   through k)
=================  ====================================================  ============

Data, as in seed 003 §3.3 for ``graph-degree``: base graphs on 10 nodes, each
edge present independently with the graph's own probability ``p``, drawn
uniformly in ``[0.1, 0.9]`` per graph (the seed only says "randomly inserting
edges"; a range of ``p`` covers every degree 0..9), plus 5 random relabellings of
each base graph (10,000 base graphs → 60,000 graphs).  The split is **by base
graph** (8,000 → 48,000 training graphs, 2,000 → 12,000 test graphs), so no
relabelled copy of a test graph is ever trained on; ``split="random"`` instead
shuffles the 60,000 graphs before cutting 48k/12k, as the seed did.  Graphs of
other sizes (``n = 5, 20, 50``) are tested too: 2,000 fresh graphs each, drawn
the same way.  ``triangles`` uses the same graphs.

Degrees and triangle counts are integers: a node counts as right when its
prediction rounds to its target (the seed clamps to ``(−0.5, 9.5)`` first, which
changes no rounded value that could be right).

    >>> task = make(TASKS["graph-degree"], seed=0, quick=True)
    >>> task.train.values.shape, sorted(task.test)
    ((600, 10, 10), [5, 10, 20, 50])
    >>> bool((task.train.targets == task.train.values.sum(axis=2)).all())
    True

Numpy only; the models live in :mod:`polyequiv.models.graphs`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from polyequiv.tasks.base import TaskError, TaskSizes

#: Edge probability of each graph: uniform in this range.
EDGE_PROBABILITY = (0.1, 0.9)
#: Relabelled copies of every base graph (the seed's 5).
RELABELLINGS = 5
SPLITS = ("by-graph", "random")


@dataclass(frozen=True)
class GraphBatch:
    """Graphs of one split, padded to a common number of nodes ``L`` (padding nodes first).

    Attributes
    ----------
    values : numpy.ndarray
        ``(m, L, L)`` ``float32`` adjacency matrices (symmetric, zero diagonal, no edge at padding).
    mask : numpy.ndarray
        ``(m, L)`` bool, ``True`` on real nodes.
    targets : numpy.ndarray
        ``(m, L)`` ``float32`` per-node targets, ``0`` at padding.
    base : numpy.ndarray
        ``(m,)`` ``int64``: the base graph each graph is a relabelling of.
    """

    values: np.ndarray
    mask: np.ndarray
    targets: np.ndarray
    base: np.ndarray

    def __len__(self) -> int:
        return int(self.values.shape[0])

    @property
    def length(self) -> int:
        """Padded number of nodes ``L``."""
        return int(self.values.shape[1])

    def take(self, rows: np.ndarray | slice) -> GraphBatch:
        """The graphs at ``rows``."""
        return GraphBatch(self.values[rows], self.mask[rows], self.targets[rows], self.base[rows])

    def permuted(self, rng: np.random.Generator) -> tuple[GraphBatch, np.ndarray]:
        """Every graph with its real nodes relabelled at random (padding stays first), and the order.

        Row ``r`` of the result is ``A[order[r]][:, order[r]]``: node ``i`` of the new graph is node
        ``order[r, i]`` of the old one, and so is its target.
        """
        keys = rng.random(self.mask.shape) + np.where(self.mask, 1.0, 0.0)
        order = np.argsort(keys, axis=1, kind="stable")
        rows = np.arange(len(self))[:, None]
        values = self.values[rows[:, :, None], order[:, :, None], order[:, None, :]]
        return GraphBatch(values, self.mask[rows, order], self.targets[rows, order], self.base), order

    def padded(self, extra: int) -> GraphBatch:
        """The same graphs with ``extra`` more isolated padding nodes in front."""
        return GraphBatch(
            np.pad(self.values, ((0, 0), (extra, 0), (extra, 0))),
            np.pad(self.mask, ((0, 0), (extra, 0))),
            np.pad(self.targets, ((0, 0), (extra, 0))),
            self.base,
        )


Target = Callable[[np.ndarray], np.ndarray]


def target_degree(adjacency: np.ndarray) -> np.ndarray:
    """``Σ_j A_kj`` for every node."""
    return adjacency.sum(axis=-1)


def target_triangles(adjacency: np.ndarray) -> np.ndarray:
    """Triangles through every node: ``(A³)_kk / 2``."""
    a = adjacency.astype(np.float64)
    return np.einsum("bij,bjk,bki->bi", a, a, a) / 2


@dataclass(frozen=True)
class GraphTaskDefinition:
    """One named graph task: its target, its default sizes (base graphs), and how it is split."""

    name: str
    formula: str
    target: Target
    full: TaskSizes
    quick: TaskSizes
    polynomial_degree: int
    reference: str = ""
    elements: str = "graph"
    equivariant: bool = True

    @property
    def discrete(self) -> bool:
        return True


@dataclass(frozen=True)
class GraphTask:
    """A generated graph task: definition, sizes, seed, split rule and the splits."""

    definition: GraphTaskDefinition
    sizes: TaskSizes
    seed: int
    split: str
    train: GraphBatch
    valid: GraphBatch | None
    test: dict[int, GraphBatch] = field(repr=False)

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def equivariant(self) -> bool:
        return True

    @property
    def discrete(self) -> bool:
        return True

    @property
    def max_cardinality(self) -> int:
        """The largest graph (nodes) the task shows a model."""
        return max(self.sizes.max_train, *self.sizes.cardinalities)

    def to_dict(self) -> dict[str, Any]:
        d = self.definition
        low, high = EDGE_PROBABILITY
        return {
            "name": d.name,
            "formula": d.formula,
            "elements": f"undirected graphs, edge probability uniform in [{low:g}, {high:g}] per graph",
            "kind": "equivariant",
            "seed": self.seed,
            "split": self.split,
            "relabellings": RELABELLINGS,
            "sizes": self.sizes.to_dict(),
        }


# ---------------------------------------------------------------------- registry
_TEST_SIZES = (5, 10, 20, 50)
_FULL = TaskSizes(train=8_000, valid=0, test=2_000, cardinalities=_TEST_SIZES, min_train=10, max_train=10)
_QUICK = TaskSizes(train=100, valid=0, test=100, cardinalities=_TEST_SIZES, min_train=10, max_train=10)

TASKS: dict[str, GraphTaskDefinition] = {
    "graph-degree": GraphTaskDefinition(
        name="graph-degree",
        formula="Σ_j A_kj (degree of node k)",
        target=target_degree,
        full=_FULL,
        quick=_QUICK,
        polynomial_degree=1,
        reference="Agarwal et al., 'Save your priors for another day', §3.3 "
        "(GCN 57.69 %, row-wise MLP 100 %)",
    ),
    "triangles": GraphTaskDefinition(
        name="triangles",
        formula="(A³)_kk / 2 (triangles through node k)",
        target=target_triangles,
        full=_FULL,
        quick=_QUICK,
        polynomial_degree=3,
        reference="a cubic polynomial of the edges that 1-WL message passing cannot compute in general",
    ),
}

# stream ids of numpy.random.default_rng([seed, 7, stream])
_BASE_STREAM, _RELABEL_STREAM, _SPLIT_STREAM, _TEST_STREAM = 0, 1, 2, 1_000


def make(
    definition: GraphTaskDefinition,
    *,
    seed: int = 0,
    quick: bool = False,
    train: int | None = None,
    test: int | None = None,
    cardinalities: Sequence[int] | None = None,
    split: str = "by-graph",
    valid: int | None = None,
) -> GraphTask:
    """Generate the graph task ``definition`` from ``seed`` (called by :func:`polyequiv.tasks.make_task`).

    Parameters
    ----------
    definition : GraphTaskDefinition
        One of :data:`TASKS`.
    seed : int
        Seed of every split; the same seed gives the same arrays.
    quick : bool
        Small sizes (100 base graphs) for CI and notebooks.
    train : int, optional
        Training base graphs (each comes with :data:`RELABELLINGS` relabelled copies); the
        test split of the training size holds a quarter as many base graphs, with their copies.
    test : int, optional
        Graphs per other test size.
    cardinalities : sequence of int, optional
        Test sizes (numbers of nodes); the training size (10) is the held-out split.
    split : {"by-graph", "random"}
        Keep every base graph and its relabellings on one side (default), or cut the shuffled
        graphs 80/20 as the seed did (relabelled copies of training graphs then reach the test).
    valid : int, optional
        Only 0 (no validation split) is accepted; present so the set tasks' options are uniform.

    Raises
    ------
    TaskError
        For non-positive sizes, test sizes below 2 nodes, or an unknown split.
    """
    if split not in SPLITS:
        raise TaskError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    if valid not in (None, 0):
        raise TaskError(f"graph tasks have no validation split, got valid={valid}")
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise TaskError(f"seed must be a non-negative integer, got {seed!r}")
    base = definition.quick if quick else definition.full
    if cardinalities is not None:
        cardinalities = tuple(sorted({int(c) for c in cardinalities}))
        if min(cardinalities, default=0) < 2:
            raise TaskError(f"graph test sizes must be ≥ 2 nodes, got {list(cardinalities)}")
    sizes = TaskSizes(
        train=base.train if train is None else int(train),
        valid=0,
        test=base.test if test is None else int(test),
        cardinalities=base.cardinalities if cardinalities is None else cardinalities,
        min_train=base.min_train,
        max_train=base.max_train,
    )
    seed = int(seed)
    n = sizes.max_train
    held_out = max(1, sizes.train // 4)
    total = sizes.train + held_out
    rng = np.random.default_rng([seed, 7, _BASE_STREAM])
    graphs = random_graphs(rng, total, n)
    copies = relabelled_copies(np.random.default_rng([seed, 7, _RELABEL_STREAM]), graphs, RELABELLINGS)
    everything = _batch(definition, copies, np.repeat(np.arange(total), RELABELLINGS + 1))
    if split == "by-graph":
        is_train = everything.base < sizes.train
        train_rows, test_rows = np.nonzero(is_train)[0], np.nonzero(~is_train)[0]
    else:
        order = np.random.default_rng([seed, 7, _SPLIT_STREAM]).permutation(len(everything))
        cut = sizes.train * (RELABELLINGS + 1)
        train_rows, test_rows = np.sort(order[:cut]), np.sort(order[cut:])
    tests = {}
    for size in sizes.cardinalities:
        if size == n:
            tests[size] = everything.take(test_rows)
        else:
            fresh = random_graphs(np.random.default_rng([seed, 7, _TEST_STREAM + size]), sizes.test, size)
            tests[size] = _batch(definition, fresh, np.arange(sizes.test))
    return GraphTask(
        definition=definition,
        sizes=sizes,
        seed=seed,
        split=split,
        train=everything.take(train_rows),
        valid=None,
        test=tests,
    )


def random_graphs(rng: np.random.Generator, count: int, nodes: int) -> np.ndarray:
    """``count`` random simple graphs on ``nodes`` nodes: ``(count, nodes, nodes)`` ``float32``.

    Draw order: one edge probability per graph (uniform in :data:`EDGE_PROBABILITY`), then one
    uniform number per node pair ``i < j``; the edge is present when it falls below ``p``.
    """
    if count < 1 or nodes < 2:
        raise TaskError(f"cannot draw {count} graphs on {nodes} nodes")
    probability = rng.uniform(*EDGE_PROBABILITY, size=count)
    upper = rng.random((count, nodes, nodes)) < probability[:, None, None]
    upper = np.triu(upper, k=1)
    return (upper | upper.transpose(0, 2, 1)).astype(np.float32)


def relabelled_copies(rng: np.random.Generator, graphs: np.ndarray, copies: int) -> np.ndarray:
    """Each graph followed by ``copies`` random relabellings of it: ``(count·(copies+1), n, n)``."""
    count, n, _ = graphs.shape
    orders = np.argsort(rng.random((count, copies, n)), axis=2)
    out = np.empty((count, copies + 1, n, n), dtype=graphs.dtype)
    out[:, 0] = graphs
    rows = np.arange(count)[:, None, None, None]
    out[:, 1:] = graphs[rows, orders[:, :, :, None], orders[:, :, None, :]]
    return out.reshape(count * (copies + 1), n, n)


def _batch(definition: GraphTaskDefinition, adjacency: np.ndarray, base: np.ndarray) -> GraphBatch:
    mask = np.ones(adjacency.shape[:2], dtype=bool)
    targets = definition.target(adjacency).astype(np.float32)
    return GraphBatch(values=adjacency, mask=mask, targets=targets, base=base.astype(np.int64))
