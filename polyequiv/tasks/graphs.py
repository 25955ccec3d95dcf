"""Graph tasks (a domain of :mod:`polyequiv.tasks`): node degrees and substructure counts of random graphs.

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

The counting suite (Chen et al. 2020's protocol, per node; :mod:`polyequiv.tasks.graph_counts`):
``3-stars`` (cubic), ``tailed-triangles``, ``4-cycles`` (quartic) and ``chordal-4-cycles``
(degree 5), copies of the pattern containing node k.  Their graphs come from a family
(:mod:`polyequiv.tasks.graph_families`, ``family="er"`` or ``"regular"``) with training sizes
uniform in 8..12 (padded to 12, padding first), no relabelled copies, and fresh test graphs of 12,
60 and 240 nodes (the training size, 5× and 20×); targets are ``float64`` (counts exceed 2²⁴ on
large dense graphs).  :func:`adversarial_batches` draws graphs unlike the training ones.

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
from polyequiv.tasks.graph_counts import COUNTS
from polyequiv.tasks.graph_families import (
    DENSE_PROBABILITY,
    ER_PROBABILITY,
    FAMILIES,
    REGULAR_DEGREES,
    draw_graphs,
    erdos_renyi_graphs,
    perturbed,
)

#: Edge probability of each graph: uniform in this range.
EDGE_PROBABILITY = ER_PROBABILITY
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
    family: str = "er"
    relabellings: int = RELABELLINGS
    target_dtype: type = np.float32

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
    family: str = "er"

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
        elements = {"er": f"undirected graphs, edge probability uniform in [{low:g}, {high:g}] per graph",
                    "regular": "random regular graphs, degree uniform in "
                               f"{REGULAR_DEGREES[0]}..{REGULAR_DEGREES[1]} per graph"}[self.family]
        record = {
            "name": d.name,
            "formula": d.formula,
            "elements": elements,
            "kind": "equivariant",
            "seed": self.seed,
            "split": self.split,
            "relabellings": d.relabellings,
            "sizes": self.sizes.to_dict(),
        }
        return record if self.family == "er" else {**record, "family": self.family}


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

#: The counting suite (Chen et al. 2020's protocol, node level): train on graphs of 8–12 nodes, test on
#: fresh graphs of 12 (the largest training size), 60 (5×) and 240 (20×) nodes of the same family.
_COUNT_SIZES = (12, 60, 240)
_COUNT_FULL = TaskSizes(train=2_000, valid=0, test=100, cardinalities=_COUNT_SIZES, min_train=8, max_train=12)
_COUNT_QUICK = TaskSizes(train=200, valid=0, test=10, cardinalities=_COUNT_SIZES, min_train=8, max_train=12)
_COUNT_PATTERNS = {
    "3-stars": "K₁,₃: C(d_k, 3) + Σ_j A_kj C(d_j − 1, 2)",
    "tailed-triangles": "a triangle with a pendant edge (paw)",
    "4-cycles": "C₄: ((A⁴)_kk − d_k² − Σ_j A_kj d_j + d_k) / 2",
    "chordal-4-cycles": "K₄ minus an edge (a 4-cycle with one chord)",
}
for _name, _pattern in _COUNT_PATTERNS.items():
    _count, _degree = COUNTS[_name]
    TASKS[_name] = GraphTaskDefinition(
        name=_name,
        formula=f"copies of {_pattern} containing node k",
        target=_count,
        full=_COUNT_FULL,
        quick=_COUNT_QUICK,
        polynomial_degree=_degree,
        reference="Chen et al. 2020, 'Can graph neural networks count substructures?' (subgraph counts, "
        "here per node); Huang et al. 2023 (I²-GNN), node-level counting",
        relabellings=0,
        target_dtype=np.float64,
    )

# stream ids of numpy.random.default_rng([seed, 7, stream])
_BASE_STREAM, _RELABEL_STREAM, _SPLIT_STREAM, _TEST_STREAM, _ADVERSARIAL_STREAM = 0, 1, 2, 1_000, 100_000


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
    family: str | None = None,
    train_cardinalities: Sequence[int] | None = None,
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
        Training base graphs (each comes with the definition's relabelled copies, :data:`RELABELLINGS`
        for degrees and triangles); with one training size, the test split of that size holds a
        quarter as many base graphs, with their copies.
    test : int, optional
        Graphs per other test size.
    cardinalities : sequence of int, optional
        Test sizes (numbers of nodes); with one training size (10), that size is the held-out split.
    split : {"by-graph", "random"}
        Keep every base graph and its relabellings on one side (default), or cut the shuffled
        graphs 80/20 as the seed did (relabelled copies of training graphs then reach the test).
    valid : int, optional
        Only 0 (no validation split) is accepted; present so the set tasks' options are uniform.
    family : {"er", "regular"}, optional
        The graphs (:mod:`polyequiv.tasks.graph_families`): Erdős–Rényi with ``p`` uniform in
        :data:`EDGE_PROBABILITY` per graph (the default), or random regular graphs.
    train_cardinalities : (low, high), optional
        Training graph sizes, uniform in ``low..high`` and padded to ``high`` (padding nodes first);
        with ``low < high`` every test size is a fresh draw.

    Raises
    ------
    TaskError
        For non-positive sizes, test sizes below 2 nodes, or an unknown split or family.
    """
    if split not in SPLITS:
        raise TaskError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    if valid not in (None, 0):
        raise TaskError(f"graph tasks have no validation split, got valid={valid}")
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise TaskError(f"seed must be a non-negative integer, got {seed!r}")
    family = definition.family if family is None else family
    if family not in FAMILIES:
        raise TaskError(f"unknown graph family {family!r}; choose one of {', '.join(FAMILIES)}")
    base = definition.quick if quick else definition.full
    if cardinalities is not None:
        cardinalities = tuple(sorted({int(c) for c in cardinalities}))
        if min(cardinalities, default=0) < 2:
            raise TaskError(f"graph test sizes must be ≥ 2 nodes, got {list(cardinalities)}")
    low, high = _training_sizes(base, train_cardinalities, split)
    sizes = TaskSizes(
        train=base.train if train is None else int(train),
        valid=0,
        test=base.test if test is None else int(test),
        cardinalities=base.cardinalities if cardinalities is None else cardinalities,
        min_train=low,
        max_train=high,
    )
    seed = int(seed)
    training, held_out = _training_graphs(definition, sizes, seed, split, family)
    tests = {}
    for size in sizes.cardinalities:
        if size == high and held_out is not None:
            tests[size] = held_out
        else:
            rng = np.random.default_rng([seed, 7, _TEST_STREAM + size])
            tests[size] = _batch(definition, *draw_graphs(rng, family, sizes.test, size, size),
                                 np.arange(sizes.test))
    return GraphTask(definition=definition, sizes=sizes, seed=seed, split=split, train=training, valid=None,
                     test=tests, family=family)


def _training_sizes(base: TaskSizes, train_cardinalities: Sequence[int] | None, split: str
                    ) -> tuple[int, int]:
    """``(low, high)`` training graph sizes: the task's, or ``train_cardinalities``."""
    if train_cardinalities is None:
        return base.min_train, base.max_train
    bounds = [int(c) for c in train_cardinalities]
    if len(bounds) != 2 or not 2 <= bounds[0] <= bounds[1]:
        raise TaskError(f"training graph sizes are [low, high] with 2 ≤ low ≤ high, got {list(bounds)}")
    if bounds[0] < bounds[1] and split != "by-graph":
        raise TaskError("split 'random' cuts graphs of one size; give one training size (LOW-LOW)")
    return bounds[0], bounds[1]


def _training_graphs(definition: GraphTaskDefinition, sizes: TaskSizes, seed: int, split: str, family: str
                     ) -> tuple[GraphBatch, GraphBatch | None]:
    """The training split and, with one training size, the held-out test split of that size."""
    copies = definition.relabellings
    fixed = sizes.min_train == sizes.max_train
    total = sizes.train + (max(1, sizes.train // 4) if fixed else 0)
    rng = np.random.default_rng([seed, 7, _BASE_STREAM])
    graphs, mask = draw_graphs(rng, family, total, sizes.min_train, sizes.max_train)
    relabelled = relabelled_copies(np.random.default_rng([seed, 7, _RELABEL_STREAM]), graphs, copies, mask)
    everything = _batch(definition, relabelled, np.repeat(mask, copies + 1, axis=0),
                        np.repeat(np.arange(total), copies + 1))
    if not fixed:
        return everything, None
    if split == "by-graph":
        is_train = everything.base < sizes.train
        train_rows, test_rows = np.nonzero(is_train)[0], np.nonzero(~is_train)[0]
    else:
        order = np.random.default_rng([seed, 7, _SPLIT_STREAM]).permutation(len(everything))
        cut = sizes.train * (copies + 1)
        train_rows, test_rows = np.sort(order[:cut]), np.sort(order[cut:])
    return everything.take(train_rows), everything.take(test_rows)


def adversarial_batches(task: str | GraphTaskDefinition, *, seed: int = 0, family: str = "er", size: int = 12,
                        count: int = 100, flips: int = 2) -> dict[str, GraphBatch]:
    """Graphs unlike a task's training graphs, ``count`` of ``size`` nodes each, with the task's targets:

    ``dense``
        G(n, p) with ``p`` in :data:`~polyequiv.tasks.graph_families.DENSE_PROBABILITY`;
    ``regular`` or ``er``
        the other family (random regular graphs for a task drawn from ``er``, and the reverse);
    ``perturbed``
        graphs of the task's own family with ``flips`` node pairs flipped (random structural
        perturbations in the sense of Campi et al. 2023, not optimised attacks).
    """
    definition = get_definition(task) if isinstance(task, str) else task
    if family not in FAMILIES:
        raise TaskError(f"unknown graph family {family!r}; choose one of {', '.join(FAMILIES)}")
    rng = np.random.default_rng([seed, 7, _ADVERSARIAL_STREAM + size])
    everyone = np.ones((count, size), dtype=bool)
    other = "regular" if family == "er" else "er"
    graphs = {"dense": erdos_renyi_graphs(rng, count, size, DENSE_PROBABILITY),
              other: draw_graphs(rng, other, count, size, size)[0],
              "perturbed": perturbed(rng, draw_graphs(rng, family, count, size, size)[0], flips)}
    return {name: _batch(definition, adjacency, everyone, np.arange(count))
            for name, adjacency in graphs.items()}


def get_definition(name: str) -> GraphTaskDefinition:
    """The graph task called ``name``."""
    try:
        return TASKS[name]
    except KeyError:
        raise TaskError(f"unknown graph task {name!r}; choose one of {', '.join(TASKS)}") from None


def random_graphs(rng: np.random.Generator, count: int, nodes: int) -> np.ndarray:
    """``count`` random simple graphs on ``nodes`` nodes: ``(count, nodes, nodes)`` ``float32``.

    Draw order: one edge probability per graph (uniform in :data:`EDGE_PROBABILITY`), then one
    uniform number per node pair ``i < j``; the edge is present when it falls below ``p``
    (:func:`~polyequiv.tasks.graph_families.erdos_renyi_graphs`).
    """
    return erdos_renyi_graphs(rng, count, nodes)


def relabelled_copies(rng: np.random.Generator, graphs: np.ndarray, copies: int,
                      mask: np.ndarray | None = None) -> np.ndarray:
    """Each graph followed by ``copies`` random relabellings of it: ``(count·(copies+1), n, n)``.

    With a node ``mask`` (padding first) only the real nodes are relabelled; padding stays first.
    """
    count, n, _ = graphs.shape
    keys = rng.random((count, copies, n))
    if mask is not None and not mask.all():
        keys = keys + mask[:, None, :]
    orders = np.argsort(keys, axis=2)
    out = np.empty((count, copies + 1, n, n), dtype=graphs.dtype)
    out[:, 0] = graphs
    rows = np.arange(count)[:, None, None, None]
    out[:, 1:] = graphs[rows, orders[:, :, :, None], orders[:, :, None, :]]
    return out.reshape(count * (copies + 1), n, n)


def _batch(definition: GraphTaskDefinition, adjacency: np.ndarray, mask: np.ndarray, base: np.ndarray
           ) -> GraphBatch:
    targets = (definition.target(adjacency) * mask).astype(definition.target_dtype)
    return GraphBatch(values=adjacency, mask=mask, targets=targets, base=base.astype(np.int64))
