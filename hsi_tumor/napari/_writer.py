"""The napari writer: Labels layers to the label-map files hsi_tumor reads, class names kept.

``File > Save Selected Layer(s)`` on a Labels layer with a ``.hdr`` (ENVI classification image)
or ``.h5`` name calls :func:`write_labels`, which writes with :func:`hsi_tumor.io.write_labels`
atomically (a temporary file renamed into place) and records the layer's class names (its
``metadata['class_names']`` or a ``class`` column of its ``features``), so that
:func:`hsi_tumor.train`, the ``hsi-tumor`` command and the reader get them back. (napari's
own ``.tif``/``.npy`` writers also give files :func:`hsi_tumor.io.read_labels` reads, without
the names.)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hsi_tumor.io import write_labels as _write_labels

__all__ = ["write_labels"]


def write_labels(path: str, data: Any, meta: dict) -> list[str]:
    """Write one Labels layer (napari's single-layer writer contribution).

    Parameters
    ----------
    path : str
        ``NAME.hdr`` (ENVI classification image, data in ``NAME.img``) or ``NAME.h5``.
    data : array of int, shape (rows, cols)
        The layer's data (a 2-D label image; 3-D labels are refused with a clear error).
    meta : dict
        The layer's attributes as napari passes them (``metadata``, ``features``).

    Returns
    -------
    list of str
        The written file (an existing file is replaced: napari's save dialog asked first).
    """
    from hsi_tumor.napari._layers import labels_class_names

    names = labels_class_names(meta.get("metadata") or {}, _features(meta.get("features")))
    labels = np.asarray(data)
    present = {int(c) for c in np.unique(labels) if c != 0}
    if names is not None:
        names = {c: n for c, n in names.items() if c in present} or None
    written = _write_labels(labels, path, class_names=names, overwrite=True)
    return [str(written)]


def _features(features):
    """napari passes ``features`` as a DataFrame (or a dict of columns)."""
    if features is None or hasattr(features, "columns"):
        return features
    import pandas as pd

    return pd.DataFrame(features)
