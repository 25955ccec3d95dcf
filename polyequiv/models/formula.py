"""Exact formulas as models: what ``polyequiv explain --refit`` writes, evaluated with rational weights.

``formula`` (sets) computes ``Σ_j c_j φ_j`` over the power-sum monomials of
:func:`polyequiv.models.features.set_dictionary`, ``graph-formula`` over the patterns of the
``E → V`` layer of its degree; ``terms`` lists ``{"coefficient": "1/2", "key": …}`` with the
feature keys of those dictionaries.  There is nothing to train: the coefficients are exact
rationals, applied in float64.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import torch
from torch import Tensor

from polyequiv.models.features import pattern_dictionary, set_dictionary
from polyequiv.models.registry import ModelContext, ModelDefinition, ModelError, SetModel, register


class FormulaModel(SetModel):
    """``ŷ = Σ_j c_j φ_j(x)`` with exact ``c_j`` and named features ``φ_j``."""

    def __init__(self, context: ModelContext, terms: list[Any], degree: int = 1, bias: bool = False) -> None:
        super().__init__()
        if not 0 <= degree <= 8:
            raise ModelError(f"a formula's degree must be 0..8, got {degree}")
        self.equivariant, self.degree = context.equivariant, degree
        if context.domain == "graphs":
            from polyequiv.nn.tensor_layers import TensorPolyLayer

            self.dictionary = pattern_dictionary(TensorPolyLayer("E", "V", degree, 1, 1, bias=bias,
                                                                 dtype=torch.float64))
        else:
            self.dictionary = set_dictionary(degree, context.equivariant)
        keys = {feature.key: number for number, feature in enumerate(self.dictionary.features)}
        self.columns, coefficients = [], []
        for term in terms:
            if not isinstance(term, dict) or set(term) != {"coefficient", "key"} or term["key"] not in keys:
                raise ModelError(f"a formula term is {{'coefficient': '1/2', 'key': <a feature of degree "
                                 f"{degree}>}}, got {term!r}")
            try:
                coefficients.append(Fraction(str(term["coefficient"])))
            except (ValueError, ZeroDivisionError):
                raise ModelError(f"coefficient {term['coefficient']!r} is not a rational number") from None
            self.columns.append(keys[term["key"]])
        self.coefficients = coefficients
        self.register_buffer("weights", torch.tensor([float(c) for c in coefficients], dtype=torch.float64))

    def polynomial_degree(self) -> int:
        return self.degree

    def forward(self, values: Tensor, mask: Tensor) -> Tensor:
        mask = mask.bool()
        features = self.dictionary.evaluate(values, mask)[..., self.columns] @ self.weights
        if not self.equivariant:
            return features
        out = torch.zeros(mask.shape, dtype=torch.float64)
        out[mask] = features
        return out


_FORMULA = {"terms": [], "degree": 1, "bias": False}
register(ModelDefinition("formula", "an exact formula in power sums (written by polyequiv explain --refit)",
                         FormulaModel, _FORMULA, {"epochs": 1}, trainable=False))
register(ModelDefinition("graph-formula", "an exact formula in graph patterns (written by polyequiv explain "
                         "--refit)", FormulaModel, _FORMULA, {"epochs": 1}, domain="graphs", trainable=False))
