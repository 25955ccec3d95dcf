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
    elements : {"digits", "reals", "graph", "image"}
        Digits 1..10 (``int64``, 0 = padding) or real numbers (sets), adjacency matrices (graphs),
        or images (``(H, W)`` grids).
    equivariant : bool
        One output per element (``True``) or one per set.
    max_cardinality : int
        Largest set (graph) the model will see; fixed-width models (``mlp``, ``penalty-mlp``,
        ``row-mlp``) take this many inputs.
    shape, classes : optional
        Images only: the grid ``(H, W)`` and the number of classes.
    baseline_kernel, baseline_stride : optional
        Images only: the seed's CNN baseline for the task (kernel ``(kh, kw)`` and stride).
    spec : str, optional
        Physics only (``elements="geometric"``): the task's layer spec
        (:class:`~polyequiv.matrix_spec.MatrixLayerSpec`: group, representations, degree).
    """

    elements: str
    equivariant: bool
    max_cardinality: int
    shape: tuple[int, int] | None = None
    classes: int | None = None
    baseline_kernel: tuple[int, int] | None = None
    baseline_stride: int = 1
    spec: str | None = None

    @property
    def domain(self) -> str:
        """``"graphs"`` for adjacency inputs, ``"images"`` for images, ``"physics"`` for tensors of a matrix
        group, ``"sets"`` otherwise: which models apply."""
        return {"graph": "graphs", "image": "images", "geometric": "physics"}.get(self.elements, "sets")

    @classmethod
    def of(cls, task: Any) -> ModelContext:
        """The context of a generated task (a ``SetTask``, ``GraphTask`` or ``ImageTask``)."""
        return cls.of_definition(task.definition, task.max_cardinality)

    @classmethod
    def of_definition(cls, definition: Any, max_cardinality: int | None = None) -> ModelContext:
        """The context of a task definition (largest cardinality: its full sizes' unless given)."""
        return cls(
            definition.elements,
            definition.equivariant,
            definition.full.max_train if max_cardinality is None else max_cardinality,
            shape=getattr(definition, "shape", None),
            classes=getattr(definition, "classes", None),
            baseline_kernel=getattr(definition, "baseline_kernel", None),
            baseline_stride=getattr(definition, "baseline_stride", 1),
            spec=definition.layer_spec() if hasattr(definition, "layer_spec") else None,
        )


class SetModel(nn.Module):
    """Base class: ``forward(values, mask)`` plus an optional training penalty and diagnostics."""

    equivariant: bool = False

    def penalty(self) -> Tensor | None:
        """A term added to the training loss (``None``: none)."""
        return None

    def diagnostics(self) -> dict[str, float]:
        """Numbers worth recording in ``results.json`` (e.g. the learned equivariance residual)."""
        return {}

    def before_step(self) -> None:
        """Called after the backward pass, before the optimiser step (e.g. to project gradients)."""

    def after_step(self) -> None:
        """Called after the optimiser step (e.g. to retract the parameters onto a constraint set)."""

    def polynomial_degree(self) -> int | None:
        """The total degree of the polynomial the model computes from its inputs (``None``: not a
        polynomial, e.g. it has a ReLU): what ``polyequiv explain`` reads."""
        return None

    def linear_parameters(self) -> list[nn.Parameter] | None:
        """The parameters the prediction is linear in, when it is linear in *all* of them (``ŷ = F(x) θ``,
        no offset): such a model is fitted exactly by least squares
        (:mod:`polyequiv.training.least_squares`).  ``None``: not linear in its weights."""
        return None


@dataclass(frozen=True)
class ModelDefinition:
    """A named model: how to build it, what it is, the training settings it comes with, and its
    domain (``"sets"``, ``"graphs"``, ``"images"`` or ``"physics"``: the tasks whose inputs it reads).

    ``task_requirements(model_options)``, when set, returns task options the model cannot do
    without (``{"cardinalities": [3], "train_cardinalities": [3, 3]}`` for a network on 3
    elements); :meth:`polyequiv.training.RunConfig.create` applies them.

    ``linear_in_weights(model_options)`` says whether the model built with those options is linear
    in its weights (:meth:`SetModel.linear_parameters`); such models are fitted by least squares
    unless another solver is asked for.  ``unfit_for(context)`` names what keeps it from a task of its
    domain (an LSTM has no per-element output).  ``trainable=False`` marks models with nothing to train
    (exact formulas, written by ``polyequiv explain --refit``): they are not listed by
    :func:`model_names` and not trained.
    """

    name: str
    summary: str
    build: Callable[..., SetModel]
    options: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    domain: str = "sets"
    task_requirements: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    linear_in_weights: Callable[[dict[str, Any]], bool] | None = None
    trainable: bool = True
    unfit_for: Callable[[ModelContext], str | None] | None = None

    def fit_problem(self, context: ModelContext) -> str | None:
        """Why the model (default options) cannot do a task of ``context`` (``None``: it can), without
        building it: the domain, then the model's own ``unfit_for``.  A test checks this against
        :func:`build_model` for every task and model."""
        if self.domain != context.domain:
            return f"it reads {self.domain}, and the task is on {context.domain}"
        return self.unfit_for(context) if self.unfit_for is not None else None

    def is_linear(self, options: dict[str, Any] | None = None) -> bool:
        """Whether the model with ``options`` (over its defaults) is linear in its weights."""
        if self.linear_in_weights is None:
            return False
        return self.linear_in_weights({**self.options, **(options or {})})


MODELS: dict[str, ModelDefinition] = {}


def register(definition: ModelDefinition) -> ModelDefinition:
    MODELS[definition.name] = definition
    return definition


#: Domains in the order their models are listed.
DOMAINS = ("sets", "graphs", "images", "physics")


def model_names(domain: str | None = None) -> list[str]:
    """The trainable models :func:`build_model` builds: domain by domain (:data:`DOMAINS`), each in
    registry order; only those of ``domain`` when given (formula models are built, not listed)."""
    names = sorted((name for name in MODELS if MODELS[name].trainable),
                   key=lambda name: DOMAINS.index(MODELS[name].domain))
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
    numbers, text options text, flags ``True``/``False``, options whose default is ``None``
    (a size taken from the task unless given: ``kernel``, ``stride``, ``kernel_support``,
    ``offsets``) an integer, a list of integers or ``None``; what a model needs beyond
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
        if default is None:  # "the task's own" unless given: an integer or a list of integers (a shape)
            ok = value is None or _is_integer(value) or (
                isinstance(value, list) and bool(value) and all(_is_integer(v) for v in value))
            wanted = f"an integer in ±{MAX_INT_OPTION}, a list of them, or null"
        elif isinstance(default, bool):
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


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) <= MAX_INT_OPTION


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
