"""Reading a run for ``explain``: its model, fresh data from its task, the checks, and ``--refit``.

Fresh data come from the run's own task generator with another seed (``seed + FRESH_SEED``): the
training distribution (set sizes, edge probabilities) on sets the model never saw.  The scaled
check draws sets (graphs) of 10× the largest training size.  Physics tasks: point clouds
(``inertia``) are drawn with 10× the training number of points; samples without points (one
tuple of vectors: ``particle-interaction``, ``o5-synthetic``) cannot grow, so they are drawn with
every input 10× larger instead, far outside the training range (a polynomial formula that is the
law holds there exactly; one that only approximates it on the training range does not).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from polyequiv.explain.explanation import Explanation
from polyequiv.explain.kernels import KernelReport, kernel_report
from polyequiv.explain.layers import layer_explanations
from polyequiv.explain.simplify import ExplainError, simplify
from polyequiv.models import ModelContext, ModelError, SetModel, build_model
from polyequiv.models.features import Dictionary, pattern_dictionary, set_dictionary
from polyequiv.tasks import get_definition, make_task
from polyequiv.training.checkpoint import CHECKPOINT_NAME, PREVIOUS_NAME, load_checkpoint
from polyequiv.training.config import RunConfig
from polyequiv.training.evaluation import diagnostics, evaluate, to_tensors
from polyequiv.training.results import RESULTS_NAME, read_results, write_results

FRESH_SEED = 7919
#: Fresh sets (base graphs) drawn to explain a model, and per scaled check.
FRESH_SETS, FRESH_GRAPHS, SCALED_SETS, SCALED_GRAPHS = 4_000, 60, 200, 4
#: Formula models (nothing to load: the terms are in the config).
FORMULA_MODELS = ("formula", "graph-formula")


def explain_run(folder: str | Path, tolerance: float | None = None) -> Explanation | KernelReport:
    """Explain the model of the run in ``folder`` (see :mod:`polyequiv.explain`); an image model's tied
    layer is reported kernel by kernel (:mod:`polyequiv.explain.kernels`).

    Raises
    ------
    ExplainError
        No run there, a model that is not a polynomial (MLP, GIN, CNN, …), or one the features
        do not span.
    """
    folder = Path(folder)
    config, model = load_model(folder)
    if model.polynomial_degree() is None:
        layer = getattr(model, "layer", None)
        if layer is not None and hasattr(layer, "offsets") and layer.in_channels == 1:
            return kernel_report(str(folder), config.model, config.task, layer, tolerance)
        raise ExplainError(f"model {config.model!r} is not a polynomial (it has a nonlinearity such as ReLU, "
                           "ELU or tanh, or learned embeddings): explain reads tied polynomial models, "
                           "variety networks, image models' tied layers and formulas")
    with _float64():
        model.double().eval()
        dictionary = _dictionary(config, model)
        fresh = _fresh_task(config, scaled=False)
        matrix, predictions, targets = _rows(dictionary, model, fresh.train)
        if tolerance is None:
            tolerance = _auto_tolerance(predictions, targets)
        simplified = simplify(dictionary.features, matrix, predictions, tolerance)
        explanation = Explanation(str(folder), config.model, config.task, dictionary.output, simplified,
                                  dictionary.definitions,
                                  patterns={str(p): p for p in dictionary.patterns})
        formula = _formula_values(simplified, matrix, dictionary)
        explanation.checks["fresh"] = {
            "rows": len(predictions),
            "max_error_vs_model": float(np.abs(formula - predictions).max(initial=0.0)),
            "max_error_vs_target": float(np.abs(formula - targets).max(initial=0.0)),
            "model_max_error_vs_target": float(np.abs(predictions - targets).max(initial=0.0)),
        }
        explanation.checks["scaled"] = _scaled_check(config, simplified, dictionary)
        if hasattr(model, "layer_output"):  # a composed network: each layer of its own input, too
            explanation.layers = layer_explanations(model, tolerance, seed=config.seed)
    return explanation


def load_model(folder: Path) -> tuple[RunConfig, SetModel]:
    """The run's config and its trained model, in float64: from ``checkpoint.pt`` (the weights the
    results describe; a damaged one is refused, never replaced by the previous checkpoint), or, for a
    formula run, from ``results.json``.  A ``results.json`` present is checked too (its digest)."""
    results = read_results(folder) if (folder / RESULTS_NAME).is_file() else None
    latest = folder / CHECKPOINT_NAME
    if latest.is_file():
        state: dict[str, Any] | None = load_checkpoint(latest)
        config = RunConfig.from_dict(state["config"])
    elif results is not None:
        config, state = RunConfig.from_dict(results["config"]), None
    elif (folder / PREVIOUS_NAME).is_file():
        raise ExplainError(f"{latest} is missing (a save was interrupted?); resume the run first "
                           "(--resume falls back to the previous checkpoint)")
    else:
        raise ExplainError(f"{folder} holds no run to explain (no {CHECKPOINT_NAME}, no {RESULTS_NAME})")
    if state is None and config.model not in FORMULA_MODELS:
        raise ExplainError(f"{folder} holds results but no checkpoint: the trained weights are gone")
    with _float64():
        torch.manual_seed(config.seed)
        model = build_model(config.model, _context(config), **config.model_options)
        if state is not None:
            try:
                model.load_state_dict(state["model"])
            except RuntimeError as error:
                first = str(error).strip().splitlines()[-1].strip()
                raise ExplainError(f"the checkpoint in {folder} does not fit its model: {first}") from None
    return config, model


def _context(config: RunConfig) -> ModelContext:
    """The context the run's model was built for (its sizes), from a one-set draw of its task."""
    options = {k: v for k, v in config.task_options.items() if k not in ("train", "valid", "test")}
    graphs = get_definition(config.task).elements == "graph"
    sizes = {"train": 1, "test": 1} if graphs else {"train": 1, "test": 1, "valid": 0}
    return ModelContext.of(make_task(config.task, seed=config.seed, **options, **sizes))


def _dictionary(config: RunConfig, model: SetModel) -> Dictionary:
    degree = model.polynomial_degree()
    if get_definition(config.task).elements == "geometric":
        try:
            return model.feature_dictionary()
        except ModelError as error:
            raise ExplainError(f"model {config.model!r}: {error}") from None
    if get_definition(config.task).elements == "graph":
        layer = getattr(model, "layer", None)
        if layer is None or not hasattr(layer, "pattern_values"):
            layer = getattr(model, "dictionary", None)
            if layer is not None:
                return layer
            raise ExplainError(f"model {config.model!r} has no pattern layer to read")
        return pattern_dictionary(layer)
    return set_dictionary(degree, model.equivariant)


def _fresh_task(config: RunConfig, *, scaled: bool) -> Any:
    """The run's task drawn again with another seed: the training split (or, scaled, the 10× test)."""
    definition = get_definition(config.task)
    if definition.elements == "geometric":
        return _fresh_physics(config, definition, scaled)
    kept = ("train_cardinalities", "split", "family")
    options = {k: v for k, v in config.task_options.items() if k in kept}
    graphs = definition.elements == "graph"
    largest = (config.task_options.get("train_cardinalities") or [0, definition.full.max_train])[-1]
    size = 10 * largest
    return make_task(config.task, seed=config.seed + FRESH_SEED, **options,
                     train=(FRESH_GRAPHS if graphs else FRESH_SETS) if not scaled else 4,
                     test=(SCALED_GRAPHS if graphs else SCALED_SETS), cardinalities=[size])


def _fresh_physics(config: RunConfig, definition: Any, scaled: bool) -> Any:
    """Fresh physics samples: 10× the points of a point cloud, else every input 10× larger (module
    docstring); the scaled draw is the test split (keyed by its number of points)."""
    seed, points = config.seed + FRESH_SEED, definition.points
    if not scaled:
        return make_task(config.task, seed=seed, train=FRESH_SETS, valid=0, test=1)
    if definition.size_agnostic:
        return make_task(config.task, seed=seed, train=1, valid=0, test=SCALED_SETS,
                         cardinalities=[10 * points])
    return make_task(config.task, seed=seed, train=1, valid=0, test=SCALED_SETS, scale=10.0)


def _rows(dictionary: Dictionary, model: SetModel, batch: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, predictions and targets, one row per prediction (real elements only)."""
    values, mask, targets = to_tensors(batch)
    with torch.no_grad():
        predictions = model(values, mask)
    matrix = dictionary.evaluate(values, mask)
    if targets.dim() == 2:
        predictions, targets = predictions[mask.bool()], targets[mask.bool()]
    return matrix.numpy(), predictions.double().numpy(), targets.double().numpy()


def _auto_tolerance(predictions: np.ndarray, targets: np.ndarray) -> float:
    scale = float(np.abs(predictions).max(initial=0.0)) or 1.0
    return float(np.clip(2 * np.abs(predictions - targets).max(initial=0.0) / scale, 1e-10, 1e-2))


def _formula_values(simplified: Any, matrix: np.ndarray, dictionary: Dictionary) -> np.ndarray:
    columns = {feature.key: number for number, feature in enumerate(dictionary.features)}
    values = np.zeros(matrix.shape[0])
    for term in simplified.terms:
        values += float(term.coefficient) * matrix[:, columns[term.feature.key]]
    return values


def _scaled_check(config: RunConfig, simplified: Any, dictionary: Dictionary) -> dict[str, Any]:
    task = _fresh_task(config, scaled=True)
    (size, batch), = task.test.items()
    values, mask, targets = to_tensors(batch)
    matrix = dictionary.evaluate(values, mask).numpy()
    formula = _formula_values(simplified, matrix, dictionary)
    truth = (targets[mask.bool()] if targets.dim() == 2 else targets).double().numpy()
    check = {"size": int(size), "rows": len(truth),
             "max_error_vs_target": float(np.abs(formula - truth).max(initial=0.0))}
    definition = get_definition(config.task)
    if definition.elements == "geometric":
        check["kind"] = "points" if definition.size_agnostic else "input scale"
        check["max_relative_error"] = check["max_error_vs_target"] / max(float(np.abs(truth).max()), 1e-300)
    return check


def write_formula_run(explanation: Explanation, source: Path, out: Path) -> dict[str, Any]:
    """``--refit``: a run in ``out`` whose model is the explained formula, evaluated on the source run's
    test sizes and at 10× the training size (its ``results.json``; no weights to checkpoint)."""
    if not isinstance(explanation, Explanation):
        raise ExplainError("--refit writes a formula of a polynomial model; an image model's classifier "
                           "is not one")
    if not explanation.simplified.rational:
        raise ExplainError("the formula has no exact rational coefficients within the tolerance; "
                           "give a larger --tolerance to refit it")
    if get_definition(explanation.task).elements == "geometric":
        raise ExplainError("--refit writes formula runs of set and graph tasks; a physics formula is "
                           "printed (and its checks run) but not written as a run")
    config, model = load_model(source)
    graphs = get_definition(config.task).elements == "graph"
    terms = [{"coefficient": str(t.coefficient), "key": t.feature.key} for t in explanation.terms]
    options = {"terms": terms, "degree": model.polynomial_degree()}
    if graphs:
        options["bias"] = bool(getattr(getattr(model, "layer", None), "bias", False))
    sizes = sorted({*config.task_options.get("cardinalities", get_definition(config.task).full.cardinalities),
                    _fresh_task(config, scaled=True).sizes.cardinalities[0]})
    task_options = {**config.task_options, "cardinalities": sizes}
    formula = RunConfig.create(config.task, "graph-formula" if graphs else "formula", seed=config.seed,
                               model_options=options, task_options=task_options, solver="adam")
    from polyequiv.training.loop import RunState, default_dtype
    from polyequiv.training.run_record import results_record

    with default_dtype(torch.float64):
        task = make_task(formula.task, seed=formula.seed, **formula.task_options)
        built = build_model(formula.model, ModelContext.of(task), **formula.model_options)
        records = evaluate(built, task)
        checks = diagnostics(built, task, seed=formula.seed)
        state = RunState(solution={"name": "formula", "source": str(source)})
        out.mkdir(parents=True, exist_ok=True)
        if (out / RESULTS_NAME).exists():
            raise ExplainError(f"{out} already holds a run; give another --refit folder")
        return write_results(out, results_record(formula, task, built, state, records, checks, 0.0, 1, "cpu"))


@contextlib.contextmanager
def _float64():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)
