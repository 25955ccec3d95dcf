"""The Python API refuses bad arguments and inputs with a ValueError naming the problem, raised by polyequiv.

Each row is (what, a call, a piece of the message).  The error must be a
``ValueError`` (``SpecError``, ``SchemeFileError`` and ``SizeLimitError`` are
subclasses) raised from polyequiv's own code, not from deep inside torch, numpy
or sympy.  Empty batches are not errors: they give empty outputs of the right shape.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from polyequiv import LayerSpec, MatrixLayerSpec, TyingScheme, derive, load_scheme, verify
from polyequiv.discovery import discover
from polyequiv.matrix_groups import custom_matrix_group
from polyequiv.nn import (
    InvariantPolyReadout,
    PointCloudPolyLayer,
    SetPolyLayer,
    TensorPolyLayer,
    TiedPolynomialLayer,
)

SPEC = LayerSpec(n=4, degree=2)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("api-files")
    paths = {name: root / f"{name}.json" for name in ("good", "empty", "list", "huge", "binary", "blank")}
    TyingScheme.from_derivation(derive(SPEC)).save(paths["good"])
    paths["empty"].write_text("")
    paths["blank"].write_text("  \n")
    paths["list"].write_text("[]")
    paths["binary"].write_bytes(b"\xff\xfe\x00")
    with open(paths["huge"], "wb") as stream:
        stream.truncate(1_100_000_000)  # sparse: larger than any scheme, no disk used
    paths["folder"] = root
    paths["absent"] = root / "absent.json"
    return paths


@pytest.fixture(scope="module")
def layers() -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    return {
        "tied": TiedPolynomialLayer(SPEC, 2, 3),
        "set": SetPolyLayer(2, 2, 3),
        "readout": InvariantPolyReadout(2, 2, 1),
        "tensor": TensorPolyLayer("E", "V", 1, 2, 3),
        "cloud": PointCloudPolyLayer("S(5) x O(3) cubic ordered V⊗1 + V⊗V -> 1⊗V2"),
    }


def _with(value: float) -> torch.Tensor:
    x = torch.randn(2, 4, 2)
    x[1, 2, 0] = value
    return x


def _edges(*shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    x = torch.rand(*shape, dtype=dtype)
    return (x + x.transpose(1, 2)) / 2


CONSTRUCTION = [
    ("LayerSpec n=0", lambda: LayerSpec(n=0, degree=1), "n must be ≥ 1, got 0"),
    ("LayerSpec n float", lambda: LayerSpec(n=2.5, degree=1), "n must be an integer, got 2.5"),
    ("LayerSpec n text", lambda: LayerSpec(n="5", degree=1), "n must be an integer, got '5'"),
    ("LayerSpec n bool", lambda: LayerSpec(n=True, degree=1), "n must be an integer, got True"),
    ("LayerSpec degree", lambda: LayerSpec(n=3, degree=-1), "degree must be ≥ 0, got -1"),
    ("LayerSpec bias", lambda: LayerSpec(n=3, degree=1, bias="yes"), "bias must be True or False"),
    ("LayerSpec indexing", lambda: LayerSpec(n=3, degree=1, indexing="x"), "unknown indexing 'x'"),
    ("LayerSpec group", lambda: LayerSpec(n=3, degree=1, group="x"), "unknown group 'x'"),
    ("LayerSpec generators", lambda: LayerSpec(n=3, degree=1, group="custom", generators=((0, 1, 1),)),
     "is not a permutation of 0..2"),
    ("LayerSpec generators size", lambda: LayerSpec(n=3, degree=1, group="custom", generators=((1, 0),)),
     "is not a permutation of 0..2"),
    ("LayerSpec input", lambda: LayerSpec(n=3, degree=1, input=3), "cannot parse representation 3"),
    ("LayerSpec input E n=1", lambda: LayerSpec(n=1, degree=1, input="E"), "needs n ≥ 2"),
    ("LayerSpec mode/output", lambda: LayerSpec(n=3, degree=1, mode="invariant", output="V"),
     "contradicts output 'V'"),
    ("LayerSpec gauge", lambda: LayerSpec(n=3, degree=2, gauge="symmetric"), "only applies to full indexing"),
    ("LayerSpec.parse type", lambda: LayerSpec.parse(5), "needs a string"),
    ("LayerSpec.parse text", lambda: LayerSpec.parse("X5 quadratic"), "cannot parse layer spec"),
    ("LayerSpec.from_dict", lambda: LayerSpec.from_dict({"n": 3}), "missing fields: ['degree']"),
    ("LayerSpec.from_dict type", lambda: LayerSpec.from_dict([1]), "must be a JSON object"),
    ("derive text", lambda: derive("S5 quadratic ordered equivariant"), "derive needs a LayerSpec, got str"),
    ("derive engine", lambda: derive(SPEC, engine="fast"), "unknown engine 'fast'"),
    ("derive huge", lambda: derive(LayerSpec(n=100_000, degree=3)), "16,667,166,670,000,000,000 weights"),
    ("Tied spec type", lambda: TiedPolynomialLayer("S4 quadratic ordered equivariant"),
     "must be a LayerSpec or a TyingScheme"),
    ("Tied channels 0", lambda: TiedPolynomialLayer(SPEC, 0, 1), "in_channels must be ≥ 1, got 0"),
    ("Tied channels float", lambda: TiedPolynomialLayer(SPEC, 2.5, 1), "in_channels must be an integer"),
    ("Tied channels text", lambda: TiedPolynomialLayer(SPEC, 1, "2"), "out_channels must be an integer"),
    ("Tied dtype", lambda: TiedPolynomialLayer(SPEC, dtype=torch.int64), "floating-point torch.dtype"),
    ("Tied full channels", lambda: TiedPolynomialLayer(LayerSpec(n=3, degree=2, indexing="full"), 2, 1),
     "takes one channel"),
    ("Tied too large", lambda: TiedPolynomialLayer(LayerSpec(n=200, degree=3)), "270,680,000 weights"),
    ("Set degree", lambda: SetPolyLayer(-1, 1, 1), "degree must be in 0..8, got -1"),
    ("Set degree float", lambda: SetPolyLayer(2.5, 1, 1), "degree must be an integer"),
    ("Set degree huge", lambda: SetPolyLayer(40, 1, 1), "degree must be in 0..8, got 40"),
    ("Set channels", lambda: SetPolyLayer(2, 0, 1), "in_channels must be ≥ 1"),
    ("Set channels float", lambda: SetPolyLayer(2, 1, 1.5), "out_channels must be an integer"),
    ("Set mode", lambda: SetPolyLayer(2, 1, 1, mode="x"), "unknown mode 'x'"),
    ("Set pooling", lambda: SetPolyLayer(2, 1, 1, pooling="max"), "pooling must be one of"),
    ("Set dtype", lambda: SetPolyLayer(2, 1, 1, dtype=torch.int32), "floating-point torch.dtype"),
    ("Readout channels", lambda: InvariantPolyReadout(1, 0, 1), "in_channels must be ≥ 1"),
    ("Readout pooling", lambda: InvariantPolyReadout(1, 1, 1, pooling="max"), "pooling must be one of"),
    ("Tensor rep", lambda: TensorPolyLayer("Q", "V", 1), "unknown representation term 'Q'"),
    ("Tensor degree", lambda: TensorPolyLayer("E", "V", -1), "degree must be ≥ 0, got -1"),
    ("Tensor degree float", lambda: TensorPolyLayer("E", "V", 1.5), "degree must be an integer"),
    ("Tensor degree huge", lambda: TensorPolyLayer("E", "E", 9), "Bell(20)"),
    ("Tensor channels", lambda: TensorPolyLayer("E", "V", 1, 0, 1), "in_channels must be ≥ 1"),
    ("Tensor bias", lambda: TensorPolyLayer("E", "V", 1, bias="no"), "bias must be True or False"),
    ("Matrix group", lambda: MatrixLayerSpec("O(x)", 1, "V", "V"), "unknown matrix group 'O(x)'"),
    ("Matrix group type", lambda: MatrixLayerSpec(3, 1, "V", "V"), "cannot parse group 3"),
    ("Matrix degree", lambda: MatrixLayerSpec("O(3)", -1, "V", "V"), "degree must be ≥ 0, got -1"),
    ("Matrix bias", lambda: MatrixLayerSpec("O(3)", 1, "V", "V", bias="no"), "bias must be True or False"),
    ("Matrix rep", lambda: MatrixLayerSpec("O(3)", 1, "E", "V"), "pairs of points"),
    ("Matrix rep type", lambda: MatrixLayerSpec("O(3)", 1, 5, "V"), "cannot parse representation 5"),
    ("Matrix points", lambda: MatrixLayerSpec("S(1) x O(3)", 1, "E⊗1", "V"), "needs n ≥ 2"),
    ("Matrix gauge", lambda: MatrixLayerSpec("O(3)", 2, "V", "V", gauge="symmetric"), "only applies to full"),
    ("Matrix parse", lambda: MatrixLayerSpec.parse("O(3) cubic ordered"), "needs its representations"),
    ("Matrix parse token", lambda: MatrixLayerSpec.parse("O(3) cubic V -> V +bias sorted"),
     "unknown token 'sorted'"),
    ("Matrix from_dict", lambda: MatrixLayerSpec.from_dict({"group": "O(3)"}), "missing fields"),
    ("Matrix custom singular", lambda: custom_matrix_group([[[1, 1], [1, 1]]], []), "is singular"),
    ("Matrix derive huge", lambda: derive(MatrixLayerSpec("O(6)", 4, "3*V2", "V2")), "215,604,180 weights"),
    ("Matrix symbolic huge", lambda: derive(MatrixLayerSpec("O(3)", 4, "4*V", "V"), engine="symbolic"),
     "--engine sparse"),
    ("Matrix verify elements", lambda: verify(derive(MatrixLayerSpec("O(2)", 1, "V", "V")), elements=0),
     "elements must be an integer ≥ 1"),
    ("Matrix tied channels", lambda: TiedPolynomialLayer(MatrixLayerSpec("O(2)", 1, "V", "V"), 2, 1),
     "takes one channel"),
    ("discover constant", lambda: discover(np.full((4, 4), 2.0)), "the weights are constant (all 2)"),
    ("discover NaN", lambda: discover(np.where(np.eye(3) > 0, np.nan, 1.0)), "3 NaN or infinite value(s)"),
    ("discover inf", lambda: discover(np.full((3, 3), -np.inf)), "9 NaN or infinite value(s) out of 9"),
    ("discover scalar", lambda: discover(np.float64(1.0)), "shape () fits no candidate group"),
    ("discover non-square", lambda: discover(np.ones((3, 4))), "shape (3, 4) fits no candidate group"),
    ("discover rank", lambda: discover(np.ones((3, 3, 3, 2)), degree=2), "shape (3, 3, 3, 2) fits no"),
    ("discover E rank", lambda: discover(np.ones((4, 4)), input="E"), "shape (4, 4) fits no candidate"),
    ("discover degree", lambda: discover(np.ones((3, 3)), degree=3), "got degree 3"),
    ("Cloud spec type", lambda: PointCloudPolyLayer(5), "must be a MatrixLayerSpec or its string, got int"),
    ("Cloud SO(3)", lambda: PointCloudPolyLayer("SO(3) quadratic ordered 2*V -> V"), "SO(3) is not one of"),
    ("Cloud dtype", lambda: PointCloudPolyLayer("O(3) linear ordered V -> V", dtype=torch.int64),
     "floating-point torch.dtype"),
    ("Cloud huge", lambda: PointCloudPolyLayer("O(3) degree-14 ordered 2*V -> 1"), "diagrams enumerated"),
]

FILES = [
    ("load_scheme absent", "absent", "No such file"),
    ("load_scheme folder", "folder", "Is a directory"),
    ("load_scheme empty", "empty", "is empty"),
    ("load_scheme blank", "blank", "is empty"),
    ("load_scheme list", "list", "the top level must be a JSON object"),
    ("load_scheme binary", "binary", "can't decode"),
    ("load_scheme huge", "huge", "more than any scheme"),
]

# (what, layer, input builder, keyword arguments, message)
FORWARD = [
    ("Tied wrong n", "tied", lambda: torch.randn(2, 5, 2), {}, "expected input of shape (batch, 4, 2)"),
    ("Tied wrong channels", "tied", lambda: torch.randn(2, 4, 1), {}, "input of shape (batch, 4, 2)"),
    ("Tied 2-d", "tied", lambda: torch.randn(4, 2), {}, "expected input of shape"),
    ("Tied numpy", "tied", lambda: torch.randn(2, 4, 2).numpy(), {}, "must be a torch.Tensor, got ndarray"),
    ("Tied list", "tied", lambda: [[1.0]], {}, "must be a torch.Tensor, got list"),
    ("Tied float64", "tied", lambda: torch.randn(2, 4, 2, dtype=torch.float64), {}, "dtype torch.float64"),
    ("Tied int", "tied", lambda: torch.ones(2, 4, 2, dtype=torch.int64), {}, "must be a floating-point"),
    ("Tied NaN", "tied", lambda: _with(float("nan")), {}, "1 NaN or infinite value(s) out of 16"),
    ("Tied inf", "tied", lambda: _with(float("inf")), {}, "1 NaN or infinite value(s) out of 16"),
    ("Set wrong channels", "set", lambda: torch.randn(2, 4, 1), {}, "expected input of shape (batch, n, 2)"),
    ("Set numpy", "set", lambda: torch.randn(2, 4, 2).numpy(), {}, "must be a torch.Tensor"),
    ("Set float64", "set", lambda: torch.randn(2, 4, 2, dtype=torch.float64), {}, "dtype torch.float64"),
    ("Set int", "set", lambda: torch.ones(2, 4, 2, dtype=torch.int64), {}, "must be a floating-point"),
    ("Set NaN", "set", lambda: _with(float("nan")), {}, "NaN or infinite"),
    ("Set -inf", "set", lambda: _with(float("-inf")), {}, "NaN or infinite"),
    ("Set mask shape", "set", lambda: torch.randn(2, 4, 2), {"mask": torch.ones(2, 5, dtype=torch.bool)},
     "mask must have shape (2, 4), got (2, 5)"),
    ("Set mask list", "set", lambda: torch.randn(2, 4, 2), {"mask": [[1] * 4] * 2}, "mask must be a torch"),
    ("Set mask values", "set", lambda: torch.randn(2, 4, 2), {"mask": torch.full((2, 4), 0.5)},
     "mask must be boolean"),
    ("Readout channels", "readout", lambda: torch.randn(2, 4, 5), {}, "input of shape (batch, n, 2)"),
    ("Readout NaN", "readout", lambda: _with(float("nan")), {}, "NaN or infinite"),
    ("Tensor channels", "tensor", lambda: _edges(2, 4, 4, 1), {}, "expects shape (batch, n, n, 2)"),
    ("Tensor not square", "tensor", lambda: torch.zeros(2, 4, 3, 2), {}, "must be square"),
    ("Tensor asymmetric", "tensor", lambda: torch.rand(2, 4, 4, 2) + torch.eye(4)[None, :, :, None].cumsum(1),
     {}, "must be symmetric"),
    ("Tensor NaN", "tensor", lambda: torch.full((2, 4, 4, 2), float("nan")), {}, "64 NaN or infinite"),
    ("Tensor float64", "tensor", lambda: _edges(2, 4, 4, 2, dtype=torch.float64), {}, "dtype torch.float64"),
    ("Tensor int", "tensor", lambda: torch.zeros(2, 4, 4, 2, dtype=torch.int64), {}, "a floating-point"),
    ("Tensor numpy", "tensor", lambda: torch.zeros(2, 4, 4, 2).numpy(), {}, "must be a torch.Tensor"),
    ("Tensor two inputs", "tensor", lambda: (_edges(2, 4, 4, 2), _edges(2, 4, 4, 2)), {}, "takes 1 input"),
    ("Tensor mask", "tensor", lambda: _edges(2, 4, 4, 2), {"mask": torch.ones(2, 3, dtype=torch.bool)},
     "mask must have shape (2, 4), got (2, 3)"),
    ("Cloud coordinates", "cloud", lambda: torch.randn(2, 21, 1), {}, "21 input coordinates are not 0 + 4·n"),
    ("Cloud 2-d", "cloud", lambda: torch.randn(2, 20), {}, "expected input of shape (batch, coordinates, 1)"),
    ("Cloud NaN", "cloud", lambda: torch.full((2, 20, 1), float("nan")), {}, "40 NaN or infinite"),
    ("Cloud float64", "cloud", lambda: torch.randn(2, 20, 1, dtype=torch.float64), {}, "dtype torch.float64"),
    ("Cloud numpy", "cloud", lambda: torch.randn(2, 20, 1).numpy(), {}, "must be a torch.Tensor"),
    ("Cloud mask", "cloud", lambda: torch.randn(2, 20, 1), {"mask": torch.ones(2, 4, dtype=torch.bool)},
     "mask has 4 points but the input holds 5"),
]


def assert_refused_by_polyequiv(call: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        call()
    assert message in str(caught.value)
    origin = Path(traceback.extract_tb(caught.value.__traceback__)[-1].filename).parts
    assert not {"torch", "numpy", "sympy", "scipy"} & set(origin), f"raised in {'/'.join(origin)}"


@pytest.mark.parametrize(("what", "call", "message"), CONSTRUCTION, ids=[c[0] for c in CONSTRUCTION])
def test_bad_arguments_are_refused_with_a_value_error(what: str, call: Callable, message: str) -> None:
    assert_refused_by_polyequiv(call, message)


@pytest.mark.parametrize(("what", "name", "message"), FILES, ids=[c[0] for c in FILES])
def test_bad_scheme_files_are_refused(what: str, name: str, message: str, files: dict[str, Path]) -> None:
    assert_refused_by_polyequiv(lambda: load_scheme(files[name]), message)
    assert_refused_by_polyequiv(lambda: load_scheme(5), "needs a file path, got int")


@pytest.mark.parametrize(("what", "layer", "make", "kwargs", "message"), FORWARD, ids=[c[0] for c in FORWARD])
def test_bad_inputs_are_refused_before_torch_sees_them(
    what: str, layer: str, make: Callable, kwargs: dict, message: str, layers: dict
) -> None:
    inputs = make()
    arguments = inputs if isinstance(inputs, tuple) else (inputs,)
    assert_refused_by_polyequiv(lambda: layers[layer](*arguments, **kwargs), message)


def test_a_scheme_fixes_n_and_channels(files: dict[str, Path]) -> None:
    layer = TiedPolynomialLayer(load_scheme(files["good"]))
    assert layer(torch.randn(3, 4, 1)).shape == (3, 4, 1)
    assert_refused_by_polyequiv(lambda: layer(torch.randn(3, 5, 1)), "(batch, 4, 1) for S4 quadratic")
    assert_refused_by_polyequiv(lambda: layer(torch.randn(3, 4, 2)), "(batch, 4, 1) for S4 quadratic")


def test_empty_batches_give_empty_outputs(layers: dict) -> None:
    assert layers["tied"](torch.randn(0, 4, 2)).shape == (0, 4, 3)
    assert layers["set"](torch.randn(0, 4, 2)).shape == (0, 4, 3)
    assert layers["set"](torch.randn(2, 0, 2)).shape == (2, 0, 3)  # empty sets: power sums are 0
    assert layers["readout"](torch.randn(0, 4, 2)).shape == (0, 1)
    assert layers["tensor"](torch.zeros(0, 4, 4, 2)).shape == (0, 4, 3)
    assert layers["cloud"](torch.randn(0, 20, 1)).shape == (0, 9, 1)
    empty_sets = layers["readout"](torch.randn(2, 0, 2))
    full = layers["readout"](torch.zeros(2, 3, 2))  # the bias terms alone: zeros in, constant out
    torch.testing.assert_close(empty_sets, full)
