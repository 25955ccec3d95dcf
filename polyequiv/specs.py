"""Either kind of layer spec from text or JSON: :class:`LayerSpec` (permutation groups) or
:class:`MatrixLayerSpec` (matrix groups, alone or times Sₙ).

Matrix-group strings start with the group's name in function form (``O(3)``, ``SO(1,3)``, ``B(4)``,
``S(5) x O(3)``, a custom ``M2{...}``); permutation-group strings with a letter and a number
(``S5``, ``C7``, ``T10x10``, ``G5[...]``), so the two never collide.

    >>> str(parse_spec("O(3) linear ordered V2 -> V2")), str(parse_spec("S5 quadratic ordered equivariant"))
    ('O(3) linear ordered V2 -> V2', 'S5 quadratic ordered equivariant')
"""

from __future__ import annotations

import re
from typing import Any

from polyequiv import groups
from polyequiv.matrix_spec import MatrixLayerSpec
from polyequiv.spec import LayerSpec

#: Either kind of spec.
AnySpec = LayerSpec | MatrixLayerSpec

_MATRIX_START = re.compile(r"\s*(?:[SCD]\(\d+\)\s*(?:x|×)|SO\+?\(|O\(|B\(|M\d+\{)")


def parse_spec(text: str) -> AnySpec:
    """The spec written ``text`` (the inverse of ``str`` for both kinds)."""
    if isinstance(text, str) and _MATRIX_START.match(text):
        return MatrixLayerSpec.parse(text)
    return LayerSpec.parse(text)


def spec_from_dict(data: Any) -> AnySpec:
    """The spec of a JSON object written by ``to_dict`` of either kind (a matrix spec names its group
    in function form under ``"group"``; a permutation spec one of :data:`groups.GROUP_KINDS`)."""
    if (
        isinstance(data, dict)
        and isinstance(data.get("group"), str)
        and data["group"] not in groups.GROUP_KINDS
    ):
        return MatrixLayerSpec.from_dict(data)
    return LayerSpec.from_dict(data)
