"""The tissues of a simulated patient and their optics per pixel.

A patient has four tissues (:data:`TISSUES`): the mucosa on top, the deeper wall (submucosa and
muscularis propria), fat (lobules in the wall, serosal fat on the margin) and the tumor. Their
compositions are drawn around the population means of
:mod:`hsi_tumor.datasets._parameters` with its patient-to-patient standard deviations, plus one
water offset shared by all tissues of a patient (how wet the specimen is).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from hsi_tumor.datasets._chromophores import blood_absorption
from hsi_tumor.datasets._optics import reduced_scattering
from hsi_tumor.datasets._parameters import parameter

__all__ = ["TISSUES", "TissueComposition", "draw_patient", "tissue_optics"]

#: The tissues of a patient, in the order :func:`draw_patient` draws them.
TISSUES: tuple[str, ...] = ("mucosa", "wall", "fat", "tumor")


@dataclass(frozen=True)
class TissueComposition:
    """Optical composition of one tissue of one patient.

    Attributes
    ----------
    water, lipid, collagen : float
        Volume fractions (0..1).
    scattering_a : float
        Reduced scattering coefficient at 500 nm, mm⁻¹ (the ``a`` of ``a (λ/500 nm)^−b``).
    scattering_b : float
        Scattering power ``b``.
    blood : float, default=0
        Blood volume fraction (whole blood, 150 g/L hemoglobin).
    saturation : float, default=0.7
        Oxygen saturation of that blood (0..1).
    """

    water: float
    lipid: float
    collagen: float
    scattering_a: float
    scattering_b: float
    blood: float = 0.0
    saturation: float = 0.7


_FRACTIONS = ("water", "lipid", "collagen", "blood")


def _draw(rng: np.random.Generator, tissue: str, water_offset: float) -> TissueComposition:
    values = {}
    for name in (*_FRACTIONS, "saturation", "scattering_a", "scattering_b"):
        key = f"{tissue}.{name}"
        if name == "saturation" and tissue != "tumor":
            key = "blood.saturation"
        p = parameter(key)
        values[name] = p.value + p.patient_sd * rng.standard_normal()
    values["water"] += water_offset
    for name in ("lipid", "collagen", "blood"):
        values[name] = float(np.clip(values[name], 0.0, 0.95))
    values["water"] = float(np.clip(values["water"], 0.05, 0.95))
    total = sum(values[k] for k in _FRACTIONS)
    if total > 0.97:
        for k in _FRACTIONS:
            values[k] *= 0.97 / total
    values["saturation"] = float(np.clip(values["saturation"], 0.0, 1.0))
    values["scattering_a"] = float(np.clip(values["scattering_a"], 0.5, 5.0))
    values["scattering_b"] = float(np.clip(values["scattering_b"], 0.3, 2.5))
    return TissueComposition(**{k: float(v) for k, v in values.items()})


def draw_patient(rng: np.random.Generator) -> dict[str, TissueComposition]:
    """Draw one patient's tissues from the population model.

    Parameters
    ----------
    rng : numpy.random.Generator

    Returns
    -------
    dict
        ``{"mucosa": ..., "wall": ..., "fat": ..., "tumor": ...}`` of
        :class:`TissueComposition`.

    Notes
    -----
    Each value is the population mean ± its patient-to-patient SD of the parameter table
    (``docs/simulator.md``, ``mucosa.water``, ``tumor.scattering_a``, ...), with one water
    offset (``patient.water_offset``) shared by the patient's tissues. Fractions are clipped
    to [0, 0.95] and scaled to sum to at most 0.97.

    Examples
    --------
    >>> import numpy as np
    >>> from hsi_tumor.datasets import draw_patient
    >>> tissue = draw_patient(np.random.default_rng(0))
    >>> sorted(tissue)
    ['fat', 'mucosa', 'tumor', 'wall']
    >>> tissue["fat"].lipid > tissue["mucosa"].lipid
    True
    """
    offset = parameter("patient.water_offset").patient_sd * rng.standard_normal()
    return {tissue: _draw(rng, tissue, offset) for tissue in TISSUES}


def complete(composition: dict[str, TissueComposition]) -> dict[str, TissueComposition]:
    """``{"normal": X, "tumor": Y}`` (one normal tissue everywhere) to the four tissues."""
    if set(composition) == {"normal", "tumor"}:
        normal = composition["normal"]
        return {"mucosa": normal, "wall": normal, "fat": normal, "tumor": composition["tumor"]}
    return dict(composition)


def tissue_optics(
    composition: TissueComposition,
    texture: dict[str, np.ndarray],
    wl: np.ndarray,
    mu: dict[str, np.ndarray],
    *,
    extra_blood: np.ndarray | float = 0.0,
    extra_saturation: float | None = None,
):
    """Absorption and reduced scattering, (n, bands) float32, at n pixels.

    ``values`` is a :class:`TissueComposition`;
    ``texture`` zero-mean unit-SD fields at the same pixels (``water``, ``collagen``,
    ``scattering``, ``blood``); ``mu`` the band-averaged absorption of each chromophore
    (the names of ``CHROMOPHORES``); ``extra_blood`` added blood at
    ``extra_saturation`` (vessels, bruises).
    """
    values = asdict(composition)
    sd = {k: parameter(f"texture.{k}").value for k in ("water", "collagen", "scattering", "blood")}
    water = np.clip(values["water"] + sd["water"] * texture["water"], 0.02, 0.97)
    collagen = np.clip(values["collagen"] + sd["collagen"] * texture["collagen"], 0.0, 0.6)
    lipid = np.clip(np.asarray(values["lipid"], dtype=np.float64), 0.0, 0.97)
    base_blood = values["blood"] * np.exp(sd["blood"] * texture["blood"] - 0.5 * sd["blood"] ** 2)
    blood = base_blood + extra_blood
    if extra_saturation is None:
        saturation = values["saturation"]
    else:
        saturation = np.where(
            blood > 0,
            (base_blood * values["saturation"] + extra_blood * extra_saturation)
            / np.maximum(blood, 1e-12),
            values["saturation"],
        )
    n = texture["water"].shape[0]

    def column(v):
        return np.broadcast_to(np.asarray(v, dtype=np.float32), (n,))[:, None]

    mua = (
        column(water) * mu["water"]
        + column(lipid) * mu["lipid"]
        + column(collagen) * mu["collagen"]
        + column(blood)
        * blood_absorption(
            column(saturation), mu["oxyhemoglobin"], mu["deoxyhemoglobin"], mu["water"]
        )
        + np.float32(parameter("baseline_absorption").value)
    )
    a = values["scattering_a"] * (1.0 + sd["scattering"] * texture["scattering"])
    musp = reduced_scattering(wl, np.broadcast_to(a, (n,)), values["scattering_b"])
    return mua.astype(np.float32), musp.astype(np.float32)
