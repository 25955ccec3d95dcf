"""`polyequiv compile`: write a derived layer's tying scheme to a validated JSON file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from polyequiv.derivation import derive
from polyequiv.locking import LockedError, hold_lock
from polyequiv.scheme import TyingScheme
from polyequiv_cli.options import RefusedError, build_spec, check_writable, library_errors, spec_options


@click.command("compile")
@spec_options(output_flags=("--output-rep",))
@click.option(
    "-o",
    "--output",
    "output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Where to write the scheme (JSON, written atomically).",
)
@click.pass_context
@library_errors
def compile_command(ctx: click.Context, n: int, output: Path, engine: str, **spec_flags: Any) -> None:
    """Derive a layer and write its tying scheme (classes + exact basis) for torch.

    \b
    Example: polyequiv compile -n 6 --degree 2 -o s.json
    then in Python: TiedPolynomialLayer(load_scheme("s.json")).
    Tensor layers: polyequiv compile -n 6 --input E --output-rep V -o edges.json
    A second compile to the same path while one runs is refused (exit 2).
    """
    spec = build_spec(ctx, n, spec_flags)
    check_writable(output, "'--output'")
    try:
        with hold_lock(output, folder=False):
            scheme = TyingScheme.from_derivation(derive(spec, engine=engine))
            scheme.save(output)
    except LockedError as error:
        raise RefusedError(f"refused: {error}") from None
    except OSError as error:
        raise click.BadParameter(f"cannot write {output}: {error.strerror or error}",
                                 param_hint="'--output'") from None
    click.echo(
        f"wrote {output}: {spec}, {scheme.num_weights:,} weights, {scheme.num_classes:,} classes, "
        f"{scheme.num_free:,} free parameters, function dim {scheme.function_dim:,}"
    )
