"""Pattern layers summed on edge lists (polyequiv.nn.sparse_patterns) against the dense einsum path:
every pattern of E → V, V2 → V, V + E → V and E → E of degree ≤ 4, channels 1–3, to 1e-10 in float64;
gradients; the triangle listing against brute force; graphs too large for the dense path; refusals."""

from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from test_nn_tensor_pyg import random_graph

from polyequiv.nn import TensorPolyLayer, sparse_factors
from polyequiv.nn.pyg import pyg_to_sparse
from polyequiv.nn.sparse_patterns import SparsePatternError, compile_pattern, evaluate_pattern
from polyequiv.patterns import Pattern

SIZES = (4, 1, 6, 0, 5, 3)  # one isolated node, one graph with no node at all is skipped below


def random_batch(sizes: tuple[int, ...], channels: int, directed: bool, seed: int, density: float = 0.5
                 ) -> dict:
    """A batch as PyG lists and, per graph, the dense tensors (float64).  Directed graphs (V2) get
    self-loops and one-way edges; undirected ones (E) symmetric values and no loops."""
    generator = torch.Generator().manual_seed(seed)
    xs, adjacency, offsets, sources, targets, attrs, graphs = [], [], [], [], [], [], []
    offset = 0
    for number, n in enumerate(s for s in sizes if s):
        graph = random_graph(n, channels, generator, directed, density)
        dense = graph["adjacency"]
        source, target = torch.nonzero(graph["present"], as_tuple=True)
        xs.append(graph["x"])
        adjacency.append(dense)
        sources.append(source + offset)
        targets.append(target + offset)
        attrs.append(dense[source, target])
        graphs.append(torch.full((n,), number))
        offsets.append(offset)
        offset += n
    return {"x": torch.cat(xs), "edge_index": torch.stack([torch.cat(sources), torch.cat(targets)]),
            "edge_attr": torch.cat(attrs), "batch": torch.cat(graphs), "dense_x": xs, "adjacency": adjacency,
            "u": torch.randn(len(xs), channels, dtype=torch.float64, generator=generator)}


def pyg_kwargs(layer: TensorPolyLayer, data: dict) -> dict:
    terms = layer.in_rep.terms
    return {"x": data["x"] if "V" in terms else None, "edge_index": data["edge_index"],
            "batch": data["batch"], "edge_attr": data["edge_attr"], "u": data["u"] if "1" in terms else None}


def dense_per_graph(layer: TensorPolyLayer, data: dict, function) -> list:
    """``function(inputs)`` graph by graph on the dense tensors."""
    out = []
    for number, (x, a) in enumerate(zip(data["dense_x"], data["adjacency"], strict=True)):
        inputs = []
        for term in layer.in_rep.terms:
            inputs.append({"1": data["u"][number:number + 1], "V": x[None]}.get(term, a[None]))
        out.append(function(inputs))
    return out


def flatten_dense(output: torch.Tensor, term: str, data: dict, number: int) -> torch.Tensor:
    """One graph's dense output ``(…, n[, n], c)`` in the sparse layout (rows first)."""
    if term == "1":
        return output
    if term == "V":
        return output[0]
    present = data["adjacency"][number].abs().sum(-1) != 0
    source, target = torch.nonzero(present, as_tuple=True)
    return output[0, source, target]


def split_rows(value: torch.Tensor, term: str, data: dict) -> list[torch.Tensor]:
    """The sparse output (rows first) cut graph by graph."""
    counts = {"1": [1] * len(data["dense_x"]), "V": [x.shape[0] for x in data["dense_x"]],
              "E": [int((a.abs().sum(-1) != 0).sum()) for a in data["adjacency"]]}
    counts["V2"] = counts["E"]
    return list(value.split(counts[term]))


CASES = [("E", "V"), ("V2", "V"), ("V + E", "V"), ("E", "E")]


@pytest.mark.parametrize(("rep_in", "rep_out"), CASES)
@pytest.mark.parametrize("degree", [1, 2, 3, 4])
def test_every_pattern_equals_the_dense_pattern(rep_in: str, rep_out: str, degree: int) -> None:
    """One channel: each pattern's T_π on the edge lists equals the dense contraction (graph by graph)."""
    torch.set_num_threads(1)
    layer = TensorPolyLayer(rep_in, rep_out, degree, dtype=torch.float64, bias=degree == 2)
    data = random_batch(SIZES, 1, "V2" in rep_in, seed=degree + 10 * len(rep_in))
    sparse = layer.pattern_values_pyg(**pyg_kwargs(layer, data))
    dense = dense_per_graph(layer, data, lambda inputs: layer.pattern_values(*inputs))
    term = layer.out_rep.terms[0]
    pieces = [flatten_dense(values.movedim(0, -1), term, data, number) for number, values in enumerate(dense)]
    want = torch.cat(pieces).reshape(-1, len(layer.patterns)).T
    assert sparse.shape == want.shape == (len(layer.patterns), sparse.shape[1])
    scale = want.abs().amax(dim=1, keepdim=True).clamp_min(1.0)
    assert torch.allclose(sparse / scale, want / scale, rtol=0, atol=1e-10), \
        [str(p) for p, bad in zip(layer.patterns, ((sparse - want).abs() / scale > 1e-10).any(1), strict=True)
         if bad]


@pytest.mark.parametrize(("rep_in", "rep_out"), [*CASES, ("1 + V + E", "V + E + 1"), ("V2", "V2 + 1")])
@pytest.mark.parametrize(("degree", "channels"), [(1, 3), (2, 2), (3, 3), (3, 2), (4, 2)])
def test_layer_with_channels_equals_the_dense_layer(rep_in: str, rep_out: str, degree: int, channels: int
                                                     ) -> None:
    """Random weights on every pattern and channel tuple: the layer's output, term by term."""
    if degree == 4 and ("V2" in rep_in or "1" in rep_in):
        pytest.skip("thousands of patterns with 16 channel tuples each: covered with one channel above")
    torch.set_num_threads(1)
    torch.manual_seed(degree * channels)
    layer = TensorPolyLayer(rep_in, rep_out, degree, channels, 2, bias=degree < 3, dtype=torch.float64)
    data = random_batch(SIZES, channels, "V2" in rep_in, seed=3 * degree + channels)
    sparse = layer.forward_pyg(**pyg_kwargs(layer, data), method="sparse")
    sparse = sparse if isinstance(sparse, tuple) else (sparse,)
    dense = dense_per_graph(layer, data, lambda inputs: layer(*inputs))
    for position, term in enumerate(layer.out_rep.terms):
        got = split_rows(sparse[position], term, data)
        for number, output in enumerate(dense):
            output = output if isinstance(output, tuple) else (output,)
            want = flatten_dense(output[position], term, data, number)
            torch.testing.assert_close(got[number], want.reshape(got[number].shape), rtol=1e-10, atol=1e-10)


@settings(max_examples=25, deadline=None)
@given(sizes=st.lists(st.integers(0, 7), min_size=1, max_size=4), density=st.floats(0.0, 1.0),
       seed=st.integers(0, 10_000))
def test_random_graphs_cubic_node_and_edge_layers(sizes: list[int], density: float, seed: int) -> None:
    """Any batch (empty graphs, isolated nodes, cliques): cubic E → V and quadratic E → E + V."""
    if not any(sizes):
        return
    torch.set_num_threads(1)
    data = random_batch(tuple(sizes), 1, False, seed, density)
    for layer in (TensorPolyLayer("E", "V", 3, dtype=torch.float64),
                  TensorPolyLayer("E", "E + V", 2, bias=True, dtype=torch.float64)):
        kwargs = pyg_kwargs(layer, data)
        sparse = layer.forward_pyg(**kwargs, method="sparse")
        dense = layer.forward_pyg(**kwargs, method="dense")
        for got, want in zip(*((t if isinstance(t, tuple) else (t,)) for t in (sparse, dense)), strict=True):
            torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


def symmetric_edge_values(edge_index: torch.Tensor):
    """``(positions of the edges i < j, a map from one value per undirected edge to edge_attr)``."""
    upper = edge_index[0] < edge_index[1]
    code = {(int(i), int(j)): k for k, (i, j) in enumerate(edge_index.T)}
    partner = torch.tensor([code[(int(j), int(i))] for i, j in edge_index.T[upper]])
    where = torch.nonzero(upper)[:, 0]

    def expand(values: torch.Tensor) -> torch.Tensor:
        edge_attr = torch.zeros(edge_index.shape[1], values.shape[1], dtype=values.dtype)
        return edge_attr.index_put((where,), values).index_put((partner,), values)

    return upper, expand


class Call(torch.nn.Module):
    """``layer.forward_pyg(…, method="sparse")`` as a module, so ``functional_call`` swaps the weight."""

    def __init__(self, layer: TensorPolyLayer, data: dict) -> None:
        super().__init__()
        self.layer, self.data = layer, data

    def forward(self, u, x, edge_attr):
        data = self.data
        return self.layer.forward_pyg(x, data["edge_index"], data["batch"], edge_attr=edge_attr, u=u,
                                      method="sparse")


def test_gradients_are_exact() -> None:
    """gradcheck on the edge lists: a quadratic 1 + V + E → V + E + 1 layer with respect to u, x and the
    edge values (one per undirected edge), and the cubic E → V layer (triangles) with respect to the
    edge values and the weights."""
    torch.set_num_threads(1)
    data = random_batch((4, 1, 3), 1, False, seed=5, density=0.8)
    upper, expand = symmetric_edge_values(data["edge_index"])
    values = data["edge_attr"][upper].clone().requires_grad_(True)
    call = Call(TensorPolyLayer("1 + V + E", "V + E + 1", 2, bias=True, dtype=torch.float64), data)
    u, x = data["u"].clone().requires_grad_(True), data["x"].clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda u, x, v: call(u, x, expand(v)), (u, x, values), fast_mode=True)
    cubic = Call(TensorPolyLayer("E", "V", 3, dtype=torch.float64), data)
    weight = cubic.layer.weight.detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda v, w: torch.func.functional_call(cubic, {"layer.weight": w}, (None, None, expand(v))),
        (values, weight), fast_mode=True)


def test_directed_gradients_are_exact() -> None:
    """gradcheck of a quadratic V2 → V2 + V layer: one-way edges and self-loops, each value free."""
    torch.set_num_threads(1)
    data = random_batch((3, 2), 1, True, seed=8, density=0.6)
    call = Call(TensorPolyLayer("V2", "V2 + V", 2, bias=True, dtype=torch.float64), data)
    values = data["edge_attr"].clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda v: call(None, None, v), (values,), fast_mode=True)


def brute_force_triangles(edge_index: torch.Tensor, num_nodes: int) -> set[tuple[int, int, int]]:
    edges = {(int(i), int(j)) for i, j in edge_index.T}
    return {t for t in itertools.combinations(range(num_nodes), 3)
            if (t[0], t[1]) in edges and (t[1], t[2]) in edges and (t[0], t[2]) in edges}


@pytest.mark.parametrize("seed", range(4))
def test_triangle_listing_finds_each_triangle_once(seed: int) -> None:
    data = random_batch((9, 7, 12), 1, False, seed=seed, density=0.3 + 0.15 * seed)
    n = data["x"].shape[0]
    graph = pyg_to_sparse("E", "V", 1, edge_index=data["edge_index"], batch=data["batch"],
                          dtype=torch.float64)
    pair = graph.inputs[0].pair(False, graph.supports)
    positions = graph.supports.triangles(pair)
    first, second = pair.first, pair.second
    listed = [tuple(sorted({int(first[p]) for p in row} | {int(second[p]) for p in row}))
              for row in positions]
    assert len(listed) == len(set(listed))
    assert set(listed) == brute_force_triangles(data["edge_index"], n)
    for row in positions.tolist():  # xy, yx, xz, zx, yz, zy: each position read both ways
        for forward, backward in ((0, 1), (2, 3), (4, 5)):
            assert int(first[row[forward]]) == int(second[row[backward]])
            assert int(second[row[forward]]) == int(first[row[backward]])


def test_closed_walks_use_the_triangle_list(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    original = sparse_factors._join_on_triangles
    monkeypatch.setattr(sparse_factors, "_join_on_triangles", lambda *a: calls.append(1) or original(*a))
    layer = TensorPolyLayer("E", "V", 3, dtype=torch.float64)
    data = random_batch((6, 5), 1, False, seed=1)
    layer.pattern_values_pyg(edge_index=data["edge_index"], batch=data["batch"], edge_attr=data["edge_attr"])
    assert len(calls) == 2  # the triangles through a node, and the triangles of the graph


def test_a_graph_the_dense_path_cannot_hold() -> None:
    """30,000 nodes (a dense float64 adjacency would take 7.2 GB): the cubic layer's degree and
    triangle patterns on a ring with chords, whose counts are known."""
    torch.set_num_threads(1)
    n = 30_000
    ring = torch.arange(n)
    source = torch.cat([ring, ring])
    target = torch.cat([(ring + 1) % n, (ring + 2) % n])  # i ~ i±1, i±2: every node on 3 triangles
    edge_index = torch.stack([torch.cat([source, target]), torch.cat([target, source])])
    layer = TensorPolyLayer("E", "V", 3, dtype=torch.float64)
    values = layer.pattern_values_pyg(edge_index=edge_index)
    names = [str(p) for p in layer.patterns]
    assert torch.equal(values[names.index("{o₁,i₁,i₂}{i₁′,i₃}{i₂′,i₃′}")], torch.full((n,), 6.0))
    assert torch.equal(values[names.index("{o₁,i₁,i₂,i₃}{i₁′}{i₂′}{i₃′}")], torch.full((n,), 64.0))
    assert float(values[names.index("{o₁}{i₁,i₂}{i₁′,i₃}{i₂′,i₃′}")][0]) == 6.0 * n


def k4_pattern() -> Pattern:
    """The six edges of K₄ as an invariant pattern of E → 1 (degree 6): tree width 3."""
    kernel = (0, 1, 0, 2, 0, 3, 1, 2, 1, 3, 2, 3)
    return Pattern(0, (6, 0), tuple(("·",) for _ in range(4)), "", kernel)


def test_patterns_without_an_edge_list_program_are_named() -> None:
    with pytest.raises(SparsePatternError, match="three blocks at once"):
        compile_pattern(k4_pattern(), "E", "1")
    layer = TensorPolyLayer("V3", "V", 1)
    with pytest.raises(SparsePatternError, match="term V3 has no edge-list form"):
        layer.forward_pyg(torch.ones(3, 1), torch.tensor([[0], [1]]), method="sparse")


@pytest.mark.parametrize(("edge_index", "message"), [
    (torch.tensor([[0, 1], [1, 2]]), r"edge \(0, 1\) has no reverse \(1, 0\)"),
    (torch.tensor([[0, 1, 2], [1, 0, 2]]), r"no self-loops.*\(2, 2\)"),
    (torch.tensor([[0, 0, 1], [1, 1, 0]]), r"edge \(0, 1\) more than once"),
    (torch.tensor([[0, 1, 5], [1, 0, 1]]), r"outside 0…2: edge \(5, 1\)"),
    (torch.tensor([[0, 1, -1], [1, 0, 1]]), r"outside 0…2: edge \(-1, 1\)"),
    (torch.tensor([[0.0, 1.0], [1.0, 0.0]]), "integer node numbers.*torch.float32"),
    (torch.tensor([0, 1]), r"shape \(2, num_edges\), got \(2,\)"),
    (torch.tensor([[0, 1], [1, 0], [0, 0]]), r"shape \(2, num_edges\), got \(3, 2\)"),
])
@pytest.mark.parametrize("method", ["sparse", "dense"])
def test_bad_edges_are_refused_with_the_edge(edge_index: torch.Tensor, message: str, method: str) -> None:
    with pytest.raises(ValueError, match=message):
        TensorPolyLayer("E", "V", 2).forward_pyg(edge_index=edge_index, num_nodes=3, method=method)


def test_bad_methods_are_refused() -> None:
    layer = TensorPolyLayer("E", "E", 1)
    edge_index = torch.tensor([[0, 1], [1, 0]])
    with pytest.raises(ValueError, match="method must be 'auto', 'sparse' or 'dense', got 'fast'"):
        layer.forward_pyg(edge_index=edge_index, method="fast")
    with pytest.raises(ValueError, match="edges='dense' asks for every node pair"):
        layer.forward_pyg(edge_index=edge_index, edges="dense", method="sparse")
    with pytest.raises(ValueError, match=r"edge_attr has dtype torch\.float64"):
        layer.forward_pyg(edge_index=edge_index, edge_attr=torch.ones(2, 1, dtype=torch.float64))
    with pytest.raises(ValueError, match="needs one input and one output channel and one output term"):
        TensorPolyLayer("E", "V", 1, 2, 1).pattern_values_pyg(edge_index=edge_index)


def test_joins_walk_edge_lists_not_lists_of_two_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 4-cycle away from the root: both joins pair two edge lists (Σ deg² two-paths each); joining
    the list of two-paths again would walk Σ deg₂·deg paths (a hub makes that quadratic)."""
    walked = []
    original = sparse_factors._two_paths

    def spy(left, right, num_nodes):
        walked.append((len(left), len(right)))
        return original(left, right, num_nodes)

    monkeypatch.setattr(sparse_factors, "_two_paths", spy)
    layer = TensorPolyLayer("E", "V", 4, dtype=torch.float64)
    (pattern,) = [p for p in layer.patterns if str(p) == "{o₁}{i₁,i₂}{i₁′,i₃}{i₂′,i₄}{i₃′,i₄′}"]
    data = random_batch((9, 8), 1, False, seed=2, density=0.6)
    edges = data["edge_index"].shape[1]
    graph = pyg_to_sparse("E", "V", 1, edge_index=data["edge_index"], batch=data["batch"],
                          dtype=torch.float64)
    value = evaluate_pattern(compile_pattern(pattern, "E", "V"), graph)
    assert walked == [(edges, edges), (edges, edges)]
    closed_4_walks = [float(torch.linalg.matrix_power((a[..., 0] != 0).double(), 4).trace())
                      for a in data["adjacency"]]  # the graph was built with unit edge values
    nodes = [x.shape[0] for x in data["dense_x"]]
    expected = torch.cat([torch.full((n,), w, dtype=torch.float64) for n, w in zip(nodes, closed_4_walks,
                                                                                       strict=True)])
    torch.testing.assert_close(value.reshape(-1), expected)
