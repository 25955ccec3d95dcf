"""Shared click options: the layer spec flags, and turning library errors into clean CLI errors."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from polyequiv import groups
from polyequiv.errors import SizeLimitError, SpecError
from polyequiv.matrix_spec import MatrixLayerSpec
from polyequiv.reps import Representation
from polyequiv.spec import LayerSpec
from polyequiv_cli.matrix_options import GroupType, build_matrix_spec, is_matrix_request

#: Sizes one ``--n`` (or ``--cardinalities``) range may list.
MAX_RANGE_SIZES = 10_000


class OneLineChoice(click.Choice):
    """A :class:`click.Choice` whose "missing option" message is one line (click lists one per line)."""

    def get_missing_message(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "Choose from " + ", ".join(map(str, self.choices)) + "."


class RefusedError(click.ClickException):
    """A request refused up front (too large): one line on stderr, exit code 2."""

    exit_code = 2


class DamagedFileError(click.ClickException):
    """A file that is damaged, truncated or not of its format: one line naming it and what failed, exit
    code 2 (no usage banner: the command line was right, the file is not)."""

    exit_code = 2


def file_errors() -> tuple[type[Exception], ...]:
    """The errors of damaged run, results and scheme files (checkpoint digests, results schema, …)."""
    from polyequiv.scheme import SchemeFileError
    from polyequiv.training.checkpoint import CheckpointError
    from polyequiv.training.results import ResultsError

    return CheckpointError, ResultsError, SchemeFileError


def spec_options(
    *,
    with_n: bool = True,
    with_engine: bool = True,
    output_flags: tuple[str, ...] = ("--output", "--output-rep"),
) -> Callable:
    """Add the flags that describe a layer (and its group) to a command.

    ``output_flags`` names the output-representation flag (``compile`` keeps ``--output`` for its file
    and takes ``--output-rep``).
    """

    def decorate(command: Callable) -> Callable:
        options = [*_layer_options(output_flags), *_group_options()]
        if with_engine:
            options.append(_ENGINE_OPTION)
        if with_n:
            options.insert(0, _N_OPTION)
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def _layer_options(output_flags: tuple[str, ...]) -> list[Callable]:
    """Degree, indexing, bias, mode and the representations."""
    return [
        click.option(
            "--degree",
            "-d",
            type=click.IntRange(min=0),
            default=2,
            show_default=True,
            help="Polynomial degree (1 linear, 2 quadratic, 3 cubic, ...).",
        ),
        click.option(
            "--indexing",
            type=click.Choice(["ordered", "full"]),
            default="ordered",
            show_default=True,
            help="One weight per monomial (i ≤ j), or per ordered index tuple (redundant).",
        ),
        click.option(
            "--bias/--no-bias",
            default=False,
            show_default=True,
            help="Homogenise with x_b ≡ 1: all monomials of degree ≤ d.",
        ),
        click.option(
            "--mode",
            type=click.Choice(["equivariant", "invariant"]),
            default="equivariant",
            show_default=True,
            help="Output permuted with the input, or a scalar.",
        ),
        click.option(
            "--input",
            "--input-rep",
            "input_rep",
            default="V",
            show_default=True,
            metavar="REP",
            help="Input representation: V (a set), E (undirected edges), V2 (ordered pairs), 1, sums "
            "such as 'V + E'; for a matrix group 1, V, V2, ... with multiplicities ('2*1 + 2*V'), for "
            "'S(n) x G' points⊗matrix terms ('V(x)1 + V(x)V').",
        ),
        click.option(
            *output_flags,
            "output_rep",
            default=None,
            metavar="REP",
            help="Output representation (default V, or 1 with --mode invariant).",
        ),
    ]


def _group_options() -> list[Callable]:
    """The group: its kind, generators, shape, transposition set, and the gauge."""
    return [
        click.option(
            "--group",
            type=GroupType(),
            default="symmetric",
            show_default=True,
            help="Symmetry group: symmetric, cyclic, dihedral (on the n elements); torus: translations "
            "of an HxW grid (needs --shape), torus-dihedral: and the square's symmetries (H == W); "
            "or a matrix group: O(d), SO(d), O(1,3), SO(1,3), SO+(1,3), B(n), 'S(n) x O(d)' (n points "
            "in R^d), custom (with --matrix-generators).",
        ),
        click.option(
            "--matrix-generators",
            default=None,
            metavar="FILE",
            help="Custom matrix group: JSON {\"finite\": [matrices], \"lie\": [matrices]}, rows of "
            "integers or rational strings such as \"1/2\".",
        ),
        click.option(
            "--shape",
            default=None,
            metavar="HxW",
            help="Grid of --group torus / torus-dihedral, e.g. 10x10 (10 or 10x1: a 1D signal); "
            "pixels are numbered row-major, n = H·W (-n may be left out).",
        ),
        click.option(
            "--generators",
            default=None,
            metavar="CYCLES",
            help="Custom group from generators in cycle notation, e.g. '(0 1)(2 3),(0 2 4)'.",
        ),
        click.option(
            "--transpositions",
            type=click.Choice(list(groups.TRANSPOSITION_SETS)),
            default="adjacent",
            show_default=True,
            help="Generating set of Sₙ: (i i+1), all (i j) as in the seed, or {(0 1), (0 … n−1)}.",
        ),
        click.option(
            "--gauge",
            type=click.Choice(["none", "symmetric"]),
            default="none",
            show_default=True,
            help="Full indexing only: tie W^k_t to its sorted-index twin.",
        ),
    ]


_ENGINE_OPTION = click.option(
    "--engine",
    type=click.Choice(["auto", "symbolic", "sparse"]),
    default="auto",
    show_default=True,
    help="auto is sparse (index arithmetic, the fastest); symbolic (sympy expansion) is the cross-check.",
)
_N_OPTION = click.option(
    "-n",
    "--n",
    "n",
    type=click.IntRange(min=1),
    default=None,
    help="Number of set elements (required unless --shape gives the grid).",
)


def build_spec(ctx: click.Context, n: int | None, params: dict[str, Any]) -> LayerSpec | MatrixLayerSpec:
    """A :class:`LayerSpec` (or, for a matrix group, a :class:`MatrixLayerSpec`) from the spec flags; a bad
    combination is a ``BadParameter`` (exit 2)."""
    if is_matrix_request(params):
        return build_matrix_spec(ctx, n, params)
    group = params["group"]
    shape, n = _grid_shape(group, n, params.get("shape"))
    generators: tuple[tuple[int, ...], ...] = ()
    if params.get("generators") is not None:
        if ctx.get_parameter_source("group") == click.core.ParameterSource.COMMANDLINE:
            raise click.BadParameter(
                "give either --group or --generators, not both", param_hint="'--generators'"
            )
        try:
            generators = tuple(groups.parse_generators(params["generators"], n))
        except SpecError as error:
            raise click.BadParameter(str(error), param_hint="'--generators'") from None
        group = "custom"
    transpositions = params["transpositions"]
    if group != "symmetric":
        if ctx.get_parameter_source("transpositions") == click.core.ParameterSource.COMMANDLINE:
            raise click.BadParameter("only applies to --group symmetric", param_hint="'--transpositions'")
        transpositions = "adjacent"
    if params["gauge"] == "symmetric" and params["indexing"] != "full":
        raise click.BadParameter(
            "--gauge symmetric needs --indexing full (ordered indexing has no gauge freedom)",
            param_hint="'--gauge'",
        )
    input_rep, output_rep = _representations(ctx, n, params)
    try:
        return LayerSpec(
            n=n,
            input=input_rep,
            output=output_rep,
            degree=params["degree"],
            indexing=params["indexing"],
            bias=params["bias"],
            mode=params["mode"],
            group=group,
            transpositions=transpositions,
            generators=generators,
            gauge=params["gauge"],
            shape=shape,
        )
    except SpecError as error:
        raise click.BadParameter(str(error)) from None


def _grid_shape(group: str, n: int | None, text: str | None) -> tuple[tuple[int, int] | None, int]:
    """``--shape`` for a grid group (its ``n = H·W``, checked against ``-n``), and ``n``."""
    if group not in groups.GRID_KINDS:
        if text is not None:
            raise click.BadParameter(
                f"only applies to --group {' or '.join(groups.GRID_KINDS)}", param_hint="'--shape'"
            )
        if n is None:
            raise click.UsageError("Missing option '-n' / '--n'.")
        return None, n
    if text is None:
        raise click.BadParameter(f"--group {group} needs --shape HxW, e.g. 10x10", param_hint="'--shape'")
    try:
        shape = groups.parse_shape(text)
    except SpecError as error:
        raise click.BadParameter(str(error), param_hint="'--shape'") from None
    if n is not None and n != shape[0] * shape[1]:
        raise click.BadParameter(
            f"-n {n} contradicts --shape {shape[0]}x{shape[1]} ({shape[0] * shape[1]} pixels)",
            param_hint="'--shape'",
        )
    return shape, shape[0] * shape[1]


def _representations(
    ctx: click.Context, n: int, params: dict[str, Any]
) -> tuple[Representation | None, Representation | None]:
    """``--input`` / ``--output`` as representations; ``--mode`` must agree with ``--output``."""
    reps = []
    for flag, key in (("--input", "input_rep"), ("--output(-rep)", "output_rep")):
        try:
            rep = None if params.get(key) is None else Representation.parse(params[key])
            if rep is not None:
                rep.check(n)
        except SpecError as error:
            raise click.BadParameter(str(error), param_hint=f"'{flag}'") from None
        reps.append(rep)
    input_rep, output_rep = reps
    mode_given = ctx.get_parameter_source("mode") == click.core.ParameterSource.COMMANDLINE
    if output_rep is not None and mode_given and (params["mode"] == "invariant") != output_rep.is_trivial:
        raise click.BadParameter(
            f"--mode {params['mode']} contradicts output representation {output_rep} "
            "(--mode invariant means --output 1)",
            param_hint="'--output'",
        )
    return input_rep, output_rep


def library_errors(function: Callable) -> Callable:
    """Turn refusals and spec errors from the library into one-line CLI errors with exit code 2."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except SizeLimitError as error:
            raise RefusedError(f"refused: {error}") from None
        except SpecError as error:
            raise click.BadParameter(str(error)) from None

    return wrapper


def parse_n_range(text: str) -> list[int]:
    """``"1-8"`` → 1..8; ``"3,5,10"``; ``"2-10:2"`` (step); combinations joined by commas."""
    values: list[int] = []
    for part in text.split(","):
        part = part.strip()
        try:
            if "-" in part:
                bounds, _, step = part.partition(":")
                low, high = (int(v) for v in bounds.split("-", 1))
                stride = int(step) if step else 1
                if stride < 1 or high < low:
                    raise ValueError
                sizes = range(low, high + 1, stride)
            else:
                sizes = range(int(part), int(part) + 1)
        except ValueError:
            raise click.BadParameter(
                f"{part!r} is not a size or a range; write e.g. 1-8, 3,5,10 or 2-20:2", param_hint="'--n'"
            ) from None
        if len(values) + len(sizes) > MAX_RANGE_SIZES:
            raise click.BadParameter(
                f"{text!r} lists more than {MAX_RANGE_SIZES:,} sizes ({len(values) + len(sizes):,}); "
                "use a step, e.g. 10-100000:1000",
                param_hint="'--n'",
            )
        values.extend(sizes)
    if not values or min(values) < 1:
        raise click.BadParameter("every n must be ≥ 1", param_hint="'--n'")
    return sorted(set(values))


def check_writable(path: Path, param_hint: str) -> None:
    """Refuse up front (exit 2) a file path that cannot be written: a folder, or one below a file."""
    if path.is_dir():
        raise click.BadParameter(f"{path} is a folder", param_hint=param_hint)
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise click.BadParameter(f"cannot write {path}: {ancestor} is not a folder", param_hint=param_hint)
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise click.BadParameter(f"cannot write {path}: {ancestor} is not writable", param_hint=param_hint)


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2))
