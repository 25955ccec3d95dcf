"""Entry point of the `polyequiv` command."""

from __future__ import annotations

import click

from polyequiv import __version__
from polyequiv_cli.catalog_commands import models_command, tasks_command
from polyequiv_cli.check_commands import check_command
from polyequiv_cli.compose_commands import compose_command
from polyequiv_cli.discover_commands import discover_command
from polyequiv_cli.engine_commands import count_command, derive_command, verify_command
from polyequiv_cli.explain_commands import explain_command
from polyequiv_cli.scheme_commands import compile_command
from polyequiv_cli.train_commands import compare_command, plot_command, train_command


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="polyequiv")
def cli() -> None:
    """Derive, count and train with the weight ties of permutation-equivariant polynomial layers.

    Convention: (σ·x)_i = x_{σ(i)}; equivariance is f(σ·x) = σ·f(x).
    """


for command in (
    derive_command,
    count_command,
    verify_command,
    compile_command,
    train_command,
    compare_command,
    plot_command,
    compose_command,
    discover_command,
    check_command,
    explain_command,
    tasks_command,
    models_command,
):
    cli.add_command(command)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
