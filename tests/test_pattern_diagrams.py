"""Partition diagrams of patterns: `polyequiv.viz.plot_patterns` and `polyequiv plot --patterns`."""

from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")

import pytest
from click.testing import CliRunner
from matplotlib.patches import Arc

from polyequiv.patterns import layer_patterns
from polyequiv.viz import pattern_positions, plot_patterns
from polyequiv_cli.main import cli

LAYERS = [("E", "V", 1), ("E", "V", 2), ("V2", "V2", 1), ("V", "E", 2), ("V + E", "V", 1)]


def blocks_from_text(text: str) -> list[list[str]]:
    """The blocks written in a pattern's string, ``{o₁,i₁}{i₁′}`` → ``[['o₁', 'i₁'], ['i₁′']]``."""
    body = text.split(" · ")[0]
    return [block.split(",") for block in re.findall(r"\{([^}]*)\}", body)]


@pytest.mark.parametrize(("rep_in", "rep_out", "degree"), LAYERS)
def test_positions_rebuild_every_block(rep_in: str, rep_out: str, degree: int) -> None:
    for pattern in layer_patterns(rep_in, rep_out, degree):
        names = pattern_positions(pattern)
        assert len(names) == len(pattern.kernel) == len(set(names))
        rebuilt = [[names[p] for p in range(len(names)) if pattern.kernel[p] == b]
                   for b in range(pattern.num_blocks)]
        assert rebuilt == blocks_from_text(str(pattern))


@pytest.mark.parametrize(("rep_in", "rep_out", "degree"), LAYERS)
def test_one_panel_per_pattern_with_one_arc_per_neighbouring_pair(rep_in: str, rep_out: str,
                                                                    degree: int) -> None:
    patterns = layer_patterns(rep_in, rep_out, degree)
    figure = plot_patterns(patterns, title="t")
    panels = [ax for ax in figure.axes if ax.get_title()]
    assert len(panels) == len(patterns)
    for ax, pattern in zip(panels, patterns, strict=True):
        # arcs join neighbours of a block within a row: (members in the row − 1) per block and row
        expected_arcs = sum(max(sum(name.startswith("o") == top for name in block) - 1, 0)
                            for block in blocks_from_text(str(pattern)) for top in (True, False))
        assert sum(isinstance(patch, Arc) for patch in ax.patches) == expected_arcs
        shown = {text.get_text() for text in ax.texts}
        assert shown == set(pattern_positions(pattern))
    matplotlib.pyplot.close(figure)


def test_plot_patterns_cli_draws_and_refuses(tmp_path) -> None:
    runner = CliRunner()
    out = tmp_path / "cubic.png"
    result = runner.invoke(cli, ["plot", "--patterns", "S5 cubic ordered E -> V", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "20 patterns" in result.output  # 23 n-free patterns, 3 need 6 distinct nodes
    assert out.stat().st_size > 10_000
    for args, message in [
        (["--patterns", "S5 cubic full E -> V"], "ordered indexing only"),
        (["--patterns", "C5 linear ordered E -> V"], "symmetric group only"),
        (["--patterns", "S5 cubec"], "unknown degree"),
        (["--patterns", "S5 linear ordered E -> V", str(tmp_path)], "no RUNS"),
        ([], "give RUNS"),
    ]:
        result = runner.invoke(cli, ["plot", *args, "-o", str(tmp_path / "x.png")])
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output and "Traceback" not in result.output
