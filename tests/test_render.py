"""Renderings: the class picture shows the classes, the labels are spreadsheet letters."""

from __future__ import annotations

import numpy as np

from polyequiv import LayerSpec, derive
from polyequiv.render import class_label, picture_lines
from polyequiv.viz import class_grids


def test_class_labels_are_spreadsheet_letters() -> None:
    assert [class_label(i) for i in (0, 1, 25, 26, 27, 701, 702)] == ["A", "B", "Z", "AA", "AB", "ZZ", "AAA"]


def test_linear_picture_is_alpha_identity_plus_beta() -> None:
    lines = picture_lines(derive(LayerSpec(n=4, degree=1)))
    rows = [line.split()[1:] for line in lines[1:]]
    assert rows == [["A" if i == k else "B" for i in range(4)] for k in range(4)]


def test_quadratic_picture_marks_missing_ordered_cells_and_agrees_with_grids() -> None:
    result = derive(LayerSpec(n=3, degree=2))
    lines = picture_lines(result)
    grids = class_grids(result)
    assert len(grids) == 3
    block = [line.split()[1:] for line in lines[2:5]]
    expected = [[class_label(v) if v >= 0 else "·" for v in row] for row in grids[0][1]]
    assert block == expected
    assert np.all(grids[0][1][np.tril_indices(3, -1)] == -1)
