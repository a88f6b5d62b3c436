"""Majority (mode) filter of a label map: each pixel takes the most frequent class around it."""

from __future__ import annotations

import logging

import numpy as np
from scipy import ndimage

from hsi_tumor._shared.classes import check_label_map
from hsi_tumor._shared.errors import InvalidOptionError
from hsi_tumor.spatial._checks import check_int_option, check_mask

logger = logging.getLogger("hsi_tumor.spatial")

__all__ = ["local_majority", "majority_filter", "window_counts"]


def window_counts(indicator: np.ndarray, window: int | np.ndarray) -> np.ndarray:
    """Number of True pixels of ``indicator`` in the window around each pixel (exact, int32).

    ``window`` is the side of a square (two separable 1-D sums) or a footprint array.
    Pixels outside the image count as False.
    """
    values = indicator.astype(np.int32)
    if isinstance(window, np.ndarray):
        return ndimage.correlate(values, window.astype(np.int32), mode="constant", cval=0)
    ones = np.ones(window, dtype=np.int32)
    values = ndimage.correlate1d(values, ones, axis=0, mode="constant", cval=0)
    return ndimage.correlate1d(values, ones, axis=1, mode="constant", cval=0)


def local_majority(
    labels: np.ndarray, voters: np.ndarray, window: int | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The most frequent voting label in the window around each pixel, with its count.

    Parameters
    ----------
    labels : ndarray of int, shape (rows, cols)
    voters : ndarray of bool, shape (rows, cols)
        The pixels whose labels are counted (label 0 never votes).
    window : int or ndarray of bool
        The side of a centred square window, or a centred footprint.

    Returns
    -------
    winner : ndarray, shape (rows, cols), labels' dtype
        The most frequent label; ties go to the pixel's own label when it is among the tied,
        else to the smallest id. 0 where no pixel of the window votes.
    count : ndarray of int32, shape (rows, cols)
        How many pixels of the window hold ``winner``.
    """
    classes = np.unique(labels[voters])
    classes = classes[classes != 0]  # ascending: a strict '>' below keeps the smallest id
    winner = np.zeros_like(labels)
    best = np.zeros(labels.shape, dtype=np.int32)
    own = np.zeros(labels.shape, dtype=np.int32)
    for label in classes:
        is_label = labels == label
        counts = window_counts(is_label & voters, window)
        better = counts > best
        winner[better] = label
        best[better] = counts[better]
        own[is_label] = counts[is_label]
    keep = (own == best) & (best > 0)  # the pixel's own label is among the tied
    winner[keep] = labels[keep]
    return winner, best


def majority_filter(labels, *, size: int = 3, mask=None) -> np.ndarray:
    """Replace each labelled pixel by the most frequent class in the window centred on it.

    Parameters
    ----------
    labels : array-like of int, shape (rows, cols)
        Class ids; 0 marks unlabelled pixels (background), which neither vote nor change.
    size : int, default=3
        Side of the square window, odd (3 means the pixel and its 8 neighbours). 1 returns the
        map unchanged.
    mask : array-like of bool, shape (rows, cols), optional
        The pixels to filter. Only pixels inside the mask vote and only they change; pixels
        outside keep their label whatever it is.

    Returns
    -------
    ndarray, shape (rows, cols), the dtype of ``labels``
        A new map.

    Raises
    ------
    InvalidOptionError
        If ``labels`` is not a 2-D integer map, ``mask`` has another shape, or ``size`` is not
        a positive odd integer (:class:`~hsi_tumor.InvalidTypeError`, a subclass, if it is not
        an integer).
    NoValidPixelsError
        If ``mask`` selects nothing.

    Notes
    -----
    For each class ``c`` the number of votes is the box sum of the indicator
    ``(labels == c) & mask`` over the window (two separable 1-D integer sums, exact), and each
    pixel takes the class with the most votes. The window includes the pixel itself. Ties go
    to the pixel's own label when it is among the tied (so a filter never moves a boundary
    for nothing), otherwise to the smallest class id. Near the image edge the window is cut
    (pixels outside the image do not vote). Cost: one pass per class present, vectorised.

    Examples
    --------
    >>> import numpy as np
    >>> from hsi_tumor.spatial import majority_filter
    >>> labels = np.array([[1, 1, 1, 1],
    ...                    [1, 2, 1, 1],
    ...                    [1, 1, 0, 2],
    ...                    [2, 2, 2, 2]])
    >>> majority_filter(labels)
    array([[1, 1, 1, 1],
           [1, 1, 1, 1],
           [1, 1, 0, 2],
           [2, 2, 2, 2]])
    """
    labels = check_label_map(labels)
    size = check_int_option(size, "size", minimum=1, fix="give an odd window side such as 3 or 5")
    if size % 2 == 0:
        raise InvalidOptionError(
            f"size must be odd so that the window is centred on the pixel, got {size}",
            field="size",
            fix=f"use size={size + 1} or size={size - 1}",
        )
    mask = check_mask(mask, labels.shape)
    inside = labels != 0 if mask is None else (labels != 0) & mask
    if size == 1:
        return labels.copy()
    winner, _ = local_majority(labels, inside, size)
    out = labels.copy()
    out[inside] = winner[inside]
    logger.debug(
        "majority_filter: %d of %d pixels changed", int((out != labels).sum()), inside.sum()
    )
    return out
