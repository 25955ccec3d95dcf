"""TiedPolynomialLayer: counts, equivariance on the whole group, constrained backprop, projection."""

from __future__ import annotations

import dataclasses
import io
import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from strategies import small_specs

from polyequiv import LayerSpec, TyingScheme, derive, groups
from polyequiv.channels import ChannelStructure
from polyequiv.errors import SizeLimitError
from polyequiv.indexing import WeightIndex
from polyequiv.nn import TiedPolynomialLayer, equivariance_residual, project
from polyequiv.orbits import channel_orbit_count
from polyequiv.scheme import content_hash, scheme_from_dict
from polyequiv.testing import assert_equivariant, equivariance_error
from polyequiv.verify import evaluate_layer

SPECS = [
    LayerSpec(n=5, degree=2),
    LayerSpec(n=4, degree=3, bias=True),
    LayerSpec(n=6, degree=2, group="dihedral"),
    LayerSpec(n=6, degree=2, group="cyclic", bias=True),
    LayerSpec(n=5, degree=2, mode="invariant", bias=True),
    LayerSpec(n=6, degree=1, group="custom", generators=((1, 0, 3, 2, 4, 5), (2, 1, 4, 3, 0, 5))),
]


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_one_channel_has_exactly_free_parameters(spec: LayerSpec) -> None:
    assert TiedPolynomialLayer(spec).num_parameters == derive(spec).free_parameters


@pytest.mark.parametrize("spec", SPECS, ids=str)
@pytest.mark.parametrize(("c_in", "c_out"), [(1, 1), (2, 3), (3, 1)])
def test_channel_parameters_match_burnside_and_the_layer_is_equivariant(
    spec: LayerSpec, c_in: int, c_out: int
) -> None:
    layer = TiedPolynomialLayer(spec, c_in, c_out, dtype=torch.float64)
    assert layer.num_parameters == channel_orbit_count(spec, c_in, c_out)
    with torch.no_grad():
        layer.weight.normal_()
    assert_equivariant(layer, generators=spec, in_channels=c_in, elements=12)


def test_full_indexing_uses_the_exact_basis_and_keeps_additive_constraints_after_training() -> None:
    spec = LayerSpec(n=4, degree=2, indexing="full")
    result = derive(spec)
    layer = TiedPolynomialLayer(spec, dtype=torch.float64)
    assert layer.num_parameters == result.free_parameters == 28
    optimiser = torch.optim.Adam(layer.parameters(), lr=0.1)
    x, target = torch.randn(16, 4, 1, dtype=torch.float64), torch.randn(16, 4, 1, dtype=torch.float64)
    for _ in range(5):
        optimiser.zero_grad()
        torch.nn.functional.mse_loss(layer(x), target).backward()
        optimiser.step()
    weights = layer.dense_weight().detach().reshape(-1).numpy()
    assert result.system.num_additive > 0
    for terms in result.system.additive_rows():
        assert abs(sum(c * weights[w] for w, c in terms)) < 1e-12
    a, b = result.system.equalities.T
    np.testing.assert_allclose(weights[a], weights[b], atol=1e-12)
    assert_equivariant(layer, generators=spec)


def test_full_indexing_with_channels_is_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="gauge='symmetric'"):
        TiedPolynomialLayer(LayerSpec(n=4, degree=2, indexing="full"), 2, 2)


def _brute_force_channel_orbits(spec: LayerSpec, c_in: int, c_out: int) -> int:
    """Orbits of the whole group (every element listed) on (output, out channel, monomial in x_{i,c})."""
    variables = [(i, c) for i in range(spec.n) for c in range(c_in)] + ([(spec.n, 0)] if spec.bias else [])
    monomials = list(itertools.combinations_with_replacement(variables, spec.degree))
    outputs = range(spec.n) if spec.equivariant else [None]
    elements = [
        [*g.array_form, spec.n] for g in groups.permutation_group(spec.n, spec.group_generators).generate()
    ]
    seen, orbits = set(), 0
    for item in itertools.product(outputs, range(c_out), monomials):
        if item in seen:
            continue
        orbits += 1
        k, o, monomial = item
        for g in elements:
            image = tuple(sorted((g[i], c) for i, c in monomial))
            seen.add((None if k is None else g[k], o, image))
    return orbits


@pytest.mark.parametrize(
    ("spec", "c_in", "c_out"),
    [
        (LayerSpec(n=4, degree=2, bias=True), 2, 1),
        (LayerSpec(n=5, degree=2, group="dihedral"), 2, 2),
        (LayerSpec(n=4, degree=3, group="cyclic"), 2, 1),
        (LayerSpec(n=3, degree=3, bias=True), 2, 1),
        (LayerSpec(n=4, degree=2, mode="invariant", bias=True), 3, 2),
        (LayerSpec(n=4, degree=2, indexing="full", gauge="symmetric"), 2, 2),
    ],
    ids=str,
)
def test_channel_parameters_match_a_brute_force_orbit_count(spec: LayerSpec, c_in: int, c_out: int) -> None:
    layer = TiedPolynomialLayer(spec, c_in, c_out)
    assert layer.num_parameters == _brute_force_channel_orbits(spec, c_in, c_out)


def test_unoriented_channel_blocks_are_not_equivariant() -> None:
    """The reason for orientations: one c_out × c_in² block per scalar class, copied to every slot
    without permuting its channel axes, breaks equivariance (the class of x_k x_i)."""
    spec = LayerSpec(n=5, degree=2)
    layer = TiedPolynomialLayer(spec, 2, 1, dtype=torch.float64)
    with torch.no_grad():
        layer.weight.normal_()
    oriented = layer.dense_weight().detach()
    naive = oriented.clone()
    big_m = ChannelStructure(spec).index.num_monomials
    for orbit in ChannelStructure(spec).orbits:
        k, m = divmod(int(orbit.slots[0]), big_m)
        outputs, monomials = np.divmod(orbit.slots, big_m)
        naive[outputs, monomials] = oriented[k, m]
    assert not torch.equal(naive, oriented)
    assert equivariance_error(lambda x: layer.apply_weight(naive, x), spec, in_channels=2) > 0.01
    assert equivariance_error(lambda x: layer.apply_weight(oriented, x), spec, in_channels=2) < 1e-12
    with pytest.raises(AssertionError, match="equivariance error"):
        assert_equivariant(lambda x: layer.apply_weight(naive, x), spec, in_channels=2)


@pytest.mark.parametrize(
    "spec",
    [
        LayerSpec(n=4, degree=2, indexing="full", gauge="symmetric", bias=True),
        LayerSpec(n=5, degree=3, indexing="full", gauge="symmetric", group="cyclic"),
        LayerSpec(n=4, degree=2, indexing="full", gauge="symmetric", mode="invariant"),
    ],
    ids=str,
)
def test_full_indexing_with_the_symmetric_gauge_takes_channels(spec: LayerSpec) -> None:
    one = TiedPolynomialLayer(spec, dtype=torch.float64)
    assert one.num_parameters == derive(spec).free_parameters
    with torch.no_grad():
        one.weight.normal_()
    x = torch.randn(3, spec.n, 1, dtype=torch.float64)
    weights = one.dense_weight().detach().reshape(-1).numpy()
    expected = evaluate_layer(WeightIndex(spec), weights, x[..., 0].numpy())
    np.testing.assert_allclose(one(x).detach().numpy().reshape(expected.shape), expected, rtol=1e-12)

    layer = TiedPolynomialLayer(spec, 2, 3, dtype=torch.float64)
    assert layer.num_parameters == channel_orbit_count(spec, 2, 3)
    with torch.no_grad():
        layer.weight.normal_()
    assert_equivariant(layer, spec, elements=12)
    # the channel form of the symmetric gauge: swapping two (element, channel) factors changes nothing
    weight = layer.dense_weight().detach()
    big_n, d = spec.num_inputs, spec.degree
    grid = weight.reshape(weight.shape[0], *(big_n,) * d, 3, *(2,) * d)
    swapped = grid.permute(0, 2, 1, *range(3, d + 1), d + 1, d + 3, d + 2, *range(d + 4, 2 * d + 2))
    torch.testing.assert_close(swapped, grid, rtol=0, atol=0)


def test_forward_matches_the_numpy_reference_evaluation() -> None:
    for spec in (LayerSpec(n=5, degree=2, bias=True), LayerSpec(n=4, degree=2, indexing="full", bias=True)):
        layer = TiedPolynomialLayer(spec, dtype=torch.float64)
        with torch.no_grad():
            layer.weight.normal_()
        x = torch.randn(3, spec.n, 1, dtype=torch.float64)
        weights = layer.dense_weight().detach().reshape(-1).numpy()
        expected = evaluate_layer(WeightIndex(spec), weights, x[..., 0].numpy())
        np.testing.assert_allclose(layer(x)[..., 0].detach().numpy(), expected, rtol=1e-12)


def test_class_gradient_is_the_sum_of_the_untied_gradients() -> None:
    """Constrained backprop: autograd through the gather equals summing an untied layer's gradients."""
    spec = LayerSpec(n=5, degree=2, bias=True)
    layer = TiedPolynomialLayer(spec, 2, 3, dtype=torch.float64)
    x, target = torch.randn(8, 5, 2, dtype=torch.float64), torch.randn(8, 5, 3, dtype=torch.float64)
    torch.nn.functional.mse_loss(layer(x), target).backward()
    untied = layer.dense_weight().detach().clone().requires_grad_(True)
    torch.nn.functional.mse_loss(layer.apply_weight(untied, x), target).backward()
    index = layer.gather_index.reshape(-1)
    summed = torch.zeros(layer.num_parameters + 1, dtype=torch.float64).index_add_(
        0, index, untied.grad.reshape(-1)
    )
    torch.testing.assert_close(layer.weight.grad, summed[:-1])


def test_basis_gradient_is_the_chain_rule_through_b() -> None:
    spec = LayerSpec(n=3, degree=2, indexing="full")
    layer = TiedPolynomialLayer(spec, dtype=torch.float64)
    x, target = torch.randn(8, 3, 1, dtype=torch.float64), torch.randn(8, 3, 1, dtype=torch.float64)
    torch.nn.functional.mse_loss(layer(x), target).backward()
    untied = layer.dense_weight().detach().clone().requires_grad_(True)
    torch.nn.functional.mse_loss(layer.apply_weight(untied, x), target).backward()
    torch.testing.assert_close(layer.weight.grad, layer.basis.T @ untied.grad.reshape(-1))


@pytest.mark.parametrize(
    ("spec", "channels"),
    [
        (LayerSpec(n=5, degree=2, bias=True), (2, 2)),
        (LayerSpec(n=4, degree=2, indexing="full"), (1, 1)),
        (LayerSpec(n=4, degree=2, indexing="full", gauge="symmetric"), (2, 1)),
    ],
)
def test_projection_is_idempotent_and_fixes_tied_weights(spec: LayerSpec, channels: tuple[int, int]) -> None:
    layer = TiedPolynomialLayer(spec, *channels, dtype=torch.float64)
    tied = layer.dense_weight().detach()
    assert float(equivariance_residual(layer, tied)) < 1e-12
    random = torch.randn_like(tied)
    once = project(layer, random)
    torch.testing.assert_close(project(layer, once), once)
    assert float(equivariance_residual(layer, once)) < 1e-12
    assert 0.3 < float(equivariance_residual(layer, random)) <= 1.0
    # orthogonality: the residual is orthogonal to every tied weight
    assert abs(float(((random - once) * tied).sum())) < 1e-9


def test_state_dict_round_trip_and_dtypes() -> None:
    spec = LayerSpec(n=5, degree=2, bias=True)
    layer = TiedPolynomialLayer(spec, 2, 2)
    buffer = io.BytesIO()
    torch.save(layer.state_dict(), buffer)
    buffer.seek(0)
    other = TiedPolynomialLayer(spec, 2, 2)
    other.load_state_dict(torch.load(buffer))
    x = torch.randn(3, 5, 2)
    torch.testing.assert_close(layer(x), other(x))
    assert set(layer.state_dict()) == {"weight"}
    assert layer.double()(x.double()).dtype == torch.float64
    assert "S5 quadratic ordered equivariant +bias" in repr(layer)


def test_wrong_input_shape_and_huge_dense_layers_are_refused() -> None:
    layer = TiedPolynomialLayer(LayerSpec(n=5, degree=2))
    with pytest.raises(ValueError, match=r"expected input of shape \(batch, 5, 1\)"):
        layer(torch.randn(2, 6, 1))
    with pytest.raises(SizeLimitError, match="materialises"):
        TiedPolynomialLayer(LayerSpec(n=100, degree=2), 16, 16)


@settings(max_examples=25)
@given(small_specs(max_n=5, max_degree=3))
def test_random_groups_channel_layers_are_equivariant_with_the_burnside_count(spec: LayerSpec) -> None:
    if spec.indexing == "full" and spec.gauge == "none":
        spec = dataclasses.replace(spec, indexing="ordered")
    layer = TiedPolynomialLayer(spec, 2, 2, dtype=torch.float64)
    assert layer.num_parameters == channel_orbit_count(spec, 2, 2)
    with torch.no_grad():
        layer.weight.normal_()
    assert_equivariant(layer, generators=spec, in_channels=2, elements=8)


def test_scheme_classes_are_matched_up_to_renaming() -> None:
    document = TyingScheme.from_spec(LayerSpec(n=5, degree=2, bias=True)).to_dict()
    classes = document["class_of_weight"]
    renamed = dict(document, class_of_weight=[6 - c for c in classes])
    renamed["basis"] = dict(document["basis"], rows=[6 - c for c in document["basis"]["rows"]])
    renamed["sha256"] = content_hash(renamed)
    scheme = scheme_from_dict(renamed, rederive=False)
    layer = TiedPolynomialLayer.from_scheme(scheme, 2, 2)
    assert layer.num_parameters == channel_orbit_count(scheme.spec, 2, 2)
    other = next(w for w, c in enumerate(classes) if c != classes[0])
    swapped = list(classes)
    swapped[0], swapped[other] = classes[other], classes[0]
    wrong = dict(document, class_of_weight=swapped)
    wrong["sha256"] = content_hash(wrong)
    with pytest.raises(ValueError, match="not the orbits"):
        TiedPolynomialLayer.from_scheme(scheme_from_dict(wrong, rederive=False))
