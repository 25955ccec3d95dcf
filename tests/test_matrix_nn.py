"""Matrix-group layers in torch: compiled through the exact basis, equivariant on random group elements."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from matrix_reference import random_element

from polyequiv import derive
from polyequiv.matrix_spec import MatrixLayerSpec
from polyequiv.nn import TiedPolynomialLayer
from polyequiv.scheme import TyingScheme
from polyequiv.testing import assert_equivariant, equivariance_error

SPECS = [
    "SO(3) quadratic ordered 2*V -> V",
    "O(3) cubic ordered 2*1 + 2*V -> V2",
    "O(1,3) quartic ordered 2*V -> 1",
    "S(3) x O(3) cubic ordered V⊗1 + V⊗V -> 1⊗V2",
    "B(3) quadratic full V -> V2 +bias",
    "C(3) x SO(2) quadratic ordered V -> V +bias",
]


@pytest.mark.parametrize("text", SPECS)
def test_compiled_layers_are_equivariant_in_float64(text: str) -> None:
    spec = MatrixLayerSpec.parse(text)
    layer = TiedPolynomialLayer(spec, dtype=torch.float64)
    assert layer.num_parameters == derive(spec).free_parameters
    assert assert_equivariant(layer, spec, elements=8) < 1e-10


@pytest.mark.parametrize("text", SPECS[:4])
def test_layers_are_equivariant_on_independently_drawn_elements(text: str) -> None:
    """Group elements from tests/matrix_reference.py (Haar rotations, explicit boosts), not the library's."""
    spec = MatrixLayerSpec.parse(text)
    layer = TiedPolynomialLayer(spec, dtype=torch.float64)
    rng = np.random.default_rng(1)
    x = torch.from_numpy(rng.standard_normal((5, spec.num_coordinates, 1)))
    with torch.no_grad():
        fx = layer(x)
        for _ in range(5):
            rho_in, rho_out = (torch.from_numpy(m) for m in random_element(spec, rng))
            moved = layer(
                torch.einsum("ij,bjc->bic", rho_in[: spec.num_coordinates, : spec.num_coordinates], x)
            )
            expected = fx if not spec.equivariant else torch.einsum("ij,bjc->bic", rho_out, fx)
            assert float((moved - expected).abs().max()) < 1e-10 * max(float(fx.abs().max()), 1.0)


def test_an_untied_layer_is_caught() -> None:
    spec = MatrixLayerSpec.parse("O(3) cubic ordered V -> V")
    layer = TiedPolynomialLayer(spec, dtype=torch.float64)

    def broken(x: torch.Tensor) -> torch.Tensor:
        return layer(x) + x[:, :1] ** 2  # adds x_x² to every output: not equivariant

    assert equivariance_error(broken, spec) > 1e-2
    with pytest.raises(AssertionError, match="exceeds"):
        assert_equivariant(broken, spec)


def test_scheme_layers_fit_the_inertia_law_exactly() -> None:
    """Σ m (|r|² I − r rᵀ) lies in the span of the S(3) x O(3) cubic layer: least squares recovers it."""
    spec = MatrixLayerSpec.parse("S(3) x O(3) cubic ordered V⊗1 + V⊗V -> 1⊗V2")
    layer = TiedPolynomialLayer(TyingScheme.from_spec(spec), dtype=torch.float64)
    rng = np.random.default_rng(0)
    masses, positions = rng.uniform(0.5, 2, (40, 3)), rng.standard_normal((40, 3, 3))
    squared = np.einsum("bia,bia->bi", positions, positions)[..., None, None] * np.eye(3)
    outer = np.einsum("bia,bic->biac", positions, positions)
    inertia = np.einsum("bi,biac->bac", masses, squared - outer)
    x = torch.from_numpy(np.concatenate([masses, positions.reshape(40, 9)], axis=1)[..., None])
    columns = []
    for j in range(layer.num_parameters):
        with torch.no_grad():
            layer.weight.zero_()
            layer.weight[j] = 1
            columns.append(layer(x).reshape(40, 9).numpy().ravel())
    theta, *_ = np.linalg.lstsq(np.stack(columns, axis=1), inertia.reshape(40, 9).ravel(), rcond=None)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(theta))
        error = float((layer(x).reshape(40, 3, 3) - torch.from_numpy(inertia)).abs().max())
    assert error < 1e-9


def test_matrix_layers_take_one_channel() -> None:
    with pytest.raises(ValueError, match="takes one channel"):
        TiedPolynomialLayer(MatrixLayerSpec.parse("O(3) linear ordered V -> V"), 2, 1)
