"""Progress bars: the one place the library makes them.

Every long call (``train``, ``evaluate``, ``compare``, ``classify_cube``, ``classify_many``,
the demo) takes ``progress: bool = True`` and opens its bar with :func:`progress_bar`, so that
all bars behave alike:

* tqdm's auto form: a widget in a Jupyter notebook, text on **stderr** in a terminal (stdout
  keeps only what a command prints on purpose); the library itself never prints;
* a bar shows only once its call has run :data:`DELAY` seconds, so quick calls (a small cube
  classified in milliseconds, at video rate) write nothing;
* a bar opened while another is open (``train`` inside a fold of ``evaluate``, a cube inside
  ``classify_many``) is an inner bar: it is drawn below the outer one and cleared when done,
  so nested calls leave one finished line, the outermost;
* ``progress=False`` makes a disabled bar, which writes nothing at all;
* the library's warnings (logger ``hsi_tumor``) do not break a bar: when logging is not
  configured, Python prints them on stderr itself (its ``logging.lastResort`` handler), and
  while a bar is open they go through :meth:`tqdm.write` instead, as the same text, above
  the bar. Logging that *is* configured is left as it is: wrap the calls in
  :func:`tqdm.contrib.logging.logging_redirect_tqdm` (the ``hsi-tumor`` command does).
"""

from __future__ import annotations

import logging
import sys

from tqdm.auto import tqdm

__all__ = ["DELAY", "progress_bar"]

_LOGGER = logging.getLogger("hsi_tumor")


class _AboveTheBars(logging.Handler):
    """``logging.lastResort``'s output (the message, on stderr), written by ``tqdm.write``."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:
            self.handleError(record)


class _Bar(tqdm):
    """A bar that, while open, writes the library's unconfigured log records above itself."""

    _handler: logging.Handler | None = None

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self._handler is not None:
                _LOGGER.removeHandler(self._handler)
                self._handler = None


#: Seconds a call runs before its bar appears: a call that ends sooner writes nothing.
DELAY = 1.0


def progress_bar(total: int | None, *, desc: str, unit: str, enabled: bool = True) -> tqdm:
    """A tqdm progress bar (``tqdm.auto``) in the library's one style.

    Parameters
    ----------
    total : int or None
        Steps to do (None: unknown, the bar counts without a percentage).
    desc : str
        What runs, e.g. ``"train"``.
    unit : str
        What a step is, singular, e.g. ``"fit"``, ``"fold"``, ``"tile"``, ``"cube"``.
    enabled : bool, default=True
        False gives a disabled bar: updates are no-ops and nothing is written.

    Returns
    -------
    tqdm
        Use as a context manager (``with progress_bar(...) as bar:``) or close it. Inner
        bars (another bar is open) are cleared when closed; the outermost stays.

    Examples
    --------
    >>> with progress_bar(3, desc="work", unit="step", enabled=False) as bar:
    ...     for _ in range(3):
    ...         bar.update()
    >>> bar.disable  # nothing was written
    True
    """
    if not enabled:
        return tqdm(total=total, desc=desc, unit=unit, disable=True)
    inner = bool(tqdm._instances)  # open (enabled) bars: tqdm's own registry, also for nesting
    bar = _Bar(total=total, desc=desc, unit=unit, leave=not inner, delay=DELAY, dynamic_ncols=True)
    last_resort = logging.lastResort
    if not inner and last_resort is not None and not _LOGGER.hasHandlers():
        bar._handler = _AboveTheBars(last_resort.level)  # where lastResort would print
        _LOGGER.addHandler(bar._handler)
    return bar
