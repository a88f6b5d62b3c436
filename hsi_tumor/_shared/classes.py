"""Class ids and their names: one resolver of class names, one tumor-class finder, one check of
label maps and one colour per class, for every part of the package.

Decisions (the same everywhere: training, classification, evaluation, figures, files):

* **The tumor class** is the class whose name is "tumor" or "tumour", compared after removing
  surrounding white space and ignoring case (``" Tumor "`` counts). With several such names
  the lowest id wins.
* **Label maps** are (rows, cols) arrays of class ids, 0 = unlabelled. Accepted: integers of
  any byte order, booleans (False → 0, True → 1), and floats that hold whole numbers (as
  image formats store them). Refused: NaN/inf, fractions, negative ids. The result is in
  native byte order; integer input keeps its dtype, booleans and floats become the smallest
  unsigned type that holds the largest id.
* **Class names** come as a mapping ``{id: name}``, as a sequence aligned with the ascending
  ids, or not at all (then each id's name is the id as text).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib
import matplotlib.colors as mcolors
import numpy as np

from hsi_tumor._shared.errors import HsiTumorError, InvalidOptionError, InvalidTypeError

__all__ = [
    "PALETTE",
    "STATE_LABELS",
    "TUMOR_NAMES",
    "check_label_map",
    "class_colors",
    "class_name_map",
    "is_tumor_name",
    "tumor_class",
]

#: Names that mark the tumor class (compared stripped and case-insensitively).
TUMOR_NAMES = frozenset({"tumor", "tumour"})


def _key(name) -> str:
    return str(name).strip().casefold()


def is_tumor_name(name) -> bool:
    """Whether ``name`` names the tumor class ("tumor" or "tumour", any case, padded or not)."""
    return _key(name) in TUMOR_NAMES


def tumor_class(class_names: Mapping[int, str] | None) -> int | None:
    """The id of the tumor class in ``{id: name}`` (the lowest if several), or None."""
    if not class_names:
        return None
    ids = sorted(int(c) for c, name in class_names.items() if is_tumor_name(name))
    return ids[0] if ids else None


def class_name_map(class_names, classes: Sequence[int] | None = None) -> dict[int, str]:
    """``{class id: name}`` from a mapping, a sequence aligned with ``classes``, or None.

    Parameters
    ----------
    class_names : mapping of int to str, sequence of str, or None
        Names by id; or one name per class in ascending id order (needs ``classes``); or None
        for the ids as text.
    classes : sequence of int, optional
        The class ids that need a name. With them, every id must be named and the result
        holds exactly these ids, in this order; without them a mapping is taken as it is.

    Raises
    ------
    InvalidOptionError
        If ``class_names`` is a string, a sequence of the wrong length, or misses an id.
    """
    ids = None if classes is None else [int(c) for c in classes]
    if class_names is None:
        return {} if ids is None else {c: str(c) for c in ids}
    if isinstance(class_names, Mapping):
        try:
            names = {int(k): str(v) for k, v in class_names.items()}
        except (TypeError, ValueError) as exc:
            raise InvalidOptionError(
                f"class_names has a key that is not a class id ({exc})",
                field="class_names",
                fix="give a mapping {class id: name}, e.g. {1: 'normal', 2: 'tumor'}",
            ) from exc
    elif isinstance(class_names, (str, bytes)) or ids is None:
        raise InvalidTypeError(
            f"class_names is a {type(class_names).__name__}",
            field="class_names",
            fix="give a mapping {class id: name}, e.g. {1: 'normal', 2: 'tumor'}",
        )
    else:
        class_names = list(class_names)
        if len(class_names) != len(ids):
            raise InvalidOptionError(
                f"{len(class_names)} class names for {len(ids)} classes {ids}",
                field="class_names",
                fix="give one name per class in ascending id order, or a mapping {id: name}",
            )
        names = {c: str(n) for c, n in zip(ids, class_names, strict=True)}
    if ids is None:
        return names
    missing = [c for c in ids if c not in names]
    if missing:
        raise InvalidOptionError(
            f"no name for class id(s) {missing}",
            field="class_names",
            fix="name every label id that occurs in the label maps",
        )
    return {c: names[c] for c in ids}


def check_label_map(
    labels,
    *,
    shape: tuple[int, int] | None = None,
    file=None,
    field: str | None = "labels",
    error: type[HsiTumorError] = InvalidOptionError,
) -> np.ndarray:
    """``labels`` as a checked (rows, cols) map of class ids (see the module's decisions).

    Parameters
    ----------
    labels : array-like
    shape : (rows, cols), optional
        The image's size, which the map must have.
    file : path, optional
        The file the map came from (named in errors).
    field : str, optional
        What the map is called where it came from (named in errors).
    error : HsiTumorError subclass, default=InvalidOptionError
        Raised on bad input: the caller's kind of mistake (e.g. ``CubeFormatError`` for a
        file's content, ``TrainingDataError`` for training data).

    Returns
    -------
    ndarray of shape (rows, cols)
        Integer class ids, native byte order.
    """
    array = np.asarray(labels)
    if array.ndim != 2:
        raise error(
            f"a label map is 2-D (rows, cols); got shape {array.shape}",
            file=file,
            field=field,
            fix="give one integer class id per pixel (0 = unlabelled)",
        )
    if shape is not None and array.shape != tuple(shape):
        raise error(
            f"the label map has shape {array.shape}, the image has {tuple(shape)} pixels",
            file=file,
            field=field,
            fix="give a label map with the image's rows and columns",
        )
    kind = array.dtype.kind
    if kind == "f":
        finite = np.isfinite(array)
        if not finite.all():
            raise error(
                f"{int((~finite).sum())} values of the label map are NaN or infinite",
                file=file,
                field=field,
                fix="use 0 for unlabelled pixels",
            )
        if array.size and not np.array_equal(array, np.round(array)):
            raise error(
                "the label map holds fractions, not integer class ids",
                file=file,
                field=field,
                fix="give whole-number class ids (0 = unlabelled); a probability or fraction "
                "map is not a label map",
            )
    elif kind not in "biu":
        raise error(
            f"the label map holds {array.dtype}, not integer class ids",
            file=file,
            field=field,
            fix="convert it to integers (0 = unlabelled), e.g. labels.astype(int)",
        )
    if kind in "if" and array.size and array.min() < 0:
        raise error(
            f"negative class ids ({array.min()}) in the label map",
            file=file,
            field=field,
            fix="use 0 for unlabelled pixels and positive ids for classes",
        )
    if kind in "bf":
        top = float(array.max()) if array.size else 0.0
        dtype = next(
            (t for t in (np.uint8, np.uint16, np.uint32) if top <= np.iinfo(t).max), np.int64
        )
        return array.astype(dtype)
    return np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("="))


_TAB10 = matplotlib.colormaps["tab10"].colors
#: The colours of every map the package draws or writes, defined here and nowhere else: the
#: tumor and normal classes, and the three states of a pixel without a class.
#:
#: =================  ===========  =====================================================
#: key                colour       meaning
#: =================  ===========  =====================================================
#: ``tumor``          red          the class named "tumor" (or "tumour")
#: ``normal``         green        the class named "normal" (or "healthy")
#: ``not classified`` blue-grey    a predicted map's 0: outside the mask, not asked
#: ``invalid``        magenta      NaN, saturated (glare) or flagged (dead camera column)
#: ``unlabelled``     light grey   an annotation's 0: no label given
#: =================  ===========  =====================================================
#:
#: Over a background image, class colours and the two grey states keep their hue and take the
#: background's brightness (texture stays visible, colours stay readable on dark and bright
#: tissue); ``invalid`` is painted flat. A class named "background" is mid grey; any other class
#: gets a qualitative colour by its id (:func:`class_colors`).
PALETTE: dict[str, str] = {
    "tumor": mcolors.to_hex(_TAB10[3]),  # #d62728
    "normal": mcolors.to_hex(_TAB10[2]),  # #2ca02c
    "not classified": "#8da0cb",
    "invalid": "#ff00ff",
    "unlabelled": "#d9d9d9",
    "outside training domain": "#00ffff",
}
#: Legend text of the three states (the classes are named by their class names).
STATE_LABELS: dict[str, str] = {
    "not classified": "not classified",
    "invalid": "invalid (glare, dead pixel)",
    "unlabelled": "unlabelled",
    "outside training domain": "outside training domain",
}
#: Colours of the classes with a conventional meaning (matched by name like the tumor class).
_NAMED = {
    **dict.fromkeys(TUMOR_NAMES, mcolors.to_rgb(PALETTE["tumor"])),
    "normal": mcolors.to_rgb(PALETTE["normal"]),
    "healthy": mcolors.to_rgb(PALETTE["normal"]),
    "background": _TAB10[7],  # grey
}
#: tab10 without its red, green and grey (kept for the named classes), then the light tints of
#: those seven (tab20), then tab20b: 34 distinct colours before any repeats.
_PALETTE = (
    tuple(_TAB10[i] for i in (0, 1, 4, 5, 6, 8, 9))
    + tuple(matplotlib.colormaps["tab20"].colors[i] for i in (1, 3, 9, 11, 13, 17, 19))
    + tuple(matplotlib.colormaps["tab20b"].colors)
)


def class_colors(
    classes: Sequence[int], class_names: Mapping[int, str] | None = None
) -> dict[int, tuple[float, float, float]]:
    """A stable colour for each class id.

    The tumor class (see :func:`is_tumor_name`) is red, "normal" (or "healthy") green (the
    colours of :data:`PALETTE`) and "background" grey (names compared like the tumor class's);
    any other class gets one of 34
    qualitative colours (``tab10``, then ``tab20``'s tints, then ``tab20b``) chosen by its id
    alone, so a class keeps its colour in every figure and file whatever the other classes.

    Parameters
    ----------
    classes : sequence of int
        Class ids.
    class_names : mapping of int to str, optional
        Name of each id; ids without a name are fine.

    Returns
    -------
    dict of int to (r, g, b)
        Colours as floats in [0, 1].

    Examples
    --------
    >>> from hsi_tumor.viz import class_colors
    >>> colors = class_colors([1, 2, 3], {1: "normal", 2: "tumor"})
    >>> colors[2]
    (0.8392156862745098, 0.15294117647058825, 0.1568627450980392)
    >>> colors[3] != colors[1] != colors[2]
    True
    """
    names = class_name_map(class_names)
    out: dict[int, tuple[float, float, float]] = {}
    for cid in classes:
        cid = int(cid)
        rgb = _NAMED.get(_key(names.get(cid, "")), _PALETTE[(cid - 1) % len(_PALETTE)])
        out[cid] = tuple(float(v) for v in rgb)
    return out
