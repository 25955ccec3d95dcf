"""Multi-layer polynomial networks: their specs, exact expansion, constraints and variety.

Data flows one way: :class:`NetworkSpec` → :func:`expand_network` (the output
as a polynomial in ``x`` whose coefficients are polynomials in the weights) →
:func:`network_constraints` (coefficient matching under the generators) →
:func:`measure_variety` (exact Jacobian ranks at tied points, and a search for
equivariant networks whose layers are not individually equivariant).
"""

from polyequiv.compose.network import NetworkLayer, NetworkSpec, parse_layer_flags

__all__ = ["NetworkLayer", "NetworkSpec", "parse_layer_flags"]
