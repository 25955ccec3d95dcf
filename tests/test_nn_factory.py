"""`polyequiv.nn.layer`: the module chosen for each kind of spec, and that it computes the right layer."""

from __future__ import annotations

import pytest
import torch

from polyequiv import LayerSpec
from polyequiv.errors import SpecError
from polyequiv.nn import (
    CircularPolyLayer,
    PointCloudPolyLayer,
    SetPolyLayer,
    TensorPolyLayer,
    TiedPolynomialLayer,
    choose_layer,
    layer,
)
from polyequiv.testing import assert_equivariant

CHOICES = [
    ("S5 quadratic ordered equivariant +bias", SetPolyLayer),
    ("S7 cubic ordered invariant", SetPolyLayer),
    ("S8 cubic ordered E -> V", TensorPolyLayer),
    ("S6 linear ordered V + E -> 1 +bias", TensorPolyLayer),
    ("T10x10 linear ordered equivariant", CircularPolyLayer),
    ("T6x6 quadratic ordered equivariant +bias", CircularPolyLayer),
    ("T6x6 linear ordered invariant", TiedPolynomialLayer),
    ("TD6x6 linear ordered equivariant", TiedPolynomialLayer),
    ("C6 quadratic ordered equivariant", TiedPolynomialLayer),
    ("S4 quadratic full equivariant", TiedPolynomialLayer),
    ("O(3) cubic ordered V -> V", PointCloudPolyLayer),
    ("S(5) x O(3) cubic ordered V(x)1 + V(x)V -> 1(x)V2", PointCloudPolyLayer),
    ("SO(3) quadratic ordered 2*V -> V", TiedPolynomialLayer),
    ("B(3) quadratic ordered V -> V", TiedPolynomialLayer),
]


@pytest.mark.parametrize(("text", "expected"), CHOICES)
def test_the_chosen_module(text: str, expected: type) -> None:
    built = layer(text, 1, 1, dtype=torch.float64)
    assert type(built) is expected and choose_layer(text)[0] == expected.__name__


def test_a_set_layer_computes_the_dense_tied_layer() -> None:
    built = layer("S6 quadratic ordered equivariant +bias", 2, 3, dtype=torch.float64)
    dense = built.to_dense(6)
    x = torch.randn(4, 6, 2, dtype=torch.float64)
    torch.testing.assert_close(built(x), dense(x), rtol=1e-10, atol=1e-10)
    assert_equivariant(built, LayerSpec.parse("S6 quadratic ordered equivariant +bias"))


def test_a_graph_layer_commutes_with_relabelling_the_nodes() -> None:
    built = layer("S8 cubic ordered E -> V", dtype=torch.float64)
    upper = torch.triu((torch.rand(2, 9, 9) < 0.5).double(), 1)
    adjacency = (upper + upper.transpose(1, 2)).unsqueeze(-1)
    order = torch.randperm(9)
    moved = built(adjacency[:, order][:, :, order])
    torch.testing.assert_close(moved, built(adjacency)[:, order], rtol=1e-10, atol=1e-9)


def test_a_point_cloud_layer_is_equivariant_and_takes_one_channel() -> None:
    from polyequiv import MatrixLayerSpec

    spec = MatrixLayerSpec.parse("S(4) x O(3) quadratic ordered V(x)V -> V(x)V")
    built = layer(spec, dtype=torch.float64)
    with torch.no_grad():
        built.weight.normal_()
    assert_equivariant(built, spec)
    with pytest.raises(ValueError, match="takes one channel"):
        layer(spec, 2, 1)


def test_bad_specs_and_options_are_one_line_errors() -> None:
    with pytest.raises(SpecError, match="cannot parse layer spec"):
        layer("five quadratic")
    with pytest.raises(SpecError, match="layer needs a spec string"):
        layer(5)
    with pytest.raises(ValueError, match=r"SetPolyLayer .* does not take .*kernel_support"):
        layer("S5 linear ordered equivariant", kernel_support=3)
    assert type(layer("T8x8 linear ordered equivariant", kernel_support=3)) is CircularPolyLayer


def test_a_dense_layer_the_cli_would_refuse_is_refused_before_it_is_built() -> None:
    from polyequiv.errors import SizeLimitError

    with pytest.raises(SizeLimitError, match="moved slots"):
        layer("T10x10 cubic ordered equivariant")  # built for 55 s and 3 GB before
