"""TensorPolyLayer: size-agnostic pattern layers against the dense tied layer, permutations and masks."""

from __future__ import annotations

import pytest
import torch

from polyequiv import LayerSpec, derive
from polyequiv.nn import TiedPolynomialLayer
from polyequiv.nn.tensor_layers import TensorPolyLayer
from polyequiv.orbits import channel_orbit_count

CASES = [
    ("E", "V", 2, False),
    ("V2", "V2", 1, False),
    ("V + E", "E", 2, True),
    ("V", "V", 3, True),
    ("E", "1", 3, False),
    ("1 + V", "E + 1", 2, False),
]


def _terms(rep: str) -> list[str]:
    return [t.strip() for t in rep.split("+")]


def _arity(term: str) -> int:
    known = {"1": 0, "V": 1, "E": 2}
    return known[term] if term in known else int(term[1:])


def random_inputs(
    rep: str, batch: int, n: int, channels: int, generator: torch.Generator
) -> list[torch.Tensor]:
    xs = []
    for term in _terms(rep):
        x = torch.randn(
            (batch,) + (n,) * _arity(term) + (channels,), dtype=torch.float64, generator=generator
        )
        if term == "E":
            x = (x + x.transpose(1, 2)) * (1 - torch.eye(n, dtype=torch.float64))[None, :, :, None]
        xs.append(x)
    return xs


def permuted(term: str, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """(σ·X)_{i j …} = X_{σ(i) σ(j) …}, written here from the convention."""
    for axis in range(1, _arity(term) + 1):
        x = x.index_select(axis, sigma)
    return x


def to_coordinates(rep: str, xs: list[torch.Tensor]) -> torch.Tensor:
    """Stack terms into the dense layer's coordinate rows (edges as i < j, lexicographic)."""
    rows = []
    for term, x in zip(_terms(rep), xs, strict=True):
        if term == "1":
            rows.append(x[:, None, :])
        elif term == "E":
            i, j = torch.triu_indices(x.shape[1], x.shape[1], offset=1)
            rows.append(x[:, i, j, :])
        else:
            rows.append(x.reshape(x.shape[0], -1, x.shape[-1]))
    return torch.cat(rows, dim=1)


def _as_tuple(y):
    return y if isinstance(y, tuple) else (y,)


@pytest.mark.parametrize(("rep_in", "rep_out", "degree", "bias"), CASES)
def test_equivariant_under_random_permutations(rep_in: str, rep_out: str, degree: int, bias: bool) -> None:
    torch.set_num_threads(1)
    generator = torch.Generator().manual_seed(0)
    layer = TensorPolyLayer(rep_in, rep_out, degree, 2, 3, bias=bias, dtype=torch.float64)
    xs = random_inputs(rep_in, 3, 6, 2, generator)
    ys = _as_tuple(layer(*xs))
    for _ in range(5):
        sigma = torch.randperm(6, generator=generator)
        moved = _as_tuple(layer(*[permuted(t, x, sigma) for t, x in zip(_terms(rep_in), xs, strict=True)]))
        for term, y, y_moved in zip(_terms(rep_out), ys, moved, strict=True):
            torch.testing.assert_close(y_moved, permuted(term, y, sigma), rtol=1e-10, atol=1e-10)


def _responses(layer: torch.nn.Module, inputs, parameters: int) -> torch.Tensor:
    """Columns: the layer's outputs on fixed inputs with one unit parameter each (outputs are linear
    in the parameters)."""
    columns = []
    with torch.no_grad():
        for number in range(parameters):
            layer.weight.zero_()
            layer.weight[number] = 1.0
            columns.append(inputs(layer).reshape(-1))
    return torch.stack(columns, dim=1)


def _residual(a: torch.Tensor, b: torch.Tensor) -> float:
    """Relative distance of the columns of ``a`` from the span of ``b`` (least squares)."""
    solution = torch.linalg.lstsq(b, a).solution
    return float((b @ solution - a).norm() / a.norm())


@pytest.mark.parametrize(("rep_in", "rep_out", "degree", "bias"), CASES)
@pytest.mark.parametrize("channels", [(1, 1), (2, 2)])
def test_same_functions_as_the_dense_tied_layer(
    rep_in: str, rep_out: str, degree: int, bias: bool, channels: tuple[int, int]
) -> None:
    """For n ≥ the number of positions both layers span the same maps, with the same parameter count."""
    torch.set_num_threads(1)
    layer = TensorPolyLayer(rep_in, rep_out, degree, *channels, bias=bias, dtype=torch.float64)
    n = max(2, max(len(p.kernel) for p in layer.patterns))
    spec = LayerSpec(n=n, degree=degree, input=rep_in, output=rep_out, bias=bias)
    dense = TiedPolynomialLayer(spec, *channels, dtype=torch.float64)
    assert layer.num_parameters == dense.num_parameters
    if channels == (1, 1):
        assert layer.num_parameters == len(layer.patterns) == derive(spec).free_parameters
    generator = torch.Generator().manual_seed(1)
    xs = random_inputs(rep_in, 40, n, channels[0], generator)  # more samples than invariant patterns
    coordinates = to_coordinates(rep_in, xs)

    def pattern_outputs(module):
        return to_coordinates(rep_out, list(_as_tuple(module(*xs))))

    def dense_outputs(module):
        y = module(coordinates)
        return y if spec.equivariant else y[:, None, :]

    a = _responses(layer, pattern_outputs, layer.num_parameters)
    b = _responses(dense, dense_outputs, dense.num_parameters)
    assert _residual(a, b) < 1e-9 and _residual(b, a) < 1e-9


def test_set_layer_channels_match_burnside() -> None:
    for degree, bias, c_in, c_out in [(3, True, 2, 3), (2, False, 3, 1), (4, False, 2, 1)]:
        spec = LayerSpec(n=degree + 1, degree=degree, bias=bias)
        assert TensorPolyLayer(
            "V", "V", degree, c_in, c_out, bias=bias
        ).num_parameters == channel_orbit_count(spec, c_in, c_out)


def test_graphs_of_different_sizes_in_one_padded_batch() -> None:
    torch.set_num_threads(1)
    generator = torch.Generator().manual_seed(2)
    layer = TensorPolyLayer("V + E", "V", 2, 2, 2, bias=True, dtype=torch.float64)
    small = random_inputs("V + E", 1, 4, 2, generator)
    large = random_inputs("V + E", 1, 6, 2, generator)
    padded = [torch.zeros_like(x) for x in large]
    padded[0][:, :4], padded[1][:, :4, :4] = small[0], small[1]
    batch = [torch.cat([p, x]) for p, x in zip(padded, large, strict=True)]
    mask = torch.tensor([[True] * 4 + [False] * 2, [True] * 6])
    y = layer(*batch, mask=mask)
    torch.testing.assert_close(y[0, :4], layer(*small)[0], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(y[1], layer(*large)[0], rtol=1e-12, atol=1e-12)
    assert torch.all(y[0, 4:] == 0)


def test_degree_and_triangles_are_single_patterns() -> None:
    """Linear E → V computes degrees with one weight; cubic E → V holds the triangle count
    Σ_{j,k} A_ij A_jk A_ki = 2·triangles (the pattern {o₁,i₁,i₂}{i₁′,i₃}{i₂′,i₃′}), on any n."""
    generator = torch.Generator().manual_seed(3)
    for n in (5, 9):
        a = (torch.rand(n, n, generator=generator) < 0.5).double().triu(1)
        a = (a + a.T)[None, :, :, None]
        degree_layer = TensorPolyLayer("E", "V", 1, dtype=torch.float64)
        with torch.no_grad():
            degree_layer.weight.copy_(torch.tensor([1.0, 0.0]))
        torch.testing.assert_close(degree_layer(a)[0, :, 0], a[0, :, :, 0].sum(1))
        cubic = TensorPolyLayer("E", "V", 3, dtype=torch.float64)
        names = [str(p) for p in cubic.patterns]
        with torch.no_grad():
            cubic.weight.zero_()
            cubic.weight[names.index("{o₁,i₁,i₂}{i₁′,i₃}{i₂′,i₃′}")] = 0.5
        adjacency = a[0, :, :, 0]
        triangles = torch.diagonal(adjacency @ adjacency @ adjacency) / 2
        torch.testing.assert_close(cubic(a)[0, :, 0], triangles)


def test_bad_inputs_are_refused_with_the_reason() -> None:
    layer = TensorPolyLayer("E", "V", 1)
    with pytest.raises(ValueError, match="symmetric"):
        layer(torch.randn(1, 4, 4, 1))
    with pytest.raises(ValueError, match=r"expects shape \(batch, n, n, 1\)"):
        layer(torch.randn(1, 4, 1))
    with pytest.raises(ValueError, match="one per term"):
        layer(torch.zeros(1, 4, 4, 1), torch.zeros(1, 4, 1))


@pytest.mark.parametrize(("rep_in", "rep_out", "degree"), [("E", "V", 2), ("V", "E", 2), ("V2", "V", 1),
                                                           ("E", "1", 3), ("V + E", "E", 1)])
def test_pattern_values_are_the_features_of_the_forward_pass(rep_in: str, rep_out: str, degree: int) -> None:
    torch.manual_seed(3)
    layer = TensorPolyLayer(rep_in, rep_out, degree, bias=True, dtype=torch.float64)
    inputs = random_inputs(rep_in, 3, 6, 1, torch.Generator().manual_seed(4))
    mask = torch.ones(3, 6, dtype=torch.bool)
    mask[0, :2] = False
    features = layer.pattern_values(*inputs, mask=mask)
    assert features.shape[0] == layer.num_parameters == len(layer.patterns)
    for _ in range(3):
        with torch.no_grad():
            layer.weight.normal_()
        expected = layer(*inputs, mask=mask)[..., 0]
        torch.testing.assert_close(torch.einsum("p,p...->...", layer.weight.detach(), features), expected,
                                   atol=1e-9, rtol=1e-9)
    with pytest.raises(ValueError, match="one input and one output channel"):
        TensorPolyLayer(rep_in, rep_out, degree, 2, 1).pattern_values(
            *[x.float() for x in random_inputs(rep_in, 1, 4, 2, torch.Generator().manual_seed(5))])


@pytest.mark.parametrize(
    ("rep_in", "rep_out", "degree"), [("V2", "V2", 1), ("V", "V2", 2), ("V + E", "E + V", 2)]
)
def test_gradients_are_exact(rep_in: str, rep_out: str, degree: int) -> None:
    """gradcheck (float64 finite differences) through the grouped contractions, the broadcasts and
    the in-place diagonal writes of the forward pass, in the inputs and in the weights."""
    torch.set_num_threads(1)
    layer = TensorPolyLayer(rep_in, rep_out, degree, 1, 1, bias=True, dtype=torch.float64)
    terms = _terms(rep_in)

    def inputs_from(free):  # an E input is symmetric: it varies through its upper triangle
        return [f + f.transpose(1, 2) if t == "E" else f for t, f in zip(terms, free, strict=True)]

    xs = random_inputs(rep_in, 1, 3, 1, torch.Generator().manual_seed(4))
    free = [(x.triu(1) if t == "E" else x).clone() for t, x in zip(terms, xs, strict=True)]
    free = [f.requires_grad_(True) for f in free]
    assert torch.autograd.gradcheck(lambda *f: layer(*inputs_from(f)), tuple(free))
    fixed = tuple(inputs_from([f.detach() for f in free]))
    weight = layer.weight.detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda w: torch.func.functional_call(layer, {"weight": w}, fixed), (weight,)
    )


def test_huge_dense_tensor_layer_is_refused_up_front_pointing_here() -> None:
    """V2 → V2 linear on 100 elements: 100² outputs × 100² inputs dense weights (closed form)."""
    from polyequiv.errors import SizeLimitError

    with pytest.raises(SizeLimitError, match=r"100,000,000 weights.*TensorPolyLayer") as refused:
        TiedPolynomialLayer(LayerSpec(n=100, degree=1, input="V2", output="V2"))
    assert refused.value.estimate == 100**4
