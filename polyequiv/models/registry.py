"""The model registry and what every model shares: the context it is built for, its base class.

A model is registered with a :class:`ModelDefinition` (name, summary, builder,
default options, training settings); :func:`build_model` builds one by name for
a :class:`ModelContext`.  The models themselves live in one module per domain
(:mod:`polyequiv.models.sets`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import Tensor, nn


class ModelError(ValueError):
    """An unknown model, an option it does not take, or a task it cannot do."""


@dataclass(frozen=True)
class ModelContext:
    """What a model needs to know about a task to be built.

    Attributes
    ----------
    elements : {"digits", "reals", "graph"}
        Digits 1..10 (``int64``, 0 = padding) or real numbers (sets), or adjacency matrices (graphs).
    equivariant : bool
        One output per element (``True``) or one per set.
    max_cardinality : int
        Largest set (graph) the model will see; fixed-width models (``mlp``, ``penalty-mlp``,
        ``row-mlp``) take this many inputs.
    """

    elements: str
    equivariant: bool
    max_cardinality: int

    @property
    def domain(self) -> str:
        """``"graphs"`` for adjacency inputs, ``"sets"`` otherwise: which models apply."""
        return "graphs" if self.elements == "graph" else "sets"

    @classmethod
    def of(cls, task: Any) -> ModelContext:
        """The context of a generated task (:class:`polyequiv.tasks.SetTask` or ``GraphTask``)."""
        return cls(task.definition.elements, task.equivariant, task.max_cardinality)


class SetModel(nn.Module):
    """Base class: ``forward(values, mask)`` plus an optional training penalty and diagnostics."""

    equivariant: bool = False

    def penalty(self) -> Tensor | None:
        """A term added to the training loss (``None``: none)."""
        return None

    def diagnostics(self) -> dict[str, float]:
        """Numbers worth recording in ``results.json`` (e.g. the learned equivariance residual)."""
        return {}


@dataclass(frozen=True)
class ModelDefinition:
    """A named model: how to build it, what it is, the training settings it comes with, and its
    domain (``"sets"`` or ``"graphs"``: the tasks whose inputs it reads)."""

    name: str
    summary: str
    build: Callable[..., SetModel]
    options: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    domain: str = "sets"


MODELS: dict[str, ModelDefinition] = {}


def register(definition: ModelDefinition) -> ModelDefinition:
    MODELS[definition.name] = definition
    return definition


#: Domains in the order their models are listed.
DOMAINS = ("sets", "graphs")


def model_names(domain: str | None = None) -> list[str]:
    """Names accepted by :func:`build_model`: domain by domain (:data:`DOMAINS`), each in registry order;
    only those of ``domain`` when given."""
    names = sorted(MODELS, key=lambda name: DOMAINS.index(MODELS[name].domain))
    return [name for name in names if domain is None or MODELS[name].domain == domain]


def get_model_definition(name: str) -> ModelDefinition:
    try:
        return MODELS[name]
    except KeyError:
        raise ModelError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}") from None


#: Largest value an integer model option (a width, a depth, a degree) may take.
MAX_INT_OPTION = 100_000


def check_options(name: str, options: dict[str, Any]) -> None:
    """Refuse options ``name`` does not take, and values of another type than the option's default.

    Integer options must be integers in ``0 .. MAX_INT_OPTION``, float options finite
    numbers, text options text, flags ``True``/``False``; what a model needs beyond
    that (``hidden ≥ 1``, a known pooling) its own constructor checks.

    >>> check_options("mlp", {"hidden": "wide"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    polyequiv.models.registry.ModelError: option hidden of model 'mlp' must be an integer in 0..100000, ...
    """
    definition = get_model_definition(name)
    unknown = set(options) - set(definition.options)
    if unknown:
        known = ", ".join(definition.options) or "none"
        raise ModelError(f"model {name!r} takes no option {sorted(unknown)[0]!r} (its options: {known})")
    for key, value in options.items():
        default = definition.options[key]
        if isinstance(default, bool):
            ok, wanted = isinstance(value, bool), "true or false"
        elif isinstance(default, int):
            ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_INT_OPTION
            wanted = f"an integer in 0..{MAX_INT_OPTION}"
        elif isinstance(default, float):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            wanted = "a finite number"
        else:
            ok, wanted = isinstance(value, type(default)), f"of type {type(default).__name__}"
        if not ok:
            raise ModelError(f"option {key} of model {name!r} must be {wanted}, got {value!r}")


def build_model(name: str, context: ModelContext, **options: Any) -> SetModel:
    """Build the model ``name`` for a task described by ``context``.

    Parameters
    ----------
    name : str
        One of :func:`model_names`.
    context : ModelContext
        Element kind, invariant or equivariant, largest cardinality.
    **options
        Overrides of the model's options (``hidden``, ``pooling``, ``penalty``, …); see
        ``MODELS[name].options`` for the names and defaults.

    Raises
    ------
    ModelError
        For an unknown model, an unknown option, or a task the model cannot do.
    """
    definition = get_model_definition(name)
    check_options(name, options)
    if definition.domain != context.domain:
        raise ModelError(f"model {name!r} reads {definition.domain}, and this task is on {context.domain}")
    return definition.build(context, **{**definition.options, **options})


def count_parameters(model: nn.Module) -> int:
    """Trainable scalars of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
