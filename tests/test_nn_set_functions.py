"""SetPolyLayer computes the right *functions*, for every channel count from 1 (issue 12).

Equivariance tests cannot see a layer that computes the wrong equivariant function, so the set
layer is checked three ways over the whole option space:

1. against the dense tied layer (``to_dense``) with the same parameters, for in/out channels
   1–3, degrees 1–4, bias on/off, both modes, n = 1…12 (sum pooling: the dense layer's);
2. the span of the functions it computes (it is linear in its parameters) against bases written
   here by hand: the closed forms of degree 1 and 2, and, for degree ≤ 3, a brute-force basis of
   equivariant polynomials (orbit sums of ``x^m e_k`` under every permutation of ``0..n−1``);
   these share no code with the layer or with ``to_dense``, so a bug common to both is caught;
3. mean pooling, which has no dense twin, by the same spans (at a fixed n the means are the sums
   divided by a constant) and by containment in the sum-pooled layer's span with channels.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from polyequiv import LayerSpec, derive
from polyequiv.nn import SetPolyLayer


def function_matrix(layer: SetPolyLayer, x: torch.Tensor) -> np.ndarray:
    """Column j: the layer's outputs on ``x`` (flattened) with parameter vector ``e_j``.

    The layer is linear in its parameters, so these columns span every function it can compute
    on ``x``.
    """
    columns = []
    with torch.no_grad():
        saved = layer.weight.detach().clone()
        for j in range(layer.weight.numel()):
            layer.weight.zero_()
            layer.weight[j] = 1.0
            columns.append(layer(x).reshape(-1).numpy().copy())
        layer.weight.copy_(saved)
    return np.stack(columns, axis=1)


def numeric_rank(matrix: np.ndarray, tol: float = 1e-8) -> int:
    """Rank of a well-scaled float64 matrix of function values (a test helper, not a count)."""
    if matrix.size == 0:
        return 0
    singular = np.linalg.svd(matrix, compute_uv=False)
    return int((singular > tol * max(1.0, singular[0])).sum())


def same_span(a: np.ndarray, b: np.ndarray) -> bool:
    rank_a, rank_b = numeric_rank(a), numeric_rank(b)
    return rank_a == rank_b == numeric_rank(np.concatenate([a, b], axis=1))


def in_span(a: np.ndarray, b: np.ndarray) -> bool:
    """Every column of ``a`` is a combination of the columns of ``b``."""
    return numeric_rank(b) == numeric_rank(np.concatenate([a, b], axis=1))


# ---------------------------------------------------------------------- 1. the dense layer, everywhere
@settings(max_examples=60, deadline=None)
@given(
    in_channels=st.integers(1, 3),
    out_channels=st.integers(1, 3),
    degree=st.integers(1, 4),
    bias=st.booleans(),
    mode=st.sampled_from(["equivariant", "invariant"]),
    n=st.integers(1, 12),
    seed=st.integers(0, 2**16),
)
def test_set_layer_equals_the_dense_layer_over_the_option_space(
    in_channels: int, out_channels: int, degree: int, bias: bool, mode: str, n: int, seed: int
) -> None:
    if degree == 4 and in_channels == 3 and n > 8:
        n = 8  # keeps the dense twin (n·C(n+4, 4)·c_out·81 entries) small
    torch.manual_seed(seed)
    layer = SetPolyLayer(degree, in_channels, out_channels, bias=bias, mode=mode, dtype=torch.float64)
    with torch.no_grad():
        layer.weight.normal_()
    x = torch.randn(3, n, in_channels, dtype=torch.float64)
    torch.testing.assert_close(layer(x), layer.to_dense(n)(x), atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("degree", [2, 3])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("out_channels", [1, 2])
def test_one_input_channel_equals_the_dense_layer_for_every_n(
    degree: int, bias: bool, out_channels: int
) -> None:
    """The configurations the issue found broken, exhaustively over n = 1…12."""
    torch.manual_seed(degree * 10 + bias)
    layer = SetPolyLayer(degree, 1, out_channels, bias=bias, dtype=torch.float64)
    with torch.no_grad():
        layer.weight.normal_()
    for n in range(1, 13):
        x = torch.randn(4, n, 1, dtype=torch.float64)
        torch.testing.assert_close(layer(x), layer.to_dense(n)(x), atol=1e-10, rtol=1e-10)


# ---------------------------------------------------------------------- 2. bases written by hand
def closed_form_basis(x: np.ndarray, degree: int, bias: bool, equivariant: bool) -> np.ndarray:
    """Equivariant (per-element) or invariant polynomials of degree ≤ 2, written out.

    Degree 1: ``x_k``, ``Σ_{i≠k} x_i`` (invariant: ``Σ x_i``).  Degree 2 adds ``x_k²``,
    ``x_k Σ_{i≠k} x_i``, ``Σ_{i≠k} x_i²``, ``Σ_{i<j; i,j≠k} x_i x_j`` (invariant: ``Σ x_i²``,
    ``Σ_{i<j} x_i x_j``).  Bias adds every lower degree and the constant.
    """
    batch, n = x.shape
    by_degree: dict[int, list[np.ndarray]] = {0: [np.ones((batch, n)) if equivariant else np.ones(batch)]}
    total = x.sum(axis=1, keepdims=True)
    squares = (x**2).sum(axis=1, keepdims=True)
    others = total - x  # Σ_{i≠k} x_i
    if equivariant:
        by_degree[1] = [x, others]
        pairs_without_k = (others**2 - (squares - x**2)) / 2
        by_degree[2] = [x**2, x * others, squares - x**2, pairs_without_k]
    else:
        by_degree[1] = [total[:, 0]]
        by_degree[2] = [squares[:, 0], ((total**2 - squares) / 2)[:, 0]]
    degrees = range(degree + 1) if bias else [degree]
    return np.stack([f.reshape(-1) for d in degrees for f in by_degree[d]], axis=1)


def brute_force_basis(x: np.ndarray, degree: int, bias: bool, equivariant: bool) -> np.ndarray:
    """Orbit sums ``Σ_{(k, m) ∈ orbit} x^m e_k`` under every permutation of ``0..n−1``.

    Monomials are multisets of element indices of size ``degree`` (or ≤ ``degree`` with bias);
    each orbit of (output, monomial) pairs is one basis function.
    """
    batch, n = x.shape
    sizes = range(degree + 1) if bias else [degree]
    monomials = [m for s in sizes for m in itertools.combinations_with_replacement(range(n), s)]
    outputs = range(n) if equivariant else [None]
    seen: set = set()
    columns = []
    for k in outputs:
        for m in monomials:
            if (k, m) in seen:
                continue
            orbit = {
                (None if k is None else sigma[k], tuple(sorted(sigma[i] for i in m)))
                for sigma in itertools.permutations(range(n))
            }
            seen |= orbit
            column = np.zeros((batch, n)) if equivariant else np.zeros(batch)
            for k2, m2 in orbit:
                value = np.prod(x[:, list(m2)], axis=1) if m2 else np.ones(batch)
                if equivariant:
                    column[:, k2] += value
                else:
                    column += value
            columns.append(column.reshape(-1))
    return np.stack(columns, axis=1)


@pytest.mark.parametrize("pooling", ["sum", "mean"])
@pytest.mark.parametrize("mode", ["equivariant", "invariant"])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("degree", [1, 2])
def test_one_channel_spans_the_closed_form_basis(degree: int, bias: bool, mode: str, pooling: str) -> None:
    rng = np.random.default_rng(degree + 2 * bias)
    for n in range(1, 8):
        x = rng.normal(size=(6, n))
        layer = SetPolyLayer(degree, 1, 1, bias=bias, mode=mode, pooling=pooling, dtype=torch.float64)
        functions = function_matrix(layer, torch.from_numpy(x).unsqueeze(-1))
        basis = closed_form_basis(x, degree, bias, mode == "equivariant")
        assert same_span(functions, basis), (n, numeric_rank(functions), numeric_rank(basis))


@pytest.mark.parametrize("pooling", ["sum", "mean"])
@pytest.mark.parametrize("mode", ["equivariant", "invariant"])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("degree", [1, 2, 3])
def test_one_channel_spans_the_brute_force_basis(degree: int, bias: bool, mode: str, pooling: str) -> None:
    """Set layer, its dense twin and the orbit-sum basis span one space; its dimension is the count."""
    rng = np.random.default_rng(10 * degree + bias)
    for n in range(1, 6):
        x = rng.normal(size=(12, n))
        equivariant = mode == "equivariant"
        layer = SetPolyLayer(degree, 1, 1, bias=bias, mode=mode, pooling=pooling, dtype=torch.float64)
        inputs = torch.from_numpy(x).unsqueeze(-1)
        functions = function_matrix(layer, inputs)
        basis = brute_force_basis(x, degree, bias, equivariant)
        assert same_span(functions, basis), (n, numeric_rank(functions), numeric_rank(basis))
        spec = LayerSpec(n=n, degree=degree, bias=bias, mode=mode)
        assert numeric_rank(basis) == derive(spec).function_dim
        if pooling == "sum":
            dense = layer.to_dense(n)
            dense_functions = np.stack(
                [_dense_column(dense, inputs, j) for j in range(dense.weight.numel())],
                axis=1,
            )
            assert same_span(dense_functions, basis)


def _dense_column(dense, inputs: torch.Tensor, j: int) -> np.ndarray:
    with torch.no_grad():
        dense.weight.zero_()
        dense.weight[j] = 1.0
        return dense(inputs).reshape(-1).numpy().copy()


def test_the_issue_example_lies_in_the_quadratic_basis() -> None:
    """One channel, degree 2, n = 5: random weights give a function of the explicit basis."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    layer = SetPolyLayer(2, 1, 1, bias=False, dtype=torch.float64)
    with torch.no_grad():
        layer.weight.normal_()
    x = rng.normal(size=(50, 5))
    outputs = layer(torch.from_numpy(x).unsqueeze(-1)).detach().numpy().reshape(-1, 1)
    basis = closed_form_basis(x, 2, False, True)
    coefficients, *_ = np.linalg.lstsq(basis, outputs, rcond=None)
    assert np.abs(basis @ coefficients - outputs).max() < 1e-10


# ---------------------------------------------------------------------- 3. mean pooling with channels
@settings(max_examples=25, deadline=None)
@given(
    in_channels=st.integers(1, 3),
    degree=st.integers(1, 3),
    bias=st.booleans(),
    mode=st.sampled_from(["equivariant", "invariant"]),
    n=st.integers(1, 7),
)
def test_mean_pooling_stays_in_the_sum_pooled_span(
    in_channels: int, degree: int, bias: bool, mode: str, n: int
) -> None:
    """At a fixed n the mean-pooled layer computes functions the sum-pooled one can compute."""
    rng = np.random.default_rng(n + 7 * degree)
    x = torch.from_numpy(rng.normal(size=(5, n, in_channels)))
    sums = SetPolyLayer(degree, in_channels, 1, bias=bias, mode=mode, pooling="sum", dtype=torch.float64)
    means = SetPolyLayer(degree, in_channels, 1, bias=bias, mode=mode, pooling="mean", dtype=torch.float64)
    assert in_span(function_matrix(means, x), function_matrix(sums, x))


def test_function_dimension_matches_the_count_with_one_channel() -> None:
    """For n ≥ degree + 1 every pattern is a different function: rank = free parameters."""
    rng = np.random.default_rng(3)
    for degree, bias in [(2, False), (2, True), (3, False), (4, False)]:
        n = degree + 2
        layer = SetPolyLayer(degree, 1, 1, bias=bias, dtype=torch.float64)
        samples = max(20, 3 * layer.weight.numel())
        functions = function_matrix(layer, torch.from_numpy(rng.normal(size=(samples, n, 1))))
        expected = derive(LayerSpec(n=n, degree=degree, bias=bias)).free_parameters
        assert numeric_rank(functions) == expected == layer.weight.numel()
        assert expected == sum(_partitions_at_most(degree - m, n - 1) for m in range(degree + 1)) + (
            sum(_partitions_at_most(e - m, n - 1) for e in range(degree) for m in range(e + 1)) if bias else 0
        )


def _partitions_at_most(total: int, parts: int) -> int:
    """Partitions of ``total`` into at most ``parts`` parts = partitions with every part ≤ ``parts``."""
    if total == 0:
        return 1
    return sum(_partitions_at_most(total - first, first) for first in range(1, min(total, parts) + 1))


def test_partition_helper() -> None:
    assert [_partitions_at_most(t, 10) for t in range(7)] == [1, 1, 2, 3, 5, 7, 11]
    assert [_partitions_at_most(4, k) for k in range(1, 5)] == [1, 3, 4, 5]
