"""Spectral figures: mean spectra ± SD per class, PCA loadings and score images.

Both read a :class:`~hsi_tumor.cube.Cube` in blocks of rows, so a memory-mapped or lazily
read cube is never loaded whole.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from hsi_tumor._shared.arrays import check_mask, rows_per_tile
from hsi_tumor._shared.errors import InvalidOptionError, InvalidTypeError, WavelengthError
from hsi_tumor.cube import Cube
from hsi_tumor.viz._common import (
    add_colorbar,
    check_label_map,
    mark_simulated,
    names_of,
    new_axes,
)
from hsi_tumor.viz._common import read_block as _block
from hsi_tumor.viz._common import valid_pixel_map as _valid_map
from hsi_tumor.viz._overlay import _resolve_colors

__all__ = ["plot_mean_spectra", "plot_pca"]


# -- per-class statistics, merged block by block ----------------------------------------------
class _ClassMoments:
    """Count, mean and sum of squared deviations per class, merged over blocks (Chan et al.)."""

    def __init__(self) -> None:
        self.n: dict[int, int] = {}
        self.mean: dict[int, np.ndarray] = {}
        self.m2: dict[int, np.ndarray] = {}

    def add(self, labels: np.ndarray, pixels: np.ndarray) -> None:
        for cid in np.unique(labels):
            x = pixels[labels == cid]
            n_b = x.shape[0]
            mean_b = x.mean(axis=0)
            m2_b = ((x - mean_b) ** 2).sum(axis=0)
            cid = int(cid)
            if cid not in self.n:
                self.n[cid], self.mean[cid], self.m2[cid] = n_b, mean_b, m2_b
                continue
            n_a = self.n[cid]
            n = n_a + n_b
            delta = mean_b - self.mean[cid]
            self.mean[cid] = self.mean[cid] + delta * (n_b / n)
            self.m2[cid] = self.m2[cid] + m2_b + delta**2 * (n_a * n_b / n)
            self.n[cid] = n

    def sd(self, cid: int) -> np.ndarray:
        """Sample standard deviation (ddof=1); zero for a class of one pixel."""
        n = self.n[cid]
        return np.sqrt(self.m2[cid] / (n - 1)) if n > 1 else np.zeros_like(self.m2[cid])


def _accumulate_cube(moments: _ClassMoments, cube: Cube, labels, field: str) -> None:
    labels = check_label_map(labels, field=field, shape=cube.shape[:2])
    labelled = labels != 0
    step = rows_per_tile(cube.shape, max(cube.dtype.itemsize, 8))
    for r0 in range(0, cube.n_rows, step):
        rows_hit = np.flatnonzero(labelled[r0 : r0 + step].any(axis=1))
        if rows_hit.size == 0:
            continue
        a, b = r0 + int(rows_hit[0]), r0 + int(rows_hit[-1]) + 1
        sub = cube[a:b]
        sel = labelled[a:b]
        pixels = np.asarray(_block(sub.data)[sel], dtype=np.float64)  # only labelled pixels
        ok = np.isfinite(pixels).all(axis=1)
        valid = sub.valid
        if valid is not None and not getattr(valid, "finite_means_valid", False):
            valid = np.asarray(valid, dtype=bool)
            ok &= (valid.all(axis=2) if valid.ndim == 3 else valid)[sel]
        moments.add(labels[a:b][sel][ok], pixels[ok])


def _check_same_wavelengths(cubes: Sequence[Cube]) -> np.ndarray | None:
    first = cubes[0].wavelengths
    for i, cube in enumerate(cubes[1:], start=1):
        wl = cube.wavelengths
        same = (first is None and wl is None) or (
            first is not None
            and wl is not None
            and wl.shape == first.shape
            and np.allclose(wl, first, rtol=0, atol=1e-6 * max(1.0, float(np.abs(first).max())))
        )
        if not same:
            raise WavelengthError(
                f"cube {i} has other wavelengths than cube 0",
                field="spectra",
                fix="resample or select a common wavelength range, e.g. cube.sel(wavelengths=...)",
            )
    return first


def _class_moments(spectra, labels, wavelengths) -> tuple[_ClassMoments, np.ndarray]:
    """Per-class moments and the wavelengths, from any of the accepted input forms."""
    moments = _ClassMoments()
    if isinstance(spectra, np.ndarray) and spectra.ndim == 3:
        spectra = Cube(spectra, wavelengths)
    if isinstance(spectra, Cube):
        spectra, labels = [spectra], [labels]
    if isinstance(spectra, (list, tuple)) and spectra and all(isinstance(c, Cube) for c in spectra):
        if isinstance(labels, np.ndarray) or len(labels) != len(spectra):
            raise InvalidOptionError(
                f"{len(spectra)} cubes need as many label maps",
                field="labels",
                fix="give one (rows, cols) label map per cube, in the same order",
            )
        wl = _check_same_wavelengths(spectra)
        if wavelengths is not None:
            given = np.asarray(wavelengths, dtype=np.float64)
            if wl is not None and (given.shape != wl.shape or not np.allclose(given, wl)):
                raise WavelengthError(
                    "the wavelengths given differ from the cube's",
                    field="wavelengths",
                    fix="leave wavelengths=None: a Cube brings its own",
                )
            wl = given
        if wl is None or wl.shape != (spectra[0].n_bands,):
            raise WavelengthError(
                "the cube has no wavelengths",
                field="wavelengths",
                fix="give wavelengths= (nm), one per band",
            )
        for i, (cube, lab) in enumerate(zip(spectra, labels, strict=True)):
            _accumulate_cube(moments, cube, lab, "labels" if len(spectra) == 1 else f"labels[{i}]")
        return moments, wl
    array = np.asarray(spectra)
    if array.ndim != 2 or array.dtype.kind not in "biuf":
        raise InvalidOptionError(
            f"spectra must be a Cube, a list of Cubes or an (n, bands) array; got "
            f"{type(spectra).__name__} of shape {np.shape(spectra)}",
            field="spectra",
            fix="pass cube and its label map, or pixels (n, bands) with labels (n,)",
        )
    labels = np.asarray(labels)
    if labels.shape != (array.shape[0],):
        raise InvalidOptionError(
            f"labels has shape {labels.shape} for {array.shape[0]} spectra",
            field="labels",
            fix="give one class id per spectrum (row of spectra)",
        )
    labels = check_label_map(labels[:, np.newaxis], field="labels")[:, 0]
    if wavelengths is None:
        raise WavelengthError(
            "spectra given as an array need their wavelengths",
            field="wavelengths",
            fix="pass wavelengths= (nm), one per column of spectra",
        )
    wl = np.asarray(wavelengths, dtype=np.float64)
    if wl.shape != (array.shape[1],):
        raise WavelengthError(
            f"{wl.size} wavelengths for {array.shape[1]} bands",
            field="wavelengths",
            fix="give one wavelength (nm) per column of spectra",
        )
    pixels = array.astype(np.float64)
    keep = (labels != 0) & np.isfinite(pixels).all(axis=1)
    moments.add(labels[keep], pixels[keep])
    return moments, wl


def plot_mean_spectra(
    spectra,
    labels,
    wavelengths=None,
    *,
    class_names: Mapping[int, str] | None = None,
    colors: Mapping[int, object] | None = None,
    ax: Axes | None = None,
    title: str | None = None,
    ylabel: str = "reflectance",
) -> Axes:
    r"""Plot the mean spectrum ± one standard deviation of each class.

    Parameters
    ----------
    spectra : Cube, sequence of Cube, or array of shape (n, bands)
        A cube with its label map, several cubes (pooled, e.g. tumor vs normal over a cohort)
        with one label map each, or spectra as rows.
    labels : array of int
        Shape (rows, cols) for a cube, a sequence of those for several cubes, (n,) for an
        array. 0 means unlabelled and is ignored.
    wavelengths : array of shape (bands,), optional
        Band centres in nm; required for an array, taken from the cube otherwise.
    class_names : mapping of int to str, optional
        Legend names (an id without a name is shown as the id).
    colors : mapping of int to colour, optional
        Colours overriding :func:`hsi_tumor.viz.class_colors`.
    ax : matplotlib Axes, optional
        Where to draw; a new Figure is made when None.
    title : str, optional
    ylabel : str, default="reflectance"

    Returns
    -------
    matplotlib.axes.Axes
        One line per class (in ascending id order, labelled with the name and pixel count) and
        one shaded ± SD band per class.

    Raises
    ------
    InvalidOptionError
        If labels do not match the spectra or no labelled pixel has finite values.
    WavelengthError
        If wavelengths are missing or do not match, or pooled cubes have different ones.

    Notes
    -----
    Only the labelled pixels are read, block of rows by block of rows, so memory-mapped cubes
    are not loaded whole. Pixels with a non-finite value, or flagged in the cube's ``valid``
    mask, are dropped. The standard deviation is the sample one,
    :math:`s = \sqrt{\sum_i (x_i - \bar x)^2 / (n - 1)}`, merged exactly across blocks
    (Chan, Golub & LeVeque 1979).

    Examples
    --------
    >>> import numpy as np
    >>> from hsi_tumor.viz import plot_mean_spectra
    >>> x = np.array([[0.1, 0.2], [0.3, 0.4], [0.9, 0.8]])
    >>> ax = plot_mean_spectra(x, [1, 1, 2], [1000, 1100], class_names={1: "normal", 2: "tumor"})
    >>> ax.lines[0].get_ydata().tolist(), ax.lines[0].get_label()
    ([0.2, 0.30000000000000004], 'normal (n = 2)')
    """
    moments, wl = _class_moments(spectra, labels, wavelengths)
    if not moments.n:
        raise InvalidOptionError(
            "no labelled pixel with finite values",
            field="labels",
            fix="check the label map (0 = unlabelled) and that the labelled pixels are valid",
        )
    names = names_of(class_names)
    classes = sorted(moments.n)
    palette = _resolve_colors(classes, names, colors)
    ax = new_axes(ax)
    for cid in classes:
        mean, sd = moments.mean[cid], moments.sd(cid)
        color = tuple(palette[cid])
        ax.plot(
            wl,
            mean,
            color=color,
            lw=1.5,
            label=f"{names.get(cid, str(cid))} (n = {moments.n[cid]:,})",
        )
        ax.fill_between(wl, mean - sd, mean + sd, color=color, alpha=0.2, linewidth=0)
    ax.set_xlabel("wavelength (nm)")
    ax.set_ylabel(ylabel)
    ax.set_xlim(float(wl[0]), float(wl[-1]))
    ax.legend(fontsize="small", title="mean ± SD", title_fontsize="small")
    if title is not None:
        ax.set_title(title)
    mark_simulated(ax, spectra)
    return ax


# -- PCA -----------------------------------------------------------------------------------
def _gather(cube: Cube, flat_index: np.ndarray) -> np.ndarray:
    """Spectra of the pixels at sorted row-major ``flat_index``, read tile by tile (float64)."""
    out = np.empty((flat_index.size, cube.n_bands), dtype=np.float64)
    cols = cube.n_cols
    for rows, sub in cube.tiles():
        lo, hi = np.searchsorted(flat_index, [rows.start * cols, rows.stop * cols])
        if hi > lo:
            pixels = np.asarray(_block(sub.data)).reshape(-1, cube.n_bands)
            out[lo:hi] = pixels[flat_index[lo:hi] - rows.start * cols]
    return out


def plot_pca(
    cube: Cube,
    *,
    n_components: int = 3,
    mask=None,
    max_pixels: int = 50_000,
    random_state: int | None = 0,
) -> Figure:
    r"""Principal components of a cube: loadings against wavelength, and score images.

    Parameters
    ----------
    cube : Cube
    n_components : int, default=3
        Components to fit and show.
    mask : array of bool, shape (rows, cols), optional
        Pixels to use (e.g. :func:`hsi_tumor.tissue_mask`); all valid pixels when None.
    max_pixels : int, default=50_000
        The PCA is fitted on at most this many pixels, sampled at random.
    random_state : int, optional
        Seed of the sample.

    Returns
    -------
    matplotlib.figure.Figure
        Its first Axes holds the loadings (one line per component, the explained variance in
        the legend); the next ``n_components`` Axes hold the score images (NaN outside the mask
        and at invalid pixels), each with its colorbar as an inset Axes.

    Raises
    ------
    InvalidOptionError
        If ``n_components`` or ``max_pixels`` is not a usable count
        (:class:`~hsi_tumor.InvalidTypeError`, a subclass, if it is not an integer), ``mask``
        does not match the cube, or too few pixels are valid.
    NoValidPixelsError
        If ``mask`` selects no pixel.

    Notes
    -----
    A pixel is valid where all its values are finite, it is not flagged in ``cube.valid`` and
    it lies in ``mask``. When more than ``max_pixels`` are valid, the sample is
    ``np.sort(np.random.default_rng(random_state).choice(idx, max_pixels, replace=False))``
    of the valid pixels' row-major flat indices ``idx``. :class:`sklearn.decomposition.PCA`
    is fitted on it in float64; the scores :math:`(x - \bar x) W^T` are then computed block
    of rows by block of rows, so a memory-mapped cube is never loaded whole.

    Examples
    --------
    >>> import numpy as np, hsi_tumor as ht
    >>> from hsi_tumor.viz import plot_pca
    >>> cube = ht.Cube(np.random.default_rng(0).random((6, 5, 8)), np.linspace(1000, 1700, 8))
    >>> fig = plot_pca(cube, n_components=2)
    >>> [ax.get_title() for ax in fig.axes[:3]]
    ['PCA loadings', 'PC1 scores', 'PC2 scores']
    """
    from sklearn.decomposition import PCA

    if not isinstance(cube, Cube):
        raise InvalidTypeError(
            f"cube is a {type(cube).__name__}, not a Cube",
            field="cube",
            fix="wrap the array: hsi_tumor.Cube(data, wavelengths)",
        )
    if not isinstance(n_components, (int, np.integer)):
        raise InvalidTypeError(
            f"n_components must be an integer from 1 to {cube.n_bands} (the bands); got "
            f"{n_components!r}",
            field="n_components",
            fix="e.g. n_components=3",
        )
    if not 1 <= n_components <= cube.n_bands:
        raise InvalidOptionError(
            f"n_components must be an integer from 1 to {cube.n_bands} (the bands); got "
            f"{n_components!r}",
            field="n_components",
            fix="e.g. n_components=3",
        )
    n_components = int(n_components)
    if not isinstance(max_pixels, (int, np.integer)):
        raise InvalidTypeError(
            f"max_pixels must be an integer above n_components ({n_components}); got "
            f"{max_pixels!r}",
            field="max_pixels",
            fix="e.g. max_pixels=50_000",
        )
    if max_pixels <= n_components:
        raise InvalidOptionError(
            f"max_pixels must be an integer above n_components ({n_components}); got "
            f"{max_pixels!r}",
            field="max_pixels",
            fix="e.g. max_pixels=50_000",
        )
    mask = check_mask(mask, cube.shape[:2])
    ok = _valid_map(cube)
    if mask is not None:
        ok &= mask
    idx = np.flatnonzero(ok)
    if idx.size <= n_components:
        raise InvalidOptionError(
            f"only {idx.size} valid pixels to fit {n_components} components",
            field="mask",
            fix="widen the mask, or check the cube for NaN and its valid mask",
        )
    if idx.size > max_pixels:
        rng = np.random.default_rng(random_state)
        idx = np.sort(rng.choice(idx, int(max_pixels), replace=False))
    pca = PCA(n_components=n_components, random_state=random_state).fit(_gather(cube, idx))

    scores = np.full((*cube.shape[:2], n_components), np.nan, dtype=np.float32)
    weights = pca.components_.T
    for rows, sub in cube.tiles():
        keep = ok[rows]
        if keep.any():
            pixels = np.asarray(_block(sub.data)[keep], dtype=np.float64)
            scores[rows][keep] = (pixels - pca.mean_) @ weights

    n_grid = min(n_components, 4)
    n_grid_rows = math.ceil(n_components / n_grid)
    fig = Figure(figsize=(4.5 + 3.0 * n_grid, 3.4 * n_grid_rows), layout="constrained")
    grid = fig.add_gridspec(n_grid_rows, 1 + n_grid, width_ratios=[1.5] + [1.0] * n_grid)
    ax_load = fig.add_subplot(grid[:, 0])
    x = cube.wavelengths if cube.wavelengths is not None else np.arange(cube.n_bands)
    for k in range(n_components):
        ratio = 100.0 * pca.explained_variance_ratio_[k]
        ax_load.plot(x, pca.components_[k], lw=1.3, label=f"PC{k + 1} ({ratio:.1f} %)")
    ax_load.axhline(0.0, color="0.6", lw=0.8)
    ax_load.set_xlabel("wavelength (nm)" if cube.wavelengths is not None else "feature")
    ax_load.set_ylabel("loading")
    ax_load.set_title("PCA loadings")
    ax_load.legend(fontsize="small", title="explained variance", title_fontsize="small")
    score_axes = [fig.add_subplot(grid[k // n_grid, 1 + k % n_grid]) for k in range(n_components)]
    for k, ax in enumerate(score_axes):
        finite = np.isfinite(scores[..., k])
        lim = float(np.percentile(np.abs(scores[..., k][finite]), 99)) if finite.any() else 1.0
        image = ax.imshow(
            np.ma.masked_invalid(scores[..., k]),
            cmap="RdBu_r",
            vmin=-(lim or 1.0),
            vmax=lim or 1.0,
            interpolation="nearest",
        )
        add_colorbar(ax, image)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"PC{k + 1} scores")
    mark_simulated(fig, cube)
    return fig
