"""Every physical constant and distribution of the tissue simulator, with its source.

One table, read by the simulator code and rendered into ``docs/simulator.md`` by
:func:`parameter_table` (``tests/datasets/test_parameters.py`` fails while the page's table
differs from it), so the code and the documentation cannot drift apart.

``source`` names an entry of :data:`SOURCES`; ``"assumption"`` marks a value nobody measured
for this purpose: a plausible choice, stated as such. ``known`` says how far the value is known.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PARAMETERS", "SOURCES", "Parameter", "parameter", "parameter_table"]

#: Citations by key. Every statement here is one the cited text (as far as it was accessible
#: to us: for journal papers often only the abstract) supports.
SOURCES: dict[str, tuple[str, str]] = {
    "assumption": ("assumption", "no measurement behind the value: a plausible choice"),
    "segelstein1981": (
        "Segelstein 1981",
        "D. J. Segelstein, The complex refractive index of water, M.S. thesis, University of "
        "Missouri–Kansas City (1981); the public-domain table of refractiveindex.info, vendored "
        "as hsi_tumor/datasets/data/water_segelstein1981.csv",
    ),
    "jacques2013": (
        "Jacques 2013, Table 2",
        "S. L. Jacques, Phys. Med. Biol. 58, R37–R61 (2013), Table 2: averages over studies; "
        "the fits are stated good for 400–1300 nm, more data needed at longer wavelengths",
    ),
    "jacques2013t1": (
        "Jacques 2013, Table 1",
        "S. L. Jacques, Phys. Med. Biol. 58, R37–R61 (2013), Table 1 no. 41, 'stomach wall' "
        "(from Alexandrakis et al. 2005)",
    ),
    "vanveen2005": (
        "van Veen et al. 2005",
        "R. L. P. van Veen et al., J. Biomed. Opt. 10, 054004 (2005): purified lard, the omlc "
        "'fat' spectrum (429–1098 nm, published in m⁻¹)",
    ),
    "anderson2006": (
        "Anderson et al. 2006",
        "R. R. Anderson et al., Lasers Surg. Med. 38, 913–919 (2006): human fat at 1210 and "
        "1730 nm (1.65 and 10.5 cm⁻¹) as tabulated by J. Hui et al., Photoacoustics 4, 11–21 "
        "(2016), Table 1 (CC BY 4.0)",
    ),
    "bosschaart2014": (
        "Bosschaart et al. 2014",
        "N. Bosschaart et al., Lasers Med. Sci. 29, 453–479 (2014), appendix: whole blood of "
        "hematocrit 45 %, SO2 > 98 % and 0 %, compiled from published measurements",
    ),
    "eus_wall": (
        "EUS wall study",
        "'Individual variations in mucosa and total wall thickness in the stomach and rectum "
        "assessed via endoscopic ultrasound' (abstract): gastric mucosa 1.03–1.64 mm by region, "
        "total wall 2.80–4.23 mm",
    ),
    "sato2020": (
        "Sato et al. 2020",
        "D. Sato et al., Sci. Rep. 10, 21852 (2020), abstract (the full text was not read)",
    ),
}


@dataclass(frozen=True)
class Parameter:
    """One constant or distribution of the simulator.

    Attributes
    ----------
    key : str
        Dotted name used by the code, e.g. ``"mucosa.water"``.
    value : float or tuple of float
        The value (a population mean), or ``(low, high)`` of a uniform draw.
    unit : str
        ``""`` for dimensionless.
    patient_sd : float or None
        Patient-to-patient standard deviation (normal draw around ``value``), if any.
    source : str
        A key of :data:`SOURCES`.
    known : str
        How far the value is known (its uncertainty, or why it is an assumption).
    what : str
        What the value is.
    """

    key: str
    value: float | tuple[float, float]
    unit: str
    patient_sd: float | None
    source: str
    known: str
    what: str


_A = "assumption"
_TYPICAL = "typical of soft tissue; not measured for the stomach wall"

PARAMETERS: tuple[Parameter, ...] = (
    # --- tissue composition: volume fractions ---------------------------------------------
    Parameter("mucosa.water", 0.78, "", 0.02, _A, _TYPICAL, "water, gastric mucosa"),
    Parameter("mucosa.lipid", 0.02, "", 0.01, _A, "lean, cellular tissue", "lipid, mucosa"),
    Parameter("mucosa.collagen", 0.05, "", 0.01, _A, _TYPICAL, "collagen, mucosa"),
    Parameter("mucosa.blood", 0.03, "", 0.01, _A, "well perfused in vivo", "blood, mucosa"),
    Parameter(
        "blood.saturation",
        0.5,
        "",
        0.1,
        _A,
        "ex vivo: partly deoxygenated",
        "SO2 of the blood in normal tissue",
    ),
    Parameter("wall.water", 0.72, "", 0.02, _A, _TYPICAL, "water, submucosa + muscularis"),
    Parameter("wall.lipid", 0.05, "", 0.02, _A, _TYPICAL, "lipid, submucosa + muscularis"),
    Parameter("wall.collagen", 0.14, "", 0.02, _A, "submucosa is collagen-rich", "collagen, wall"),
    Parameter("wall.blood", 0.02, "", 0.005, _A, _TYPICAL, "blood, wall"),
    Parameter("fat.water", 0.15, "", 0.04, _A, "adipose tissue is mostly lipid", "water, fat"),
    Parameter("fat.lipid", 0.78, "", 0.04, _A, "adipose tissue is mostly lipid", "lipid, fat"),
    Parameter("fat.collagen", 0.03, "", 0.01, _A, "septa between lobules", "collagen, fat"),
    Parameter("fat.blood", 0.01, "", 0.003, _A, _TYPICAL, "blood, fat"),
    Parameter("tumor.water", 0.80, "", 0.02, _A, "cellular tumor, wetter", "water, tumor"),
    Parameter("tumor.lipid", 0.01, "", 0.005, _A, "cellular tumor, leaner", "lipid, tumor"),
    Parameter("tumor.collagen", 0.07, "", 0.015, _A, "less stroma than the wall", "collagen"),
    Parameter("tumor.blood", 0.03, "", 0.01, _A, _TYPICAL, "blood, tumor"),
    Parameter("tumor.saturation", 0.5, "", 0.1, _A, "ex vivo: partly deoxygenated", "SO2, tumor"),
    # --- scattering: mu_s' = a (lambda / 500 nm)^-b ---------------------------------------
    Parameter(
        "mucosa.scattering_a",
        1.91,
        "mm⁻¹",
        0.15,
        "jacques2013t1",
        "'stomach wall' (19.1 cm⁻¹, Alexandrakis et al. 2005); SD an assumption",
        "μs'(500 nm), mucosa",
    ),
    Parameter(
        "mucosa.scattering_b",
        0.97,
        "",
        0.06,
        "jacques2013t1",
        "'stomach wall'; fit valid 400–1300 nm, extrapolated beyond",
        "scattering power, mucosa",
    ),
    Parameter(
        "wall.scattering_a",
        2.71,
        "mm⁻¹",
        0.2,
        "jacques2013",
        "'other fibrous tissues' mean (27.1 ± 5.0 cm⁻¹ over studies); patient SD an assumption",
        "μs'(500 nm), wall",
    ),
    Parameter(
        "wall.scattering_b",
        1.627,
        "",
        0.08,
        "jacques2013",
        "'other fibrous tissues' (± 0.115); valid 400–1300 nm, extrapolated beyond",
        "scattering power, wall",
    ),
    Parameter(
        "fat.scattering_a",
        1.84,
        "mm⁻¹",
        0.15,
        "jacques2013",
        "'fatty tissue' mean (18.4 ± 9.0 cm⁻¹ over studies); patient SD an assumption",
        "μs'(500 nm), fat",
    ),
    Parameter(
        "fat.scattering_b",
        0.672,
        "",
        0.05,
        "jacques2013",
        "'fatty tissue' (± 0.242); valid 400–1300 nm, extrapolated beyond",
        "scattering power, fat",
    ),
    Parameter(
        "tumor.scattering_a",
        1.6,
        "mm⁻¹",
        0.15,
        _A,
        "less scattering than the wall (fewer collagen fibres)",
        "μs'(500 nm), tumor",
    ),
    Parameter("tumor.scattering_b", 1.2, "", 0.06, _A, "as for cellular tissue", "b, tumor"),
    Parameter(
        "baseline_absorption",
        0.002,
        "mm⁻¹",
        None,
        _A,
        "other proteins; small against water above 1000 nm",
        "flat background μa",
    ),
    Parameter("refractive_index", 1.4, "", None, _A, "common soft-tissue value", "n of tissue"),
    Parameter(
        "blood.water",
        0.8,
        "",
        None,
        _A,
        "hematocrit 45 %: 0.55 x 0.93 plasma + 0.45 x 0.66 red-cell water, typical values",
        "volume fraction of water in whole blood",
    ),
    Parameter(
        "patient.water_offset",
        0.0,
        "",
        0.015,
        _A,
        "how wet a specimen is; shared by all tissues of a patient",
        "water offset of a patient",
    ),
    # --- texture within a specimen --------------------------------------------------------
    Parameter(
        "texture.correlation",
        2.0,
        "mm",
        None,
        _A,
        "smooth Gaussian random fields",
        "correlation length of composition texture",
    ),
    Parameter("texture.water", 0.02, "", None, _A, "", "SD of water across a specimen"),
    Parameter("texture.collagen", 0.015, "", None, _A, "", "SD of collagen across a specimen"),
    Parameter("texture.scattering", 0.06, "", None, _A, "", "relative SD of a across a specimen"),
    Parameter("texture.blood", 0.3, "", None, _A, "log-normal", "SD of log blood fraction"),
    # --- anatomy of the normal stomach wall ----------------------------------------------
    Parameter(
        "mucosa.thickness",
        1.3,
        "mm",
        0.2,
        "eus_wall",
        "1.03 ± 0.13 to 1.64 ± 0.08 mm by region of the stomach; patient SD an assumption",
        "mucosa over the wall",
    ),
    Parameter(
        "mucosa.thickness_texture",
        0.25,
        "",
        None,
        _A,
        "",
        "relative SD of mucosa thickness across a specimen",
    ),
    Parameter(
        "lobules.share",
        (0.05, 0.35),
        "",
        None,
        _A,
        "fat lobules in the submucosa",
        "share of the deep layer that is fat",
    ),
    Parameter("lobules.size", 1.5, "mm", None, _A, "", "correlation length of the fat lobules"),
    Parameter(
        "serosal_fat.margin",
        6.0,
        "mm",
        None,
        _A,
        "fat left on the resection margin",
        "band along the edge where surface fat lies",
    ),
    Parameter(
        "serosal_fat.share", (0.0, 0.5), "", None, _A, "", "share of that band covered by fat"
    ),
    Parameter("folds.wavelength", (5.0, 10.0), "mm", None, _A, "rugae", "fold spacing"),
    Parameter("folds.height", (0.3, 1.5), "mm", None, _A, "rugae", "fold amplitude"),
    Parameter(
        "folds.thickening",
        0.3,
        "",
        None,
        _A,
        "folds are mucosa + submucosa",
        "relative mucosa thickening on a fold crest",
    ),
    Parameter("vessels.count", (2.0, 8.0), "", None, _A, "", "vessels per specimen"),
    Parameter("vessels.width", (0.3, 1.2), "mm", None, _A, "submucosal vessels", "width"),
    Parameter(
        "vessels.blood",
        0.4,
        "",
        None,
        _A,
        "part of the light path in the vessel",
        "blood fraction on a vessel's axis",
    ),
    Parameter("bruises.count", (0.0, 2.0), "", None, _A, "handling, clamps", "bruises"),
    Parameter("bruises.radius", (2.0, 6.0), "mm", None, _A, "", "bruise radius"),
    Parameter("bruises.blood", (0.05, 0.2), "", None, _A, "", "extra blood in a bruise"),
    Parameter(
        "bruises.saturation",
        0.2,
        "",
        None,
        _A,
        "extravasated blood deoxygenates",
        "SO2 in a bruise",
    ),
    Parameter(
        "shading.edge",
        0.75,
        "",
        None,
        _A,
        "rounded specimen edge",
        "shading at the edge (1 inside)",
    ),
    Parameter("glare.count", (2.0, 6.0), "", None, _A, "wet surface, on fold crests", "glints"),
    Parameter("glare.peak", (0.4, 2.0), "", None, _A, "saturates the sensor", "glint peak"),
    # --- tumors ---------------------------------------------------------------------------
    Parameter(
        "tumors.exposed",
        5.0 / 12.0,
        "",
        None,
        "sato2020",
        "7 of 12 specimens had a mucosal layer (abstract); a press summary says 10 of 12 were "
        "fully or partly covered",
        "probability a tumor is exposed",
    ),
    Parameter(
        "tumors.mucosa",
        (0.4, 2.5),
        "mm",
        None,
        "sato2020",
        "the range over the 7 covered specimens; uniform draw an assumption",
        "mucosa over a covered tumor",
    ),
    Parameter(
        "tumors.lateral_spread",
        0.5,
        "",
        None,
        _A,
        "diffuse light spreads about as far sideways as down",
        "blur σ per mm of mucosa",
    ),
)

_BY_KEY = {p.key: p for p in PARAMETERS}


def parameter(key: str) -> Parameter:
    """The :class:`Parameter` named ``key`` (KeyError if unknown: a typo in the code)."""
    return _BY_KEY[key]


def _format_value(p: Parameter) -> str:
    if isinstance(p.value, tuple):
        text = f"{p.value[0]:g}–{p.value[1]:g}"
    else:
        text = f"{p.value:.4g}"
    if p.patient_sd is not None:
        text += f" ± {p.patient_sd:g}"
    return text


def parameter_table() -> str:
    """Markdown table of :data:`PARAMETERS`: key, what, value (± patient SD), unit, source,
    how far it is known. ``docs/simulator.md`` holds this text between its
    ``<!-- parameters -->`` markers."""
    lines = [
        "| key | what | value (± patient SD; a–b: uniform) | unit | source | how far known |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for p in PARAMETERS:
        lines.append(
            f"| `{p.key}` | {p.what} | {_format_value(p)} | {p.unit} | {SOURCES[p.source][0]} "
            f"| {p.known} |"
        )
    lines.append("")
    lines += [f"- **{short}**: {full}." for short, full in SOURCES.values()]
    return "\n".join(lines) + "\n"
