"""`NetworkSpec`: a stack of polynomial layers acting on a set of ``n`` elements.

Layer ``ℓ`` reads the previous layer's outputs ``h^{ℓ−1}`` (``h⁰ = x ∈ Rⁿ``),
plus the bias input ``h_b ≡ 1`` when it has ``+bias``, and computes

    h^ℓ_k = Σ_t W^{ℓ,k}_t · h^{ℓ−1}_{t₁} ⋯ h^{ℓ−1}_{t_d}

with the index tuples ``t`` of :class:`polyequiv.indexing.WeightIndex`
(``ordered``: one weight per monomial; ``full``: every tuple).  Its output
width is any ``w ≥ 1`` for a hidden layer; the last layer outputs ``Rⁿ``
(width ``n``, equivariant) or one scalar (``invariant``).

The group acts on the input by ``(σ·x)_i = x_{σ(i)}``.  The network is
*equivariant* when ``y(σ·x) = σ·y(x)``, i.e. ``y_k(σ·x) = y_{σ(k)}(x)``, and
*invariant* when ``y(σ·x) = y(x)``.

Hidden representations
----------------------
To tie a layer by itself (:func:`polyequiv.derive`), its input and output
must carry the group action.  A hidden width ``n`` is taken as ``V`` (the
units are permuted with the elements); any other width ``w`` as ``w`` copies
of the trivial representation ``1`` (every unit is an invariant feature).
These are the representations :meth:`layer_spec` hands to the single-layer
derivation.  A layer marked ``tied`` keeps only the weights its own
equivariance allows (as ``polyequiv derive`` computes them); a ``free`` layer
keeps every weight (the seed's §2.7).  A tied layer must have output width
``n`` or ``1``; it may read any width (``w ≠ n`` hidden units are read as
invariant features).

The string form round-trips::

    >>> spec = NetworkSpec.parse("S3 [quadratic free -> 3, quadratic free -> invariant]")
    >>> str(spec), spec.num_weights
    ('S3 [quadratic free -> 3, quadratic free -> invariant]', 24)
    >>> NetworkSpec.from_dict(spec.to_dict()) == spec
    True
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from polyequiv import groups
from polyequiv.compose.packed import MonomialPacking
from polyequiv.errors import SizeLimitError, SpecError
from polyequiv.indexing import WeightIndex
from polyequiv.spec import INDEXINGS, LayerSpec

FORMAT = "polyequiv-network"
INVARIANT = "invariant"
#: Terms (weight monomial × x monomial) the expansion may hold, estimated up front
#: (:meth:`NetworkSpec.estimate_terms`, an upper bound).
MAX_EXPANSION_TERMS = 60_000_000
#: Memory the expansion and its equations may need, estimated up front (:meth:`NetworkSpec.estimate_bytes`).
MAX_EXPANSION_BYTES = 4 * 10**9

_DEGREE_NAMES = {1: "linear", 2: "quadratic", 3: "cubic", 4: "quartic", 5: "quintic"}
_DEGREE_NUMBERS = {v: k for k, v in _DEGREE_NAMES.items()}


@dataclass(frozen=True)
class NetworkLayer:
    """One layer of a :class:`NetworkSpec`.

    Parameters
    ----------
    degree : int
        Polynomial degree ``d ≥ 1``.
    width : int or "invariant"
        Number of outputs; ``"invariant"`` (one scalar that must be invariant) only for the last layer.
    tied : bool
        Keep only the weights this layer's own equivariance allows (else every weight is free).
    indexing : {"ordered", "full"}
    bias : bool
        Read the extra input ``h_b ≡ 1`` as well (all monomials of degree ≤ d).
    input_width : int, optional
        The width this layer expects to read; checked against the previous layer when given.
    """

    degree: int
    width: int | str
    tied: bool = False
    indexing: str = "ordered"
    bias: bool = False
    input_width: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.degree, bool) or not isinstance(self.degree, int) or self.degree < 1:
            raise SpecError(f"a layer's degree must be an integer ≥ 1, got {self.degree!r}")
        if self.width != INVARIANT and (
            isinstance(self.width, bool) or not isinstance(self.width, int) or self.width < 1
        ):
            raise SpecError(f"a layer's width must be an integer ≥ 1 or 'invariant', got {self.width!r}")
        if self.indexing not in INDEXINGS:
            raise SpecError(f"unknown indexing {self.indexing!r}; choose one of {', '.join(INDEXINGS)}")
        for name in ("tied", "bias"):
            if not isinstance(getattr(self, name), bool):
                raise SpecError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if self.input_width is not None and (
            isinstance(self.input_width, bool)
            or not isinstance(self.input_width, int)
            or self.input_width < 1
        ):
            raise SpecError(f"input_width must be an integer ≥ 1, got {self.input_width!r}")

    @property
    def invariant(self) -> bool:
        return self.width == INVARIANT

    @property
    def num_outputs(self) -> int:
        return 1 if self.invariant else int(self.width)

    def __str__(self) -> str:
        name = _DEGREE_NAMES.get(self.degree, f"degree-{self.degree}")
        parts = [name, "tied" if self.tied else "free"]
        if self.indexing != "ordered":
            parts.append(self.indexing)
        if self.bias:
            parts.append("+bias")
        if self.input_width is not None:
            parts.append(str(self.input_width))
        return " ".join(parts) + f" -> {self.width}"

    @classmethod
    def parse(cls, text: str) -> NetworkLayer:
        """Inverse of ``str``: ``"quadratic free +bias -> 3"``, ``"linear tied 3 -> invariant"``."""
        left, arrow, right = text.partition("->")
        if not arrow or not right.strip():
            raise SpecError(f"layer {text.strip()!r} needs '-> WIDTH' or '-> invariant'")
        tokens = left.split()
        if not tokens:
            raise SpecError(f"layer {text.strip()!r} names no degree")
        kwargs: dict[str, Any] = {"degree": _parse_degree(tokens.pop(0), text)}
        for token in tokens:
            if token in ("tied", "free"):
                kwargs["tied"] = token == "tied"
            elif token in INDEXINGS:
                kwargs["indexing"] = token
            elif token == "+bias":
                kwargs["bias"] = True
            elif token.isdigit():
                kwargs["input_width"] = int(token)
            else:
                raise SpecError(f"unknown token {token!r} in layer {text.strip()!r}")
        kwargs["width"] = _parse_width(right.strip(), text)
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "degree": self.degree,
            "width": self.width,
            "tied": self.tied,
            "indexing": self.indexing,
            "bias": self.bias,
        }
        if self.input_width is not None:
            data["input_width"] = self.input_width
        return data


@dataclass(frozen=True)
class NetworkSpec:
    """A stack of polynomial layers on ``n`` elements and the group acting on them.

    Parameters
    ----------
    n : int
    layers : tuple of NetworkLayer
    group, transpositions, generators :
        As in :class:`polyequiv.LayerSpec` (``symmetric``/``cyclic``/``dihedral``/``custom``).
    """

    n: int
    layers: tuple[NetworkLayer, ...]
    group: str = "symmetric"
    transpositions: str = "adjacent"
    generators: tuple[tuple[int, ...], ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(self.layers))
        if not self.layers:
            raise SpecError("a network needs at least one layer")
        if not all(isinstance(layer, NetworkLayer) for layer in self.layers):
            raise SpecError("layers must be NetworkLayer values")
        # the group fields are checked (and generators canonicalised) by LayerSpec
        probe = LayerSpec(
            n=self.n,
            degree=1,
            group=self.group,
            transpositions=self.transpositions,
            generators=self.generators,
        )
        object.__setattr__(self, "generators", probe.generators)
        self._check_chain()

    def _check_chain(self) -> None:
        n, last = self.n, len(self.layers) - 1
        width_in = n
        for number, layer in enumerate(self.layers, start=1):
            if layer.input_width is not None and layer.input_width != width_in:
                source = "the input x" if number == 1 else f"layer {number - 1}"
                raise SpecError(
                    f"inconsistent layer chain: layer {number} expects {layer.input_width} inputs but "
                    f"{source} gives {width_in}"
                )
            if layer.invariant and number - 1 != last:
                raise SpecError(
                    f"layer {number} is invariant but {last - number + 1} more layer(s) follow it; an "
                    "invariant layer must be the last (use a hidden width, e.g. '-> 1', instead)"
                )
            if number - 1 == last and not layer.invariant and layer.width != n:
                raise SpecError(
                    f"the last layer must output Rⁿ (width n = {n}) or 'invariant', got width {layer.width}"
                )
            if layer.tied and layer.num_outputs not in (1, n):
                raise SpecError(
                    f"tied layer {number} has width {layer.width}: a tied layer's output must carry the "
                    f"group action, so its width must be n = {n} or 1"
                )
            width_in = layer.num_outputs

    # ------------------------------------------------------------------ structure
    @property
    def equivariant(self) -> bool:
        return not self.layers[-1].invariant

    @property
    def num_outputs(self) -> int:
        return self.layers[-1].num_outputs

    def input_width(self, layer: int) -> int:
        """Width read by layer ``layer`` (0-based): ``n`` for the first."""
        return self.n if layer == 0 else self.layers[layer - 1].num_outputs

    def representation(self, width: int, *, last: bool = False, invariant: bool = False) -> str:
        """The representation of ``width`` units (see the module docstring)."""
        if invariant:
            return "1"
        if width == self.n:
            return "V"
        if last:
            raise SpecError(f"the last layer must have width n = {self.n}")
        return " + ".join(["1"] * width)

    @cached_property
    def layer_specs(self) -> tuple[LayerSpec, ...]:
        """One :class:`LayerSpec` per layer, with the hidden representations of the module docstring."""
        specs = []
        for number, layer in enumerate(self.layers):
            width_in = self.input_width(number)
            rep_in = "V" if number == 0 else self.representation(width_in)
            rep_out = self.representation(
                layer.num_outputs, last=number == len(self.layers) - 1, invariant=layer.invariant
            )
            specs.append(
                LayerSpec(
                    n=self.n,
                    degree=layer.degree,
                    indexing=layer.indexing,
                    bias=layer.bias,
                    group=self.group,
                    transpositions=self.transpositions,
                    generators=self.generators,
                    input=rep_in,
                    output=rep_out,
                )
            )
        return tuple(specs)

    def layer_spec(self, layer: int) -> LayerSpec:
        return self.layer_specs[layer]

    @cached_property
    def weight_indices(self) -> tuple[WeightIndex, ...]:
        return tuple(WeightIndex(spec) for spec in self.layer_specs)

    @cached_property
    def weight_offsets(self) -> tuple[int, ...]:
        """Global id of each layer's first weight; layer ``ℓ`` holds ids ``offsets[ℓ] .. offsets[ℓ+1]−1``."""
        offsets = [0]
        for index in self.weight_indices:
            offsets.append(offsets[-1] + index.num_weights)
        return tuple(offsets)

    @property
    def num_weights(self) -> int:
        return self.weight_offsets[-1]

    @property
    def degree(self) -> int:
        """Degree of the output in ``x``: the product of the layer degrees."""
        return math.prod(layer.degree for layer in self.layers)

    @cached_property
    def group_generators(self) -> tuple[tuple[int, ...], ...]:
        return self.layer_specs[0].group_generators

    @property
    def group_label(self) -> str:
        return self.layer_specs[0].group_label

    def weight_name(self, weight: int, *, latex: bool = False) -> str:
        """``w2_1_0b``: layer 2, output 1, tuple (0, b); LaTeX ``w^{(2)}_{1,0b}``."""
        layer = next(number for number in range(len(self.layers)) if weight < self.weight_offsets[number + 1])
        local = weight - self.weight_offsets[layer]
        index = self.weight_indices[layer]
        tuples = index.tuples
        output, position = divmod(local, tuples.shape[0])
        width_in = self.input_width(layer)
        labels = ["b" if i == width_in else str(i) for i in tuples[position].tolist()]
        sep = "." if width_in > 10 else ""
        subscript = sep.join(labels)
        if not self.layers[layer].invariant:
            subscript = f"{output}," + subscript if latex else f"{output}_" + subscript
        if latex:
            return f"w^{{({layer + 1})}}_{{{subscript}}}"
        return f"w{layer + 1}_{subscript}"

    # ------------------------------------------------------------------ size estimates
    def estimate_terms(self) -> int:
        """Upper bound on the expansion's terms (weight monomial × x monomial), from widths and degrees.

        A unit of layer ℓ has at most ``Σ_t Π_i C(s_i + m_i − 1, m_i)`` terms, over its index
        tuples ``t`` whose input ``i`` (``s_i`` terms; ``1`` for the bias) appears ``m_i`` times:
        a product of ``m`` factors of ``s`` terms has at most as many terms as multisets of ``m``
        of them.  The sum over the last layer's units is returned.
        """
        sizes = [1] * self.n
        for number, layer in enumerate(self.layers):
            inputs = [*sizes, 1] if layer.bias else sizes
            index = self.weight_indices[number]
            per_unit = 0
            for t in index.tuples.tolist():
                per_unit += math.prod(math.comb(inputs[i] + m - 1, m) for i, m in Counter(t).items())
            sizes = [per_unit] * layer.num_outputs
        return sum(sizes)

    def key_words(self) -> int:
        """64-bit words of a packed term (an upper bound: a tied layer counted with all its weights)."""
        degrees = [layer.degree for layer in self.layers]
        bounds = [self.degree] * self.n + [sum(math.prod(degrees[j + 1 :]) for j in range(len(degrees)))]
        for number, index in enumerate(self.weight_indices):
            bounds += [math.prod(degrees[number + 1 :])] * index.num_weights
        return MonomialPacking(tuple(bounds)).num_words

    def estimate_bytes(self, terms: int | None = None) -> int:
        """Memory of the expansion at its peak and of its equations' labels, for ``terms`` terms.

        Each term takes ``8·W`` bytes of key and at most 8 of coefficient; at the last level the
        outputs and the products they read from are held together (twice the terms), and labelling
        the terms by monomial takes 16 bytes a term while it runs.
        """
        terms = self.estimate_terms() if terms is None else terms
        return terms * (2 * (8 * self.key_words() + 8) + 16)

    def check_size(self, limit: int | None = None, byte_limit: int | None = None) -> int:
        """Refuse up front a network whose expansion would not fit; returns the estimate of its terms.

        The limits default to :data:`MAX_EXPANSION_TERMS` and :data:`MAX_EXPANSION_BYTES`.
        """
        limit = MAX_EXPANSION_TERMS if limit is None else limit
        byte_limit = MAX_EXPANSION_BYTES if byte_limit is None else byte_limit
        estimate = self.estimate_terms()
        size = self.estimate_bytes(estimate)
        if estimate > limit or size > byte_limit:
            raise SizeLimitError(
                f"{self} would expand to about {estimate:,} terms and need about {_gigabytes(size)} "
                f"(upper bounds from widths and degrees); the limits are {limit:,} terms and "
                f"{_gigabytes(byte_limit)}. Use fewer or narrower layers, lower degrees, or no bias",
                estimate=estimate,
                limit=limit,
            )
        return estimate

    # ------------------------------------------------------------------ text and JSON
    def __str__(self) -> str:
        return f"{self.group_label} [" + ", ".join(str(layer) for layer in self.layers) + "]"

    @classmethod
    def parse(cls, text: str) -> NetworkSpec:
        """Inverse of ``str``: ``NetworkSpec.parse("S4 [linear free -> 2, quadratic free -> 4]")``."""
        match = re.fullmatch(r"\s*([SCDG]\d+(?:/\w+)?(?:\[[^\]]*\])?)\s*\[(.*)\]\s*", text)
        if not match:
            raise SpecError(
                f"cannot parse network spec {text!r}; expected e.g. "
                "'S3 [quadratic free -> 3, quadratic free -> invariant]'"
            )
        label, body = match.groups()
        group = LayerSpec.parse(f"{label} linear")
        layers = tuple(NetworkLayer.parse(part) for part in body.split(",") if part.strip())
        return cls(
            n=group.n,
            layers=layers,
            group=group.group,
            transpositions=group.transpositions,
            generators=group.generators,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "n": self.n,
            "group": self.group,
            "transpositions": self.transpositions,
            "generators": [groups.format_cycles(g) for g in self.generators],
            "layers": [layer.to_dict() for layer in self.layers],
            "label": str(self),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NetworkSpec:
        """Inverse of :meth:`to_dict`; unknown or missing fields raise :class:`SpecError`."""
        if not isinstance(data, dict):
            raise SpecError(f"a network spec must be a JSON object, got {type(data).__name__}")
        known = {"format", "n", "group", "transpositions", "generators", "layers", "label"}
        if set(data) - known:
            raise SpecError(f"unknown network spec fields: {sorted(set(data) - known)}")
        if {"n", "layers"} - set(data):
            raise SpecError(f"network spec is missing fields: {sorted({'n', 'layers'} - set(data))}")
        if data.get("format", FORMAT) != FORMAT:
            raise SpecError(f"format is {data['format']!r}, expected {FORMAT!r}")
        if not isinstance(data["layers"], list) or not all(isinstance(x, dict) for x in data["layers"]):
            raise SpecError("network spec 'layers' must be a list of objects")
        layer_fields = {"degree", "width", "tied", "indexing", "bias", "input_width"}
        layers = []
        for number, item in enumerate(data["layers"], start=1):
            if set(item) - layer_fields or {"degree", "width"} - set(item):
                raise SpecError(
                    f"layer {number} must have degree and width and only the fields {sorted(layer_fields)}"
                )
            layers.append(NetworkLayer(**item))
        n = data["n"]
        gens = data.get("generators") or []
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise SpecError(f"n must be an integer ≥ 1, got {n!r}")
        spec = cls(
            n=n,
            layers=tuple(layers),
            group=data.get("group", "symmetric"),
            transpositions=data.get("transpositions", "adjacent"),
            generators=tuple(groups.parse_generators(",".join(gens), n)) if gens else (),
        )
        if "label" in data and data["label"] != str(spec):
            raise SpecError(f"network label {data['label']!r} does not match its fields ({spec})")
        return spec


def _gigabytes(size: int) -> str:
    return f"{size / 1e9:,.1f} GB" if size >= 10**8 else f"{size / 1e6:,.0f} MB"


def parse_layer_flags(
    text: str, *, bias: bool = False, indexing: str = "ordered"
) -> tuple[NetworkLayer, ...]:
    """The CLI's short form ``"2:free:3,2:tied:invariant"`` (``DEGREE:tied|free:WIDTH[:bias][:full]``).

    >>> [str(layer) for layer in parse_layer_flags("2:free:3,1:tied:invariant:bias")]
    ['quadratic free -> 3', 'linear tied +bias -> invariant']
    """
    layers = []
    for part in text.split(","):
        fields = [f.strip() for f in part.split(":")]
        if len(fields) < 3:
            raise SpecError(f"layer {part.strip()!r} must read DEGREE:tied|free:WIDTH, e.g. 2:free:3")
        degree_text, kind, width_text, *extra = fields
        if not degree_text.isdigit():
            raise SpecError(f"degree {degree_text!r} of layer {part.strip()!r} is not a positive integer")
        if kind not in ("tied", "free"):
            raise SpecError(f"layer {part.strip()!r}: expected 'tied' or 'free', got {kind!r}")
        layer_bias, layer_indexing = bias, indexing
        for token in extra:
            if token == "bias":
                layer_bias = True
            elif token in INDEXINGS:
                layer_indexing = token
            else:
                raise SpecError(f"unknown option {token!r} in layer {part.strip()!r} (bias, ordered, full)")
        layers.append(
            NetworkLayer(
                degree=int(degree_text),
                width=_parse_width(width_text, part),
                tied=kind == "tied",
                indexing=layer_indexing,
                bias=layer_bias,
            )
        )
    return tuple(layers)


def _parse_degree(token: str, text: str) -> int:
    if token in _DEGREE_NUMBERS:
        return _DEGREE_NUMBERS[token]
    if re.fullmatch(r"degree-\d+", token):
        return int(token.split("-")[1])
    raise SpecError(f"unknown degree {token!r} in layer {text.strip()!r}")


def _parse_width(token: str, text: str) -> int | str:
    if token == INVARIANT:
        return INVARIANT
    if token.isdigit():
        return int(token)
    raise SpecError(f"width {token!r} of layer {text.strip()!r} must be a number or 'invariant'")
