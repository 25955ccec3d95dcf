"""The dense tied layer on tensor representations: coordinates are its rows."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from polyequiv import LayerSpec, derive
from polyequiv.nn import TiedPolynomialLayer


@pytest.mark.parametrize(
    ("label", "channels"),
    [
        ("S5 quadratic ordered E -> V +bias", (1, 1)),
        ("S4 linear ordered V2 -> E", (2, 3)),
        ("S4 cubic ordered E -> 1", (1, 2)),
    ],
)
def test_tied_tensor_layer_is_equivariant_on_random_permutations(
    label: str, channels: tuple[int, int]
) -> None:
    torch.set_num_threads(1)
    spec = LayerSpec.parse(label)
    layer = TiedPolynomialLayer(spec, *channels, dtype=torch.float64)
    if channels == (1, 1):
        assert layer.num_parameters == derive(spec).free_parameters
    rng = np.random.default_rng(0)
    x = torch.randn(3, spec.num_coordinates, channels[0], dtype=torch.float64)
    y = layer(x)
    for _ in range(5):
        sigma = rng.permutation(spec.n)
        moved_in = torch.from_numpy(spec.input.permutation_array(sigma))
        lhs = layer(x[:, moved_in])
        rhs = y[:, torch.from_numpy(spec.output.permutation_array(sigma))] if spec.equivariant else y
        torch.testing.assert_close(lhs, rhs, rtol=1e-10, atol=1e-10)


def test_tied_tensor_layer_names_the_expected_shape() -> None:
    layer = TiedPolynomialLayer(LayerSpec(n=4, degree=1, input="E"))
    with pytest.raises(ValueError, match=r"\(batch, 6, 1\)"):
        layer(torch.randn(2, 4, 1))
