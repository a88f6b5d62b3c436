"""TumorMap: its plain and rich (HTML) displays."""

from __future__ import annotations

import numpy as np

from hsi_tumor.inference import TumorMap
from tests._shared.test_display import check_html

EVIL = "<script>alert('x')</script>"


def _map(names, probabilities=True) -> TumorMap:
    labels = np.array([[1, 2, 2, 0], [1, 1, 0, 2]])  # 0: one masked, one invalid pixel
    valid = labels > 0
    proba = np.full((2, 4, 2), np.nan, np.float32) if probabilities else None
    return TumorMap(labels, proba, np.array([1, 2]), names, valid, n_masked=1, n_invalid=1)


def test_repr_counts_the_classes():
    tumor_map = _map({1: "normal", 2: "tumor"})
    assert repr(tumor_map) == "TumorMap(2×4; normal: 3, tumor: 3; 1 masked, 1 invalid)"


def test_html_shows_shape_classes_with_colours_and_what_was_left_out():
    page = _map({1: "normal", 2: "tumor"})._repr_html_()
    check_html(page)
    assert "hsi_tumor.TumorMap" in page and "2 rows x 4 cols" in page
    assert "6 pixels (75.0 %)" in page  # classified
    assert page.count("50.0 %") == 2  # each class: 3 of the 6 classified pixels
    assert "#d62728" in page and "#2ca02c" in page  # tumor red, normal green (class_colors)
    assert "float32, one map per class" in page
    assert "1 pixels (NaN/inf or flagged invalid)" in page


def test_html_escapes_class_names_and_says_when_there_is_no_probability():
    page = _map({1: EVIL, 2: "tumour"}, probabilities=False)._repr_html_()
    check_html(page)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "none (the model has no predict_proba)" in page


def test_outlier_count_in_repr_and_html():
    tumor_map = _map({1: "normal", 2: "tumor"})
    assert tumor_map.outlier is None and tumor_map.n_outlier is None
    assert "training domain" not in repr(tumor_map)
    assert "not known (the model has no training domain)" in tumor_map._repr_html_()
    outlier = np.array([[True, False, False, True], [False, False, False, True]])
    tumor_map.outlier = outlier  # the masked pixel (0, 3) is not counted
    assert tumor_map.n_outlier == 2
    assert repr(tumor_map).endswith("1 invalid, 2 outside training domain)")
    assert "2 pixels (33.3 % of those classified" in tumor_map._repr_html_()
