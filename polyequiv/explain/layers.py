"""A composed network explained layer by layer: each layer's function of its own input.

A layer of a ``variety-*`` network that reads the ``n`` elements (or ``n`` hidden units permuted
with them) and writes ``n`` values or one is a set function of its input, and is written in the
power-sum features of :func:`~polyequiv.models.features.set_dictionary` like a whole set model, on
random normal inputs.  A layer that is not Sₙ-equivariant on its own (free layers of a penalty- or
projection-trained network need not be: only the whole network must) gets the largest miss of the
best fit instead of a formula; a layer of another width is named, not written.
"""

from __future__ import annotations

from typing import Any

import torch

from polyequiv.explain.explanation import formula_text
from polyequiv.explain.simplify import ExplainError, simplify
from polyequiv.models.features import set_dictionary

#: Random inputs per layer.
LAYER_SAMPLES = 2_000


def layer_explanations(model: Any, tolerance: float, seed: int = 0) -> list[dict[str, Any]]:
    """One entry per layer: ``{"layer", "spec", "formula"}``, or ``{"layer", "spec", "note"}``."""
    spec, n = model.spec, model.spec.n
    generator = torch.Generator().manual_seed(seed)
    entries = []
    for number, layer in enumerate(spec.layers):
        width_in, width_out = spec.input_width(number), layer.num_outputs
        entry: dict[str, Any] = {"layer": number + 1, "spec": str(layer)}
        if width_in != n or width_out not in (n, 1):
            entry["note"] = f"reads {width_in} and writes {width_out} values: not a function on the set"
            entries.append(entry)
            continue
        inputs = torch.randn(LAYER_SAMPLES, n, generator=generator, dtype=torch.float64)
        with torch.no_grad():
            outputs = model.layer_output(number, inputs)
        equivariant = width_out == n
        dictionary = set_dictionary(layer.degree, equivariant)
        mask = torch.ones(LAYER_SAMPLES, n, dtype=torch.bool)
        matrix = dictionary.evaluate(inputs, mask).numpy()
        predictions = (outputs.reshape(-1) if equivariant else outputs[:, 0]).numpy()
        try:
            simplified = simplify(dictionary.features, matrix, predictions, tolerance)
        except ExplainError as error:
            entry["note"] = f"not Sₙ-equivariant on its own: {error}"
        else:
            output = "h_k" if equivariant else "h"
            entry["formula"] = formula_text(output, simplified.terms) + "   (of the layer's own input x)"
            entry["rational"] = simplified.rational
        entries.append(entry)
    return entries
