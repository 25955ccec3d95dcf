"""Hypothesis strategies for layer specs small enough for the symbolic engine."""

from __future__ import annotations

import math
from functools import cache

from hypothesis import assume
from hypothesis import strategies as st

from polyequiv.spec import LayerSpec


@st.composite
def permutations_of(draw: st.DrawFn, n: int) -> tuple[int, ...]:
    return tuple(draw(st.permutations(range(n))))


@st.composite
def small_specs(draw: st.DrawFn, max_n: int = 5, max_degree: int = 3) -> LayerSpec:
    """Specs over every option, kept to a few hundred weights."""
    n = draw(st.integers(1, max_n))
    degree = draw(st.integers(0, max_degree))
    indexing = draw(st.sampled_from(["ordered", "full"]))
    bias = draw(st.booleans())
    big_n = n + bias
    if indexing == "full" and big_n**degree * n > 400:
        indexing = "ordered"
    group = draw(st.sampled_from(["symmetric", "cyclic", "dihedral", "custom"]))
    kwargs = {}
    if group == "symmetric":
        kwargs["transpositions"] = draw(st.sampled_from(["adjacent", "all", "minimal"]))
    if group == "custom":
        count = draw(st.integers(1, 2))
        kwargs["generators"] = tuple(draw(permutations_of(n)) for _ in range(count))
    gauge = draw(st.sampled_from(["none", "symmetric"])) if indexing == "full" else "none"
    return LayerSpec(
        n=n,
        degree=degree,
        indexing=indexing,
        bias=bias,
        mode=draw(st.sampled_from(["equivariant", "invariant"])),
        group=group,
        gauge=gauge,
        **kwargs,
    )


INPUT_REPS = ["V", "E", "V2", "1 + V", "V + E", "E + E"]
OUTPUT_REPS = ["V", "E", "V2", "1", "V + 1"]


@st.composite
def tensor_specs(draw: st.DrawFn, max_n: int = 4, max_degree: int = 2, max_weights: int = 600) -> LayerSpec:
    """Specs with tensor input/output representations (polyequiv.reps), a few hundred weights."""
    n = draw(st.integers(2, max_n))
    degree = draw(st.integers(0, max_degree))
    group = draw(st.sampled_from(["symmetric", "cyclic", "dihedral", "custom"]))
    kwargs = {}
    if group == "symmetric":
        kwargs["transpositions"] = draw(st.sampled_from(["adjacent", "all", "minimal"]))
    if group == "custom":
        kwargs["generators"] = tuple(draw(permutations_of(n)) for _ in range(draw(st.integers(1, 2))))
    indexing = draw(st.sampled_from(["ordered", "full"]))
    spec = LayerSpec(
        n=n,
        degree=degree,
        indexing=indexing,
        bias=draw(st.booleans()),
        group=group,
        input=draw(st.sampled_from(INPUT_REPS)),
        output=draw(st.sampled_from(OUTPUT_REPS)),
        gauge=draw(st.sampled_from(["none", "symmetric"])) if indexing == "full" else "none",
        **kwargs,
    )
    weights = spec.num_outputs * (
        spec.num_inputs**degree if indexing == "full" else math.comb(spec.num_inputs + degree - 1, degree)
    )
    assume(weights <= max_weights)
    return spec


@cache
def stirling2(m: int, j: int) -> int:
    """Stirling numbers of the second kind, S(m, j) = j·S(m−1, j) + S(m−1, j−1): the reference
    counts of linear tensor layers (written here, independent of polyequiv)."""
    if m == j:
        return 1
    if m == 0 or j == 0:
        return 0
    return j * stirling2(m - 1, j) + stirling2(m - 1, j - 1)
