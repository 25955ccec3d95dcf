"""CircularPolyLayer: the derived translation-equivariant layer run as a convolution.

Independent paths: the dense tied layer of the same spec (float64, 1e-10), torch's own conv2d with
circular padding, the closed-form parameter count, and equivariance on random translations.
"""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional

from polyequiv import LayerSpec
from polyequiv.nn import TiedPolynomialLayer
from polyequiv.nn.grid_layers import CircularPolyLayer, images_to_pixels, pixels_to_images
from polyequiv.testing import assert_equivariant

CONFIGS = [
    # shape, degree, c_in, c_out, bias, support
    ((4, 5), 1, 2, 3, False, None),
    ((4, 5), 1, 2, 3, True, None),
    ((4, 5), 1, 1, 2, False, 3),
    ((3, 4), 2, 2, 2, False, None),
    ((3, 4), 2, 2, 3, True, None),
    ((4, 5), 2, 2, 2, True, (3, 2)),
    ((6, 1), 2, 1, 2, True, None),
    ((6, 1), 2, 2, 1, False, 3),
]
#: The default suite checks these; the rest run with ``-m slow``.
FAST = {0, 2, 4, 5, 6}


def configs() -> list:
    return [c if i in FAST else pytest.param(c, marks=pytest.mark.slow) for i, c in enumerate(CONFIGS)]


def layer_of(config: tuple) -> CircularPolyLayer:
    shape, degree, c_in, c_out, bias, support = config
    torch.manual_seed(1)
    return CircularPolyLayer(
        shape, degree, c_in, c_out, kernel_support=support, bias=bias, dtype=torch.float64
    )


@pytest.mark.parametrize("config", configs(), ids=str)
def test_compiled_layer_equals_the_dense_tied_layer(config: tuple) -> None:
    layer = layer_of(config)
    shape = layer.shape
    tied = TiedPolynomialLayer(layer.spec, layer.in_channels, layer.out_channels, dtype=torch.float64)
    x = torch.randn(6, layer.in_channels, *shape, dtype=torch.float64)
    weight = layer.dense_weight()
    assert float(tied.equivariance_residual(weight)) < 1e-12  # a point of the tied subspace
    dense = pixels_to_images(tied.apply_weight(weight, images_to_pixels(x)), shape)
    assert torch.allclose(layer(x), dense, rtol=0, atol=1e-10)
    # and back: the dense layer's own parameters, read into a full-support compiled layer
    compiled = CircularPolyLayer.from_tied(tied)
    assert compiled.num_parameters == tied.num_parameters
    expected = pixels_to_images(tied(images_to_pixels(x)), shape)
    assert torch.allclose(compiled(x), expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize(("degree", "bias"), [(1, False), (1, True), (2, False), (2, True)])
def test_full_support_parameters_are_the_closed_form_orbit_count(degree: int, bias: bool) -> None:
    """m = n·c_in variables per output pixel: c_out·(m + bias) at degree 1, c_out·C(m + 1 + bias, 2) … ."""
    shape, c_in, c_out = (3, 3), 2, 3
    m = shape[0] * shape[1] * c_in
    layer = CircularPolyLayer(shape, degree, c_in, c_out, bias=bias)
    expected = c_out * (m + bias if degree == 1 else (m + bias) * (m + bias + 1) // 2)
    assert layer.num_parameters == expected


def test_linear_layer_is_torch_circular_conv2d() -> None:
    torch.manual_seed(0)
    layer = CircularPolyLayer((7, 6), 1, 3, 2, kernel_support=3, dtype=torch.float64)
    x = torch.randn(4, 3, 7, 6, dtype=torch.float64)
    kernel = layer.linear.detach().reshape(2, 3, 3, 3)  # offsets row-major, −1..1 in each axis
    expected = functional.conv2d(functional.pad(x, (1, 1, 1, 1), mode="circular"), kernel)
    assert torch.allclose(layer(x), expected, rtol=0, atol=1e-10)


def test_quadratic_layer_is_a_volterra_sum_over_shifted_pairs() -> None:
    """Brute force: y(p) = Σ_{u ≤ v} Q[u, v] x(p + a_u) x(p + a_v) with torch.roll, one channel."""
    torch.manual_seed(0)
    layer = CircularPolyLayer((5, 4), 2, 1, 1, kernel_support=(3, 2), dtype=torch.float64)
    x = torch.randn(3, 1, 5, 4, dtype=torch.float64)
    offsets = [(dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0)]
    shifted = [torch.roll(x, shifts=(-dr, -dc), dims=(2, 3)) for dr, dc in offsets]
    expected = torch.zeros_like(x)
    pair = 0
    for u in range(len(offsets)):
        for v in range(u, len(offsets)):
            expected += layer.quadratic[0, pair].detach() * shifted[u] * shifted[v]
            pair += 1
    assert torch.allclose(layer(x), expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize("config", [CONFIGS[1], CONFIGS[4], CONFIGS[5]], ids=str)
def test_compiled_layers_are_translation_equivariant(config: tuple) -> None:
    layer = layer_of(config)
    spec = layer.spec

    def on_pixels(x: torch.Tensor) -> torch.Tensor:
        return images_to_pixels(layer(pixels_to_images(x, layer.shape)))

    assert_equivariant(on_pixels, spec, in_channels=layer.in_channels, dtype=torch.float64, elements=10)


def test_gradients_reach_every_parameter() -> None:
    layer = CircularPolyLayer((5, 5), 2, 2, 2, kernel_support=3, bias=True)
    layer(torch.randn(2, 2, 5, 5)).square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in layer.parameters())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"shape": (4, 4), "degree": 2, "kernel_support": 5}, "kernel_support 5x5 is larger than the 4x4"),
        ({"shape": (8, 1), "degree": 1, "kernel_support": (3, 3)}, "3x3 is larger than the 8x1"),
        ({"shape": (4, 4), "degree": 3}, "degree must be 1 or 2"),
        ({"shape": (4, 0), "degree": 1}, "4x0"),
        ({"shape": "4by4", "degree": 1}, "'4by4'"),
        ({"shape": (4, 4), "degree": 1, "kernel_support": "3"}, "'3'"),
    ],
)
def test_bad_layers_are_refused_naming_the_value(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CircularPolyLayer(**kwargs)


def test_images_of_the_wrong_size_are_refused() -> None:
    layer = CircularPolyLayer((6, 6), 1, 2, 1)
    with pytest.raises(ValueError, match=r"\(batch, 2, 6, 6\).*got \(3, 2, 6, 5\)"):
        layer(torch.randn(3, 2, 6, 5))
    with pytest.raises(ValueError, match="got"):
        layer(torch.randn(2, 6, 6))


def test_from_tied_refuses_other_groups() -> None:
    with pytest.raises(ValueError, match="torus"):
        CircularPolyLayer.from_tied(TiedPolynomialLayer(LayerSpec(n=4, degree=1, group="cyclic")))
