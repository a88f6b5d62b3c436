"""The napari plugin's tests run the real napari viewer (pytest-qt's ``qtbot`` and napari's
``make_napari_viewer``), headless on a virtual X display that pytest-xvfb starts (Xvfb and
the xcb libraries Qt needs: ``.ci/run`` installs them).

Where napari or a display is missing the tests skip with the reason; with
``HSI_TUMOR_NAPARI_TESTS=required`` (set by ``.ci/run``) they fail instead, so that CI never
passes by skipping them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

REQUIRED = os.environ.get("HSI_TUMOR_NAPARI_TESTS", "") == "required"


@cache
def _why_not() -> str | None:
    try:
        import napari  # noqa: F401
        import pytestqt  # noqa: F401
    except ImportError as error:
        return f"napari or pytest-qt is not installed ({error}): pip install -e '.[test]'"
    probe = subprocess.run(
        [sys.executable, "-c", "from qtpy.QtWidgets import QApplication; QApplication([])"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if probe.returncode != 0:
        return (
            "Qt cannot open a display (DISPLAY="
            f"{os.environ.get('DISPLAY')!r}): install Xvfb and Qt's xcb libraries "
            f"(.ci/run lists the Debian packages); Qt said: {probe.stderr.strip()[:300]}"
        )
    return None


def pytest_collection_modifyitems(config, items):
    """Skip (or, when required, refuse) the tests here before any fixture runs: pytest-qt's
    session-wide ``qapp`` starts first and Qt aborts the process without a display."""
    here = Path(__file__).parent
    ours = [item for item in items if here in Path(item.fspath).parents]
    reason = _why_not() if ours else None
    if reason is None:
        return
    if REQUIRED:
        raise pytest.UsageError(f"HSI_TUMOR_NAPARI_TESTS=required, but {reason}")
    for item in ours:
        item.add_marker(pytest.mark.skip(reason=reason))
