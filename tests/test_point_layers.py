"""The size-agnostic point-cloud layer against the dense layer of the exact basis, and on group elements."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from matrix_reference import random_element

from polyequiv import derive
from polyequiv.cloud_patterns import cloud_patterns, pattern_text
from polyequiv.errors import SpecError
from polyequiv.matrix_spec import MatrixLayerSpec
from polyequiv.nn import TiedPolynomialLayer
from polyequiv.nn.point_layers import PointCloudPolyLayer
from polyequiv.testing import assert_equivariant

SPECS = [
    "S(5) x O(3) cubic ordered V⊗1 + V⊗V -> 1⊗V2",  # the inertia layer
    "O(1,3) quadratic ordered 3*V -> 1",
    "O(5) quartic ordered 2*V -> 1 +bias",
    "O(3) linear ordered V2 -> V2",
    "S(3) x O(3) quadratic ordered V⊗1 + V⊗V -> V⊗V +bias",
    "S(3) x O(1,3) quadratic ordered V⊗V + 1⊗V -> V⊗1 + 1⊗V2 +bias",
    "S(4) x O(2) quadratic full V -> V⊗1 + 1⊗1",
]


def dense_features(layer: TiedPolynomialLayer, x: torch.Tensor) -> torch.Tensor:
    """``(batch·outputs, free parameters)``: the dense layer's output for each exact basis vector."""
    spec = layer.spec
    extended = torch.cat([x[..., 0], torch.ones(len(x), 1, dtype=x.dtype)], 1) if spec.bias else x[..., 0]
    products = torch.ones(len(x), layer.tuples.shape[0], dtype=x.dtype)
    for column in range(layer.tuples.shape[1]):
        products = products * extended[:, layer.tuples[:, column]]
    basis = layer.basis.reshape(spec.num_outputs, -1, layer.num_parameters)
    return torch.einsum("bt,otp->bop", products, basis).reshape(-1, layer.num_parameters)


def fitted_gap(features: torch.Tensor, targets: torch.Tensor, fresh_features: torch.Tensor,
               fresh_targets: torch.Tensor) -> float:
    """Largest miss, relative to the largest target, of the least-squares fit of ``targets`` by
    ``features``, evaluated on fresh rows."""
    solution = torch.linalg.lstsq(features, targets, driver="gelsd").solution
    return float((fresh_features @ solution - fresh_targets).abs().max() / fresh_targets.abs().max())


def both_layers(text: str) -> tuple[MatrixLayerSpec, PointCloudPolyLayer, TiedPolynomialLayer]:
    spec = MatrixLayerSpec.parse(text)
    return (spec, PointCloudPolyLayer(spec, dtype=torch.float64),
            TiedPolynomialLayer(spec, dtype=torch.float64))


@pytest.mark.parametrize("text", SPECS)
def test_fast_layer_equals_the_dense_layer_of_the_exact_basis(text: str) -> None:
    """Each layer's functions are reproduced by the other's to 1e-10 on inputs neither was fitted on."""
    spec, fast, dense = both_layers(text)
    torch.manual_seed(0)
    x, fresh = (torch.randn(400, spec.num_coordinates, 1, dtype=torch.float64) for _ in range(2))
    fast_x, fast_fresh = (fast.pattern_values(v).reshape(-1, fast.num_parameters) for v in (x, fresh))
    dense_x, dense_fresh = dense_features(dense, x), dense_features(dense, fresh)
    for _ in range(3):
        theta, weight = torch.randn(dense.num_parameters, dtype=torch.float64), torch.randn(
            fast.num_parameters, dtype=torch.float64)
        assert fitted_gap(fast_x, dense_x @ theta, fast_fresh, dense_fresh @ theta) < 1e-10
        assert fitted_gap(dense_x, fast_x @ weight, dense_fresh, fast_fresh @ weight) < 1e-10
    assert torch.linalg.matrix_rank(fast_x).item() == derive(spec).function_dim


@pytest.mark.parametrize("text", SPECS)
def test_fast_layer_is_equivariant(text: str) -> None:
    spec = MatrixLayerSpec.parse(text)
    layer = PointCloudPolyLayer(spec, dtype=torch.float64)
    assert assert_equivariant(layer, spec, elements=6) < 1e-10
    rng = np.random.default_rng(3)  # elements drawn by tests/matrix_reference.py, not the library
    x = rng.standard_normal((4, spec.num_coordinates))
    for _ in range(3):
        rho_in, rho_out = random_element(spec, rng)
        rho_in = rho_in[: spec.num_coordinates, : spec.num_coordinates]
        with torch.no_grad():
            moved = layer(torch.from_numpy(x @ rho_in.T)[..., None]).reshape(4, -1).numpy()
            expected = layer(torch.from_numpy(x)[..., None]).reshape(4, -1).numpy() @ rho_out.T
        assert np.abs(moved - expected).max() <= 1e-10 * max(1.0, np.abs(expected).max())


@settings(max_examples=12, deadline=None)
@given(group=st.sampled_from(["O(2)", "O(3)", "O(1,2)", "S(2) x O(2)", "S(3) x O(1,1)", "S(2) x O(3)"]),
       degree=st.integers(0, 3), bias=st.booleans(), data=st.data())
def test_random_specs_span_the_dense_layer(group: str, degree: int, bias: bool, data) -> None:
    points = " x " in group
    terms = ["V⊗1 + V⊗V", "V⊗V", "1⊗V + V⊗1", "V"] if points else ["V", "2*V", "1 + V", "V2"]
    outputs = ["1", "1⊗V", "V⊗V", "1⊗V2", "V⊗1"] if points else ["1", "V", "V2", "V + 1"]
    spec = MatrixLayerSpec(group, degree, data.draw(st.sampled_from(terms)),
                           data.draw(st.sampled_from(outputs)), bias=bias)
    fast = PointCloudPolyLayer(spec, dtype=torch.float64)
    dimension = derive(spec).function_dim
    x = torch.randn(3 * max(dimension, 1) + 20, spec.num_coordinates, 1, dtype=torch.float64)
    values = fast.pattern_values(x).reshape(len(x) * spec.num_outputs, fast.num_parameters)
    assert (torch.linalg.matrix_rank(values).item() if fast.num_parameters else 0) == dimension


def test_one_set_of_weights_serves_every_number_of_points_and_padding_is_invisible() -> None:
    layer = PointCloudPolyLayer("S(5) x O(3) quadratic ordered V⊗1 + V⊗V -> V⊗V +bias", dtype=torch.float64)
    nine = MatrixLayerSpec.parse("S(9) x O(3) quadratic ordered V⊗1 + V⊗V -> V⊗V +bias")
    assert assert_equivariant(layer, nine, elements=4) < 1e-10
    torch.manual_seed(1)
    masses, positions = torch.randn(3, 6, dtype=torch.float64), torch.randn(3, 6, 3, dtype=torch.float64)
    flat = torch.cat([masses, positions.reshape(3, -1)], 1)[..., None]
    zeros = torch.zeros(3, 2, 3, dtype=torch.float64)
    padded = torch.cat([torch.cat([masses, zeros[..., 0]], 1),
                        torch.cat([positions, zeros], 1).reshape(3, -1)], 1)
    mask = torch.tensor([[True] * 6 + [False] * 2] * 3)
    plain, masked = layer(flat), layer(padded[..., None], mask=mask)
    assert torch.allclose(masked.reshape(3, 8, 3)[:, :6], plain.reshape(3, 6, 3), atol=1e-12)
    assert masked.reshape(3, 8, 3)[:, 6:].abs().max() == 0


def test_the_inertia_law_is_two_patterns_with_weights_one_and_minus_one() -> None:
    layer = PointCloudPolyLayer("S(5) x O(3) cubic ordered V⊗1 + V⊗V -> 1⊗V2", dtype=torch.float64)
    texts = [pattern_text(p, ("m", "r"), ("V", "V"), (0, 1))[0] for p in layer.patterns]
    weights = torch.zeros(len(texts), dtype=torch.float64)
    weights[texts.index("Σ_i m_i |r_i|² δ_ab")], weights[texts.index("Σ_i m_i r_ia r_ib")] = 1, -1
    rng = np.random.default_rng(0)
    masses, positions = rng.random((7, 11)), rng.standard_normal((7, 11, 3))  # 11 points, not 5
    law = np.einsum("bi,bij,ac->bac", masses, positions**2, np.eye(3)) - np.einsum(
        "bi,bia,bic->bac", masses, positions, positions)
    x = torch.from_numpy(np.concatenate([masses, positions.reshape(7, -1)], 1))[..., None]
    with torch.no_grad():
        layer.weight.copy_(weights)
        assert np.abs(layer(x)[..., 0].numpy() - law.reshape(7, 9)).max() < 1e-12


@pytest.mark.parametrize(("text", "fragment"), [
    ("SO(3) quadratic ordered 2*V -> V", "SO(3)"),
    ("B(3) quadratic ordered V -> V", "B(3)"),
    ("C(4) x O(2) linear ordered V -> V", "symmetric group"),
    ("S(3) x O(2) linear ordered E⊗1 -> 1", "E⊗"),
])
def test_groups_and_terms_the_patterns_do_not_cover_are_refused(text: str, fragment: str) -> None:
    with pytest.raises(SpecError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        cloud_patterns(text)


def test_bad_inputs_are_refused_with_the_reason() -> None:
    layer = PointCloudPolyLayer("S(5) x O(3) linear ordered V⊗V -> V⊗V", dtype=torch.float64)
    with pytest.raises(ValueError, match="not 0 \\+ 3·n"):
        layer(torch.zeros(2, 7, 1, dtype=torch.float64))
    with pytest.raises(ValueError, match="mask has 4 points"):
        layer(torch.zeros(2, 15, 1, dtype=torch.float64), mask=torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="float32"):
        layer(torch.zeros(2, 15, 1))
