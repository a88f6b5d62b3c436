"""napari sample data: a simulated specimen (``File > Open Sample > hsi_tumor``)."""

from __future__ import annotations

from hsi_tumor.datasets import simulate_specimen
from hsi_tumor.napari._layers import LayerData, cube_layers, label_layer

__all__ = ["simulated_specimen"]


def simulated_specimen() -> list[LayerData]:
    """A simulated stomach-wall specimen with a GIST (96 x 120 pixels, 100 bands, 900-1700 nm;
    :func:`hsi_tumor.simulate_specimen` with seed 0): its calibrated reflectance and its
    pathologist-style annotation as a Labels layer (sure ``normal`` and ``tumor`` regions, the
    uncertain margins unlabelled). The data is SIMULATED (docs/simulator.md)."""
    specimen = simulate_specimen(seed=0, shape=(96, 120), n_bands=100)
    name = f"{specimen.patient} (SIMULATED)"
    layers = cube_layers(specimen.cube, name)
    layers.append(
        label_layer(specimen.labels, specimen.class_names, f"{specimen.patient} annotation")
    )
    return layers
