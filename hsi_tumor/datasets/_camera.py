"""A pushbroom NIR camera: from reflectance to raw counts, with white and dark references.

A pushbroom (line-scan) camera images one line of the specimen at a time onto a 2-D sensor
(columns x bands) and builds the cube line by line as the specimen moves. So every fixed-pattern
property of the sensor — gain, dark offset, dead elements — is the same for every row of the cube:
stripes along the scan direction, which white/dark calibration removes and a dead element turns
into a whole NaN line in one band.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, fields

import numpy as np

__all__ = ["Camera", "halogen_spectrum", "sensor_response"]

_H, _C, _KB = 6.62607015e-34, 2.99792458e8, 1.380649e-23


def halogen_spectrum(wavelengths, temperature: float = 3000.0) -> np.ndarray:
    """Planck black-body spectral radiance of a halogen lamp, normalised to a maximum of 1."""
    wl = np.asarray(wavelengths, dtype=np.float64) * 1e-9
    radiance = 1.0 / (wl**5 * np.expm1(_H * _C / (wl * _KB * temperature)))
    return radiance / radiance.max()


def sensor_response(wavelengths, *, cut_on: float, cut_off: float) -> np.ndarray:
    """Quantum efficiency of an InGaAs-like sensor: ~0.8 in band, logistic roll-off at each end."""
    wl = np.asarray(wavelengths, dtype=np.float64)
    rise = 1.0 / (1.0 + np.exp(-(wl - cut_on) / 25.0))
    fall = 1.0 / (1.0 + np.exp((wl - cut_off) / 20.0))
    return 0.8 * rise * fall


@dataclass(frozen=True)
class Camera:
    """Parameters of the simulated pushbroom camera (all counts in DN, digital numbers).

    Attributes
    ----------
    bit_depth : int
        12 or 16; counts are clipped to ``[0, 2**bit_depth - 1]`` and stored as uint16.
    white_level : float
        Fraction of the usable range the brightest band of the white panel reaches (the
        exposure an operator sets).
    dark_offset : float
        Mean dark level (bias plus dark current over the exposure), DN.
    dark_spread : float
        Standard deviation of the dark level between sensor elements, DN.
    electrons_per_dn : float
        Conversion gain; shot noise is Poisson in electrons.
    read_noise : float
        Read noise, DN (Gaussian).
    column_gain_spread : float
        Relative standard deviation of whole-column gain (stripes).
    element_gain_spread : float
        Relative standard deviation of per-element (column, band) gain (PRNU).
    vignetting : float
        Relative illumination drop at the outermost columns.
    line_flicker : float
        Relative standard deviation of the lamp's power from line to line.
    n_dead : int
        Dead sensor elements (read 0 in raw and references alike, so white − dark = 0 there and
        calibration flags them).
    n_hot : int
        Stuck-high sensor elements (read the maximum count).
    white_reflectance : float
        Reflectance of the white panel (e.g. 0.99 for a Spectralon panel).
    lamp_temperature : float
        Colour temperature of the halogen illumination, K.
    n_reference_frames : int
        Lines recorded for each of the white and the dark reference.
    """

    bit_depth: int = 12
    white_level: float = 0.85
    dark_offset: float = 180.0
    dark_spread: float = 12.0
    electrons_per_dn: float = 60.0
    read_noise: float = 1.5
    column_gain_spread: float = 0.02
    element_gain_spread: float = 0.01
    vignetting: float = 0.15
    line_flicker: float = 0.002
    n_dead: int = 3
    n_hot: int = 2
    white_reflectance: float = 0.99
    lamp_temperature: float = 3000.0
    n_reference_frames: int = 16

    @property
    def saturation(self) -> int:
        """The maximum count, ``2**bit_depth - 1``."""
        return 2**self.bit_depth - 1

    def sensor(self, rng: np.random.Generator, n_cols: int, wavelengths: np.ndarray):
        """Draw the fixed pattern of one sensor: gain and dark level per (column, band)."""
        wl = np.asarray(wavelengths, dtype=np.float64)
        n_bands = wl.size
        lo, hi = float(wl.min()), float(wl.max())
        spectrum = halogen_spectrum(wl, self.lamp_temperature) * sensor_response(
            wl, cut_on=lo - 15.0, cut_off=hi + 15.0
        )
        u = np.linspace(-1.0, 1.0, n_cols)
        vignette = 1.0 - self.vignetting * u**2
        column_gain = 1.0 + self.column_gain_spread * rng.standard_normal(n_cols)
        element_gain = 1.0 + self.element_gain_spread * rng.standard_normal((n_cols, n_bands))
        response = (vignette * column_gain)[:, None] * element_gain * spectrum[None, :]
        dark = self.dark_offset + self.dark_spread * rng.standard_normal((n_cols, n_bands))
        usable = self.saturation - dark.max()
        scale = self.white_level * usable / (self.white_reflectance * response.max())
        gain = response * scale  # DN per unit reflectance
        flat = rng.choice(n_cols * n_bands, size=self.n_dead + self.n_hot, replace=False)
        dead = np.zeros((n_cols, n_bands), dtype=bool)
        hot = np.zeros((n_cols, n_bands), dtype=bool)
        dead.flat[flat[: self.n_dead]] = True
        hot.flat[flat[self.n_dead :]] = True
        gain[dead] = 0.0
        return {"gain": gain, "dark": dark, "dead": dead, "hot": hot}

    def expose(self, rng: np.random.Generator, reflectance: np.ndarray, sensor) -> np.ndarray:
        """Raw counts (uint16) of a (lines, cols, bands) reflectance seen through ``sensor``.

        Shot noise uses the Gaussian approximation of the Poisson distribution (exact enough for
        the hundreds to thousands of electrons of every illuminated element).
        """
        lines = reflectance.shape[0]
        flicker = 1.0 + self.line_flicker * rng.standard_normal((lines, 1, 1))
        signal = reflectance * (sensor["gain"][None] * flicker).astype(np.float32)
        signal = signal.astype(np.float32, copy=False)
        mean = signal + sensor["dark"].astype(np.float32)[None]
        std = np.sqrt(signal / self.electrons_per_dn + self.read_noise**2, dtype=np.float32)
        noise = rng.standard_normal(mean.shape, dtype=np.float32)
        noise *= std
        mean += noise
        np.rint(mean, out=mean)
        np.clip(mean, 0, self.saturation, out=mean)
        counts = mean.astype(np.uint16)
        counts[:, sensor["hot"]] = self.saturation
        counts[:, sensor["dead"]] = 0
        return counts

    def references(self, rng: np.random.Generator, sensor, n_cols: int, n_bands: int):
        """White-panel and dark (shutter closed) reference frames, (frames, cols, bands) uint16."""
        shape = (self.n_reference_frames, n_cols, n_bands)
        white_r = np.full(shape, self.white_reflectance, dtype=np.float32)
        white = self.expose(rng, white_r, sensor)
        dark = self.expose(rng, np.zeros(shape, dtype=np.float32), sensor)
        return white, dark


def camera_table() -> str:
    """Markdown table of :class:`Camera`'s defaults, each with its docstring description.

    ``docs/simulator.md`` holds it beside the parameter table; every value is an assumption
    (a typical InGaAs pushbroom camera), none a measurement of a particular one.
    """
    doc = inspect.cleandoc(Camera.__doc__ or "")
    described = dict(re.findall(r"^(\w+) : [^\n]+\n((?:    [^\n]+\n?)+)", doc, flags=re.MULTILINE))
    lines = ["| `Camera` field | default | what |", "| --- | --- | --- |"]
    for f in fields(Camera):
        text = " ".join(described[f.name].split())
        lines.append(f"| `{f.name}` | {f.default!r} | {text} |")
    return "\n".join(lines) + "\n"
