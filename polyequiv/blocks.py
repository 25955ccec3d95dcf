"""Exact rank and nullspace of a sparse integer system, block by block.

The additive constraints of a layer only couple weights of the same joint orbit,
and most of their structure is combinatorial.  This module takes the exact rank
over Q and the reduced-row-echelon (RREF) nullspace basis of a sparse integer
matrix ``A`` through three reductions, each of which keeps the rank *and* the
RREF basis (the one :func:`polyequiv.exact.exact_nullspace` returns) identical:

1. **Proportional columns.**  A column ``g`` equal to ``λ_g`` times an earlier
   column ``r`` (its representative) is never a pivot, so ``A`` and the matrix
   ``A'`` of representatives have the same rank, ``RREF(A') = RREF(A)[:, reps]``
   and the null vector of the free column ``g`` is ``e_g − λ_g e_r`` when ``r``
   is a pivot, ``e_g + λ_g (v_r − e_r)`` when ``r`` is free with null vector
   ``v_r``.  With full indexing the weights ``W^k_ij`` and ``W^k_ji`` always
   appear together (the constraints compare slot sums), so this collapses every
   slot to one column.
2. **Connected blocks.**  Columns that share a row are connected (a bipartite
   graph column ↔ row, components by ``scipy.sparse.csgraph``).  After a row and
   column permutation ``A'`` is block diagonal, the rank is the sum over
   blocks, and a column is a pivot of ``A'`` exactly when it is one of its
   block (columns keep their order inside a block).
3. **Incidence blocks.**  A block whose rows are all ``c·(e_a − e_b)`` is the
   incidence matrix of a connected graph: rank ``|K| − 1``, pivots every column
   but the last, null vector the all-ones vector ``1_K``.  A row with a single
   nonzero ``c·e_a`` (a *grounded* block) forces ``x = 0``: rank ``|K|``.

Every other block (**general**) is eliminated exactly over Q; blocks equal up to
an order-preserving renumbering of their columns (the same orbit type) are
eliminated once.  A block whose dense matrix has at most
``MAX_DENSE_RANK_ENTRIES`` entries goes to FLINT's fraction-free integer
elimination (rank, and the RREF for the nullspace), in C.  A larger one is
ranked modulo the prime ``2⁶¹ − 1`` first: a rank mod p never exceeds the rank
over Q, so a modular rank equal to ``min(rows, columns)`` proves full rank, and
only rank-deficient blocks go to sympy's sparse ``DomainMatrix`` over Q.

    >>> system = SparseSystem.from_rows([{0: 1, 1: 1, 2: -1, 3: -1}, {2: 1, 3: 1, 4: -1}], 5)
    >>> blockwise_rank(system), blockwise_nullspace(system)[0]
    (2, {1: Fraction(1, 1), 0: Fraction(-1, 1)})
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property

import numpy as np

from polyequiv import limits
from polyequiv.errors import SizeLimitError
from polyequiv.exact import (
    MAX_DENSE_RANK_ENTRIES,
    MERSENNE_61,
    SparseRow,
    dense_nullspace_by_free_column,
    dense_rank,
    exact_rank,
    modular_rank,
    nullspace_by_free_column,
)


@dataclass(frozen=True)
class SparseSystem:
    """A sparse integer matrix as COO arrays (int64; duplicate entries are summed).

    Attributes
    ----------
    rows, cols, vals : (nnz,) int64 arrays
    num_rows, num_columns : int
    """

    rows: np.ndarray
    cols: np.ndarray
    vals: np.ndarray
    num_rows: int
    num_columns: int

    @classmethod
    def from_rows(cls, rows: Sequence[SparseRow], num_columns: int) -> SparseSystem:
        """From sparse rows ``{column: coefficient}`` (the form :mod:`polyequiv.exact` takes)."""
        sizes = [len(row) for row in rows]
        return cls(
            rows=np.repeat(np.arange(len(rows), dtype=np.int64), sizes),
            cols=np.fromiter((int(c) for row in rows for c in row), dtype=np.int64, count=sum(sizes)),
            vals=np.fromiter((int(v) for row in rows for v in row.values()), dtype=np.int64,
                             count=sum(sizes)),
            num_rows=len(rows),
            num_columns=num_columns,
        )

    @property
    def nnz(self) -> int:
        return int(self.vals.size)

    def stacked(self, other: SparseSystem) -> SparseSystem:
        """``[self; other]`` (same columns)."""
        if other.num_columns != self.num_columns:
            raise ValueError(f"cannot stack {other.num_columns} columns under {self.num_columns}")
        return SparseSystem(
            rows=np.concatenate([self.rows, other.rows + self.num_rows]),
            cols=np.concatenate([self.cols, other.cols]),
            vals=np.concatenate([self.vals, other.vals]),
            num_rows=self.num_rows + other.num_rows,
            num_columns=self.num_columns,
        )

    def to_rows(self) -> list[dict[int, int]]:
        """Sparse rows ``{column: coefficient}`` (zero rows kept as ``{}``)."""
        out: list[dict[int, int]] = [{} for _ in range(self.num_rows)]
        for r, c, v in zip(self.rows.tolist(), self.cols.tolist(), self.vals.tolist(), strict=True):
            out[r][c] = out[r].get(c, 0) + v
        return [{c: v for c, v in row.items() if v} for row in out]


@dataclass
class BlockStats:
    """What the decomposition found (for benchmarks and refusals)."""

    incidence_blocks: int = 0
    grounded_blocks: int = 0
    general_blocks: int = 0
    distinct_general_blocks: int = 0
    largest_general_nonzeros: int = 0
    merged_columns: int = 0


@dataclass
class _Block:
    """A general block in local coordinates: columns ``cols`` (ascending), rows over ``0..len(cols)−1``."""

    cols: np.ndarray
    local_rows: tuple[tuple[tuple[int, int], ...], ...]

    @property
    def nnz(self) -> int:
        return sum(map(len, self.local_rows))


@dataclass
class BlockDecomposition:
    """Proportional columns merged, the remaining matrix cut into connected blocks.

    Attributes
    ----------
    num_columns : int
    rep : (C,) int64 array
        Representative (smallest proportional column) of every column; ``rep[c] == c`` for
        representatives and for zero columns.
    scale_num, scale_den : (C,) int64 arrays
        ``λ_c = num/den`` with ``column c = λ_c · column rep[c]`` (1 for representatives).
    active : (C,) bool array
        Representatives with at least one nonzero.
    incidence_columns, incidence_grounded : lists
        The columns (ascending) of each incidence block, and whether a single-entry row grounds it.
    general : list of _Block
        The other blocks, in local coordinates.
    stats : BlockStats
    """

    num_columns: int
    rep: np.ndarray
    scale_num: np.ndarray
    scale_den: np.ndarray
    active: np.ndarray
    incidence_columns: list[np.ndarray]
    incidence_grounded: list[bool]
    general: list[_Block]
    stats: BlockStats = field(default_factory=BlockStats)

    def scale(self, column: int) -> Fraction:
        return Fraction(int(self.scale_num[column]), int(self.scale_den[column]))

    @cached_property
    def _general_ranks(self) -> dict[tuple, int]:
        """The rank of each distinct general block, keyed by ``(columns, local rows)``."""
        ranks: dict[tuple, int] = {}
        for block in self.general:
            key = (len(block.cols), block.local_rows)
            if key not in ranks:
                ranks[key] = _general_rank(block)
        return ranks

    @cached_property
    def rank(self) -> int:
        blocks = zip(self.incidence_columns, self.incidence_grounded, strict=True)
        rank = sum(len(columns) - (not grounded) for columns, grounded in blocks)
        ranks = self._general_ranks
        return rank + sum(ranks[(len(block.cols), block.local_rows)] for block in self.general)

    def nullspace(self) -> list[dict[int, Fraction]]:
        """The RREF nullspace basis of the original matrix, ordered by free column."""
        vectors: dict[int, dict[int, Fraction]] = {}
        for columns, grounded in zip(self.incidence_columns, self.incidence_grounded, strict=True):
            if not grounded:
                cols = columns.tolist()
                vectors[cols[-1]] = dict.fromkeys(cols, Fraction(1))
        cache: dict[tuple, list[tuple[int, dict[int, Fraction]]]] = {}
        for block in self.general:
            key = (len(block.cols), block.local_rows)
            if self._general_ranks[key] == len(block.cols):
                continue  # full column rank: no free column
            if key not in cache:
                rows = [dict(row) for row in block.local_rows]
                if len(rows) * len(block.cols) <= MAX_DENSE_RANK_ENTRIES:
                    cache[key] = dense_nullspace_by_free_column(rows, len(block.cols))  # FLINT, in C
                else:
                    cache[key] = nullspace_by_free_column(rows, len(block.cols))
            cols = block.cols.tolist()
            for free, local in cache[key]:
                vectors[cols[free]] = {cols[c]: v for c, v in local.items()}
        rep = self.rep.tolist()
        active = self.active.tolist()
        for column in range(self.num_columns):
            r = rep[column]
            if r == column:
                if not active[column]:
                    vectors[column] = {column: Fraction(1)}
                continue
            lam = self.scale(column)
            vector = {column: Fraction(1)}
            if r in vectors:  # the representative is free: e_g + λ (v_r − e_r)
                for c, v in vectors[r].items():
                    if c != r:
                        vector[c] = lam * v
            else:
                vector[r] = -lam
            vectors[column] = vector
        return [vectors[c] for c in sorted(vectors)]


#: Work (rows · columns · min(rows, columns)) above which a block too large for a dense matrix is
#: refused instead of eliminated in Python (minutes and more).
MAX_SPARSE_ELIMINATION_WORK = 200_000_000_000


def _general_rank(block: _Block) -> int:
    """Exact rank of a general block: FLINT's dense fraction-free rank where the dense matrix fits,
    else a sparse rank modulo ``2⁶¹ − 1`` (a proof when it is full) and sympy over Q when it is not."""
    rows = [dict(row) for row in block.local_rows]
    bound = min(len(rows), len(block.cols))
    entries = len(rows) * len(block.cols)
    if entries <= MAX_DENSE_RANK_ENTRIES:
        return dense_rank(rows, len(block.cols))  # FLINT, exact, in C
    if entries * bound > MAX_SPARSE_ELIMINATION_WORK:
        raise SizeLimitError(
            f"the constraints form a block of {len(rows):,} equations in {len(block.cols):,} weights "
            f"({sum(map(len, rows)):,} nonzeros); exact elimination would take about {entries * bound:.2e} "
            f"operations (minutes to hours); the limit is {MAX_SPARSE_ELIMINATION_WORK:.1e}. Use a lower "
            "degree or smaller representations",
            estimate=entries * bound, limit=MAX_SPARSE_ELIMINATION_WORK)
    if modular_rank(rows, MERSENNE_61) == bound:
        return bound  # rank mod p ≤ rank over Q ≤ min(rows, columns)
    return exact_rank(rows, len(block.cols))


def _mix(x: np.ndarray) -> np.ndarray:
    """A 64-bit mixing function on uint64 (xor-shift-multiply, wrapping): spreads each value's bits."""
    with np.errstate(over="ignore"):
        x = x ^ (x >> np.uint64(31))
        x *= np.uint64(0xBF58476D1CE4E5B9)
        return x ^ (x >> np.uint64(29))


def _canonical_entries(system: SparseSystem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Entries summed per (row, column), zeros dropped, sorted by (column, row)."""
    rows, cols, vals = system.rows, system.cols, system.vals
    if rows.size == 0:
        return rows, cols, vals
    width = max(system.num_rows, 1)
    keys = cols * width + rows
    order = np.argsort(keys, kind="stable")
    keys, vals = keys[order], vals[order]
    starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    if starts.size < keys.size:  # repeated (row, column): add them up
        keys, vals = keys[starts], np.add.reduceat(vals, starts)
    keep = vals != 0
    keys, vals = keys[keep], vals[keep]
    return keys % width, keys // width, vals


def _proportional_columns(
    rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, num_columns: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Representative and scale ``λ = num/den`` of every column (entries sorted by (column, row)).

    Each column is divided by the gcd of its entries and signed by its first
    entry; columns with the same normalised entries are proportional.  They are
    grouped by a 64-bit hash and the grouping is then checked entry by entry, so
    a hash collision only costs a merge, never a wrong answer.
    """
    rep = np.arange(num_columns, dtype=np.int64)
    num = np.ones(num_columns, dtype=np.int64)
    den = np.ones(num_columns, dtype=np.int64)
    if cols.size == 0:
        return rep, num, den
    counts = np.bincount(cols, minlength=num_columns)
    offsets = np.zeros(num_columns + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    present = np.flatnonzero(counts)
    starts = offsets[present]
    factor = np.zeros(num_columns, dtype=np.int64)  # column = factor · normalised
    factor[present] = np.gcd.reduceat(np.abs(vals), starts) * np.sign(vals[starts])
    normalised = vals // factor[cols]
    with np.errstate(over="ignore"):
        entry = rows.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        entry += normalised.astype(np.uint64) * np.uint64(0x94D049BB133111EB)
        digest = _mix(_mix(np.add.reduceat(_mix(entry), starts)) + counts[present].astype(np.uint64))
    order = np.argsort(digest, kind="stable")  # by digest, then column
    sorted_digest = digest[order]
    group_start = np.concatenate([[True], sorted_digest[1:] != sorted_digest[:-1]])
    first = np.maximum.accumulate(np.where(group_start, np.arange(order.size), 0))
    candidate = rep.copy()
    candidate[present[order]] = present[order[first]]  # smallest column with the same digest
    entry_candidate = candidate[cols]
    moved = np.flatnonzero(entry_candidate != cols)  # entries of columns with an earlier candidate
    c, r = cols[moved], entry_candidate[moved]
    same_count = counts[r] == counts[c]
    mirror = np.where(same_count, offsets[r] + moved - offsets[c], 0)
    equal = same_count & (rows[mirror] == rows[moved]) & (normalised[mirror] == normalised[moved])
    bad = np.zeros(num_columns, dtype=bool)
    bad[c[~equal]] = True
    targets = np.flatnonzero((candidate != rep) & ~bad)
    merged = candidate[targets]
    rep[targets] = merged
    num[targets] = factor[targets]
    den[targets] = factor[merged]
    divisor = np.gcd(num, den) * np.where(den < 0, -1, 1)
    return rep, num // divisor, den // divisor


def decompose(system: SparseSystem) -> BlockDecomposition:
    """Merge proportional columns and cut the rest into incidence and general blocks.

    Raises
    ------
    SizeLimitError
        When a general block is too large for exact rational elimination.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    stats = BlockStats()
    rows, cols, vals = _canonical_entries(system)
    rep, num, den = _proportional_columns(rows, cols, vals, system.num_columns)
    stats.merged_columns = int(np.count_nonzero(rep != np.arange(system.num_columns)))
    keep = rep[cols] == cols
    rows, cols, vals = rows[keep], cols[keep], vals[keep]
    active = np.zeros(system.num_columns, dtype=bool)
    active[cols] = True
    order = np.argsort(rows * system.num_columns + cols)  # by (row, column), keys unique
    rows, cols, vals = rows[order], cols[order], vals[order]
    row_ids, row_start, row_size = np.unique(rows, return_index=True, return_counts=True)
    head = np.repeat(cols[row_start], row_size)
    graph = coo_matrix((np.ones(cols.size, dtype=np.int8), (head, cols)),
                       shape=(system.num_columns, system.num_columns))
    _, label = connected_components(graph, directed=False)
    two = row_size == 2
    is_edge = np.zeros(row_ids.size, dtype=bool)
    is_edge[two] = vals[row_start[two]] == -vals[row_start[two] + 1]
    is_ground = row_size == 1
    row_block = label[cols[row_start]]
    general_block = np.zeros(label.max() + 1 if label.size else 0, dtype=bool)
    general_block[row_block[~(is_edge | is_ground)]] = True
    grounded_block = np.zeros_like(general_block)
    grounded_block[row_block[is_ground]] = True

    active_cols = np.nonzero(active)[0]
    active_labels = label[active_cols]
    by_label = np.argsort(active_labels, kind="stable")
    sorted_labels = active_labels[by_label]
    bounds = np.concatenate([[0], np.nonzero(np.diff(sorted_labels))[0] + 1, [sorted_labels.size]])
    if sorted_labels.size == 0:
        bounds = bounds[:1]
    incidence_columns, incidence_grounded = [], []
    for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        block = int(sorted_labels[lo])
        if general_block[block]:
            continue
        incidence_columns.append(active_cols[by_label[lo:hi]])
        incidence_grounded.append(bool(grounded_block[block]))
    stats.incidence_blocks = sum(not g for g in incidence_grounded)
    stats.grounded_blocks = sum(incidence_grounded)

    general = _general_blocks(rows, cols, vals, label, general_block)
    stats.general_blocks = len(general)
    stats.distinct_general_blocks = len({(len(b.cols), b.local_rows) for b in general})
    stats.largest_general_nonzeros = max((b.nnz for b in general), default=0)
    limits.check_exact(stats.largest_general_nonzeros, "the largest general block of the reduced system")
    return BlockDecomposition(
        num_columns=system.num_columns,
        rep=rep,
        scale_num=num,
        scale_den=den,
        active=active,
        incidence_columns=incidence_columns,
        incidence_grounded=incidence_grounded,
        general=general,
        stats=stats,
    )


def _general_blocks(rows, cols, vals, label, general_block) -> list[_Block]:
    """Each general block in local coordinates, rows sorted (so equal blocks have equal keys)."""
    chosen = general_block[label[cols]]
    rows, cols, vals = rows[chosen], cols[chosen], vals[chosen]
    if rows.size == 0:
        return []
    order = np.lexsort((cols, rows, label[cols]))
    rows, cols, vals = rows[order], cols[order], vals[order]
    blocks_of = label[cols]
    bounds = np.concatenate([[0], np.nonzero(np.diff(blocks_of))[0] + 1, [rows.size]])
    # every row divided by the gcd of its entries and signed by its first (same row space)
    row_starts = np.flatnonzero(np.concatenate([[True], rows[1:] != rows[:-1]]))
    row_sizes = np.diff(np.concatenate([row_starts, [rows.size]]))
    divisor = np.gcd.reduceat(np.abs(vals), row_starts) * np.sign(vals[row_starts])
    vals = vals // np.repeat(divisor, row_sizes)
    # local column numbers: rank of the column among its block's columns
    width = int(cols.max()) + 1
    keys, inverse = np.unique(blocks_of * width + cols, return_inverse=True)
    key_blocks, inverse = keys // width, inverse.reshape(-1)
    first_key = np.searchsorted(key_blocks, key_blocks)
    local = (inverse - first_key[inverse]).tolist()
    labels = blocks_of[bounds[:-1]]
    key_bounds = zip(np.searchsorted(key_blocks, labels, "left").tolist(),
                     np.searchsorted(key_blocks, labels, "right").tolist(), strict=True)
    entries = list(zip(local, vals.tolist(), strict=True))
    row_bounds = np.concatenate([row_starts, [rows.size]]).tolist()
    row_tuples = [tuple(entries[a:b]) for a, b in itertools.pairwise(row_bounds)]
    first_row = np.searchsorted(row_starts, bounds).tolist()
    out = []
    for block, (key_lo, key_hi) in enumerate(key_bounds):
        rows_of_block = sorted(set(row_tuples[first_row[block] : first_row[block + 1]]))
        out.append(_Block(keys[key_lo:key_hi] % width, tuple(rows_of_block)))
    return out


def blockwise_rank(system: SparseSystem) -> int:
    """Rank over Q, block by block (equal to :func:`polyequiv.exact.exact_rank`)."""
    return decompose(system).rank


def blockwise_nullspace(system: SparseSystem) -> list[dict[int, Fraction]]:
    """The RREF nullspace basis, block by block (equal to :func:`polyequiv.exact.exact_nullspace`)."""
    return decompose(system).nullspace()
