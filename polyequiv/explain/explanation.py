"""`Explanation`: a formula with its provenance and checks, printed as text, LaTeX, JSON or sympy."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from polyequiv.explain.simplify import Simplified, Term


@dataclass
class Explanation:
    """What ``polyequiv explain`` reports about one run.

    Attributes
    ----------
    run, model, task : str
        The run folder, its model and task.
    output : str
        ``y`` (one value per set or graph) or ``y_k`` (per element or node).
    simplified : Simplified
        The terms, whether they are exact rationals, the pruning/merging counts, the tolerance.
    definitions : list of str
        What the symbols mean (``p_s``, ``A``, …).
    checks : dict
        ``fresh``: rows, largest error against the model and the targets; ``scaled``: the same at
        10× the training size (the targets only; set or graph size in ``size``), or for physics
        samples without points at 10× the input scale (``kind``: ``"points"`` or ``"input scale"``,
        with ``max_relative_error``).
    patterns : dict
        The partition pattern behind each graph feature, by feature key (for drawing).
    layers : list of dict
        A composed network's layers, each as a formula of its own input (or a note why not):
        :mod:`polyequiv.explain.layers`.
    """

    run: str
    model: str
    task: str
    output: str
    simplified: Simplified
    definitions: list[str]
    checks: dict[str, Any] = field(default_factory=dict)
    patterns: dict[str, Any] = field(default_factory=dict)
    layers: list[dict[str, Any]] = field(default_factory=list)

    @property
    def terms(self) -> list[Term]:
        return self.simplified.terms

    def formula(self) -> str:
        """``y_k = 1/2 · Σ_{j,l} A_kj A_kl A_jl``."""
        return formula_text(self.output, self.terms)

    def latex(self) -> str:
        """The formula in LaTeX (``\\frac`` coefficients)."""
        if not self.terms:
            return f"{_latex_output(self.output)} = 0"
        parts = []
        for number, term in enumerate(self.terms):
            value = term.coefficient
            magnitude = abs(value)
            if magnitude.denominator == 1:
                coefficient = "" if magnitude == 1 and term.feature.latex != "1" else str(magnitude.numerator)
            else:
                coefficient = f"\\frac{{{magnitude.numerator}}}{{{magnitude.denominator}}}"
            body = "" if term.feature.latex == "1" and coefficient else term.feature.latex
            sign = ("-" if value < 0 else "") if number == 0 else (" - " if value < 0 else " + ")
            parts.append(sign + " ".join(filter(None, [coefficient, body])))
        return f"{_latex_output(self.output)} = " + "".join(parts)

    def sympy(self) -> Any:
        """The formula as a sympy expression (exact rational coefficients)."""
        import sympy

        return sympy.Add(*[sympy.Rational(t.coefficient.numerator, t.coefficient.denominator)
                           * t.feature.sympy for t in self.terms])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``terms`` (each with a rational ``coefficient`` string), criterion, checks."""
        s = self.simplified
        return {
            "run": self.run, "model": self.model, "task": self.task, "output": self.output,
            "formula": self.formula(), "latex": self.latex(),
            "terms": [{"coefficient": str(t.coefficient), "text": t.feature.text, "latex": t.feature.latex,
                       "key": t.feature.key, "aliases": [a.text for a in t.aliases]} for t in self.terms],
            "rational": s.rational, "definitions": self.definitions,
            "criterion": {"tolerance": s.tolerance, "scale": s.scale, "pruned": s.dropped, "merged": s.merged,
                          "rule": "a term is pruned, and a coefficient rounded to the simplest rational, "
                                  "while every prediction on the fresh data stays within tolerance × scale"},
            "checks": self.checks,
            **({"layers": self.layers} if self.layers else {}),
        }

    def text(self) -> str:
        """The formula, the definitions, the aliases and the checks, for people."""
        s = self.simplified
        lines = [self.formula(), ""]
        lines += [f"  where {line}" for line in self.definitions]
        for term in self.terms:
            if term.aliases:
                aliases = ", ".join(alias.text for alias in term.aliases)
                lines.append(f"  {term.feature.text} also stands for {aliases} (equal on this domain)")
        lines.append("")
        exact = "exact rationals" if s.rational else "floats (no short rationals within the tolerance)"
        plural = "" if len(self.terms) == 1 else "s"
        lines.append(f"{len(self.terms)} term{plural} ({s.merged} features merged as equal on the domain, "
                     f"{s.dropped} pruned); coefficients {exact}; "
                     f"tolerance {s.tolerance:.3g} × {s.scale:.3g}")
        fresh = self.checks.get("fresh")
        if fresh:
            lines.append(f"fresh data ({fresh['rows']:,} predictions): largest error against the model "
                         f"{fresh['max_error_vs_model']:.3g}, against the targets "
                         f"{fresh['max_error_vs_target']:.3g}")
        if self.layers:
            lines.append("layer by layer:")
            lines += [f"  {entry['layer']}. {entry['spec']}: {entry.get('formula') or entry['note']}"
                      for entry in self.layers]
        scaled = self.checks.get("scaled")
        if scaled and scaled.get("kind") == "input scale":
            lines.append(f"at 10× the input scale ({scaled['rows']:,} predictions): largest error against "
                         f"the targets {scaled['max_error_vs_target']:.3g} "
                         f"(relative {scaled['max_relative_error']:.3g})")
        elif scaled:
            lines.append(f"at 10× the training size ({scaled['size']}, {scaled['rows']:,} predictions): "
                         f"largest error against the targets {scaled['max_error_vs_target']:.3g}")
        return "\n".join(lines)


def _latex_output(output: str) -> str:
    return output.replace("y_k", "y_{k}")


def formula_text(output: str, terms: list[Term]) -> str:
    """``output = c₁ · φ₁ + c₂ · φ₂ …`` in plain text (a coefficient 1 unwritten, signs folded in)."""
    if not terms:
        return f"{output} = 0"
    parts = []
    for number, term in enumerate(terms):
        magnitude, body = abs(term.coefficient), term.feature.text
        piece = body if magnitude == 1 and body != "1" else (str(magnitude) if body == "1"
                                                            else f"{magnitude} · {body}")
        sign = ("-" if term.coefficient < 0 else "") if number == 0 else (" - " if term.coefficient < 0
                                                                            else " + ")
        parts.append(sign + piece)
    return f"{output} = " + "".join(parts)
