"""SetPolyLayer and InvariantPolyReadout: same function as the dense layer, any n, masks."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from polyequiv import derive
from polyequiv.channels import ChannelStructure
from polyequiv.nn import InvariantPolyReadout, SetPolyLayer
from polyequiv.spec import LayerSpec
from polyequiv.testing import assert_equivariant


@pytest.mark.parametrize("degree", [1, 2, 3])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("mode", ["equivariant", "invariant"])
def test_same_parameters_give_the_dense_layer_for_every_n(degree: int, bias: bool, mode: str) -> None:
    layer = SetPolyLayer(degree, 2, 3, bias=bias, mode=mode, dtype=torch.float64)
    with torch.no_grad():
        layer.weight.normal_()
    for n in range(1, 13):
        dense = layer.to_dense(n)
        x = torch.randn(4, n, 2, dtype=torch.float64)
        torch.testing.assert_close(layer(x), dense(x), atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize(
    ("degree", "bias", "expected"), [(1, False, 2), (2, False, 4), (1, True, 3), (2, True, 7), (3, False, 7)]
)
def test_one_channel_has_the_known_number_of_weights(degree: int, bias: bool, expected: int) -> None:
    layer = SetPolyLayer(degree, 1, 1, bias=bias)
    assert (
        layer.weight.numel()
        == expected
        == derive(LayerSpec(n=degree + 2, degree=degree, bias=bias)).free_parameters
    )


def test_patterns_come_from_the_engine() -> None:
    layer = SetPolyLayer(2, 1, 1, bias=False)
    for spec in (layer.reference_spec, SetPolyLayer(3, 1, 1, bias=True).reference_spec):
        # one pattern per class of the derivation at n = degree + 1 (ordered: slots are weights)
        np.testing.assert_array_equal(
            ChannelStructure(spec).orbit_of_slot, derive(spec).graph.class_of_weight
        )
    assert [p.key for p in layer.patterns] == [(0, (0, 0)), (0, (0, 1)), (0, (1, 1)), (0, (1, 2))]
    assert [(p.pinned, p.free_blocks) for p in layer.patterns] == [
        ((0, 1), ()),
        ((0,), ((1,),)),
        ((), ((0, 1),)),
        ((), ((0,), (1,))),
    ]


@pytest.mark.parametrize("pooling", ["sum", "mean"])
@pytest.mark.parametrize("mode", ["equivariant", "invariant"])
def test_equivariance_on_the_whole_group_and_masking_equals_dropping(pooling: str, mode: str) -> None:
    layer = SetPolyLayer(2, 3, 4, bias=True, mode=mode, pooling=pooling, dtype=torch.float64)
    assert_equivariant(layer, n=9, in_channels=3, invariant=mode == "invariant")
    x = torch.randn(2, 7, 3, dtype=torch.float64)
    mask = torch.tensor([[True] * 7, [False, True, False, True, True, False, True]])
    padded = x.clone()
    padded[~mask] = 123.0  # garbage at padding must not matter
    out = layer(padded, mask)
    kept = layer(x[1:, mask[1]])
    if mode == "equivariant":
        torch.testing.assert_close(out[1, mask[1]], kept[0])
        assert torch.all(out[1, ~mask[1]] == 0)
        torch.testing.assert_close(out[0], layer(x[:1])[0])
    else:
        torch.testing.assert_close(out[1], kept[0])


def test_mean_pooling_is_size_agnostic_on_replicated_sets() -> None:
    """With mean pooling a set and the same set repeated r times give the same per-element outputs."""
    layer = SetPolyLayer(2, 2, 2, bias=True, pooling="mean", dtype=torch.float64)
    x = torch.randn(1, 5, 2, dtype=torch.float64)
    torch.testing.assert_close(layer(x.repeat(1, 3, 1))[:, :5], layer(x))


def test_mean_pooling_at_degree_one_is_the_documented_formula() -> None:
    """``α x_k + β (mean(x) − x_k) + b``: only the power sum is divided by the set size."""
    layer = SetPolyLayer(1, 2, 3, bias=True, pooling="mean", dtype=torch.float64)
    alpha, beta, bias = (layer.block(p) for p in range(3))  # patterns x_k, x_i, 1
    assert [p.key for p in layer.patterns] == [(0, (0,)), (0, (1,)), (0, ("b",))]
    x = torch.randn(4, 7, 2, dtype=torch.float64)
    expected = x @ alpha.T + (x.mean(dim=1, keepdim=True) - x) @ beta.T + bias
    torch.testing.assert_close(layer(x), expected)


def test_readout_degree_one_is_sum_pooling() -> None:
    readout = InvariantPolyReadout(1, 3, 2, bias=False, dtype=torch.float64)
    x = torch.randn(4, 6, 3, dtype=torch.float64)
    theta = readout.block(0)  # (c_out, c_in)
    torch.testing.assert_close(readout(x), x.sum(dim=1) @ theta.T)
    assert InvariantPolyReadout(2, 1, 1, bias=False).weight.numel() == 2


class SetModel(torch.nn.Module):
    """What a user writes: equivariant layers, a nonlinearity, an invariant read-out."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = SetPolyLayer(2, 1, 8)
        self.readout = InvariantPolyReadout(1, 8, 1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.readout(torch.tanh(self.layer(x, mask)), mask)


def test_import_into_a_model_state_dict_round_trip_and_compile() -> None:
    model = SetModel()
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    clone = SetModel()
    clone.load_state_dict(torch.load(buffer))
    x = torch.randn(3, 11, 1)
    torch.testing.assert_close(model(x), clone(x))
    assert_equivariant(model, n=11, invariant=True, dtype=torch.float32)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    loss = (model(x) - x.sum(dim=1)).pow(2).mean()
    loss.backward()
    optimiser.step()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.slow
def test_torch_compile_gives_the_same_outputs() -> None:
    model = SetModel()
    compiled = torch.compile(model)
    x = torch.randn(3, 11, 1)
    torch.testing.assert_close(compiled(x), model(x), atol=1e-5, rtol=1e-5)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="pooling"):
        SetPolyLayer(2, 1, 1, pooling="max")
    layer = SetPolyLayer(2, 2, 1)
    with pytest.raises(ValueError, match="expected input"):
        layer(torch.randn(2, 5, 3))
    with pytest.raises(ValueError, match="mask"):
        layer(torch.randn(2, 5, 2), torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="sum pooling"):
        SetPolyLayer(2, 1, 1, pooling="mean").to_dense(4)
