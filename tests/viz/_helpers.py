"""Small helpers for the figure tests: read numbers back from matplotlib artists."""

from __future__ import annotations

import numpy as np


def band_limits(collection, x) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper edge of a fill_between band at each ``x`` (from its polygon vertices)."""
    vertices = np.concatenate([p.vertices for p in collection.get_paths()])
    lower = np.array([vertices[np.isclose(vertices[:, 0], xi), 1].min() for xi in x])
    upper = np.array([vertices[np.isclose(vertices[:, 0], xi), 1].max() for xi in x])
    return lower, upper


def legend_texts(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]
