"""The ``hsi-tumor`` command.

``hsi-tumor info CUBE`` summarises a cube file or capture folder; ``hsi-tumor demo`` runs the
demo job. Bad input ends with a one-line message and exit code 2 (``--debug`` shows the
traceback); progress and notes go to stderr through logging (``--quiet`` silences them).
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hsi_tumor._shared.errors import HsiTumorError

__all__ = ["main"]


def _summary(cube) -> str:
    wl = cube.wavelengths
    step = np.diff(wl)
    lines = [
        repr(cube),
        f"  bands: {cube.n_bands}, {wl[0]:.2f}–{wl[-1]:.2f} nm"
        + (f", spacing {step.min():.2f}–{step.max():.2f} nm" if step.size else ""),
    ]
    for key in ("source", "format", "interleave", "dataset", "variable", "description"):
        if cube.metadata.get(key):
            lines.append(f"  {key}: {cube.metadata[key]}")
    if cube.metadata.get("bbl") is not None:
        lines.append(f"  bad bands (bbl = 0): {int(np.sum(~np.asarray(cube.metadata['bbl'])))}")
    return "\n".join(lines)


def _info(args) -> int:
    from hsi_tumor.io import read_capture, read_cube
    from hsi_tumor.io._specim import SpecimReader

    options = {"wavelengths": args.wavelengths} if args.wavelengths else {}
    if SpecimReader().guess_can_open(Path(args.cube)):
        capture = read_capture(args.cube, **options)
        print(f"Specim capture '{capture.name}' in {capture.folder}")
        for role in ("raw", "white", "dark", "white_dark"):
            part = getattr(capture, role)
            if part is not None:
                print(f"{role}: " + _summary(part))
        return 0
    cube = read_cube(args.cube, format=args.format, **options)
    print(_summary(cube))
    return 0


def _demo(args) -> int:
    from hsi_tumor._demo import run_demo

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run_demo(args.out, seed=args.seed)
    capture = result["summary"]
    tissue = result["tissue"]
    print(
        "hsi_tumor demo — SIMULATED data (hsi_tumor.datasets.simulate_specimen, not a measurement)"
    )
    print(f"capture folder: {result['capture']}")
    print(repr(capture))
    print("raw cube: " + _summary(capture.raw))
    print("reflectance: " + repr(result["reflectance"]))
    for w in caught:
        print(f"  calibration: {w.message}")
    print(f"tissue mask: {int(tissue.sum())} of {tissue.size} pixels")
    print(f"pseudo-RGB image: {result['rgb']}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hsi-tumor", description=__doc__.splitlines()[0])
    parser.add_argument("--quiet", action="store_true", help="no progress or notes on stderr")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="summarise a cube file or Specim capture folder")
    info.add_argument("cube", help="ENVI .hdr/data file, capture folder, .h5, .mat, .npy/.npz")
    info.add_argument("--format", help="force a reader: envi, specim, hdf5, matlab, numpy")
    info.add_argument(
        "--wavelengths", help="CSV band table (nm) supplying or overriding wavelengths"
    )
    info.set_defaults(func=_info)
    demo = sub.add_parser("demo", help="run the demo on simulated data, writing under --out")
    demo.add_argument("--out", default="out", help="output folder (default: out)")
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(func=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hsi-tumor`` command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if args.quiet:
        logging.getLogger("hsi_tumor").setLevel(logging.ERROR)
    try:
        return args.func(args)
    except HsiTumorError as exc:
        if args.debug:
            raise
        print(f"hsi-tumor: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
