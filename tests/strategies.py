"""Hypothesis strategies for layer specs small enough for the symbolic engine."""

from __future__ import annotations

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
