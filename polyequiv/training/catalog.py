"""What exists: every task and model, one line each, and which models fit which task.

A model *fits* a task when it reads the task's domain (sets, graphs, images) and can be built for
it (an LSTM has no per-element output, so it does not fit the equivariant set tasks); the formula
models that ``explain --refit`` writes are not listed (nothing to train).
"""

from __future__ import annotations

from dataclasses import dataclass

from polyequiv.models import get_model_definition, model_names
from polyequiv.tasks import get_definition, task_domain, task_names
from polyequiv.training.config import default_solver, models_for_task


@dataclass(frozen=True)
class TaskEntry:
    name: str
    domain: str
    kind: str
    formula: str
    models: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "domain": self.domain, "kind": self.kind, "formula": self.formula,
                "models": list(self.models)}


@dataclass(frozen=True)
class ModelEntry:
    name: str
    domain: str
    solver: str
    summary: str
    tasks: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "domain": self.domain, "solver": self.solver, "summary": self.summary,
                "tasks": list(self.tasks)}


def task_entries() -> list[TaskEntry]:
    """One entry per task: domain, kind (invariant / equivariant / classification), formula, models."""
    entries = []
    for name in task_names():
        definition = get_definition(name)
        kind = ("classification" if getattr(definition, "classification", False)
                else "equivariant" if definition.equivariant else "invariant")
        entries.append(TaskEntry(name, task_domain(name), kind, definition.formula, models_for_task(name)))
    return entries


def model_entries() -> list[ModelEntry]:
    """One entry per model: domain, default solver (on its domain's regression tasks), summary, tasks."""
    tasks = {entry.name: entry for entry in task_entries()}
    entries = []
    for name in model_names():
        definition = get_model_definition(name)
        fits = tuple(task for task, entry in tasks.items() if name in entry.models)
        regression = [task for task in fits if tasks[task].kind != "classification"]
        solver = default_solver(regression[0], name) if regression else "adam"
        entries.append(ModelEntry(name, definition.domain, solver, definition.summary, fits))
    return entries
