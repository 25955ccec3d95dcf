"""`derive`: from a layer spec to its equations, classes and exact counts, in one call.

    >>> from polyequiv import LayerSpec, MatrixLayerSpec, derive
    >>> result = derive(LayerSpec(n=5, degree=2))
    >>> result.distinct_weights, result.free_parameters, result.function_dim
    (4, 4, 4)
    >>> derive(MatrixLayerSpec("O(3)", degree=3, input="V", output="V")).free_parameters  # x |x|²
    1

Counts
------
``distinct_weights``
    Classes of tied weights (:class:`polyequiv.graph.ConstraintGraph`).
``free_parameters``
    ``distinct_weights − rank`` of the reduced additive system, the rank taken
    exactly over Q: the dimension of the space of equivariant weight tensors.
``function_dim``
    The dimension of the space of *functions* those tensors compute.  Every
    weight belongs to one slot (output, monomial) and the function only sees
    slot sums, so with ``M`` the slot-sum matrix and ``A`` the constraints (both
    on classes), ``function_dim = rank [A; M] − rank A``.  The difference
    ``free_parameters − function_dim`` counts gauge directions (e.g. the
    antisymmetric part ``a^k_ij − a^k_ji`` of a full-indexed quadratic layer),
    which no data can see.

Both ranks and the basis are taken block by block (:mod:`polyequiv.blocks`:
proportional columns merged, connected blocks, incidence blocks solved
combinatorially, the rest eliminated over Q); ``method="global"`` runs the
former single sparse elimination over Q, which gives the same integers and
the same basis and is kept as the reference.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from typing import Any
from weakref import WeakKeyDictionary

import numpy as np

from polyequiv import groups, limits
from polyequiv.blocks import BlockDecomposition, SparseSystem, decompose
from polyequiv.constraints import AdditiveConstraint, ConstraintSystem, Equality
from polyequiv.engines.sparse import derive_sparse
from polyequiv.errors import SpecError
from polyequiv.exact import exact_nullspace, exact_rank
from polyequiv.graph import ConstraintGraph
from polyequiv.indexing import WeightIndex
from polyequiv.matrix_spec import MatrixLayerSpec
from polyequiv.spec import LayerSpec

ENGINES = ("auto", "symbolic", "sparse")


@dataclass
class Derivation:
    """Everything derived for one layer spec.  Build it with :func:`derive`."""

    spec: LayerSpec | MatrixLayerSpec
    system: ConstraintSystem
    graph: ConstraintGraph
    distinct_weights: int
    free_parameters: int
    function_dim: int
    additive_rank: int
    engine: str
    seconds: float

    @property
    def index(self) -> WeightIndex:
        return self.system.index

    @property
    def num_weights(self) -> int:
        return self.index.num_weights

    @property
    def gauge_dim(self) -> int:
        """Free directions that do not change the computed function."""
        return self.free_parameters - self.function_dim

    @cached_property
    def group_order(self) -> int | None:
        """Exact order of the group; ``None`` for a continuous (or too large finite) matrix group."""
        return group_order(self.spec)

    def equations(self, limit: int | None = None) -> list[Equality | AdditiveConstraint]:
        """The derived equations (equalities, additive, gauge ties), at most ``limit``."""
        return self.system.equations(limit)

    def class_names(self) -> list[list[str]]:
        """Weight names of each class, classes in order of their first weight."""
        return [[self.index.weight_name(w) for w in members] for members in self.graph.class_members]

    @cached_property
    def free_basis(self) -> list[dict[int, Fraction]]:
        """Exact basis of the class values the additive constraints allow: one sparse
        rational vector over class ids per free parameter (``free_parameters`` of them),
        the reduced-row-echelon one (ordered by free class)."""
        return free_basis(self.graph)

    def summary(self) -> dict[str, Any]:
        """The counts as a JSON-ready dict (no equations, no classes); a matrix group adds its Lie
        algebra's dimension and the equations by kind (equality, zero, additive, general linear)."""
        data = {
            "spec": self.spec.to_dict(),
            "group_order": self.group_order,
            "generators": None,
            "weights": self.num_weights,
            "equality_constraints": self.system.num_equalities,
            "additive_constraints": self.system.num_additive,
            "gauge_ties": int(self.system.gauge_ties.shape[0]),
            "merged_by_additive": int(self.graph.merge_edges.shape[0]),
            "distinct_weights": self.distinct_weights,
            "free_parameters": self.free_parameters,
            "function_dim": self.function_dim,
            "gauge_dim": self.gauge_dim,
            "engine": self.engine,
            "seconds": round(self.seconds, 6),
        }
        if not isinstance(self.spec, MatrixLayerSpec):
            data["generators"] = [groups.format_cycles(g) for g in self.spec.group_generators]
            return data
        group = self.spec.group
        data["generators"] = {"permutation": [groups.format_cycles(g) for g in group.permutation_generators]}
        data["generators"].update(group.matrix.describe_generators())
        data["lie_algebra_dim"] = group.matrix.lie_dim
        data["constraint_kinds"] = self.system.kind_counts()
        return data


def derive(spec: LayerSpec | MatrixLayerSpec, engine: str = "auto") -> Derivation:
    """Derive the equations of ``spec``, classify them, and count exactly.

    Parameters
    ----------
    spec : LayerSpec or MatrixLayerSpec
        The layer and its group: a permutation group, or a matrix group
        (:mod:`polyequiv.matrix_spec`, e.g. ``MatrixLayerSpec("O(3)", 3, "2*1 + 2*V", "V2")``).
    engine : {"auto", "symbolic", "sparse"}
        ``symbolic`` expands with sympy (the seed's method); ``sparse`` uses
        index arithmetic and scales to hundreds of thousands of weights; both
        give the same equations.  ``auto`` is the sparse engine (faster at every
        size); ``symbolic`` is the independent cross-check.  Matrix groups have one
        engine of each kind for every group (:mod:`polyequiv.engines.matrix`,
        :mod:`polyequiv.engines.matrix_symbolic`), whose equations are general
        linear forms with integer coefficients.

    Raises
    ------
    SpecError
        For an unknown engine, or a ``spec`` that is not a :class:`LayerSpec`.
    SizeLimitError
        When the request is too large, with the estimate that decided it.
    """
    if not isinstance(spec, LayerSpec | MatrixLayerSpec):
        raise SpecError(
            f"derive needs a LayerSpec, got {type(spec).__name__} {spec!r}; "
            "e.g. derive(LayerSpec(n=5, degree=2)) or derive(LayerSpec.parse('S5 quadratic ordered "
            "equivariant')); for a matrix group derive(MatrixLayerSpec('O(3)', 3, 'V', 'V'))"
        )
    if engine not in ENGINES:
        raise SpecError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    started = time.perf_counter()
    engine = check_derivable(spec, engine)
    if isinstance(spec, MatrixLayerSpec):
        system = _matrix_system(spec, engine)
    else:
        system = _permutation_system(spec, engine)
    graph = ConstraintGraph(system)
    counts = count_parameters(graph)
    return Derivation(
        spec=spec,
        system=system,
        graph=graph,
        engine=engine,
        seconds=time.perf_counter() - started,
        **counts,
    )


def _permutation_system(spec: LayerSpec, engine: str) -> ConstraintSystem:
    index = WeightIndex(spec)
    if engine == "symbolic":
        from polyequiv.engines.symbolic import derive_symbolic  # sympy, imported only here

        return derive_symbolic(index)
    return derive_sparse(index)


def check_derivable(spec: LayerSpec | MatrixLayerSpec, engine: str = "auto") -> str:
    """The engine :func:`derive` would use for ``spec``, after the size checks it would make.

    Cheap (estimates only): ``count`` runs it on every size of a range before counting the first.

    Raises
    ------
    SizeLimitError
        When :func:`derive` would refuse ``spec``, with the estimate that decides it.
    """
    engine = limits.choose_engine(spec, engine)
    if isinstance(spec, MatrixLayerSpec):
        limits.check_matrix(spec)
        if engine == "symbolic":
            limits.check_matrix_symbolic(spec)
        return engine
    limits.check_sparse(spec)
    limits.check_blockwise(limits.estimate_exact_nonzeros(spec), f"{spec} (estimated)")
    if engine == "symbolic":
        limits.check_symbolic(spec)
    return engine


def _matrix_system(spec: MatrixLayerSpec, engine: str) -> ConstraintSystem:
    """The equations of a matrix group: one engine for every group (:mod:`polyequiv.engines.matrix`),
    and its literal sympy cross-check (:mod:`polyequiv.engines.matrix_symbolic`)."""
    index = WeightIndex(spec)
    if engine == "symbolic":
        from polyequiv.engines.matrix_symbolic import derive_matrix_symbolic  # sympy, imported only here

        return derive_matrix_symbolic(index)
    from polyequiv.engines.matrix import derive_matrix

    system = derive_matrix(index)
    system.engine = "sparse"
    return system


METHODS = ("blockwise", "global")


def count_parameters(graph: ConstraintGraph, method: str = "blockwise") -> dict[str, int]:
    """``distinct_weights``, ``free_parameters``, ``function_dim`` and ``additive_rank``, exactly.

    ``method="blockwise"`` (default) takes the ranks block by block
    (:mod:`polyequiv.blocks`); ``"global"`` eliminates the whole system at once
    over Q (the reference path, refused above ``MAX_EXACT_NONZEROS``).  Both
    return the same integers.
    """
    classes = graph.num_classes
    if method == "blockwise":
        additive = additive_system(graph)
        slots = slot_system(graph)
        if additive.nnz == 0 and np.unique(slots.rows).size == slots.nnz:
            # no additive constraint and one class per slot (ordered indexing, the symmetric
            # gauge): M's rows are multiples of unit vectors, its rank the classes it touches
            rank_a, rank_am = 0, int(np.unique(slots.cols).size)
        else:
            rank_a = additive_blocks(graph).rank
            rank_am = decompose(additive.stacked(slots)).rank
    elif method == "global":
        additive_rows = graph.reduced_additive
        slot_rows = _slot_rows(graph)
        nonzeros = sum(map(len, additive_rows)) + sum(map(len, slot_rows))
        limits.check_exact(nonzeros, "the reduced constraint system")
        rank_a = exact_rank(additive_rows, classes)
        rank_am = exact_rank(additive_rows + slot_rows, classes)
    else:
        raise SpecError(f"unknown counting method {method!r}; choose one of {', '.join(METHODS)}")
    return {
        "distinct_weights": classes,
        "free_parameters": classes - rank_a,
        "function_dim": rank_am - rank_a,
        "additive_rank": rank_a,
    }


def free_basis(graph: ConstraintGraph, method: str = "blockwise") -> list[dict[int, Fraction]]:
    """The RREF basis of ``{c : A c = 0}`` on classes (see :attr:`Derivation.free_basis`);
    ``blockwise`` and ``global`` give identical vectors."""
    if method == "blockwise":
        return additive_blocks(graph).nullspace()
    if method == "global":
        return exact_nullspace(graph.reduced_additive, graph.num_classes)
    raise SpecError(f"unknown counting method {method!r}; choose one of {', '.join(METHODS)}")


_ADDITIVE_BLOCKS: WeakKeyDictionary[ConstraintGraph, BlockDecomposition] = WeakKeyDictionary()


def additive_blocks(graph: ConstraintGraph) -> BlockDecomposition:
    """``decompose(additive_system(graph))``, once per graph: the count and the basis share its
    blocks and their ranks."""
    if graph not in _ADDITIVE_BLOCKS:
        _ADDITIVE_BLOCKS[graph] = decompose(additive_system(graph))
    return _ADDITIVE_BLOCKS[graph]


def additive_system(graph: ConstraintGraph) -> SparseSystem:
    """The reduced additive system ``A`` on classes (rows as the graph left them: same row space
    as :attr:`ConstraintGraph.reduced_additive`)."""
    rows, classes, coeffs = graph.reduced_coo
    num_rows = int(rows.max()) + 1 if rows.size else 0
    return SparseSystem(rows, classes, coeffs, num_rows, graph.num_classes)


def slot_system(graph: ConstraintGraph) -> SparseSystem:
    """The slot-sum matrix ``M`` on classes: row ``s`` is ``Σ_{w ∈ slot s} e_{class(w)}``."""
    index = graph.system.index
    slots = index.slot_of_weight(np.arange(index.num_weights, dtype=np.int64))
    width = max(graph.num_classes, 1)
    keys, counts = np.unique(slots * width + graph.class_of_weight, return_counts=True)
    slot_ids, class_ids = np.divmod(keys, width)
    return SparseSystem(slot_ids, class_ids, counts.astype(np.int64), index.num_slots, graph.num_classes)


def _slot_rows(graph: ConstraintGraph) -> list[dict[int, int]]:
    """Unique slot-sum rows ``Σ_{w ∈ slot} e_{class(w)}`` on classes (rows that are
    single classes collapse to one row per class)."""
    index = graph.system.index
    slots = index.slot_of_weight(np.arange(index.num_weights, dtype=np.int64))
    classes = graph.class_of_weight
    width = graph.num_classes
    keys, counts = np.unique(slots * width + classes, return_counts=True)
    slot_ids, class_ids = np.divmod(keys, width)
    boundaries = np.concatenate([[0], np.nonzero(np.diff(slot_ids))[0] + 1, [slot_ids.size]])
    sizes = np.diff(boundaries)
    singles = np.unique(class_ids[boundaries[:-1][sizes == 1]])
    rows: dict[tuple[tuple[int, int], ...], None] = {((int(c), 1),): None for c in singles}
    for lo, hi in zip(boundaries[:-1][sizes > 1].tolist(), boundaries[1:][sizes > 1].tolist(), strict=True):
        values = counts[lo:hi].tolist()
        divisor = math.gcd(*values)
        rows[
            tuple((int(c), v // divisor) for c, v in zip(class_ids[lo:hi].tolist(), values, strict=True))
        ] = None
    return [dict(row) for row in rows]


def group_order(spec: LayerSpec | MatrixLayerSpec) -> int | None:
    """Exact order: n! for Sₙ, n for Cₙ, 2n for Dₙ (n ≥ 3), H·W for the torus, sympy's Schreier–Sims
    for custom groups and the torus with the square's symmetries; for a matrix group its order when it
    is finite (``2ⁿ n!`` for ``B(n)``), ``None`` when it is continuous."""
    if isinstance(spec, MatrixLayerSpec):
        return spec.group.order
    n = spec.n
    if spec.group == "symmetric":
        return math.factorial(n)
    if spec.group == "cyclic":
        return n
    if spec.group == "dihedral":
        return 2 * n if n >= 3 else n
    if spec.group == "torus":
        return n  # C_H × C_W
    return groups.group_order(n, spec.group_generators)
