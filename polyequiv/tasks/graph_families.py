"""Random graph families, drawn in code (numpy): the graphs of the counting tasks and of the benchmarks.

Small graphs come as dense batches ``(count, n, n)`` ``float32`` (symmetric, zero diagonal), the
form :class:`~polyequiv.tasks.graphs.GraphBatch` stores; large ones as edge lists ``(m, 2)`` with
``i < j`` (:func:`edge_index` lists them both ways, as PyTorch Geometric wants).

==================  =====================================================================
family              graph
==================  =====================================================================
``er``              Erdős–Rényi G(n, p), ``p`` uniform in a range per graph
``regular``         a uniformly random ``d``-regular graph (``d`` drawn per graph; networkx's
                    pairing model with restarts, seeded from the generator)
``dense``           G(n, p) with ``p`` in ``[0.8, 0.95]``: far denser than training graphs
``perturbed``       a graph of another family with a few node pairs flipped (edge added or
                    removed): the structural perturbations of Campi et al. 2023
``ba``              Barabási–Albert preferential attachment, ``m`` edges per new node (power law)
``gnm``             G(n, m): ``m`` distinct node pairs uniformly at random
==================  =====================================================================

    >>> rng = np.random.default_rng(0)
    >>> regular_graphs(rng, 3, 10, (3, 3)).sum(axis=2)[0].tolist()
    [3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0]
    >>> edges = barabasi_albert_edges(rng, 1_000, 3)
    >>> edges.shape, bool((edges[:, 0] < edges[:, 1]).all())
    ((2991, 2), True)
"""

from __future__ import annotations

import numpy as np

from polyequiv.tasks.base import TaskError

#: Edge probability of each Erdős–Rényi training graph: uniform in this range.
ER_PROBABILITY = (0.1, 0.9)
#: Edge probability of the dense adversarial graphs.
DENSE_PROBABILITY = (0.8, 0.95)
#: Degrees of the random regular graphs: uniform in this range (at most n − 1).
REGULAR_DEGREES = (2, 6)
#: The families a graph task can be drawn from.
FAMILIES = ("er", "regular")


def draw_graphs(rng: np.random.Generator, family: str, count: int, low: int, high: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """``count`` graphs of ``family`` (:data:`FAMILIES`) with sizes uniform in ``low..high``, padded to
    ``high`` nodes (padding first): adjacency ``(count, high, high)`` ``float32`` and node mask.

    With ``low == high`` no size is drawn (an ``er`` draw is then exactly :func:`erdos_renyi_graphs`).
    """
    sizes = np.full(count, high) if low == high else rng.integers(low, high + 1, size=count)
    out = np.zeros((count, high, high), dtype=np.float32)
    mask = np.zeros((count, high), dtype=bool)
    for n in np.unique(sizes).tolist():
        rows = np.nonzero(sizes == n)[0]
        if family == "er":
            graphs = erdos_renyi_graphs(rng, rows.size, n)
        else:
            degrees = (min(REGULAR_DEGREES[0], n - 1), min(REGULAR_DEGREES[1], n - 1))
            graphs = regular_graphs(rng, rows.size, n, degrees)
        out[rows[:, None, None], np.arange(high - n, high)[None, :, None], np.arange(high - n, high)] = graphs
        mask[rows, high - n:] = True
    return out, mask


def erdos_renyi_graphs(rng: np.random.Generator, count: int, nodes: int,
                       probability: tuple[float, float] = ER_PROBABILITY) -> np.ndarray:
    """``count`` graphs G(n, p), ``p`` uniform in ``probability`` per graph: ``(count, n, n)`` ``float32``.

    Draw order: one ``p`` per graph, then one uniform number per node pair ``i < j``.
    """
    if count < 1 or nodes < 2:
        raise TaskError(f"cannot draw {count} graphs on {nodes} nodes")
    p = rng.uniform(*probability, size=count)
    upper = np.triu(rng.random((count, nodes, nodes)) < p[:, None, None], k=1)
    return (upper | upper.transpose(0, 2, 1)).astype(np.float32)


def regular_graphs(rng: np.random.Generator, count: int, nodes: int, degrees: tuple[int, int]) -> np.ndarray:
    """``count`` uniformly random ``d``-regular graphs, ``d`` uniform in ``degrees`` (inclusive) per
    graph with ``n·d`` even (``d`` lowered by one otherwise): ``(count, n, n)`` ``float32``."""
    import networkx as nx

    low, high = degrees
    if not 0 <= low <= high < nodes:
        raise TaskError(f"regular degrees must satisfy 0 ≤ {low} ≤ {high} < n = {nodes}")
    out = np.zeros((count, nodes, nodes), dtype=np.float32)
    for number in range(count):
        degree = int(rng.integers(low, high + 1))
        degree -= (degree * nodes) % 2
        graph = nx.random_regular_graph(degree, nodes, seed=int(rng.integers(2**31)))
        edges = np.array(list(graph.edges()), dtype=np.int64).reshape(-1, 2)
        out[number, edges[:, 0], edges[:, 1]] = out[number, edges[:, 1], edges[:, 0]] = 1.0
    return out


def perturbed(rng: np.random.Generator, graphs: np.ndarray, flips: int) -> np.ndarray:
    """``graphs`` with ``flips`` distinct node pairs of each flipped (an edge added or removed)."""
    count, n, _ = graphs.shape
    rows, columns = np.triu_indices(n, k=1)
    chosen = np.argsort(rng.random((count, rows.size)), axis=1)[:, :flips]
    out = graphs.copy()
    graph = np.arange(count)[:, None]
    i, j = rows[chosen], columns[chosen]
    out[graph, i, j] = out[graph, j, i] = 1.0 - out[graph, i, j]
    return out


def gnm_edges(rng: np.random.Generator, nodes: int, edges: int) -> np.ndarray:
    """G(n, m): ``edges`` distinct pairs ``i < j`` chosen uniformly, ``(m, 2)`` sorted by ``(i, j)``."""
    if edges > nodes * (nodes - 1) // 2:
        raise TaskError(f"{nodes} nodes have fewer than {edges:,} pairs")
    codes = np.zeros(0, dtype=np.int64)
    while codes.size < edges:
        draw = rng.integers(0, nodes, size=(int(1.1 * (edges - codes.size)) + 16, 2))
        draw = draw[draw[:, 0] != draw[:, 1]]
        low, high = draw.min(axis=1), draw.max(axis=1)
        fresh = np.setdiff1d(low * nodes + high, codes)
        codes = np.union1d(codes, rng.permutation(fresh)[: edges - codes.size])
    return np.stack([codes // nodes, codes % nodes], axis=1)


def barabasi_albert_edges(rng: np.random.Generator, nodes: int, attach: int) -> np.ndarray:
    """Barabási–Albert preferential attachment: a star on ``attach + 1`` nodes, then every new node
    joins ``attach`` distinct earlier nodes chosen with probability proportional to their degree
    (as networkx's ``barabasi_albert_graph``).  ``(m, 2)`` pairs ``i < j``, ``m = attach·(n − attach)``."""
    if not 1 <= attach < nodes:
        raise TaskError(f"Barabási–Albert needs 1 ≤ attach < nodes, got attach={attach}, nodes={nodes}")
    ends = np.empty(2 * attach * nodes, dtype=np.int64)  # every edge's two ends: degree-weighted draws
    pairs = [(0, j) for j in range(1, attach + 1)]
    ends[: 2 * attach] = np.array(pairs).reshape(-1)
    length = 2 * attach
    rows = np.empty((nodes - attach - 1, attach), dtype=np.int64)
    for new in range(attach + 1, nodes):
        chosen = np.unique(ends[rng.integers(0, length, size=2 * attach)])
        while chosen.size < attach:
            chosen = np.unique(np.concatenate([chosen, ends[rng.integers(0, length, size=attach)]]))
        chosen = rng.permutation(chosen)[:attach]
        rows[new - attach - 1] = chosen
        ends[length:length + 2 * attach:2], ends[length + 1:length + 2 * attach:2] = chosen, new
        length += 2 * attach
    later = np.stack([rows.reshape(-1), np.repeat(np.arange(attach + 1, nodes), attach)], axis=1)
    return np.concatenate([np.array(pairs, dtype=np.int64), later])


def edge_index(edges: np.ndarray) -> np.ndarray:
    """Pairs ``(m, 2)`` as PyTorch Geometric's ``edge_index`` ``(2, 2m)``: every edge both ways."""
    return np.concatenate([edges, edges[:, ::-1]]).T.copy()


def dense_to_edges(adjacency: np.ndarray) -> np.ndarray:
    """The pairs ``i < j`` of one dense adjacency matrix, ``(m, 2)``."""
    return np.stack(np.nonzero(np.triu(adjacency, k=1)), axis=1).astype(np.int64)
