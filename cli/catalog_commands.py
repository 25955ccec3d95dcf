"""`polyequiv tasks` and `polyequiv models`: what exists, one line each, and which fits which."""

from __future__ import annotations

import textwrap

import click

from polyequiv_cli.options import echo_json


@click.command("tasks")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
def tasks_command(output_format: str) -> None:
    """List the tasks: domain, kind, target, and the models that fit each.

    \b
    Example: polyequiv tasks
    Then: polyequiv train --task TASK --model MODEL --out runs/x
    """
    from polyequiv.training.catalog import task_entries

    entries = task_entries()
    if output_format == "json":
        echo_json([entry.to_dict() for entry in entries])
        return
    width = max(len(entry.name) for entry in entries)
    for entry in entries:
        click.echo(f"{entry.name:<{width}}  {entry.domain:<6}  {entry.kind:<14}  {entry.formula}")
        click.echo(textwrap.fill(", ".join(entry.models), width=100, break_on_hyphens=False,
                                 initial_indent=" " * (width + 2) + "models: ",
                                 subsequent_indent=" " * (width + 10)))


@click.command("models")
@click.option("--task", "task", default=None, metavar="TASK", help="Only the models that fit this task.")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
def models_command(task: str | None, output_format: str) -> None:
    """List the models: domain, default solver (lstsq: exact least squares), what they are, which tasks.

    \b
    Example: polyequiv models --task triangles
    """
    from polyequiv.tasks import TaskError, get_definition
    from polyequiv.training.catalog import model_entries

    if task is not None:
        try:
            get_definition(task)
        except TaskError as error:
            raise click.BadParameter(str(error), param_hint="'--task'") from None
    entries = [entry for entry in model_entries() if task is None or task in entry.tasks]
    if output_format == "json":
        echo_json([entry.to_dict() for entry in entries])
        return
    width = max(len(entry.name) for entry in entries)
    for entry in entries:
        click.echo(f"{entry.name:<{width}}  {entry.domain:<6}  {entry.solver:<5}  {entry.summary}")
