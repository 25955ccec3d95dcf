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
from typing import Any

from polyequiv.models import ModelContext, ModelError, get_model_definition
from polyequiv.models.registry import check_options
from polyequiv.tasks import TaskError, get_definition

LOSSES = ("l1", "mse", "cross-entropy")
SCHEDULES = ("constant", "cosine")
TASK_OPTIONS = ("quick", "train", "valid", "test", "cardinalities", "train_cardinalities", "split")


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
        domain = ModelContext.of_definition(get_definition(self.task)).domain
        if get_model_definition(self.model).domain != domain:
            raise ConfigError(f"model {self.model!r} reads {get_model_definition(self.model).domain}, "
                              f"and task {self.task!r} is on {domain}")
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

    @classmethod
    def create(cls, task: str, model: str, *, seed: int = 0, epochs: int | None = None,
               batch_size: int | None = None, lr: float | None = None, loss: str | None = None,
               schedule: str | None = None, model_options: dict[str, Any] | None = None,
               task_options: dict[str, Any] | None = None) -> RunConfig:
        """A config with the model's own training defaults for every setting left ``None``.

        The lab's baselines default to the lab's settings (20 epochs, batch 64, Adam 1e-3,
        L1, constant rate); each model's defaults are ``MODELS[model].training``.  A model that
        only computes on sets of one size (the composed networks of
        :mod:`polyequiv.models.networks`) fixes the task's cardinalities: left out, they are set to
        its size; given otherwise, the config is refused here, before anything trains.
        """
        try:
            definition = get_model_definition(model)
        except ModelError as error:
            raise ConfigError(str(error)) from None
        defaults = dict(definition.training)
        given = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "loss": loss, "schedule": schedule}
        settings = {**defaults, **{k: v for k, v in given.items() if v is not None}}
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
