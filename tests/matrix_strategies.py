"""Hypothesis strategies for small matrix-group layer specs (a few hundred weights at most)."""

from __future__ import annotations

from hypothesis import assume
from hypothesis import strategies as st

from polyequiv.limits import estimate_weights
from polyequiv.matrix_spec import MatrixLayerSpec

MATRIX_GROUPS = ["O(2)", "SO(2)", "O(3)", "SO(3)", "B(2)", "B(3)", "SO+(1,2)", "O(1,3)", "SO(1,1)"]
PRODUCT_GROUPS = ["S(2) x O(2)", "S(3) x SO(2)", "C(3) x B(2)", "D(3) x O(1)", "S(2) x O(1,1)"]
CUSTOM_GROUPS = [
    'M2{"finite":[[[0,-1],[1,0]]],"lie":[]}',  # C4 by a quarter turn
    'M2{"finite":[[[1,"1/2"],[0,1]]],"lie":[]}',  # a shear: infinite, rational
    'M3{"finite":[[[0,0,1],[1,0,0],[0,1,0]]],"lie":[[[0,1,0],[0,0,0],[0,0,0]]]}',
]
INPUTS = ["V", "2*V", "1 + V", "V2", "2*1 + V"]
OUTPUTS = ["V", "1", "V2", "2*1", "V + 1"]
POINT_INPUTS = ["V", "V⊗1 + V⊗V", "E⊗1", "1 + V⊗V", "V2⊗1"]
POINT_OUTPUTS = ["1", "1⊗V", "V", "1⊗V2", "V⊗1"]


#: Finite groups whose every element tests/matrix_reference.py enumerates.
FINITE_GROUPS = ["B(2)", "B(3)", "C(3) x B(2)", "D(3) x O(1)", "S(3) x B(2)", CUSTOM_GROUPS[0]]


@st.composite
def matrix_specs(
    draw: st.DrawFn, max_weights: int = 400, max_degree: int = 3, finite: bool = False
) -> MatrixLayerSpec:
    """Specs over every option and kind of matrix group (only :data:`FINITE_GROUPS` with ``finite``),
    kept to ``max_weights`` weights."""
    kind = draw(st.sampled_from(["matrix", "product", "custom"]))
    choices = {"matrix": MATRIX_GROUPS, "product": PRODUCT_GROUPS, "custom": CUSTOM_GROUPS}[kind]
    group = draw(st.sampled_from(FINITE_GROUPS if finite else choices))
    points = " x " in group
    indexing = draw(st.sampled_from(["ordered", "full"]))
    spec = MatrixLayerSpec(
        group,
        degree=draw(st.integers(0, max_degree)),
        input=draw(st.sampled_from(POINT_INPUTS if points else INPUTS)),
        output=draw(st.sampled_from(POINT_OUTPUTS if points else OUTPUTS)),
        indexing=indexing,
        bias=draw(st.booleans()),
        gauge=draw(st.sampled_from(["none", "symmetric"])) if indexing == "full" else "none",
    )
    assume(estimate_weights(spec) <= max_weights)
    return spec
