"""Multi-layer polynomial networks: their specs, exact expansion, constraints and variety.

Data flows one way: :class:`NetworkSpec` → :func:`expand_network` (the output
as a polynomial in ``x`` whose coefficients are polynomials in the weights) →
:func:`network_constraints` (coefficient matching under the generators) →
:func:`measure_variety` (exact Jacobian ranks at tied points, and a search for
equivariant networks whose layers are not individually equivariant).

    >>> from polyequiv.compose import NetworkSpec, measure_variety
    >>> m = measure_variety(NetworkSpec.parse("S3 [quadratic free -> 2, quadratic free -> 3]"))
    >>> m.tied_dim, m.tangent_dim, m.verdict
    (7, 7, 'near generic tied points the variety is the tied subspace')
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from polyequiv.compose.expansion import (
        NetworkConstraints,
        NetworkExpansion,
        expand_network,
        network_constraints,
    )
    from polyequiv.compose.network import NetworkLayer, NetworkSpec, parse_layer_flags
    from polyequiv.compose.variety import VarietyMeasurement, measure_variety

#: Where each public name lives: imported on first use, so that ``polyequiv.compose.network``
#: (the spec) costs neither flint nor scipy.
_EXPORTS = {
    "NetworkConstraints": "expansion",
    "NetworkExpansion": "expansion",
    "expand_network": "expansion",
    "network_constraints": "expansion",
    "NetworkLayer": "network",
    "NetworkSpec": "network",
    "parse_layer_flags": "network",
    "VarietyMeasurement": "variety",
    "measure_variety": "variety",
}
__all__ = [
    "NetworkConstraints",
    "NetworkExpansion",
    "NetworkLayer",
    "NetworkSpec",
    "VarietyMeasurement",
    "expand_network",
    "measure_variety",
    "network_constraints",
    "parse_layer_flags",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(import_module(f"polyequiv.compose.{_EXPORTS[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'polyequiv.compose' has no attribute {name!r}")
