"""One bad cube cannot sink a batch (issue 18): a MATLAB v5 file that used to kill the process
reading it (SIGSEGV in scipy.io.loadmat) sits among good cubes; every good cube is written, in
this process and on Dask, run after run.

Before hsi_tumor validated v5 files element by element, such a file killed the interpreter of
``classify_many(client=None)`` and, on Dask, killed a worker per attempt: in 2 of 6 runs every
other cube of the batch failed with ``KilledWorker`` (the tasks queued on the dying workers ran
out of allowed failures). The in-process batch runs in a fresh interpreter here, so that a
regression fails this test instead of killing the test run.
"""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io

import hsi_tumor as ht
from hsi_tumor.distributed import classify_many

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.filterwarnings("ignore::hsi_tumor.CalibrationWarning")


@pytest.fixture
def crasher(model, tmp_path) -> Path:
    """A v5 MAT cube of the model's bands whose number data is tagged miCOMPRESSED (the issue's
    reproducer, at the model's size)."""
    buf = io.BytesIO()
    cube = np.full((40, 48, model.wavelengths.size), 0.5, np.float32)
    scipy.io.savemat(buf, {"cube": cube, "wavelength": model.wavelengths[None]})
    raw = bytearray(buf.getvalue())
    raw[raw.index(struct.pack("<II", 7, cube.nbytes))] = 15
    path = tmp_path / "crasher.mat"
    path.write_bytes(bytes(raw))
    return path


def inputs_with(crasher: Path, cubes: dict) -> dict[str, str]:
    names = list(cubes)
    return {
        names[0]: os.fspath(cubes[names[0]]),
        "crasher": os.fspath(crasher),
        **{name: os.fspath(cubes[name]) for name in names[1:]},
    }


def check_statuses(statuses: dict[str, tuple[str, str | None]], cubes: dict) -> None:
    assert statuses.pop("crasher")[0] == "failed"
    assert statuses == {name: ("written", None) for name in cubes}


@pytest.mark.slow
def test_in_process_batch_writes_every_good_cube(crasher, cubes, model, tmp_path):
    model_path = ht.save_model(model, tmp_path / "model.htmodel")
    code = (
        "import json, sys, warnings\n"
        "import hsi_tumor as ht\n"
        "warnings.simplefilter('ignore')\n"
        "inputs = json.loads(sys.argv[1])\n"
        "result = ht.classify_many(inputs, sys.argv[2], sys.argv[3])\n"
        "print(json.dumps({n: (i.status, i.error) for n, i in result.items()}))\n"
    )
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    for run in range(2):
        out = tmp_path / f"maps{run}"
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                code,
                json.dumps(inputs_with(crasher, cubes)),
                os.fspath(model_path),
                os.fspath(out),
            ],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, f"exit status {done.returncode}: {done.stderr[-3000:]}"
        statuses = {k: tuple(v) for k, v in json.loads(done.stdout.splitlines()[-1]).items()}
        assert (
            statuses["crasher"][1].startswith("CubeFormatError")
            and "data type 15" in statuses["crasher"][1]
        )
        check_statuses(statuses, cubes)
        assert sorted(p.name for p in out.iterdir()) == sorted(cubes)


@pytest.mark.slow
def test_dask_batch_writes_every_good_cube_in_every_run(
    crasher, cubes, model, tmp_path, dask_client
):
    for run in range(3):
        result = classify_many(
            inputs_with(crasher, cubes), model, tmp_path / f"maps{run}", client=dask_client
        )
        statuses = {name: (item.status, item.error) for name, item in result.items()}
        assert statuses["crasher"][1].startswith("CubeFormatError"), statuses["crasher"]
        check_statuses(statuses, cubes)
