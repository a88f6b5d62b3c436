"""Model files: identical predictions after a round trip; damaged, tampered, unsigned or unsafe
files refused with a ModelFileError; format version 1 files still read."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from sklearn.base import BaseEstimator, ClassifierMixin

import hsi_tumor as ht
from hsi_tumor.models._persistence import FORMAT_VERSION, TRUSTED_TYPES
from tests.models.conftest import valid_labelled
from tests.models.files import (
    INTEGRITY,
    META,
    PIPELINE,
    fitted_model,
    members,
    seal,
    with_meta,
    write,
)

DATA = Path(__file__).parent / "data"
KEY = "a lab's key, 32 characters long."


@pytest.fixture(scope="module")
def model(cohort, class_names):
    cubes, maps, ids, _ = cohort
    return ht.train(cubes, maps, class_names=class_names, groups=ids, random_state=0)


def test_round_trip_predicts_identically(model, cohort, tmp_path):
    cubes, maps, _, _ = cohort
    path = ht.save_model(model, tmp_path / "svm.htmodel")
    loaded = ht.load_model(path)
    x, _ = valid_labelled(cubes[0], maps[0])
    np.testing.assert_array_equal(loaded.pipeline.predict(x), model.pipeline.predict(x))
    np.testing.assert_array_equal(loaded.pipeline.predict_proba(x), model.pipeline.predict_proba(x))
    np.testing.assert_array_equal(loaded.wavelengths, model.wavelengths)
    for field in ("class_names", "preprocessing", "classifier", "training", "patients", "version"):
        assert getattr(loaded, field) == getattr(model, field), field
    a = ht.classify_cube(cubes[1], model)
    b = ht.classify_cube(cubes[1], loaded)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.probabilities, b.probabilities)
    np.testing.assert_array_equal(a.outlier, b.outlier)


def test_round_trip_keeps_the_training_domain(model, cohort, tmp_path):
    cubes, maps, _, _ = cohort
    loaded = ht.load_model(ht.save_model(model, tmp_path / "svm.htmodel"))
    features = model.pipeline[:-1].transform(valid_labelled(cubes[0], maps[0])[0])
    pairs = zip(model.domain.statistics(features), loaded.domain.statistics(features), strict=True)
    for a, b in pairs:
        np.testing.assert_array_equal(a, b)
    for name in ("t2_limit_", "q_limit_", "n_components_", "n_samples_", "confidence"):
        assert getattr(loaded.domain, name) == getattr(model.domain, name), name
    meta = json.loads(members(tmp_path / "svm.htmodel")[META])
    assert meta["domain"]["n_samples"] == model.training["n_pixels"]


def test_no_pickle_inside(model, tmp_path):
    path = ht.save_model(model, tmp_path / "m.htmodel")
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist() == ["model.json", "pipeline.skops", "integrity.json"]
        inner = archive.read("pipeline.skops")
    with zipfile.ZipFile(__import__("io").BytesIO(inner)) as skops_zip:
        schema = json.loads(skops_zip.read("schema.json"))
    assert "pickle" not in json.dumps(schema).lower()


def test_existing_file_is_not_overwritten(model, tmp_path):
    path = ht.save_model(model, tmp_path / "m.htmodel")
    with pytest.raises(ht.OutputExistsError):
        ht.save_model(model, path)
    ht.save_model(model, path, overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["m.htmodel"]  # no temporary left


def test_altered_pipeline_fails_its_checksum(model, tmp_path):
    path = ht.save_model(model, tmp_path / "m.htmodel")
    files = members(path)
    data = bytearray(files[PIPELINE])
    data[len(data) // 2] ^= 0xFF
    bad = write(tmp_path / "bad.htmodel", {**files, PIPELINE: bytes(data)}, reseal=False)
    with pytest.raises(ht.ModelFileError, match=r"field 'pipeline.skops'.*altered or damaged"):
        ht.load_model(bad)


@pytest.mark.parametrize(
    "change",
    [
        {"class_names": {"1": "tumor", "2": "normal"}},  # swapped: every tumor called normal
        {"wavelengths": (np.linspace(900, 1700, 40) + 300).tolist()},
        {"wavelengths": None},
    ],
    ids=["swapped-names", "shifted-wavelengths", "no-wavelengths"],
)
def test_altered_description_fails_its_checksum_or_signature(model, tmp_path, change):
    """model.json is covered: by its checksum against damage, by the signature against an
    attacker who recomputes the checksums."""
    path = ht.save_model(model, tmp_path / "m.htmodel", key=KEY)
    files = members(path)
    meta = {**json.loads(files[META]), **change}
    altered = {**files, META: json.dumps(meta).encode()}
    damaged = write(tmp_path / "damaged.htmodel", altered, reseal=False)
    with pytest.raises(ht.ModelFileError, match=r"field 'model.json'.*altered or damaged"):
        ht.load_model(damaged)
    resealed = write(tmp_path / "resealed.htmodel", altered)
    assert ht.load_model(resealed).class_names  # checksums alone cannot tell...
    with pytest.raises(ht.ModelFileError, match=r"integrity.json.*not signed"):
        ht.load_model(resealed, key=KEY)  # ...the key can
    forged = write(
        tmp_path / "forged.htmodel", {**altered, INTEGRITY: files[INTEGRITY]}, reseal=False
    )
    with pytest.raises(ht.ModelFileError, match="does not match its checksum"):
        ht.load_model(forged, key=KEY)


class Sneaky(ClassifierMixin, BaseEstimator):
    """A class that is not on the trusted list (it could do anything when constructed)."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        self.n_features_in_ = np.shape(X)[1]
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


def test_untrusted_types_are_refused_even_with_a_valid_checksum(model, tmp_path):
    x = np.vstack([np.linspace(0.2, 0.4, 40), np.linspace(0.5, 0.3, 40)])
    rogue = Sneaky().fit(x, [1, 2])
    # without the training domain, which would not match the rogue's 40 features
    path = ht.save_model(dataclasses.replace(model, domain=None), tmp_path / "m.htmodel")
    bad = write(tmp_path / "rogue.htmodel", {**members(path), PIPELINE: sio.dumps(rogue)})
    with pytest.raises(ht.ModelFileError, match=r"not trusted: .*Sneaky.*trusted=\["):
        ht.load_model(bad)
    name = f"{Sneaky.__module__}.Sneaky"
    assert isinstance(ht.load_model(bad, trusted=[name]).pipeline, Sneaky)  # the caller's call


@pytest.mark.parametrize("function", [os.system, eval, __import__("operator").call])
def test_types_that_run_code_are_never_trusted(model, tmp_path, function):
    """The message must not suggest trusting them, and trusting them does not help."""
    path = ht.save_model(model, tmp_path / "m.htmodel")
    bad = write(tmp_path / "bad.htmodel", {**members(path), PIPELINE: sio.dumps(function)})
    (name,) = sio.get_untrusted_types(data=sio.dumps(function))
    for trusted in ((), (name,)):
        with pytest.raises(ht.ModelFileError, match="can run code") as info:
            ht.load_model(bad, trusted=trusted)
        assert "trusted=[" not in str(info.value) and name in str(info.value)


def test_not_a_model_file(tmp_path):
    junk = tmp_path / "junk.htmodel"
    junk.write_bytes(b"\x80\x04\x95 not a zip, maybe a pickle")
    with pytest.raises(ht.ModelFileError, match=r"junk\.htmodel.*not a readable model file"):
        ht.load_model(junk)
    with pytest.raises(ht.MissingFileError):
        ht.load_model(tmp_path / "absent.htmodel")
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as z:
        z.writestr("hello.txt", "hi")
    with pytest.raises(ht.ModelFileError, match="not an hsi_tumor model file"):
        ht.load_model(other)


def test_truncated_file(model, tmp_path):
    path = ht.save_model(model, tmp_path / "m.htmodel")
    data = path.read_bytes()
    cut = tmp_path / "cut.htmodel"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ht.ModelFileError, match="truncated"):
        ht.load_model(cut)


def test_future_format_version_is_refused(model, tmp_path):
    path = ht.save_model(model, tmp_path / "m.htmodel")
    future = with_meta(path, tmp_path / "f.htmodel", format_version=FORMAT_VERSION + 1)
    with pytest.raises(ht.ModelFileError, match=r"format_version.*version 3; this hsi_tumor"):
        ht.load_model(future)


# -- format version 1 (hsi_tumor 0.1): a file written by that version's save_model -----------


def test_format_version_1_files_still_load():
    model = ht.load_model(DATA / "format1-lda.htmodel")
    expected = np.load(DATA / "format1-lda-expected.npz")
    # the same model: equal to rounding (the last bits follow the installed numpy's BLAS)
    np.testing.assert_allclose(
        model.pipeline.predict_proba(expected["pixels"]),
        expected["probabilities"],
        rtol=1e-9,
        atol=1e-15,
    )
    assert model.class_names == {1: "normal", 2: "tumor"} and model.patients == ("P07",)
    assert model.wavelengths.size == model.n_bands == 24


def test_format_version_1_checks(tmp_path):
    path = DATA / "format1-lda.htmodel"
    files = members(path)
    assert sorted(files) == [META, PIPELINE]
    with pytest.raises(ht.ModelFileError, match=r"integrity.json.*not signed"):
        ht.load_model(path, key=KEY)
    bad = write(tmp_path / "bad.htmodel", {**files, PIPELINE: files[PIPELINE][:-1] + b"!"})
    with pytest.raises(ht.ModelFileError, match="pipeline_sha256"):
        ht.load_model(bad)
    for value in (True, 2, "1"):  # version 2 claimed without its integrity member
        with pytest.raises(ht.ModelFileError, match="format_version"):
            ht.load_model(with_meta(path, tmp_path / "v.htmodel", format_version=value))


# -- the keyed signature -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def forest():
    return fitted_model("random-forest")


def test_a_signed_file_loads_only_with_its_key(forest, tmp_path):
    path = ht.save_model(forest, tmp_path / "m.htmodel", key=KEY)
    assert json.loads(members(path)[INTEGRITY])["hmac_sha256"]
    for key in (KEY, KEY.encode()):  # str is its UTF-8 bytes
        assert ht.load_model(path, key=key).class_names == forest.class_names
    assert ht.load_model(path).class_names == forest.class_names  # no key: not required
    with pytest.raises(ht.ModelFileError, match="signed with another key or altered"):
        ht.load_model(path, key=KEY.upper())
    unsigned = ht.save_model(forest, tmp_path / "u.htmodel")
    assert json.loads(members(unsigned)[INTEGRITY])["hmac_sha256"] is None
    with pytest.raises(ht.ModelFileError, match=r"not signed.*Fix: load only files your lab"):
        ht.load_model(unsigned, key=KEY)


def test_the_signature_covers_every_member(forest, tmp_path):
    """An attacker without the key who edits a member and recomputes the checksums, or moves
    a signed record onto other members, is caught."""
    path = ht.save_model(forest, tmp_path / "m.htmodel", key=KEY)
    other = members(ht.save_model(fitted_model("svm"), tmp_path / "o.htmodel", key=KEY))
    files = members(path)
    for name in (META, PIPELINE):
        swapped = {**files, name: other[name]}
        record = json.loads(files[INTEGRITY])
        record["sha256"][name] = hashlib.sha256(other[name]).hexdigest()
        swapped[INTEGRITY] = json.dumps(record).encode()
        forged = write(tmp_path / f"{name}.htmodel", swapped, reseal=False)
        with pytest.raises(ht.ModelFileError, match="signature does not match"):
            ht.load_model(forged, key=KEY)
    stripped = write(tmp_path / "s.htmodel", seal(files))  # the signature removed
    with pytest.raises(ht.ModelFileError, match="not signed"):
        ht.load_model(stripped, key=KEY)


def test_the_key_from_the_environment(forest, tmp_path, monkeypatch):
    monkeypatch.setenv("HSI_TUMOR_MODEL_KEY", KEY)
    path = ht.save_model(forest, tmp_path / "m.htmodel")  # signed with the lab's key
    assert ht.load_model(path, key=KEY).classifier == forest.classifier
    monkeypatch.delenv("HSI_TUMOR_MODEL_KEY")
    unsigned = ht.save_model(forest, tmp_path / "u.htmodel")
    monkeypatch.setenv("HSI_TUMOR_MODEL_KEY", KEY)
    with pytest.raises(ht.ModelFileError, match="not signed"):
        ht.load_model(unsigned)  # the lab's machines refuse unsigned files
    monkeypatch.setenv("HSI_TUMOR_MODEL_KEY", "short")
    with pytest.raises(ht.InvalidOptionError, match="environment variable HSI_TUMOR_MODEL_KEY"):
        ht.load_model(unsigned)


def test_bad_keys(forest, tmp_path):
    with pytest.raises(ht.InvalidOptionError, match=r"field 'key'.*16 are needed.*token_hex"):
        ht.save_model(forest, tmp_path / "m.htmodel", key="short")
    with pytest.raises(ht.InvalidTypeError, match="field 'key'"):
        ht.load_model(tmp_path / "m.htmodel", key=12345678901234567890)
    assert not (tmp_path / "m.htmodel").exists()


def test_save_refuses_what_load_would_refuse(tmp_path):
    model = fitted_model("svm")
    model.wavelengths = np.arange(12.0) + 1  # band numbers, not nm
    with pytest.raises(ht.ModelFileError, match=r"cannot be saved.*wavelengths.*200–20000 nm"):
        ht.save_model(model, tmp_path / "m.htmodel")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_every_named_classifier_needs_only_trusted_types(cohort):
    cubes, maps, ids, _ = cohort
    from hsi_tumor.models import CLASSIFIERS

    for name in CLASSIFIERS:
        model = ht.train(cubes[:2], maps[:2], classifier=name, groups=ids[:2], random_state=0)
        untrusted = sio.get_untrusted_types(data=sio.dumps(model.pipeline))
        assert set(untrusted) <= set(TRUSTED_TYPES), (name, untrusted)
