"""`polyequiv tasks` / `polyequiv models`: the listings, and the fit rule against building every pair."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from polyequiv.models import ModelContext, ModelError, build_model, model_names
from polyequiv.tasks import get_definition, task_names
from polyequiv.training.config import ConfigError, RunConfig, models_for_task
from polyequiv_cli.main import cli


@pytest.mark.parametrize("task", task_names())
def test_the_fit_rule_agrees_with_building_every_model(task: str) -> None:
    context = ModelContext.of_definition(get_definition(task))
    built = []
    for name in model_names():
        try:
            build_model(name, context)
        except ModelError:
            continue
        built.append(name)
    assert list(models_for_task(task)) == built


def test_the_listings_name_every_task_and_model_once() -> None:
    runner = CliRunner()
    tasks = json.loads(runner.invoke(cli, ["tasks", "--format", "json"]).output)
    assert [t["name"] for t in tasks] == task_names()
    triangles = next(t for t in tasks if t["name"] == "triangles")
    assert triangles["kind"] == "equivariant" and "tied-edge-cubic" in triangles["models"]
    models = json.loads(runner.invoke(cli, ["models", "--format", "json"]).output)
    assert [m["name"] for m in models] == model_names()
    solvers = {m["name"]: m["solver"] for m in models}
    assert solvers["tied-edge-cubic"] == "lstsq" and solvers["gin"] == "adam" and solvers["cnn"] == "adam"
    text = runner.invoke(cli, ["models", "--task", "triangles"]).output
    assert "tied-edge-cubic" in text and "deepsets " not in text


def test_a_model_that_does_not_fit_is_refused_naming_those_that_do() -> None:
    with pytest.raises(ConfigError, match=r"model 'lstm' cannot do task 'center': it has no per-element "
                                          r"output .* the models for center are tied-linear, tied-quadratic"):
        RunConfig.create("center", "lstm")
    with pytest.raises(ConfigError, match="model 'gin' cannot do task 'digit-sum': it reads graphs"):
        RunConfig.create("digit-sum", "gin")
