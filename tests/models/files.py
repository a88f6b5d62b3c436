"""Helpers of the model-file tests: read and rewrite a model file's members as an attacker
would (recomputing the checksums, which anyone can), and small fitted models to save."""

from __future__ import annotations

import hashlib
import io
import json
import struct
import zipfile
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

import hsi_tumor as ht
from hsi_tumor.preprocessing import StandardNormalVariate

META, PIPELINE, INTEGRITY = "model.json", "pipeline.skops", "integrity.json"
WAVELENGTHS = np.linspace(900.0, 1700.0, 12)


def members(path: Path) -> dict[str, bytes]:
    """The members of a zip archive, in order."""
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def seal(files: dict[str, bytes]) -> dict[str, bytes]:
    """``files`` with ``integrity.json`` recomputed (checksums only: the attacker has no key)."""
    files = {k: v for k, v in files.items() if k != INTEGRITY}
    record = {
        "sha256": {k: hashlib.sha256(v).hexdigest() for k, v in sorted(files.items())},
        "hmac_sha256": None,
    }
    return {**files, INTEGRITY: json.dumps(record).encode()}


def write(path: Path, files: dict[str, bytes], *, reseal: bool = True, deflate=True) -> Path:
    """Write ``files`` as a zip archive, resealed when it has an integrity record."""
    if reseal and INTEGRITY in files:
        files = seal(files)
    method = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", compression=method) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def with_meta(path: Path, out: Path, *, raw: bytes | None = None, **changes) -> Path:
    """A copy of the model file with ``model.json`` changed (fields, or ``raw`` bytes)."""
    files = members(path)
    meta = json.loads(files[META])
    meta.update(changes)
    files[META] = raw if raw is not None else json.dumps(meta).encode()
    return write(out, files)


def zip_bytes(files: dict[str, bytes], *, deflate=False) -> bytes:
    buffer = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def declare_size(data: bytes, name: str, size: int) -> bytes:
    """A zip archive whose central directory declares ``size`` uncompressed bytes for ``name``
    (what zipfile trusts); the data itself is unchanged."""
    data = bytearray(data)
    start = 0
    while (start := data.find(b"PK\x01\x02", start)) >= 0:
        name_length = struct.unpack_from("<H", data, start + 28)[0]
        if data[start + 46 : start + 46 + name_length] == name.encode():
            struct.pack_into("<I", data, start + 24, size)
            return bytes(data)
        start += 4
    raise AssertionError(f"{name} not in the archive")


def spectra(n: int = 240, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two or three classes of smooth positive spectra on :data:`WAVELENGTHS`."""
    rng = np.random.default_rng(seed)
    y = np.repeat([1, 2, 3], n // 3)
    t = np.linspace(0, 1, WAVELENGTHS.size)
    x = 0.4 + 0.1 * np.sin(3 * t + y[:, None]) + rng.normal(0, 0.02, (y.size, t.size))
    return x, y


def fitted_model(kind: str, *, classes: int = 3) -> ht.TumorModel:
    """A small TumorModel of a kind whose predictor is compiled code."""
    x, y = spectra()
    keep = y <= classes
    x, y = x[keep], y[keep]
    estimator = {
        "random-forest": lambda: RandomForestClassifier(n_estimators=4, random_state=0),
        "hist-gradient-boosting": lambda: HistGradientBoostingClassifier(
            max_iter=5, random_state=0
        ),
        "svm": lambda: make_pipeline(StandardNormalVariate(), SVC(C=10.0)),
        "linear": lambda: make_pipeline(StandardScaler(), PCA(5), LogisticRegression()),
    }[kind]().fit(x, y)
    names = {1: "normal", 2: "tumor", 3: "blood"}
    return ht.TumorModel.from_pipeline(
        estimator, wavelengths=WAVELENGTHS, class_names={k: names[k] for k in np.unique(y)}
    )


def small_cube(seed: int = 1) -> ht.Cube:
    x, _ = spectra(n=48, seed=seed)
    return ht.Cube(x.reshape(6, 8, -1).astype(np.float32), WAVELENGTHS)


def load_and_classify(path: str) -> tuple[str, str]:
    """What a damaged model file does (run in a worker process: it may crash or hang).

    ``("refused", error class)`` when load_model raises an HsiTumorError; ``("classified",
    "")`` when it loads and classifies a small cube; ``("refused at classify", class)`` when it
    loads but classify_cube raises one; ``("escaped", traceback)`` for any other exception.
    The worker's peak resident memory (kB) is appended to the second item after a ``|``.
    """
    import resource
    import traceback
    import warnings

    def peak() -> str:
        return f"|{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}"

    try:
        model = ht.load_model(path)
    except ht.HsiTumorError as exc:
        return "refused", type(exc).__name__ + peak()
    except BaseException:
        return "escaped", traceback.format_exc()[-3000:] + peak()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ht.classify_cube(small_cube(), model, progress=False)
    except ht.HsiTumorError as exc:
        return "refused at classify", type(exc).__name__ + peak()
    except BaseException:
        return "escaped", traceback.format_exc()[-3000:] + peak()
    return "classified", peak()
