"""Specimen geometry: partial volume, tumor placement, labels and annotations."""

from __future__ import annotations

import numpy as np

from hsi_tumor.datasets._geometry import annotation_map, draw_specimen, draw_tumors, label_map


def test_specimen_has_partial_volume_border():
    frac, _ = draw_specimen(np.random.default_rng(0), (64, 80))
    assert frac.min() == 0 and frac.max() == 1
    border = (frac > 0) & (frac < 1)
    assert border.sum() > 50  # a ring of mixed pixels
    assert np.isin(np.round(frac * 16), np.arange(17)).all()  # 4x4 supersampling


def test_tumors_are_disjoint_and_inside():
    rng = np.random.default_rng(1)
    frac, _ = draw_specimen(rng, (96, 120))
    tumors, fractions = draw_tumors(rng, frac, [0.0, 1.0, 2.0], radius_range=(6, 12))
    assert len(tumors) == fractions.shape[0] >= 1
    assert fractions.sum(axis=0).max() <= 1 + 1e-12
    assert np.all(fractions.sum(axis=0)[frac < 1] == 0)  # never on the specimen's border
    assert [t.mucosa_thickness for t in tumors] == [0.0, 1.0, 2.0][: len(tumors)]


def test_labels_and_annotation():
    specimen = np.zeros((40, 40))
    specimen[5:35, 5:35] = 1
    tumor = np.zeros((40, 40))
    tumor[12:24, 12:24] = 1
    tumor[12:24, 24] = 0.6  # partial-volume column: majority tumor
    tumor[12:24, 25] = 0.4
    labels = label_map(specimen, tumor)
    assert set(np.unique(labels)) == {0, 1, 2}
    assert (labels[12:24, 24] == 2).all() and (labels[12:24, 25] == 1).all()
    ann = annotation_map(labels, margin=2)
    assert ann[18, 18] == 2 and ann[13, 13] == 0  # eroded tumor core only
    assert ann[33, 33] == 0  # too close to the edge
    assert ann[30, 30] == 1
    assert ann[25, 18] == 0  # the ring around the tumor stays unlabelled
    assert np.all(labels[ann > 0] == ann[ann > 0])  # annotations never contradict the truth
