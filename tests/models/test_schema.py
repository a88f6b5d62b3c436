"""model.json against its schema: each field of the wrong type or range is a ModelFileError
naming the field, also when the attacker recomputed the checksums."""

from __future__ import annotations

import json

import pytest

import hsi_tumor as ht
from hsi_tumor.models import TrainingDomain
from hsi_tumor.models._schema import MAX_DEPTH
from tests.models.files import (
    META,
    fitted_model,
    members,
    small_cube,
    spectra,
    with_meta,
    write,
)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    return ht.save_model(fitted_model("svm", classes=2), tmp_path_factory.mktemp("s") / "m.htm")


BAD_FIELDS = [
    ("format_version", True, "format_version"),
    ("format_version", 2.0, "format_version"),
    ("format_version", "2", "format_version"),
    ("format_version", None, "format_version"),
    ("format_version", -1, "format_version"),
    ("wavelengths", "900-1700", "wavelengths"),
    ("wavelengths", [], "wavelengths"),
    ("wavelengths", [900.0 + i for i in range(11)] + ["x"], "wavelengths"),
    ("wavelengths", [900.0 + i for i in range(11)] + [True], "wavelengths"),
    ("wavelengths", [-1700.0 + i for i in range(12)], "wavelengths"),
    ("wavelengths", [0.0 + i for i in range(12)], "wavelengths"),
    ("wavelengths", [1e300 * (1 + i) for i in range(12)], "wavelengths"),
    ("wavelengths", [1700.0 - i for i in range(12)], "wavelengths"),
    ("wavelengths", [900.0] * 12, "wavelengths"),
    ("wavelengths", [900.0 + i for i in range(13)], "wavelengths"),  # 13 for 12 bands
    ("class_names", ["normal", "tumor"], "class_names"),  # AttributeError escaped before
    ("class_names", {"1": "normal"}, "class_names"),  # class 2 unnamed
    ("class_names", {"1": "normal", "2": "tumor", "3": "blood"}, "class_names"),
    ("class_names", {"1": "normal", "two": "tumor"}, "class_names"),
    ("class_names", {"1": "normal", " 2": "tumor"}, "class_names"),
    ("class_names", {"1": "normal", "2": 7}, "class_names"),
    ("class_names", {"1": "normal", "2": "t" * 5000}, "class_names"),
    ("class_names", {}, "class_names"),
    ("preprocessing", "snv", "preprocessing"),
    ("preprocessing", [1, 2], "preprocessing"),
    ("classifier", None, "classifier"),
    ("training", [], "training"),
    ("patients", "P01", "patients"),
    ("patients", [None], "patients"),
    ("hsi_tumor_version", 0.1, "hsi_tumor_version"),
    ("hsi_tumor_version", "9" * 100, "hsi_tumor_version"),
    ("pipeline_sha256", "00" * 32, "pipeline_sha256"),  # a version 1 field in version 2
]


@pytest.mark.parametrize(("field", "value", "named"), BAD_FIELDS)
def test_fields_of_the_wrong_type_or_range(saved, tmp_path, field, value, named):
    bad = with_meta(saved, tmp_path / "bad.htm", **{field: value})
    with pytest.raises(ht.ModelFileError, match=rf"field 'model.json: {named}[\['].*Fix: ") as info:
        ht.load_model(bad)
    assert len(str(info.value)) < 500, str(info.value)


def test_a_missing_field(saved, tmp_path):
    files = members(saved)
    meta = json.loads(files[META])
    del meta["patients"]
    bad = write(tmp_path / "bad.htm", {**files, META: json.dumps(meta).encode()})
    with pytest.raises(ht.ModelFileError, match=r"field 'model.json: patients'.*missing"):
        ht.load_model(bad)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"format": "hsi_tumor-model", "format_version": ' + b"7" * 5000 + b"}", "ValueError"),
        (b"[" * 100_000 + b"]" * 100_000, "RecursionError|not an hsi_tumor"),
        (b"\xff\xfe{}", "not valid JSON"),
        (b'"hsi_tumor-model"', "not an hsi_tumor model file"),
        (b'{"format": "hsi_tumor-model", "format_version": NaN}', "format_version"),
    ],
    ids=["5000-digits", "nested", "utf16", "string", "nan"],
)
def test_json_that_python_cannot_take(saved, tmp_path, raw, message):
    """ValueError (5,000 digits) and RecursionError (deep nesting) escaped before."""
    bad = with_meta(saved, tmp_path / "bad.htm", raw=raw)
    with pytest.raises(ht.ModelFileError, match=message) as info:
        ht.load_model(bad)
    assert len(str(info.value)) < 500, str(info.value)  # 5,000 digits are not echoed


def test_a_training_summary_nested_too_deeply(saved, tmp_path):
    nested: dict = {}
    for _ in range(MAX_DEPTH + 1):
        nested = {"a": nested}
    bad = with_meta(saved, tmp_path / "bad.htm", training=nested)
    with pytest.raises(ht.ModelFileError, match=r"model.json: training.*nested"):
        ht.load_model(bad)
    fine = with_meta(saved, tmp_path / "fine.htm", training={"a": {"b": [1, float("nan")]}})
    assert ht.load_model(fine).training["a"]["b"][0] == 1


def test_valid_variants_load(saved, tmp_path):
    """A model without wavelengths, class ids written with a minus or leading zeros, a
    one-band-per-nanometre grid: all valid."""
    model = ht.load_model(with_meta(saved, tmp_path / "a.htm", wavelengths=None))
    assert model.wavelengths is None and model.n_bands == 12
    renamed = with_meta(saved, tmp_path / "b.htm", class_names={"01": "a", "2": "b"})
    assert ht.load_model(renamed).class_names == {1: "a", 2: "b"}
    with pytest.raises(ht.ModelFileError, match="given twice"):
        ht.load_model(with_meta(saved, tmp_path / "c.htm", class_names={"01": "a", "1": "b"}))


@pytest.fixture(scope="module")
def with_domain(tmp_path_factory):
    """A model file with a training domain (SNV → SVM on 12 bands: 12 features)."""
    model = fitted_model("svm", classes=2)
    x, y = spectra()
    features = model.pipeline[:-1].transform(x[y <= 2])
    model.domain = TrainingDomain(n_components=3).fit(features)
    return ht.save_model(model, tmp_path_factory.mktemp("d") / "m.htm")


def _domain(path, **changes):
    domain = json.loads(members(path)[META])["domain"]
    return {**domain, **changes}


BAD_DOMAINS = [
    ({"mean": [0.0] * 11}, "domain"),  # 11 features, the classifier takes 12
    ({"mean": "0"}, "domain: mean"),
    ({"mean": [float("nan")] * 12}, "domain: mean"),
    ({"components": []}, "domain: components"),
    ({"components": [[0.0] * 12] * 51}, "domain: components"),
    ({"components": [[0.0] * 11] * 3}, r"domain: components\[0\]"),
    ({"components": [[True] * 12] * 3}, r"domain: components\[0\]"),
    ({"explained_variance": [1.0, 1.0]}, "domain: explained_variance"),
    ({"explained_variance": [1.0, 0.0, 1.0]}, "domain: explained_variance"),
    ({"residual_variance": [-1.0, 0.0, 0.0]}, "domain: residual_variance"),
    ({"t2_limit": -1.0}, "domain: t2_limit"),
    ({"q_limit": float("inf")}, "domain: q_limit"),
    ({"q_limit": "1"}, "domain: q_limit"),
    ({"n_samples": 4}, "domain: n_samples"),
    ({"n_samples": 100.0}, "domain: n_samples"),
    ({"confidence": 1.0}, "domain: confidence"),
    ({"confidence": 0.99, "n_components": 0}, "domain: n_components"),
    ({"n_components": True}, "domain: n_components"),
]


@pytest.mark.parametrize(("changes", "named"), BAD_DOMAINS)
def test_a_training_domain_of_the_wrong_shape_or_range(with_domain, tmp_path, changes, named):
    bad = with_meta(with_domain, tmp_path / "bad.htm", domain=_domain(with_domain, **changes))
    with pytest.raises(ht.ModelFileError, match=rf"field '(model.json: )?{named}.*Fix: ") as info:
        ht.load_model(bad)
    assert len(str(info.value)) < 500, str(info.value)


def test_a_training_domain_with_fields_missing_or_unknown(with_domain, tmp_path):
    domain = _domain(with_domain)
    del domain["q_limit"]
    for value in (domain, {**domain, "q_limit": 1.0, "extra": 1}, [1.0], None):
        bad = with_meta(with_domain, tmp_path / "bad.htm", domain=value)
        with pytest.raises(ht.ModelFileError, match=r"model.json: domain'"):
            ht.load_model(bad)


def test_files_without_a_training_domain_load_without_one(with_domain, tmp_path):
    files = members(with_domain)
    meta = json.loads(files[META])
    del meta["domain"]
    older = write(tmp_path / "older.htm", {**files, META: json.dumps(meta).encode()})
    model = ht.load_model(older)
    assert model.domain is None
    assert ht.classify_cube(small_cube(), model, progress=False).outlier is None
    assert ht.load_model(with_domain).domain.n_components_ == 3
