"""Removal of small connected regions from a label map."""

from __future__ import annotations

import logging

import numpy as np
from scipy import ndimage

from hsi_tumor._shared.classes import check_label_map
from hsi_tumor._shared.errors import InvalidOptionError
from hsi_tumor.spatial._checks import check_int_option

logger = logging.getLogger("hsi_tumor.spatial")

__all__ = ["remove_small_regions"]


def remove_small_regions(labels, *, min_area: int, connectivity: int = 1) -> np.ndarray:
    """Give every connected region smaller than ``min_area`` pixels to its neighbours' class.

    Parameters
    ----------
    labels : array-like of int, shape (rows, cols)
        Class ids; 0 marks unlabelled pixels (background), which are never relabelled.
    min_area : int
        Regions of fewer pixels than this are relabelled; 1 changes nothing.
    connectivity : {1, 2}, default=1
        1: pixels sharing an edge are connected (4-neighbourhood); 2: sharing an edge or a
        corner (8-neighbourhood). The same neighbourhood defines a region's border.

    Returns
    -------
    ndarray, shape (rows, cols), the dtype of ``labels``
        A new map.

    Raises
    ------
    InvalidOptionError
        If ``labels`` is not a 2-D integer map, ``min_area`` is not a positive integer or
        ``connectivity`` is not 1 or 2 (:class:`~hsi_tumor.InvalidTypeError`, a subclass, if
        ``min_area`` is not an integer).

    Notes
    -----
    The regions are the connected components of each class (``scipy.ndimage.label``). A small
    region takes the most common label among its bordering pixels (the pixels outside it that
    touch it, each counted once, background excepted); ties go to the smallest id; a region
    bordered only by background (or by nothing) becomes 0. All small regions are decided at
    once from the input map, so the result does not depend on an order; a small region
    whose neighbours were themselves small may therefore end in a region that is still
    small, and a second call cleans it up. Vectorised: no loop over regions.

    Examples
    --------
    >>> import numpy as np
    >>> from hsi_tumor.spatial import remove_small_regions
    >>> labels = np.array([[1, 1, 1, 2, 2],
    ...                    [1, 3, 1, 2, 2],
    ...                    [1, 1, 1, 2, 2],
    ...                    [0, 0, 0, 0, 3]])
    >>> remove_small_regions(labels, min_area=2)
    array([[1, 1, 1, 2, 2],
           [1, 1, 1, 2, 2],
           [1, 1, 1, 2, 2],
           [0, 0, 0, 0, 2]])
    """
    labels = check_label_map(labels)
    min_area = check_int_option(min_area, "min_area", minimum=1, fix="e.g. min_area=20 pixels")
    if connectivity not in (1, 2) or isinstance(connectivity, bool):
        raise InvalidOptionError(
            f"connectivity must be 1 (edges) or 2 (edges and corners), got {connectivity!r}",
            field="connectivity",
            fix="use connectivity=1 for 4-connected or 2 for 8-connected regions",
        )
    structure = ndimage.generate_binary_structure(2, connectivity)
    cols = labels.shape[1]
    out = labels.copy()
    if min_area == 1 or labels.size == 0:
        return out

    # one id per region over all classes (0: background)
    regions = np.zeros(labels.shape, dtype=np.int64)
    n_regions = 0
    for label in np.unique(labels):
        if label == 0:
            continue
        component, n = ndimage.label(labels == label, structure=structure)
        inside = component > 0
        regions[inside] = component[inside] + n_regions
        n_regions += n
    areas = np.bincount(regions.ravel(), minlength=n_regions + 1)
    small = areas < min_area
    small[0] = False
    if not small[1:].any():
        return out

    # the pixels of small regions, and the labels of their neighbours (padded: no bounds checks)
    classes, dense = np.unique(labels, return_inverse=True)  # classes[dense] == labels
    dense = np.pad(dense.reshape(labels.shape) + 1, 1)  # 0 outside the image
    is_zero = np.pad(labels == 0, 1, constant_values=True)
    width = cols + 2
    r, c = np.nonzero(small[regions])
    pixel = (r + 1) * width + (c + 1)
    owner = regions[r, c]
    keys = []
    for dr, dc in zip(*np.nonzero(structure), strict=True):
        if dr == 1 and dc == 1:
            continue
        neighbour = pixel + (dr - 1) * width + (dc - 1)
        other = (dense.flat[neighbour] != dense.flat[pixel]) & ~is_zero.flat[neighbour]
        keys.append(owner[other] * dense.size + neighbour[other])
    border = np.unique(np.concatenate(keys))  # each (region, bordering pixel) once
    region = border // dense.size
    vote = dense.flat[border % dense.size]  # dense class index + 1
    pairs, counts = np.unique(region * (classes.size + 1) + vote, return_counts=True)
    region, vote = pairs // (classes.size + 1), pairs % (classes.size + 1)
    order = np.lexsort((vote, -counts, region))  # by region, most votes first, then smallest id
    region, vote = region[order], vote[order]
    first = np.ones(len(region), dtype=bool)
    first[1:] = region[1:] != region[:-1]
    new_label = np.zeros(n_regions + 1, dtype=labels.dtype)  # 0 when no labelled neighbour
    new_label[region[first]] = classes[vote[first] - 1]
    out[r, c] = new_label[owner]
    logger.debug(
        "remove_small_regions: %d regions (%d pixels) relabelled",
        int(small.sum()),
        len(owner),
    )
    return out
