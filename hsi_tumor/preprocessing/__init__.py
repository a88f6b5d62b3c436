"""Spectral preprocessing: scikit-learn transformers on ``(n_pixels, n_bands)`` arrays.

Every class here is a scikit-learn transformer (it passes ``parametrize_with_checks``), so it
goes into a :class:`sklearn.pipeline.Pipeline` before a classifier and is fitted on training
pixels only. All of them keep float32 input as float32 (half the memory of a cube in float64).

Scatter and baseline correction
    :class:`StandardNormalVariate` (per spectrum, no reference),
    :class:`MultiplicativeScatterCorrection` (against a learned reference spectrum).
Smoothing and derivatives
    :class:`SavitzkyGolay` (:func:`scipy.signal.savgol_filter` along the bands).
Conversion
    :class:`Absorbance` (reflectance to ``-log10 R``, with ``inverse_transform``).
Band selection (need the band centres, ``wavelengths=``, in nm)
    :class:`WavelengthRange`, :class:`BadBandRemoval`.
Per-spectrum normalisation
    :class:`AreaNormalization`, :class:`VectorNormalization`, :class:`MinMaxNormalization`.

Rows that cannot be transformed (a flat spectrum for SNV, a zero spectrum for a normalisation,
non-positive reflectance before the logarithm) give a finite, documented result and a
:class:`DegenerateSpectrumWarning`.

On a cube
    :func:`transform_cube` applies any fitted transformer or Pipeline tile by tile and keeps
    the wavelengths right (kept, selected, or dropped for new features such as PCA scores).

Dimensionality reduction: use scikit-learn's own classes, there is no wrapper here.

* :class:`sklearn.decomposition.PCA` with ``svd_solver="randomized"`` (and ``random_state``)
  when the training pixels fit in memory at once — up to a few million pixels: 4 million pixels
  × 200 bands in float32 is 3.2 GB. It is the faster and exact-enough choice, and works on
  float32 without copying to float64.
* :class:`sklearn.decomposition.IncrementalPCA` when they do not: call ``partial_fit`` on one
  tile of pixels at a time (each tile at least ``n_components`` pixels), then ``transform``
  tile by tile. Memory is then bounded by the tile, not by the image.

Both take the output of the transformers above; put the scatter correction before the PCA so
that the components describe chemistry rather than illumination.
"""

from hsi_tumor.preprocessing._absorbance import Absorbance
from hsi_tumor.preprocessing._base import DegenerateSpectrumWarning
from hsi_tumor.preprocessing._multiplicative_scatter_correction import (
    MultiplicativeScatterCorrection,
)
from hsi_tumor.preprocessing._normalization import (
    AreaNormalization,
    MinMaxNormalization,
    VectorNormalization,
)
from hsi_tumor.preprocessing._savitzky_golay import SavitzkyGolay
from hsi_tumor.preprocessing._standard_normal_variate import StandardNormalVariate
from hsi_tumor.preprocessing._transform_cube import transform_cube
from hsi_tumor.preprocessing._wavelength_selection import (
    WATER_ABSORPTION_RANGES,
    BadBandRemoval,
    WavelengthRange,
)

__all__ = [
    "WATER_ABSORPTION_RANGES",
    "Absorbance",
    "AreaNormalization",
    "BadBandRemoval",
    "DegenerateSpectrumWarning",
    "MinMaxNormalization",
    "MultiplicativeScatterCorrection",
    "SavitzkyGolay",
    "StandardNormalVariate",
    "VectorNormalization",
    "WavelengthRange",
    "transform_cube",
]
