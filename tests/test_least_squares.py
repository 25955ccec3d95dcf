"""Exact fitting: streamed least squares against numpy, rationals against brute force, linear models,
and the issue's targets (graph counts exact at 10 to 1,000 nodes; set polynomials to 1e-9 at c = 100)."""

from __future__ import annotations

import json
import os
import signal
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from polyequiv.models import MODELS, ModelContext, build_model, get_model_definition
from polyequiv.rationals import simplest_in_interval, simplest_rational
from polyequiv.tasks import get_definition, make_task
from polyequiv.training.config import ConfigError, RunConfig, default_solver
from polyequiv.training.evaluation import to_tensors
from polyequiv.training.least_squares import (
    StreamedLeastSquares,
    assign_weights,
    feature_rows,
    load_solution,
    model_features,
    weight_vector,
)
from polyequiv.training.results import numbers_only
from polyequiv.training.run import train
from polyequiv_cli.main import cli


def streamed(features: np.ndarray, targets: np.ndarray, cuts: list[int]) -> StreamedLeastSquares:
    solver = StreamedLeastSquares(features.shape[1])
    for lo, hi in zip([0, *cuts], [*cuts, len(targets)], strict=True):
        solver.add(torch.from_numpy(features[lo:hi]), torch.from_numpy(targets[lo:hi]))
    return solver


@pytest.mark.parametrize("seed", range(4))
def test_streamed_least_squares_equals_numpy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows, p = 200, 7
    features = rng.normal(size=(rows, p)) * 10.0 ** rng.integers(-3, 4, size=p)  # scales far apart
    targets = rng.normal(size=rows)
    expected = np.linalg.lstsq(features, targets, rcond=None)[0]
    solution = streamed(features, targets, sorted(rng.choice(rows, 5, replace=False).tolist())).solve()
    np.testing.assert_allclose(solution.theta.numpy(), expected, rtol=1e-9)
    assert solution.rank == p and solution.rows == rows
    residual = np.linalg.norm(features @ expected - targets) / np.sqrt(rows)
    assert solution.residual_rms == pytest.approx(residual, rel=1e-9)


def test_duplicated_columns_drop_out_and_predictions_agree_with_numpy() -> None:
    rng = np.random.default_rng(7)
    base = rng.normal(size=(100, 3))
    features = np.column_stack([base, base[:, 0], 2 * base[:, 1]])  # rank 3 of 5
    targets = base @ np.array([1.0, -2.0, 0.5])
    solution = streamed(features, targets, [33, 66]).solve()
    assert solution.rank == 3
    np.testing.assert_allclose(features @ solution.theta.numpy(), targets, atol=1e-12)


def test_merging_two_streams_is_one_stream_and_ridge_is_the_closed_form() -> None:
    rng = np.random.default_rng(3)
    features, targets = rng.normal(size=(120, 4)), rng.normal(size=120)
    whole = streamed(features, targets, [50])
    left, right = streamed(features[:70], targets[:70], [20]), streamed(features[70:], targets[70:], [])
    left.merge(right.r, right.rows)
    np.testing.assert_allclose(left.solve().theta.numpy(), whole.solve().theta.numpy(), rtol=1e-12)
    ridge = 3.0
    closed = np.linalg.solve(features.T @ features + ridge * np.eye(4), features.T @ targets)
    np.testing.assert_allclose(whole.solve(ridge).theta.numpy(), closed, rtol=1e-10)


def test_rational_weights_are_recovered_exactly_and_noise_is_not_rationalised() -> None:
    rng = np.random.default_rng(11)
    planted = [Fraction(1, 2), Fraction(0), Fraction(-3), Fraction(2, 7), Fraction(0)]
    features = rng.integers(0, 5, size=(300, 5)).astype(float) * 10.0 ** np.arange(5)
    targets = features @ np.array([float(v) for v in planted])
    solver = streamed(features, targets, [100, 200])
    exact = solver.rationalised(solver.solve())
    assert exact.rational == tuple(planted)
    noisy = streamed(features, targets + rng.normal(scale=1e-3, size=300), [150])
    assert noisy.rationalised(noisy.solve()).rational is None


def brute_simplest(lo: Fraction, hi: Fraction) -> Fraction:
    for q in range(1, 200):
        candidates = [Fraction(p, q) for p in range(int(np.floor(lo * q)) - 1, int(np.ceil(hi * q)) + 2)
                      if lo <= Fraction(p, q) <= hi]
        if candidates:
            return min(candidates, key=abs)
    raise AssertionError("no fraction with a small denominator")


@pytest.mark.parametrize("seed", range(3))
def test_simplest_rational_against_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(200):
        lo = Fraction(int(rng.integers(-400, 400)), int(rng.integers(1, 60)))
        hi = lo + Fraction(int(rng.integers(0, 30)), int(rng.integers(1, 400)))
        found = simplest_in_interval(lo, hi)
        assert lo <= found <= hi
        assert found.denominator == brute_simplest(lo, hi).denominator
    assert simplest_rational(1 / 3 + 1e-13, 1e-9) == Fraction(1, 3)


# ---------------------------------------------------------------------- models linear in their weights
def _model(name: str, task: str):
    context = ModelContext.of_definition(get_definition(task), 10)
    torch.manual_seed(0)
    return build_model(name, context).double()


LINEAR = [("tied-quadratic", "center"), ("tied-quadratic", "sum-of-squares"),
          ("tied-edge-linear", "graph-degree"), ("tied-edge-cubic", "triangles"),
          ("tied-poly", "inertia"), ("tied-poly", "particle-interaction")]


def test_every_model_declares_linearity_as_it_is_built() -> None:
    for name, definition in MODELS.items():
        if definition.domain == "images" or name.startswith("variety"):
            continue  # no image model is linear; variety networks compose layers
        task = {"sets": "sum-of-squares", "graphs": "graph-degree", "physics": "inertia"}[definition.domain]
        built = _model(name, task)
        assert (built.linear_parameters() is not None) == definition.is_linear(), name


@pytest.mark.parametrize(("name", "task"), LINEAR)
def test_linear_models_are_linear_and_their_features_predict(name: str, task: str) -> None:
    model = _model(name, task)
    batch = make_task(task, seed=1, quick=True).train
    with torch.no_grad(), Float64():
        values, mask, _ = to_tensors(batch)
        values, mask = values[:20], mask[:20]
        one, two = torch.randn(weight_vector(model).numel(), dtype=torch.float64), None
        two = torch.randn_like(one)
        outputs = []
        for theta in (one, two, 2 * one - 3 * two):
            assign_weights(model, theta)
            outputs.append(model(values, mask))
        torch.testing.assert_close(outputs[2], 2 * outputs[0] - 3 * outputs[1], rtol=1e-9, atol=1e-9)
        features = model_features(model, values, mask)
        load_solution(model, two)
        torch.testing.assert_close(features @ two, model(values, mask), rtol=1e-10, atol=1e-10)


class Float64:
    def __enter__(self) -> None:
        self.previous = torch.get_default_dtype()
        torch.set_default_dtype(torch.float64)

    def __exit__(self, *args) -> None:
        torch.set_default_dtype(self.previous)


def test_feature_rows_keep_only_real_elements() -> None:
    features = torch.arange(24.0).reshape(2, 3, 4)
    targets, mask = torch.zeros(2, 3), torch.tensor([[False, True, True], [True, True, True]])
    rows, kept = feature_rows(features, targets, mask)
    assert rows.shape == (5, 4) and kept.shape == (5,) and rows[0].tolist() == [4.0, 5.0, 6.0, 7.0]


def test_solver_defaults_and_refusals() -> None:
    assert default_solver("center", "tied-quadratic") == "lstsq"
    assert default_solver("center", "tied-linear") == "adam"  # two layers: not linear in its weights
    assert default_solver("digit-sum", "tied-linear", {"layers": 0}) == "lstsq"
    assert default_solver("triangles", "gin") == "adam"
    config = RunConfig.create("center", "tied-quadratic")
    assert (config.solver, config.epochs) == ("lstsq", 1)
    with pytest.raises(ConfigError, match="not linear in its weights"):
        RunConfig.create("center", "deepsets", solver="lstsq")
    with pytest.raises(ConfigError, match="one pass"):
        RunConfig.create("center", "tied-quadratic", epochs=5)
    assert RunConfig.from_dict({**config.to_dict(), "solver": "adam", "epochs": 5}).solver == "adam"
    old = {k: v for k, v in config.to_dict().items() if k not in ("solver", "ridge")}
    assert RunConfig.from_dict({**old, "epochs": 5}).solver == "adam"  # configs written before solvers


# ---------------------------------------------------------------------- the targets
@pytest.mark.parametrize(("task", "model"), [("graph-degree", "tied-edge-linear"),
                                             ("triangles", "tied-edge-cubic")])
def test_graph_counts_are_exact_on_every_node_up_to_1000_nodes(tmp_path: Path, task: str,
                                                                model: str) -> None:
    result = CliRunner().invoke(cli, ["train", "--task", task, "--model", model, "--quick", "--cardinalities",
                                      "10,50,200,1000", "--test-size", "2", "--out", str(tmp_path / "r"),
                                      "--format", "json"])
    assert result.exit_code == 0, result.output
    results = json.loads(result.output[result.output.index("{"):])
    rows = results["evaluation"]["per_cardinality"]
    assert [row["cardinality"] for row in rows] == [10, 50, 200, 1000]
    assert all(row["accuracy"] == 1.0 and row["mae"] <= 1e-6 for row in rows), rows
    assert results["training"]["solver"]["rational"] and results["training"]["dtype"] == "float64"


@pytest.mark.parametrize("task", ["sum-of-squares", "center", "times-sum"])
def test_set_polynomials_fit_to_1e_9_at_c_100(tmp_path: Path, task: str) -> None:
    results = train(RunConfig.create(task, "tied-quadratic", task_options={"quick": True}), tmp_path / "r")
    largest = max(results["evaluation"]["per_cardinality"], key=lambda row: row["cardinality"])
    assert largest["cardinality"] == 100 and largest["relative_mae"] <= 1e-9


def test_a_signal_mid_fit_resumes_to_the_same_weights(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from polyequiv.training.stopping import InterruptedRunError

    config = RunConfig.create("times-sum", "tied-quadratic", task_options={"quick": True})
    whole = train(config, tmp_path / "whole")
    original = StreamedLeastSquares.add
    calls = []

    def add_then_signal(self, *args):
        calls.append(1)
        if len(calls) == 9:
            os.kill(os.getpid(), signal.SIGTERM)
        return original(self, *args)

    monkeypatch.setattr(StreamedLeastSquares, "add", add_then_signal)
    with pytest.raises(InterruptedRunError, match="after step 9/32"):
        train(config, tmp_path / "cut")
    monkeypatch.setattr(StreamedLeastSquares, "add", original)
    resumed = train(config, tmp_path / "cut", resume=True)
    assert (whole["training"]["sessions"], resumed["training"]["sessions"]) == (1, 2)
    assert numbers_only(whole) == numbers_only(resumed)


@pytest.mark.slow
def test_two_processes_fit_the_same_exact_weights(tmp_path: Path) -> None:
    config = RunConfig.create("triangles", "tied-edge-cubic", task_options={"quick": True,
                                                                           "cardinalities": [10, 50]})
    one = train(config, tmp_path / "one")
    two = train(config, tmp_path / "two", nproc=2)
    assert two["training"]["processes"] == 2
    assert one["evaluation"]["per_cardinality"] == two["evaluation"]["per_cardinality"]
    assert get_model_definition("tied-edge-cubic").is_linear()
