"""Check any torch function or module for equivariance on random elements of the whole group.

The library tests itself with these helpers; use them on your own models::

    >>> import torch
    >>> from polyequiv.nn import SetPolyLayer
    >>> from polyequiv.testing import assert_equivariant
    >>> error = assert_equivariant(SetPolyLayer(2, 3, 4), n=6)  # S6, in_channels from the module
    >>> error < 1e-5  # float32 parameters, float32 inputs
    True
    >>> from polyequiv import LayerSpec
    >>> from polyequiv.nn import TiedPolynomialLayer
    >>> spec = LayerSpec(n=6, degree=2, group="dihedral")
    >>> assert_equivariant(TiedPolynomialLayer(spec, 2, 2), spec) < 1e-5
    True

Convention: ``(σ·x)_i = x_{σ(i)}`` on the set axis (axis 1 of ``(batch, n, c)``);
equivariant means ``f(σ·x) = σ·f(x)``, invariant ``f(σ·x) = f(x)``.

A :class:`polyequiv.matrix_spec.MatrixLayerSpec` in place of ``n`` checks a matrix group:
``x`` of shape ``(batch, coordinates, c)`` is moved by ``ρ_in(h)`` on axis 1 and the output by
``ρ_out(h)``, for the generators (``exp(0.3 A)`` for Lie ones) and random elements
``exp(Σ c_i A_i) · w`` (:mod:`polyequiv.matrix_elements`)::

    >>> from polyequiv.matrix_spec import MatrixLayerSpec
    >>> spec = MatrixLayerSpec("SO(3)", degree=2, input="2*V", output="V")  # the cross product
    >>> layer = TiedPolynomialLayer(spec, dtype=torch.float64)
    >>> assert_equivariant(layer, spec) < 1e-10
    True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor

from polyequiv import groups
from polyequiv.matrix_elements import action_matrices, generator_elements, random_elements
from polyequiv.matrix_spec import MatrixLayerSpec
from polyequiv.spec import LayerSpec

#: Relative tolerance per dtype.
TOLERANCES = {torch.float32: 1e-3, torch.float64: 1e-10}


def equivariance_error(
    function: Callable[[Tensor], Tensor],
    n: int | LayerSpec | None = None,
    generators: Sequence[Sequence[int]] | LayerSpec | None = None,
    *,
    invariant: bool | None = None,
    in_channels: int | None = None,
    elements: int = 20,
    batch: int = 4,
    dtype: torch.dtype | None = None,
    seed: int = 0,
) -> float:
    """Largest relative error ``|f(σ·x) − σ·f(x)| / max|f(x)|`` over the generators and
    ``elements`` uniform random elements of the group they generate.

    Parameters
    ----------
    function : callable
        Maps ``(batch, n, in_channels)`` to ``(batch, n, …)`` (equivariant) or ``(batch, …)``.
    n : int or LayerSpec
        Set size; a :class:`LayerSpec` here stands for ``generators=spec``.
    generators : array-form permutations, a LayerSpec, or None
        The group; ``None`` means the symmetric group Sₙ.  A spec gives the set
        size, the group's generators and (by its mode) ``invariant``.
    invariant : bool, optional
        Check invariance instead of equivariance (default: from the spec, else False).
    in_channels : int, optional
        Channels of the random inputs (default: the module's ``in_channels``, else 1).
    elements, batch, seed : int
        Random group elements (besides the generators), inputs, and the seed of both.
    dtype : torch dtype, optional
        Of the random inputs; by default the module's parameter dtype (float64 for a function).
    """
    if isinstance(n, MatrixLayerSpec) or isinstance(generators, MatrixLayerSpec):
        spec = n if isinstance(n, MatrixLayerSpec) else generators
        invariant = (not spec.equivariant) if invariant is None else invariant
        options = {"elements": elements, "batch": batch, "dtype": dtype, "seed": seed}
        return _matrix_error(function, spec, invariant=invariant, in_channels=in_channels, **options)
    if isinstance(n, LayerSpec):
        n, generators = None, n
    if isinstance(generators, LayerSpec):
        spec = generators
        n = spec.n if n is None else n
        invariant = (not spec.equivariant) if invariant is None else invariant
        generators = spec.group_generators
    if n is None:
        raise ValueError("give the set size n (or a LayerSpec)")
    generators = [
        tuple(g) for g in (generators if generators is not None else groups.symmetric_generators(n))
    ]
    rng = np.random.default_rng(seed)
    sampled = groups.random_group_elements(n, generators, elements, rng)
    all_elements = np.concatenate([np.array(generators, dtype=np.int64).reshape(-1, n), sampled])
    parameter = _first_parameter(function)
    device = parameter.device if parameter is not None else None
    in_channels = in_channels if in_channels is not None else getattr(function, "in_channels", 1)
    dtype = dtype or (parameter.dtype if parameter is not None else torch.float64)
    x = torch.from_numpy(rng.standard_normal((batch, n, in_channels))).to(dtype=dtype, device=device)
    with torch.no_grad():
        reference = function(x)
        scale = max(float(reference.abs().max()), 1e-12)
        worst = 0.0
        for sigma in all_elements:
            index = torch.from_numpy(sigma).to(x.device)
            moved = function(x[:, index])
            expected = reference if invariant else reference[:, index]
            worst = max(worst, float((moved - expected).abs().max()) / scale)
    return worst


def assert_equivariant(
    function: Callable[[Tensor], Tensor],
    n: int | LayerSpec | None = None,
    generators: Sequence[Sequence[int]] | LayerSpec | None = None,
    *,
    tolerance: float | None = None,
    **options,
) -> float:
    """Raise ``AssertionError`` unless ``function`` is equivariant (or invariant) within the
    dtype's tolerance (1e-3 float32, 1e-10 float64); returns the error.  Options as in
    :func:`equivariance_error`."""
    parameter = _first_parameter(function)
    dtype = options.get("dtype") or (parameter.dtype if parameter is not None else torch.float64)
    error = equivariance_error(function, n, generators, **{**options, "dtype": dtype})
    limit = TOLERANCES.get(dtype, 1e-6) if tolerance is None else tolerance
    if not error <= limit:
        raise AssertionError(f"equivariance error {error:.3e} exceeds {limit:.0e} ({dtype})")
    return error


def _matrix_error(
    function: Callable[[Tensor], Tensor],
    spec: MatrixLayerSpec,
    *,
    invariant: bool,
    in_channels: int | None,
    elements: int,
    batch: int,
    dtype: torch.dtype | None,
    seed: int,
) -> float:
    """:func:`equivariance_error` for a matrix group: ``f(ρ_in(h) x)`` against ``ρ_out(h) f(x)``."""
    rng = np.random.default_rng(seed)
    checked = generator_elements(spec) + random_elements(spec, elements, rng)
    parameter = _first_parameter(function)
    device = parameter.device if parameter is not None else None
    in_channels = in_channels if in_channels is not None else getattr(function, "in_channels", 1)
    dtype = dtype or (parameter.dtype if parameter is not None else torch.float64)
    shape = (batch, spec.num_coordinates, in_channels)
    x = torch.from_numpy(rng.standard_normal(shape)).to(dtype=dtype, device=device)
    with torch.no_grad():
        reference = function(x)
        scale = max(float(reference.abs().max()), 1e-12)
        worst = 0.0
        for element in checked:
            rho_in, rho_out = (
                torch.from_numpy(m).to(dtype=dtype, device=device) for m in action_matrices(spec, element)
            )
            moved = function(torch.einsum("ij,bjc->bic", rho_in, x))
            expected = reference if invariant else torch.einsum("ij,bj...->bi...", rho_out, reference)
            worst = max(worst, float((moved - expected).abs().max()) / scale)
    return worst


def _first_parameter(function: object) -> Tensor | None:
    parameters = getattr(function, "parameters", None)
    return next(iter(parameters()), None) if callable(parameters) else None
