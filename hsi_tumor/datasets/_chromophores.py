"""Absorption spectra of the NIR tissue chromophores: water, lipid and collagen.

Each spectrum is built from a short table of published values at the band maxima and the minima
between them ("anchors", absorption coefficient μa of the pure substance in mm⁻¹), interpolated
smoothly in log(μa) with a shape-preserving cubic (PCHIP), so every band maximum sits exactly at
its published position and the curve never overshoots between anchors. A tissue's absorption is
the volume-fraction-weighted sum of its chromophores (Jacques 2013, eq. 12).

The anchor values are rounded readings of the cited tables and figures; they are good to about
±20 % for water and ±30–50 % for lipid and collagen (whose published spectra differ that much
between samples and methods), which is ample for a simulator and not a reference standard.
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import PchipInterpolator

from hsi_tumor._shared.errors import InvalidOptionError, WavelengthError

__all__ = [
    "BANDS",
    "CHROMOPHORES",
    "COLLAGEN_ANCHORS",
    "LIPID_ANCHORS",
    "WATER_ANCHORS",
    "absorption",
    "band_averaged_absorption",
    "chromophore_absorption",
]

#: Pure water at ~25 °C, μa in mm⁻¹ (λ in nm). Hale & Querry (1973) and Kou, Labrie & Chylek
#: (1993), rounded; maxima at 970, 1190, 1450 and 1930 nm (O–H overtone and combination bands).
WATER_ANCHORS: tuple[tuple[float, float], ...] = (
    (880.0, 0.0055),
    (900.0, 0.0068),
    (940.0, 0.025),
    (970.0, 0.046),
    (1000.0, 0.036),
    (1040.0, 0.017),
    (1075.0, 0.013),
    (1110.0, 0.019),
    (1150.0, 0.075),
    (1190.0, 0.105),
    (1240.0, 0.090),
    (1280.0, 0.100),
    (1320.0, 0.15),
    (1360.0, 0.45),
    (1400.0, 1.25),
    (1450.0, 3.0),
    (1500.0, 2.0),
    (1550.0, 0.98),
    (1600.0, 0.66),
    (1650.0, 0.53),
    (1690.0, 0.52),
    (1730.0, 0.70),
    (1790.0, 0.82),
    (1850.0, 1.4),
    (1900.0, 7.5),
    (1930.0, 11.8),
    (1960.0, 10.5),
    (2000.0, 6.8),
    (2100.0, 2.6),
    (2200.0, 1.65),
    (2300.0, 2.6),
    (2400.0, 5.0),
    (2500.0, 8.5),
    (2520.0, 9.5),
)

#: Mammalian fat (lard / adipose lipid), μa in mm⁻¹. van Veen et al. (2005) below 1100 nm,
#: Nachabé et al. (2010) to 1600 nm and Wilson et al. (2015) beyond, rounded; maxima at 930,
#: 1040, 1210, 1390 (C–H combination), 1730 and 1760 (C–H first overtones), 2310 and 2350 nm.
LIPID_ANCHORS: tuple[tuple[float, float], ...] = (
    (880.0, 0.0030),
    (900.0, 0.0035),
    (930.0, 0.012),
    (970.0, 0.004),
    (1040.0, 0.0065),
    (1090.0, 0.004),
    (1150.0, 0.012),
    (1210.0, 0.11),
    (1260.0, 0.018),
    (1320.0, 0.020),
    (1390.0, 0.085),
    (1450.0, 0.040),
    (1550.0, 0.020),
    (1640.0, 0.060),
    (1700.0, 0.45),
    (1730.0, 1.10),
    (1745.0, 0.80),
    (1760.0, 0.90),
    (1800.0, 0.30),
    (1860.0, 0.06),
    (2000.0, 0.05),
    (2150.0, 0.15),
    (2250.0, 0.70),
    (2310.0, 2.40),
    (2330.0, 1.70),
    (2350.0, 2.10),
    (2420.0, 0.90),
    (2520.0, 0.70),
)

#: Collagen (type I, hydrated-tissue equivalent), μa in mm⁻¹. Sekar et al. (2017) to 1700 nm and
#: Wilson et al. (2015) beyond, rounded; maxima at 1200 (C–H), 1500 (N–H), 1690 and 1730 (C–H
#: first overtones), 2050, 2170 (amide combinations) and 2290 nm.
COLLAGEN_ANCHORS: tuple[tuple[float, float], ...] = (
    (880.0, 0.010),
    (1000.0, 0.010),
    (1100.0, 0.012),
    (1200.0, 0.050),
    (1260.0, 0.035),
    (1340.0, 0.045),
    (1420.0, 0.15),
    (1500.0, 0.30),
    (1580.0, 0.18),
    (1620.0, 0.20),
    (1690.0, 0.45),
    (1710.0, 0.40),
    (1730.0, 0.42),
    (1800.0, 0.22),
    (1900.0, 0.35),
    (2000.0, 0.40),
    (2050.0, 0.70),
    (2110.0, 0.50),
    (2170.0, 1.00),
    (2230.0, 0.60),
    (2290.0, 0.90),
    (2360.0, 0.70),
    (2520.0, 0.60),
)

#: Published band maxima (nm) within 900–2500 nm, by chromophore.
BANDS: dict[str, tuple[float, ...]] = {
    "water": (970.0, 1190.0, 1450.0, 1930.0),
    "lipid": (1210.0, 1390.0, 1730.0, 1760.0, 2310.0),
    "collagen": (1200.0, 1500.0, 1690.0, 2170.0),
}

_ANCHORS = {"water": WATER_ANCHORS, "lipid": LIPID_ANCHORS, "collagen": COLLAGEN_ANCHORS}
#: The chromophores known to :func:`chromophore_absorption`, in the order of :func:`absorption`.
CHROMOPHORES: tuple[str, ...] = ("water", "lipid", "collagen")
_INTERPOLATORS: dict[str, PchipInterpolator] = {}

WAVELENGTH_LIMITS = (900.0, 2500.0)


def _interpolator(name: str) -> PchipInterpolator:
    if name not in _INTERPOLATORS:
        table = np.asarray(_ANCHORS[name], dtype=np.float64)
        _INTERPOLATORS[name] = PchipInterpolator(table[:, 0], np.log(table[:, 1]))
    return _INTERPOLATORS[name]


def _check_wavelengths(wavelengths) -> np.ndarray:
    wl = np.asarray(wavelengths, dtype=np.float64)
    lo, hi = WAVELENGTH_LIMITS
    if wl.ndim != 1 or wl.size == 0 or not np.all(np.isfinite(wl)):
        raise WavelengthError(
            f"wavelengths must be a non-empty 1-D array of finite values in nm, got shape "
            f"{wl.shape}",
            field="wavelengths",
            fix="give band centres in nm, e.g. np.linspace(900, 1700, 128)",
        )
    if wl.min() < lo or wl.max() > hi:
        raise WavelengthError(
            f"the simulator covers {lo:g}–{hi:g} nm, got {wl.min():g}–{wl.max():g} nm",
            field="wavelengths",
            fix=f"keep the band centres within {lo:g}–{hi:g} nm",
        )
    return wl


def chromophore_absorption(name: str, wavelengths) -> np.ndarray:
    """Absorption coefficient of one pure chromophore, in mm⁻¹.

    Parameters
    ----------
    name : {'water', 'lipid', 'collagen'}
    wavelengths : array-like of float, shape (bands,)
        In nm, within 900–2500 nm.

    Returns
    -------
    numpy.ndarray of float64, shape (bands,)
        μa in mm⁻¹ of the pure substance (volume fraction 1).

    Raises
    ------
    InvalidOptionError
        If ``name`` is not a known chromophore.
    WavelengthError
        If a wavelength lies outside 900–2500 nm.

    Notes
    -----
    ``log μa`` is interpolated with a PCHIP (monotone piecewise-cubic Hermite) through the anchor
    table of the chromophore (:data:`WATER_ANCHORS`, :data:`LIPID_ANCHORS`,
    :data:`COLLAGEN_ANCHORS`), which holds each published band maximum and the minima between
    them. PCHIP keeps the local extrema of the data, so the band maxima are exactly at the
    tabulated positions, and interpolating the logarithm keeps μa positive.

    References
    ----------
    .. [1] G. M. Hale and M. R. Querry, "Optical constants of water in the 200-nm to 200-µm
       wavelength region," Appl. Opt. 12, 555–563 (1973).
    .. [2] L. Kou, D. Labrie and P. Chylek, "Refractive indices of water and ice in the 0.65- to
       2.5-µm spectral range," Appl. Opt. 32, 3531–3540 (1993).
    .. [3] R. L. P. van Veen, H. J. C. M. Sterenborg, A. Pifferi, A. Torricelli, E. Chikoidze and
       R. Cubeddu, "Determination of visible near-IR absorption coefficients of mammalian fat
       using time- and spatially resolved diffuse reflectance and transmission spectroscopy,"
       J. Biomed. Opt. 10, 054004 (2005).
    .. [4] R. Nachabé, B. H. W. Hendriks, A. E. Desjardins, M. van der Voort, M. B. van der Mark
       and H. J. C. M. Sterenborg, "Estimation of lipid and water concentrations in scattering
       media with diffuse optical spectroscopy from 900 to 1600 nm," J. Biomed. Opt. 15,
       037015 (2010).
    .. [5] S. K. V. Sekar, I. Bargigia, A. Dalla Mora, P. Taroni, A. Ruggeri, A. Tosi, A. Pifferi
       and A. Farina, "Diffuse optical characterization of collagen absorption from 500 to
       1700 nm," J. Biomed. Opt. 22, 015006 (2017).
    .. [6] R. H. Wilson, K. P. Nadeau, F. B. Jaworski, B. J. Tromberg and A. J. Durkin, "Review of
       short-wave infrared spectroscopy and imaging methods for biological tissue
       characterization," J. Biomed. Opt. 20, 030901 (2015).

    Examples
    --------
    >>> from hsi_tumor.datasets import chromophore_absorption
    >>> chromophore_absorption("water", [970, 1450, 1930]).round(3)
    array([ 0.046,  3.   , 11.8  ])
    """
    if name not in _ANCHORS:
        raise InvalidOptionError(
            f"unknown chromophore {name!r}",
            field="name",
            fix=f"use one of {', '.join(CHROMOPHORES)}",
        )
    wl = _check_wavelengths(wavelengths)
    return np.exp(_interpolator(name)(wl))


def band_averaged_absorption(name: str, wavelengths, fwhm=None) -> np.ndarray:
    """Absorption of one chromophore averaged over each camera band's spectral response.

    Parameters
    ----------
    name : {'water', 'lipid', 'collagen'}
    wavelengths : array-like of float, shape (bands,)
        Band centres in nm, within 900–2500 nm.
    fwhm : float or array-like, optional
        Full width at half maximum of each band's Gaussian response, nm. Default: 1.2 times the
        band spacing (a typical pushbroom spectrograph).

    Returns
    -------
    numpy.ndarray of float64, shape (bands,)
        μa in mm⁻¹.

    Notes
    -----
    μa is averaged over a Gaussian spectral response function sampled at 1 nm; averaging μa
    before the (nonlinear) reflectance model is an approximation that is exact for thin bands.
    """
    wl = _check_wavelengths(wavelengths)
    if fwhm is None:
        step = np.median(np.diff(wl)) if wl.size > 1 else 5.0
        fwhm = 1.2 * step
    fwhm = np.broadcast_to(np.asarray(fwhm, dtype=np.float64), wl.shape)
    sigma = fwhm / (2.0 * np.sqrt(2.0 * np.log(2.0)))
    half = float(np.max(3.0 * sigma))
    lo, hi = WAVELENGTH_LIMITS
    grid = np.arange(max(wl.min() - half, lo - 20), min(wl.max() + half, hi + 20) + 1.0, 1.0)
    table = np.asarray(_ANCHORS[name], dtype=np.float64)
    grid = grid[(grid >= table[0, 0]) & (grid <= table[-1, 0])]
    fine = np.exp(_interpolator(name)(grid))
    weights = np.exp(-0.5 * ((grid[None, :] - wl[:, None]) / sigma[:, None]) ** 2)
    weights /= weights.sum(axis=1, keepdims=True)
    return weights @ fine


def absorption(wavelengths, *, water, lipid, collagen, baseline: float = 0.002) -> np.ndarray:
    """Absorption coefficient of a tissue from its chromophore volume fractions, in mm⁻¹.

    Parameters
    ----------
    wavelengths : array-like of float, shape (bands,)
        In nm, within 900–2500 nm.
    water, lipid, collagen : float or array-like
        Volume fractions (0..1). Arrays broadcast against each other; the band axis is added
        last.
    baseline : float, default=0.002
        Wavelength-independent background absorption (other proteins, residual blood), mm⁻¹.

    Returns
    -------
    numpy.ndarray
        Shape ``broadcast(water, lipid, collagen).shape + (bands,)``.

    Notes
    -----
    .. math:: \\mu_a(\\lambda) = f_w\\,\\mu_{a,w}(\\lambda) + f_l\\,\\mu_{a,l}(\\lambda)
              + f_c\\,\\mu_{a,c}(\\lambda) + \\mu_{a,0}

    (Jacques 2013, eq. 12, without blood and melanin, which absorb little above 900 nm.)

    References
    ----------
    .. [1] S. L. Jacques, "Optical properties of biological tissues: a review," Phys. Med. Biol.
       58, R37–R61 (2013).

    Examples
    --------
    >>> from hsi_tumor.datasets import absorption
    >>> absorption([970, 1210], water=0.7, lipid=0.1, collagen=0.1).round(4)
    array([0.0356, 0.0875])
    """
    wl = np.asarray(wavelengths, dtype=np.float64)
    fw, fl, fc = np.broadcast_arrays(
        *(np.asarray(v, dtype=np.float64) for v in (water, lipid, collagen))
    )
    spectra = [chromophore_absorption(n, wl) for n in CHROMOPHORES]
    return (
        fw[..., None] * spectra[0]
        + fl[..., None] * spectra[1]
        + fc[..., None] * spectra[2]
        + baseline
    )
