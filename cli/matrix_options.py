"""The ``--group`` values that name matrix groups, ``--matrix-generators FILE``, and the spec they build."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from polyequiv.errors import SpecError
from polyequiv.matrix_groups import MatrixGroup, matrix_group_from_document
from polyequiv.matrix_spec import MatrixLayerSpec
from polyequiv.product_groups import looks_like_matrix_group, parse_group

PERMUTATION_GROUPS = ("symmetric", "cyclic", "dihedral", "torus", "torus-dihedral")
#: Bytes of the largest --matrix-generators file read.
MAX_GENERATOR_FILE_BYTES = 10_000_000


class GroupType(click.ParamType):
    """A permutation group kind (``symmetric``, …) or a matrix group (``O(3)``, ``S(5) x O(3)``,
    ``custom``)."""

    name = "GROUP"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        if value in PERMUTATION_GROUPS:
            return value
        if looks_like_matrix_group(value):
            try:
                parse_group(value, _PLACEHOLDER if "custom" in value else None)
            except SpecError as error:
                self.fail(str(error), param, ctx)
            return value
        choices = ", ".join(f"'{c}'" for c in PERMUTATION_GROUPS)
        self.fail(
            f"{value!r} is not one of {choices}, nor a matrix group such as 'O(3)', 'SO(1,3)', 'B(4)' or "
            "'S(5) x O(3)'",
            param,
            ctx,
        )


_PLACEHOLDER = MatrixGroup("custom", 1, (), (), ("x",))


def is_matrix_request(params: dict[str, Any]) -> bool:
    """Whether the spec flags ask for a matrix group."""
    return params.get("matrix_generators") is not None or looks_like_matrix_group(params.get("group"))


def load_generator_file(path: Path) -> MatrixGroup:
    """The custom group of a ``--matrix-generators`` JSON file; a bad file is a ``BadParameter``."""
    hint = "'--matrix-generators'"
    try:
        if path.stat().st_size > MAX_GENERATOR_FILE_BYTES:
            raise click.BadParameter(
                f"{path} is larger than {MAX_GENERATOR_FILE_BYTES:,} bytes", param_hint=hint
            )
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        raise click.BadParameter(f"cannot read {path}: {reason}", param_hint=hint) from None
    except json.JSONDecodeError as error:
        raise click.BadParameter(
            f"{path} is not valid JSON ({error.msg} at line {error.lineno})", param_hint=hint
        ) from None
    try:
        return matrix_group_from_document(document, str(path))
    except SpecError as error:
        raise click.BadParameter(str(error), param_hint=hint) from None


def build_matrix_spec(ctx: click.Context, n: int | None, params: dict[str, Any]) -> MatrixLayerSpec:
    """A :class:`MatrixLayerSpec` from the spec flags; flags that only permutation groups take are refused."""
    custom = None
    given = ctx.get_parameter_source("group") == click.core.ParameterSource.COMMANDLINE
    text = params["group"] if given else "custom"
    if params.get("matrix_generators") is not None:
        custom = load_generator_file(Path(params["matrix_generators"]))
    for flag, key in (("--shape", "shape"), ("--generators", "generators")):
        if params.get(key) is not None:
            raise click.BadParameter(f"does not apply to matrix group {text}", param_hint=f"'{flag}'")
    if ctx.get_parameter_source("transpositions") == click.core.ParameterSource.COMMANDLINE:
        raise click.BadParameter(f"does not apply to matrix group {text}", param_hint="'--transpositions'")
    try:
        group = parse_group(text, custom)
    except SpecError as error:
        raise click.BadParameter(str(error), param_hint="'--group'") from None
    if n is not None and (not group.has_points or n != group.n):
        where = (
            f"it permutes {group.n} points"
            if group.has_points
            else "it has no points; write e.g. 'S(5) x O(3)'"
        )
        raise click.BadParameter(f"-n {n} does not apply to {group.label}: {where}", param_hint="'-n'")
    mode_given = ctx.get_parameter_source("mode") == click.core.ParameterSource.COMMANDLINE
    output = params.get("output_rep")
    if output is None:
        output = "1" if params["mode"] == "invariant" else "V"
    try:
        spec = MatrixLayerSpec(
            group,
            degree=params["degree"],
            input=params["input_rep"],
            output=output,
            indexing=params["indexing"],
            bias=params["bias"],
            gauge=params["gauge"],
        )
    except SpecError as error:
        raise click.BadParameter(str(error)) from None
    if mode_given and (params["mode"] == "invariant") != spec.output.is_trivial:
        raise click.BadParameter(
            f"--mode {params['mode']} contradicts output representation {spec.output} "
            "(--mode invariant means --output 1)",
            param_hint="'--output'",
        )
    return spec
