"""What every task domain shares: the error type and the sizes of the splits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Set elements (train + valid + every test split) a task may generate: 800 MB as float64.
MAX_TASK_ELEMENTS = 100_000_000


class TaskError(ValueError):
    """An unknown task name or sizes a task cannot be generated with."""


@dataclass(frozen=True)
class TaskSizes:
    """How many sets to draw, and of which cardinalities.

    Attributes
    ----------
    train, valid : int
        Training and validation sets (``valid`` may be 0: no validation split).
    test : int
        Test sets per test cardinality.
    cardinalities : tuple of int
        Test cardinalities; every test set of cardinality ``c`` holds exactly ``c`` elements, unpadded.
    min_train, max_train : int
        Training cardinalities are uniform in ``min_train..max_train``; sets are padded to ``max_train``.
    """

    train: int
    valid: int
    test: int
    cardinalities: tuple[int, ...]
    min_train: int
    max_train: int

    def __post_init__(self) -> None:
        for name in ("train", "test", "min_train"):
            if getattr(self, name) < 1:
                raise TaskError(f"{name} size must be ≥ 1, got {getattr(self, name)}")
        if self.valid < 0:
            raise TaskError(f"valid size must be ≥ 0, got {self.valid}")
        if self.max_train < self.min_train:
            raise TaskError(f"max_train ({self.max_train}) is below min_train ({self.min_train})")
        if not self.cardinalities or min(self.cardinalities) < 1:
            raise TaskError(f"test cardinalities must be ≥ 1, got {list(self.cardinalities)}")
        if self.elements > MAX_TASK_ELEMENTS:
            raise TaskError(
                f"refused: these sizes generate {self.elements:,} set elements ({self.train:,} + "
                f"{self.valid:,} training/validation sets of up to {self.max_train:,}, {self.test:,} test "
                f"sets per cardinality up to {max(self.cardinalities):,}); the limit is {MAX_TASK_ELEMENTS:,}"
            )

    @property
    def elements(self) -> int:
        """Set elements generated, padding included: ``(train + valid)·max_train + test·Σ cardinalities``."""
        return (self.train + self.valid) * self.max_train + self.test * sum(self.cardinalities)

    def to_dict(self) -> dict[str, Any]:
        return {
            "train": self.train,
            "valid": self.valid,
            "test": self.test,
            "cardinalities": list(self.cardinalities),
            "min_train": self.min_train,
            "max_train": self.max_train,
        }
