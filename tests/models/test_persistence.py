"""Model files: identical predictions after a round trip; tampered or unsafe files refused."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import skops.io as sio
from sklearn.base import BaseEstimator, ClassifierMixin

import hsi_tumor as ht
from hsi_tumor.models._persistence import FORMAT_VERSION, TRUSTED_TYPES
from tests.models.conftest import valid_labelled


@pytest.fixture(scope="module")
def model(cohort, class_names):
    cubes, maps, ids, _ = cohort
    return ht.train(cubes, maps, class_names=class_names, groups=ids, random_state=0)


def _rewrite(path, out, *, meta=None, pipeline=None):
    with zipfile.ZipFile(path) as src:
        m = json.loads(src.read("model.json"))
        p = src.read("pipeline.skops")
    if meta:
        m.update(meta)
    if pipeline is not None:
        p = pipeline
    with zipfile.ZipFile(out, "w") as dst:
        dst.writestr("model.json", json.dumps(m))
        dst.writestr("pipeline.skops", p)
    return out


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


def test_no_pickle_inside(model, tmp_path):
    path = ht.save_model(model, tmp_path / "m.htmodel")
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["model.json", "pipeline.skops"]
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
    with zipfile.ZipFile(path) as src:
        data = bytearray(src.read("pipeline.skops"))
    data[len(data) // 2] ^= 0xFF
    bad = _rewrite(path, tmp_path / "bad.htmodel", pipeline=bytes(data))
    with pytest.raises(ht.ModelFileError, match=r"pipeline_sha256.*altered"):
        ht.load_model(bad)


class Sneaky(ClassifierMixin, BaseEstimator):
    """A class that is not on the trusted list (it could do anything when constructed)."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


def test_untrusted_types_are_refused_even_with_a_valid_checksum(model, tmp_path):
    import hashlib

    rogue = Sneaky().fit(np.zeros((2, 1)), [1, 2])
    payload = sio.dumps(rogue)
    path = ht.save_model(model, tmp_path / "m.htmodel")
    bad = _rewrite(
        path,
        tmp_path / "rogue.htmodel",
        pipeline=payload,
        meta={"pipeline_sha256": hashlib.sha256(payload).hexdigest()},
    )
    with pytest.raises(ht.ModelFileError, match=r"not trusted: .*Sneaky.*trusted=\["):
        ht.load_model(bad)
    name = f"{Sneaky.__module__}.Sneaky"
    assert isinstance(ht.load_model(bad, trusted=[name]).pipeline, Sneaky)  # the caller's call


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
    future = _rewrite(path, tmp_path / "f.htmodel", meta={"format_version": FORMAT_VERSION + 1})
    with pytest.raises(ht.ModelFileError, match="format_version"):
        ht.load_model(future)


@pytest.mark.slow
def test_every_named_classifier_needs_only_trusted_types(cohort):
    cubes, maps, ids, _ = cohort
    from hsi_tumor.models import CLASSIFIERS

    for name in CLASSIFIERS:
        model = ht.train(cubes[:2], maps[:2], classifier=name, groups=ids[:2], random_state=0)
        untrusted = sio.get_untrusted_types(data=sio.dumps(model.pipeline))
        assert set(untrusted) <= set(TRUSTED_TYPES), (name, untrusted)
