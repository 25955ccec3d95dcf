"""Grid groups: translations of an H×W torus (and the square's symmetries) as LayerSpec groups.

Independent paths: the group elements are written here as affine maps ``p ↦ A p + u`` on
``Z_H × Z_W`` (never the library's generators), orbits are counted by Burnside's lemma over
those elements, and the linear layer is compared with the lecture's circular convolution.
"""

from __future__ import annotations

import itertools
import json
from fractions import Fraction

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from polyequiv import LayerSpec, TyingScheme, derive, groups
from polyequiv.errors import SpecError
from polyequiv.nn import TiedPolynomialLayer
from polyequiv.scheme import scheme_from_dict
from polyequiv.testing import assert_equivariant
from polyequiv_cli.main import cli

#: The eight symmetries of the square as integer matrices acting on (r, c).
SQUARE = [
    np.array(m)
    for m in (
        [[1, 0], [0, 1]],
        [[0, 1], [-1, 0]],
        [[-1, 0], [0, -1]],
        [[0, -1], [1, 0]],
        [[1, 0], [0, -1]],
        [[-1, 0], [0, 1]],
        [[0, 1], [1, 0]],
        [[0, -1], [-1, 0]],
    )
]


def grid_elements(shape: tuple[int, int], dihedral: bool) -> list[tuple[int, ...]]:
    """Every element of the group as an array form on pixels ``p = r·W + c``, distinct ones only."""
    height, width = shape
    rc = np.array([(r, c) for r in range(height) for c in range(width)])
    mats = SQUARE if dihedral else SQUARE[:1]
    out = set()
    for mat in mats:
        for u in itertools.product(range(height), range(width)):
            image = rc @ mat.T + np.array(u)
            out.add(tuple(((image[:, 0] % height) * width + image[:, 1] % width).tolist()))
    return sorted(out)


def burnside(spec: LayerSpec, elements: list[tuple[int, ...]]) -> int:
    """Orbits on (output, monomial) slots: the mean number of slots each element fixes (brute force)."""
    n, d = spec.n, spec.degree
    points = list(range(n)) + ([n] if spec.bias else [])
    monomials = list(itertools.combinations_with_replacement(points, d))
    outputs = range(n) if spec.equivariant else [None]
    total = 0
    for g in elements:
        image = [*g, n]  # the bias input is fixed
        fixed_monomials = sum(1 for m in monomials if sorted(image[i] for i in m) == list(m))
        fixed_outputs = sum(1 for k in outputs if k is None or g[k] == k)
        total += fixed_outputs * fixed_monomials
    count = Fraction(total, len(elements))
    assert count.denominator == 1
    return int(count)


# ----------------------------------------------------------------------------- the group
@pytest.mark.parametrize(
    ("shape", "dihedral"), [((3, 4), False), ((5, 1), False), ((4, 4), True), ((3, 3), True)]
)
def test_generators_generate_exactly_the_written_group(shape: tuple[int, int], dihedral: bool) -> None:
    spec = LayerSpec.on_grid(shape, degree=1, dihedral=dihedral)
    elements = grid_elements(shape, dihedral)
    generated = groups.permutation_group(spec.n, spec.group_generators)
    assert sorted(tuple(g.array_form) for g in generated.generate()) == elements
    assert derive(spec).group_order == len(elements)


def test_translation_moves_pixels_as_the_lecture_writes() -> None:
    """(σ·x)(r, c) = x(r + 1, c) for the row shift, x(r, c + 1) for the column shift."""
    height, width = 3, 4
    x = np.arange(12).reshape(height, width)
    down, right = groups.torus_generators((height, width))
    assert (x.reshape(-1)[list(down)].reshape(height, width) == np.roll(x, -1, axis=0)).all()
    assert (x.reshape(-1)[list(right)].reshape(height, width) == np.roll(x, -1, axis=1)).all()


# ----------------------------------------------------------------------------- spec strings and JSON
@pytest.mark.parametrize(
    "text",
    [
        "T10x10 linear ordered equivariant",
        "T10x1 quadratic ordered invariant +bias",
        "TD8x8 quadratic ordered equivariant",
        "T3x5 cubic full equivariant +symmetric-gauge",
    ],
)
def test_grid_spec_strings_and_json_round_trip(text: str) -> None:
    spec = LayerSpec.parse(text)
    assert str(spec) == text
    data = json.loads(json.dumps(spec.to_dict()))
    assert data["shape"] == list(spec.shape)
    assert LayerSpec.from_dict(data) == spec


def test_old_specs_and_json_are_unchanged() -> None:
    spec = LayerSpec(n=5, degree=2, bias=True)
    assert "shape" not in spec.to_dict()
    assert str(LayerSpec.parse("D8 linear ordered equivariant")) == "D8 linear ordered equivariant"
    assert LayerSpec.parse("C7 linear ordered equivariant").shape is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 12, "degree": 1, "group": "torus"}, "needs a grid shape"),
        ({"n": 12, "degree": 1, "group": "torus", "shape": (3, 5)}, "3x5 has 15 pixels, but n = 12"),
        ({"n": 12, "degree": 1, "group": "torus-dihedral", "shape": (3, 4)}, "square grid"),
        ({"n": 12, "degree": 1, "group": "cyclic", "shape": (3, 4)}, "only given for groups"),
        ({"n": 12, "degree": 1, "group": "torus", "shape": (0, 12)}, "H ≥ 1"),
    ],
)
def test_bad_grids_are_refused_naming_the_value(kwargs: dict, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        LayerSpec(**kwargs)


def test_parse_shape() -> None:
    assert groups.parse_shape("10x10") == (10, 10)
    assert groups.parse_shape("7") == (7, 1)
    with pytest.raises(SpecError, match="'10by10'"):
        groups.parse_shape("10by10")


# ----------------------------------------------------------------------------- derived classes
@pytest.mark.parametrize("engine", ["sparse", pytest.param("symbolic", marks=pytest.mark.slow)])
@pytest.mark.parametrize("shape", [(3, 4), (5, 1), (2, 2)])
def test_linear_equivariant_layer_is_a_circular_convolution(shape: tuple[int, int], engine: str) -> None:
    """One class per offset (t − k) mod the grid: H·W classes, W[k, t] = K[t − k]."""
    height, width = shape
    n = height * width
    result = derive(LayerSpec.on_grid(shape, degree=1), engine=engine)
    assert result.distinct_weights == result.free_parameters == result.function_dim == n
    classes = result.graph.class_of_weight.reshape(n, n)
    offset_class: dict[tuple[int, int], int] = {}
    for k, t in itertools.product(range(n), repeat=2):
        offset = ((t // width - k // width) % height, (t % width - k % width) % width)
        assert offset_class.setdefault(offset, int(classes[k, t])) == classes[k, t]
    assert len(set(offset_class.values())) == n  # distinct offsets, distinct classes


@pytest.mark.parametrize("engine", ["sparse", "symbolic"])
@pytest.mark.parametrize(("shape", "dihedral"), [((3, 4), False), ((4, 4), True)])
def test_linear_invariant_layer_has_one_class(shape: tuple[int, int], dihedral: bool, engine: str) -> None:
    result = derive(LayerSpec.on_grid(shape, degree=1, dihedral=dihedral, mode="invariant"), engine=engine)
    assert (result.distinct_weights, result.free_parameters) == (1, 1)


@pytest.mark.parametrize(
    ("shape", "dihedral", "options"),
    [
        ((3, 4), False, {}),
        ((6, 1), False, {"bias": True}),
        pytest.param((4, 4), False, {}, marks=pytest.mark.slow),
        ((3, 3), True, {}),
        pytest.param((4, 4), True, {"bias": True}, marks=pytest.mark.slow),
        pytest.param((4, 4), True, {"mode": "invariant"}, marks=pytest.mark.slow),
        ((3, 4), False, {"mode": "invariant", "bias": True}),
    ],
)
def test_quadratic_volterra_counts_match_burnside(
    shape: tuple[int, int], dihedral: bool, options: dict
) -> None:
    """Second-order Volterra filters: classes = orbits of the group on (output pixel, monomial)."""
    spec = LayerSpec.on_grid(shape, degree=2, dihedral=dihedral, **options)
    expected = burnside(spec, grid_elements(shape, dihedral))
    result = derive(spec, engine="sparse")
    assert result.distinct_weights == result.free_parameters == result.function_dim == expected
    if spec.n <= 6:  # the symbolic engine too (sympy expansion; larger grids in the linear tests)
        assert derive(spec, engine="symbolic").distinct_weights == expected


def test_translation_quadratic_count_closed_form() -> None:
    """Translations act freely on output pixels: one class per pair {a, b} of offsets, n(n+1)/2."""
    for shape in [(4, 4), (5, 3), (8, 1)]:
        n = shape[0] * shape[1]
        assert derive(LayerSpec.on_grid(shape, degree=2)).distinct_weights == n * (n + 1) // 2


# ----------------------------------------------------------------------------- numeric equivariance
@pytest.mark.parametrize(
    "spec",
    [
        LayerSpec.on_grid((4, 5), degree=2, bias=True),
        LayerSpec.on_grid((4, 4), degree=2, dihedral=True),
        LayerSpec.on_grid((7, 1), degree=2, mode="invariant"),
    ],
    ids=str,
)
def test_dense_tied_grid_layers_are_equivariant_on_random_elements(spec: LayerSpec) -> None:
    torch.manual_seed(0)
    layer = TiedPolynomialLayer(spec, 2, 3, dtype=torch.float64)
    assert_equivariant(layer, spec, elements=30)


def test_grid_scheme_files_round_trip(tmp_path) -> None:
    spec = LayerSpec.on_grid((3, 3), degree=1, dihedral=True)
    scheme = TyingScheme.from_spec(spec)
    path = scheme.save(tmp_path / "grid.json")
    loaded = scheme_from_dict(json.loads(path.read_text()))
    assert loaded.spec == spec and loaded.num_classes == scheme.num_classes


# ----------------------------------------------------------------------------- command line
def test_cli_derives_and_counts_grid_layers() -> None:
    runner = CliRunner()
    args = ["derive", "--group", "torus", "--shape", "4x3", "--degree", "1", "--engine", "sparse"]
    result = runner.invoke(cli, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["spec"]["label"] == "T4x3 linear ordered equivariant" and data["distinct_weights"] == 12
    args = ["count", "--group", "torus-dihedral", "--shape", "3x3,4x4", "--degree", "1", "--engine", "sparse"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "3x3" in result.output and "4x4" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--group", "torus"], "needs --shape"),
        (["--group", "torus", "--shape", "3x3", "-n", "8"], "-n 8 contradicts --shape 3x3"),
        (["--group", "torus", "--shape", "3by3"], "'3by3'"),
        (["--shape", "3x3"], "only applies to --group torus"),
        (["--group", "torus-dihedral", "--shape", "3x4"], "square grid"),
    ],
)
def test_cli_refuses_bad_grids_in_one_line(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["derive", "--degree", "1", *args])
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
