"""`polyequiv explain RUN`: the function a trained polynomial model computes, as a short exact formula.

    from polyequiv.explain import explain_run
    explanation = explain_run("runs/triangles")
    print(explanation.text())          # y_k = 1/2 · Σ_{j,l} A_kj A_kl A_jl
    explanation.to_dict()["terms"]     # [{"coefficient": "1/2", "text": …, "pattern": …}, …]

How (:mod:`polyequiv.explain.simplify`): the model's predictions on fresh data from the task's
generator (another seed) are written in a dictionary of named features
(:mod:`polyequiv.models.features`: power-sum monomials for sets, n-free patterns for graphs),
then features that coincide on the data's domain are merged, terms that change no prediction
beyond the tolerance pruned, and the coefficients rationalised.  The result is checked against
the model and the task's targets on the fresh data, and on data at 10× the training size.

The tolerance, unless given, is twice the model's own largest error against the targets on the
fresh data (relative to the largest prediction), clipped to ``[10⁻¹⁰, 10⁻²]``: a formula may
differ from the model by what the model already differs from the truth, and no more.
"""

from __future__ import annotations

from polyequiv.explain.explanation import Explanation
from polyequiv.explain.runs import explain_run, write_formula_run
from polyequiv.explain.simplify import ExplainError, Simplified, Term, simplify

__all__ = ["ExplainError", "Explanation", "Simplified", "Term", "explain_run", "simplify",
           "write_formula_run"]
