"""The normal stomach wall of one simulated specimen: mucosa thickness, fat, blood, folds, glare.

Every field is a (rows, cols) array drawn from smooth random fields and simple shapes; the
constants come from :mod:`hsi_tumor.datasets._parameters` (most are stated assumptions).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from hsi_tumor.datasets._geometry import smooth_field
from hsi_tumor.datasets._parameters import parameter

__all__ = ["Anatomy", "draw_anatomy"]


@dataclass
class Anatomy:
    """What makes one specimen's normal tissue vary, per pixel.

    Attributes
    ----------
    mucosa : ndarray of float64
        Thickness of the mucosa over the deeper wall, mm.
    lobules : ndarray of float64
        Share (0..1) of the deep layer (submucosa and muscularis) that is fat.
    surface_fat : ndarray of float64
        Share (0..1) of the surface covered by fat (serosal fat left on the margin).
    blood : ndarray of float64
        Blood volume fraction added to the mucosa by vessels and bruises.
    bruise : ndarray of float64
        The part of ``blood`` that is a bruise (extravasated, deoxygenated blood).
    height : ndarray of float64
        Surface height of the mucosal folds, mm.
    shading : ndarray of float64
        Factor on the diffuse reflectance: the rounded edge and the tilt of the folds.
    glare : ndarray of float64
        Specular glare added to the reflectance (spectrally flat).
    """

    mucosa: np.ndarray
    lobules: np.ndarray
    surface_fat: np.ndarray
    blood: np.ndarray
    bruise: np.ndarray
    height: np.ndarray
    shading: np.ndarray
    glare: np.ndarray


def _uniform(rng, key: str) -> float:
    low, high = parameter(key).value
    return float(rng.uniform(low, high))


def _count(rng, key: str) -> int:
    low, high = parameter(key).value
    return int(rng.integers(int(low), int(high) + 1))


def _soft_share(field: np.ndarray, share: float, where: np.ndarray, softness=0.25) -> np.ndarray:
    """0..1 weights covering about ``share`` of ``where``: a soft threshold of ``field``."""
    if share <= 0 or not where.any():
        return np.zeros_like(field)
    level = np.quantile(field[where], 1.0 - share)
    return 1.0 / (1.0 + np.exp(-(field - level) / softness))


def _folds(rng, shape, pixel_size: float, inside: np.ndarray) -> np.ndarray:
    """Mucosal folds (rugae): meandering parallel ridges, 0 to their height, mm."""
    rows, cols = shape
    wavelength = _uniform(rng, "folds.wavelength")
    height = _uniform(rng, "folds.height")
    angle = rng.uniform(0, np.pi)
    yy, xx = np.mgrid[:rows, :cols] * pixel_size
    meander = 0.6 * wavelength * smooth_field(rng, shape, max(2.0, 6.0 / pixel_size))
    across = xx * np.cos(angle) + yy * np.sin(angle) + meander
    phase = rng.uniform(0, 2 * np.pi)
    fade = np.clip(0.7 + 0.3 * smooth_field(rng, shape, max(2.0, 10.0 / pixel_size)), 0.2, 1)
    ridges = 0.5 * (1.0 + np.cos(2 * np.pi * across / wavelength + phase))
    return height * fade * ridges * np.clip(inside / 3.0, 0.0, 1.0)


def _shading(rng, height: np.ndarray, inside: np.ndarray, pixel_size: float) -> np.ndarray:
    """Rounded edge (``shading.edge`` at the rim, 1 a few mm in) times the cosine of the
    folds' tilt (light and camera overhead), with a ±3 % smooth variation."""
    edge = parameter("shading.edge").value
    rim = edge + (1.0 - edge) * (1.0 - np.exp(-inside / 3.0))
    gy, gx = np.gradient(height, pixel_size)
    tilt = 1.0 / np.sqrt(1.0 + gx**2 + gy**2)
    corr = max(2.0, 8.0 / pixel_size)
    return rim * tilt + 0.03 * smooth_field(rng, height.shape, corr)


def _vessels(rng, specimen: np.ndarray, pixel_size: float) -> np.ndarray:
    """Blood fraction of a few meandering vessels (Gaussian cross-section, partial volume)."""
    rows, cols = specimen.shape
    blood = np.zeros((rows, cols))
    inside = np.argwhere(specimen)
    if inside.size == 0:
        return blood
    axis_blood = parameter("vessels.blood").value
    for _ in range(_count(rng, "vessels.count")):
        width = _uniform(rng, "vessels.width") / pixel_size  # px
        sigma = width / 2.355
        spread = max(sigma, 0.5)
        amplitude = axis_blood * sigma / spread  # the same blood per unit length
        point = inside[rng.integers(len(inside))].astype(float)
        steps = max(2, int(rng.uniform(20.0, 60.0) / pixel_size * 2))  # 0.5 px steps
        heading = rng.uniform(0, 2 * np.pi) + np.cumsum(rng.normal(0.0, 0.08, steps))
        path = point + 0.5 * np.cumsum(np.c_[np.sin(heading), np.cos(heading)], axis=0)
        cells = np.rint(path).astype(int)
        ok = (cells[:, 0] >= 0) & (cells[:, 0] < rows) & (cells[:, 1] >= 0) & (cells[:, 1] < cols)
        cells = cells[: np.argmin(ok) if not ok.all() else steps]
        track = np.zeros((rows, cols), dtype=bool)
        track[cells[:, 0], cells[:, 1]] = True
        distance = ndimage.distance_transform_edt(~track)
        blood = np.maximum(blood, amplitude * np.exp(-0.5 * (distance / spread) ** 2))
    return blood * specimen


def _bruises(rng, specimen: np.ndarray, inside: np.ndarray, pixel_size: float) -> np.ndarray:
    rows, cols = specimen.shape
    out = np.zeros((rows, cols))
    candidates = np.argwhere(inside > 2.0)
    if candidates.size == 0:
        return out
    yy, xx = np.mgrid[:rows, :cols]
    for _ in range(_count(rng, "bruises.count")):
        cy, cx = candidates[rng.integers(len(candidates))]
        radius = _uniform(rng, "bruises.radius") / pixel_size
        extra = _uniform(rng, "bruises.blood")
        out += extra * np.exp(-0.5 * ((yy - cy) ** 2 + (xx - cx) ** 2) / (radius / 1.5) ** 2)
    return out * specimen


def _glare(rng, height: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Specular glints on the wet surface, where a fold crest faces the camera."""
    rows, cols = height.shape
    glare = np.zeros((rows, cols))
    deep = inside > 2.0
    crest = deep & (height >= 0.8 * height[deep].max()) if deep.any() else deep
    candidates = np.argwhere(crest if crest.sum() >= 10 else deep)
    if candidates.size == 0:
        return glare
    yy, xx = np.ogrid[:rows, :cols]
    low, high = parameter("glare.peak").value
    for _ in range(_count(rng, "glare.count")):
        cy, cx = candidates[rng.integers(len(candidates))]
        sigma = rng.uniform(0.6, 2.0)
        peak = rng.uniform(low, high)
        glare += peak * np.exp(-0.5 * ((yy - cy) ** 2 + (xx - cx) ** 2) / sigma**2)
    glare[glare < 0.02] = 0.0
    return glare


def draw_anatomy(
    rng: np.random.Generator,
    specimen_fraction: np.ndarray,
    pixel_size: float,
    mucosa_thickness: float,
) -> Anatomy:
    """Draw the anatomy of one specimen.

    Parameters
    ----------
    rng : numpy.random.Generator
    specimen_fraction : ndarray, shape (rows, cols)
        Area fraction of each pixel covered by the specimen.
    pixel_size : float
        mm per pixel.
    mucosa_thickness : float
        The patient's mean mucosa thickness, mm.
    """
    shape = specimen_fraction.shape
    specimen = specimen_fraction >= 0.5
    inside = ndimage.distance_transform_edt(specimen) * pixel_size  # mm from the edge
    corr = max(2.0, parameter("texture.correlation").value / pixel_size)

    height = _folds(rng, shape, pixel_size, inside)
    top = max(float(height.max()), 1e-9)
    thickening = parameter("folds.thickening").value
    spread = parameter("mucosa.thickness_texture").value
    mucosa = (
        mucosa_thickness
        * np.exp(spread * smooth_field(rng, shape, 2 * corr) - 0.5 * spread**2)
        * (1.0 + thickening * height / top)
    )
    lobule_size = max(1.5, parameter("lobules.size").value / pixel_size)
    lobules = _soft_share(
        smooth_field(rng, shape, lobule_size), _uniform(rng, "lobules.share"), specimen
    )
    margin = parameter("serosal_fat.margin").value
    band = specimen & (inside < margin)
    surface_fat = (
        _soft_share(smooth_field(rng, shape, corr), _uniform(rng, "serosal_fat.share"), band)
        * np.clip(1.0 - inside / margin, 0.0, 1.0) ** 0.5
    )
    bruise = _bruises(rng, specimen_fraction, inside, pixel_size)
    blood = _vessels(rng, specimen, pixel_size) + bruise
    shading = _shading(rng, height, inside, pixel_size)
    glare = _glare(rng, height, inside)
    return Anatomy(
        mucosa=mucosa,
        lobules=lobules,
        surface_fat=surface_fat,
        blood=blood,
        bruise=bruise,
        height=height,
        shading=shading,
        glare=glare,
    )
