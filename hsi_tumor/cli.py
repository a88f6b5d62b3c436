"""The ``hsi-tumor`` command.

::

    hsi-tumor info PATH                                  # what any file hsi_tumor writes holds
    hsi-tumor calibrate CAPTURE_FOLDER -o reflectance.hdr
    hsi-tumor train cohort.csv -o model.htmodel --class-names 1=normal 2=tumor
    hsi-tumor classify reflectance.hdr --model model.htmodel -o result/ --tissue-mask
    hsi-tumor train-fraction cohort.csv -o fraction.htmodel --method learned
    hsi-tumor fraction reflectance.hdr --model fraction.htmodel -o fraction/ --mask tissue
    hsi-tumor evaluate cohort.csv -o report/ --cv loo
    hsi-tumor demo

Every option is checked before any data is read. A mistake ends with exit code 2 and one line
that names the argument and the fix in the command line's words (``--resample``, not the
library's ``resample=True``; :func:`_error_line`), usage errors included (``--debug`` shows the
traceback); progress bars, notes and warnings go to stderr (``--quiet`` silences them). Outputs
are written atomically and never replace existing files unless ``--overwrite`` is given.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from hsi_tumor._shared.errors import (
    CalibrationWarning,
    CubeFormatError,
    HsiTumorError,
    InvalidOptionError,
    ModelFileError,
    OutputExistsError,
)

__all__ = ["main"]


def _info(args) -> int:
    from hsi_tumor._info import describe

    with _blame("path"):
        lines = describe(args.path, format=args.format, wavelengths=args.wavelengths or None)
    print("\n".join(lines))
    return 0


def _demo(args) -> int:
    from hsi_tumor import _demo

    result = _demo.run_demo(args.out, random_state=args.random_state, progress=not args.quiet)
    evaluation = result["evaluation"]
    print("hsi_tumor demo — SIMULATED data (hsi_tumor.datasets.simulate_cohort, not a measurement)")
    print(f"captures: {len(result['captures'])} Specim-style folders under {args.out}/captures")
    print(f"cohort manifest (calibrated cubes, for train/evaluate): {result['manifest']}")
    print(f"{_demo.CLASSIFIER.upper()} on {' → '.join(_demo.PREPROCESSING)}:")
    print(evaluation.to_text())
    held = ", ".join(f"{k} {100 * v:.1f} %" for k, v in result["held_out_metrics"].items())
    print(f"held-out specimen (new patient): {held}")
    print(f"model: {result['model']}")
    print(f"tumor map: {result['held_out']['labels']}")
    print(f"report: {result['report']}")
    return 0


# -- option parsing ----------------------------------------------------------------------------
def _value(text: str):
    """A --param value: int, float, true/false/none, else the text."""
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None}.get(text.strip().lower(), text)


def _key_values(items: Sequence[str] | None, option: str, example: str) -> dict:
    out: dict = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise InvalidOptionError(
                f"{item!r} is not KEY=VALUE",
                field=option,
                fix=f"write it as KEY=VALUE, e.g. {option} {example}",
            )
        out[key.strip()] = _value(value.strip())
    return out


def _classifier_name(name: str) -> str:
    from hsi_tumor.models import CLASSIFIERS

    if name not in CLASSIFIERS:
        raise InvalidOptionError(
            f"unknown classifier {name!r}",
            field="--classifier",
            fix=f"use one of: {', '.join(sorted(CLASSIFIERS))}",
        )
    return name


def _preprocessing(items: Sequence[str] | None):
    """``--preprocessing snv pca:n_components=10`` → train's ``preprocessing``; None = default."""
    from hsi_tumor.models import PREPROCESSING

    if items is None:
        return None
    if [i.strip().lower() for i in items] == ["none"]:
        return ()
    steps = []
    for item in items:
        name, _, params = item.partition(":")
        name = name.strip()
        if name not in PREPROCESSING:
            raise InvalidOptionError(
                f"unknown preprocessing step {name!r}",
                field="--preprocessing",
                fix=f"use names from: {', '.join(sorted(PREPROCESSING))} (or 'none'); "
                "parameters as NAME:KEY=VALUE,KEY=VALUE",
            )
        if params:
            kv = _key_values(params.split(","), "--preprocessing", "pca:n_components=10")
            steps.append((name, kv))
        else:
            steps.append(name)
    return steps


def _class_names(items: Sequence[str] | None):
    """``--class-names normal tumor`` (ascending ids) or ``--class-names 1=normal 2=tumor``."""
    if not items:
        return None
    pairs = ["=" in item for item in items]
    if not any(pairs):
        colon = [item for item in items if re.fullmatch(r"\s*\d+\s*:.*", item)]
        if colon:
            raise InvalidOptionError(
                f"{colon[0]!r} looks like ID:NAME",
                field="--class-names",
                fix="write ID=NAME pairs (e.g. --class-names 1=normal 2=tumor), or only names in "
                "ascending id order",
            )
        return list(items)
    names = {}
    for item in items:
        key, sep, name = item.partition("=")
        try:
            class_id = int(key)
        except ValueError:
            class_id = None
        if class_id is None or not sep or not name.strip():
            raise InvalidOptionError(
                f"{item!r} is not ID=NAME",
                field="--class-names",
                fix="give every class as ID=NAME (e.g. 1=normal 2=tumor), or only names in "
                "ascending id order",
            )
        names[class_id] = name.strip()
    return names


def _cv(text: str):
    """--cv: loo, random or a number of folds (an argparse type: bad values are usage errors)."""
    named = {"loo": "leave-one-patient-out", "leave-one-patient-out": "leave-one-patient-out"}
    if text.strip().lower() in named:
        return named[text.strip().lower()]
    if text.strip().lower() == "random":
        return "random"
    try:
        k = int(text)
    except ValueError:
        k = 0
    if k < 2:
        raise argparse.ArgumentTypeError(f"{text!r}: use loo, random or a number of folds ≥ 2")
    return k


def _refuse_existing(*paths: Path, overwrite: bool) -> None:
    """Fail before the work, not after it: an output that exists (a non-empty folder)."""
    if overwrite:
        return
    for path in paths:
        if path.is_dir() and not any(path.iterdir()):
            continue
        if path.exists():
            raise OutputExistsError(
                "the output exists already",
                file=path,
                fix="choose another name, or pass --overwrite to replace it",
            )


# -- subcommands -------------------------------------------------------------------------------
def _calibrate(args) -> int:
    from hsi_tumor.calibration import calibrate_capture
    from hsi_tumor.io import read_capture, write_cube

    out = Path(args.out)
    if args.format is not None and not out.suffix:
        out = out.with_name(out.name + {"envi": ".hdr", "hdf5": ".h5"}[args.format])
    envi = args.format == "envi" or (args.format is None and out.suffix.lower() != ".h5")
    partners = [out.with_suffix(".img" if out.suffix.lower() == ".hdr" else ".hdr")] if envi else []
    _refuse_existing(out, *partners, overwrite=args.overwrite)
    options = {"wavelengths": args.wavelengths} if args.wavelengths else {}
    calibration = {}
    if args.saturation is not None:
        calibration["saturation"] = args.saturation
    if args.white_reflectance is not None:
        calibration["white_reflectance"] = args.white_reflectance
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CalibrationWarning)
        with _blame("capture"):
            capture = read_capture(args.capture, **options)
            cube = calibrate_capture(capture, **calibration)
        with _blame("out"):
            write_cube(cube, out, format=args.format, overwrite=args.overwrite)
    notes = [w for w in caught if issubclass(w.category, CalibrationWarning)]
    for w in caught:
        if w not in notes:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    rows, cols, bands = cube.shape
    wl = cube.wavelengths
    print(
        f"calibrated {capture.folder} → {out}: {rows} x {cols} x {bands} float32 reflectance, "
        f"{wl[0]:g}–{wl[-1]:g} nm" + ("; flagged pixel-bands are NaN" if notes else "")
    )
    if not args.quiet:  # notes, like warnings, go to stderr
        for w in notes:
            print(f"hsi-tumor: note: {w.message}", file=sys.stderr)
    return 0


def _print_training(model) -> None:
    training = model.training
    pixels = training.get("pixels", {})
    per_class = ", ".join(f"{name} {sum(per.values())}" for name, per in pixels.items())
    names = ", ".join(f"{k}={v}" for k, v in model.class_names.items())
    steps = " → ".join([*model.preprocessing, model.classifier])
    print(f"trained {steps}")
    print(f"  classes: {names}")
    print(f"  training pixels: {training.get('n_pixels', '?')} ({per_class})")
    if model.patients:
        print(f"  patients: {len(model.patients)} ({', '.join(model.patients)})")
    tuning = training.get("tuning")
    if tuning:
        best = ", ".join(f"{k}={v}" for k, v in tuning["best_params"].items())
        print(
            f"  best parameters: {best}; cross-validated {tuning['scoring'].replace('_', ' ')} "
            f"{tuning['best_score']:.3f} ({tuning['cv']})"
        )
    else:
        print("  no hyperparameters tuned (fixed by --param or none to tune)")
    if model.tumor_class is None:
        print(
            "  note: no class is named 'tumor', so no tumor probability map will be written; "
            "name the classes with --class-names (e.g. --class-names 1=normal 2=tumor)"
        )


def _model_options(args) -> dict:
    """The options ``train`` and ``evaluate`` share, checked before any data is read (the
    pipeline is built once unfitted, so a bad step or parameter value fails at once)."""
    from hsi_tumor.models._train import build_pipeline

    options = {
        "classifier": _classifier_name(args.classifier),
        "classifier_params": _key_values(args.param, "--param", "C=10") or None,
        "preprocessing": _preprocessing(args.preprocessing),
        "class_names": _class_names(args.class_names),
        "max_pixels_per_class": args.max_pixels_per_class,
        "random_state": args.random_state,
        "n_jobs": args.jobs,
    }
    build_pipeline(
        options["classifier"],
        options["classifier_params"],
        options["preprocessing"],
        random_state=args.random_state or 0,
        n_jobs=args.jobs,
    )
    return options


def _train(args) -> int:
    from hsi_tumor.datasets import read_manifest
    from hsi_tumor.models import save_model, train

    out = Path(args.out)
    _refuse_existing(out, overwrite=args.overwrite)
    options = _model_options(args)
    with _blame("manifest"):
        specimens = read_manifest(args.manifest, class_names=options["class_names"])
        model = train(specimens, **options, progress=not args.quiet)
    save_model(model, out, overwrite=args.overwrite)
    _print_training(model)
    print(f"wrote {out}")
    return 0


def _classify(args) -> int:
    from hsi_tumor.calibration import as_cube, tissue_mask
    from hsi_tumor.inference import check_smoothing
    from hsi_tumor.inference._device import _parse_device
    from hsi_tumor.models import as_model

    out = Path(args.out)
    _refuse_existing(out, overwrite=args.overwrite)
    spatial_filter = None
    if args.spatial_filter:
        options = (
            {"n_neighbors": args.neighbors, "spatial_weight": args.spatial_weight}
            if args.spatial_filter == "knn"
            else {}
        )
        spatial_filter = check_smoothing({"method": args.spatial_filter, **options})
    if args.device != "cpu":
        _parse_device(args.device)
    with _blame("model"):
        model = as_model(args.model)
    with _blame("cube"):
        cube = as_cube(args.cube, wavelengths=args.wavelengths or None)
    mask = "tissue" if args.tissue_mask or args.mask == "tissue" else None
    if args.mask and args.mask != "tissue":
        mask = _mask_file(args.mask, cube, "classify")
        if args.tissue_mask:
            mask &= tissue_mask(cube)
    with _blame("cube"):  # what no flag explains is about the cube (bands, values, pixels)
        result = _classify_and_write(args, cube, model, mask, spatial_filter)
    counts = ", ".join(f"{name} {n}" for name, n in result.counts().items())
    print(
        f"classified {int(result.valid.sum())} of {result.labels.size} pixels: {counts}; "
        f"{result.n_masked} masked, {result.n_invalid} invalid"
    )
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    for kind, name in {**summary["files"], "summary": "summary.json"}.items():
        print(f"  {kind}: {out / name}")
    return 0


def _mask_file(path: str, cube, verb: str):
    """The pixels a ``--mask FILE`` names: a label map's nonzero pixels, or inside the regions
    of annotations drawn in QuPath, ImageJ or napari."""
    from hsi_tumor.io import read_annotations, read_labels
    from hsi_tumor.io._annotations import is_annotation_file

    with _blame("mask"):
        if is_annotation_file(path):
            mask = read_annotations(path, shape=cube.shape[:2]) != 0
        else:
            mask = read_labels(path) != 0
    if mask.shape != cube.shape[:2]:
        raise CubeFormatError(
            f"the mask has {mask.shape} pixels, the cube {cube.shape[:2]}",
            file=path,
            field="--mask",
            fix=f"give a mask of the cube's rows and columns (nonzero = {verb})",
        )
    return mask


def _classify_and_write(args, cube, model, mask, spatial_filter):
    """``classify_to_folder`` with the command's options, recording its command line."""
    from hsi_tumor.inference import classify_to_folder

    return classify_to_folder(
        cube,
        model,
        args.out,
        mask=mask,
        spatial_filter=spatial_filter,
        resample=args.resample,
        format=args.format,
        overwrite=args.overwrite,
        n_jobs=args.jobs,
        device=args.device,
        progress=not args.quiet,
        settings={
            "model_file": args.model,
            "mask_file": None if args.mask in (None, "tissue") else args.mask,
            "tissue_mask": bool(args.tissue_mask or args.mask == "tissue"),
            "command": ["hsi-tumor", *args.argv],
        },
    )


def _train_fraction(args) -> int:
    from hsi_tumor.datasets import read_manifest
    from hsi_tumor.fraction import train_fraction
    from hsi_tumor.models import save_model

    out = Path(args.out)
    _refuse_existing(out, overwrite=args.overwrite)
    class_names = _class_names(args.class_names)
    with _blame("manifest"), _tumor_class_named():
        specimens = read_manifest(args.manifest, class_names=class_names)
        model = train_fraction(
            specimens,
            class_names=class_names,
            method=args.method,
            fractions=None if args.pure_only else "auto",
            max_pixels=args.max_pixels,
            random_state=args.random_state,
            progress=not args.quiet,
        )
    save_model(model, out, overwrite=args.overwrite)
    training = model.training
    names = ", ".join(f"{k}={v}" for k, v in model.class_names.items())
    print(f"trained a tumor-fraction estimator: {model.method}")
    print(f"  fraction of: {model.class_names[model.tumor_class]} (classes {names})")
    print(f"  trained on: {training.get('targets', '?')}")
    if "n_pixels" in training:
        print(f"  training pixels: {training['n_pixels']}")
    if "pixels" in training:
        print("  annotated pixels: " + ", ".join(f"{k} {v}" for k, v in training["pixels"].items()))
    if model.patients:
        print(f"  patients: {len(model.patients)} ({', '.join(model.patients)})")
    print(f"  random_state: {training.get('random_state')}")
    print(f"wrote {out}")
    return 0


@contextlib.contextmanager
def _tumor_class_named():
    """train_fraction's "no tumor class" in the command line's words."""
    from hsi_tumor._shared.errors import TrainingDataError

    try:
        yield
    except TrainingDataError as exc:
        if exc.field != "class_names":
            raise
        raise InvalidOptionError(
            exc.problem,
            field="--class-names",
            fix="name the classes so that one is 'tumor', e.g. --class-names 1=normal 2=tumor",
        ) from None


def _fraction(args) -> int:
    from hsi_tumor.calibration import as_cube
    from hsi_tumor.fraction import FractionModel, fraction_to_folder
    from hsi_tumor.models import load_model

    out = Path(args.out)
    _refuse_existing(out, overwrite=args.overwrite)
    with _blame("model"):
        model = load_model(args.model)
    if not isinstance(model, FractionModel):
        raise ModelFileError(
            "a classifier model file (hsi-tumor train), not a tumor-fraction model",
            file=args.model,
            field="--model",
            fix="give a model from hsi-tumor train-fraction, or classify with this one "
            "(hsi-tumor classify)",
        )
    with _blame("cube"):
        cube = as_cube(args.cube, wavelengths=args.wavelengths or None)
    mask = {"tissue": "tissue", "none": None}.get(args.mask.strip().lower(), args.mask)
    if mask not in (None, "tissue"):
        mask = _mask_file(args.mask, cube, "estimate")
    with _blame("cube"):
        result = fraction_to_folder(
            cube,
            model,
            out,
            mask=mask,
            resample=args.resample,
            pixel_size=args.pixel_size,
            format=args.format,
            overwrite=args.overwrite,
            n_jobs=args.jobs,
            progress=not args.quiet,
            settings={
                "model_file": args.model,
                "mask_file": None if mask is None or isinstance(mask, str) else args.mask,
                "command": ["hsi-tumor", *args.argv],
            },
        )
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    area = f"{summary['tumor_area_pixels']:.1f} px"
    if summary["tumor_area_mm2"] is not None:
        area += f" = {summary['tumor_area_mm2']:.2f} mm²"
    outliers = (
        "" if result.outlier is None else f", {summary['n_outliers']} outside the training domain"
    )
    print(
        f"estimated the tumor fraction ({model.method}) of {summary['n_estimated']} of "
        f"{summary['n_pixels']} pixels: tumor area {area}, mean uncertainty "
        f"{summary['mean_uncertainty']:.3f}; {result.n_masked} masked, {result.n_invalid} "
        f"invalid{outliers}"
    )
    for kind, name in {**summary["files"], "summary": "summary.json"}.items():
        print(f"  {kind}: {out / name}")
    return 0


def _evaluate(args) -> int:
    from hsi_tumor.datasets import read_manifest
    from hsi_tumor.evaluation import evaluate, write_report

    out = Path(args.out)
    _refuse_existing(out, overwrite=args.overwrite)
    options = _model_options(args)
    fraction = None
    if args.fraction is not None:
        fraction = {"method": args.fraction}
        if args.fraction_max_pixels is not None:
            fraction["max_pixels"] = args.fraction_max_pixels
    elif args.fraction_max_pixels is not None:
        raise InvalidOptionError(
            "--fraction-max-pixels without --fraction",
            field="fraction_max_pixels",
            fix="add --fraction learned (or unmixing), or leave --fraction-max-pixels out",
        )
    with _blame("manifest"):
        specimens = read_manifest(args.manifest, class_names=options["class_names"])
        evaluation = evaluate(
            specimens,
            cv=args.cv,
            n_bootstrap=args.bootstrap,
            client=args.scheduler,
            progress=not args.quiet,
            fraction=fraction,
            **options,
        )
    empty = out.is_dir() and not any(out.iterdir())  # a folder made for the report
    report = write_report(evaluation, out, overwrite=args.overwrite or empty)
    print(evaluation.to_text())
    print(f"\nreport: {report}")
    return 0


# -- messages: one line, naming the flag ---------------------------------------------------------
#: Library argument names spelt differently from the flag's dest here (the others are alike:
#: resample, format, mask, wavelengths, device, classifier, preprocessing, class_names, ...).
_DESTS = {
    "n_neighbors": "neighbors",
    "classifier_params": "param",
    "n_jobs": "jobs",
    "n_bootstrap": "bootstrap",
    "client": "scheduler",
    "out_dir": "out",
    "seed": "random_state",
    # what train and evaluate read from the manifest
    "cubes": "manifest",
    "label_maps": "manifest",
    "groups": "manifest",
    "data": "manifest",
    "masks": "manifest",
    "fractions": "manifest",
}
#: Library calls a message may name, and the command that does the same.
_COMMANDS = {
    "hsi_tumor.calibrate_capture": "hsi-tumor calibrate",
    "hsi_tumor.save_model": "hsi-tumor train",
    "hsi_tumor.train": "hsi-tumor train",
    "hsi_tumor.train_fraction": "hsi-tumor train-fraction",
    "hsi_tumor.estimate_fraction": "hsi-tumor fraction",
    "hsi_tumor.classify_cube": "hsi-tumor classify",
}
_ASSIGNMENT = re.compile(r"(?<![\w.\-])([A-Za-z_]\w*)=([^\s,;)]*)")
_CALL = re.compile(r"[\w.]+\([^()]*\)")


@contextlib.contextmanager
def _blame(dest: str):
    """Errors raised in the block that name no flag themselves are about argument ``dest``."""
    try:
        yield
    except HsiTumorError as exc:
        if getattr(exc, "cli_dest", None) is None:
            exc.cli_dest = dest
        raise


def _flags(parser: argparse.ArgumentParser) -> dict[str, tuple[str, bool]]:
    """dest → (the flag as the user writes it, whether it is a switch without a value)."""
    flags = {}
    for action in parser._actions:
        if action.dest in ("help", argparse.SUPPRESS):
            continue
        if action.option_strings:
            long = [o for o in action.option_strings if o.startswith("--")]
            flags[action.dest] = ((long or action.option_strings)[0], action.nargs == 0)
        else:
            flags[action.dest] = (str(action.metavar or action.dest.upper()), False)
    return flags


def _in_flags(text: str, flags: dict[str, tuple[str, bool]]) -> str:
    """``text`` with the library's ``name=value`` spellings written as this command's flags
    (``resample=True`` → ``--resample``, ``n_neighbors=40`` → ``--neighbors 40``, ``format=``
    → ``--format``, ``client=None`` → ``no --scheduler``), except inside a call such as
    ``load_model(path, trusted=...)``."""
    calls = [m.span() for m in _CALL.finditer(text)]

    def flag(match: re.Match) -> str:
        name, value = match.groups()
        dest = _DESTS.get(name, name)
        if dest not in flags or any(a <= match.start() < b for a, b in calls):
            return match.group(0)
        written, switch = flags[dest]
        if not written.startswith("-"):
            return match.group(0)  # a positional argument has no flag to write
        if value in ("None", "False") or (switch and value not in ("True", "")):
            return f"no {written}"  # leaving a flag out is how None is written here
        return written if switch else f"{written} {value}".rstrip()

    text = _ASSIGNMENT.sub(flag, text)
    for call, command in _COMMANDS.items():
        text = re.sub(rf"{re.escape(call)}\b(\(\))?", command, text)
    return text


def _same_path(file: str, value) -> bool:
    """Whether an error's ``file`` is the argument ``value`` (a file, its ENVI partner, or a
    file inside it when it is a folder)."""
    if not isinstance(value, str) or not value:
        return False
    try:
        a, b = Path(file).resolve(), Path(value).resolve()
    except (OSError, RuntimeError):
        return False
    return a == b or b in a.parents or (a.parent == b.parent and a.stem == b.stem)


def _argument(exc: BaseException, file, args, parser) -> tuple[str | None, bool]:
    """The argument an error is about, as the user writes it, and whether it is the error's
    ``field``: a flag the user gave named by the field, else the argument naming the error's
    file, else the argument of the step that failed (:func:`_blame`), else the field's flag."""
    flags = _flags(parser)
    field = getattr(exc, "field", None)
    if field and field.startswith("-"):
        return field, True
    dest = _DESTS.get(field, field) if field else None
    given = {d for d, v in vars(args).items() if d in flags and v != parser.get_default(d)}
    if dest in given:
        return flags[dest][0], True
    if file is not None:
        for name, value in vars(args).items():
            if name in flags and _same_path(file, value):
                return flags[name][0], False
    if getattr(exc, "cli_dest", None) in flags:
        return flags[exc.cli_dest][0], False
    if dest in flags:
        return flags[dest][0], True
    return None, False


def _error_line(exc: BaseException, args, parser: argparse.ArgumentParser) -> str:
    """The one line of an error: the argument it is about, the file, the problem, the fix,
    in the words of the command line."""
    flags = _flags(parser)
    if isinstance(exc, HsiTumorError):
        file, field, problem, fix = exc.file, exc.field, exc.problem, exc.fix
    else:  # OSError: permissions, a full disk, a file where a folder is needed, a network
        file, field = getattr(exc, "filename", None), None
        problem = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        fix = "check the path, its permissions and the free space" if file else None
    argument, is_field = _argument(exc, file, args, parser)
    parts = [f"argument {argument}:"] if argument else []
    if file is not None:
        parts.append(f"{file}:")
    if field and not is_field:
        parts.append(f"field '{field}':")
    parts.append(_in_flags(problem, flags).rstrip(".") + ".")
    if fix:
        parts.append(f"Fix: {_in_flags(fix, flags).rstrip('.')}.")
    return " ".join(" ".join(parts).split())  # one line, whatever the message holds


# -- parser and entry point ----------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors on one line (the usage is in ``--help``)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}. Fix: see '{self.prog} --help'.\n")


def _at_least(minimum, convert=int, *, inclusive: bool = True):
    """An argparse type: a number (int by default) ≥ ``minimum`` (> without ``inclusive``)."""
    kind = "a whole number" if convert is int else "a number"
    bound = f"{'≥' if inclusive else '>'} {minimum:g}"

    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if (
            value is None
            or not np.isfinite(value)
            or (value < minimum if inclusive else value <= minimum)
        ):
            raise argparse.ArgumentTypeError(f"{text!r} is not {kind} {bound}")
        return value

    return parse


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--classifier",
        default="svm",
        help="classifier name (default: svm): svm, linear-svm, lda, logistic, knn, "
        "random-forest, pls-da, hist-gradient-boosting",
    )
    parser.add_argument(
        "--preprocessing",
        nargs="+",
        metavar="STEP",
        help="preprocessing steps in order, e.g. snv pca:n_components=10 (default: snv pca; "
        "'none' for none)",
    )
    parser.add_argument(
        "--param",
        action="append",
        metavar="KEY=VALUE",
        help="classifier parameter (repeatable), e.g. --param C=10; fixed parameters are not tuned",
    )
    parser.add_argument(
        "--class-names",
        nargs="+",
        metavar="NAME",
        help="class names: ID=NAME pairs (1=normal 2=tumor) or names in ascending id order; "
        "name the tumor class 'tumor'",
    )
    parser.add_argument(
        "--max-pixels-per-class",
        type=_at_least(2),
        metavar="N",
        help="bound on training pixels per class (default: the classifier's)",
    )
    parser.add_argument(
        "--jobs", type=_at_least(1), metavar="N", help="parallel jobs (default: all)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="hsi-tumor",
        description="Calibrate, train, classify and evaluate NIR hyperspectral tumor images.",
        epilog="Run 'hsi-tumor COMMAND --help' for a command's options.",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress or notes on stderr")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_info(sub)
    _add_calibrate(sub)
    _add_train(sub)
    _add_classify(sub)
    _add_train_fraction(sub)
    _add_fraction(sub)
    _add_evaluate(sub)
    _add_demo(sub)
    for command in sub.choices.values():  # the flags of errors are the command's own
        command.set_defaults(command_parser=command)
    return parser


def _add_info(sub) -> None:
    """Declare the info command: what a cube or capture folder holds."""
    info = sub.add_parser(
        "info", help="say what a file or folder holds (anything hsi_tumor reads or writes)"
    )
    info.add_argument(
        "path",
        metavar="PATH",
        help="a cube (ENVI .hdr or data file, .h5, .mat, .npy/.npz), a label map, a Specim "
        "capture folder, a model file, a tumor-map or report folder or any file in one, a "
        "cohort manifest or band table (.csv), or a folder of these",
    )
    info.add_argument(
        "--format", help="read PATH as a cube with this reader: envi, specim, hdf5, matlab, numpy"
    )
    info.add_argument(
        "--wavelengths", help="CSV band table (nm) supplying or overriding wavelengths"
    )
    info.set_defaults(func=_info)


def _add_calibrate(sub) -> None:
    """Declare the calibrate command: a capture folder to a reflectance cube."""
    calibrate = sub.add_parser(
        "calibrate", help="turn a Specim capture folder into a reflectance cube"
    )
    calibrate.add_argument("capture", metavar="CAPTURE_FOLDER", help="Specim capture folder")
    calibrate.add_argument(
        "-o", "--out", required=True, help="output cube: NAME.hdr (ENVI) or NAME.h5 (HDF5)"
    )
    calibrate.add_argument(
        "--format",
        choices=("envi", "hdf5"),
        help="output format (default: from the extension; added when OUT has none)",
    )
    calibrate.add_argument(
        "--saturation",
        type=_at_least(0.0, float, inclusive=False),
        metavar="N",
        help="sensor's maximum count (e.g. 4095 for 12 bits; default: from the raw header's "
        "'bit depth', else the dtype's maximum)",
    )
    calibrate.add_argument(
        "--white-reflectance",
        type=_at_least(0.0, float, inclusive=False),
        metavar="R",
        help="reflectance of the white panel (default: 1.0)",
    )
    calibrate.add_argument(
        "--wavelengths", metavar="CSV", help="CSV band table (nm) overriding the headers'"
    )
    calibrate.add_argument("--overwrite", action="store_true", help="replace existing output")
    calibrate.set_defaults(func=_calibrate)


def _add_train(sub) -> None:
    """Declare the train command: a model from a manifest's specimens."""
    train = sub.add_parser("train", help="train a classifier on the specimens of a manifest")
    train.add_argument(
        "manifest", help="CSV with columns cube, labels and optionally patient, name"
    )
    train.add_argument("-o", "--out", required=True, metavar="MODEL", help="model file to write")
    _add_model_options(train)
    train.add_argument(
        "--random-state",
        "--seed",
        dest="random_state",
        type=_at_least(0),
        metavar="N",
        help="random seed, train's random_state (default: drawn and recorded; --seed is the "
        "old name)",
    )
    train.add_argument("--overwrite", action="store_true", help="replace an existing model")
    train.set_defaults(func=_train)


def _add_classify(sub) -> None:
    """Declare the classify command: a cube to a tumor-map folder."""
    classify = sub.add_parser("classify", help="classify a cube into tumor maps")
    classify.add_argument(
        "cube",
        help="calibrated cube (any format read_cube reads) or a Specim capture folder "
        "(calibrated to reflectance first)",
    )
    classify.add_argument("--model", required=True, help="model file from 'hsi-tumor train'")
    classify.add_argument(
        "-o", "--out", required=True, metavar="OUTDIR", help="output folder (created)"
    )
    classify.add_argument(
        "--format",
        choices=("envi", "hdf5"),
        default="envi",
        help="format of the label and probability files (default: envi)",
    )
    classify.add_argument(
        "--mask",
        metavar="FILE|tissue",
        help="pixels to classify: a label/mask file (nonzero pixels) or annotations "
        "(.geojson, .roi, .zip, napari .csv: inside the regions), or 'tissue' for the "
        "cube's tissue mask (tissue_mask)",
    )
    classify.add_argument(
        "--tissue-mask",
        action="store_true",
        help="classify only the tissue: --mask tissue, or with --mask FILE the tissue within it",
    )
    classify.add_argument(
        "--resample",
        action="store_true",
        help="interpolate the cube onto the model's wavelengths when they differ",
    )
    classify.add_argument(
        "--spatial-filter",
        nargs="?",
        const="knn",
        choices=("knn", "majority"),
        help="smooth the map (smooth_tumor_map): knn (the default when given alone; the "
        "HELICoiD KNN filter of the probabilities, guided by the cube's first principal "
        "component) or majority (3 x 3 majority vote of the labels)",
    )
    classify.add_argument(
        "--neighbors",
        type=_at_least(1),
        default=40,
        metavar="K",
        help="KNN filter's K (default: 40)",
    )
    classify.add_argument(
        "--spatial-weight",
        type=_at_least(0.0, float),
        default=1.0,
        metavar="LAMBDA",
        help="KNN filter's weight of position against the guide (default: 1.0)",
    )
    classify.add_argument(
        "--wavelengths", metavar="CSV", help="CSV band table (nm) overriding the cube's"
    )
    classify.add_argument(
        "--jobs", type=_at_least(1), metavar="N", help="threads (default: all cores)"
    )
    classify.add_argument(
        "--device",
        default="cpu",
        metavar="DEVICE",
        help="'cpu' (default), or 'cuda' / 'cuda:N' for a GPU (needs hsi_tumor[gpu])",
    )
    classify.add_argument(
        "--overwrite", action="store_true", help="replace an existing output folder"
    )
    classify.set_defaults(func=_classify)


def _add_train_fraction(sub) -> None:
    """Declare the train-fraction command: a tumor-fraction estimator from a manifest."""
    train = sub.add_parser(
        "train-fraction",
        help="train a per-pixel tumor-fraction estimator on the specimens of a manifest",
    )
    train.add_argument(
        "manifest",
        help="CSV with columns cube, labels and optionally patient, name, tumor_fraction "
        "(partial-volume truth), tissue",
    )
    train.add_argument("-o", "--out", required=True, metavar="MODEL", help="model file to write")
    train.add_argument(
        "--method",
        choices=("learned", "unmixing"),
        default="learned",
        help="learned: gradient-boosted quantile regressors on specimen-referenced SNV spectra "
        "(default); unmixing: fully constrained linear unmixing with endmembers of each class",
    )
    train.add_argument(
        "--class-names",
        nargs="+",
        metavar="NAME",
        help="class names: ID=NAME pairs (1=normal 2=tumor) or names in ascending id order; "
        "the fraction is that of the class named 'tumor'",
    )
    train.add_argument(
        "--pure-only",
        action="store_true",
        help="learned: train on the annotated pure pixels and synthetic mixtures of them even "
        "when the manifest has a tumor_fraction column",
    )
    train.add_argument(
        "--max-pixels",
        type=_at_least(10),
        default=60_000,
        metavar="N",
        help="training pixels (or synthetic mixtures) in all (default: 60000)",
    )
    train.add_argument(
        "--random-state",
        "--seed",
        dest="random_state",
        type=_at_least(0),
        metavar="N",
        help="random seed (default: drawn and recorded)",
    )
    train.add_argument("--overwrite", action="store_true", help="replace an existing model")
    train.set_defaults(func=_train_fraction)


def _add_fraction(sub) -> None:
    """Declare the fraction command: a cube to a tumor-fraction folder."""
    fraction = sub.add_parser(
        "fraction", help="estimate the tumor fraction of each pixel of a cube, with uncertainty"
    )
    fraction.add_argument(
        "cube",
        help="calibrated cube (any format read_cube reads) or a Specim capture folder "
        "(calibrated to reflectance first)",
    )
    fraction.add_argument(
        "--model", required=True, help="tumor-fraction model file from 'hsi-tumor train-fraction'"
    )
    fraction.add_argument(
        "-o", "--out", required=True, metavar="OUTDIR", help="output folder (created)"
    )
    fraction.add_argument(
        "--mask",
        default="tissue",
        metavar="tissue|none|FILE",
        help="the specimen's pixels: 'tissue' (default: the cube's tissue mask, tissue_mask), "
        "'none' (every pixel), or a label/mask file (nonzero pixels) or annotations "
        "(.geojson, .roi, .zip, napari .csv: inside the regions)",
    )
    fraction.add_argument(
        "--resample",
        action="store_true",
        help="interpolate the cube onto the model's wavelengths when they differ",
    )
    fraction.add_argument(
        "--pixel-size",
        type=_at_least(0.0, float, inclusive=False),
        metavar="MM",
        help="side of a pixel in mm: the summary gives the tumor area in mm² too",
    )
    fraction.add_argument(
        "--format",
        choices=("envi", "hdf5"),
        default="envi",
        help="format of the map files (default: envi)",
    )
    fraction.add_argument(
        "--wavelengths", metavar="CSV", help="CSV band table (nm) overriding the cube's"
    )
    fraction.add_argument(
        "--jobs", type=_at_least(1), metavar="N", help="threads (default: all cores)"
    )
    fraction.add_argument(
        "--overwrite", action="store_true", help="replace an existing output folder"
    )
    fraction.set_defaults(func=_fraction)


def _add_evaluate(sub) -> None:
    """Declare the evaluate command: patient-wise cross-validation into a report."""
    evaluate = sub.add_parser(
        "evaluate", help="cross-validate by patient and write a report folder"
    )
    evaluate.add_argument("manifest", help="CSV with columns cube, labels, patient, ...")
    evaluate.add_argument(
        "-o", "--out", required=True, metavar="OUTDIR", help="report folder (created)"
    )
    _add_model_options(evaluate)
    evaluate.add_argument(
        "--cv",
        type=_cv,
        default="leave-one-patient-out",
        metavar="loo|K|random",
        help="loo: leave one patient out (default); K: K folds of patients; random: pixel "
        "folds ignoring patients (optimistic)",
    )
    evaluate.add_argument(
        "--bootstrap",
        type=_at_least(0),
        default=2000,
        metavar="N",
        help="bootstrap resamples of patients for confidence intervals (default: 2000)",
    )
    evaluate.add_argument(
        "--random-state",
        "--seed",
        dest="random_state",
        type=_at_least(0),
        default=0,
        metavar="N",
        help="random seed, evaluate's random_state (default: 0; --seed is the old name)",
    )
    evaluate.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run the folds on this Dask scheduler (e.g. tcp://10.0.0.5:8786; needs "
        "hsi_tumor[distributed]); default: here",
    )
    evaluate.add_argument(
        "--fraction",
        choices=("learned", "unmixing"),
        help="also train this tumor-fraction estimator in each fold (as train-fraction does) "
        "and estimate each test specimen; where the manifest has a tumor_fraction column the "
        "report gains fuzzy Dice, area error, error on partial pixels, interval coverage and a "
        "calibration figure of the estimate",
    )
    evaluate.add_argument(
        "--fraction-max-pixels",
        type=_at_least(10),
        metavar="N",
        help="with --fraction: training pixels (or synthetic mixtures) per fold (default: "
        "train-fraction's 60000)",
    )
    evaluate.add_argument(
        "--overwrite", action="store_true", help="replace an existing report folder"
    )
    evaluate.set_defaults(func=_evaluate)


def _add_demo(sub) -> None:
    """Declare the demo command: the main job on simulated data."""
    demo = sub.add_parser(
        "demo",
        help="the main job on simulated data: calibrate, evaluate by patient, train, classify "
        "a held-out specimen, write the maps and a report under --out",
    )
    demo.add_argument("--out", default="out", help="output folder (default: out)")
    demo.add_argument(
        "--random-state", "--seed", dest="random_state", type=_at_least(0), default=0, metavar="N"
    )
    demo.set_defaults(func=_demo)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    # tqdm.write: above an open progress bar, not through it
    tqdm.write(f"hsi-tumor: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hsi-tumor`` command; returns the exit code."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.argv = argv
    # main() may run several times in one process (tests, notebooks): the logging set here is
    # undone on return, so that it neither leaks into the caller nor sticks to the next call
    root, package = logging.getLogger(), logging.getLogger("hsi_tumor")
    before = (list(root.handlers), root.level, package.level)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    package.setLevel(logging.ERROR if args.quiet else logging.NOTSET)
    try:
        return _run(args)
    finally:
        for handler in set(root.handlers) - set(before[0]):
            root.removeHandler(handler)
        root.setLevel(before[1])
        package.setLevel(before[2])


def _run(args: argparse.Namespace) -> int:
    """Run the chosen command; a user's mistake becomes one line on stderr and exit code 2."""
    try:
        with warnings.catch_warnings(), logging_redirect_tqdm():  # notes above progress bars
            if args.quiet:
                warnings.simplefilter("ignore")
            else:
                warnings.showwarning = _show_warning
            return args.func(args)
    except BrokenPipeError:  # the reader of our output went away (hsi-tumor ... | head)
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (HsiTumorError, OSError) as exc:  # OSError: permissions, a full disk (file named)
        if args.debug:
            raise
        message = _error_line(exc, args, args.command_parser)
        print(f"hsi-tumor {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("hsi-tumor: interrupted (no partial output is left)", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
