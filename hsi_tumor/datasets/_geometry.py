"""Specimen geometry: the tissue outline, the tumors, their mucosal cover and the annotations.

Shapes are drawn on a grid ``supersample`` times finer than the pixels and averaged, so border
pixels hold the exact covered fraction (partial volume). Everything is vectorised numpy and
:mod:`scipy.ndimage`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

__all__ = ["Tumor", "annotation_map", "draw_specimen", "draw_tumors", "label_map", "smooth_field"]

BACKGROUND, NORMAL, TUMOR = 0, 1, 2


@dataclass(frozen=True)
class Tumor:
    """One simulated tumor.

    Attributes
    ----------
    center : (row, col)
        Centre in pixels.
    radii : (row_radius, col_radius)
        Semi-axes in pixels (before the irregular outline is applied).
    angle : float
        Orientation, radians.
    mucosa_thickness : float
        Thickness of the normal mucosa over the tumor, mm (0: exposed).
    """

    center: tuple[float, float]
    radii: tuple[float, float]
    angle: float
    mucosa_thickness: float


def smooth_field(rng: np.random.Generator, shape, sigma: float) -> np.ndarray:
    """A zero-mean, unit-variance Gaussian random field with correlation length ``sigma`` px."""
    noise = rng.standard_normal(shape)
    field = ndimage.gaussian_filter(noise, sigma, mode="reflect")
    std = field.std()
    return (field - field.mean()) / (std if std > 0 else 1.0)


def _fine_grid(shape, supersample: int):
    rows, cols = shape
    s = supersample
    y = (np.arange(rows * s) + 0.5) / s - 0.5
    x = (np.arange(cols * s) + 0.5) / s - 0.5
    return y[:, None], x[None, :]


def _coverage(inside: np.ndarray, shape, supersample: int) -> np.ndarray:
    rows, cols = shape
    s = supersample
    return inside.reshape(rows, s, cols, s).mean(axis=(1, 3), dtype=np.float64)


def _blob(y, x, center, radii, angle, harmonics):
    """Inside test of an irregular ellipse: r(θ) modulated by a few Fourier harmonics."""
    dy, dx = y - center[0], x - center[1]
    c, s = np.cos(angle), np.sin(angle)
    u = (dx * c + dy * s) / radii[1]
    v = (-dx * s + dy * c) / radii[0]
    rho = np.hypot(u, v)
    theta = np.arctan2(v, u)
    edge = np.ones_like(theta)
    for k, amp, phase in harmonics:
        edge = edge + amp * np.cos(k * theta + phase)
    return rho <= edge


def _harmonics(rng: np.random.Generator, strength: float):
    return [(k, strength * rng.uniform(0.2, 1.0) / k, rng.uniform(0, 2 * np.pi)) for k in (2, 3, 5)]


def draw_specimen(rng: np.random.Generator, shape, *, supersample: int = 4):
    """Fraction of each pixel covered by the specimen (an irregular ellipse), and its outline.

    Returns
    -------
    fraction : ndarray of float64, shape (rows, cols)
    outline : dict
        ``center``, ``radii``, ``angle`` in pixels and radians.
    """
    rows, cols = shape
    center = (rows * rng.uniform(0.46, 0.54), cols * rng.uniform(0.46, 0.54))
    radii = (rows * rng.uniform(0.36, 0.42), cols * rng.uniform(0.36, 0.42))
    angle = rng.uniform(-0.3, 0.3)
    harmonics = _harmonics(rng, 0.12)
    y, x = _fine_grid(shape, supersample)
    inside = _blob(y, x, center, radii, angle, harmonics)
    return _coverage(inside, shape, supersample), {
        "center": center,
        "radii": radii,
        "angle": angle,
    }


def draw_tumors(
    rng: np.random.Generator,
    specimen_fraction: np.ndarray,
    thicknesses,
    *,
    radius_range: tuple[float, float],
    supersample: int = 4,
    max_tries: int = 200,
):
    """Place non-overlapping tumors well inside the specimen.

    Parameters
    ----------
    rng : numpy.random.Generator
    specimen_fraction : ndarray, shape (rows, cols)
    thicknesses : sequence of float
        Mucosa thickness over each tumor, mm; one tumor per entry.
    radius_range : (min, max)
        Tumor semi-axes in pixels.

    Returns
    -------
    tumors : list of Tumor
        Those that fitted (a crowded specimen may hold fewer than asked).
    fractions : ndarray of float64, shape (n_tumors, rows, cols)
        The fraction of each pixel covered by each tumor (disjoint: they sum to at most 1).
    """
    shape = specimen_fraction.shape
    inside_depth = ndimage.distance_transform_edt(specimen_fraction >= 0.5)
    y, x = _fine_grid(shape, supersample)
    taken = np.zeros((shape[0] * supersample, shape[1] * supersample), dtype=bool)
    tumors: list[Tumor] = []
    fractions = []
    for thickness in thicknesses:
        for _ in range(max_tries):
            r = rng.uniform(*radius_range, size=2)
            angle = rng.uniform(0, np.pi)
            harmonics = _harmonics(rng, 0.10)
            margin = 1.25 * r.max() + 4
            candidates = np.argwhere(inside_depth > margin)
            if candidates.size == 0:
                break
            cy, cx = candidates[rng.integers(len(candidates))] + rng.uniform(-0.5, 0.5, 2)
            inside = _blob(y, x, (cy, cx), tuple(r), angle, harmonics)
            grown = ndimage.binary_dilation(inside, iterations=2 * supersample)
            if np.any(grown & taken):
                continue
            taken |= inside
            tumors.append(
                Tumor(
                    (float(cy), float(cx)),
                    (float(r[0]), float(r[1])),
                    float(angle),
                    float(thickness),
                )
            )
            fractions.append(_coverage(inside, shape, supersample))
            break
    if fractions:
        stack = np.stack(fractions)
    else:
        stack = np.zeros((0, *shape))
    return tumors, stack


def label_map(specimen_fraction: np.ndarray, tumor_fraction: np.ndarray) -> np.ndarray:
    """Hard labels: 0 background, 1 normal, 2 tumor (majority of the pixel's area)."""
    labels = np.zeros(specimen_fraction.shape, dtype=np.uint8)
    tissue = specimen_fraction >= 0.5
    labels[tissue] = NORMAL
    labels[tissue & (tumor_fraction >= 0.5)] = TUMOR
    return labels


def annotation_map(labels: np.ndarray, *, margin: float) -> np.ndarray:
    """A pathologist-style sparse annotation: sure tumor and sure normal, unlabelled elsewhere.

    Tumor pixels farther than ``margin`` px inside a tumor are 2; normal pixels farther than
    ``2 * margin`` px from any tumor and farther than ``margin`` px from the specimen's edge are
    1; everything else (borders, the ring around tumors, background) is 0.
    """
    tumor = labels == TUMOR
    tissue = labels > 0
    inside_tumor = ndimage.distance_transform_edt(tumor)
    from_tumor = (
        ndimage.distance_transform_edt(~tumor) if tumor.any() else np.full(labels.shape, np.inf)
    )
    inside_tissue = ndimage.distance_transform_edt(tissue)
    out = np.zeros(labels.shape, dtype=np.uint8)
    out[tumor & (inside_tumor > margin)] = TUMOR
    out[(labels == NORMAL) & (from_tumor > 2 * margin) & (inside_tissue > margin)] = NORMAL
    return out
