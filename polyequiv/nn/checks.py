"""Argument and input checks shared by the torch layers: a ``ValueError`` naming the problem up front.

Without them a wrong dtype, a NumPy array or a NaN reaches ``einsum`` or
``reshape`` and comes back as an error from deep inside torch (or, for NaN and
inf, as a silently poisoned output).  Each check costs one pass over the input;
``torch.isfinite(x).all()`` is the only one that reads the values.

    >>> import torch
    >>> check_input("x", torch.ones(2, 3), like=torch.zeros(1))
    >>> check_input("x", torch.ones(2, 3, dtype=torch.float64), like=torch.zeros(1))
    Traceback (most recent call last):
    ...
    ValueError: x has dtype torch.float64 but the layer's parameters are torch.float32; convert one with .to()
"""

from __future__ import annotations

import numbers

import torch
from torch import Tensor


def check_count(name: str, value: object, *, minimum: int = 1, maximum: int | None = None) -> int:
    """An integer argument (channels, degree) in ``minimum .. maximum``; bools and floats are refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"≥ {minimum}" if maximum is None else f"in {minimum}..{maximum}"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return int(value)


def check_dtype(dtype: torch.dtype | None) -> None:
    """Parameters must be floating point (``None``: torch's default dtype)."""
    if dtype is not None and (not isinstance(dtype, torch.dtype) or not dtype.is_floating_point):
        raise ValueError(f"dtype must be a floating-point torch.dtype such as torch.float32, got {dtype!r}")


def check_input(name: str, x: object, *, like: Tensor) -> None:
    """``x`` is a finite floating tensor with the dtype and device of the parameter ``like``."""
    if not isinstance(x, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__} (use torch.as_tensor)")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor ({like.dtype}), got {x.dtype}")
    if x.dtype != like.dtype and not torch.is_autocast_enabled():
        raise ValueError(
            f"{name} has dtype {x.dtype} but the layer's parameters are {like.dtype}; convert one with .to()"
        )
    if x.device != like.device:
        raise ValueError(f"{name} is on {x.device} but the layer's parameters are on {like.device}")
    if x.numel() and not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).sum())
        raise ValueError(f"{name} holds {bad:,} NaN or infinite value(s) out of {x.numel():,}")


def check_mask(mask: object, shape: tuple[int, ...]) -> Tensor:
    """A ``(batch, n)`` mask: a bool tensor, or a 0/1 tensor (returned as bool)."""
    if not isinstance(mask, Tensor):
        raise ValueError(f"mask must be a torch.Tensor of shape {shape}, got {type(mask).__name__}")
    if tuple(mask.shape) != tuple(shape):
        raise ValueError(f"mask must have shape {tuple(shape)}, got {tuple(mask.shape)}")
    if mask.dtype != torch.bool:
        if mask.numel() and not bool(((mask == 0) | (mask == 1)).all()):
            raise ValueError("mask must be boolean (or hold only 0 and 1)")
        mask = mask != 0
    return mask
