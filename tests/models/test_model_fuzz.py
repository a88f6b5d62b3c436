"""Fuzzing model files: damaged, truncated and edited files give an HsiTumorError, never
another exception, a crash, a hang or a memory blow-up; a damaged file that still loads
classifies (or refuses with an HsiTumorError).

Property-based (hypothesis), in the style of ``tests/io/test_malformed.py``. Each example
damages one of four valid model files (a random forest, histogram gradient boosting, an SVM
after SNV, a logistic regression after scaling and PCA) and hands it to a worker process,
which loads it and classifies a small cube: a worker that dies (SIGSEGV) or does not answer
within :data:`TIMEOUT` seconds fails the example. Edits inside members are resealed (the
checksums recomputed, as anyone can), so that they reach the schema and fitted-array checks;
the plain flips and truncations are not.

``HSI_TUMOR_FUZZ_EXAMPLES`` sets the examples per test (default 25), and
``HSI_TUMOR_FUZZ_REPORT`` a JSON file that receives the outcomes by kind at the end.
"""

from __future__ import annotations

import collections
import concurrent.futures
import io
import json
import multiprocessing
import os
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

import hsi_tumor as ht
from hsi_tumor.models import _schema
from tests.models.files import (
    META,
    PIPELINE,
    fitted_model,
    load_and_classify,
    members,
    write,
    zip_bytes,
)

pytestmark = pytest.mark.slow

TIMEOUT = 120.0
#: Largest resident memory of the worker (kB): its baseline is about 400 MB.
MEMORY_LIMIT_KB = 2 << 20
FUZZ = settings(
    max_examples=int(os.environ.get("HSI_TUMOR_FUZZ_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
KINDS = ("random-forest", "hist-gradient-boosting", "svm", "linear")
FIELDS = tuple(sorted(_schema._FIELDS))  # every field model.json has
OUTCOMES: collections.Counter = collections.Counter()


class Worker:
    """One spawned process that runs :func:`load_and_classify`; replaced when it dies or hangs."""

    def __init__(self) -> None:
        self._pool = None

    def run(self, path: Path) -> tuple[str, str]:
        if self._pool is None:
            context = multiprocessing.get_context("spawn")
            self._pool = concurrent.futures.ProcessPoolExecutor(1, mp_context=context)
        future = self._pool.submit(load_and_classify, str(path))
        try:
            return future.result(timeout=TIMEOUT)
        except concurrent.futures.process.BrokenProcessPool:
            self.close()
            return "crash", ""
        except concurrent.futures.TimeoutError:
            self.close(kill=True)
            return "hang", ""

    def close(self, kill: bool = False) -> None:
        if self._pool is not None:
            if kill:
                for process in list(self._pool._processes.values()):
                    process.kill()
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


@pytest.fixture(scope="module")
def worker():
    w = Worker()
    yield w
    w.close()
    report = os.environ.get("HSI_TUMOR_FUZZ_REPORT")
    if report:
        Path(report).write_text(json.dumps(dict(sorted(OUTCOMES.items())), indent=1))


@pytest.fixture(scope="module")
def originals(tmp_path_factory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("fuzz")
    return {k: ht.save_model(fitted_model(k), folder / f"{k}.htm").read_bytes() for k in KINDS}


def check(worker, tmp_path, test: str, data: bytes | dict) -> None:
    path = tmp_path / "damaged.htm"
    if isinstance(data, dict):
        write(path, data)
    else:
        path.write_bytes(data)
    outcome, detail = worker.run(path)
    detail, _, peak = detail.rpartition("|")
    kind = f"{outcome}: {detail}" if outcome in ("refused", "refused at classify") else outcome
    OUTCOMES[f"{test} / {kind}"] += 1
    OUTCOMES["max worker RSS (MB)"] = max(OUTCOMES["max worker RSS (MB)"], int(peak or 0) >> 10)
    note(f"{outcome} {detail}")
    assert outcome in ("refused", "refused at classify", "classified"), detail
    assert int(peak or 0) < MEMORY_LIMIT_KB


def _inner(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _flip(data: bytes, flips) -> bytes:
    out = bytearray(data)
    for position, bit in flips:
        out[int(position * (len(out) - 1))] ^= 1 << bit
    return bytes(out)


flips = st.lists(st.tuples(st.floats(0, 1), st.integers(0, 7)), min_size=1, max_size=8)
kinds = st.sampled_from(KINDS)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=12,
)


@FUZZ
@given(kind=kinds, flips=flips)
def test_bit_flips_in_the_file(worker, originals, tmp_path, kind, flips):
    check(worker, tmp_path, "file bit flips", _flip(originals[kind], flips))


@FUZZ
@given(kind=kinds, fraction=st.floats(0, 1, exclude_max=True))
def test_truncated_files(worker, originals, tmp_path, kind, fraction):
    data = originals[kind]
    check(worker, tmp_path, "truncation", data[: int(fraction * len(data))])


@FUZZ
@given(kind=kinds, member=st.sampled_from([META, PIPELINE]), flips=flips)
def test_bit_flips_in_a_member_resealed(worker, originals, tmp_path, kind, member, flips):
    files = members_of(originals[kind], tmp_path)
    files[member] = _flip(files[member], flips)
    check(worker, tmp_path, f"{member} bit flips, resealed", files)


@FUZZ
@given(kind=kinds, field=st.sampled_from(FIELDS), value=json_values)
def test_model_json_fields_replaced_resealed(worker, originals, tmp_path, kind, field, value):
    files = members_of(originals[kind], tmp_path)
    meta = json.loads(files[META])
    meta[field] = value
    files[META] = json.dumps(meta).encode()
    check(worker, tmp_path, "model.json field replaced, resealed", files)


@FUZZ
@given(kind=kinds, choice=st.integers(0, 10**6), flips=flips, in_header=st.booleans())
def test_fitted_arrays_edited_resealed(worker, originals, tmp_path, kind, choice, flips, in_header):
    """Bytes of one array of the pipeline changed: tree nodes, support vectors, coefficients
    (``in_header``: the .npy header, else the values), the archive resealed."""
    files = members_of(originals[kind], tmp_path)
    inner = _inner(files[PIPELINE])
    arrays = sorted(name for name in inner if name.endswith(".npy"))
    name = arrays[choice % len(arrays)]
    data = inner[name]
    header = 128 if len(data) > 128 else len(data)
    part = (data[:header], data[header:]) if len(data) > header else (data, b"")
    if in_header or not part[1]:
        inner[name] = _flip(part[0], flips) + part[1]
    else:
        inner[name] = part[0] + _flip(part[1], flips)
    files[PIPELINE] = zip_bytes(inner)
    check(worker, tmp_path, "pipeline array edited, resealed", files)


@FUZZ
@given(kind=kinds, flips=flips)
def test_pipeline_schema_edited_resealed(worker, originals, tmp_path, kind, flips):
    files = members_of(originals[kind], tmp_path)
    inner = _inner(files[PIPELINE])
    inner["schema.json"] = _flip(inner["schema.json"], flips)
    files[PIPELINE] = zip_bytes(inner)
    check(worker, tmp_path, "pipeline schema.json edited, resealed", files)


def members_of(data: bytes, tmp_path: Path) -> dict[str, bytes]:
    path = tmp_path / "original.htm"
    path.write_bytes(data)
    return members(path)
