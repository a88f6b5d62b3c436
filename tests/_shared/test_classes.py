"""The one resolver of class names, tumor-class finder, label-map check and class palette."""

from __future__ import annotations

import numpy as np
import pytest

import hsi_tumor as ht
from hsi_tumor._shared.classes import (
    check_label_map,
    class_colors,
    class_name_map,
    is_tumor_name,
    tumor_class,
)


@pytest.mark.parametrize("name", ["tumor", "Tumor", " TUMOR ", "tumour", "Tumour\t"])
def test_tumor_names(name):
    assert is_tumor_name(name)
    assert tumor_class({1: "normal", 3: name}) == 3


@pytest.mark.parametrize("name", ["tumor margin", "tum0r", "normal", ""])
def test_other_names(name):
    assert not is_tumor_name(name)
    assert tumor_class({1: name}) is None


def test_the_lowest_tumor_id_wins():
    assert tumor_class({5: "Tumour", 2: "tumor", 1: "normal"}) == 2
    assert tumor_class(None) is None and tumor_class({}) is None


def test_every_consumer_finds_the_same_tumor_class():
    """evaluate, TumorModel, TumorMap and the figures all use the one finder."""
    names = {1: "Normal", 2: " Tumor "}
    model = ht.TumorModel.from_pipeline(_fitted(), wavelengths=np.arange(4) * 10.0 + 1000)
    model.class_names = names
    assert model.tumor_class == 2
    result = ht.TumorMap(
        labels=np.array([[1, 2]]),
        probabilities=np.array([[[0.9, 0.1], [0.2, 0.8]]], np.float32),
        classes=np.array([1, 2]),
        class_names=names,
        valid=np.ones((1, 2), bool),
    )
    np.testing.assert_array_equal(result.tumor_probability, np.float32([[0.1, 0.8]]))
    assert class_colors([2], names)[2] == class_colors([2], {2: "tumor"})[2]  # red


def _fitted():
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    rng = np.random.default_rng(0)
    return LinearDiscriminantAnalysis().fit(rng.random((20, 4)), np.repeat([1, 2], 10))


def test_class_name_map_forms():
    assert class_name_map(None, [1, 2]) == {1: "1", 2: "2"}
    assert class_name_map(["a", "b"], [2, 1]) == {2: "a", 1: "b"}
    assert class_name_map({"2": "t", 1: "n", 9: "x"}, [1, 2]) == {1: "n", 2: "t"}
    assert class_name_map({2: "t"}) == {2: "t"}  # without classes: the mapping as it is
    assert class_name_map(None) == {}
    with pytest.raises(ht.InvalidOptionError, match="no name for class id"):
        class_name_map({1: "n"}, [1, 2])
    with pytest.raises(ht.InvalidOptionError, match="2 class names for 3"):
        class_name_map(["a", "b"], [1, 2, 3])
    with pytest.raises(ht.InvalidOptionError, match="str"):
        class_name_map("normal", [1])
    with pytest.raises(ht.InvalidOptionError, match="not a class id"):
        class_name_map({"one": "n"})


def test_label_map_decisions():
    ints = np.array([[0, 1], [2, 300]], dtype=">i4")  # big-endian
    got = check_label_map(ints)
    assert got.dtype == np.dtype("int32") and got.dtype.isnative
    np.testing.assert_array_equal(got, ints)
    got = check_label_map(np.array([[True, False]]))
    assert got.dtype == np.uint8 and got.tolist() == [[1, 0]]
    got = check_label_map(np.array([[0.0, 2.0], [300.0, 1.0]]))
    assert got.dtype == np.uint16 and got.tolist() == [[0, 2], [300, 1]]
    for bad, match in [
        (np.array([[0.5, 1.0]]), "fractions"),
        (np.array([[np.nan, 1.0]]), "NaN"),
        (np.array([[-1, 1]]), "negative"),
        (np.array([[-1.0, 1.0]]), "negative"),
        (np.array([["a", "b"]]), "not integer"),
        (np.zeros((2, 2, 2), int), "2-D"),
    ]:
        with pytest.raises(ht.InvalidOptionError, match=match):
            check_label_map(bad)
    with pytest.raises(ht.TrainingDataError, match=r"\(3, 3\) pixels") as info:
        check_label_map(np.ones((2, 2), int), shape=(3, 3), field="m", error=ht.TrainingDataError)
    assert info.value.field == "m"
