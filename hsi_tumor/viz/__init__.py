"""Figures and images (matplotlib, headless-safe; nothing here calls ``show()``)."""

from hsi_tumor.viz._rgb import default_rgb_wavelengths, pseudo_rgb, save_rgb_png

__all__ = ["default_rgb_wavelengths", "pseudo_rgb", "save_rgb_png"]
