"""Tissue optics in closed form: reduced scattering, diffuse reflectance, penetration depth.

All lengths are in mm and coefficients in mm⁻¹. The functions are plain numpy ufunc-style
expressions that broadcast over any shape (pixels x bands), so a whole cube is computed at once.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "diffuse_reflectance",
    "internal_reflection_parameter",
    "layered_reflectance",
    "penetration_depth",
    "reduced_scattering",
]


def reduced_scattering(wavelengths, a, b, *, reference_nm: float = 500.0) -> np.ndarray:
    """Reduced scattering coefficient as a power law of wavelength, in mm⁻¹.

    Parameters
    ----------
    wavelengths : array-like of float, shape (bands,)
        In nm.
    a : float or array-like
        μs' at ``reference_nm``, mm⁻¹ (arrays broadcast; the band axis is added last).
    b : float or array-like
        Scattering power (dimensionless).
    reference_nm : float, default=500
        Reference wavelength λ0 (Jacques 2013 uses 500 nm).

    Returns
    -------
    numpy.ndarray
        Shape ``broadcast(a, b).shape + (bands,)``.

    Notes
    -----
    .. math:: \\mu_s'(\\lambda) = a \\left(\\frac{\\lambda}{\\lambda_0}\\right)^{-b}

    Jacques (2013, Table 2, means over studies) gives for 'other soft tissues'
    a ≈ 1.89 mm⁻¹ (18.9 ± 10.2 cm⁻¹) and b ≈ 1.29, 'other fibrous tissues' a ≈ 2.71 mm⁻¹ and
    b ≈ 1.63, 'fatty tissue' a ≈ 1.84 mm⁻¹ and b ≈ 0.67, and (Table 1) for the stomach wall
    a = 1.91 mm⁻¹, b = 0.97. Jacques states the fits are good for 400–1300 nm and that more
    data are needed at longer wavelengths: beyond ~1300 nm the power law is an extrapolation.

    References
    ----------
    .. [1] S. L. Jacques, "Optical properties of biological tissues: a review," Phys. Med. Biol.
       58, R37–R61 (2013).

    Examples
    --------
    >>> from hsi_tumor.datasets import reduced_scattering
    >>> reduced_scattering([500, 1000], a=2.0, b=1.0)
    array([2., 1.])
    """
    wl = np.asarray(wavelengths, dtype=np.float64)
    a = np.asarray(a, dtype=np.float64)[..., None]
    b = np.asarray(b, dtype=np.float64)[..., None]
    return a * (wl / reference_nm) ** (-b)


def internal_reflection_parameter(n: float = 1.4) -> float:
    """Boundary parameter A of the diffusion approximation for a tissue–air interface.

    Parameters
    ----------
    n : float, default=1.4
        Refractive index of tissue relative to the outside (air: 1).

    Returns
    -------
    float
        ``A = (1 + r_id) / (1 − r_id)`` with the empirical internal diffuse reflection
        ``r_id = −1.440 n⁻² + 0.710 n⁻¹ + 0.668 + 0.0636 n`` (Groenhuis et al. 1983), as used by
        Farrell et al. (1992). A ≈ 3.25 for n = 1.4.

    References
    ----------
    .. [1] R. A. J. Groenhuis, H. A. Ferwerda and J. J. Ten Bosch, "Scattering and absorption of
       turbid materials determined from reflection measurements. 1: Theory," Appl. Opt. 22,
       2456–2462 (1983).

    Examples
    --------
    >>> from hsi_tumor.datasets import internal_reflection_parameter
    >>> round(internal_reflection_parameter(1.4), 3)
    3.251
    >>> internal_reflection_parameter(1.0)
    1.0...
    """
    r_id = -1.440 / n**2 + 0.710 / n + 0.668 + 0.0636 * n
    return (1.0 + r_id) / (1.0 - r_id)


def diffuse_reflectance(mua, musp, *, n: float = 1.4) -> np.ndarray:
    """Total diffuse reflectance of a semi-infinite turbid medium (diffusion approximation).

    Parameters
    ----------
    mua : array-like
        Absorption coefficient μa, mm⁻¹.
    musp : array-like
        Reduced scattering coefficient μs', mm⁻¹ (broadcasts with ``mua``).
    n : float, default=1.4
        Refractive index of the tissue relative to air.

    Returns
    -------
    numpy.ndarray
        Reflectance in [0, 1], the dtype of the inputs when floating (float32 stays float32).

    Notes
    -----
    Farrell, Patterson & Wilson (1992) integrated their dipole solution for the spatially
    resolved reflectance over the surface, giving the total diffuse reflectance as a function
    of the reduced albedo ``a' = μs' / (μa + μs')`` alone:

    .. math::

       R_d = \\frac{a'}{2}\\, e^{-\\sqrt{3(1-a')}}
             \\left(1 + e^{-\\frac{4}{3} A \\sqrt{3(1-a')}}\\right)

    with the boundary parameter ``A`` of :func:`internal_reflection_parameter`. ``R_d`` rises
    monotonically from 0 at ``a' = 0`` to 1 at ``a' = 1`` (no absorption) and falls as μa
    grows. The diffusion approximation needs μs' ≫ μa; where μa is comparable to μs' (water
    bands at 1450 and 1930 nm) it is inaccurate and gives only the order of magnitude.

    References
    ----------
    .. [1] T. J. Farrell, M. S. Patterson and B. C. Wilson, "A diffusion theory model of
       spatially resolved, steady-state diffuse reflectance for the noninvasive determination
       of tissue optical properties in vivo," Med. Phys. 19, 879–888 (1992).
    .. [2] S. L. Jacques and B. W. Pogue, "Tutorial on diffuse light transport," J. Biomed.
       Opt. 13, 041302 (2008).

    Examples
    --------
    >>> from hsi_tumor.datasets import diffuse_reflectance
    >>> diffuse_reflectance([0.0, 0.02, 3.0], 1.0).round(3)
    array([1.   , 0.519, 0.028])
    """
    mua = np.asarray(mua)
    musp = np.asarray(musp)
    if mua.dtype.kind != "f":
        mua = mua.astype(np.float64)
    if musp.dtype.kind != "f":
        musp = musp.astype(np.float64)
    big_a = internal_reflection_parameter(n)
    albedo = musp / (mua + musp)
    s = np.sqrt(3.0 * (1.0 - albedo))
    k = np.asarray(-4.0 / 3.0 * big_a, dtype=s.dtype)
    return 0.5 * albedo * np.exp(-s) * (1.0 + np.exp(k * s))


def penetration_depth(mua, musp) -> np.ndarray:
    """Optical penetration depth δ = 1/μeff of diffuse light, in mm.

    Parameters
    ----------
    mua, musp : array-like
        Absorption and reduced scattering coefficients, mm⁻¹.

    Returns
    -------
    numpy.ndarray

    Notes
    -----
    .. math:: \\delta = \\frac{1}{\\mu_{eff}} = \\frac{1}{\\sqrt{3\\mu_a(\\mu_a + \\mu_s')}}

    The fluence of diffuse light falls as ``exp(−z/δ)`` with depth z (Jacques & Pogue 2008).

    Examples
    --------
    >>> from hsi_tumor.datasets import penetration_depth
    >>> float(penetration_depth(0.01, 1.0).round(3))
    5.745
    """
    mua = np.asarray(mua)
    musp = np.asarray(musp)
    return 1.0 / np.sqrt(3.0 * mua * (mua + musp))


def layered_reflectance(r_top, r_bottom, thickness, depth) -> np.ndarray:
    """Reflectance of a top layer over a deeper tissue, mixed by the penetration depth.

    Parameters
    ----------
    r_top : array-like
        Diffuse reflectance of a semi-infinite slab of the top-layer tissue.
    r_bottom : array-like
        Diffuse reflectance of a semi-infinite slab of the deeper tissue.
    thickness : array-like
        Thickness d of the top layer, mm (0: the deeper tissue is exposed).
    depth : array-like
        Penetration depth δ(λ) of the top layer, mm (:func:`penetration_depth`).

    Returns
    -------
    numpy.ndarray

    Notes
    -----
    A first-order two-layer approximation, not an exact two-layer diffusion solution: the
    fraction of the diffusely reflected light that has visited depths below d is taken as the
    round-trip attenuation of diffuse light through the layer, ``w = exp(−2d/δ)``, and

    .. math:: R = (1 - w)\\,R_{top} + w\\,R_{bottom}, \\qquad w = e^{-2d/\\delta(\\lambda)}

    So the deeper tissue shows through where the top layer absorbs little (δ of several mm
    near 1050–1300 nm) and hardly at all in the water bands (δ ≈ 0.2–0.4 mm at 1450 nm).
    The weight is exact in the limits d → 0 (w = 1) and d ≫ δ (w → 0).

    Examples
    --------
    >>> from hsi_tumor.datasets import layered_reflectance
    >>> layered_reflectance(0.5, 0.3, [0.0, 1.0, 100.0], 2.0).round(3)
    array([0.3  , 0.426, 0.5  ])
    """
    w = np.exp(-2.0 * np.asarray(thickness) / np.asarray(depth))
    return (1.0 - w) * np.asarray(r_top) + w * np.asarray(r_bottom)
