"""Graph tasks (degrees, triangles) and the graph baselines: data, splits, equivariance, training."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from polyequiv.models import ModelContext, ModelError, build_model, model_names
from polyequiv.models.graphs import to_pyg
from polyequiv.tasks import TaskError, get_definition, make_task
from polyequiv.tasks.graphs import relabelled_copies
from polyequiv.training import RunConfig, train
from polyequiv_cli.main import cli

GRAPH_MODELS = ["tied-edge-linear", "tied-edge-cubic", "gcn", "gin", "row-mlp", "graph-linear",
                "deepsets-rows"]


def brute_force_triangles(adjacency: np.ndarray) -> np.ndarray:
    """Triangles through each node, by looking at every triple of nodes."""
    n = adjacency.shape[0]
    counts = np.zeros(n)
    for i, j, k in itertools.combinations(range(n), 3):
        if adjacency[i, j] and adjacency[j, k] and adjacency[i, k]:
            counts[[i, j, k]] += 1
    return counts


def test_targets_are_degrees_and_triangles() -> None:
    degree = make_task("graph-degree", seed=3, quick=True)
    triangles = make_task("triangles", seed=3, quick=True)
    for size, batch in degree.test.items():
        a = batch.values
        assert a.shape[1:] == (size, size)
        assert set(np.unique(a)) <= {0.0, 1.0}
        assert np.array_equal(a, a.transpose(0, 2, 1))
        assert not a[:, np.arange(size), np.arange(size)].any()
        assert np.array_equal(batch.targets, a.sum(axis=2))
        np.testing.assert_array_equal(triangles.test[size].values, a)  # same graphs for both tasks
        for row in range(3):
            np.testing.assert_array_equal(triangles.test[size].targets[row], brute_force_triangles(a[row]))


def test_full_sizes_and_the_split_by_base_graph() -> None:
    task = make_task("graph-degree", seed=0)
    assert len(task.train) == 48_000 and len(task.test[10]) == 12_000
    assert {size: len(batch) for size, batch in task.test.items() if size != 10} == {
        5: 2000,
        20: 2000,
        50: 2000,
    }
    assert not set(task.train.base) & set(task.test[10].base)
    assert np.bincount(task.train.base).max() == 6  # every base graph with its 5 relabellings
    seed_split = make_task("graph-degree", seed=0, split="random")
    assert len(seed_split.train) == 48_000 and len(seed_split.test[10]) == 12_000
    assert set(seed_split.train.base) & set(seed_split.test[10].base)  # copies straddle the seed's split


def test_relabelled_copies_are_the_same_graph() -> None:
    task = make_task("graph-degree", seed=1, quick=True)
    batch = task.train
    for base in np.unique(batch.base)[:20]:
        rows = np.nonzero(batch.base == base)[0]
        assert len(rows) == 6
        degree_sequences = {tuple(sorted(batch.targets[r])) for r in rows}
        assert len(degree_sequences) == 1
        spectra = [np.round(np.linalg.eigvalsh(batch.values[r]), 8) for r in rows]
        assert all(np.array_equal(spectra[0], s) for s in spectra)


def test_relabelled_copies_permute_rows_and_columns_together() -> None:
    rng = np.random.default_rng(0)
    graphs = (rng.random((4, 6, 6)) < 0.5).astype(np.float32)
    graphs = np.triu(graphs, 1) + np.triu(graphs, 1).transpose(0, 2, 1)
    copies = relabelled_copies(np.random.default_rng(1), graphs, 3).reshape(4, 4, 6, 6)
    for g in range(4):
        for c in range(1, 4):
            # some permutation maps the copy onto the original: check via brute force on 6! orders
            assert any(
                np.array_equal(copies[g, c], graphs[g][np.ix_(p, p)])
                for p in map(list, itertools.permutations(range(6)))
            )


def test_same_seed_same_graphs() -> None:
    a, b = make_task("triangles", seed=5, quick=True), make_task("triangles", seed=5, quick=True)
    c = make_task("triangles", seed=6, quick=True)
    assert np.array_equal(a.train.values, b.train.values) and np.array_equal(
        a.test[50].values, b.test[50].values
    )
    assert not np.array_equal(a.train.values, c.train.values)


def test_permuted_batch_keeps_targets_consistent() -> None:
    batch = make_task("triangles", seed=0, quick=True).test[20].take(slice(0, 10)).padded(3)
    permuted, order = batch.permuted(np.random.default_rng(4))
    assert np.array_equal(permuted.mask, batch.mask)  # padding stays in front
    for row in range(10):
        real = permuted.mask[row]
        np.testing.assert_array_equal(
            permuted.targets[row][real], brute_force_triangles(permuted.values[row][np.ix_(real, real)])
        )
        np.testing.assert_array_equal(permuted.targets[row], batch.targets[row][order[row]])


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"split": "nope"}, "unknown split"),
        ({"valid": 3}, "no validation"),
        ({"cardinalities": [1, 5]}, "≥ 2"),
        ({"train": 0}, "≥ 1"),
        ({"colour": 1}, "no option 'colour'"),
    ],
)
def test_bad_graph_task_options(options: dict, fragment: str) -> None:
    with pytest.raises(TaskError, match=fragment):
        make_task("graph-degree", quick=True, **options)


def test_set_tasks_refuse_graph_options() -> None:
    with pytest.raises(TaskError, match="no option 'split'"):
        make_task("digit-sum", quick=True, split="random")


# ---------------------------------------------------------------------- models
def graph_context(width: int = 10) -> ModelContext:
    return ModelContext("graph", equivariant=True, max_cardinality=width)


def random_batch(graphs: int, nodes: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    upper = np.triu(rng.random((graphs, nodes, nodes)) < 0.4, 1)
    return torch.from_numpy((upper | upper.transpose(0, 2, 1)).astype(np.float32)), torch.ones(
        graphs, nodes, dtype=torch.bool
    )


def test_pyg_conversion_matches_pyg() -> None:
    from torch_geometric.utils import dense_to_sparse

    values, mask = random_batch(3, 7)
    _, edges, batch = to_pyg(values, mask)
    reference, _ = dense_to_sparse(values)
    assert {tuple(e) for e in edges.T.tolist()} == {tuple(e) for e in reference.T.tolist()}
    assert batch.tolist() == [g for g in range(3) for _ in range(7)]


@pytest.mark.parametrize("name", ["gcn", "gin", "deepsets-rows", "tied-edge-linear", "tied-edge-cubic"])
def test_message_passing_models_are_equivariant_and_ignore_padding(name: str) -> None:
    torch.manual_seed(0)
    model = build_model(name, graph_context(12))
    if name.startswith("tied"):  # they start at 0, which any test would pass
        with torch.no_grad():
            model.layer.parametrizations.weight.original.normal_()
    values, mask = random_batch(4, 9, seed=1)
    out = model(values, mask)
    sigma = torch.randperm(9)
    torch.testing.assert_close(
        model(values[:, sigma][:, :, sigma], mask), out[:, sigma], atol=1e-5, rtol=1e-5
    )
    padded = torch.nn.functional.pad(values, (3, 0, 3, 0))
    padded_mask = torch.cat([torch.zeros(4, 3, dtype=torch.bool), mask], dim=1)
    more = model(padded, padded_mask)
    torch.testing.assert_close(more[:, 3:], out, atol=1e-5, rtol=1e-5)
    assert torch.all(more[:, :3] == 0)


def test_row_mlp_is_the_seeds_formula_and_fixed_width() -> None:
    torch.manual_seed(0)
    model = build_model("row-mlp", graph_context(10))
    values, mask = random_batch(2, 10)
    w, b = model.layer.weight, model.layer.bias
    expected = torch.relu(values @ w.T + b).sum(dim=-1)
    torch.testing.assert_close(model(values, mask), expected)
    with pytest.raises(ModelError, match="at most 10 nodes"):
        model(*random_batch(1, 11))


def test_graph_linear_is_its_formula_and_tied_weights_make_it_equivariant() -> None:
    torch.manual_seed(0)
    model = build_model("graph-linear", graph_context(6), penalty=1.0, sparsity=0.5).double()
    values, mask = random_batch(3, 6)
    values, w, b = values.double(), model.weight, model.bias
    expected = torch.stack([torch.stack([(w[k] * values[g]).sum() + b[k] for k in range(6)])
                            for g in range(3)])
    torch.testing.assert_close(model(values, mask), expected)
    assert model.diagnostics()["equivariance_residual"] > 0.5
    untied_penalty = float(model.penalty().detach())
    with torch.no_grad():  # Sₙ-tied: W[k, i, j] depends only on which of k, i, j are equal (5 values)
        k, i, j = np.indices((6, 6, 6))
        pattern = np.select([(k == i) & (i == j), k == i, k == j, i == j], [0, 1, 2, 3], 4)
        w.copy_(torch.tensor([0.3, -1.2, 0.7, 2.0, 0.1], dtype=torch.float64)[pattern])
    assert model.diagnostics()["equivariance_residual"] < 1e-12
    assert untied_penalty > 0  # only the L1 term is left on tied weights
    assert float(model.penalty().detach()) == pytest.approx(0.5 * float(w.detach().abs().sum()))
    sigma = torch.randperm(6)
    torch.testing.assert_close(model(values[:, sigma][:, :, sigma], mask), model(values, mask)[:, sigma])
    with pytest.raises(ModelError, match="at most 6 nodes"):
        model(*random_batch(1, 7))


def test_models_refuse_the_other_domain() -> None:
    for name in GRAPH_MODELS:
        with pytest.raises(ModelError, match="reads graphs"):
            build_model(name, ModelContext("reals", equivariant=True, max_cardinality=10))
    for name in model_names("sets"):
        with pytest.raises(ModelError, match="reads sets"):
            build_model(name, graph_context())


def test_training_on_graph_degree_reports_node_accuracy(tmp_path) -> None:
    config = RunConfig.create(
        "graph-degree",
        "deepsets-rows",
        seed=0,
        epochs=2,
        task_options={"quick": True, "cardinalities": [5, 10]},
    )
    results = train(config, tmp_path / "run")
    records = {r["cardinality"]: r for r in results["evaluation"]["per_cardinality"]}
    assert set(records) == {5, 10} and records[10]["samples"] == 150
    assert all(0 <= r["accuracy"] <= 1 for r in records.values())
    assert results["diagnostics"]["permutation_shift"] < 1e-4
    assert results["diagnostics"]["padding_shift"] < 1e-4
    assert results["task"]["split"] == "by-graph"
    assert get_definition("graph-degree").polynomial_degree == 1
    from polyequiv.training import plot_metric

    figure = plot_metric([results], "accuracy")
    assert figure.axes[0].get_xlabel() == "nodes n (test graphs of exactly n nodes)"


def test_cli_trains_a_graph_baseline(tmp_path) -> None:
    out = tmp_path / "gcn"
    result = CliRunner().invoke(
        cli,
        ["train", "--task", "graph-degree", "--model", "gcn", "--quick", "--epochs", "1", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    saved = json.loads((out / "results.json").read_text())
    assert saved["model"]["parameters"] == 31  # GCNConv(1, 10): 10 + 10, GCNConv(10, 1): 10 + 1
    bad = CliRunner().invoke(
        cli, ["train", "--task", "graph-degree", "--model", "lstm", "--quick", "--out", str(tmp_path / "x")]
    )
    assert bad.exit_code == 2 and "reads sets" in bad.output and "Traceback" not in bad.output


def brute_force_degrees(adjacency: np.ndarray) -> np.ndarray:
    n = len(adjacency)
    return np.array([sum(adjacency[k, j] for j in range(n) if j != k) for k in range(n)])


@pytest.mark.parametrize(("name", "target"), [("tied-edge-linear", brute_force_degrees),
                                              ("tied-edge-cubic", brute_force_triangles)])
def test_tied_edge_layers_hold_the_exact_answer_at_every_size(name: str, target) -> None:
    """Least squares over the layer's patterns on 7-node graphs fits the target exactly, and the
    model with those weights is exact on graphs of 4 and 13 nodes: it computes it for every n."""
    model = build_model(name, graph_context(10)).double()
    layer = model.layer
    rng = np.random.default_rng(5)

    def graphs(count: int, n: int) -> np.ndarray:
        upper = np.triu(rng.random((count, n, n)) < rng.uniform(0.2, 0.8, (count, 1, 1)), 1)
        return (upper | upper.transpose(0, 2, 1)).astype(np.float64)

    def truth(adjacency: np.ndarray) -> np.ndarray:
        return np.stack([target(a) for a in adjacency])

    train_graphs = graphs(60, 7)
    features = layer.pattern_values(torch.as_tensor(train_graphs).unsqueeze(-1))
    features = features.reshape(len(layer.patterns), -1).T
    scale = features.abs().amax(dim=0).clamp_min(1.0)  # columns range over 1 … 7⁴
    fitted = torch.linalg.lstsq(features / scale, torch.as_tensor(truth(train_graphs).reshape(-1)),
                                driver="gelsd").solution / scale
    np.testing.assert_allclose((features @ fitted).numpy(), truth(train_graphs).reshape(-1), atol=1e-8)
    with torch.no_grad():  # the model trains θ with w = P θ
        preconditioner = layer.parametrizations.weight[0].matrix
        layer.parametrizations.weight.original.copy_(torch.linalg.solve(preconditioner, fitted))
        for n in (4, 13):
            test_graphs = graphs(10, n)
            predicted = model(torch.as_tensor(test_graphs), torch.ones(10, n, dtype=torch.bool))
            np.testing.assert_allclose(predicted.numpy(), truth(test_graphs), atol=1e-7)


@pytest.mark.parametrize("solver", ["lstsq", "adam"])
def test_a_trained_tied_edge_layer_counts_degrees_exactly(tmp_path, solver: str) -> None:
    steps = {"epochs": 20} if solver == "adam" else {}
    config = RunConfig.create("graph-degree", "tied-edge-linear", seed=0, solver=solver,
                              task_options={"quick": True, "cardinalities": [5, 10, 20]}, **steps)
    results = train(config, tmp_path / "run")
    assert results["model"]["parameters"] == 2
    assert all(r["accuracy"] == 1.0 for r in results["evaluation"]["per_cardinality"])


def test_cli_split_flag_reaches_graph_tasks_and_is_refused_for_sets(tmp_path) -> None:
    out = tmp_path / "random"
    result = CliRunner().invoke(cli, ["train", "--task", "graph-degree", "--model", "tied-edge-linear",
                                      "--quick", "--split", "random", "--epochs", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "results.json").read_text())["task"]["split"] == "random"
    bad = CliRunner().invoke(cli, ["train", "--task", "digit-sum", "--model", "tied-linear", "--quick",
                                   "--split", "random", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "split" in bad.output and "Traceback" not in bad.output
