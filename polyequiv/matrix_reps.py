"""Representations of matrix groups (and of ``Sₙ × matrix group``): sums of tensor powers with multiplicities.

A :class:`MatrixRepresentation` is a sum of terms ``m*T``.  For a matrix group
``G ⊂ GL(d)`` alone, ``T`` is

=======  ====================================  ==================
term     coordinates                           ``g`` acts by
=======  ====================================  ==================
``1``    one scalar                            1
``V``    a vector of ``R^d`` (the defining     ``g``
         space)
``Vk``   a tensor of ``(R^d)^{⊗k}``            ``g ⊗ … ⊗ g``
=======  ====================================  ==================

and ``m*T`` is ``m`` copies of ``T`` that the group does not mix
(``2*1 + 2*V``: two scalars and two vectors).  For a product ``S(n) x G``
(:mod:`polyequiv.product_groups`) a term is ``A⊗B`` (ASCII ``A(x)B``) with ``A``
a permutation term of :mod:`polyequiv.reps` (``1``, ``V``, ``Vk``, ``E``) on the
``n`` points and ``B`` one of the terms above: ``V⊗V`` is a point cloud (one
vector per point, the natural meaning of a bare ``V`` there), ``V⊗1`` one scalar
per point (masses), ``1⊗V2`` a global tensor, ``E⊗1`` one scalar per pair.  A
bare ``1`` is ``1⊗1``; other bare terms are refused as ambiguous.

Coordinates are numbered term after term, inside a term copy after copy, then
by the point coordinate (as in :mod:`polyequiv.reps`), then by the tensor index
``(a₁, …, a_k)`` in row-major order: ``V⊗V`` on 5 points in R³ is the ``5 × 3``
array of positions, flattened row by row.

Convention: ``(σ, g)`` acts by ``x ↦ ρ(σ) ρ(g) x`` where ``ρ(g)`` applies ``g``
to every tensor index (``x_{…a…} ↦ Σ_b g_{ab} x_{…b…}``) and ``ρ(σ)`` moves point
coordinates as in :mod:`polyequiv.reps`, ``(σ·x)_c = x_{σ(c)}``.

    >>> rep = MatrixRepresentation.parse("2*1 + 2*V")
    >>> str(rep), rep.size(1, 3)
    ('2*1 + 2*V', 8)
    >>> MatrixRepresentation.parse("V(x)1 + V", on_points=True).terms[1]
    RepTerm(multiplicity=1, points='V', power=1)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import reduce
from typing import TYPE_CHECKING

import numpy as np

from polyequiv.errors import SpecError
from polyequiv.reps import Representation

if TYPE_CHECKING:
    import scipy.sparse as sparse

_MATRIX_TERM = re.compile(r"1|V(\d*)")
_MULTIPLE = re.compile(r"(?:(\d+)\s*\*\s*)?(.+)")
_TENSOR = re.compile(r"(.+?)\s*(?:⊗|\(x\))\s*(.+)")


@dataclass(frozen=True)
class RepTerm:
    """``multiplicity`` copies of ``points ⊗ V^{⊗power}`` (``points`` a term of :mod:`polyequiv.reps`)."""

    multiplicity: int
    points: str
    power: int

    def matrix_name(self) -> str:
        return "1" if self.power == 0 else "V" if self.power == 1 else f"V{self.power}"


@dataclass(frozen=True)
class MatrixRepresentation:
    """A sum of terms :class:`RepTerm`; see the module docstring.

    Parameters
    ----------
    terms : tuple of RepTerm
    on_points : bool
        Whether the group has a permutation factor (terms are then written ``A⊗B``).
    """

    terms: tuple[RepTerm, ...]
    on_points: bool = False

    def __post_init__(self) -> None:
        if not self.terms:
            raise SpecError("a representation needs at least one term")
        for term in self.terms:
            if term.multiplicity < 1 or term.power < 0:
                raise SpecError(f"bad representation term {term}")
            Representation((term.points,))  # validates the point term
            if not self.on_points and term.points != "1":
                raise SpecError(
                    f"representation term {term.points!r} acts on points; a matrix group alone acts on "
                    "1, V, V2, ... (for point clouds use a product group such as 'S(5) x O(3)')"
                )

    # ------------------------------------------------------------------ text
    @classmethod
    def parse(cls, text: str | MatrixRepresentation, *, on_points: bool = False) -> MatrixRepresentation:
        """``"2*1 + 2*V"``; with ``on_points``, ``"V⊗1 + V⊗V"`` (ASCII ``V(x)1``); see the module
        docstring."""
        if isinstance(text, MatrixRepresentation):
            if text.on_points != on_points:
                raise SpecError(f"representation {text} was written for another group")
            return text
        if not isinstance(text, str) or not text.strip():
            raise SpecError(f"cannot parse representation {text!r}; write e.g. 'V', '2*1 + 2*V' or 'V2'")
        terms = [_parse_term(part.strip(), on_points) for part in text.split("+")]
        return cls(tuple(terms), on_points)

    def __str__(self) -> str:
        return " + ".join(self._term_text(term) for term in self.terms)

    def _term_text(self, term: RepTerm) -> str:
        body = term.matrix_name()
        if self.on_points and not (term.points == "1" and term.power == 0):
            body = f"{term.points}⊗{body}"
        return body if term.multiplicity == 1 else f"{term.multiplicity}*{body}"

    # ------------------------------------------------------------------ structure
    @property
    def is_trivial(self) -> bool:
        """True for ``1``: an invariant output."""
        return len(self.terms) == 1 and self.terms[0] == RepTerm(1, "1", 0)

    @property
    def is_set(self) -> bool:
        return False

    @property
    def max_power(self) -> int:
        return max(term.power for term in self.terms)

    def check(self, n: int) -> None:
        """Refuse point terms with no coordinates on ``n`` points (``E`` needs n ≥ 2)."""
        for term in self.terms:
            Representation((term.points,)).check(n)

    def point_size(self, term: RepTerm, n: int) -> int:
        return Representation((term.points,)).size(n)

    def term_sizes(self, n: int, d: int) -> tuple[int, ...]:
        return tuple(t.multiplicity * self.point_size(t, n) * d**t.power for t in self.terms)

    def size(self, n: int, d: int) -> int:
        """Number of coordinates for ``n`` points in ``R^d``: ``2*1 + 2*V`` in R³ has 8."""
        return sum(self.term_sizes(n, d))

    def coordinate_labels(self, n: int, axis_names: tuple[str, ...]) -> list[str]:
        """A distinct printable name per coordinate: ``s1, s2, v1x, …`` for ``2*1 + 2*V`` (a copy
        number only where a kind of term appears more than once), ``xy`` for ``V2``, ``3x`` for
        coordinate ``x`` of point 3.

        >>> MatrixRepresentation.parse("2*1 + 2*V").coordinate_labels(1, ("x", "y", "z"))[:5]
        ['s1', 's2', 'v1x', 'v1y', 'v1z']
        """
        letters = ["s" if t.power == 0 else "v" if t.power == 1 else f"t{t.power}" for t in self.terms]
        copies = {letter: 0 for letter in letters}
        for letter, term in zip(letters, self.terms, strict=True):
            copies[letter] += term.multiplicity
        join = "" if all(len(a) == 1 and not a.isdigit() for a in axis_names) else "."
        labels: list[str] = []
        seen = {letter: 0 for letter in letters}
        for letter, term in zip(letters, self.terms, strict=True):
            point_labels = Representation((term.points,)).coordinate_labels(n) if term.points != "1" else [""]
            axes = [
                ("." if len(axis_names[0]) > 1 else "").join(axis_names[a] for a in index)
                for index in np.ndindex(*(len(axis_names),) * term.power)
            ]
            for _ in range(term.multiplicity):
                seen[letter] += 1
                prefix = f"{letter}{seen[letter]}" if copies[letter] > 1 else ("" if term.power else letter)
                for point in point_labels:
                    head = prefix + (":" if prefix and point else "") + point
                    labels += [head + (join if head and axis else "") + axis for axis in axes]
        if len(set(labels)) < len(labels):  # cannot happen for the names above; keep names distinct anyway
            labels = [f"c{i}" for i in range(len(labels))]
        return labels

    # ------------------------------------------------------------------ actions
    def permutation_action(self, sigma: np.ndarray, n: int, d: int) -> sparse.csr_matrix:
        """The 0/1 matrix ``P`` of a point permutation: ``(P x)_c = x_{σ(c)}`` on point coordinates,
        tensor indices unchanged."""
        import scipy.sparse as sparse

        blocks = []
        for term in self.terms:
            image = Representation((term.points,)).permutation_array(np.asarray(sigma, dtype=np.int64))
            size = image.size
            perm = sparse.csr_matrix(
                (np.ones(size, dtype=np.int64), (np.arange(size), image)), shape=(size, size)
            )
            blocks.append(
                sparse.kron(sparse.kron(_identity(term.multiplicity), perm), _identity(d**term.power))
            )
        return sparse.block_diag(blocks, format="csr", dtype=np.int64)

    def finite_action(self, matrix: np.ndarray, scale: int, n: int) -> tuple[sparse.csr_matrix, int]:
        """``(M, s)`` with ``ρ(g) = M / s`` for ``g = matrix / scale`` (integer ``matrix``): every term of
        power ``k`` carries ``g^{⊗k}``, brought to the common denominator ``s = scale^{max k}``."""
        import scipy.sparse as sparse

        top = self.max_power
        blocks = []
        for term in self.terms:
            power = reduce(
                lambda a, b: sparse.kron(a, b, format="csr"),
                [sparse.csr_matrix(matrix)] * term.power,
                _identity(1),
            )
            copies = term.multiplicity * self.point_size(term, n)
            blocks.append(sparse.kron(_identity(copies), power) * scale ** (top - term.power))
        return sparse.block_diag(blocks, format="csr", dtype=np.int64), scale**top

    def lie_action(self, matrix: np.ndarray, n: int) -> sparse.csr_matrix:
        """``dρ(A) = Σ_j I ⊗ … ⊗ A ⊗ … ⊗ I`` (``A`` in tensor slot ``j``) on every term; 0 on scalars."""
        import scipy.sparse as sparse

        d = matrix.shape[0]
        generator = sparse.csr_matrix(matrix)
        blocks = []
        for term in self.terms:
            copies = term.multiplicity * self.point_size(term, n)
            derivative = sparse.csr_matrix((d**term.power, d**term.power), dtype=np.int64)
            for slot in range(term.power):
                derivative = derivative + sparse.kron(
                    sparse.kron(_identity(d**slot), generator), _identity(d ** (term.power - slot - 1))
                )
            blocks.append(sparse.kron(_identity(copies), derivative))
        return sparse.block_diag(blocks, format="csr", dtype=np.int64)

    def dense_action(self, sigma: np.ndarray | None, matrix: np.ndarray, n: int) -> np.ndarray:
        """``ρ(σ) ρ(g)`` as a dense float64 array, for numerical checks (``σ`` may be ``None``)."""
        blocks = []
        for term in self.terms:
            power = reduce(np.kron, [np.asarray(matrix, dtype=np.float64)] * term.power, np.ones((1, 1)))
            size = self.point_size(term, n)
            perm = np.eye(size)
            if sigma is not None:
                image = Representation((term.points,)).permutation_array(np.asarray(sigma, dtype=np.int64))
                perm = perm[image]  # row c is e_{σ(c)}: (P x)_c = x_{σ(c)}
            blocks.append(np.kron(np.eye(term.multiplicity), np.kron(perm, power)))
        size = sum(b.shape[0] for b in blocks)
        out = np.zeros((size, size))
        offset = 0
        for block in blocks:
            out[offset : offset + block.shape[0], offset : offset + block.shape[0]] = block
            offset += block.shape[0]
        return out


def _identity(size: int) -> sparse.csr_matrix:
    import scipy.sparse as sparse

    return sparse.identity(size, dtype=np.int64, format="csr")


def _parse_term(text: str, on_points: bool) -> RepTerm:
    match = _MULTIPLE.fullmatch(text)
    if not text or not match:
        raise SpecError(
            f"unknown representation term {text!r}; use 1, V, V2, ... with multiplicities like 2*V"
        )
    multiplicity = int(match.group(1)) if match.group(1) else 1
    if multiplicity < 1:
        raise SpecError(f"representation term {text!r} has multiplicity 0")
    body = match.group(2).strip()
    tensor = _TENSOR.fullmatch(body)
    if tensor:
        if not on_points:
            raise SpecError(
                f"representation term {text!r} is a tensor product with points; that needs a product "
                "group such as 'S(5) x O(3)'"
            )
        points = tensor.group(1).strip()
        if points != "V1" and not re.fullmatch(r"1|E|V\d*", points):
            raise SpecError(f"unknown point term {points!r} in {text!r}; use 1, V, V2, ... or E")
        return RepTerm(
            multiplicity, "V" if points == "V1" else points, _matrix_power(tensor.group(2).strip(), text)
        )
    if not on_points:
        if body == "E":
            raise SpecError(
                "representation term 'E' is made of pairs of points, which a matrix group alone does not "
                "have; use 1, V, V2, ... (or a product group such as 'S(5) x O(3)' with E⊗1)"
            )
        return RepTerm(multiplicity, "1", _matrix_power(body, text))
    if body == "1":
        return RepTerm(multiplicity, "1", 0)
    if body in ("V", "V1"):
        return RepTerm(multiplicity, "V", 1)
    raise SpecError(
        f"representation term {text!r} is ambiguous for a product group: write points⊗matrix, e.g. "
        "V⊗V (a vector per point), V⊗1 (a scalar per point), 1⊗V2 (a global tensor); ASCII: V(x)1"
    )


def _matrix_power(body: str, text: str) -> int:
    match = _MATRIX_TERM.fullmatch(body)
    if not match:
        raise SpecError(f"unknown representation term {text!r}; use 1, V, V2, V3, ... (e.g. 2*V)")
    if body == "1":
        return 0
    power = int(match.group(1) or 1)
    if power < 1:
        raise SpecError(f"unknown representation term {text!r}; use 1, V, V2, V3, ...")
    return power
