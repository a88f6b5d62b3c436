"""Absorption spectra of the NIR tissue chromophores: water, lipid, collagen and hemoglobin.

Water is the measured table of Segelstein (1981), shipped with the package. Lipid, collagen
and the hemoglobin of whole blood are short tables of values ("anchors", absorption
coefficient μa of the pure substance in mm⁻¹) at band maxima and the minima between them,
interpolated smoothly in log(μa) with a shape-preserving cubic (PCHIP), so the curve never
overshoots between anchors. Every anchor names its source; ``"assumption"`` marks a value no
source gave us (see ``docs/simulator.md`` for the table and how far each is known). A tissue's
absorption is the volume-fraction-weighted sum of its chromophores, the form of Jacques (2013,
eq. 12) with a collagen term added here (eq. 12 has none).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.interpolate import PchipInterpolator

from hsi_tumor._shared.errors import InvalidOptionError, WavelengthError
from hsi_tumor.datasets._parameters import SOURCES, parameter

__all__ = [
    "BANDS",
    "BLOOD_WATER",
    "CHROMOPHORES",
    "COLLAGEN_ANCHORS",
    "LIPID_ANCHORS",
    "WHOLE_BLOOD_ANCHORS",
    "absorption",
    "band_averaged_absorption",
    "blood_absorption",
    "chromophore_absorption",
    "water_table",
]

_DATA = Path(__file__).with_name("data")

#: Mammalian fat, μa in mm⁻¹, with the source of each value. van Veen et al. (2005): purified
#: lard, the omlc "fat" spectrum (published in m⁻¹, 429–1098 nm), read at its maxima (930,
#: 1040 nm), minima and flanks. Anderson et al. (2006) via Hui et al. (2016, Table 1): fat
#: at 1210 and 1730 nm (1.65 and 10.5 cm⁻¹; Anderson places the band "near 1720 nm", meat
#: spectra at 1726 nm, so the maximum is known to 1720–1730 nm). Every other value is an
#: assumption shaped after the band positions of Wilson et al. (2015) and of meat spectra
#: (1208, 1726, 2306, 2346 nm); the strengths of the 1390, 1760, 2310 and 2350 nm bands have no
#: numeric source we could read.
LIPID_ANCHORS: tuple[tuple[float, float, str], ...] = (
    (880.0, 0.001636, "vanveen2005"),
    (900.0, 0.004633, "vanveen2005"),
    (910.0, 0.007046, "vanveen2005"),
    (930.0, 0.01310, "vanveen2005"),
    (950.0, 0.003799, "vanveen2005"),
    (976.0, 0.001408, "vanveen2005"),
    (1000.0, 0.002654, "vanveen2005"),
    (1040.0, 0.007029, "vanveen2005"),
    (1070.0, 0.005065, "vanveen2005"),
    (1098.0, 0.004911, "vanveen2005"),
    (1150.0, 0.012, "assumption"),
    (1210.0, 0.165, "anderson2006"),
    (1260.0, 0.018, "assumption"),
    (1320.0, 0.020, "assumption"),
    (1390.0, 0.085, "assumption"),
    (1450.0, 0.040, "assumption"),
    (1550.0, 0.020, "assumption"),
    (1640.0, 0.060, "assumption"),
    (1700.0, 0.45, "assumption"),
    (1730.0, 1.05, "anderson2006"),
    (1745.0, 0.80, "assumption"),
    (1760.0, 0.90, "assumption"),
    (1800.0, 0.30, "assumption"),
    (1860.0, 0.06, "assumption"),
    (2000.0, 0.05, "assumption"),
    (2150.0, 0.15, "assumption"),
    (2250.0, 0.70, "assumption"),
    (2310.0, 2.40, "assumption"),
    (2330.0, 1.70, "assumption"),
    (2350.0, 2.10, "assumption"),
    (2420.0, 0.90, "assumption"),
    (2520.0, 0.70, "assumption"),
)

#: Collagen (hydrated-tissue equivalent), μa in mm⁻¹. No numeric collagen spectrum was
#: accessible to us (Sekar et al. 2017 measured 500–1700 nm, in figures only): every value is an
#: assumption, placed at the band positions of Wilson et al. (2015, ~1200 and ~1500 nm) and of
#: the C–H overtones and amide combinations (1690, 1730, 2050, 2170, 2290 nm). An illustrative
#: shape, not a measurement.
COLLAGEN_ANCHORS: tuple[tuple[float, float, str], ...] = (
    (880.0, 0.010, "assumption"),
    (1000.0, 0.010, "assumption"),
    (1100.0, 0.012, "assumption"),
    (1200.0, 0.050, "assumption"),
    (1260.0, 0.035, "assumption"),
    (1340.0, 0.045, "assumption"),
    (1420.0, 0.15, "assumption"),
    (1500.0, 0.30, "assumption"),
    (1580.0, 0.18, "assumption"),
    (1620.0, 0.20, "assumption"),
    (1690.0, 0.45, "assumption"),
    (1710.0, 0.40, "assumption"),
    (1730.0, 0.42, "assumption"),
    (1800.0, 0.22, "assumption"),
    (1900.0, 0.35, "assumption"),
    (2000.0, 0.40, "assumption"),
    (2050.0, 0.70, "assumption"),
    (2110.0, 0.50, "assumption"),
    (2170.0, 1.00, "assumption"),
    (2230.0, 0.60, "assumption"),
    (2290.0, 0.90, "assumption"),
    (2360.0, 0.70, "assumption"),
    (2520.0, 0.60, "assumption"),
)

#: Whole blood (hematocrit 45 %), μa in mm⁻¹ at SO2 > 98 % and 0 %, as tabulated by Bosschaart
#: et al. (2014, appendix; a compilation of published measurements), 900–1300 nm. The
#: hemoglobin part is this minus :data:`BLOOD_WATER` times water; beyond 1300 nm water
#: dominates and the rest cannot be separated, so the hemoglobin part is held at 0.08 mm⁻¹
#: (the rest at 1225–1350 nm and 1600–1800 nm is 0.06–0.14 mm⁻¹). 1200–1205 nm is left out:
#: a seam between compiled sources (0.37 to 0.20 mm⁻¹ in 5 nm).
WHOLE_BLOOD_ANCHORS: tuple[tuple[float, float, float], ...] = (
    (900.0, 0.56, 0.46),
    (925.0, 0.65, 0.46),
    (950.0, 0.65, 0.39),
    (975.0, 0.69, 0.31),
    (1000.0, 0.64, 0.22),
    (1025.0, 0.60, 0.27),
    (1050.0, 0.49, 0.22),
    (1075.0, 0.40, 0.19),
    (1100.0, 0.35, 0.15),
    (1125.0, 0.32, 0.14),
    (1150.0, 0.30, 0.19),
    (1175.0, 0.32, 0.21),
    (1225.0, 0.19, 0.19),
    (1250.0, 0.17, 0.17),
    (1275.0, 0.16, 0.15),
    (1300.0, 0.19, 0.20),
)
_HEMOGLOBIN_REST = 0.08  # mm⁻¹ beyond 1300 nm (see WHOLE_BLOOD_ANCHORS)

#: Volume fraction of water in whole blood of hematocrit 45 % (``blood.water`` of the parameter
#: table: an assumption).
BLOOD_WATER: float = parameter("blood.water").value

#: Band maxima (nm) within 900–2500 nm, by chromophore: water from the Segelstein table;
#: lipid from van Veen (930, 1040 nm), Anderson (1210, ~1720–1730 nm) and meat spectra
#: (2306 nm); collagen at the positions its anchors assume.
BANDS: dict[str, tuple[float, ...]] = {
    "water": (970.0, 1200.0, 1450.0, 1930.0),
    "lipid": (930.0, 1040.0, 1210.0, 1730.0, 2310.0),
    "collagen": (1200.0, 1500.0, 1690.0, 2170.0),
}

#: The chromophores known to :func:`chromophore_absorption`. ``oxyhemoglobin`` and
#: ``deoxyhemoglobin`` are the hemoglobin of whole blood (hematocrit 45 %), without its water.
CHROMOPHORES: tuple[str, ...] = ("water", "lipid", "collagen", "oxyhemoglobin", "deoxyhemoglobin")
_INTERPOLATORS: dict[str, PchipInterpolator] = {}

WAVELENGTH_LIMITS = (900.0, 2500.0)


def water_table() -> tuple[np.ndarray, np.ndarray]:
    """Absorption of pure water at 25 °C, 855–2594 nm: Segelstein (1981), as published.

    Returns
    -------
    wavelengths : ndarray of float64
        nm (the table's 191 points).
    mua : ndarray of float64
        μa = 4πk/λ in mm⁻¹, from the imaginary refractive index k of the public-domain table
        of refractiveindex.info (vendored as ``hsi_tumor/datasets/data/water_segelstein1981.csv``).
    """
    table = np.loadtxt(_DATA / "water_segelstein1981.csv", delimiter=",", comments="#", skiprows=7)
    wl_um, k = table[:, 0], table[:, 1]
    return wl_um * 1000.0, 4.0 * np.pi * k / (wl_um * 1e-3)


def _table(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(wavelengths nm, μa mm⁻¹) through which ``name`` is interpolated."""
    if name == "water":
        return water_table()
    if name in ("lipid", "collagen"):
        rows = LIPID_ANCHORS if name == "lipid" else COLLAGEN_ANCHORS
        return np.array([r[0] for r in rows]), np.array([r[1] for r in rows])
    blood = np.asarray(WHOLE_BLOOD_ANCHORS, dtype=np.float64)
    wl = blood[:, 0]
    whole = blood[:, 1] if name == "oxyhemoglobin" else blood[:, 2]
    rest = whole - BLOOD_WATER * chromophore_absorption("water", wl)
    return np.r_[wl, 1350.0, 2520.0], np.r_[rest, _HEMOGLOBIN_REST, _HEMOGLOBIN_REST]


def _interpolator(name: str) -> PchipInterpolator:
    """The cached interpolant of ``log μa`` of a known chromophore (its ``x``: the table's
    wavelengths)."""
    if name not in CHROMOPHORES:
        raise InvalidOptionError(
            f"unknown chromophore {name!r}",
            field="name",
            fix=f"use one of {', '.join(CHROMOPHORES)}",
        )
    if name not in _INTERPOLATORS:
        wl, mua = _table(name)
        _INTERPOLATORS[name] = PchipInterpolator(wl, np.log(mua))
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
    name : {'water', 'lipid', 'collagen', 'oxyhemoglobin', 'deoxyhemoglobin'}
        The hemoglobins are those of whole blood (hematocrit 45 %) without its water: use
        :func:`blood_absorption` for whole blood.
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
    Water: the Segelstein (1981) table itself (:func:`water_table`), interpolated between its
    points (4–10 nm apart). The others: the anchor tables :data:`LIPID_ANCHORS`,
    :data:`COLLAGEN_ANCHORS` and :data:`WHOLE_BLOOD_ANCHORS`, each value with its source. In
    both cases ``log μa`` is interpolated with a PCHIP (monotone piecewise-cubic Hermite), which
    keeps the local extrema of the table (band maxima stay at tabulated points) and keeps μa
    positive.

    References
    ----------
    .. [1] D. J. Segelstein, "The complex refractive index of water," M.S. thesis, University
       of Missouri–Kansas City (1981); table from refractiveindex.info (public domain).
    .. [2] R. L. P. van Veen, H. J. C. M. Sterenborg, A. Pifferi, A. Torricelli, E. Chikoidze and
       R. Cubeddu, "Determination of visible near-IR absorption coefficients of mammalian fat
       using time- and spatially resolved diffuse reflectance and transmission spectroscopy,"
       J. Biomed. Opt. 10, 054004 (2005).
    .. [3] R. R. Anderson et al., "Selective photothermolysis of lipid-rich tissues: a free
       electron laser study," Lasers Surg. Med. 38, 913–919 (2006); values as tabulated by
       J. Hui et al., Photoacoustics 4, 11–21 (2016), Table 1.
    .. [4] N. Bosschaart, G. J. Edelman, M. C. G. Aalders, T. G. van Leeuwen and D. J. Faber, "A
       literature review and novel theoretical approach on the optical properties of whole
       blood," Lasers Med. Sci. 29, 453–479 (2014).
    .. [5] R. H. Wilson, K. P. Nadeau, F. B. Jaworski, B. J. Tromberg and A. J. Durkin, "Review of
       short-wave infrared spectroscopy and imaging methods for biological tissue
       characterization," J. Biomed. Opt. 20, 030901 (2015) (band positions).

    Examples
    --------
    >>> from hsi_tumor.datasets import chromophore_absorption
    >>> chromophore_absorption("water", [970, 1450, 1930]).round(3)
    array([ 0.045,  3.152, 12.486])
    """
    interpolator = _interpolator(name)
    return np.exp(interpolator(_check_wavelengths(wavelengths)))


def blood_absorption(saturation, oxy, deoxy, water) -> np.ndarray:
    """Absorption of whole blood (hematocrit 45 %) from its parts, in mm⁻¹.

    Parameters
    ----------
    saturation : float or array-like
        Oxygen saturation SO2 (0..1); broadcasts against the spectra.
    oxy, deoxy, water : array-like
        :func:`chromophore_absorption` (or :func:`band_averaged_absorption`) of
        ``oxyhemoglobin``, ``deoxyhemoglobin`` and ``water``.

    Returns
    -------
    numpy.ndarray
        ``S μa,oxy + (1 − S) μa,deoxy + BLOOD_WATER μa,water``.
    """
    s = np.asarray(saturation)
    return s * oxy + (1.0 - s) * deoxy + BLOOD_WATER * water


def band_averaged_absorption(name: str, wavelengths, fwhm=None) -> np.ndarray:
    """Absorption of one chromophore averaged over each camera band's spectral response.

    Parameters
    ----------
    name : str
        One of :data:`CHROMOPHORES`.
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
    μa is averaged over a Gaussian spectral response function sampled at 1 nm (within the
    chromophore's table); averaging μa before the (nonlinear) reflectance model is an
    approximation that is exact for thin bands.
    """
    interpolator = _interpolator(name)
    wl = _check_wavelengths(wavelengths)
    if fwhm is None:
        step = np.median(np.diff(wl)) if wl.size > 1 else 5.0
        fwhm = 1.2 * step
    fwhm = np.broadcast_to(np.asarray(fwhm, dtype=np.float64), wl.shape)
    sigma = fwhm / (2.0 * np.sqrt(2.0 * np.log(2.0)))
    half = float(np.max(3.0 * sigma))
    lo, hi = WAVELENGTH_LIMITS
    grid = np.arange(max(wl.min() - half, lo - 20), min(wl.max() + half, hi + 20) + 1.0, 1.0)
    grid = grid[(grid >= interpolator.x[0]) & (grid <= interpolator.x[-1])]
    fine = np.exp(interpolator(grid))
    weights = np.exp(-0.5 * ((grid[None, :] - wl[:, None]) / sigma[:, None]) ** 2)
    weights /= weights.sum(axis=1, keepdims=True)
    return weights @ fine


def absorption(
    wavelengths,
    *,
    water,
    lipid,
    collagen,
    blood=0.0,
    saturation=0.7,
    baseline: float = 0.002,
) -> np.ndarray:
    """Absorption coefficient of a tissue from its chromophore volume fractions, in mm⁻¹.

    Parameters
    ----------
    wavelengths : array-like of float, shape (bands,)
        In nm, within 900–2500 nm.
    water, lipid, collagen, blood : float or array-like
        Volume fractions (0..1); ``blood`` is whole blood (its own water included, not part of
        ``water``). Arrays broadcast against each other; the band axis is added last.
    saturation : float or array-like, default=0.7
        Oxygen saturation of the blood.
    baseline : float, default=0.002
        Wavelength-independent background absorption (other proteins), mm⁻¹: an assumption.

    Returns
    -------
    numpy.ndarray
        Shape ``broadcast(water, lipid, collagen, blood, saturation).shape + (bands,)``.

    Notes
    -----
    .. math:: \\mu_a(\\lambda) = f_w\\,\\mu_{a,w} + f_l\\,\\mu_{a,l} + f_c\\,\\mu_{a,c}
              + f_b\\,[S\\,\\mu_{a,oxy} + (1-S)\\,\\mu_{a,deoxy} + 0.8\\,\\mu_{a,w}] + \\mu_{a,0}

    The form of Jacques (2013, eq. 12) with a collagen term added here (eq. 12 has none) and
    melanin left out (the stomach has none).

    References
    ----------
    .. [1] S. L. Jacques, "Optical properties of biological tissues: a review," Phys. Med. Biol.
       58, R37–R61 (2013).

    Examples
    --------
    >>> from hsi_tumor.datasets import absorption
    >>> absorption([970, 1210], water=0.7, lipid=0.1, collagen=0.1).round(4)
    array([0.0349, 0.11  ])
    """
    wl = np.asarray(wavelengths, dtype=np.float64)
    fw, fl, fc, fb, s = np.broadcast_arrays(
        *(np.asarray(v, dtype=np.float64) for v in (water, lipid, collagen, blood, saturation))
    )
    mu = {n: chromophore_absorption(n, wl) for n in CHROMOPHORES}
    blood_mu = blood_absorption(
        s[..., None], mu["oxyhemoglobin"], mu["deoxyhemoglobin"], mu["water"]
    )
    return (
        fw[..., None] * mu["water"]
        + fl[..., None] * mu["lipid"]
        + fc[..., None] * mu["collagen"]
        + fb[..., None] * blood_mu
        + baseline
    )


_KNOWN = {
    ("water", "segelstein1981"): (
        "a measured table (25 °C; the bands of tissue at 20–37 °C shift by a few nm, not "
        "modelled); tested within 5 % of the reference copy over 900–2500 nm"
    ),
    ("lipid", "vanveen2005"): (
        "one sample of purified lard; values under 0.002 mm⁻¹ (880, 976 nm) uncertain to tens "
        "of per cent"
    ),
    ("lipid", "anderson2006"): (
        "two values; sources place the first-overtone maximum at 1720–1730 nm"
    ),
    ("lipid", "assumption"): (
        "shape only: band positions from Wilson et al. 2015 and meat spectra (1208, 1726, "
        "2306, 2346 nm); no numeric source for these strengths"
    ),
    ("collagen", "assumption"): (
        "illustrative: no numeric collagen spectrum was accessible (Sekar et al. 2017 show "
        "500–1700 nm in figures only); band positions after Wilson et al. 2015"
    ),
    ("whole blood (oxy / deoxy)", "bosschaart2014"): (
        "a compilation; the hemoglobin part (minus 0.8 x water, an assumption) is held at "
        "0.08 mm⁻¹ beyond 1300 nm, where water dominates (assumption)"
    ),
}


def chromophore_table() -> str:
    """Markdown table of the chromophore values: for each chromophore and source, the values
    (nm: mm⁻¹) and how far they are known. ``docs/simulator.md`` holds it beside the
    parameter table."""
    lines = [
        "| chromophore | source | values (nm: μa in mm⁻¹) | how far known |",
        "| --- | --- | --- | --- |",
    ]
    wl, _ = water_table()
    lines.append(
        f"| water | {SOURCES['segelstein1981'][0]} | the table: {wl.size} points, "
        f"{wl[0]:.0f}–{wl[-1]:.0f} nm "
        f"| {_KNOWN['water', 'segelstein1981']} |"
    )
    for name, rows in (("lipid", LIPID_ANCHORS), ("collagen", COLLAGEN_ANCHORS)):
        for source in dict.fromkeys(r[2] for r in rows):
            values = ", ".join(f"{w:g}: {v:.3g}" for w, v, s in rows if s == source)
            lines.append(f"| {name} | {SOURCES[source][0]} | {values} | {_KNOWN[name, source]} |")
    blood = "whole blood (oxy / deoxy)"
    values = ", ".join(f"{w:g}: {o:g} / {d:g}" for w, o, d in WHOLE_BLOOD_ANCHORS)
    known = _KNOWN[blood, "bosschaart2014"]
    lines.append(f"| {blood} | {SOURCES['bosschaart2014'][0]} | {values} | {known} |")
    return "\n".join(lines) + "\n"
