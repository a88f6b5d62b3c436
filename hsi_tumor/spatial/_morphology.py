"""Per-class morphological opening and closing of a label map."""

from __future__ import annotations

import logging

import numpy as np
from scipy import ndimage

from hsi_tumor._shared.classes import check_label_map
from hsi_tumor.spatial._checks import check_int_option
from hsi_tumor.spatial._majority import local_majority, window_counts

logger = logging.getLogger("hsi_tumor.spatial")

__all__ = ["disk", "morphological_cleanup"]


def disk(radius: int) -> np.ndarray:
    """The (2r+1, 2r+1) boolean disk ``dr² + dc² ≤ r²`` (radius 1: the 4-neighbour cross)."""
    d = np.arange(-radius, radius + 1)
    return d[:, None] ** 2 + d[None, :] ** 2 <= radius**2


def morphological_cleanup(labels, *, radius: int = 1) -> np.ndarray:
    """Open then close each class of a label map with a disk, and settle contested pixels.

    Parameters
    ----------
    labels : array-like of int, shape (rows, cols)
        Class ids; 0 marks unlabelled pixels (background), which never change.
    radius : int, default=1
        Radius of the disk in pixels (1: the pixel and its 4 neighbours). 0 changes nothing.

    Returns
    -------
    ndarray, shape (rows, cols), the dtype of ``labels``
        A new map.

    Raises
    ------
    InvalidOptionError
        If ``labels`` is not a 2-D integer map or ``radius`` is not a non-negative integer
        (:class:`~hsi_tumor.InvalidTypeError`, a subclass, if it is not an integer).

    Notes
    -----
    Each class's mask is opened (removing specks and lines thinner than the disk) then closed
    (filling holes and gaps narrower than it), with the image extended by edge replication so
    that its border neither erodes nor closes anything. The cleaned masks overlap and leave
    holes, so each labelled pixel is then settled by these rules, in order:

    1. its own class's cleaned mask covers it: it keeps its label;
    2. exactly one other class's cleaned mask covers it: it takes that class;
    3. several do: it takes the one of them with the most pixels within the disk around it
       in the input map, the smallest id among ties;
    4. none does (its class's opening removed it and no closing filled it, e.g. in a strip
       thinned by another class's speck, or a line along a class boundary): the most frequent
       label within the disk in the input map, its own label winning ties (a majority vote).

    Unlabelled pixels stay 0 and are no class: the cleanup neither grows classes into the
    background nor removes tissue next to it.

    As with any opening, convex corners sharper than the disk are rounded off (a 3 x 3 block
    becomes a cross with radius 1), and structures only about ``2 r + 1`` pixels wide are
    fragile: a speck inside such a strip thins it below the disk. Keep the radius well below
    the width of the regions that matter; for specks alone :func:`remove_small_regions` or
    :func:`majority_filter` change less.

    Examples
    --------
    >>> import numpy as np
    >>> from hsi_tumor.spatial import morphological_cleanup
    >>> labels = np.ones((5, 6), dtype=int)
    >>> labels[:, 3:] = 2
    >>> labels[2, 1] = 2  # a speck of class 2 inside class 1
    >>> labels[4, 5] = 0  # background stays background
    >>> morphological_cleanup(labels)
    array([[1, 1, 1, 2, 2, 2],
           [1, 1, 1, 2, 2, 2],
           [1, 1, 1, 2, 2, 2],
           [1, 1, 1, 2, 2, 2],
           [1, 1, 1, 2, 2, 0]])
    """
    labels = check_label_map(labels)
    radius = check_int_option(radius, "radius", minimum=0, fix="e.g. radius=1 (a 3 x 3 cross)")
    out = labels.copy()
    classes = np.unique(labels)
    classes = classes[classes != 0]
    if radius == 0 or classes.size == 0:
        return out
    footprint = disk(radius)
    pad = 2 * radius  # erosion then dilation (or back) reach 2r: beyond that padding is unseen
    crop = (slice(pad, pad + labels.shape[0]), slice(pad, pad + labels.shape[1]))

    labelled = labels != 0
    cleaned = []
    own = np.zeros(labels.shape, dtype=bool)
    n_other = np.zeros(labels.shape, dtype=np.int32)
    for label in classes:
        is_label = labels == label
        mask = np.pad(is_label, pad, mode="edge")
        mask = ndimage.binary_opening(mask, structure=footprint)
        mask = ndimage.binary_closing(mask, structure=footprint)[crop]
        cleaned.append(mask)
        own |= mask & is_label
        n_other += mask & ~is_label

    # rules 2-3: among the other classes whose cleaned mask covers the pixel
    claimed = labelled & ~own & (n_other > 0)
    winner = labels.copy()
    best = np.zeros(labels.shape, dtype=np.int32)
    for label, mask in zip(classes, cleaned, strict=True):
        candidate = claimed & mask & (labels != label)
        counts = window_counts(labels == label, footprint)
        better = candidate & (counts > best)  # strict: ties keep the smaller id
        winner[better] = label
        best[better] = counts[better]
    out[claimed] = winner[claimed]
    # rule 4: nobody's: a local majority vote in the disk (own label first among ties)
    orphan = labelled & ~own & (n_other == 0)
    if orphan.any():
        vote, _ = local_majority(labels, labelled, footprint)
        out[orphan] = vote[orphan]
    logger.debug("morphological_cleanup: %d pixels changed", int((out != labels).sum()))
    return out
