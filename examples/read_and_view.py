"""Read a cube in any format, select a region and a wavelength range lazily, save a picture.

Uses the real Indian Pines AVIRIS cube from ../shared/data when it is there (200 bands,
400–2489 nm), otherwise a simulated capture folder (the picture's title then says SIMULATED).
Run: ``python examples/read_and_view.py [OUT]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import hsi_tumor as ht
from hsi_tumor.viz import plot_rgb, save_figure

HERE = Path(__file__).resolve().parent
INDIAN_PINES = HERE.parent.parent / "shared" / "data" / "indian-pines"


def main(out_dir: str = "out/examples") -> Path:
    out = Path(out_dir)
    if (INDIAN_PINES / "Indian_pines_corrected.npy").exists():
        cube = ht.read_cube(
            INDIAN_PINES / "Indian_pines_corrected.npy",
            wavelengths=INDIAN_PINES / "Indian_pines_corrected_bands.csv",
        )
        print("real data: Indian Pines (AVIRIS, 1992)")
    else:
        specimen = ht.simulate_specimen(seed=0, shape=(128, 160), n_bands=100)
        folder = specimen.write_capture(out / "simulated_capture", overwrite=True)
        cube = ht.read_capture(folder).raw
        print("SIMULATED data: a simulated capture folder (not a measurement)")
    print(cube)
    nir = cube.sel(wavelengths=(900, 1700))
    print("NIR part:", nir)
    corner = nir[: nir.n_rows // 2, : nir.n_cols // 2].load()
    print("a quarter, loaded:", corner)
    ax = plot_rgb(cube)  # says SIMULATED when the cube is (its header's description does)
    path = save_figure(ax, out / "pseudo_rgb.png", dpi=100, overwrite=True)
    print("pseudo-RGB:", path)
    return path


if __name__ == "__main__":
    main(*sys.argv[1:])
