"""The napari plugin: look at cubes, label them, train, classify and see the maps and spectra.

Installed with ``pip install 'hsi_tumor[napari]'`` (napari with PyQt6); napari finds it through
the ``napari.manifest`` entry point (``napari.yaml`` here, npe2). It contributes:

- a **reader** (:mod:`._reader`) for every cube format :func:`hsi_tumor.read_cube` reads and
  the label maps :func:`hsi_tumor.io.write_labels` writes: a pseudo-RGB plus the cube, lazily,
  with its band axis in nm;
- a **writer** (:mod:`._writer`) saving Labels layers as ENVI classification images or HDF5
  with their class names;
- the **Tumor classifier** dock widget (:class:`ClassifyWidget`): load, train (from a Labels
  layer), save and apply a model, the maps added as layers in the project's colours;
- the **Spectra** dock widget (:class:`SpectrumWidget`): a clicked pixel's spectrum or a drawn
  region's mean ± SD in nm, beside the model's class means;
- **sample data**: a simulated specimen (``File > Open Sample > hsi_tumor``).

The reader, the writer and the layer helpers need neither napari nor Qt to import; the widgets
import Qt (``qtpy``) on first use. The rest of hsi_tumor never imports this package. See
``docs/napari.md``.
"""

from hsi_tumor.napari._layers import cube_layers, label_layer, tumor_map_layers
from hsi_tumor.napari._reader import get_reader
from hsi_tumor.napari._writer import write_labels

__all__ = [
    "ClassifyWidget",
    "SpectrumWidget",
    "cube_layers",
    "get_reader",
    "label_layer",
    "tumor_map_layers",
    "write_labels",
]


def __getattr__(name: str):
    # the widgets import Qt: loaded on first use, so that the reader and the writer work where
    # napari runs without a Qt binding (napari's headless reading, npe2's tools)
    if name == "ClassifyWidget":
        from hsi_tumor.napari._classify_widget import ClassifyWidget

        return ClassifyWidget
    if name == "SpectrumWidget":
        from hsi_tumor.napari._spectrum_widget import SpectrumWidget

        return SpectrumWidget
    raise AttributeError(f"module 'hsi_tumor.napari' has no attribute {name!r}")
