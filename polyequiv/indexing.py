"""Numbering of weights, monomials and "slots", and their printable names.

Vocabulary
----------
* An **input** is a coordinate of the spec's input representation (an element
  ``i`` for a set, an edge ``{i, j}`` for ``E``, see :mod:`polyequiv.reps`) or the
  bias input, numbered last (index ``n`` for a set, printed ``b``); an **output**
  is a coordinate of the output representation.
* A **monomial** is a sorted index tuple ``m = (i₁ ≤ … ≤ i_d)`` over the
  ``N`` inputs (``N = n + bias`` for a set).
  Monomials are numbered in lexicographic order.
* An **index tuple** ``t`` is what a weight is attached to: the monomials
  themselves (``ordered`` indexing) or every tuple in ``N^d`` in lexicographic
  order (``full`` indexing).
* A **weight** is ``W^k_t``: output ``k`` (absent when invariant) and tuple
  ``t``; its id is ``k·T + index(t)`` with ``T`` the number of tuples.
* A **slot** is ``(k, m)``: all weights of output ``k`` whose tuple sorts to
  monomial ``m``; their sum is the coefficient of ``x^m`` in ``y_k``.  Its id
  is ``k·M + rank(m)``.  With ordered indexing slots and weights coincide.

Every coefficient-matching equation compares two slot sums, which is what
both engines produce and what :mod:`polyequiv.counting` relies on.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from polyequiv.matrix_spec import MatrixLayerSpec
from polyequiv.spec import LayerSpec

BIAS_LABEL = "b"


@dataclass(frozen=True)
class WeightIndex:
    """Weights, tuples, monomials and slots of one :class:`LayerSpec` (or :class:`MatrixLayerSpec`: its
    inputs and outputs are the coordinates of :mod:`polyequiv.matrix_reps`)."""

    spec: LayerSpec | MatrixLayerSpec

    # ------------------------------------------------------------------ sizes
    @property
    def num_inputs(self) -> int:
        return self.spec.num_inputs

    @property
    def num_outputs(self) -> int:
        return self.spec.num_outputs

    @cached_property
    def monomials(self) -> np.ndarray:
        """``(M, d)`` int array of sorted index tuples in lexicographic order."""
        d, big_n = self.spec.degree, self.num_inputs
        combos = itertools.combinations_with_replacement(range(big_n), d)
        flat = np.fromiter(itertools.chain.from_iterable(combos), dtype=np.int64)
        return flat.reshape(-1, d) if d else np.zeros((1, 0), dtype=np.int64)

    @cached_property
    def tuples(self) -> np.ndarray:
        """``(T, d)`` index tuples that carry a weight, in lexicographic order."""
        if self.spec.indexing == "ordered":
            return self.monomials
        d, big_n = self.spec.degree, self.num_inputs
        grids = np.indices((big_n,) * d).reshape(d, -1).T if d else np.zeros((1, 0), dtype=np.int64)
        return np.ascontiguousarray(grids, dtype=np.int64)

    @property
    def num_monomials(self) -> int:
        return int(self.monomials.shape[0])

    @property
    def num_tuples(self) -> int:
        return int(self.tuples.shape[0])

    @property
    def num_weights(self) -> int:
        return self.num_outputs * self.num_tuples

    @property
    def num_slots(self) -> int:
        return self.num_outputs * self.num_monomials

    # ------------------------------------------------------------------ ranking
    @cached_property
    def _monomial_codes(self) -> np.ndarray:
        return self.tuple_codes(self.monomials)

    def tuple_codes(self, rows: np.ndarray) -> np.ndarray:
        """Base-N integer code of each row; increasing in lexicographic order."""
        code = np.zeros(rows.shape[0], dtype=np.int64)
        for column in range(rows.shape[1]):
            code = code * self.num_inputs + rows[:, column]
        return code

    def monomial_rank(self, sorted_rows: np.ndarray) -> np.ndarray:
        """Rank (row number in :attr:`monomials`) of each sorted index tuple."""
        return np.searchsorted(self._monomial_codes, self.tuple_codes(sorted_rows))

    @cached_property
    def tuple_slot(self) -> np.ndarray:
        """For each tuple, the rank of the monomial it multiplies (its sorted form)."""
        if self.spec.indexing == "ordered":
            return np.arange(self.num_tuples, dtype=np.int64)
        return self.monomial_rank(np.sort(self.tuples, axis=1))

    def slot_of_weight(self, weight_ids: np.ndarray) -> np.ndarray:
        """Slot id ``k·M + rank(sorted t)`` of each weight id."""
        weight_ids = np.asarray(weight_ids, dtype=np.int64)
        outputs, tuple_ids = np.divmod(weight_ids, self.num_tuples)
        return outputs * self.num_monomials + self.tuple_slot[tuple_ids]

    @cached_property
    def slot_weights(self) -> tuple[np.ndarray, np.ndarray]:
        """CSR layout ``(indptr, weight_ids)`` of the weights of each slot, ids ascending."""
        slots = self.slot_of_weight(np.arange(self.num_weights, dtype=np.int64))
        order = np.argsort(slots, kind="stable")
        counts = np.bincount(slots, minlength=self.num_slots)
        indptr = np.concatenate([[0], np.cumsum(counts)])
        return indptr, order.astype(np.int64)

    # ------------------------------------------------------------------ names
    @cached_property
    def _input_labels(self) -> list[str]:
        labels = self.spec.input_labels()
        return labels + ([BIAS_LABEL] if self.spec.bias else [])

    @cached_property
    def _output_labels(self) -> list[str]:
        return self.spec.output_labels()

    @cached_property
    def _separate_indices(self) -> bool:
        return self.num_inputs > 10 or max(map(len, self._input_labels)) > 1

    def index_label(self, index: int) -> str:
        """``"3"`` for element 3, ``"01"`` for the edge {0,1}, ``"b"`` for the bias input."""
        return self._input_labels[index]

    def output_label(self, output: int) -> str:
        """``"3"`` for output 3 of a set layer, ``"01"`` for the output on edge {0,1}."""
        return self._output_labels[output]

    def _subscript(self, tuple_row: np.ndarray) -> str:
        labels = [self.index_label(int(i)) for i in tuple_row]
        if not labels:
            return ""
        if self._separate_indices and (len(labels) > 1 or len(labels[0]) > 1):
            return "_{" + ",".join(labels) + "}"
        return "_" + "".join(labels)

    def weight_key(self, weight_id: int) -> tuple[int | None, tuple[int, ...]]:
        """``(output or None, index tuple)`` of a weight id."""
        output, tuple_id = divmod(int(weight_id), self.num_tuples)
        row = tuple(int(i) for i in self.tuples[tuple_id])
        return (output if self.spec.equivariant else None), row

    def weight_name(self, weight_id: int) -> str:
        """Printable name following the seed: ``W^k_ij`` (``W_ij`` when invariant).

        Braces appear only where needed (``W^{12}_{3,10}`` when n > 10; for tensors
        ``W^{01}_{02,12}``: output edge {0,1}, input edges {0,2} and {1,2}); the same string is
        the sympy symbol's name, so ``sympy.latex`` prints it as ``W^{k}_{ij}``.
        """
        output, tuple_id = divmod(int(weight_id), self.num_tuples)
        sub = self._subscript(self.tuples[tuple_id])
        if not self.spec.equivariant:
            return "W" + sub
        label = self.output_label(output)
        sup = f"^{label}" if len(label) == 1 else "^{" + label + "}"
        return "W" + sup + sub

    def weight_latex(self, weight_id: int) -> str:
        """LaTeX form ``W^{k}_{ij}``."""
        output, tuple_id = divmod(int(weight_id), self.num_tuples)
        labels = [self.index_label(int(i)) for i in self.tuples[tuple_id]]
        sep = "," if self._separate_indices else ""
        sub = "_{" + sep.join(labels) + "}" if labels else ""
        sup = "^{" + self.output_label(output) + "}" if self.spec.equivariant else ""
        return "W" + sup + sub

    def monomial_name(self, rank: int) -> str:
        """``x_0 x_1^2`` style name of monomial ``rank`` (``1`` for the constant; ``x_{01}`` for an edge)."""
        row = self.monomials[rank]
        factors = []
        bias = self.spec.num_coordinates
        for index, power in zip(*np.unique(row[row != bias], return_counts=True), strict=True):
            label = self.index_label(int(index))
            name = "x_" + label if self.spec.input.is_set or len(label) == 1 else "x_{" + label + "}"
            factors.append(name + (f"^{int(power)}" if power > 1 else ""))
        return " ".join(factors) or "1"
