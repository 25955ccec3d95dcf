"""`LayerSpec`: the frozen description of a polynomial layer and of its symmetry group.

A layer of degree ``d`` on a set of ``n`` elements computes, for each output
``k`` (equivariant mode) or once (invariant mode),

    y_k = Σ_t W^k_t · x_{t₁} x_{t₂} ⋯ x_{t_d}

where the index tuple ``t`` runs over

* ``indexing="ordered"``: sorted tuples t₁ ≤ t₂ ≤ … ≤ t_d, one weight per
  monomial (the seed paper's §2.5), or
* ``indexing="full"``: every ordered tuple, so that ``W^k_{ij}`` and
  ``W^k_{ji}`` both multiply ``x_i x_j`` (the seed's §2.4, redundant).

With ``bias=True`` the input is homogenised with one extra input
``x_b ≡ 1`` (index ``n``, printed ``b``) that every permutation fixes (the
seed's §2.2), so a degree-``d`` layer holds every monomial of degree ≤ ``d``.

The string form round-trips and is the key used in JSON and caches::

    >>> spec = LayerSpec(n=5, degree=2, bias=True)
    >>> str(spec)
    'S5 quadratic ordered equivariant +bias'
    >>> LayerSpec.parse(str(spec)) == spec
    True
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from polyequiv import groups
from polyequiv.errors import SpecError
from polyequiv.reps import SET, TRIVIAL, Representation

INDEXINGS = ("ordered", "full")
MODES = ("equivariant", "invariant")
GAUGES = ("none", "symmetric")

_DEGREE_NAMES = {0: "constant", 1: "linear", 2: "quadratic", 3: "cubic", 4: "quartic", 5: "quintic"}
_GROUP_LETTERS = {
    "symmetric": "S",
    "cyclic": "C",
    "dihedral": "D",
    "custom": "G",
    "torus": "T",
    "torus-dihedral": "TD",
}


@dataclass(frozen=True)
class LayerSpec:
    """A polynomial layer and the permutation group it must respect.

    Parameters
    ----------
    n : int
        Number of set elements (inputs), ``n ≥ 1``.
    degree : int
        Polynomial degree ``d ≥ 0``.
    indexing : {"ordered", "full"}
        One weight per monomial, or one per ordered index tuple.
    bias : bool
        Homogenise with ``x_b ≡ 1`` (all monomials of degree ≤ d).
    mode : {"equivariant", "invariant"}
        Output in Rⁿ permuted with the input, or a scalar.
    group : {"symmetric", "cyclic", "dihedral", "custom", "torus", "torus-dihedral"}
        The group acting on the ``n`` elements.  ``"torus"``: the translations of an
        H×W grid, cyclic in each axis (pixels numbered row-major, ``p = r·W + c``,
        ``n = H·W``; see :func:`groups.torus_generators`); ``"torus-dihedral"``: those
        and the eight symmetries of the square (``H == W``).
    transpositions : {"adjacent", "all", "minimal"}
        Generating set of Sₙ (only for ``group="symmetric"``).  The classes and
        counts do not depend on it; the list of equations does.
    generators : tuple of array-form permutations
        The generators of a ``custom`` group (see :func:`groups.parse_generators`).
    gauge : {"none", "symmetric"}
        ``"symmetric"`` (full indexing only) ties ``W^k_t`` to its sorted-index
        twin, removing the directions that no data can see.
    input : Representation or str
        What the layer reads (:mod:`polyequiv.reps`): ``"V"`` (a set, the default),
        ``"E"`` (an undirected graph), ``"V2"``, ``"V + E"``, ...  The layer's
        variables are its coordinates (plus the bias input).
    output : Representation or str, optional
        What the layer writes.  Left out, it follows ``mode``: ``"V"`` when
        equivariant, ``"1"`` when invariant.  Given, it decides ``mode``
        (``"invariant"`` exactly when the output is ``"1"``); ``mode="invariant"``
        with any other output is a contradiction (:class:`SpecError`).
    shape : (H, W), optional
        The grid of a ``torus`` / ``torus-dihedral`` group (required there, refused
        elsewhere); ``H·W`` must equal ``n``.  A 1D signal of length H is ``(H, 1)``.

    Examples
    --------
    >>> spec = LayerSpec.on_grid((10, 10), degree=1)
    >>> str(spec), spec.n
    ('T10x10 linear ordered equivariant', 100)
    >>> LayerSpec.parse("TD8x8 quadratic ordered invariant").group
    'torus-dihedral'
    """

    n: int
    degree: int
    indexing: str = "ordered"
    bias: bool = False
    mode: str = "equivariant"
    group: str = "symmetric"
    transpositions: str = "adjacent"
    generators: tuple[tuple[int, ...], ...] = field(default=())
    gauge: str = "none"
    input: Representation = SET
    output: Representation | None = None
    shape: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        self._set_representations()
        _check_int("degree", self.degree, minimum=0)
        _check_choice("indexing", self.indexing, INDEXINGS)
        _check_choice("group", self.group, groups.GROUP_KINDS)
        _check_choice("gauge", self.gauge, GAUGES)
        _check_choice("transpositions", self.transpositions, groups.TRANSPOSITION_SETS)
        if not isinstance(self.bias, bool):
            raise SpecError(f"bias must be True or False, got {self.bias!r}")
        if self.gauge == "symmetric" and self.indexing != "full":
            raise SpecError(
                "--gauge symmetric only applies to full indexing: ordered indexing has one weight "
                "per monomial and no gauge freedom"
            )
        if self.group == "custom":
            if not self.generators:
                raise SpecError("a custom group needs generators, e.g. '(0 1)(2 3),(0 2 4)'")
            for number, gen in enumerate(self.generators, start=1):
                if sorted(gen) != list(range(self.n)):
                    raise SpecError(
                        f"generator {number} {tuple(gen)} is not a permutation of 0..{self.n - 1}"
                    )
            object.__setattr__(self, "generators", tuple(groups.canonical_generators(self.generators)))
        elif self.generators:
            raise SpecError(f"generators are only given for group='custom', not {self.group!r}")
        if self.group != "symmetric" and self.transpositions != "adjacent":
            raise SpecError("the transposition set only applies to the symmetric group")
        self._check_grid()

    def _check_grid(self) -> None:
        """A grid group needs a shape of ``n`` pixels (square for ``torus-dihedral``); others take none."""
        if self.group not in groups.GRID_KINDS:
            if self.shape is not None:
                raise SpecError(
                    f"a grid shape is only given for groups {', '.join(groups.GRID_KINDS)}, "
                    f"not {self.group!r}"
                )
            return
        if self.shape is None:
            raise SpecError(f"group {self.group!r} needs a grid shape, e.g. shape=(10, 10)")
        height, width = groups.check_shape(tuple(self.shape) if isinstance(self.shape, list) else self.shape)
        if height * width != self.n:
            raise SpecError(f"grid shape {height}x{width} has {height * width} pixels, but n = {self.n}")
        if self.group == "torus-dihedral" and height != width:
            raise SpecError(
                f"torus-dihedral needs a square grid (H == W), got shape {height}x{width}; "
                "use group 'torus' for translations only"
            )
        object.__setattr__(self, "shape", (height, width))

    @classmethod
    def on_grid(
        cls, shape: tuple[int, int], degree: int, *, dihedral: bool = False, **options: Any
    ) -> LayerSpec:
        """The layer on the pixels of an H×W torus: ``n = H·W``, group ``torus`` (or ``torus-dihedral``).

        >>> LayerSpec.on_grid((5, 1), degree=2, mode="invariant").group_label
        'T5x1'
        """
        shape = groups.check_shape(tuple(shape))
        group = "torus-dihedral" if dihedral else "torus"
        return cls(n=shape[0] * shape[1], degree=degree, group=group, shape=shape, **options)

    def _set_representations(self) -> None:
        """Parse ``input``/``output`` and make ``mode`` and ``output`` agree (see the class docstring)."""
        _check_int("n", self.n, minimum=1)
        _check_choice("mode", self.mode, MODES)
        rep_in = Representation.parse(self.input)
        if self.output is None:
            rep_out = SET if self.mode == "equivariant" else TRIVIAL
        else:
            rep_out = Representation.parse(self.output)
            if self.mode == "invariant" and not rep_out.is_trivial:
                raise SpecError(
                    f"mode 'invariant' means output '1', which contradicts output {str(rep_out)!r}"
                )
        rep_in.check(self.n)
        rep_out.check(self.n)
        object.__setattr__(self, "input", rep_in)
        object.__setattr__(self, "output", rep_out)
        object.__setattr__(self, "mode", "invariant" if rep_out.is_trivial else "equivariant")

    # ------------------------------------------------------------------ derived sizes
    @property
    def is_set_layer(self) -> bool:
        """True for today's layers: input ``V``, output ``V`` or ``1``."""
        return self.input.is_set and (self.output.is_set or self.output.is_trivial)

    @property
    def num_coordinates(self) -> int:
        """Input coordinates without the bias: ``n`` for a set, ``n(n−1)/2`` for ``E``, ..."""
        return self.input.size(self.n)

    @property
    def num_inputs(self) -> int:
        """Number of input variables including the bias input: coordinates + bias."""
        return self.num_coordinates + int(self.bias)

    @property
    def num_outputs(self) -> int:
        """Output coordinates: ``n`` for ``V``, one when invariant, ``n(n−1)/2`` for ``E``, ..."""
        return self.output.size(self.n)

    def input_permutation(self, sigma: Sequence[int] | np.ndarray) -> np.ndarray:
        """Array form of σ on the input variables (coordinates, then the bias input, which is fixed).

        >>> LayerSpec(n=3, degree=1, input="E", bias=True).input_permutation((1, 0, 2)).tolist()
        [0, 2, 1, 3]
        """
        image = self.input.permutation_array(np.asarray(sigma, dtype=np.int64))
        return np.concatenate([image, [self.num_coordinates]]) if self.bias else image

    def output_permutation(self, sigma: Sequence[int] | np.ndarray) -> np.ndarray:
        """Array form of σ on the output coordinates (``[0]`` when invariant)."""
        return self.output.permutation_array(np.asarray(sigma, dtype=np.int64))

    @property
    def equivariant(self) -> bool:
        return self.mode == "equivariant"

    def input_labels(self) -> list[str]:
        """Printable name of every input coordinate (the bias input excluded), see :mod:`polyequiv.reps`."""
        return self.input.coordinate_labels(self.n)

    def output_labels(self) -> list[str]:
        """Printable name of every output coordinate."""
        return self.output.coordinate_labels(self.n)

    @cached_property
    def group_generators(self) -> tuple[tuple[int, ...], ...]:
        """The generators, in array form on ``0 .. n-1`` (empty for a trivial group)."""
        if self.group == "symmetric":
            gens = groups.symmetric_generators(self.n, self.transpositions)
        elif self.group == "cyclic":
            gens = groups.cyclic_generators(self.n)
        elif self.group == "dihedral":
            gens = groups.dihedral_generators(self.n)
        elif self.group == "torus":
            gens = groups.torus_generators(self.shape)
        elif self.group == "torus-dihedral":
            gens = groups.torus_dihedral_generators(self.shape)
        else:
            gens = [g for g in self.generators if list(g) != list(range(self.n))]
        return tuple(tuple(g) for g in gens)

    # ------------------------------------------------------------------ names
    @property
    def degree_name(self) -> str:
        return _DEGREE_NAMES.get(self.degree, f"degree-{self.degree}")

    @property
    def group_label(self) -> str:
        """``S5``, ``S5/all``, ``C7``, ``D6``, ``G5[(0 1)(2 3),(0 2 4)]``, ``T10x10`` or ``TD8x8``."""
        if self.shape is not None:
            return f"{_GROUP_LETTERS[self.group]}{self.shape[0]}x{self.shape[1]}"
        label = f"{_GROUP_LETTERS[self.group]}{self.n}"
        if self.group == "symmetric" and self.transpositions != "adjacent":
            label += f"/{self.transpositions}"
        if self.group == "custom":
            label += "[" + ",".join(groups.format_cycles(g) for g in self.generators) + "]"
        return label

    def __str__(self) -> str:
        representations = self.mode if self.is_set_layer else f"{self.input} -> {self.output}"
        return " ".join([self.group_label, self.degree_name, self.indexing, representations,
                         *flag_tokens(self.bias, self.gauge)])

    @classmethod
    def parse(cls, text: str) -> LayerSpec:
        """Inverse of ``str``: ``LayerSpec.parse("S5 quadratic ordered equivariant +bias")``.

        Tensor layers name their representations as ``IN -> OUT`` in place of
        the mode: ``"S5 quadratic ordered E -> V"``, ``"S6 linear ordered V + E -> 1 +bias"``.
        Grid groups name their shape: ``"T10x10 linear ordered equivariant"``, ``"TD8x8 ..."``.
        """
        if not isinstance(text, str):
            raise SpecError(f"LayerSpec.parse needs a string such as 'S5 quadratic ordered equivariant', "
                            f"got {type(text).__name__} {text!r}")
        grid = re.fullmatch(r"\s*(TD|T)(\d+)x(\d+)\s+(.*)", text)
        if grid:
            letters, height, width, rest = grid.groups()
            shape = (int(height), int(width))
            group = {v: k for k, v in _GROUP_LETTERS.items()}[letters]
            return cls._parse_layer(text, rest, {"n": shape[0] * shape[1], "group": group, "shape": shape})
        match = re.fullmatch(r"\s*([SCDG])(\d+)(/\w+)?(\[[^\]]*\])?\s+(.*)", text)
        if not match:
            raise SpecError(
                f"cannot parse layer spec {text!r}; expected e.g. 'S5 quadratic ordered equivariant'"
            )
        letter, n_text, tset, gens_text, rest = match.groups()
        n = int(n_text)
        kwargs: dict[str, Any] = {"n": n}
        kwargs["group"] = {v: k for k, v in _GROUP_LETTERS.items()}[letter]
        if tset:
            kwargs["transpositions"] = tset[1:]
        if gens_text:
            kwargs["generators"] = tuple(groups.parse_generators(gens_text[1:-1], n))
        return cls._parse_layer(text, rest, kwargs)

    @classmethod
    def _parse_layer(cls, text: str, rest: str, kwargs: dict[str, Any]) -> LayerSpec:
        """The part of :meth:`parse` after the group: degree, representations, indexing, mode, flags."""
        tokens = rest.split()
        names = {v: k for k, v in _DEGREE_NAMES.items()}
        if not tokens:
            raise SpecError(f"layer spec {text!r} names no degree")
        degree_token = tokens.pop(0)
        if degree_token in names:
            kwargs["degree"] = names[degree_token]
        elif re.fullmatch(r"degree-\d+", degree_token):
            kwargs["degree"] = int(degree_token.split("-")[1])
        else:
            raise SpecError(f"unknown degree {degree_token!r} in layer spec {text!r}")
        read_flags(_take_representations(tokens, kwargs, text), kwargs, text)
        return cls(**kwargs)

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        """All fields, JSON-ready, plus the round-tripping string under ``"label"``."""
        data = asdict(self)
        data["generators"] = [groups.format_cycles(g) for g in self.generators]
        del data["input"], data["output"]
        if self.shape is None:  # every other group keeps today's JSON, byte for byte
            del data["shape"]
        else:
            data["shape"] = list(self.shape)
        if not self.is_set_layer:  # set layers keep today's JSON, byte for byte
            data["input"], data["output"] = str(self.input), str(self.output)
        data["label"] = str(self)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LayerSpec:
        """Inverse of :meth:`to_dict`; unknown or missing fields raise :class:`SpecError`."""
        if not isinstance(data, dict):
            raise SpecError(f"a layer spec must be a JSON object, got {type(data).__name__}")
        known = {"n", "degree", "indexing", "bias", "mode", "group", "transpositions", "generators", "gauge"}
        known |= {"input", "output", "shape"}
        unknown = set(data) - known - {"label"}
        if unknown:
            raise SpecError(f"unknown layer spec fields: {sorted(unknown)}")
        missing = {"n", "degree"} - set(data)
        if missing:
            raise SpecError(f"layer spec is missing fields: {sorted(missing)}")
        kwargs = {k: v for k, v in data.items() if k in known}
        n = kwargs["n"]
        _check_int("n", n, minimum=1)
        gens = kwargs.get("generators") or []
        if not isinstance(gens, list | tuple) or not all(isinstance(g, str) for g in gens):
            raise SpecError("layer spec 'generators' must be a list of cycle-notation strings")
        kwargs["generators"] = tuple(groups.parse_generators(",".join(gens), n)) if gens else ()
        if kwargs.get("shape") is not None:
            kwargs["shape"] = groups.check_shape(kwargs["shape"])
        spec = cls(**kwargs)
        if "label" in data and data["label"] != str(spec):
            raise SpecError(f"layer spec label {data['label']!r} does not match its fields ({spec})")
        return spec


_KEYWORDS = {*INDEXINGS, *MODES, "+bias", "+symmetric-gauge"}


def _take_representations(
    tokens: list[str], kwargs: dict[str, Any], text: str, parse: Any = Representation.parse
) -> list[str]:
    """Pull ``IN -> OUT`` out of the spec tokens (a representation may span tokens: ``V + E``);
    ``parse`` reads each side (:meth:`Representation.parse` by default)."""
    if "->" not in tokens:
        return tokens
    arrow = tokens.index("->")
    start, stop = arrow, arrow + 1
    while start > 0 and tokens[start - 1] not in _KEYWORDS:
        start -= 1
    while stop < len(tokens) and tokens[stop] not in _KEYWORDS:
        stop += 1
    left, right = " ".join(tokens[start:arrow]), " ".join(tokens[arrow + 1 : stop])
    if not left or not right:
        raise SpecError(f"layer spec {text!r} needs a representation on both sides of '->'")
    kwargs["input"], kwargs["output"] = parse(left), parse(right)
    return tokens[:start] + tokens[stop:]


def flag_tokens(bias: bool, gauge: str) -> list[str]:
    """The trailing tokens of a spec string: ``+bias``, ``+symmetric-gauge`` (those that apply)."""
    return ["+bias"] * bias + ["+symmetric-gauge"] * (gauge == "symmetric")


def read_flags(
    tokens: list[str], kwargs: dict[str, Any], text: str, *, modes: tuple[str, ...] = MODES
) -> None:
    """The tokens after the representations: indexing, mode (one of ``modes``), ``+bias``,
    ``+symmetric-gauge``, into ``kwargs``; anything else is a :class:`SpecError`."""
    for token in tokens:
        if token in INDEXINGS:
            kwargs["indexing"] = token
        elif token in modes:
            kwargs["mode"] = token
        elif token == "+bias":
            kwargs["bias"] = True
        elif token == "+symmetric-gauge":
            kwargs["gauge"] = "symmetric"
        else:
            raise SpecError(f"unknown token {token!r} in layer spec {text!r}")


def _check_int(name: str, value: object, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise SpecError(f"{name} must be ≥ {minimum}, got {value}")


def _check_choice(name: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise SpecError(f"unknown {name} {value!r}; choose one of {', '.join(choices)}")
