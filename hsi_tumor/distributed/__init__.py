"""Batch work: many cubes through one model, in this process or on a Dask cluster.

::

    import hsi_tumor as ht
    result = ht.classify_many(sorted(Path("captures").glob("*.hdr")), "model.htmodel", "maps/")
    result                  # BatchResult(120 cubes into maps: 118 written, 0 skipped, 2 failed)
    result.failed           # each with its error: the file, the field and the fix
    ht.classify_many(..., client="local")                  # on a local Dask cluster
    ht.classify_many(..., client="tcp://scheduler:8786")   # the same batch on a cluster

``client=None`` (the default) classifies the cubes one after another in this process and
needs no Dask; ``client="local"``, an address or a ``distributed.Client`` need
``dask.distributed``: ``pip install 'hsi_tumor[distributed]'``.

**What runs where.** :func:`classify_many` makes one task per cube (a Dask task, when a
client is given). The task reads the cube (:func:`hsi_tumor.calibration.as_cube`: a Specim
capture folder is calibrated with :func:`hsi_tumor.calibrate_capture`, any other path read
with :func:`hsi_tumor.read_cube`), classifies it with :func:`hsi_tumor.classify_cube` and
writes :func:`hsi_tumor.inference.write_tumor_map`'s folder (maps, probabilities, overlays on the
cube's pseudo-RGB image, ``summary.json``) as ``out_dir/<name>/``. Only the per-cube summary
comes back to the client; the maps stay on disk. With ``client="local"`` a local cluster is
started for the batch (worker processes, one thread each, one per core) and closed after it;
with a scheduler address or a ``distributed.Client`` the same call runs on that cluster
unchanged.

**Resuming and crashes.** An output folder appears by one rename when it is complete, so a
folder that exists is whole: a second run skips it (``overwrite=True`` redoes it). A worker
that dies mid-cube (killed, out of memory, node lost) leaves at most a hidden
``.<name>.xxxxxxxx.partial`` staging folder; Dask reruns its task elsewhere, each output is
written exactly once, and the leftovers of this batch's names whose writer is gone are deleted
when the batch starts and when it ends (a live writer's are locked and kept). A
batch interrupted as a whole (Ctrl-C, the client's machine rebooted) is resumed by running it
again.

**Failures.** A cube that cannot be read or classified (truncated or corrupt file, missing
data file, wavelengths the model cannot use) is reported in the result with its error, and
the other cubes finish: :attr:`BatchResult.failed`, :meth:`BatchResult.raise_on_failure`.

**Large single cubes** do not need a cluster: :func:`hsi_tumor.classify_cube` classifies a
memory-mapped, lazy HDF5 or :mod:`dask.array` cube (``Cube(dask_array, wavelengths)``) tile
by tile without loading it whole.
"""

from hsi_tumor.distributed._batch import CUBE_ERRORS, BatchItem, BatchResult, classify_many

__all__ = ["CUBE_ERRORS", "BatchItem", "BatchResult", "classify_many"]
