"""Evaluation: per-cardinality accuracy and error, and how far a model is from being a set function.

Metrics of one test split (sets of exactly ``c`` elements):

``mae``
    Mean absolute error, per set (invariant tasks) or per element (equivariant tasks).
``relative_mae``
    ``mae / mean |y|``: comparable across cardinalities whose targets grow with ``c``.
``accuracy``
    Fraction of sets (invariant) or of real elements, e.g. graph nodes (equivariant),
    whose prediction, rounded to the nearest integer, equals the target (the lab's
    metric; integer-valued tasks only, ``None`` otherwise).  Classification tasks
    (images): the fraction whose largest logit is the label.
``cross_entropy``
    Classification tasks only: the mean cross-entropy of the logits (``mae`` and
    ``relative_mae`` are ``None`` there).
``mse``, ``relative_mse``
    Physics tasks only: the mean squared error over every target entry, and that divided by the
    targets' variance (``mean (y − ȳ)²`` over the same entries, ``ȳ`` their mean): 1 for the best
    constant, 0 for a perfect fit, comparable across tasks (EMLP's figures show the MSE itself).

Diagnostics, on (at most) 1,000 training-size sets:

``permutation_shift``
    Mean ``|f(σ·x) − f(x)|`` (invariant) or ``|f(σ·x) − σ·f(x)|`` (equivariant) for a
    random permutation σ of the real elements of each set (the nodes of each graph,
    rows and columns of its adjacency together; a random cyclic translation of each
    image; a random element ``h`` of the task's matrix group, ``|f(h·x) − ρ_out(h) f(x)|``,
    for physics tasks); 0 for a set (graph, translation-invariant, equivariant) function.
``padding_shift``
    Mean change of the predictions when 5 more padding zeros are prepended; 0 when
    padding is invisible to the model (``None`` when a fixed-width model has no room,
    and for images, which have no padding).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from polyequiv.models import ModelError, SetModel
from polyequiv.tasks import GraphBatch, GraphTask, SetBatch, SetTask

DIAGNOSTIC_SETS = 1_000
EXTRA_PADDING = 5
#: Input entries per prediction chunk at most (a batch of 240-node graphs is cut into ~18 graphs).
PREDICT_ENTRIES = 1 << 20


def to_tensors(batch: SetBatch | GraphBatch, device: str | torch.device = "cpu"
               ) -> tuple[Tensor, Tensor, Tensor]:
    """``(values, mask, targets)`` as torch tensors: digits stay ``int64``, reals take torch's default dtype
    (``float32`` unless set otherwise, e.g. ``torch.set_default_dtype(torch.float64)``)."""
    def tensor(array: np.ndarray) -> Tensor:
        data = torch.from_numpy(array)
        return data.to(device, torch.get_default_dtype()) if data.is_floating_point() else data.to(device)

    return tensor(batch.values), tensor(batch.mask), tensor(batch.targets)


@torch.no_grad()
def predict(model: SetModel, values: Tensor, mask: Tensor, *, batch_size: int = 1_000) -> Tensor:
    """Model outputs for all rows, in chunks of ``batch_size`` (fewer for large rows: at most
    :data:`PREDICT_ENTRIES` input entries per chunk), in eval mode."""
    batch_size = max(1, min(batch_size, PREDICT_ENTRIES // max(1, values[0].numel() if len(values) else 1)))
    was_training = model.training
    model.eval()
    try:
        parts = [model(values[i:i + batch_size], mask[i:i + batch_size])
                 for i in range(0, len(values), batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(parts)


def split_metrics(predictions: Tensor, targets: Tensor, mask: Tensor, *,
                  discrete: bool, classification: bool = False, squared: bool = False
                  ) -> dict[str, float | None]:
    """``mae``, ``relative_mae`` and (for integer targets) ``accuracy`` of one split; for classification
    (logits ``(m, classes)``, labels ``(m,)``) ``accuracy`` and ``cross_entropy``; with ``squared``
    (physics) also ``mse`` and ``relative_mse``."""
    if classification:
        logits = predictions.double()
        accuracy = float((logits.argmax(dim=1) == targets).double().mean())
        entropy = float(torch.nn.functional.cross_entropy(logits, targets))
        return {"mae": None, "relative_mae": None, "accuracy": accuracy, "cross_entropy": entropy}
    predictions, targets = predictions.double(), targets.double()
    if targets.dim() == 2:  # equivariant: real elements only
        weight = mask.double()
        count = weight.sum().clamp_min(1)
        mae = float(((predictions - targets).abs() * weight).sum() / count)
        scale = float((targets.abs() * weight).sum() / count)
    else:
        mae = float((predictions - targets).abs().mean())
        scale = float(targets.abs().mean())
    accuracy = None
    if discrete and targets.dim() == 1:
        accuracy = float((torch.round(predictions) == targets).double().mean())
    elif discrete:  # per element (node): the fraction of real elements whose rounded prediction is right
        right = (torch.round(predictions) == targets).double() * mask.double()
        accuracy = float(right.sum() / mask.double().sum().clamp_min(1))
    metrics = {"mae": mae, "relative_mae": mae / scale if scale > 0 else None, "accuracy": accuracy}
    if squared:
        metrics.update(squared_metrics(predictions, targets, mask))
    return metrics


def squared_metrics(predictions: Tensor, targets: Tensor, mask: Tensor) -> dict[str, float | None]:
    """``mse`` and ``relative_mse = mse / variance of the targets`` over the real entries."""
    keep = mask.bool() if targets.dim() == 2 else torch.ones_like(targets, dtype=torch.bool)
    errors, values = (predictions - targets)[keep], targets[keep]
    mse = float(errors.square().mean()) if errors.numel() else 0.0
    variance = float((values - values.mean()).square().mean()) if values.numel() else 0.0
    return {"mse": mse, "relative_mse": mse / variance if variance > 0 else None}


def evaluate(model: SetModel, task: SetTask | GraphTask, *, batch_size: int = 1_000,
             device: str | torch.device = "cpu") -> list[dict[str, Any]]:
    """One record per test cardinality: ``cardinality``, ``samples``, ``accuracy``, ``mae``,
    ``relative_mae`` (physics: ``mse``, ``relative_mse``); a fixed-width model refusing a size
    (:class:`ModelError`) gets ``None`` metrics and the reason under ``note``."""
    records = []
    for cardinality, batch in sorted(task.test.items()):
        values, mask, targets = to_tensors(batch, device)
        try:
            predictions = predict(model, values, mask, batch_size=batch_size)
        except ModelError as error:  # a fixed-width model on a size it cannot read (physics point clouds)
            empty = {"accuracy": None, "mae": None, "relative_mae": None}
            empty.update({"mse": None, "relative_mse": None} if _is_physics(task) else {})
            records.append({"cardinality": cardinality, "samples": len(batch), **empty, "note": str(error)})
            continue
        metrics = split_metrics(predictions.cpu(), targets.cpu(), mask.cpu(), discrete=task.discrete,
                                classification=getattr(task, "classification", False),
                                squared=_is_physics(task))
        records.append({"cardinality": cardinality, "samples": len(batch), **metrics})
    return records


def _is_physics(task: object) -> bool:
    return getattr(getattr(task, "definition", None), "elements", None) == "geometric"


def diagnostics(model: SetModel, task: SetTask | GraphTask, *, seed: int, device: str | torch.device = "cpu",
                batch_size: int = 1_000) -> dict[str, float | None]:
    """``permutation_shift`` and ``padding_shift`` (see the module docstring), plus the model's own numbers.

    ``padding_shift`` is ``None`` for a fixed-width model with no room for more padding.
    """
    source = task.valid if task.valid is not None else task.train
    batch = source.take(slice(0, DIAGNOSTIC_SETS))
    values, mask, _ = to_tensors(batch, device)
    base = predict(model, values, mask, batch_size=batch_size).cpu().double()
    if hasattr(batch, "acted_on"):  # a matrix group: a random element h of the whole group per sample
        moved, expected_of = batch.acted_on(np.random.default_rng([seed, 31337]))
        m_values, m_mask, _ = to_tensors(moved, device)
        shifted = predict(model, m_values, m_mask, batch_size=batch_size).cpu().double()
        expected = torch.from_numpy(expected_of(base.numpy()))
        return {"permutation_shift": float((shifted - expected).abs().mean()), "padding_shift": None,
                **model.diagnostics()}

    permuted, order = batch.permuted(np.random.default_rng([seed, 31337]))
    p_values, p_mask, _ = to_tensors(permuted, device)
    shuffled = predict(model, p_values, p_mask, batch_size=batch_size).cpu().double()
    expected = base[torch.arange(len(batch))[:, None], torch.from_numpy(order)] if task.equivariant else base

    padded = batch.padded(EXTRA_PADDING)  # None: images, which have no padding
    more: Tensor | None = None
    if padded is not None:
        q_values, q_mask, _ = to_tensors(padded, device)
        try:
            more = predict(model, q_values, q_mask, batch_size=batch_size).cpu().double()
        except ModelError:  # a fixed-width model with no room for more padding
            more = None
    padding_shift = None
    if task.equivariant:
        weight = torch.from_numpy(batch.mask).double()
        count = weight.sum().clamp_min(1)
        moved = torch.from_numpy(permuted.mask)
        permutation_shift = float(((shuffled - expected).abs() * moved).sum() / count)
        if more is not None:
            padding_shift = float(((more[:, EXTRA_PADDING:] - base).abs() * weight).sum() / count)
    else:
        permutation_shift = float((shuffled - expected).abs().mean())
        if more is not None:
            padding_shift = float((more - base).abs().mean())
    return {"permutation_shift": permutation_shift, "padding_shift": padding_shift, **model.diagnostics()}
