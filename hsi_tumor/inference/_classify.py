"""classify_cube: a whole cube through a TumorModel, tile by tile, into a TumorMap."""

from __future__ import annotations

import logging
import os
import threading

import numpy as np
import sklearn
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.ensemble._forest import ForestClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.tree import BaseDecisionTree

from hsi_tumor._shared.arrays import check_mask, is_dask_array, materialize
from hsi_tumor._shared.errors import InvalidOptionError, NoValidPixelsError, WavelengthError
from hsi_tumor._shared.tiles import blas_single_thread, for_each_tile
from hsi_tumor._shared.wavelengths import describe_grid, match_wavelengths
from hsi_tumor.calibration._inputs import as_cube
from hsi_tumor.cube import Cube
from hsi_tumor.inference._fast import fast_predictor
from hsi_tumor.inference._forest import forest_predictor
from hsi_tumor.inference._tumor_map import TumorMap
from hsi_tumor.models._persistence import as_model
from hsi_tumor.preprocessing._affine import flatten_steps, split_chain

logger = logging.getLogger("hsi_tumor.inference")

__all__ = ["RANGE_TOLERANCE", "check_input_range", "classify_cube"]

# estimators whose predict is the argmax of their predict_proba: one call gives both
_PREDICT_IS_ARGMAX = (
    CalibratedClassifierCV,
    ForestClassifier,
    BaseDecisionTree,
    HistGradientBoostingClassifier,
    KNeighborsClassifier,
)


class _SklearnPredictor:
    """``pixels -> (labels, probabilities)`` through the pipeline's own predict methods."""

    def __init__(self, pipeline) -> None:
        self.pipeline = pipeline
        final = pipeline[-1] if hasattr(pipeline, "steps") else pipeline
        self.has_proba = hasattr(pipeline, "predict_proba")
        self.argmax = self.has_proba and isinstance(final, _PREDICT_IS_ARGMAX)
        self.classes_ = np.asarray(pipeline.classes_)
        # scikit-learn's compiled predictors release the GIL: tiles can run on threads, unless
        # the estimator runs its own threads (n_jobs > 1, or OpenMP in gradient boosting).
        # Brute-force neighbours search with OpenMP whatever n_jobs says (it only splits tree
        # searches): tiles on threads, so the preprocessing runs in parallel too (a tile at a
        # time was 3-6 % slower than predict_proba on the whole cube)
        brute = isinstance(final, KNeighborsClassifier) and final._fit_method == "brute"
        self.tile_parallel = brute or (
            getattr(final, "n_jobs", None) in (None, 1)
            and not isinstance(final, HistGradientBoostingClassifier)
        )

    def __call__(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        with sklearn.config_context(assume_finite=True):
            if not self.has_proba:
                return self.pipeline.predict(pixels), None
            proba = self.pipeline.predict_proba(pixels)
            if self.argmax:
                labels = self.classes_[np.argmax(proba, axis=1)]
            else:
                labels = self.pipeline.predict(pixels)
        return labels, proba.astype(np.float32, copy=False)


class _DomainFlag:
    """``pixels -> bool``: whether each pixel lies outside the model's training domain.

    The features the classifier sees — handed back by a fast or compiled predictor that
    computes them anyway (:attr:`~hsi_tumor.inference._fast.FastPredictor.feature_width`),
    else computed here: the preprocessing steps' own ``transform`` up to the last non-affine
    step (SNV), then the affine tail fused into one float64 product
    (:meth:`~hsi_tumor.preprocessing._affine.AffineChain.exact_stage`) — then Hotelling's T²
    and Q against the domain's limits (:class:`~hsi_tumor.models.TrainingDomain`).
    """

    def __init__(self, pipeline, domain) -> None:
        self.domain = domain
        head = flatten_steps(pipeline[:-1]) if hasattr(pipeline, "steps") else []
        self.stage = split_chain(head).exact_stage() if head else None

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        features = pixels if self.stage is None else self.stage.features(pixels)
        return self.of_features(features)

    def of_features(self, features: np.ndarray) -> np.ndarray:
        """The flag from the classifier's features (a kernel predictor hands them back)."""
        return self.domain.flag(*self.domain._statistics(features))


def _label_dtype(classes: np.ndarray) -> np.dtype:
    top = int(np.max(classes))
    for dtype in (np.uint8, np.uint16, np.int32):
        if top <= np.iinfo(dtype).max and int(np.min(classes)) >= 0:
            return np.dtype(dtype)
    return np.dtype(np.int64)


def classify_cube(
    cube: Cube | str | os.PathLike,
    model,
    *,
    mask=None,
    resample: bool = False,
    tile_rows: int | None = None,
    n_jobs: int | None = None,
    progress: bool = True,
    device: str = "cpu",
) -> TumorMap:
    """Classify every pixel of a cube into a tumor map with class probabilities.

    Parameters
    ----------
    cube : Cube or path
        Preprocessed the way the training cubes were (e.g. calibrated reflectance); in memory,
        memory-mapped, lazy, or a :class:`dask.array.Array` (``Cube(dask_array, wavelengths)``).
        A Specim capture folder is calibrated to reflectance, any other path is read with
        :func:`hsi_tumor.read_cube` (:func:`hsi_tumor.calibration.as_cube`).
    model : TumorModel, path or fitted scikit-learn classifier
        From :func:`hsi_tumor.train`, or a model file (:func:`hsi_tumor.load_model`), or a
        fitted scikit-learn classifier or Pipeline (then only the band count can be checked);
        see :func:`hsi_tumor.models.as_model`.
    mask : None, 'tissue' or ndarray of shape (rows, cols), optional
        Pixels to classify; the others get label 0. ``'tissue'`` is the cube's
        :func:`hsi_tumor.tissue_mask`.
    resample : bool, default=False
        When the cube's wavelengths differ from the model's, interpolate the spectra linearly
        onto the model's grid instead of raising.
    tile_rows : int, optional
        Rows per tile (default: about 8 MB of input per tile; for a dask array, rounded to
        whole row chunks).
    n_jobs : int, optional
        Tiles classified at once on threads; default the number of cores. Estimators that run
        their own threads (``n_jobs > 1``, gradient boosting's OpenMP) get one tile at a time;
        not forests (their ``n_jobs`` is not used here) nor brute-force nearest neighbours
        (whose search runs OpenMP threads whatever their ``n_jobs``).
    progress : bool, default=True
        A progress bar over the tiles (tqdm: on stderr, or a widget in a notebook), shown once
        the call has run a second; False writes nothing.
    device : {'cpu', 'cuda', 'cuda:N'}, default='cpu'
        Where to classify. On a GPU (CuPy or PyTorch, ``pip install 'hsi_tumor[gpu]'``),
        calibration of raw counts, SNV, the affine preprocessing and SVM / linear decisions
        run on the device, tiles streamed from the host (:mod:`hsi_tumor.inference._device`);
        other models raise :class:`~hsi_tumor.InvalidOptionError`. ``n_jobs`` is ignored there.

    Returns
    -------
    TumorMap
        ``labels`` (rows, cols) with the training label ids (0 = not classified),
        ``probabilities`` (rows, cols, n_classes) float32, ``classes``, ``tumor_probability``
        when a class is named "tumor", ``valid`` / ``n_invalid`` for pixels that could not
        be classified (NaN/inf, or flagged in ``cube.valid``, e.g. saturated), and
        ``outlier``, the classified pixels outside the model's training domain (None when the
        model has no ``domain``; see Notes).

    Raises
    ------
    WavelengthError
        If the cube's wavelengths differ from the model's (both ranges are named) and
        ``resample`` is False, or resampling would extrapolate.
    InvalidOptionError
        If the mask has the wrong shape, or the cube's values lie far outside those the model
        was trained on, e.g. raw camera counts given to a reflectance model
        (:func:`~hsi_tumor.inference.check_input_range`); :class:`~hsi_tumor.InvalidTypeError`,
        a subclass, if ``cube`` or ``model`` is of the wrong type.
    NoValidPixelsError
        If the mask is empty, or no pixel is valid.
    DeviceError
        If ``device`` names no visible GPU.
    MissingDependencyError
        If ``device`` is a GPU and neither CuPy nor PyTorch is installed.

    Notes
    -----
    **Exact and fast.** For SVMs (RBF, linear, polynomial, sigmoid kernels; alone or inside
    ``CalibratedClassifierCV``), linear classifiers (logistic regression, linear SVM, LDA,
    PLS-DA) and the affine preprocessing before them (PCA, standardisation, band selection,
    Savitzky–Golay, with or without SNV first), the decision functions are evaluated with
    chunked matrix products in float32 and the few pixels near a decision tie are evaluated
    again in float64 (:mod:`hsi_tumor.inference._fast`). Labels are those of
    ``model.pipeline.predict`` except where a decision value is within 1e-6 of a tie, and
    probabilities are within 1e-5 of ``predict_proba``. Random forests and extra trees (after
    any preprocessing) are evaluated by a compiled kernel over blocks of pixels
    (:mod:`hsi_tumor.inference._forest`): probabilities bitwise those of ``predict_proba``
    with ``n_jobs=1`` (float64, before the cast to float32), labels its argmax, as
    ``predict``; tiles run on threads whatever the forest's ``n_jobs``. Any other estimator is
    called through scikit-learn tile by tile.

    **Outside the training domain.** When the model has a training domain
    (``model.domain``, :class:`~hsi_tumor.models.TrainingDomain`, from
    :func:`hsi_tumor.train`), each classified pixel's features, as the classifier sees them,
    get Hotelling's T² and the Q residual of the PCA model of the training features, and
    ``TumorMap.outlier`` is True where either exceeds its limit: a spectrum unlike any the
    model was trained on (another tissue, a glove, metal, glare), whose label should not be
    trusted. Labels and probabilities are not changed. The fast path (SVMs, linear models)
    and the compiled forests hand the features they compute to the flag (a linear model's
    decision is then evaluated on them rather than fused with the preprocessing); other
    estimators' features are computed once more. T² and Q cost about 0.1 µs a pixel on one
    core for 20 features and 1 µs for 200 features and 50 components: a few to 30 % more
    for SVMs and forests, up to twice the time of an LDA, which costs little else
    (docs/classification.md). On a GPU (``device="cuda"``) the flag is computed on the host
    in a second pass over the cube.

    **Memory.** Only a few tiles of the cube are in memory at a time: with ``n_jobs`` threads,
    about ``n_jobs × 8 MB`` of input plus the predictor's working arrays (the tile's
    features, and per chunk a few MB) on the fast path, or plus the estimator's own working
    memory when scikit-learn predicts. On a GPU, two tiles of 64 Ki pixels in pinned host
    memory, and their working arrays on the device. The outputs, ``rows × cols × (4 × n_classes
    + 2)`` bytes, are in memory. A memory-mapped or lazily calibrated cube far larger than
    memory classifies in bounded memory (tested: a 512 MiB memory-mapped cube).

    **Dask arrays.** A cube over a :class:`dask.array.Array` is computed one row tile at a
    time, when that tile is classified, never whole. By default the tiles cover whole row
    chunks (so each chunk is computed once; a tile then holds at least one chunk: give the
    array row chunks of a few MB, full width and all bands, e.g. ``chunks=(64, -1, -1)``).
    Slicing a ``dask.array.from_array`` over an HDF5 dataset, a zarr array or a memory map
    reads only the slice.

    Examples
    --------
    >>> import hsi_tumor as ht
    >>> spec = ht.simulate_specimen(seed=0, shape=(40, 48), n_bands=40)
    >>> cube = spec.calibrate()
    >>> model = ht.train(cube, spec.labels, classifier="lda", random_state=0,
    ...                  class_names={1: "normal", 2: "tumor"})
    >>> result = ht.classify_cube(cube, model, mask=spec.true_labels > 0)
    >>> result.tumor_probability.shape
    (40, 48)
    """
    cube = as_cube(cube)
    model = as_model(model)
    if model.wavelengths is not None:
        resampler = match_wavelengths(
            cube.wavelengths,
            model.wavelengths,
            resample=resample,
            what="the cube",
            expected="the model",
        )
    else:
        logger.info("classify_cube: the model has no wavelengths; checking band count only")
        resampler = None
        if cube.n_bands != model.n_bands:
            raise WavelengthError(
                f"the cube has {describe_grid(cube.wavelengths)} ({cube.n_bands} bands), the "
                f"model takes {model.n_bands} bands",
                field="wavelengths",
                fix="give the model's wavelengths (TumorModel.from_pipeline(..., wavelengths=))",
            )
    if isinstance(mask, str):
        if mask != "tissue":
            raise InvalidOptionError(
                f"mask={mask!r}",
                field="mask",
                fix="give None, 'tissue' or a (rows, cols) boolean array",
            )
        from hsi_tumor.calibration import tissue_mask

        mask = tissue_mask(cube)
    mask = check_mask(mask.data if isinstance(mask, Cube) else mask, cube.shape[:2])
    # a dask cube is checked on its first tile (sampled rows would compute chunks twice)
    on_first_tile = is_dask_array(cube.data)
    if not on_first_tile:
        check_input_range(cube, model)
    classes = np.asarray(model.classes)
    shape = cube.shape[:2]
    labels = np.zeros(shape, dtype=_label_dtype(classes))
    if device != "cpu":
        from hsi_tumor.inference._device import backend_for, classify_on_device

        backend = backend_for(device)
        index, probabilities, valid = classify_on_device(
            cube,
            model.pipeline,
            backend,
            mask=mask,
            resampler=resampler,
            tile_rows=tile_rows,
            progress=progress,
        )
        # whole-array take and one masked fill: boolean gathers cost ms per cube at video rate
        classes.astype(labels.dtype).take(index, out=labels, mode="clip")
        np.copyto(labels, 0, where=~valid)
        outlier = None
        if model.domain is not None:  # on the host, a second pass over the cube
            outlier = _outlier_on_host(cube, model, valid, resampler, tile_rows, n_jobs, progress)
        return _tumor_map(model, labels, probabilities, valid, mask, outlier)

    predictor, fast, flag = _predictor_and_flag(model)
    probabilities = (
        np.full((*shape, classes.size), np.nan, dtype=np.float32) if predictor.has_proba else None
    )
    work_dtype = np.float32 if cube.dtype != np.float64 else np.float64
    outlier = None if flag is None else np.zeros(shape, dtype=bool)
    share = flag is not None and getattr(predictor, "feature_width", None) is not None
    # each tile thread fills one features buffer, tile after tile (a fresh one per tile had
    # cost the LDA below as much in page faults as T² and Q)
    buffers = threading.local()

    def run(rows: slice, pixels: np.ndarray, ok: np.ndarray) -> None:
        if on_first_tile and rows.start == 0:
            check_input_range(cube, model, values=pixels[ok])
        every = bool(ok.all())
        x = np.ascontiguousarray(pixels if every else pixels[ok], dtype=work_dtype)
        if resampler is not None:
            x = x @ resampler.astype(work_dtype)
        if share:  # the classifier's features serve the domain flag too (not computed twice)
            tile_labels, tile_proba, tile_outlier = _with_flag(predictor, flag, x, buffers)
        else:
            tile_labels, tile_proba = predictor(x)
            tile_outlier = None if flag is None else flag(x)
        if every:  # plain copies, no boolean scatter
            labels[rows] = tile_labels.reshape(labels[rows].shape)
            if probabilities is not None:
                probabilities[rows] = tile_proba.reshape(probabilities[rows].shape)
            if outlier is not None:
                outlier[rows] = tile_outlier.reshape(outlier[rows].shape)
            return
        labels[rows].reshape(-1)[ok] = tile_labels
        if probabilities is not None:
            probabilities[rows].reshape(-1, classes.size)[ok] = tile_proba
        if outlier is not None:
            outlier[rows].reshape(-1)[ok] = tile_outlier

    valid = for_each_tile(
        cube,
        run,
        mask=mask,
        tile_rows=tile_rows,
        n_jobs=n_jobs,
        # the estimator may parallelise inside (n_jobs, OpenMP): then one tile at a time
        threads=fast is not None or predictor.tile_parallel,
        # the fast path's products are small (chunks in cache), and idle OpenBLAS threads
        # spinning between them slowed it fourfold even with one tile at a time
        one_blas_thread=fast is not None,
        progress=progress,
        desc="classify",
    )
    return _tumor_map(model, labels, probabilities, valid, mask, outlier)


#: With the outlier flag on shared features, a tile is classified in chunks of at most this
#: many bytes of float64 features (each thread's one buffer, reused): on Indian Pines (200
#: features) an LDA with its flag took 10–15 % less time than with whole tiles (15 MB of
#: features), while chunks of 4 MB or less slowed the kernel SVMs by 5 % and smaller ones
#: everything (two tile threads contending for the interpreter between short numpy calls).
SHARED_FEATURE_BYTES = 2**23


def _with_flag(predictor, flag, x: np.ndarray, buffers: threading.local):
    """``(labels, probabilities or None, outlier)`` of pixels ``x``, chunk by chunk: the
    predictor hands its features to the flag through the calling thread's buffer."""
    n, width = x.shape[0], predictor.feature_width
    step = max(256, SHARED_FEATURE_BYTES // (8 * width))
    held = getattr(buffers, "features", None)
    if held is None or held.shape[0] < min(n, step):
        held = buffers.features = np.empty((min(n, step), width))
    parts = []
    for start in range(0, n, step):
        features = held[: min(n, start + step) - start]
        chunk_labels, chunk_proba = predictor(x[start : start + step], features)
        parts.append((chunk_labels, chunk_proba, flag.of_features(features)))
    if len(parts) == 1:
        return parts[0]
    labels, proba, outlier = zip(*parts, strict=True)
    return (
        np.concatenate(labels),
        None if proba[0] is None else np.concatenate(proba),
        np.concatenate(outlier),
    )


def _predictor_and_flag(model):
    """``(predictor, the fast predictor or None, the domain flag or None)`` of a model: the
    fast path, else the compiled forest, else scikit-learn tile by tile."""
    with blas_single_thread():  # set-up products must not leave BLAS threads spinning
        fast = fast_predictor(model.pipeline)
        forest = None if fast is not None else forest_predictor(model.pipeline)
        # the flag's stage probes its steps too (outside this block, the spinning threads
        # had cost the mayonnaise SVM 40 % of its time)
        flag = None if model.domain is None else _DomainFlag(model.pipeline, model.domain)
    if fast is not None:
        predictor, path = fast, "fast"
    elif forest is not None:
        predictor, path = forest, "forest"
    else:
        predictor, path = _SklearnPredictor(model.pipeline), "scikit-learn"
    logger.info(
        "classify_cube: %s path for %s",
        path,
        type(model.pipeline[-1] if hasattr(model.pipeline, "steps") else model.pipeline).__name__,
    )
    return predictor, fast, flag


def _outlier_on_host(cube, model, valid, resampler, tile_rows, n_jobs, progress) -> np.ndarray:
    """``TumorMap.outlier`` of the pixels classified on a device (``valid``), on the CPU."""
    with blas_single_thread():  # the stage's probe products: no BLAS threads left spinning
        flag = _DomainFlag(model.pipeline, model.domain)
    work_dtype = np.float32 if cube.dtype != np.float64 else np.float64
    outlier = np.zeros(valid.shape, dtype=bool)

    def run(rows: slice, pixels: np.ndarray, ok: np.ndarray) -> None:
        x = np.ascontiguousarray(pixels[ok], dtype=work_dtype)
        if resampler is not None:
            x = x @ resampler.astype(work_dtype)
        outlier[rows].reshape(-1)[ok] = flag(x)

    for_each_tile(
        cube,
        run,
        mask=valid,
        tile_rows=tile_rows,
        n_jobs=n_jobs,
        one_blas_thread=True,
        progress=progress,
        desc="training domain",
    )
    return outlier


#: A cube is refused when the 90th percentile of its sampled values lies further than this
#: many training-range widths above the model's ``training["input_range"]`` (or the 10th
#: percentile as far below it).
RANGE_TOLERANCE = 3.0


def _sample_values(cube: Cube, n_rows: int = 8, n_values: int = 16_000) -> np.ndarray:
    """Finite values of a few evenly spaced rows of the cube (read alone, whatever the storage)."""
    rows = np.unique(np.linspace(0, cube.n_rows - 1, min(n_rows, cube.n_rows)).round())
    step = max(1, (rows.size * cube.n_cols * cube.n_bands) // n_values)
    parts = []
    for r in rows.astype(int):
        data = cube.data[r] if isinstance(cube.data, np.ndarray) else None
        if data is None:
            data = materialize(cube[int(r)].data)[0]
        parts.append(np.asarray(data[:: min(step, cube.n_cols)], dtype=np.float64).ravel())
    values = np.concatenate(parts)
    return values[np.isfinite(values)]


def check_input_range(cube: Cube, model, *, values: np.ndarray | None = None) -> None:
    """Refuse a cube whose values lie far outside those the model was trained on.

    A model from :func:`hsi_tumor.train` records the 0.1–99.9 percentile range ``[lo, hi]``
    of its training spectra (``model.training["input_range"]``). Of the finite values sampled
    from a few evenly spaced rows of ``cube``, the 90th percentile must not exceed
    ``hi + k (hi − lo)`` and the 10th must not fall below ``lo − k (hi − lo)``, with
    ``k =`` :data:`RANGE_TOLERANCE`; otherwise the cube is in other units: raw camera counts
    (or reflectance in percent) given to a model trained on reflectance would give a
    plausible-looking but meaningless map. Percentiles, not the extremes, so that glare and a
    black background (a minority of pixels) pass; the upper one, because a dark background
    in percent can still overlap the bright end of reflectance. Models without the record
    (older files, ``TumorModel.from_pipeline``) are not checked.

    Parameters
    ----------
    cube : Cube
        The cube to classify (named in the error).
    model : TumorModel
    values : ndarray, optional
        Values of the cube already read: :func:`classify_cube` passes a dask cube's first
        tile, which it reads anyway (sampled rows would compute chunks twice). By default a
        few rows are read.

    Raises
    ------
    InvalidOptionError
        Field ``cube``; the fix names calibration (integer raw counts) or the units.
    """
    bounds = (model.training or {}).get("input_range") or ()
    if len(bounds) != 2:
        return
    lo, hi = (float(b) for b in bounds)
    if values is None:
        values = _sample_values(cube)
    else:
        values = np.asarray(values).ravel()
        values = values[:: max(1, values.size // 16_000)].astype(np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return
    span = max(hi - lo, 1e-12)
    low, high = np.percentile(values, [10, 90])
    if lo - RANGE_TOLERANCE * span <= low and high <= hi + RANGE_TOLERANCE * span:
        return
    trained = f"values in [{lo:.3g}, {hi:.3g}]"
    if lo > -0.5 and hi < 2.0:
        trained += " (calibrated reflectance)"
    typical = f"10th–90th percentile {low:.3g}–{high:.3g}"
    if cube.dtype.kind in "iu":
        problem = (
            f"the cube holds integers ({typical}), raw camera counts, but the model was "
            f"trained on {trained}"
        )
        fix = (
            "calibrate it first (hsi_tumor.calibrate_capture), or give the Specim capture "
            "folder instead, which is calibrated to reflectance automatically"
        )
    else:
        problem = (
            f"the cube's values ({typical}) lie far outside those the model was trained on, "
            f"{trained}"
        )
        fix = (
            "give the cube in the units of the training cubes (raw counts: calibrate them "
            "first, or give the Specim capture folder; reflectance in percent: divide by 100)"
        )
    source = cube.metadata.get("source")
    raise InvalidOptionError(problem, file=source, field="cube", fix=fix)


def _tumor_map(model, labels, probabilities, valid, mask, outlier=None) -> TumorMap:
    n_masked = 0 if mask is None else int(mask.size - mask.sum())
    n_invalid = int(valid.size - valid.sum()) - n_masked
    if n_invalid:
        logger.info("classify_cube: %d pixels not classified (NaN/inf or flagged)", n_invalid)
    if not valid.any():
        raise NoValidPixelsError(
            "no valid pixel to classify (all masked, NaN/inf or flagged invalid)",
            field="cube",
            fix="check the calibration (cube.valid) and the mask",
        )
    return TumorMap(
        labels=labels,
        probabilities=probabilities,
        classes=np.asarray(model.classes),
        class_names=dict(model.class_names),
        valid=valid,
        n_masked=n_masked,
        n_invalid=n_invalid,
        outlier=outlier,
    )
