"""Physics tasks (EMLP's three problems) and models: targets from independent formulas, group behaviour,
exact least-squares fits of the derived layer, the baselines' group action."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from matrix_reference import random_element

from polyequiv.matrix_elements import action_matrices, random_elements
from polyequiv.matrix_spec import MatrixLayerSpec
from polyequiv.models import ModelContext, ModelError, build_model
from polyequiv.models.physics import GroupSampler
from polyequiv.tasks import TaskError, make_task
from polyequiv.testing import assert_equivariant
from polyequiv.training.config import RunConfig
from polyequiv.training.evaluation import squared_metrics
from polyequiv.training.run import train

ETA = np.diag([1.0, -1.0, -1.0, -1.0])


def test_inertia_targets_are_the_inertia_tensor_summed_particle_by_particle() -> None:
    task = make_task("inertia", seed=2, train=20, valid=0, test=5)
    values, targets = task.train.values, task.train.targets
    assert (values[:, :5] > 0).all()  # softplus masses
    for x, y in zip(values, targets, strict=True):
        masses, positions = x[:5], x[5:].reshape(5, 3)
        tensor = sum(m * (r @ r * np.eye(3) - np.outer(r, r)) for m, r in zip(masses, positions, strict=True))
        assert np.allclose(y.reshape(3, 3), tensor, atol=1e-12)


def test_scattering_target_is_the_expanded_lepton_contraction() -> None:
    task = make_task("particle-interaction", seed=0, train=50, valid=0, test=5)
    p = task.train.values.reshape(-1, 4, 4)

    def dot(a: int, b: int) -> np.ndarray:
        return np.einsum("ba,ac,bc->b", p[:, a], ETA, p[:, b])

    electron, muon = dot(0, 2) - dot(0, 0), dot(1, 3) - dot(1, 1)
    expanded = 4 * (dot(0, 1) * dot(2, 3) - muon * dot(0, 2) - electron * dot(1, 3) + 4 * electron * muon)
    assert np.abs(expanded - task.train.targets).max() < 1e-12
    assert abs(task.train.values.std() - 0.25) < 0.05  # momenta N(0, I/16)


def test_o5_target_formula() -> None:
    task = make_task("o5-synthetic", seed=0, train=30, valid=0, test=5)
    x1, x2 = task.train.values[:, :5], task.train.values[:, 5:]
    for a, b, y in zip(x1, x2, task.train.targets, strict=True):
        expected = np.sin(np.sqrt(a @ a)) - np.sqrt(b @ b) ** 3 / 2 + a @ b / np.sqrt((a @ a) * (b @ b))
        assert abs(expected - y) < 1e-12


@pytest.mark.parametrize("name", ["inertia", "particle-interaction", "o5-synthetic"])
def test_targets_transform_under_the_task_group(name: str) -> None:
    """f(h·x) = ρ_out(h) f(x) on elements drawn by tests/matrix_reference.py: the data have the symmetry."""
    task = make_task(name, seed=1, train=6, valid=0, test=2)
    spec = MatrixLayerSpec.parse(task.definition.layer_spec())
    definition, rng = task.definition, np.random.default_rng(4)
    for _ in range(3):
        rho_in, rho_out = random_element(spec, rng)
        rho_in = rho_in[: spec.num_coordinates, : spec.num_coordinates]
        moved = task.train.values @ rho_in.T
        recomputed = _targets_of(definition, moved)
        expected = task.train.targets @ rho_out.T if task.equivariant else task.train.targets
        assert np.abs(recomputed - expected).max() < 1e-9 * max(1.0, np.abs(expected).max())


def _targets_of(definition, values: np.ndarray) -> np.ndarray:
    """The task's target on given inputs: regenerate with a generator that returns ``values``."""
    class Fixed:
        def standard_normal(self, shape):
            if definition.name == "inertia":  # invert softplus on the masses
                z = values.copy()
                z[:, :5] = np.log(np.expm1(values[:, :5]))
                return z.reshape(shape)
            return (values * (4 if definition.name == "particle-interaction" else 1)).reshape(shape)

    return definition.generate(Fixed(), len(values), definition.points, 1.0)[1]


def test_splits_are_reproducible_and_only_point_clouds_vary_their_size() -> None:
    a, b = make_task("inertia", seed=3, quick=True), make_task("inertia", seed=3, quick=True, test=7)
    assert np.array_equal(a.train.values, b.train.values) and b.test[5].values.shape == (7, 20)
    sized = make_task("inertia", seed=0, train=3, valid=0, test=2, cardinalities=[5, 40])
    assert sized.test[40].values.shape == (2, 160) and sized.test[40].targets.shape == (2, 9)
    with pytest.raises(TaskError, match="no points to vary"):
        make_task("o5-synthetic", cardinalities=[3])
    with pytest.raises(TaskError, match="scale"):
        make_task("o5-synthetic", scale=0)
    scaled = make_task("o5-synthetic", seed=0, train=4, valid=0, test=1, scale=10)
    assert np.allclose(scaled.train.values, 10 * make_task("o5-synthetic", seed=0, train=4, valid=0,
                                                              test=1).train.values)


@pytest.mark.parametrize("name", ["inertia", "particle-interaction"])
def test_tied_poly_fits_exactly_by_least_squares_with_quick(tmp_path, name: str) -> None:
    options = {"quick": True, **({"cardinalities": [5, 50]} if name == "inertia" else {})}
    config = RunConfig.create(name, "tied-poly", task_options=options)
    assert config.solver == "lstsq" and config.epochs == 1
    results = train(config, tmp_path / name)
    for row in results["evaluation"]["per_cardinality"]:  # inertia: 5 particles, and 50 never seen
        assert row["relative_mse"] <= 1e-8
    assert results["training"]["solver"]["rational"]
    assert results["diagnostics"]["permutation_shift"] < 1e-9
    if name == "inertia":
        weights = {k: v for k, v in results["diagnostics"].items() if k.startswith("weight")}
        assert weights.pop("weight Σ_i m_i |r_i|² δ_ab") == 1
        assert weights.pop("weight Σ_i m_i r_ia r_ib") == -1
        assert all(v == 0 for v in weights.values())


def test_fast_and_dense_layers_give_one_fit(tmp_path) -> None:
    task = make_task("particle-interaction", seed=0, train=200, valid=0, test=50)
    context = ModelContext.of(task)
    with torch.random.fork_rng():
        torch.set_default_dtype(torch.float64)
        try:
            fast, dense = build_model("tied-poly", context), build_model("tied-poly", context, layer="dense")
            values = torch.from_numpy(task.train.values)
            columns = [model.linear_features(values, None) for model in (fast, dense)]
            for model, features in zip((fast, dense), columns, strict=True):
                with torch.no_grad():
                    model.layer.weight.normal_()
                assert torch.allclose(model(values, None), features @ model.layer.weight, atol=1e-10)
            y = torch.from_numpy(task.train.targets)
            fits = [f @ torch.linalg.lstsq(f, y).solution for f in columns]
            assert torch.allclose(fits[0], fits[1], atol=1e-9) and torch.allclose(fits[0], y, atol=1e-9)
        finally:
            torch.set_default_dtype(torch.float32)


def test_group_sampler_acts_like_the_dense_representation() -> None:
    spec = MatrixLayerSpec.parse("S(5) x O(3) cubic ordered V⊗1 + V⊗V -> 1⊗V2")
    sampler = GroupSampler(spec)
    torch.manual_seed(0)
    perms, g = sampler.sample(6)
    x = torch.randn(6, spec.num_coordinates)
    moved = sampler.act(spec.input, x, perms, g)
    for row in range(6):
        rho_in, _ = action_matrices(spec, (perms[row].numpy(), g[row].double().numpy()))
        assert np.allclose(moved[row].numpy(), rho_in @ x[row].double().numpy(), atol=1e-5)
    back, inverse = sampler.inverse(perms, g)
    assert torch.allclose(sampler.act(spec.input, moved, back, inverse), x, atol=1e-4)
    lorentz = GroupSampler(MatrixLayerSpec.parse("O(1,3) quartic ordered 4*V -> 1"))
    _, boosts = lorentz.sample(20)
    eta = torch.diag(torch.tensor([1.0, -1, -1, -1]))
    assert torch.allclose(boosts.transpose(1, 2) @ eta @ boosts, eta.expand(20, 4, 4), atol=1e-4)


def test_augmented_mlp_trains_on_moved_samples_and_predicts_plainly() -> None:
    task = make_task("inertia", seed=0, train=8, valid=0, test=2)
    model = build_model("augmented-mlp", ModelContext.of(task), hidden=16, layers=1).double()
    x = torch.from_numpy(task.train.values)
    model.train()
    torch.manual_seed(5)
    augmented = model(x, None)
    torch.manual_seed(5)
    perms, g = model.sampler.sample(len(x))
    g = g.double()
    model.eval()
    plain = model.net(model.sampler.act(model.spec.input, x, perms, g))
    back, inverse = model.sampler.inverse(perms, g)
    assert torch.allclose(augmented, model.sampler.act(model.spec.output, plain, back, inverse), atol=1e-10)
    assert torch.allclose(model(x, None), model.net(x))


@pytest.mark.parametrize("name", ["inertia", "particle-interaction", "o5-synthetic"])
def test_scalar_mlp_is_exactly_equivariant_and_coordinate_mlp_is_not(name: str) -> None:
    task = make_task(name, seed=0, train=4, valid=0, test=2)
    context = ModelContext.of(task)
    spec = MatrixLayerSpec.parse(task.definition.layer_spec())
    if name == "inertia":  # the matrix group only: scalar-mlp reads the particles in order (not S₅)
        spec = MatrixLayerSpec.parse("O(3) cubic ordered 5*1 + 5*V -> V2")
    errors = {}
    for model_name in ("scalar-mlp", "coordinate-mlp"):
        model = build_model(model_name, context, hidden=16, layers=2).double().eval()

        def function(x: torch.Tensor, model=model) -> torch.Tensor:
            return model(x[..., 0], None).unsqueeze(-1)

        errors[model_name] = assert_equivariant(function, spec, tolerance=1e9, elements=5)
    assert errors["scalar-mlp"] < 1e-9 < errors["coordinate-mlp"]


def test_models_refuse_what_they_cannot_read() -> None:
    task = make_task("inertia", seed=0, train=4, valid=0, test=2)
    model = build_model("coordinate-mlp", ModelContext.of(task), hidden=4, layers=1)
    with pytest.raises(ModelError, match="reads 20 coordinates"):
        model(torch.zeros(2, 200), None)
    with pytest.raises(ModelError, match="'auto' or 'dense'"):
        build_model("tied-poly", ModelContext.of(task), layer="sparse")
    with pytest.raises(ModelError, match="reads physics"):
        build_model("tied-poly", ModelContext("reals", False, 5))


def test_relative_mse_is_mse_over_the_variance_of_the_targets() -> None:
    rng = np.random.default_rng(0)
    y, p = rng.standard_normal((30, 9)) * 3 + 1, rng.standard_normal((30, 9))
    metrics = squared_metrics(torch.from_numpy(p), torch.from_numpy(y), torch.ones(30, 9, dtype=torch.bool))
    assert np.isclose(metrics["mse"], ((p - y) ** 2).mean())
    assert np.isclose(metrics["relative_mse"], ((p - y) ** 2).mean() / y.var())


def test_group_shift_diagnostic_sees_the_element_on_both_sides() -> None:
    task = make_task("inertia", seed=0, train=5, valid=0, test=2)
    moved, expected_of = task.train.acted_on(np.random.default_rng(0))
    spec = MatrixLayerSpec.parse(task.definition.layer_spec())
    elements = random_elements(spec, 5, np.random.default_rng(0))
    for row, element in enumerate(elements):
        rho_in, _ = action_matrices(spec, element)
        assert np.allclose(moved.values[row], rho_in @ task.train.values[row])
    assert np.allclose(expected_of(task.train.targets), _targets_of(task.definition, moved.values))


def test_explain_prints_the_inertia_law_and_the_scattering_invariant(tmp_path) -> None:
    from polyequiv.explain import ExplainError, explain_run, write_formula_run

    formulas, explanations = {}, {}
    for name in ("inertia", "particle-interaction"):
        train(RunConfig.create(name, "tied-poly", task_options={"quick": True}), tmp_path / name)
        explanation = explanations[name] = explain_run(tmp_path / name)
        assert explanation.simplified.rational
        assert explanation.checks["scaled"]["max_relative_error"] < 1e-9
        formulas[name] = {t.feature.text: t.coefficient for t in explanation.terms}
    assert formulas["inertia"] == {"Σ_i m_i |r_i|² δ_ab": 1, "Σ_i m_i r_ia r_ib": -1}
    assert explanations["inertia"].checks["scaled"]["size"] == 50  # 10× the particles
    # 4[(p1·p2)(p3·p4) − (p2·p4 − p2²)(p1·p3) − (p1·p3 − p1²)(p2·p4) + 4(p1·p3 − p1²)(p2·p4 − p2²)]
    assert formulas["particle-interaction"] == {"|p1|² |p2|²": 16, "|p1|² (p2·p4)": -12, "(p1·p3) |p2|²": -12,
                                                "(p1·p2) (p3·p4)": 4, "(p1·p3) (p2·p4)": 8}
    with pytest.raises(ExplainError, match="physics"):
        write_formula_run(explanations["inertia"], tmp_path / "inertia", tmp_path / "refit")


def test_explain_shows_that_a_polynomial_only_approximates_the_o5_target(tmp_path) -> None:
    from polyequiv.explain import explain_run

    train(RunConfig.create("o5-synthetic", "tied-poly", task_options={"quick": True}), tmp_path / "o5")
    scaled = explain_run(tmp_path / "o5").checks["scaled"]
    assert scaled["kind"] == "input scale" and scaled["max_relative_error"] > 1


def test_compare_tries_the_models_of_the_task_domain_by_default() -> None:
    from polyequiv.training.comparison import supported_models

    assert supported_models("inertia") == (["tied-poly", "coordinate-mlp", "augmented-mlp", "scalar-mlp"], {})
    able, unable = supported_models("inertia", ["tied-poly", "gcn"])
    assert able == ["tied-poly"] and "reads graphs" in unable["gcn"]
