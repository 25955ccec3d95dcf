"""Models: shapes, symmetry, masks and padding, the penalty towards the derived ties, exact fits."""

from __future__ import annotations

import itertools

import pytest
import torch

from polyequiv.models import (
    MODELS,
    ModelContext,
    ModelError,
    build_model,
    count_parameters,
    model_names,
)
from polyequiv.nn import project
from polyequiv.tasks import make_task
from polyequiv.training.config import RunConfig
from polyequiv.training.run import train

DIGITS = ModelContext("digits", equivariant=False, max_cardinality=30)
REALS = ModelContext("reals", equivariant=False, max_cardinality=30)
PER_ELEMENT = ModelContext("reals", equivariant=True, max_cardinality=30)
SET_MODELS = ["tied-linear", "tied-quadratic", "deepsets"]
#: Set models that take sets of any size (variety-* networks have a fixed n: tests/test_variety_models.py).
ANY_SIZE_SET_MODELS = [name for name in model_names("sets") if MODELS[name].task_requirements is None]


def digit_batch(rows: int = 6, length: int = 10, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    values = torch.randint(1, 11, (rows, length), generator=generator)
    sizes = torch.randint(1, length + 1, (rows,), generator=generator)
    mask = torch.arange(length)[None, :] >= (length - sizes)[:, None]
    return values * mask, mask


def real_batch(rows: int = 6, length: int = 10, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    values = torch.rand(rows, length, generator=generator) * 2 - 1
    sizes = torch.randint(1, length + 1, (rows,), generator=generator)
    mask = torch.arange(length)[None, :] >= (length - sizes)[:, None]
    return values * mask, mask


def shuffle(values: torch.Tensor, mask: torch.Tensor,
            seed: int = 1) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Permute the real elements of each row (padding stays on the left)."""
    keys = torch.rand(values.shape, generator=torch.Generator().manual_seed(seed)) + mask.double()
    order = keys.argsort(dim=1)
    return values.gather(1, order), mask.gather(1, order), order


def pad_left(values: torch.Tensor, mask: torch.Tensor, extra: int = 7) -> tuple[torch.Tensor, torch.Tensor]:
    return (torch.cat([torch.zeros(len(values), extra, dtype=values.dtype), values], 1),
            torch.cat([torch.zeros(len(mask), extra, dtype=torch.bool), mask], 1))


@pytest.mark.parametrize("name", ANY_SIZE_SET_MODELS)
@pytest.mark.parametrize("context", [DIGITS, REALS, PER_ELEMENT], ids=["digits", "reals", "per-element"])
def test_output_shapes(name: str, context: ModelContext) -> None:
    if name == "lstm" and context.equivariant:
        with pytest.raises(ModelError, match="per-element"):
            build_model(name, context)
        return
    torch.manual_seed(0)
    model = build_model(name, context)
    values, mask = digit_batch() if context.elements == "digits" else real_batch()
    out = model(values, mask)
    assert out.shape == ((6, 10) if context.equivariant else (6,))
    assert torch.isfinite(out).all() and count_parameters(model) > 0


@pytest.mark.parametrize("name", SET_MODELS)
def test_set_models_are_invariant(name: str) -> None:
    torch.manual_seed(0)
    model = build_model(name, REALS)
    values, mask = real_batch()
    shuffled_values, shuffled_mask, _ = shuffle(values, mask)
    torch.testing.assert_close(model(shuffled_values, shuffled_mask), model(values, mask),
                               atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", SET_MODELS)
def test_set_models_are_equivariant_per_element(name: str) -> None:
    torch.manual_seed(0)
    model = build_model(name, PER_ELEMENT)
    values, mask = real_batch()
    shuffled_values, shuffled_mask, order = shuffle(values, mask)
    expected = model(values, mask).gather(1, order)
    got = model(shuffled_values, shuffled_mask)
    torch.testing.assert_close(got * shuffled_mask, expected * shuffled_mask, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ["tied-linear", "tied-quadratic", "deepsets", "penalty-mlp"])
@pytest.mark.parametrize("context", [REALS, PER_ELEMENT], ids=["invariant", "per-element"])
def test_padding_does_not_change_masked_predictions(name: str, context: ModelContext) -> None:
    torch.manual_seed(0)
    model = build_model(name, context)
    values, mask = real_batch()
    padded_values, padded_mask = pad_left(values, mask)
    base, padded = model(values, mask), model(padded_values, padded_mask)
    if context.equivariant:
        base, padded = base * mask, padded[:, 7:] * mask
    torch.testing.assert_close(padded, base, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ["tied-linear", "tied-quadratic"])
def test_tied_models_ignore_padding_on_digits_too(name: str) -> None:
    torch.manual_seed(0)
    model = build_model(name, DIGITS)
    values, mask = digit_batch()
    torch.testing.assert_close(model(*pad_left(values, mask)), model(values, mask), atol=1e-5, rtol=1e-5)


def test_the_labs_deepsets_sees_the_padding_token() -> None:
    """The lab's DeepSets embeds and sums the padding digit 0: extra padding moves its output
    by ``extra · ρ(φ(0))`` until training teaches it that ``ρ(φ(0)) ≈ 0``."""
    torch.manual_seed(0)
    model = build_model("deepsets", DIGITS)
    values, mask = digit_batch()
    shift = model(*pad_left(values, mask, extra=7)) - model(values, mask)
    padding_token = torch.zeros(1, 1, dtype=torch.long)
    phi_zero = model.rho(model.phi(model.encoder(padding_token)).sum(1)) - model.rho.bias
    torch.testing.assert_close(shift, (7 * phi_zero).reshape(()).expand_as(shift), atol=1e-5, rtol=1e-5)


def test_fixed_width_models_refuse_longer_sets() -> None:
    model = build_model("mlp", ModelContext("digits", False, max_cardinality=10))
    values, mask = digit_batch(length=12)
    with pytest.raises(ModelError, match="at most 10"):
        model(values, mask)


def test_unknown_models_and_options_are_errors() -> None:
    with pytest.raises(ModelError, match="unknown model 'gru'"):
        build_model("gru", DIGITS)
    with pytest.raises(ModelError, match="takes no option 'depth'"):
        build_model("mlp", DIGITS, depth=3)
    with pytest.raises(ModelError, match="penalty"):
        build_model("penalty-mlp", DIGITS, penalty=-1.0)


def test_cli_lists_the_same_models() -> None:
    from polyequiv_cli.train_commands import MODEL_NAMES

    assert list(MODEL_NAMES) == model_names()


def test_the_sharing_penalty_is_the_sum_over_every_pair() -> None:
    """sharing-linear's penalty equals λ Σ_{a<b} |w_a − w_b| summed pair by pair, and computes y = Wx + b."""
    torch.manual_seed(1)
    model = build_model("sharing-linear", ModelContext("reals", True, max_cardinality=5), penalty=0.01)
    entries = model.weight.detach().double().flatten().tolist()
    brute = 0.01 * sum(abs(a - b) for a, b in itertools.combinations(entries, 2))
    assert float(model.penalty().detach()) == pytest.approx(brute, rel=1e-6)
    values, mask = real_batch(length=5)
    expected = (values * mask) @ model.weight.T + model.bias
    torch.testing.assert_close(model(values, mask), expected)
    assert build_model("sharing-linear", REALS, penalty=0.0).penalty() is None
    with pytest.raises(ModelError, match="finite number ≥ 0"):
        build_model("sharing-linear", REALS, penalty=-1.0)


# ---------------------------------------------------------------------- the penalty towards the ties
def test_the_penalty_pulls_towards_alpha_i_plus_beta_and_one_bias() -> None:
    """The projection the penalty uses is the derived subspace: αI + β11ᵀ and a shared bias per channel."""
    torch.manual_seed(0)
    model = build_model("penalty-mlp", ModelContext("reals", False, max_cardinality=5), hidden=3)
    weight = model.weights[0].detach().double()  # (k, inputs + bias, channel, 1)
    projected = project(model.ties[0], weight)[..., 0]
    weight = weight[..., 0]
    eye = torch.eye(5, dtype=torch.bool)
    for c in range(3):
        block = weight[:, :5, c]
        alpha, beta, bias = block[eye].mean(), block[~eye].mean(), weight[:, 5, c].mean()
        expected = torch.where(eye, alpha, beta)
        torch.testing.assert_close(projected[:, :5, c], expected)
        torch.testing.assert_close(projected[:, 5, c], bias.expand(5))
    residual = model.residuals()[0].detach().double()[..., 0]
    assert abs(float((residual * projected).sum())) < 1e-8  # orthogonal


def test_a_tied_penalty_mlp_is_a_set_function() -> None:
    torch.manual_seed(0)
    model = build_model("penalty-mlp", REALS)
    with torch.no_grad():
        for tie, weight in zip(model.ties, model.weights, strict=True):
            weight.copy_(project(tie, weight))
    assert model.diagnostics()["equivariance_residual"] < 1e-5 and float(model.penalty().detach()) < 1e-8
    values, mask = real_batch()
    torch.testing.assert_close(model(*shuffle(values, mask)[:2]), model(values, mask), atol=1e-5, rtol=1e-5)


def test_the_penalty_learns_the_ties_from_data(tmp_path) -> None:
    """λ > 0 drives the dense weights onto the derived subspace; λ = 0 leaves them far from it."""
    options = {"task_options": {"train": 600, "test": 20, "cardinalities": [10]}, "epochs": 10, "lr": 0.02}
    tied = train(RunConfig.create("real-sum", "penalty-mlp", model_options={"penalty": 1.0}, **options),
                 tmp_path / "tied")
    free = train(RunConfig.create("real-sum", "penalty-mlp", model_options={"penalty": 0.0}, **options),
                 tmp_path / "free")
    assert tied["diagnostics"]["equivariance_residual"] < 0.1 < free["diagnostics"]["equivariance_residual"]
    assert tied["diagnostics"]["permutation_shift"] < free["diagnostics"]["permutation_shift"]


# ---------------------------------------------------------------------- exact fits
def test_a_trained_tied_model_sums_digits_exactly_at_every_size(tmp_path) -> None:
    config = RunConfig.create("digit-sum", "tied-linear", epochs=20, lr=0.03,
                              task_options={"train": 3_000, "test": 200, "cardinalities": [5, 50, 100]})
    results = train(config, tmp_path / "run")
    assert results["model"]["parameters"] <= 36
    assert all(row["accuracy"] == 1.0 for row in results["evaluation"]["per_cardinality"])


def test_digits_enter_tied_models_by_value_or_embedding() -> None:
    value = build_model("tied-linear", DIGITS)
    both = build_model("tied-linear", DIGITS, features="both", embedding_dim=3)
    assert count_parameters(both) > count_parameters(value)
    values, mask = digit_batch()
    assert both(values, mask).shape == (6,)
    task = make_task("digit-sum", train=10, test=2, cardinalities=[3])
    assert ModelContext.of(task) == ModelContext("digits", False, 10)


@pytest.mark.parametrize(("pooling", "curved"), [("sum", True), ("mean", False)])
def test_sum_pooling_puts_n_in_front_of_beta(pooling: str, curved: bool) -> None:
    """A linear tied layer then a sum read-out, on n copies of one digit: with sum pooling
    ``y = γ(α + nβ)·5n + γnb + c`` is quadratic in n; with mean pooling it is affine in n."""
    torch.manual_seed(0)
    model = build_model("tied-linear", DIGITS, pooling=pooling)
    with torch.no_grad():
        y = [float(model(torch.full((1, n), 5), torch.ones(1, n, dtype=torch.bool))) for n in range(1, 5)]
    second_differences = [y[i + 2] - 2 * y[i + 1] + y[i] for i in range(2)]
    assert (min(abs(d) for d in second_differences) > 1e-3) == curved
    assert max(abs(d) for d in second_differences) < 1e-4 or curved


@pytest.mark.parametrize(("task", "bound"), [("pairwise-products", 1e-3), ("times-sum", 0.05)])
def test_the_tied_quadratic_layer_learns_polynomial_tasks_beyond_the_training_sizes(
        tmp_path, task: str, bound: float) -> None:
    results = train(RunConfig.create(task, "tied-quadratic", task_options={"quick": True}), tmp_path / "run")
    largest = results["evaluation"]["per_cardinality"][-1]
    assert largest["cardinality"] == 100 and largest["relative_mae"] < bound
