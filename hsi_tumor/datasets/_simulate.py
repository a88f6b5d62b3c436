"""``simulate_specimen`` and ``simulate_cohort``: raw NIR captures of tissue with tumors.

SIMULATED DATA. The specimens are computed from a physical model (chromophore absorption,
power-law scattering, diffusion-theory reflectance, a pushbroom camera), not measured.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from scipy import ndimage

from hsi_tumor._shared.errors import CalibrationWarning, InvalidOptionError, InvalidTypeError
from hsi_tumor.calibration import calibrate
from hsi_tumor.cube import Cube
from hsi_tumor.datasets._anatomy import Anatomy, draw_anatomy
from hsi_tumor.datasets._camera import Camera
from hsi_tumor.datasets._chromophores import (
    CHROMOPHORES,
    _check_wavelengths,
    band_averaged_absorption,
)
from hsi_tumor.datasets._geometry import (
    Tumor,
    annotation_map,
    draw_specimen,
    draw_tumors,
    label_map,
    smooth_field,
)
from hsi_tumor.datasets._optics import (
    diffuse_reflectance,
    layered_reflectance,
    penetration_depth,
)
from hsi_tumor.datasets._parameters import parameter
from hsi_tumor.datasets._tissue import (
    TISSUES,
    TissueComposition,
    complete,
    draw_patient,
    tissue_optics,
)
from hsi_tumor.specimen import Specimen

logger = logging.getLogger("hsi_tumor.datasets")

__all__ = [
    "CLASS_NAMES",
    "SimulatedCohort",
    "SimulatedSpecimen",
    "TissueComposition",
    "draw_patient",
    "simulate_cohort",
    "simulate_specimen",
]

#: Label values of ``labels`` and ``annotation`` (0 is background / unlabelled).
CLASS_NAMES: dict[int, str] = {1: "normal", 2: "tumor"}

_SIMULATED = "SIMULATED specimen (hsi_tumor.datasets) - not a measurement"


@dataclass(eq=False, kw_only=True, repr=False)
class SimulatedSpecimen(Specimen):
    """One SIMULATED specimen: a :class:`~hsi_tumor.Specimen` whose raw capture and exact
    ground truth come with it.

    As a Specimen (what ``train`` and ``evaluate`` take): ``cube`` is the calibrated
    reflectance (the raw capture through :meth:`calibrate`, in memory), ``labels`` the sparse
    pathologist-style annotation, ``patient`` and ``name`` the patient and specimen ids,
    ``tumor_fraction`` the true fraction and ``tissue`` the specimen's pixels. The simulation
    adds the capture and the truth under names of their own, so no name means two things.

    Attributes
    ----------
    cube : Cube
        Calibrated reflectance (float32, NaN where the references or the sensor fail).
    labels : ndarray of uint8, shape (rows, cols)
        Sparse pathologist-style annotation: eroded sure-tumor (2) and sure-normal (1)
        regions, 0 elsewhere (formerly ``annotation``).
    patient, name : str
        Patient id and specimen id (formerly ``patient_id`` and ``specimen_id``).
    tumor_fraction : ndarray of float32, shape (rows, cols)
        Fraction of each pixel's area that is tumor (0..1), partial volume at the borders.
    tissue : ndarray of bool, shape (rows, cols)
        Pixels that are mostly specimen (``true_labels > 0``; formerly ``tissue_mask``).
    class_names : dict
        :data:`CLASS_NAMES`, ``{1: "normal", 2: "tumor"}``: ``train`` and ``evaluate`` use
        them when no ``class_names`` is passed.
    raw : Cube
        Raw counts, (rows, cols, bands), uint16 within ``[0, 2**bit_depth - 1]``.
    white, dark : Cube
        Reference frames, (frames, cols, bands), uint16.
    reflectance : Cube
        The true (noise-free) reflectance the camera saw, float32: what a perfect calibration
        would give, including surface shading and specular glare.
    specimen_fraction : ndarray of float32, shape (rows, cols)
        Fraction of each pixel's area covered by the specimen.
    true_labels : ndarray of uint8, shape (rows, cols)
        Hard truth: 0 background, 1 normal, 2 tumor (area majority); see :data:`CLASS_NAMES`
        (before issue 13 this was ``labels``, which is now the annotation as on every
        Specimen).
    mucosa_thickness : ndarray of float32, shape (rows, cols)
        Thickness of the normal mucosa over the tumor, mm (0 where exposed); NaN where there is
        no tumor.
    glare : ndarray of bool, shape (rows, cols)
        Pixels with specular glare.
    tumors : tuple of Tumor
        Geometry and mucosa thickness of each tumor.
    composition : dict
        ``{"mucosa", "wall", "fat", "tumor"}`` → :class:`TissueComposition` of this patient
        (formerly ``tissue``).
    anatomy : Anatomy
        The per-pixel anatomy of the normal tissue: ``mucosa`` thickness (mm), fat
        ``lobules`` in the wall and ``surface_fat`` on the margin (shares 0..1), ``blood``
        added by vessels and bruises (volume fraction; ``bruise`` its bruised part), fold
        ``height`` (mm), ``shading`` and ``glare``.
    pixel_size : float
        mm per pixel.
    camera : Camera
    seed : int
        The entropy of the seed sequence the specimen was drawn from (reproduces it).
    """

    raw: Cube
    white: Cube
    dark: Cube
    reflectance: Cube
    specimen_fraction: np.ndarray
    true_labels: np.ndarray
    mucosa_thickness: np.ndarray
    glare: np.ndarray
    tumors: tuple[Tumor, ...]
    composition: dict[str, TissueComposition]
    pixel_size: float
    camera: Camera
    seed: int
    anatomy: Anatomy
    metadata: dict[str, Any] = field(default_factory=dict)

    simulated: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if self.class_names is None:
            self.class_names = dict(CLASS_NAMES)
        super().__post_init__()  # the Specimen's checks (shapes); keep the simulator's float32
        self.tumor_fraction = self.tumor_fraction.astype(np.float32)

    @property
    def annotation(self) -> np.ndarray:
        """Deprecated: the annotation is ``labels``, as on every Specimen."""
        _renamed("annotation", "labels")
        return self.labels

    @property
    def patient_id(self) -> str:
        """Deprecated: ``patient``, as on every Specimen."""
        _renamed("patient_id", "patient")
        return self.patient

    @property
    def specimen_id(self) -> str:
        """Deprecated: ``name``, as on every Specimen."""
        _renamed("specimen_id", "name")
        return self.name

    @property
    def tissue_mask(self) -> np.ndarray:
        """Deprecated: ``tissue``, as on every Specimen."""
        _renamed("tissue_mask", "tissue")
        return self.tissue

    @property
    def wavelengths(self) -> np.ndarray:
        """Band centres, nm."""
        return self.raw.wavelengths

    @property
    def shape(self) -> tuple[int, int, int]:
        """(rows, cols, bands) of the raw cube."""
        return self.raw.shape

    @property
    def saturation(self) -> int:
        """The camera's maximum count (4095 for 12 bits)."""
        return self.camera.saturation

    def calibrate(self, **options) -> Cube:
        """Calibrate the raw cube with its references (lazy; see :func:`hsi_tumor.calibrate`).

        ``white_reflectance`` defaults to the simulated panel's; ``saturation`` to the
        camera's (the raw cube's ``bit_depth``, as for every cube that records it).
        """
        from hsi_tumor.calibration import calibrate

        options.setdefault("white_reflectance", self.camera.white_reflectance)
        return calibrate(self.raw, self.white, self.dark, **options)

    def write_capture(
        self, folder: str | os.PathLike, *, overwrite: bool = False, ground_truth: bool = True
    ) -> Path:
        """Write a Specim-style capture folder (ENVI, BIL) with :func:`hsi_tumor.write_capture`.

        Parameters
        ----------
        folder : path-like
            The folder ``NAME/`` to create (``NAME/capture/NAME.hdr``, ``DARKREF_NAME``,
            ``WHITEREF_NAME``).
        overwrite : bool, default=False
        ground_truth : bool, default=True
            Also write ``NAME/results/NAME_ground_truth.npz`` with ``tumor_fraction``,
            ``true_labels``, ``annotation``, ``mucosa_thickness``, ``specimen_fraction``,
            ``glare``, ``wavelengths`` and ``patient``.

        Returns
        -------
        pathlib.Path
            The capture folder. Calibrate it with
            ``ht.calibrate_capture(folder, white_reflectance=0.99)`` (the simulated panel's
            reflectance, also in the header's description); the raw header's ``bit depth``
            field (12) sets the saturation (4095) by itself.
        """
        from hsi_tumor.io import write_capture

        folder = write_capture(self.raw, folder, self.white, self.dark, overwrite=overwrite)
        if ground_truth:
            results = folder / "results"
            results.mkdir(exist_ok=True)
            np.savez_compressed(
                results / f"{folder.name}_ground_truth.npz",
                tumor_fraction=self.tumor_fraction,
                true_labels=self.true_labels,
                annotation=self.labels,
                mucosa_thickness=self.mucosa_thickness,
                specimen_fraction=self.specimen_fraction,
                glare=self.glare,
                wavelengths=self.wavelengths,
                patient=np.array(self.patient),
            )
        logger.info("wrote simulated capture %s (patient %s)", folder, self.patient)
        return folder

    def __repr__(self) -> str:
        rows, cols, bands = self.shape
        depths = ", ".join(f"{t.mucosa_thickness:.1f}" for t in self.tumors)
        return (
            f"SimulatedSpecimen(patient {self.patient!r}, {rows}x{cols}x{bands}, "
            f"{self.wavelengths[0]:.0f}–{self.wavelengths[-1]:.0f} nm, {len(self.tumors)} tumor(s) "
            f"under {depths} mm mucosa, {self.camera.bit_depth}-bit, SIMULATED)"
        )


@dataclass
class SimulatedCohort(Sequence):
    """A SIMULATED cohort: one :class:`SimulatedSpecimen` per patient.

    A sequence of specimens: iterate over it, index it, or pass it where a list of Specimens is
    taken (``ht.train(cohort)``, ``ht.evaluate(cohort)``); ``patient_ids`` lists the patients.
    """

    specimens: list[SimulatedSpecimen]
    seed: int
    simulated: ClassVar[bool] = True

    @property
    def patient_ids(self) -> list[str]:
        return [s.patient for s in self.specimens]

    def __len__(self) -> int:
        return len(self.specimens)

    def __iter__(self) -> Iterator[SimulatedSpecimen]:
        return iter(self.specimens)

    def __getitem__(self, index: int) -> SimulatedSpecimen:
        return self.specimens[index]

    def __repr__(self) -> str:
        return f"SimulatedCohort({len(self)} patients, seed={self.seed}, SIMULATED)"


def _renamed(old: str, new: str) -> None:
    warnings.warn(
        f"SimulatedSpecimen.{old} is now .{new}, the name every Specimen uses (issue 13); "
        f"the old name will be removed in hsi_tumor 0.3",
        DeprecationWarning,
        stacklevel=3,
    )


def _seed_sequence(seed) -> np.random.SeedSequence:
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if seed is None or isinstance(seed, (int, np.integer)):
        return np.random.SeedSequence(None if seed is None else int(seed))
    raise InvalidTypeError(
        f"seed must be an int, a numpy SeedSequence or None, got {type(seed).__name__}",
        field="seed",
        fix="pass an integer such as seed=0",
    )


def _default_wavelengths(wavelengths, n_bands, wavelength_range) -> np.ndarray:
    if wavelengths is not None:
        wl = _check_wavelengths(wavelengths)
        if wl.size < 3 or np.any(np.diff(wl) <= 0):
            raise InvalidOptionError(
                "wavelengths must be at least 3 strictly ascending values",
                field="wavelengths",
                fix="give ascending band centres in nm",
            )
        return wl
    lo, hi = (float(v) for v in wavelength_range)
    if not isinstance(n_bands, (int, np.integer)):
        raise InvalidTypeError(
            f"n_bands must be an integer ≥ 3, got {n_bands!r}", field="n_bands", fix="e.g. 128"
        )
    if n_bands < 3:
        raise InvalidOptionError(
            f"n_bands must be an integer ≥ 3, got {n_bands!r}", field="n_bands", fix="e.g. 128"
        )
    if not hi > lo:
        raise InvalidOptionError(
            f"wavelength_range {wavelength_range} is empty",
            field="wavelength_range",
            fix="give (low, high) in nm, e.g. (900, 1700)",
        )
    return _check_wavelengths(np.linspace(lo, hi, int(n_bands)))


def _checked_composition(composition) -> dict[str, TissueComposition]:
    keys = set(composition) if isinstance(composition, dict) else set()
    if keys not in ({"normal", "tumor"}, set(TISSUES)) or not all(
        isinstance(v, TissueComposition) for v in composition.values()
    ):
        raise InvalidOptionError(
            f"composition must map {', '.join(TISSUES)} (or normal and tumor) to "
            f"TissueComposition, got {sorted(keys) or type(composition).__name__}",
            field="composition",
            fix="pass e.g. draw_patient(rng), or {'normal': TissueComposition(...), "
            "'tumor': TissueComposition(...)} for one normal tissue everywhere",
        )
    return complete(composition)


def _thicknesses(rng, n_tumors, mucosa_thickness) -> list[float]:
    drawn_n = int(rng.integers(1, 4))
    low, high = parameter("tumors.mucosa").value
    exposed = rng.random(3) < parameter("tumors.exposed").value
    drawn = np.where(exposed, 0.0, rng.uniform(low, high, 3))
    if mucosa_thickness is not None and np.ndim(mucosa_thickness) > 0:
        values = [float(v) for v in mucosa_thickness]
    else:
        n = drawn_n if n_tumors is None else int(n_tumors)
        if n < 0:
            raise InvalidOptionError(
                f"n_tumors must be ≥ 0, got {n_tumors}", field="n_tumors", fix="e.g. n_tumors=2"
            )
        if mucosa_thickness is None:
            extra = rng.uniform(low, high, max(0, n - 3))
            values = [float(v) for v in np.concatenate([drawn, extra])[:n]]
        else:
            values = [float(mucosa_thickness)] * n
    if any(not np.isfinite(v) or v < 0 for v in values):
        raise InvalidOptionError(
            f"mucosa_thickness must be ≥ 0 mm, got {values}",
            field="mucosa_thickness",
            fix="give thicknesses in mm, e.g. 0.4–2.5",
        )
    return values


def simulate_specimen(
    *,
    seed: int | np.random.SeedSequence | None = None,
    shape: tuple[int, int] = (256, 320),
    n_bands: int = 128,
    wavelength_range: tuple[float, float] = (900.0, 1700.0),
    wavelengths: Sequence[float] | np.ndarray | None = None,
    n_tumors: int | None = None,
    mucosa_thickness: float | Sequence[float] | None = None,
    field_of_view: float = 80.0,
    lateral_spread: float = parameter("tumors.lateral_spread").value,
    camera: Camera | None = None,
    patient_id: str | None = None,
    composition: dict[str, TissueComposition] | None = None,
    tissue: dict[str, TissueComposition] | None = None,
) -> SimulatedSpecimen:
    """Simulate a raw NIR pushbroom capture of a tissue specimen with submucosal tumors.

    SIMULATED DATA: computed from a physical model, not measured. The specimen is normal
    gastric wall (mucosa over submucosa and muscularis with fat lobules, serosal fat on the
    margin, vessels, bruises, folds, glare) with one or more stromal tumors, some exposed and
    some under normal wall, on a dark background; it is "recorded" by a 12-bit pushbroom
    camera with white and dark references. The ground truth is exact.

    Parameters
    ----------
    seed : int, numpy.random.SeedSequence or None, default=None
        Everything is drawn from this seed: the same seed gives identical arrays. ``None`` draws
        fresh entropy (recorded in the result's ``seed``).
    shape : (rows, cols), default=(256, 320)
        Image size in pixels (rows are the scan lines of the pushbroom camera).
    n_bands : int, default=128
        Number of bands, evenly spaced over ``wavelength_range``.
    wavelength_range : (low, high), default=(900, 1700)
        nm; any range within 900–2500 nm.
    wavelengths : array-like, optional
        Band centres in nm, overriding ``n_bands`` and ``wavelength_range``.
    n_tumors : int, optional
        Number of tumors; default 1–3 at random. A crowded specimen may hold fewer (logged).
    mucosa_thickness : float or sequence of float, optional
        Thickness of the normal wall over the tumors, mm: one value for all, or one per tumor
        (which sets the number of tumors). Default: per tumor, exposed (0 mm) with probability
        5/12 (the abstract of Sato et al. 2020: 7 of 12 specimens had a mucosal layer), else
        uniform in 0.4–2.5 mm (the range that abstract gives for those 7; the uniform draw is
        an assumption).
    field_of_view : float, default=80
        Width of the image, mm (sets the pixel size, 0.25 mm for 320 columns).
    lateral_spread : float, default=0.5
        Lateral blur of a covered tumor's signal, as a Gaussian σ per mm of cover (diffuse light
        spreads sideways about as far as it travels down).
    camera : Camera, optional
        Sensor parameters; default :class:`Camera` (12-bit InGaAs-like).
    patient_id : str, optional
        Default ``"sim-<seed>"``.
    composition : dict, optional
        ``{"mucosa", "wall", "fat", "tumor"}`` → :class:`TissueComposition`, as
        :func:`draw_patient` draws them (the default, from the seed); or
        ``{"normal": ..., "tumor": ...}`` for one uniform normal tissue everywhere.
    tissue : dict, optional
        Deprecated name of ``composition`` (a Specimen's ``tissue`` is its mask).

    Returns
    -------
    SimulatedSpecimen
        A :class:`~hsi_tumor.Specimen` (``cube`` the calibrated reflectance, ``labels`` the
        annotation, ``patient``, ``name``, ``tumor_fraction``, ``tissue``) with the truth:
        ``raw``, ``white``, ``dark`` (Cubes), ``reflectance`` (true), ``true_labels``,
        ``mucosa_thickness``, ``composition``, ... and ``.calibrate()`` /
        ``.write_capture(folder)``.

    Raises
    ------
    InvalidOptionError
        If an option has an impossible value (negative thickness, fewer than 3 bands, ...).
    WavelengthError
        If a wavelength lies outside 900–2500 nm.

    Notes
    -----
    Per pixel and band (all lengths in mm):

    1. absorption of each tissue (mucosa, wall, fat, tumor) from its volume fractions of
       water, lipid, collagen and blood (:func:`absorption`), reduced scattering
       ``μs' = a (λ/500 nm)^−b`` (:func:`reduced_scattering`); fractions, blood and ``a`` vary
       smoothly across the specimen around the patient's values, vessels and bruises add blood
       to the mucosa;
    2. semi-infinite diffuse reflectance of each from the diffusion approximation of Farrell
       et al. (:func:`diffuse_reflectance`); the deep wall mixes wall and fat lobules by volume;
    3. normal tissue: the mucosa (local thickness t) over the deep wall,
       ``R = (1 − w) R_mucosa + w R_wall`` with ``w = exp(−2t/δ(λ))`` and δ the mucosa's
       penetration depth (:func:`layered_reflectance`); serosal fat covers part of the margin;
       a tumor under d mm of normal wall: the mucosa (t, or d if thinner) over the wall (the
       rest of d) over the tumor, nested the same way and blurred sideways by
       σ = ``lateral_spread``·d;
    4. partial volume: ``R = S·g·[(1 − Σf_k) R_n + Σ f_k R_k] + (1 − S) R_bg + glare`` with
       the specimen (S) and tumor (f_k) area fractions from 4×4 supersampling, a shading factor
       g (0.75 at the rounded edge to 1 inside, times the cosine of the folds' tilt), glints on
       fold crests and a dark background (R ≈ 0.04);
    5. the camera (:class:`Camera`): halogen lamp x InGaAs response x per-column/element gain,
       line flicker, dark level, shot and read noise, 12-bit clipping, dead and hot elements.

    Hard labels are the area majority; the annotation erodes tumors by 2 mm (at least 2 px) and
    keeps normal tissue 4 mm away from tumors and 2 mm inside the edge.

    References
    ----------
    .. [1] D. Sato et al., "Distinction of surgically resected gastrointestinal stromal tumor by
       near-infrared hyperspectral imaging," Sci. Rep. 10, 21852 (2020).
    .. [2] T. J. Farrell, M. S. Patterson and B. C. Wilson, Med. Phys. 19, 879–888 (1992).
    .. [3] S. L. Jacques, Phys. Med. Biol. 58, R37–R61 (2013).

    Examples
    --------
    >>> from hsi_tumor.datasets import simulate_specimen
    >>> spec = simulate_specimen(seed=0, shape=(48, 60), n_bands=32)
    >>> spec.raw.shape, spec.raw.dtype, spec.white.shape
    ((48, 60, 32), dtype('uint16'), (16, 60, 32))
    >>> int(spec.raw.data.max()) <= 4095
    True
    >>> sorted(set(spec.true_labels.ravel().tolist()))
    [0, 1, 2]
    """
    ss = _seed_sequence(seed)
    patient_ss, geometry_ss, texture_ss, camera_ss = ss.spawn(4)
    rng_patient = np.random.default_rng(patient_ss)
    rng_geo = np.random.default_rng(geometry_ss)
    rng_tex = np.random.default_rng(texture_ss)
    rng_cam = np.random.default_rng(camera_ss)

    rows, cols = (int(v) for v in shape)
    if rows < 16 or cols < 16:
        raise InvalidOptionError(
            f"shape must be at least 16 x 16 pixels, got {shape}",
            field="shape",
            fix="e.g. shape=(64, 80)",
        )
    wl = _default_wavelengths(wavelengths, n_bands, wavelength_range)
    camera = Camera() if camera is None else camera
    if camera.bit_depth not in (12, 16):
        raise InvalidOptionError(
            f"bit_depth {camera.bit_depth}", field="camera.bit_depth", fix="use 12 or 16"
        )
    if tissue is not None:
        warnings.warn(
            "simulate_specimen(tissue=) is now composition= (a Specimen's tissue is its mask); "
            "the old name will be removed in hsi_tumor 0.3",
            DeprecationWarning,
            stacklevel=2,
        )
        composition = tissue if composition is None else composition
    drawn = draw_patient(rng_patient)
    p = parameter("mucosa.thickness")
    mucosa = float(max(0.2, p.value + p.patient_sd * rng_patient.standard_normal()))
    tissue = drawn if composition is None else _checked_composition(composition)
    pixel_size = float(field_of_view) / cols
    seed_value = int(ss.entropy) if isinstance(ss.entropy, int) else 0
    if patient_id is None:
        patient_id = f"sim-{seed_value}"

    geometry = _draw_geometry(rng_geo, (rows, cols), n_tumors, mucosa_thickness, pixel_size)
    anatomy = draw_anatomy(rng_tex, geometry.specimen_fraction, pixel_size, mucosa)
    reflectance, cover = _reflectance(
        wl, tissue, geometry, anatomy, rng_tex, lateral_spread, pixel_size
    )

    # --- camera ---------------------------------------------------------------------------
    sensor = camera.sensor(rng_cam, cols, wl)
    raw = camera.expose(rng_cam, reflectance, sensor)
    white, dark = camera.references(rng_cam, sensor, cols, wl.size)

    fwhm = np.full(wl.size, 1.2 * float(np.median(np.diff(wl))))
    description = (
        f"{_SIMULATED}; patient {patient_id}; {camera.bit_depth}-bit (saturation "
        f"{camera.saturation}); white panel reflectance {camera.white_reflectance}"
    )
    meta = {
        "description": description,
        "simulated": True,
        "patient_id": patient_id,
        "fwhm": fwhm,
        "sensor": f"simulated pushbroom NIR camera, {camera.bit_depth}-bit",
        "bit_depth": camera.bit_depth,  # ENVI 'bit depth': calibrate's default saturation
    }
    ref_meta = {
        "description": description,
        "simulated": True,
        "fwhm": fwhm,
        "bit_depth": camera.bit_depth,
    }
    raw_cube = Cube(raw, wl, meta)
    white_cube = Cube(white, wl, {**ref_meta, "reference": "white"})
    dark_cube = Cube(dark, wl, {**ref_meta, "reference": "dark"})
    with warnings.catch_warnings():  # the simulated dead columns: logged, not warned, here
        warnings.simplefilter("ignore", CalibrationWarning)
        cube = calibrate(  # saturation: the raw cube's bit_depth
            raw_cube, white_cube, dark_cube, white_reflectance=camera.white_reflectance
        ).load()
    spec = SimulatedSpecimen(
        cube=cube,
        labels=geometry.annotation,
        patient=str(patient_id),
        name=f"{patient_id}-1",
        tumor_fraction=geometry.tumor_fraction.astype(np.float32),
        tissue=geometry.labels > 0,
        raw=raw_cube,
        white=white_cube,
        dark=dark_cube,
        reflectance=Cube(reflectance, wl, {"description": "true reflectance (simulated)"}),
        specimen_fraction=geometry.specimen_fraction.astype(np.float32),
        true_labels=geometry.labels,
        mucosa_thickness=_depth_map(geometry, cover),
        glare=anatomy.glare > 0.05,
        anatomy=anatomy,
        tumors=tuple(geometry.tumors),
        composition=dict(tissue),
        pixel_size=pixel_size,
        camera=camera,
        seed=seed_value,
        metadata={"lateral_spread": lateral_spread, "field_of_view": field_of_view},
    )
    logger.debug("simulated %r", spec)
    return spec


def simulate_cohort(
    n_patients: int = 10,
    *,
    seed: int | None = 0,
    **options,
) -> SimulatedCohort:
    """Simulate a cohort of patients, one SIMULATED specimen each.

    Parameters
    ----------
    n_patients : int, default=10
    seed : int or None, default=0
        Patient ``i`` is drawn from the ``i``-th child of ``SeedSequence(seed)``, so the first
        patients of a larger cohort are the same as those of a smaller one.
    **options
        Passed to :func:`simulate_specimen` (``shape``, ``n_bands``, ``wavelength_range``,
        ``mucosa_thickness``, ``camera``, ...).

    Returns
    -------
    SimulatedCohort
        ``cohort[i]`` is a :class:`SimulatedSpecimen` with ``patient`` ``"P01"``, ``"P02"``,
        ...

    Examples
    --------
    >>> from hsi_tumor.datasets import simulate_cohort
    >>> cohort = simulate_cohort(3, seed=1, shape=(32, 40), n_bands=16)
    >>> cohort.patient_ids
    ['P01', 'P02', 'P03']
    """
    if not isinstance(n_patients, (int, np.integer)):
        raise InvalidTypeError(
            f"n_patients must be a positive integer, got {n_patients!r}",
            field="n_patients",
            fix="e.g. n_patients=10",
        )
    if n_patients < 1:
        raise InvalidOptionError(
            f"n_patients must be a positive integer, got {n_patients!r}",
            field="n_patients",
            fix="e.g. n_patients=10",
        )
    for bad in ("seed", "patient_id"):
        if bad in options:  # pragma: no cover - guarded by the signature for seed
            raise InvalidOptionError(
                f"{bad} is set per patient by simulate_cohort",
                field=bad,
                fix=f"drop {bad}=",
            )
    root = _seed_sequence(seed)
    children = root.spawn(int(n_patients))
    width = max(2, len(str(n_patients)))
    specimens = [
        simulate_specimen(seed=child, patient_id=f"P{i + 1:0{width}d}", **options)
        for i, child in enumerate(children)
    ]
    seed_value = int(root.entropy) if isinstance(root.entropy, int) else 0
    logger.info("simulated a cohort of %d patients (seed %s)", n_patients, seed_value)
    return SimulatedCohort(specimens=specimens, seed=seed_value)


@dataclass
class _Geometry:
    """Where the specimen and its tumors are (area fractions per pixel) and their labels."""

    specimen_fraction: np.ndarray
    tumors: list
    fractions: np.ndarray  # (n_tumors, rows, cols)
    tumor_fraction: np.ndarray
    labels: np.ndarray
    annotation: np.ndarray


def _draw_geometry(rng, shape, n_tumors, mucosa_thickness, pixel_size: float) -> _Geometry:
    rows, cols = shape
    specimen_fraction, _ = draw_specimen(rng, (rows, cols))
    thicknesses = _thicknesses(rng, n_tumors, mucosa_thickness)
    short = min(rows, cols)
    tumors, fractions = draw_tumors(
        rng, specimen_fraction, thicknesses, radius_range=(0.07 * short, 0.15 * short)
    )
    if len(tumors) < len(thicknesses):
        explicit = n_tumors is not None or np.ndim(mucosa_thickness) > 0
        logger.log(
            logging.WARNING if explicit else logging.DEBUG,
            "simulate_specimen: placed %d of %d tumors (the specimen is too crowded)",
            len(tumors),
            len(thicknesses),
        )
    tumor_fraction = fractions.sum(axis=0) if len(tumors) else np.zeros((rows, cols))
    labels = label_map(specimen_fraction, tumor_fraction)
    annotation = annotation_map(labels, margin=max(2.0, 2.0 / pixel_size))
    return _Geometry(specimen_fraction, tumors, fractions, tumor_fraction, labels, annotation)


def _fields(rng, shape, corr: float) -> dict[str, np.ndarray]:
    """Zero-mean unit-SD texture fields of one tissue's composition across the specimen."""
    return {k: smooth_field(rng, shape, corr) for k in ("water", "collagen", "scattering", "blood")}


def _at(fields: dict[str, np.ndarray], where) -> dict[str, np.ndarray]:
    return {k: v[where] for k, v in fields.items()}


def _reflectance(
    wl, tissue, geometry: _Geometry, anatomy: Anatomy, rng, lateral_spread, pixel_size
):
    """The true (rows, cols, bands) reflectance and the tumors' cover thickness field: tissue
    optics of the stomach wall, tumors under mucosa, partial volume with the background,
    shading and glare (steps 1–5 of ``simulate_specimen``)."""
    mu = {name: band_averaged_absorption(name, wl).astype(np.float32) for name in CHROMOPHORES}
    specimen_fraction = geometry.specimen_fraction
    rows, cols = specimen_fraction.shape
    corr = max(2.0, parameter("texture.correlation").value / pixel_size)
    texture = {t: _fields(rng, (rows, cols), corr) for t in TISSUES}
    cover = smooth_field(rng, (rows, cols), corr * 2)
    idx = np.nonzero(specimen_fraction > 0)

    def optics(name, where, **extra):
        return tissue_optics(tissue[name], _at(texture[name], where), wl, mu, **extra)

    n = parameter("refractive_index").value
    bruise_saturation = parameter("bruises.saturation").value
    blood = anatomy.blood[idx]
    bruise_share = np.where(blood > 0, anatomy.bruise[idx] / np.maximum(blood, 1e-12), 0.0)
    saturation = tissue["mucosa"].saturation
    extra_saturation = bruise_share * bruise_saturation + (1 - bruise_share) * saturation
    mua_m, musp_m = optics("mucosa", idx, extra_blood=blood, extra_saturation=extra_saturation)
    r_mucosa = diffuse_reflectance(mua_m, musp_m, n=n)
    delta = penetration_depth(mua_m, musp_m)
    # the deep layer: the wall with fat lobules (absorption and scattering mix by volume)
    share = anatomy.lobules[idx][:, None].astype(np.float32)
    mua_w, musp_w = optics("wall", idx)
    mua_f, musp_f = optics("fat", idx)
    mua_deep = mua_w + share * (mua_f - mua_w)
    musp_deep = musp_w + share * (musp_f - musp_w)
    r_deep = diffuse_reflectance(mua_deep, musp_deep, n=n)
    r_tissue = layered_reflectance(r_mucosa, r_deep, anatomy.mucosa[idx][:, None], delta)
    fat = anatomy.surface_fat[idx][:, None].astype(np.float32)
    r_tissue = (1.0 - fat) * r_tissue + fat * diffuse_reflectance(mua_f, musp_f, n=n)
    r_tissue = r_tissue.astype(np.float32)

    if len(geometry.tumors):
        weights = []
        for t, f in zip(geometry.tumors, geometry.fractions, strict=True):
            sigma = lateral_spread * t.mucosa_thickness / pixel_size
            weights.append(ndimage.gaussian_filter(f, sigma) if sigma > 0.3 else f)
        weights = np.stack(weights)  # (n_tumors, rows, cols), visible tumor weight
        total = weights.sum(axis=0)[idx]
        visible = total > 1e-3
        sub = tuple(i[visible] for i in idx)
        mua_t, musp_t = optics("tumor", sub)
        r_tumor = diffuse_reflectance(mua_t, musp_t, n=n)
        # a tumor under d mm of normal wall: the mucosa (its own thickness, or d if thinner)
        # over the deeper wall (the rest of d) over the tumor
        r_top, delta_top = r_mucosa[visible], delta[visible]
        r_wall = r_deep[visible]
        delta_wall = penetration_depth(mua_deep[visible], musp_deep[visible])
        own = anatomy.mucosa[sub][:, None]
        mixed = r_tissue[visible] * (1.0 - total[visible][:, None]).astype(np.float32)
        for t, w_k in zip(geometry.tumors, weights, strict=True):
            d = np.maximum(t.mucosa_thickness * (1.0 + 0.1 * cover[sub]), 0.0)[:, None]
            under = layered_reflectance(r_wall, r_tumor, np.maximum(d - own, 0.0), delta_wall)
            r_k = layered_reflectance(r_top, under, np.minimum(own, d), delta_top)
            mixed += w_k[sub][:, None].astype(np.float32) * r_k.astype(np.float32)
        r_tissue[visible] = mixed

    background = (0.035 + 0.01 * (wl - 900.0) / 1600.0).astype(np.float32)
    reflectance = np.empty((rows, cols, wl.size), dtype=np.float32)
    reflectance[...] = background
    s = specimen_fraction[idx][:, None].astype(np.float32)
    g = anatomy.shading[idx][:, None].astype(np.float32)
    reflectance[idx] = s * g * r_tissue + (1.0 - s) * background
    reflectance += anatomy.glare[..., None].astype(np.float32)
    return reflectance, cover


def _depth_map(geometry: _Geometry, thickness_field: np.ndarray) -> np.ndarray:
    """Mucosa thickness over each tumor pixel (mm; NaN off tumors)."""
    depth = np.full(geometry.tumor_fraction.shape, np.nan, dtype=np.float32)
    if len(geometry.tumors):
        owner = geometry.fractions.argmax(axis=0)
        has = geometry.tumor_fraction > 0
        base = np.array([t.mucosa_thickness for t in geometry.tumors])[owner]
        local = np.maximum(base * (1.0 + 0.1 * thickness_field), 0.0)
        depth[has] = local[has]
    return depth
