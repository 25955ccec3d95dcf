"""`TyingScheme`: a derived layer as plain data, and its validated JSON file.

A scheme holds what a tied layer needs and nothing else:

* the :class:`LayerSpec` (or :class:`MatrixLayerSpec` for a matrix group);
* ``class_of_weight``: weight id → class id (see :mod:`polyequiv.indexing` for
  the numbering of weights);
* ``basis``: the exact basis ``B`` (classes × free parameters, rational) of the
  class values the additive constraints allow, so that
  ``weights = B[class_of_weight] · θ`` for the free parameters ``θ``.

File format (``format: "polyequiv-tying-scheme"``, ``version: 1``)::

    {"format": ..., "version": 1, "spec": {...LayerSpec.to_dict()},
     "num_weights": W, "num_classes": C, "num_free": F, "function_dim": D,
     "class_of_weight": [...W ints...],
     "basis": {"rows": [...], "cols": [...], "num": [...], "den": [...]},
     "sha256": "<hex digest of the canonical JSON of every other field>"}

:func:`load_scheme` checks every field (types, sizes, ranges, the hash) and, by
default, derives the spec again and requires the same classes and basis, so a
file that is malformed, of another version, or altered by hand is refused with
a :class:`SchemeFileError` naming what is wrong.  :meth:`TyingScheme.save` writes
atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from polyequiv import limits
from polyequiv.derivation import Derivation, derive
from polyequiv.errors import SchemeFileError, SpecError
from polyequiv.fileio import atomic_write_text
from polyequiv.specs import AnySpec, spec_from_dict

FORMAT = "polyequiv-tying-scheme"
VERSION = 1


@dataclass(frozen=True)
class TyingScheme:
    """Classes and exact free-parameter basis of a derived layer.

    Attributes
    ----------
    spec : LayerSpec or MatrixLayerSpec
    class_of_weight : (W,) int64 array
    basis : tuple of (class, free parameter, Fraction) triplets, the nonzeros of ``B``
    num_classes, num_free, function_dim : int
    """

    spec: AnySpec
    class_of_weight: np.ndarray
    basis: tuple[tuple[int, int, Fraction], ...]
    num_classes: int
    num_free: int
    function_dim: int

    @classmethod
    def from_derivation(cls, result: Derivation) -> TyingScheme:
        triplets = tuple(
            (int(c), j, Fraction(v))
            for j, vector in enumerate(result.free_basis)
            for c, v in sorted(vector.items())
        )
        return cls(
            spec=result.spec,
            class_of_weight=result.graph.class_of_weight.copy(),
            basis=triplets,
            num_classes=result.distinct_weights,
            num_free=result.free_parameters,
            function_dim=result.function_dim,
        )

    @classmethod
    def from_spec(cls, spec: AnySpec, engine: str = "auto") -> TyingScheme:
        return cls.from_derivation(derive(spec, engine=engine))

    @property
    def num_weights(self) -> int:
        return int(self.class_of_weight.shape[0])

    @property
    def equalities_only(self) -> bool:
        """True when every class is its own free parameter (``B`` is the identity)."""
        return self.num_free == self.num_classes and all(c == j and v == 1 for c, j, v in self.basis)

    def class_basis(self) -> np.ndarray:
        """``B`` as a dense float64 array, classes × free parameters."""
        matrix = np.zeros((self.num_classes, self.num_free))
        for c, j, v in self.basis:
            matrix[c, j] = float(v)
        return matrix

    def weight_basis(self) -> np.ndarray:
        """``B[class_of_weight]``: weights × free parameters, so that ``weights = B_w θ``."""
        return self.class_basis()[self.class_of_weight]

    # ------------------------------------------------------------------ files
    def to_dict(self) -> dict[str, Any]:
        content = {
            "format": FORMAT,
            "version": VERSION,
            "spec": self.spec.to_dict(),
            "num_weights": self.num_weights,
            "num_classes": self.num_classes,
            "num_free": self.num_free,
            "function_dim": self.function_dim,
            "class_of_weight": self.class_of_weight.tolist(),
            "basis": {
                "rows": [c for c, _, _ in self.basis],
                "cols": [j for _, j, _ in self.basis],
                "num": [v.numerator for _, _, v in self.basis],
                "den": [v.denominator for _, _, v in self.basis],
            },
        }
        content["sha256"] = content_hash(content)
        return content

    def save(self, path: str | os.PathLike) -> Path:
        """Write the scheme as JSON, atomically."""
        return atomic_write_text(path, json.dumps(self.to_dict(), separators=(",", ":")) + "\n")


def content_hash(content: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON (sorted keys, no spaces) of every field but ``sha256``."""
    body = {k: v for k, v in content.items() if k != "sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


#: Bytes of the largest scheme file read: ≈ 20 per weight at :data:`limits.MAX_WEIGHTS`, with room.
MAX_SCHEME_BYTES = 1_000_000_000


def load_scheme(path: str | os.PathLike, *, rederive: bool = True) -> TyingScheme:
    """Read and validate a scheme file written by :meth:`TyingScheme.save`.

    Parameters
    ----------
    path : path-like
    rederive : bool
        Also derive the spec again and require identical classes and basis
        (catches a file whose hash was recomputed after an edit).

    Raises
    ------
    SchemeFileError
        If the file is missing, not JSON, of another format or version, has a
        field of the wrong type, size or range, a wrong hash, or (with
        ``rederive``) does not match a fresh derivation.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise SchemeFileError(f"load_scheme needs a file path, got {type(path).__name__} {path!r}")
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_SCHEME_BYTES:
            raise SchemeFileError(
                f"{path} holds {size:,} bytes, more than any scheme the engines can write "
                f"(limit {MAX_SCHEME_BYTES:,}); is it a scheme file?"
            )
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        raise SchemeFileError(f"cannot read scheme file {path}: {reason}") from None
    if not text.strip():
        raise SchemeFileError(f"{path} is empty (not a scheme file)")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise SchemeFileError(f"{path} is not valid JSON ({error.msg} at line {error.lineno})") from None
    return scheme_from_dict(data, source=str(path), rederive=rederive)


def scheme_from_dict(data: Any, *, source: str = "scheme", rederive: bool = True) -> TyingScheme:
    """Validate a parsed scheme document; see :func:`load_scheme`."""

    def fail(reason: str) -> SchemeFileError:
        return SchemeFileError(f"{source}: {reason}")

    if not isinstance(data, dict):
        raise fail("the top level must be a JSON object")
    if data.get("format") != FORMAT:
        raise fail(f"format is {data.get('format')!r}, expected {FORMAT!r}")
    if data.get("version") != VERSION:
        raise fail(
            f"version {data.get('version')!r} is not supported (this polyequiv reads version {VERSION})"
        )
    expected = {
        "format",
        "version",
        "spec",
        "num_weights",
        "num_classes",
        "num_free",
        "function_dim",
        "class_of_weight",
        "basis",
        "sha256",
    }
    if set(data) != expected:
        missing, extra = sorted(expected - set(data)), sorted(set(data) - expected)
        raise fail(f"fields differ from the format (missing {missing}, unexpected {extra})")
    if data["sha256"] != content_hash(data):
        raise fail("content hash does not match: the file was changed after it was written")
    try:
        spec = spec_from_dict(data["spec"])
    except (SpecError, TypeError) as error:
        raise fail(f"invalid spec: {error}") from None
    for name in ("num_weights", "num_classes", "num_free", "function_dim"):
        if isinstance(data[name], bool) or not isinstance(data[name], int) or data[name] < 0:
            raise fail(f"{name} must be a non-negative integer, got {data[name]!r}")
    if data["num_weights"] != limits.estimate_weights(spec):
        raise fail(
            f"num_weights is {data['num_weights']} but {spec} has {limits.estimate_weights(spec)} weights"
        )
    classes = _int_array(data["class_of_weight"], "class_of_weight", fail)
    if classes.shape != (data["num_weights"],):
        raise fail(
            f"class_of_weight has {classes.size} entries, expected num_weights = {data['num_weights']}"
        )
    num_classes = data["num_classes"]
    if classes.size and (classes.min() < 0 or classes.max() >= num_classes):
        raise fail(f"class ids must lie in 0..{num_classes - 1}")
    if np.unique(classes).size != num_classes:
        raise fail("some class has no weight")
    basis = data["basis"]
    if not isinstance(basis, dict) or set(basis) != {"rows", "cols", "num", "den"}:
        raise fail("basis must be an object with rows, cols, num, den")
    rows, cols = (_int_array(basis[k], f"basis.{k}", fail) for k in ("rows", "cols"))
    nums, dens = (_int_list(basis[k], f"basis.{k}", fail) for k in ("num", "den"))
    if not rows.size == cols.size == len(nums) == len(dens):
        raise fail("basis rows, cols, num and den differ in length")
    if rows.size and (rows.min() < 0 or rows.max() >= num_classes):
        raise fail("basis row out of range")
    if cols.size and (cols.min() < 0 or cols.max() >= data["num_free"]):
        raise fail("basis column out of range")
    if any(q <= 0 for q in dens):
        raise fail("basis denominators must be positive")
    triplets = tuple(
        (int(r), int(c), Fraction(int(p), int(q))) for r, c, p, q in zip(rows, cols, nums, dens, strict=True)
    )
    scheme = TyingScheme(spec, classes, triplets, num_classes, data["num_free"], data["function_dim"])
    if rederive:
        fresh = TyingScheme.from_spec(spec, engine="sparse")
        same = (
            np.array_equal(fresh.class_of_weight, scheme.class_of_weight)
            and fresh.basis == scheme.basis
            and (fresh.num_free, fresh.function_dim) == (scheme.num_free, scheme.function_dim)
        )
        if not same:
            raise fail(f"classes or basis differ from a fresh derivation of {spec}")
    return scheme


def _int_list(values: Any, name: str, fail) -> list[int]:
    if not isinstance(values, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in values
    ):
        raise fail(f"{name} must be a list of integers")
    return values


def _int_array(values: Any, name: str, fail) -> np.ndarray:
    values = _int_list(values, name, fail)
    if any(abs(v) >= 2**62 for v in values):
        raise fail(f"{name} has an entry out of range")
    return np.asarray(values, dtype=np.int64)
