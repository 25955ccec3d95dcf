"""`MatrixLayerSpec`: a polynomial layer under a matrix group (or ``Sₙ × matrix group``), and its generators
as exact integer data for the engines.

The layer is the one of :mod:`polyequiv.spec`: for every output coordinate ``k``,

    y_k(x) = Σ_m W[k, m] x^m,

``m`` running over the monomials of degree ``d`` in the input coordinates (plus
the bias input ``x_b ≡ 1`` with ``bias=True``, which every group element fixes);
``indexing="full"`` gives one weight per ordered index tuple instead.  Input and
output are :class:`polyequiv.matrix_reps.MatrixRepresentation` values.

Equivariance ``f(ρ_in(g) x) = ρ_out(g) f(x)`` is, on the monomial basis,

    W · Sym^d(ρ_in(g)) = ρ_out(g) · W                       (finite generator g)
    W · dSym^d(ρ_in(A)) = dρ_out(A) · W                     (Lie generator A, d/dt at t = 0)

with ``Sym^d(g)[m, m']`` the coefficient of ``x^{m'}`` in ``Π_{i∈m} (g x)_i`` and
``dSym^d(A)`` its derivative.  :meth:`MatrixLayerSpec.generator_actions` hands
each generator to the engines as integer matrices on the input variables and
on the outputs.

String form (round-trips; the group comes first, the representations always as ``IN -> OUT``)::

    >>> spec = MatrixLayerSpec("O(3)", degree=3, input="2*1 + 2*V", output="V2")
    >>> str(spec)
    'O(3) cubic ordered 2*1 + 2*V -> V2'
    >>> MatrixLayerSpec.parse("S(5) x O(3) cubic ordered V⊗1 + V⊗V -> 1⊗V2").num_inputs
    20
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from polyequiv.errors import SpecError
from polyequiv.matrix_groups import MatrixGroup, integer_matrix
from polyequiv.matrix_reps import MatrixRepresentation
from polyequiv.product_groups import ProductGroup, parse_group
from polyequiv.spec import (
    _DEGREE_NAMES,
    GAUGES,
    INDEXINGS,
    _check_choice,
    _check_int,
    _take_representations,
    flag_tokens,
    read_flags,
)

if TYPE_CHECKING:
    import scipy.sparse as sparse


@dataclass(frozen=True)
class GeneratorAction:
    """One generator as exact integer data: ``ρ_in = inputs / input_scale`` on the input variables (bias
    last, fixed) and ``ρ_out = outputs / output_scale``; for ``kind="lie"`` the matrices are ``dρ`` of an
    integer multiple of the Lie generator (the equations are homogeneous in it) and the scales are 1."""

    name: str
    kind: str
    inputs: sparse.csr_matrix
    outputs: sparse.csr_matrix
    input_scale: int = 1
    output_scale: int = 1


@dataclass(frozen=True)
class MatrixLayerSpec:
    """A polynomial layer and the matrix group it must respect (see the module docstring).

    Parameters
    ----------
    group : ProductGroup or str
        ``"O(3)"``, ``"SO(1,3)"``, ``"B(4)"``, ``"S(5) x O(3)"``, ... (:func:`parse_group`).
    degree : int
    input, output : MatrixRepresentation or str
        ``"2*1 + 2*V"``, ``"V2"``, ``"1"`` (invariant); for a product ``"V⊗1 + V⊗V"``.
    indexing : {"ordered", "full"}
    bias : bool
    gauge : {"none", "symmetric"}
        Full indexing only: tie ``W^k_t`` to its sorted-index twin.
    """

    group: ProductGroup
    degree: int
    input: MatrixRepresentation
    output: MatrixRepresentation
    indexing: str = "ordered"
    bias: bool = False
    gauge: str = "none"

    def __post_init__(self) -> None:
        group = self.group if isinstance(self.group, ProductGroup) else parse_group(self.group)
        object.__setattr__(self, "group", group)
        _check_int("degree", self.degree, minimum=0)
        _check_choice("indexing", self.indexing, INDEXINGS)
        _check_choice("gauge", self.gauge, GAUGES)
        if not isinstance(self.bias, bool):
            raise SpecError(f"bias must be True or False, got {self.bias!r}")
        if self.gauge == "symmetric" and self.indexing != "full":
            raise SpecError("--gauge symmetric only applies to full indexing")
        for name in ("input", "output"):
            rep = MatrixRepresentation.parse(getattr(self, name), on_points=group.has_points)
            rep.check(group.n)
            object.__setattr__(self, name, rep)

    # ------------------------------------------------------------------ sizes
    @property
    def n(self) -> int:
        """Points permuted by the permutation factor (1 without one)."""
        return self.group.n

    @property
    def dim(self) -> int:
        """Dimension ``d`` of the matrix group's defining space."""
        return self.group.matrix.dim

    @property
    def num_coordinates(self) -> int:
        return self.input.size(self.n, self.dim)

    @property
    def num_inputs(self) -> int:
        return self.num_coordinates + int(self.bias)

    @property
    def num_outputs(self) -> int:
        return self.output.size(self.n, self.dim)

    @property
    def equivariant(self) -> bool:
        """False exactly for the output ``1`` (an invariant)."""
        return not self.output.is_trivial

    @property
    def mode(self) -> str:
        return "equivariant" if self.equivariant else "invariant"

    is_set_layer = False
    shape = None

    def input_labels(self) -> list[str]:
        return self.input.coordinate_labels(self.n, self.group.matrix.axis_names)

    def output_labels(self) -> list[str]:
        return self.output.coordinate_labels(self.n, self.group.matrix.axis_names)

    # ------------------------------------------------------------------ names
    @property
    def degree_name(self) -> str:
        return _DEGREE_NAMES.get(self.degree, f"degree-{self.degree}")

    @property
    def group_label(self) -> str:
        return self.group.label

    def __str__(self) -> str:
        parts = [self.group.label, self.degree_name, self.indexing, f"{self.input} -> {self.output}"]
        return " ".join(parts + flag_tokens(self.bias, self.gauge))

    @classmethod
    def parse(cls, text: str, matrix: MatrixGroup | None = None) -> MatrixLayerSpec:
        """Inverse of ``str``: ``"O(3) cubic ordered 2*1 + 2*V -> V2 +bias"``."""
        if not isinstance(text, str):
            raise SpecError(f"cannot parse layer spec {text!r}")
        tokens = text.split()
        position = next((i for i, t in enumerate(tokens) if _degree_of(t) is not None), None)
        if not position:
            raise SpecError(f"cannot parse layer spec {text!r}; expected e.g. 'O(3) cubic ordered V -> V'")
        group = parse_group(" ".join(tokens[:position]), matrix)
        kwargs: dict[str, Any] = {"group": group, "degree": _degree_of(tokens[position])}
        rest = _take_representations(
            tokens[position + 1 :],
            kwargs,
            text,
            parse=lambda side: MatrixRepresentation.parse(side, on_points=group.has_points),
        )
        if "input" not in kwargs:
            raise SpecError(f"layer spec {text!r} needs its representations as 'IN -> OUT'")
        read_flags(rest, kwargs, text, modes=())
        return cls(**kwargs)

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        """Fields as JSON, plus the round-tripping string under ``"label"``."""
        return {
            "group": self.group.label,
            "degree": self.degree,
            "indexing": self.indexing,
            "bias": self.bias,
            "gauge": self.gauge,
            "input": str(self.input),
            "output": str(self.output),
            "label": str(self),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MatrixLayerSpec:
        """Inverse of :meth:`to_dict`; unknown or missing fields raise :class:`SpecError`."""
        if not isinstance(data, dict):
            raise SpecError(f"a layer spec must be a JSON object, got {type(data).__name__}")
        known = {"group", "degree", "indexing", "bias", "gauge", "input", "output"}
        unknown = set(data) - known - {"label"}
        if unknown:
            raise SpecError(f"unknown layer spec fields: {sorted(unknown)}")
        missing = {"group", "degree", "input", "output"} - set(data)
        if missing:
            raise SpecError(f"layer spec is missing fields: {sorted(missing)}")
        spec = cls(**{k: v for k, v in data.items() if k in known})
        if "label" in data and data["label"] != str(spec):
            raise SpecError(f"layer spec label {data['label']!r} does not match its fields ({spec})")
        return spec

    # ------------------------------------------------------------------ the group as data
    @cached_property
    def generator_actions(self) -> tuple[GeneratorAction, ...]:
        """Every generator's action on the inputs (bias last) and the outputs, exact integers."""
        n, actions = self.n, []
        for number, sigma in enumerate(self.group.permutation_generators, start=1):
            sigma = np.asarray(sigma, dtype=np.int64)
            actions.append(
                GeneratorAction(
                    f"σ{number}",
                    "finite",
                    self._with_bias(self.input.permutation_action(sigma, n, self.dim), 1),
                    self.output.permutation_action(sigma, n, self.dim),
                )
            )
        for number, generator in enumerate(self.group.matrix.finite, start=1):
            matrix, scale = integer_matrix(generator)
            inputs, input_scale = self.input.finite_action(matrix, scale, n)
            outputs, output_scale = self.output.finite_action(matrix, scale, n)
            actions.append(
                GeneratorAction(
                    f"g{number}",
                    "finite",
                    self._with_bias(inputs, input_scale),
                    outputs,
                    input_scale,
                    output_scale,
                )
            )
        for number, generator in enumerate(self.group.matrix.lie, start=1):
            matrix, _ = integer_matrix(generator)
            actions.append(
                GeneratorAction(
                    f"A{number}",
                    "lie",
                    self._with_bias(self.input.lie_action(matrix, n), 0),
                    self.output.lie_action(matrix, n),
                )
            )
        return tuple(actions)

    def _with_bias(self, matrix: sparse.csr_matrix, value: int) -> sparse.csr_matrix:
        """Append the bias variable, mapped to ``value`` times itself (the scale, or 0 for ``dρ``)."""
        import scipy.sparse as sparse

        if not self.bias:
            return sparse.csr_matrix(matrix, dtype=np.int64)
        corner = sparse.csr_matrix(np.array([[value]], dtype=np.int64))
        return sparse.block_diag([matrix, corner], format="csr", dtype=np.int64)


def _degree_of(token: str) -> int | None:
    names = {v: k for k, v in _DEGREE_NAMES.items()}
    if token in names:
        return names[token]
    if re.fullmatch(r"degree-\d+", token):
        return int(token.split("-")[1])
    return None
