"""What a file or folder that hsi_tumor reads or writes holds: the text of ``hsi-tumor info``.

:func:`describe` recognises every kind of file the library writes — cubes (ENVI, HDF5, NumPy,
MATLAB; also the probability maps, whose bands are classes, not wavelengths), label maps,
Specim capture folders, tumor-map folders (:func:`hsi_tumor.write_tumor_map`) and
tumor-fraction folders (:func:`hsi_tumor.fraction.write_fraction_map`) and each file in them,
evaluation report folders (:func:`hsi_tumor.evaluation.write_report`), model files
(:func:`hsi_tumor.save_model`: classifiers and tumor-fraction models), cohort manifests and
band tables — and any folder holding them, and returns lines of text. It reads headers and
small files only (a cube's data is never read).
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from hsi_tumor._shared.errors import CubeFormatError, HsiTumorError, WavelengthError
from hsi_tumor.io._common import existing_file

__all__ = ["describe"]

_LABEL_SUFFIXES = (".npy", ".npz", ".mat", ".png", ".tif", ".tiff", ".bmp")


def describe(path: str | os.PathLike, *, format: str | None = None, wavelengths=None) -> list[str]:
    """Lines describing a file or folder that hsi_tumor reads or writes.

    Parameters
    ----------
    path : str or os.PathLike
        A cube file (or an ENVI data file), a label map, a model file, a tumor-map folder or
        one of its files, a report folder or its ``metrics.json``, a Specim capture folder, a
        cohort manifest or band table (CSV), or a folder holding such things.
    format : str, optional
        Force a cube reader (``read_cube``'s ``format=``).
    wavelengths : array-like or path, optional
        Wavelengths supplying or overriding those of a cube or capture.

    Returns
    -------
    list of str
        The first line says what the path is; the others give details.

    Raises
    ------
    MissingFileError
        If the path does not exist.
    CubeFormatError
        If it is nothing hsi_tumor reads (the reader's own error for a damaged file).
    """
    path = existing_file(path)
    options = {"wavelengths": wavelengths} if wavelengths is not None else {}
    if format is not None:
        return _cube(path, format=format, **options)
    if path.is_dir():
        return _folder(path, **options)
    suffix = path.suffix.lower()
    by_suffix: dict[str, Callable[[Path], list[str]]] = {
        ".json": _json,
        ".csv": _csv,
        ".md": _markdown,
        ".htmodel": _model,
        ".zip": _model,
        ".npz": _npz,
    }
    if suffix in by_suffix:
        return by_suffix[suffix](path)
    if suffix in (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"):
        return _image(path)
    if _is_model_archive(path):  # a model file under another name
        return _model(path)
    return _cube_or_labels(path, **options)


# -- cubes and label maps --------------------------------------------------------------------
def _cube_summary(cube) -> list[str]:
    wl = cube.wavelengths
    lines = [repr(cube)]
    if wl is None:
        names = cube.metadata.get("band_names")
        named = f" ({', '.join(map(str, names))})" if names is not None else ""
        lines.append(f"  bands: {cube.n_bands}, not wavelengths{named}")
    else:
        step = np.diff(wl)
        lines.append(
            f"  bands: {cube.n_bands}, {wl[0]:.2f}–{wl[-1]:.2f} nm"
            + (f", spacing {step.min():.2f}–{step.max():.2f} nm" if step.size else "")
        )
    for key in ("source", "format", "interleave", "dataset", "variable", "description"):
        if cube.metadata.get(key):
            lines.append(f"  {key}: {' '.join(str(cube.metadata[key]).split())}")
    if cube.metadata.get("bbl") is not None:
        lines.append(f"  bad bands (bbl = 0): {int(np.sum(~np.asarray(cube.metadata['bbl'])))}")
    return lines


def _cube(path: Path, *, format: str | None = None, **options) -> list[str]:
    from hsi_tumor.io import read_cube

    return _cube_summary(read_cube(path, format=format, **options))


def _labels(path: Path) -> list[str]:
    from hsi_tumor.io import read_labels

    labels, names = read_labels(path, return_class_names=True)
    names = names or {}
    ids, counts = np.unique(labels, return_counts=True)
    named = {0: "unlabelled", **names}
    per_class = ", ".join(
        f"{int(i)}{' ' + named[int(i)] if int(i) in named else ''}: {int(n)}"
        for i, n in zip(ids, counts, strict=True)
    )
    rows, cols = labels.shape
    return [
        f"label map {path.name}: {rows} rows x {cols} cols, {labels.dtype} class ids",
        f"  pixels per class: {per_class}",
    ]


def _is_label_file(path: Path) -> bool:
    """An ENVI classification image or an HDF5 file whose ``labels`` dataset is 2-D."""
    from hsi_tumor.io._envi import find_envi_pair, read_envi_header
    from hsi_tumor.io._hdf5 import HDF5_EXTENSIONS

    suffix = path.suffix.lower()
    if suffix in HDF5_EXTENSIONS:
        import h5py

        try:
            with h5py.File(path, "r") as f:
                ds = f.get("labels")
                return isinstance(ds, h5py.Dataset) and ds.ndim == 2
        except OSError:
            return False
    try:
        header, _ = find_envi_pair(path)
        file_type = str(read_envi_header(header).get("file type", ""))
    except HsiTumorError:
        return False
    return "classification" in file_type.lower()


def _cube_or_labels(path: Path, **options) -> list[str]:
    if not options and _is_label_file(path):
        return _labels(path)
    try:
        return _cube(path, **options)
    except (CubeFormatError, WavelengthError):
        # a 2-D array (.npy, .npz, .mat) or a one-band integer image is a label map
        if options or path.suffix.lower() not in (*_LABEL_SUFFIXES, ".hdr", ".h5", ".hdf5"):
            raise
        try:
            return _labels(path)
        except HsiTumorError:
            pass
        raise  # the cube reader's error, which says what is wrong with it as a cube


def _image(path: Path) -> list[str]:
    from PIL import Image

    try:
        with Image.open(path) as image:
            mode, (width, height) = image.mode, image.size
    except (OSError, ValueError) as exc:
        raise CubeFormatError(
            f"not a readable image ({exc})", file=path, fix="give an image file that opens"
        ) from None
    if mode in ("P", "L", "I", "I;16", "1"):  # palette or grey values: class ids
        try:
            return _labels(path)
        except HsiTumorError:
            pass
    return [
        f"image {path.name}: {width} x {height} pixels, {mode} "
        "(a figure or overlay; hsi_tumor does not read it back)"
    ]


def _npz(path: Path) -> list[str]:
    """A NumPy archive: a cube or label map when it holds one, else its arrays (e.g. the
    ground truth ``write_capture`` saves beside a simulated capture)."""
    try:
        return _cube_or_labels(path)
    except (CubeFormatError, WavelengthError):
        pass
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise CubeFormatError(
            f"not a readable NumPy archive ({exc})", file=path, fix="give an .npz file"
        ) from None
    return [
        f"NumPy archive {path.name}: {len(arrays)} arrays",
        *(
            f"  {name}: {' x '.join(map(str, a.shape)) or 'scalar'} {a.dtype}"
            for name, a in arrays.items()
        ),
    ]


# -- models ----------------------------------------------------------------------------------
def _is_model_archive(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return "model.json" in archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def _model(path: Path) -> list[str]:
    from hsi_tumor._shared.wavelengths import describe_grid
    from hsi_tumor.models import load_model

    model = load_model(path)
    if not hasattr(model, "preprocessing"):  # a tumor-fraction model (hsi_tumor.fraction)
        return _fraction_model(path, model)
    training = model.training
    steps = " → ".join([*model.preprocessing, model.classifier or "classifier"])
    names = ", ".join(f"{k}={v}" for k, v in model.class_names.items())
    lines = [
        f"hsi_tumor model {path.name}: {steps} (trained with hsi_tumor {model.version})",
        f"  classes: {names}"
        + ("" if model.tumor_class is None else f" (tumor class {model.tumor_class})"),
        f"  wavelengths: {describe_grid(model.wavelengths)}"
        + (f" ({model.n_bands} bands)" if model.wavelengths is None else ""),
    ]
    pixels = training.get("pixels", {})
    if pixels:
        per_class = ", ".join(f"{name} {sum(per.values())}" for name, per in pixels.items())
        lines.append(f"  training pixels: {training.get('n_pixels', '?')} ({per_class})")
    if model.patients:
        lines.append(f"  patients: {len(model.patients)} ({', '.join(model.patients)})")
    if training.get("random_state") is not None:
        lines.append(f"  random_state: {training['random_state']}")
    tuning = training.get("tuning")
    if tuning:
        best = ", ".join(f"{k}={v}" for k, v in tuning["best_params"].items())
        lines.append(f"  tuned: {best} ({tuning['scoring']} {tuning['best_score']:.3f})")
    bounds = training.get("input_range")
    if bounds:
        lines.append(
            f"  trained on values {bounds[0]:.3g} to {bounds[1]:.3g} (cubes far outside are "
            "refused)"
        )
    return lines


def _fraction_model(path: Path, model) -> list[str]:
    names = ", ".join(f"{k}={v}" for k, v in model.class_names.items())
    facts = dict(model._facts())
    lines = [
        f"hsi_tumor tumor-fraction model {path.name}: {model.method} (trained with hsi_tumor "
        f"{model.version})",
        f"  classes: {names} (fraction of class {model.tumor_class})",
        f"  wavelengths: {facts['wavelengths']}",
        f"  trained on: {facts['trained on']}",
    ]
    training = model.training
    if training.get("n_pixels") is not None:
        lines.append(f"  training pixels: {training['n_pixels']}")
    for key in ("endmembers", "context", "specimen reference over", "interval", "outlier flag"):
        if key in facts:
            lines.append(f"  {key}: {facts[key]}")
    if model.patients:
        lines.append(f"  patients: {len(model.patients)} ({', '.join(model.patients)})")
    if training.get("random_state") is not None:
        lines.append(f"  random_state: {training['random_state']}")
    return lines


# -- JSON, Markdown and CSV files ------------------------------------------------------------
def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CubeFormatError(
            f"not a readable JSON file ({exc})", file=path, fix="give a file hsi_tumor wrote"
        ) from None
    return data if isinstance(data, dict) else {}


def _json(path: Path) -> list[str]:
    data = _read_json(path)
    if {"files", "n_estimated", "tumor_area_pixels", "shape"} <= set(data):
        return _fraction_summary(path.parent, data)
    if {"files", "counts", "shape"} <= set(data):
        return _tumor_map_summary(path.parent, data)
    if {"scheme", "pooled", "per_patient"} <= set(data):
        return _metrics(path, data)
    raise CubeFormatError(
        "a JSON file that is neither a tumor map's summary.json (or a tumor-fraction "
        "folder's) nor a report's metrics.json",
        file=path,
        fix="give a file hsi_tumor wrote (summary.json of 'hsi-tumor classify' or 'hsi-tumor "
        "fraction', metrics.json of 'hsi-tumor evaluate')",
    )


def _tumor_map_summary(folder: Path, summary: dict) -> list[str]:
    rows, cols = summary["shape"]
    names = ", ".join(f"{k}={v}" for k, v in summary.get("class_names", {}).items())
    counts = ", ".join(f"{k} {v}" for k, v in summary["counts"].items())
    lines = [
        f"tumor map folder {folder}: {rows} rows x {cols} cols, classes {names}",
        f"  classified {summary.get('n_classified', '?')} pixels ({counts}); "
        f"{summary.get('n_masked', 0)} masked, {summary.get('n_invalid', 0)} invalid",
    ]
    if summary.get("mean_tumor_probability") is not None:
        lines.append(f"  mean tumor probability: {summary['mean_tumor_probability']:.3f}")
    return [*lines, *_settings_and_files(folder, summary)]


def _fraction_summary(folder: Path, summary: dict) -> list[str]:
    rows, cols = summary["shape"]
    area = f"{summary['tumor_area_pixels']:.1f} px"
    if summary.get("tumor_area_mm2") is not None:
        area += f" = {summary['tumor_area_mm2']:.2f} mm²"
    lines = [
        f"tumor-fraction folder {folder}: {rows} rows x {cols} cols, {summary.get('method')}",
        f"  estimated {summary['n_estimated']} pixels; {summary.get('n_masked', 0)} masked, "
        f"{summary.get('n_invalid', 0)} invalid",
        f"  tumor area (sum of fractions): {area}",
    ]
    if summary.get("mean_uncertainty") is not None:
        lines.append(f"  mean uncertainty (standard deviation): {summary['mean_uncertainty']:.3f}")
    if summary.get("n_outliers") is not None:
        lines.append(f"  outside the training domain: {summary['n_outliers']} pixels")
    return [*lines, *_settings_and_files(folder, summary)]


def _settings_and_files(folder: Path, summary: dict) -> list[str]:
    lines = []
    for key, value in (summary.get("settings") or {}).items():
        if key != "command":
            lines.append(f"  {key}: {json.dumps(value) if isinstance(value, dict) else value}")
    for kind, name in summary["files"].items():
        file = folder / name
        if not file.exists():
            lines.append(f"  {kind}: {name} (missing)")
            continue
        try:
            first = describe(file)[0]
        except HsiTumorError as exc:
            first = f"unreadable: {exc}"
        lines.append(f"  {kind}: {first}")
    return lines


def _metrics(path: Path, data: dict) -> list[str]:
    steps = " → ".join([*data.get("preprocessing", []), str(data.get("classifier", "?"))])
    pooled = ", ".join(
        f"{k} {v:.3f}" for k, v in data.get("pooled", {}).items() if isinstance(v, float)
    )
    patients = [str(row.get("patient", "?")) for row in data.get("per_patient", [])]
    return [
        f"evaluation {path}: {steps}, {data['scheme']}"
        + (" (OPTIMISTIC: pixels of a patient on both sides)" if data.get("optimistic") else ""),
        f"  patients: {len(set(patients))} ({', '.join(dict.fromkeys(patients))})",
        f"  pooled: {pooled}",
    ]


def _markdown(path: Path) -> list[str]:
    metrics = path.with_name("metrics.json")
    if path.name == "report.md" and metrics.is_file():
        return _metrics(metrics, _read_json(metrics))
    raise CubeFormatError(
        "a Markdown file that is not an evaluation report.md (beside its metrics.json)",
        file=path,
        fix="give a report folder written by 'hsi-tumor evaluate' or write_report",
    )


def _csv(path: Path) -> list[str]:
    from hsi_tumor._shared.wavelengths import resolve_wavelengths
    from hsi_tumor.datasets import read_manifest

    try:
        first = path.read_text(encoding="utf-8-sig").split("\n", 1)[0].lower()
    except (OSError, UnicodeDecodeError) as exc:
        raise CubeFormatError(
            f"not a readable CSV file ({exc})", file=path, fix="give a UTF-8 CSV file"
        ) from None
    if "cube" in first and "labels" in first:
        specimens = read_manifest(path)
        patients = list(dict.fromkeys(str(s.patient) for s in specimens))
        return [
            f"cohort manifest {path.name}: {len(specimens)} specimens of {len(patients)} "
            f"patients ({', '.join(patients)})",
            *(f"  {s!r}" for s in specimens),
        ]
    wl, fwhm = resolve_wavelengths(path)
    return [
        f"band table {path.name}: {wl.size} bands, {wl[0]:.2f}–{wl[-1]:.2f} nm"
        + ("" if fwhm is None else ", with FWHM")
    ]


# -- folders ---------------------------------------------------------------------------------
def _folder(path: Path, **options) -> list[str]:
    from hsi_tumor.io import read_capture
    from hsi_tumor.io._specim import SpecimReader

    if SpecimReader().guess_can_open(path):
        capture = read_capture(path, **options)
        lines = [f"Specim capture '{capture.name}' in {capture.folder} (raw counts)"]
        for role in ("raw", "white", "dark", "white_dark"):
            part = getattr(capture, role)
            if part is not None:
                lines.append(f"{role}: " + "\n".join(_cube_summary(part)))
        return lines
    summary = path / "summary.json"
    if summary.is_file():
        return _json(summary)
    if (path / "report.md").is_file() and (path / "metrics.json").is_file():
        lines = _metrics(path / "metrics.json", _read_json(path / "metrics.json"))
        figures = sorted(p.name for p in path.glob("*.png"))
        return [*lines, f"  files: report.md, metrics.json, {', '.join(figures)}"]
    return _listing(path)


def _kind_of_folder(path: Path, *, look_inside: bool = True) -> str | None:
    from hsi_tumor.io._specim import SpecimReader

    if SpecimReader().guess_can_open(path):
        return "Specim capture folder"
    if (path / "summary.json").is_file():
        summary = _read_json(path / "summary.json")
        return "tumor-fraction folder" if "n_estimated" in summary else "tumor map folder"
    if (path / "report.md").is_file():
        return "evaluation report folder"
    if not look_inside:
        return None
    inner = [_kind_of_folder(p, look_inside=False) for p in sorted(path.iterdir()) if p.is_dir()]
    kinds = {k: inner.count(k) for k in inner if k}
    return ", ".join(f"{n} x {k}" for k, n in kinds.items()) or None


def _listing(path: Path) -> list[str]:
    """A folder of things hsi_tumor wrote (e.g. the demo's output): one line per entry."""
    lines = []
    for entry in sorted(path.iterdir()):
        if entry.is_dir():
            kind = _kind_of_folder(entry)
            if kind:
                lines.append(f"  {entry.name}/: {kind}")
            continue
        if entry.suffix.lower() in (".img", ".raw", ".dat", ".bin") and any(
            entry.with_suffix(s).exists() for s in (".hdr", ".HDR")
        ):
            continue  # the data file of a header listed on its own
        try:
            lines.append(f"  {entry.name}: {describe(entry)[0]}")
        except HsiTumorError:
            continue
    if not lines:
        raise CubeFormatError(
            "a folder holding nothing hsi_tumor reads",
            file=path,
            fix="give a cube or label file, a model, a manifest, or a capture, tumor map or "
            "report folder",
        )
    return [f"folder {path}:", *lines]
