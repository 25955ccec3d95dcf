"""Exceptions with messages that name the bad value."""

from __future__ import annotations


class SpecError(ValueError):
    """A layer description, group or generator set that cannot be used, with the reason."""


class SizeLimitError(ValueError):
    """A request too large to run here, refused up front with the estimate that decided it.

    Attributes
    ----------
    estimate : int
        The estimated quantity (number of weights, moved slots, ...).
    limit : int
        The limit it exceeds.
    """

    def __init__(self, message: str, *, estimate: int, limit: int) -> None:
        super().__init__(message)
        self.estimate = estimate
        self.limit = limit


class SchemeFileError(ValueError):
    """A tying-scheme file that is malformed, of an unknown version, or altered after writing."""
