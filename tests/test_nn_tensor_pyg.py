"""TensorPolyLayer on PyTorch Geometric batches: the sparse path against the dense one, inside a PyG
model with autograd, and the refusals of edges that are not what the representation declares."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Batch, Data
from torch_geometric.nn import GCNConv

from polyequiv.nn import TensorPolyLayer

SIZES = (3, 6, 1, 5, 4)


def random_graph(n: int, channels: int, generator: torch.Generator, directed: bool = False,
                 density: float = 0.5) -> dict:
    """A random graph as a dense adjacency with values, plus node features (float64)."""
    present = torch.rand(n, n, generator=generator) < density
    values = torch.randn(n, n, channels, dtype=torch.float64, generator=generator)
    if not directed:
        present = torch.triu(present, diagonal=1)
        present = present | present.T
        values = (values + values.transpose(0, 1)) / 2
    dense = values * present[:, :, None]
    return {"x": torch.randn(n, channels, dtype=torch.float64, generator=generator), "adjacency": dense,
            "present": present}


def to_data(graph: dict) -> Data:
    """Sparse form written here from the dense one: one edge per nonzero pattern entry."""
    source, target = torch.nonzero(graph["present"], as_tuple=True)
    return Data(x=graph["x"], edge_index=torch.stack([source, target]),
                edge_attr=graph["adjacency"][source, target], num_nodes=graph["x"].shape[0])


def graphs(channels: int, seed: int, directed: bool = False) -> list[dict]:
    generator = torch.Generator().manual_seed(seed)
    return [random_graph(n, channels, generator, directed) for n in SIZES]


@pytest.mark.parametrize(
    ("rep_in", "rep_out", "degree", "bias"),
    [("V + E", "V + E", 2, True), ("E", "V", 3, False), ("V2", "V2 + 1", 2, False), ("E", "1", 2, True)],
)
def test_sparse_batch_equals_each_graph_through_the_dense_layer(
    rep_in: str, rep_out: str, degree: int, bias: bool
) -> None:
    torch.set_num_threads(1)
    directed = "V2" in rep_in
    layer = TensorPolyLayer(rep_in, rep_out, degree, 2, 3, bias=bias, dtype=torch.float64)
    items = graphs(2, seed=len(rep_in) + degree, directed=directed)
    batch = Batch.from_data_list([to_data(g) for g in items])
    uses_x = "V" in rep_in.replace("V2", "")
    sparse = layer.forward_pyg(batch.x if uses_x else None, batch.edge_index, batch.batch,
                               edge_attr=batch.edge_attr)
    sparse = sparse if isinstance(sparse, tuple) else (sparse,)
    out_terms = [t.strip() for t in rep_out.split("+")]
    node_row, edge_row = 0, 0
    for number, graph in enumerate(items):
        inputs = [graph["x"][None]] if uses_x else []
        inputs.append(graph["adjacency"][None])
        dense = layer(*inputs)
        dense = dense if isinstance(dense, tuple) else (dense,)
        n, edges = graph["x"].shape[0], int(graph["present"].sum())
        source, target = torch.nonzero(graph["present"], as_tuple=True)
        for term, got, want in zip(out_terms, sparse, dense, strict=True):
            if term == "V":
                torch.testing.assert_close(got[node_row : node_row + n], want[0], rtol=1e-10, atol=1e-10)
            elif term == "1":
                torch.testing.assert_close(got[number], want[0], rtol=1e-10, atol=1e-10)
            else:  # edge values, in the order of the graph's edge_index
                torch.testing.assert_close(got[edge_row : edge_row + edges], want[0, source, target],
                                           rtol=1e-10, atol=1e-10)
        node_row, edge_row = node_row + n, edge_row + edges
    assert node_row == batch.num_nodes and edge_row == batch.num_edges


def test_dense_edge_output_equals_the_masked_padded_batch() -> None:
    torch.set_num_threads(1)
    layer = TensorPolyLayer("V + E", "E", 2, 2, 2, bias=True, dtype=torch.float64)
    items = graphs(2, seed=7)
    batch = Batch.from_data_list([to_data(g) for g in items])
    got = layer.forward_pyg(batch.x, batch.edge_index, batch.batch, edge_attr=batch.edge_attr, edges="dense")
    n_max = max(SIZES)
    x = torch.zeros(len(items), n_max, 2, dtype=torch.float64)
    a = torch.zeros(len(items), n_max, n_max, 2, dtype=torch.float64)
    mask = torch.zeros(len(items), n_max, dtype=torch.bool)
    for number, graph in enumerate(items):
        n = graph["x"].shape[0]
        x[number, :n], a[number, :n, :n], mask[number, :n] = graph["x"], graph["adjacency"], True
    torch.testing.assert_close(got, layer(x, a, mask=mask), rtol=1e-10, atol=1e-10)


def test_inside_a_pyg_model_with_autograd() -> None:
    """GCNConv → TensorPolyLayer(V + E → V) → GCNConv → Linear, predicting node degrees: gradients
    reach every parameter, Adam lowers the loss, relabelling each graph's nodes relabels the output."""
    torch.manual_seed(0)
    torch.set_num_threads(1)

    class Model(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.first, self.second = GCNConv(1, 4), GCNConv(4, 4)
            self.tensor = TensorPolyLayer("V + E", "V", 2, 4, 4, bias=True)
            self.readout = torch.nn.Linear(4, 1)

        def forward(self, data: Data) -> torch.Tensor:
            h = torch.relu(self.first(data.x, data.edge_index))
            edges = torch.ones(data.edge_index.shape[1], 4)
            h = torch.tanh(self.tensor.forward_pyg(h, data.edge_index, data.batch, edge_attr=edges))
            return self.readout(torch.relu(self.second(h, data.edge_index)))

    generator = torch.Generator().manual_seed(5)
    data_list = []
    for n in (5, 8, 6, 7):
        graph = random_graph(n, 1, generator)
        source, target = torch.nonzero(graph["present"], as_tuple=True)
        degree = graph["present"].sum(1, keepdim=True).float()
        data_list.append(Data(x=torch.ones(n, 1), edge_index=torch.stack([source, target]), y=degree))
    data = Batch.from_data_list(data_list)
    model = Model()
    optimiser = torch.optim.Adam(model.parameters(), lr=0.03)
    losses = []
    for _ in range(60):
        optimiser.zero_grad()
        loss = (model(data) - data.y).abs().mean()
        loss.backward()
        if not losses:
            assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses

    permuted = []
    perms = []
    for graph in data_list:
        sigma = torch.randperm(graph.num_nodes, generator=generator)  # new node k is old node σ(k)
        inverse = torch.argsort(sigma)
        permuted.append(Data(x=graph.x[sigma], edge_index=inverse[graph.edge_index], y=graph.y[sigma]))
        perms.append(sigma)
    with torch.no_grad():
        before, after = model(data), model(Batch.from_data_list(permuted))
    offsets = torch.cumsum(torch.tensor([0] + [g.num_nodes for g in data_list[:-1]]), 0)
    order = torch.cat([offset + sigma for offset, sigma in zip(offsets, perms, strict=True)])
    torch.testing.assert_close(after, before[order], rtol=1e-5, atol=1e-5)


class PygCall(torch.nn.Module):
    """``layer.forward_pyg`` as a module's forward, so that ``torch.func.functional_call`` can swap
    the weight (for gradcheck)."""

    def __init__(self, layer: TensorPolyLayer, data: Batch) -> None:
        super().__init__()
        self.layer, self.data = layer, data

    def forward(self, x: torch.Tensor, edge_attr: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.layer.forward_pyg(x, self.data.edge_index, self.data.batch, edge_attr=edge_attr)


def test_pyg_path_gradients_are_exact() -> None:
    """gradcheck (float64, finite differences) of the node and edge outputs with respect to the node
    features, the edge values and the weights."""
    torch.set_num_threads(1)
    layer = TensorPolyLayer("V + E", "V + E", 2, 1, 1, bias=True, dtype=torch.float64)
    data = Batch.from_data_list([to_data(graphs(1, seed=11)[k]) for k in (0, 2, 4)])  # 3, 1, 4 nodes
    call = PygCall(layer, data)
    x, edge_attr = data.x.clone().requires_grad_(True), data.edge_attr.clone()
    assert torch.autograd.gradcheck(lambda x: call(x, edge_attr), (x,))
    # edge values enter symmetrically (the two directions of an edge are one coordinate of E)
    pairs = data.edge_index[0] < data.edge_index[1]
    reverse = {(int(i), int(j)): k for k, (i, j) in enumerate(data.edge_index.T)}
    partner = torch.tensor([reverse[(int(j), int(i))] for i, j in data.edge_index.T[pairs]])
    upper = edge_attr[pairs].clone().requires_grad_(True)

    def of_edges(upper: torch.Tensor) -> tuple[torch.Tensor, ...]:
        values = torch.zeros_like(edge_attr).index_put((torch.nonzero(pairs)[:, 0],), upper)
        return call(data.x, values.index_put((partner,), upper))

    assert torch.autograd.gradcheck(of_edges, (upper,))
    weight = layer.weight.detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda w: torch.func.functional_call(call, {"layer.weight": w}, (data.x, edge_attr)), (weight,)
    )


def test_edges_that_are_not_undirected_are_refused_with_the_edge() -> None:
    layer = TensorPolyLayer("E", "V", 1)
    with pytest.raises(ValueError, match=r"edge \(0, 1\) has no reverse \(1, 0\)"):
        layer.forward_pyg(edge_index=torch.tensor([[0, 1], [1, 2]]), num_nodes=3)
    with pytest.raises(ValueError, match=r"no self-loops.*\(2, 2\)"):
        layer.forward_pyg(edge_index=torch.tensor([[0, 1, 2], [1, 0, 2]]))
    with pytest.raises(ValueError, match=r"edge \(0, 1\) more than once"):
        layer.forward_pyg(edge_index=torch.tensor([[0, 0, 1], [1, 1, 0]]))
    with pytest.raises(ValueError, match="equal edge_attr both ways"):
        layer.forward_pyg(edge_index=torch.tensor([[0, 1], [1, 0]]), edge_attr=torch.tensor([1.0, 2.0]))
    # the same edges declared V2 (directed) are fine
    TensorPolyLayer("V2", "V", 1).forward_pyg(edge_index=torch.tensor([[0, 1], [1, 2]]), num_nodes=3)
    with pytest.raises(ValueError, match=r"edge_attr \(num_edges, 2\)"):
        TensorPolyLayer("E", "V", 1, 2, 1).forward_pyg(edge_index=torch.tensor([[0, 1], [1, 0]]))
    with pytest.raises(ValueError, match="input term V takes x"):
        TensorPolyLayer("V + E", "V", 1).forward_pyg(edge_index=torch.tensor([[0, 1], [1, 0]]))
    with pytest.raises(ValueError, match=r"V3 .*no PyTorch Geometric form"):
        TensorPolyLayer("V3", "V", 1).forward_pyg(torch.ones(3, 1), torch.tensor([[0], [1]]))


def test_dense_path_names_the_asymmetric_entry() -> None:
    a = torch.zeros(2, 4, 4, 1)
    a[1, 0, 3, 0], a[1, 3, 0, 0] = 1.0, 0.25
    with pytest.raises(ValueError, match=r"input term E .* x\[1, 0, 3, 0\] = 1 but x\[1, 3, 0, 0\] = 0.25"):
        TensorPolyLayer("E", "V", 1)(a)
    a[1, 3, 0, 0] = 1.0 + 1e-9  # float noise (e.g. a normalised adjacency) is accepted
    TensorPolyLayer("E", "V", 1)(a)
