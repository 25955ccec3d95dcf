"""`RunConfig`: everything that decides a run's numbers (task, sizes, model, seed, optimiser settings).

Run-time choices that do not change what is computed — threads, device, the
progress bar — are not part of it, so a run can be resumed on another thread count.

    >>> config = RunConfig.create("digit-sum", "deepsets", seed=3, epochs=2, task_options={"quick": True})
    >>> config.lr, config.loss, config.batch_size
    (0.001, 'l1', 64)
    >>> RunConfig.from_dict(config.to_dict()) == config
    True
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from functools import cache
from typing import Any

from polyequiv.models import ModelContext, ModelError, get_model_definition, model_names
from polyequiv.models.registry import check_options
from polyequiv.tasks import TaskError, get_definition

LOSSES = ("l1", "mse", "cross-entropy")
SCHEDULES = ("constant", "cosine")
#: ``adam``: stochastic gradient steps; ``lstsq``: the exact least-squares fit of a model linear in its
#: weights, in one pass (:mod:`polyequiv.training.least_squares`).
SOLVERS = ("adam", "lstsq")
TASK_OPTIONS = ("quick", "train", "valid", "test", "cardinalities", "train_cardinalities", "split", "family")


class ConfigError(ValueError):
    """A run configuration that cannot be trained (bad value, unknown name, mismatch on resume)."""


@dataclass(frozen=True)
class RunConfig:
    """The settings of one training run.

    Attributes
    ----------
    task, model : str
        Names from :mod:`polyequiv.tasks` and :mod:`polyequiv.models`.
    seed : int
        Seeds the data (numpy), the initial weights (torch) and the batch order of every epoch.
    epochs, batch_size : int
        Passes over the training set, sets per optimiser step.
    lr : float
        Adam learning rate (the peak, with the cosine schedule).
    loss : {"l1", "mse", "cross-entropy"}
        Mean absolute or squared error (per set, or per real element for equivariant tasks), or the
        cross-entropy of class logits (classification tasks: images).
    schedule : {"constant", "cosine"}
        Constant learning rate, or cosine decay to 0 over all steps.
    model_options, task_options : dict
        Overrides of the model's options and of the task sizes (``quick``, ``train``, ``valid``,
        ``test``, ``cardinalities``; set tasks also ``train_cardinalities`` = ``[low, high]``, graph
        tasks ``split``).
    solver : {"adam", "lstsq"}
        Adam steps, or the exact least-squares fit (models linear in their weights, regression
        tasks; one pass, ``epochs = 1``, in float64).  The optimiser settings (``lr``, ``schedule``)
        do not enter an ``lstsq`` fit; its squared error is minimised whatever ``loss`` reports.
    ridge : float
        ``λ`` of the ``lstsq`` fit's ``λ‖θ‖²`` (0: none).
    """

    task: str
    model: str
    seed: int = 0
    epochs: int = 20
    batch_size: int = 64
    lr: float = 1e-3
    loss: str = "l1"
    schedule: str = "constant"
    model_options: dict[str, Any] = field(default_factory=dict)
    task_options: dict[str, Any] = field(default_factory=dict)
    solver: str = "adam"
    ridge: float = 0.0

    def __post_init__(self) -> None:
        try:
            get_definition(self.task)
            get_model_definition(self.model)
        except (TaskError, ModelError) as error:
            raise ConfigError(str(error)) from None
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"seed must be a non-negative integer, got {self.seed!r}")
        if isinstance(self.lr, bool) or not isinstance(self.lr, (int, float)) or not 0 < self.lr < math.inf:
            raise ConfigError(f"lr must be a positive finite number, got {self.lr!r}")
        if self.loss not in LOSSES:
            raise ConfigError(f"unknown loss {self.loss!r}; choose one of {', '.join(LOSSES)}")
        context = ModelContext.of_definition(get_definition(self.task))
        problem = get_model_definition(self.model).fit_problem(context)
        if problem is not None:
            raise ConfigError(f"model {self.model!r} cannot do task {self.task!r}: {problem}; the models for "
                              f"{self.task} are {', '.join(models_for_task(self.task))}")
        classification = getattr(get_definition(self.task), "classification", False)
        if classification != (self.loss == "cross-entropy"):
            raise ConfigError(
                f"task {self.task!r} needs loss 'cross-entropy', not {self.loss!r}" if classification
                else f"loss 'cross-entropy' is for classification tasks (images), not {self.task!r}"
            )
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"unknown schedule {self.schedule!r}; choose one of {', '.join(SCHEDULES)}")
        unknown = set(self.task_options) - set(TASK_OPTIONS)
        if unknown:
            raise ConfigError(f"unknown task option {sorted(unknown)[0]!r}; "
                              f"choose from {', '.join(TASK_OPTIONS)}")
        try:
            check_options(self.model, self.model_options)
        except ModelError as error:
            raise ConfigError(str(error)) from None
        self._check_solver(classification)

    def _check_solver(self, classification: bool) -> None:
        if self.solver not in SOLVERS:
            raise ConfigError(f"unknown solver {self.solver!r}; choose one of {', '.join(SOLVERS)}")
        ridge = self.ridge
        if isinstance(ridge, bool) or not isinstance(ridge, (int, float)) or not 0 <= ridge < math.inf:
            raise ConfigError(f"ridge must be a non-negative finite number, got {ridge!r}")
        if self.solver == "adam":
            if ridge:
                raise ConfigError("ridge is a setting of the least-squares fit (--solver lstsq)")
            return
        if not get_model_definition(self.model).is_linear(self.model_options):
            raise ConfigError(f"model {self.model!r} is not linear in its weights, so it cannot be fitted "
                              "by least squares; use --solver adam")
        if classification:
            raise ConfigError(f"task {self.task!r} is a classification (cross-entropy): least squares does "
                              "not fit it; use --solver adam")
        if self.epochs != 1:
            raise ConfigError(f"--solver lstsq fits exactly in one pass (epochs 1), got epochs "
                              f"{self.epochs}; leave --epochs out, or train with --solver adam")

    @classmethod
    def create(cls, task: str, model: str, *, seed: int = 0, epochs: int | None = None,
               batch_size: int | None = None, lr: float | None = None, loss: str | None = None,
               schedule: str | None = None, model_options: dict[str, Any] | None = None,
               task_options: dict[str, Any] | None = None, solver: str | None = None,
               ridge: float | None = None) -> RunConfig:
        """A config with the model's own training defaults for every setting left ``None``.

        The lab's baselines default to the lab's settings (20 epochs, batch 64, Adam 1e-3,
        L1, constant rate); each model's defaults are ``MODELS[model].training``.  A model that
        only computes on sets of one size (the composed networks of
        :mod:`polyequiv.models.networks`) fixes the task's cardinalities: left out, they are set to
        its size; given otherwise, the config is refused here, before anything trains.

        The solver left out is ``lstsq`` for a model linear in its weights on a regression task
        (its exact fit, one epoch), ``adam`` otherwise.
        """
        try:
            definition = get_model_definition(model)
        except ModelError as error:
            raise ConfigError(str(error)) from None
        if solver is None:
            solver = default_solver(task, model, model_options)
        defaults = dict(definition.training)
        if solver == "lstsq":
            defaults["epochs"] = 1
            stepped = [name for name, value in (("lr", lr), ("schedule", schedule)) if value is not None]
            if stepped:
                raise ConfigError(f"--{stepped[0]} is a setting of gradient training; the least-squares "
                                  "fit (--solver lstsq) takes no steps; leave it out, or use --solver adam")
        given = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "loss": loss, "schedule": schedule}
        settings = {**defaults, **{k: v for k, v in given.items() if v is not None}}
        settings.update(solver=solver, ridge=0.0 if ridge is None else ridge)
        options = {k: v for k, v in (task_options or {}).items() if v is not None}
        if "cardinalities" in options:
            options["cardinalities"] = sorted({int(c) for c in options["cardinalities"]})
        if "train_cardinalities" in options:
            options["train_cardinalities"] = [int(c) for c in options["train_cardinalities"]]
        if definition.task_requirements is not None:
            try:
                required = definition.task_requirements(dict(model_options or {}))
            except ModelError as error:
                raise ConfigError(str(error)) from None
            for key, value in required.items():
                if key in options and options[key] != value:
                    flag = "--" + key.replace("_", "-")
                    shown = ",".join(str(v) for v in value) if key == "cardinalities" else (
                        f"{value[0]}" if value[0] == value[-1] else f"{value[0]}-{value[-1]}")
                    raise ConfigError(f"model {model!r} needs {flag} {shown} (task option {key} = {value}: "
                                      f"its network's size), got {options[key]}")
                options[key] = value
        return cls(task=task, model=model, seed=seed, model_options=dict(model_options or {}),
                   task_options=options, **settings)

    @classmethod
    def for_compare(cls, task: str, model: str, *, solver: str | None = None, epochs: int | None = None,
                    lr: float | None = None, schedule: str | None = None, **settings: Any) -> RunConfig:
        """:meth:`create` for a model trained beside others: the optimiser settings (``epochs``, ``lr``,
        ``schedule``) apply when it trains with Adam, and are left out when it is fitted by least
        squares (its default when it is linear in its weights)."""
        chosen = solver or default_solver(task, model, settings.get("model_options"))
        steps = {"epochs": epochs, "lr": lr, "schedule": schedule} if chosen == "adam" else {}
        return cls.create(task, model, solver=chosen, **steps, **settings)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        """Inverse of :meth:`to_dict`; unknown fields raise :class:`ConfigError`."""
        if not isinstance(data, dict):
            raise ConfigError(f"a run config must be a JSON object, got {type(data).__name__}")
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"unknown run config fields: {sorted(unknown)}")
        return cls(**data)

    def differences(self, other: RunConfig) -> list[str]:
        """``"name: mine != theirs"`` for every field that differs (empty when equal)."""
        mine, theirs = self.to_dict(), other.to_dict()
        return [f"{key}: {mine[key]!r} != {theirs[key]!r}" for key in mine if mine[key] != theirs[key]]


def default_solver(task: str, model: str, model_options: dict[str, Any] | None = None) -> str:
    """``lstsq`` for a model linear in its weights on a regression task, else ``adam``."""
    try:
        classification = getattr(get_definition(task), "classification", False)
        linear = get_model_definition(model).is_linear(model_options)
    except (TaskError, ModelError) as error:
        raise ConfigError(str(error)) from None
    return "lstsq" if linear and not classification else "adam"


@cache
def models_for_task(task: str) -> tuple[str, ...]:
    """The models that fit ``task`` (:meth:`~polyequiv.models.ModelDefinition.fit_problem`, nothing built)."""
    try:
        context = ModelContext.of_definition(get_definition(task))
    except TaskError as error:
        raise ConfigError(str(error)) from None
    return tuple(name for name in model_names() if get_model_definition(name).fit_problem(context) is None)
