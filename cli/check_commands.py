"""`polyequiv check`: is this run folder, checkpoint, results file or scheme file intact?"""

from __future__ import annotations

from pathlib import Path

import click

from polyequiv_cli.options import DamagedFileError


def describe_file(path: Path) -> str:
    """One line on an intact polyequiv file; ``ValueError`` (one line) when it is damaged or unknown.

    Checkpoints are told by their first bytes or a ``.pt`` name, results files by their name or
    ``schema`` field; anything else is read as a scheme file.
    """
    from polyequiv.scheme import load_scheme
    from polyequiv.training.checkpoint import load_checkpoint
    from polyequiv.training.results import RESULTS_NAME, read_results

    try:
        with path.open("rb") as stream:
            head = stream.read(200)
    except OSError as error:
        raise ValueError(f"cannot read {path}: {error.strerror or error}") from None
    if head.startswith((b"polyequiv-checkpoint", b"PK")) or path.name.endswith(".pt"):
        state = load_checkpoint(path)
        within = f", step {state['step']} of the next" if state.get("step") else ""
        digest = "sha256 ok" if state["format"] != 1 else "format 1, no digest to check"
        return f"{path}: checkpoint after epoch {state['epoch']}{within} ({digest})"
    if path.name == RESULTS_NAME or b'"schema"' in head:
        results = read_results(path)
        digest = "sha256 ok" if "sha256" in results else f"{results['schema']}, no digest to check"
        return f"{path}: results of {results['model']['name']} on {results['task']['name']} ({digest})"
    scheme = load_scheme(path)
    return f"{path}: tying scheme of {scheme.spec} (sha256 ok, re-derived: identical)"


def run_folder_files(folder: Path) -> list[Path]:
    """The files of a run folder worth checking: its checkpoints and results."""
    from polyequiv.training.checkpoint import checkpoint_files
    from polyequiv.training.results import RESULTS_NAME

    files = [*checkpoint_files(folder), folder / RESULTS_NAME]
    return [path for path in files if path.is_file()]


@click.command("check")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
def check_command(paths: tuple[Path, ...]) -> None:
    """Check run folders, checkpoints, results and scheme files: digests, lengths, formats.

    \b
    Example: polyequiv check runs/tied s.json
    Prints one line per intact file and one (on stderr) per damaged one, naming
    it and what failed; any damaged file makes the exit status 2.
    """
    damaged = []
    for path in paths:
        files = run_folder_files(path) if path.is_dir() else [path]
        if not files:
            raise click.BadParameter(f"{path} holds no checkpoint or results.json", param_hint="'PATHS'")
        for file in files:
            try:
                click.echo(describe_file(file))
            except ValueError as error:
                damaged.append(str(error))
                click.echo(f"DAMAGED {error}", err=True)
    if damaged:
        raise DamagedFileError(f"{len(damaged)} damaged file{'s' if len(damaged) > 1 else ''}: {damaged[0]}"
                               + (" (and the others above)" if len(damaged) > 1 else ""))
