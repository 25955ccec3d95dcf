"""Tasks, one module per domain, behind one registry: ``make_task(name, seed=…)``.

=====================  =================================================
module                 domain
=====================  =================================================
:mod:`.sets`           sets of scalars: digit sums, real sums, polynomial
                       set functions (the DeepSets lab and the seed 003)
:mod:`.graphs`         undirected graphs: node degrees (seed 003 §3.3) and
                       triangles through each node
:mod:`.images`         images under cyclic translation: the seed 003 §3.2
                       1D / 2D shapes, scikit-learn digits on a canvas
:mod:`.physics`        scalars, vectors and tensors under matrix groups: EMLP's
                       inertia (S₅ × O(3)), e⁻μ⁻ scattering (O(1,3)), O(5)
=====================  =================================================

A domain module holds its tasks in a dict ``TASKS`` (name → definition) and
generates one with ``make(definition, seed=…, quick=…, …)``; adding a domain is
adding a module and one line to ``_DOMAINS`` here.  Everything is numpy; the
torch side lives in :mod:`polyequiv.models` and :mod:`polyequiv.training`.

    >>> task = make_task("digit-sum", seed=0, quick=True)
    >>> task.train.values.shape, sorted(task.test)[:3]
    ((5000, 10), [5, 10, 20])
"""

from __future__ import annotations

import inspect
from types import ModuleType
from typing import Any

from polyequiv.tasks import graphs, images, physics, sets
from polyequiv.tasks.base import TaskError, TaskSizes
from polyequiv.tasks.graphs import GraphBatch, GraphTask, GraphTaskDefinition
from polyequiv.tasks.images import ImageBatch, ImageTask, ImageTaskDefinition
from polyequiv.tasks.physics import PhysicsBatch, PhysicsTask, PhysicsTaskDefinition
from polyequiv.tasks.sets import PAD, SetBatch, SetTask, TaskDefinition

_DOMAINS: tuple[ModuleType, ...] = (sets, graphs, images, physics)

#: Every task of every domain, in registry order.
TASKS: dict[str, Any] = {name: task for domain in _DOMAINS for name, task in domain.TASKS.items()}
_DOMAIN_OF: dict[str, ModuleType] = {name: domain for domain in _DOMAINS for name in domain.TASKS}


def task_names() -> list[str]:
    """Names accepted by :func:`make_task`, in registry order."""
    return list(TASKS)


def task_domain(name: str) -> str:
    """The domain of the task called ``name``: ``"sets"``, ``"graphs"``, ``"images"`` or ``"physics"``.

    >>> task_domain("digit-sum"), task_domain("triangles")
    ('sets', 'graphs')
    """
    get_definition(name)  # the TaskError naming the choices
    return _DOMAIN_OF[name].__name__.rsplit(".", 1)[-1]


def get_definition(name: str) -> Any:
    """The definition of the task called ``name``; :class:`TaskError` naming the choices otherwise."""
    try:
        return TASKS[name]
    except KeyError:
        raise TaskError(f"unknown task {name!r}; choose one of {', '.join(TASKS)}") from None


def make_task(name: str, **options: Any) -> Any:
    """Generate the task ``name``: ``seed``, ``quick`` and size overrides as its domain's ``make`` takes them.

    Examples
    --------
    >>> task = make_task("times-sum", seed=1, train=8, test=4, cardinalities=[3, 30])
    >>> task.train.targets.shape, task.test[30].values.shape, task.equivariant
    ((8, 10), (4, 30), True)

    Raises
    ------
    TaskError
        For an unknown name or sizes the task cannot be generated with.
    """
    definition = get_definition(name)
    make = _DOMAIN_OF[name].make
    accepted = [p for p in inspect.signature(make).parameters if p != "definition"]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise TaskError(f"task {name!r} takes no option {unknown[0]!r} (its options: {', '.join(accepted)})")
    return make(definition, **options)


__all__ = [
    "PAD",
    "TASKS",
    "GraphBatch",
    "GraphTask",
    "GraphTaskDefinition",
    "ImageBatch",
    "ImageTask",
    "ImageTaskDefinition",
    "PhysicsBatch",
    "PhysicsTask",
    "PhysicsTaskDefinition",
    "SetBatch",
    "SetTask",
    "TaskDefinition",
    "TaskError",
    "TaskSizes",
    "get_definition",
    "make_task",
    "task_names",
]
