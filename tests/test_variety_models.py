"""The variety-* models: composed networks trained by `polyequiv train` (tied, penalty, projected).

Cross-checks: the torch forward against the numpy forward of polyequiv.compose.variety and against
a forward written here from the weight tuples; equivariance on random elements of the whole group;
the penalty's gradient against central differences of |E|²; the projection against the exact
tangent condition J_E g = 0; the retraction's residual; a killed run resuming to the same numbers.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from polyequiv import groups
from polyequiv.compose.network import NetworkSpec
from polyequiv.compose.variety import VarietyProblem, evaluate_network
from polyequiv.models import ModelContext, ModelError, build_model, count_parameters
from polyequiv.training.config import ConfigError, RunConfig
from polyequiv.training.run import train
from polyequiv_cli.main import cli

INVARIANT = ModelContext("reals", equivariant=False, max_cardinality=3)
EQUIVARIANT = ModelContext("reals", equivariant=True, max_cardinality=3)

NETWORKS = [
    ("S3 [quadratic free -> 3, linear free -> invariant]", INVARIANT),
    ("S3 [linear free -> 3, quadratic free -> 3]", EQUIVARIANT),
    ("S3 [linear tied +bias -> 3, quadratic free -> invariant]", INVARIANT),
    ("S3 [quadratic free +bias -> 2, linear free -> 3]", EQUIVARIANT),
    ("C4 [linear free -> 4, quadratic free -> 4]", ModelContext("reals", True, max_cardinality=4)),
]
#: Also n = 1 and 2, a cubic layer and a width-1 tied layer (where every free network is equivariant
#: too, so these only enter the forward check).
FORWARD_NETWORKS = [*NETWORKS,
    ("S1 [linear free -> 1, quadratic free -> invariant]", ModelContext("reals", False, max_cardinality=1)),
    ("S2 [quadratic free +bias -> 2, linear free -> 2]", ModelContext("reals", True, max_cardinality=2)),
    ("S2 [linear tied -> 1, cubic free -> invariant]", ModelContext("reals", False, max_cardinality=2)),
]


def model_at_random_point(name: str, network: str, context: ModelContext, seed: int = 0):
    torch.manual_seed(seed)
    model = build_model(name, context, network=network)
    with torch.no_grad():
        model.parameter.copy_(torch.randn_like(model.parameter))
    return model


def hand_forward(spec: NetworkSpec, weights: list[np.ndarray], x: np.ndarray) -> np.ndarray:
    """``h_k = Σ_t W_kt Π_i h_{t_i}`` with a loop over outputs and tuples (no vectorised gather)."""
    h = x.copy()
    for number, (layer, w) in enumerate(zip(spec.layers, weights, strict=True)):
        inputs = np.concatenate([h, np.ones((len(h), 1))], axis=1) if layer.bias else h
        tuples = spec.weight_indices[number].tuples
        out = np.zeros((len(h), layer.num_outputs))
        for k in range(layer.num_outputs):
            for position, t in enumerate(tuples):
                out[:, k] += w[k, position] * np.prod(inputs[:, list(t)], axis=1)
        h = out
    return h


@pytest.mark.parametrize("method", ["tied", "penalty", "projected"])
@pytest.mark.parametrize(("network", "context"), FORWARD_NETWORKS, ids=[n for n, _ in FORWARD_NETWORKS])
def test_forward_matches_the_numpy_network(method: str, network: str, context: ModelContext) -> None:
    model = model_at_random_point(f"variety-{method}", network, context)
    spec = model.spec
    x = np.random.default_rng(1).uniform(-1, 1, size=(7, spec.n))
    got = model(torch.from_numpy(x), torch.ones(7, spec.n, dtype=torch.bool)).detach().numpy()
    theta = model.theta().detach().numpy()
    reference = evaluate_network(spec, model.problem.embedding_float @ theta, x)
    by_hand = hand_forward(spec, [w.detach().numpy() for w in model.layer_weights()], x)
    got = got.reshape(7, -1)
    np.testing.assert_allclose(got, reference, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got, by_hand, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("network", "context"), NETWORKS, ids=[n for n, _ in NETWORKS])
def test_tied_model_is_equivariant_on_the_whole_group(network: str, context: ModelContext) -> None:
    model = model_at_random_point("variety-tied", network, context)
    free = model_at_random_point("variety-penalty", network, context)
    spec = model.spec
    rng = np.random.default_rng(2)
    x = torch.from_numpy(rng.uniform(-1, 1, size=(5, spec.n)))
    mask = torch.ones(5, spec.n, dtype=torch.bool)
    worst_tied = worst_free = 0.0
    for sigma in groups.random_group_elements(spec.n, spec.group_generators, 20, rng):
        sigma = list(sigma)
        for m, name in ((model, "tied"), (free, "free")):
            y, moved = m(x, mask).detach(), m(x[:, sigma], mask).detach()
            expected = y[:, sigma] if spec.equivariant else y
            gap = float((moved - expected).abs().max())
            if name == "tied":
                worst_tied = max(worst_tied, gap)
            else:
                worst_free = max(worst_free, gap)
    assert worst_tied < 1e-12
    assert worst_free > 1e-3  # generic free weights are not equivariant: the test can fail
    assert model.diagnostics()["equivariance_residual"] < 1e-12
    assert free.diagnostics()["equivariance_residual"] > 1e-3


def test_penalty_gradient_matches_central_differences() -> None:
    network, context = NETWORKS[0]
    model = model_at_random_point("variety-penalty", network, context)
    model.strength = 1.0
    value = model.penalty()
    value.backward()
    gradient = model.parameter.grad.numpy()
    problem = VarietyProblem(model.spec)
    theta = model.parameter.detach().numpy().copy()

    def squared(t: np.ndarray) -> float:
        e = problem.equations_and_jacobian(t)[0]
        return float(e @ e)

    assert float(value.detach()) == pytest.approx(squared(theta), rel=1e-6)
    step = 1e-6
    for i in range(0, theta.size, 3):
        plus, minus = theta.copy(), theta.copy()
        plus[i] += step
        minus[i] -= step
        numeric = (squared(plus) - squared(minus)) / (2 * step)
        assert gradient[i] == pytest.approx(numeric, rel=1e-4, abs=1e-6)


def test_projection_is_tangent_and_retraction_lands_on_the_variety() -> None:
    network, context = NETWORKS[1]
    model = model_at_random_point("variety-projected", network, context)
    with torch.no_grad():  # start on T, as training does, then leave it along a random direction
        model.parameter.copy_(model.basis @ torch.randn(model.basis.shape[1], dtype=torch.float64))
    problem = model.problem
    model.parameter.grad = torch.randn_like(model.parameter)
    raw = model.parameter.grad.clone().numpy()
    model.before_step()
    projected = model.parameter.grad.numpy()
    _, je, _, _ = problem.equations_and_jacobian(model.parameter.detach().numpy())
    assert np.abs(je @ projected).max() < 1e-9 * np.abs(je @ raw).max()
    again = projected.copy()
    model.before_step()  # idempotent
    np.testing.assert_allclose(model.parameter.grad.numpy(), again, atol=1e-10)

    with torch.no_grad():
        model.parameter.add_(1e-2 * torch.randn_like(model.parameter))
    e_before = problem.equations_and_jacobian(model.parameter.detach().numpy())[0]
    assert np.abs(e_before).max() > 1e-5
    model.after_step()
    e, _, c, _ = problem.equations_and_jacobian(model.parameter.detach().numpy())
    assert np.abs(e).max() <= 1e-12 * np.abs(c).max()
    assert model.diagnostics()["equation_residual"] <= 1e-12


def test_parameter_counts_are_dim_T_and_all_weights() -> None:
    network, context = NETWORKS[0]
    tied = build_model("variety-tied", context, network=network)
    free = build_model("variety-projected", context, network=network)
    spec = NetworkSpec.parse(network)
    assert count_parameters(free) == spec.num_weights == 3 * 6 + 3  # 3 outputs × 6 monomials, 3 read-outs
    assert count_parameters(tied) == _brute_force_tied_dim(spec)


def _brute_force_tied_dim(spec: NetworkSpec) -> int:
    """dim T by orbit counting written here: Sₙ orbits on (output, monomial) slots of each free layer."""
    total = 0
    n = spec.n
    perms = list(itertools.permutations(range(n)))
    for number, layer in enumerate(spec.layers):
        tuples = [tuple(t) for t in spec.weight_indices[number].tuples.tolist()]
        width_in = spec.input_width(number)
        outputs = layer.num_outputs
        if width_in == n and (outputs == n or layer.invariant):
            seen, orbits = set(), 0
            for k in range(outputs):
                for t in tuples:
                    if (k, t) in seen:
                        continue
                    orbits += 1
                    for p in perms:
                        image = (p[k] if outputs == n else k, tuple(sorted(p[i] for i in t)))
                        seen.add(image)
            total += orbits
        else:  # pragma: no cover - the networks here use only V -> V and V -> invariant layers
            raise AssertionError("not a layer this brute force handles")
    return total


def test_config_fixes_the_cardinalities_and_refuses_conflicts() -> None:
    options = {"network": "S4 [linear free -> 4, linear free -> invariant]"}
    config = RunConfig.create("real-sum", "variety-tied", model_options=options)
    assert config.task_options["cardinalities"] == [4]
    assert config.task_options["train_cardinalities"] == [4, 4]
    with pytest.raises(ConfigError, match="cardinalities = \\[4\\]"):
        RunConfig.create("real-sum", "variety-tied", model_options=options,
                         task_options={"cardinalities": [5]})
    with pytest.raises(ConfigError, match="network"):
        RunConfig.create("real-sum", "variety-tied", model_options={"network": "S3 [cubic free -> wide]"})


def test_models_refuse_what_they_cannot_compute() -> None:
    with pytest.raises(ModelError, match="real numbers"):
        build_model("variety-tied", ModelContext("digits", equivariant=False, max_cardinality=10))
    with pytest.raises(ModelError, match="invariant, the task is equivariant"):
        build_model("variety-tied", EQUIVARIANT, network="S3 [linear free -> 3, linear free -> invariant]")
    with pytest.raises(ModelError, match="unknown method"):
        from polyequiv.models.networks import VarietyNetwork

        VarietyNetwork(INVARIANT, method="newton")
    model = build_model("variety-tied", INVARIANT)
    with pytest.raises(ModelError, match="exactly 3 elements"):
        model(torch.zeros(2, 5), torch.ones(2, 5, dtype=torch.bool))
    with pytest.raises(ModelError, match="exactly 3 elements"):
        model(torch.zeros(2, 3), torch.tensor([[True, True, True], [False, True, True]]))


def _config(method: str, epochs: int = 2) -> RunConfig:
    return RunConfig.create("sum-of-squares", f"variety-{method}", epochs=epochs, seed=3,
                            model_options={"network": "S3 [quadratic free -> 3, linear free -> invariant]"},
                            task_options={"train": 256, "valid": 64, "test": 64})


@pytest.mark.parametrize("method", ["tied", "penalty", "projected"])
def test_training_writes_the_standard_results(method: str, tmp_path) -> None:
    results = train(_config(method), tmp_path / method)
    saved = json.loads((tmp_path / method / "results.json").read_text())
    assert saved["config"]["model"] == f"variety-{method}"
    assert saved["evaluation"]["per_cardinality"][0]["cardinality"] == 3
    diagnostics = results["diagnostics"]
    assert results["training"]["loss_history"][-1] < results["training"]["loss_history"][0]
    if method == "tied":
        assert diagnostics["layers_equivariant"] == 1.0
    if method == "projected":
        assert diagnostics["equation_residual"] <= 1e-12
    if method in ("tied", "projected"):
        assert diagnostics["permutation_shift"] < 1e-6


def test_a_killed_projected_run_resumes_to_the_same_numbers(tmp_path) -> None:
    whole = train(_config("projected", epochs=3), tmp_path / "whole")
    assert train(_config("projected", epochs=3), tmp_path / "cut", stop_after_epochs=1) is None
    resumed = train(_config("projected", epochs=3), tmp_path / "cut", resume=True)
    assert resumed["training"]["loss_history"] == whole["training"]["loss_history"]
    assert resumed["evaluation"]["per_cardinality"] == whole["evaluation"]["per_cardinality"]
    assert resumed["diagnostics"] == whole["diagnostics"]


def test_cli_train_and_its_errors(tmp_path) -> None:
    runner = CliRunner()
    network = "network=S3 [quadratic free -> 3, linear free -> invariant]"
    ok = runner.invoke(cli, ["train", "--task", "sum-of-squares", "--model", "variety-projected", "--option",
                             network, "--train-size", "128", "--valid-size", "0", "--test-size", "32",
                             "--epochs", "1", "--out", str(tmp_path / "run"), "--format", "json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["diagnostics"]["equation_residual"] <= 1e-12
    for extra, fragment in ((["--cardinalities", "5"], "cardinalities = [3]"),
                            (["--train-cardinalities", "1-10"], "train_cardinalities = [3, 3]")):
        bad = runner.invoke(cli, ["train", "--task", "sum-of-squares", "--model", "variety-tied", "--option",
                                  network, *extra, "--out", str(tmp_path / "bad")])
        assert bad.exit_code == 2 and fragment in bad.output and "Traceback" not in bad.output


def test_compare_leaves_fixed_size_models_out_unless_named() -> None:
    from polyequiv.training.comparison import supported_models

    able, _ = supported_models("sum-of-squares")
    assert not [name for name in able if name.startswith("variety-")]
    named, unable = supported_models("sum-of-squares", ["variety-tied", "variety-projected"])
    assert named == ["variety-tied", "variety-projected"] and not unable


def test_review_fixes_refuse_up_front(tmp_path) -> None:
    """A network whose forward-mode Jacobian would not fit is refused when the model is built (it ran
    out of memory after an epoch); the penalty weight is an option of variety-penalty only; compare
    builds every model before it trains any."""
    huge = "S9 [quadratic free +bias -> 9, quadratic free +bias -> 9, quadratic free +bias -> invariant]"
    with pytest.raises(ModelError, match=r"forward-mode Jacobian .* needs about 3,280,245,540 entries"):
        build_model("variety-tied", ModelContext("reals", False, 9), network=huge)
    with pytest.raises(ModelError, match="takes no option 'penalty'"):
        build_model("variety-tied", INVARIANT, penalty=5.0)
    assert build_model("variety-penalty", INVARIANT, penalty=5.0).strength == 5.0
    from polyequiv.training.comparison import compare

    good = RunConfig.create("center", "tied-linear", epochs=1, task_options={"train": 32, "test": 8,
                                                                              "cardinalities": [3]})
    bad = RunConfig.create("center", "variety-tied", epochs=1, task_options={"train": 32, "test": 8},
                           model_options={"network": "S3 [quadratic free -> 3, linear free -> invariant]"})
    with pytest.raises(ConfigError, match=r"variety-tied: the network .* is invariant, the task is equiv"):
        compare([good, bad], tmp_path / "cmp")
    assert not (tmp_path / "cmp").exists()


def test_a_table_of_runs_tested_at_disjoint_sizes_shows_each_runs_own() -> None:
    from polyequiv.training.results import comparison_rows

    def run(name: str, sizes: list[int]) -> dict:
        return {"model": {"name": name, "parameters": 3}, "config": {"model_options": {}},
                "training": {"wall_time_s": 1.0},
                "evaluation": {"per_cardinality": [{"cardinality": c, "mae": 0.5, "relative_mae": 0.1,
                                                    "accuracy": None} for c in sizes]}}

    header, rows = comparison_rows([run("a", [3]), run("b", [5, 10])])
    assert header[3:6] == ["MAE@3", "MAE@5", "MAE@10"]
    assert rows[0][3:6] == ["0.5", "—", "—"] and rows[1][3:6] == ["—", "0.5", "0.5"]
    header, _ = comparison_rows([run("a", [3, 5]), run("b", [5, 10])])
    assert header[3:] == ["MAE@5", "rel@5"]  # shared sizes only, as before
