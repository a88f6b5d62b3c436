"""The one progress-bar helper: stderr, a delay before showing, inner bars cleared, off = silent."""

from __future__ import annotations

import sys

import pytest
from tqdm.auto import tqdm

from hsi_tumor._shared import progress
from hsi_tumor._shared.progress import progress_bar


@pytest.fixture
def no_delay(monkeypatch):
    """Bars show at once (the library waits DELAY seconds first)."""
    monkeypatch.setattr(progress, "DELAY", 0.0)


def test_an_enabled_bar_writes_to_stderr_even_when_it_is_not_a_terminal(no_delay, capsys):
    assert not sys.stderr.isatty()  # pytest's capture: tqdm writes anyway (disable=False)
    with progress_bar(3, desc="work", unit="step") as bar:
        for _ in range(3):
            bar.update()
    out, err = capsys.readouterr()
    assert out == ""  # never stdout
    assert "work" in err and "3/3" in err and "step" in err


def test_a_disabled_bar_writes_nothing(no_delay, capsys):
    with progress_bar(3, desc="work", unit="step", enabled=False) as bar:
        for _ in range(3):
            bar.update()
    assert capsys.readouterr() == ("", "")


def test_a_quick_call_writes_nothing_before_the_delay(capsys):
    assert progress.DELAY >= 0.5
    with progress_bar(3, desc="work", unit="step") as bar:
        bar.update(3)
    assert capsys.readouterr().err == ""


def test_a_bar_inside_another_is_cleared_when_done(no_delay, capsys):
    with progress_bar(2, desc="outer", unit="fold") as outer:
        with progress_bar(5, desc="inner", unit="fit") as inner:
            inner.update(5)
        outer.update()
        with progress_bar(5, desc="inner", unit="fit") as again:
            again.update(5)
        outer.update()
    assert outer.leave is True
    assert inner.leave is False and again.leave is False
    assert inner.pos != 0  # drawn under the outer bar
    assert "outer" in capsys.readouterr().err


def test_a_users_own_bar_makes_ours_an_inner_one(no_delay, capsys):
    with tqdm(total=1, desc="mine") as mine:
        with progress_bar(1, desc="ours", unit="step") as ours:
            ours.update()
        mine.update()
    assert ours.leave is False
    with progress_bar(1, desc="ours", unit="step") as alone:
        alone.update()
    assert alone.leave is True


def test_a_disabled_inner_bar_does_not_count_as_open(no_delay):
    with progress_bar(1, desc="off", unit="step", enabled=False):
        with progress_bar(1, desc="on", unit="step") as on:
            on.update()
    assert on.leave is True


def _unconfigured(monkeypatch):
    """No handler for the library's logger anywhere: Python's lastResort would print. (Set in
    the test itself: pytest attaches its capture to non-propagating loggers as a test starts.)"""
    import logging

    logger = logging.getLogger("hsi_tumor")
    monkeypatch.setattr(logger, "propagate", False)
    monkeypatch.setattr(logger, "handlers", [])
    assert not logger.hasHandlers()
    return logger


def test_unconfigured_warnings_are_written_above_an_open_bar(no_delay, monkeypatch, capsys):
    logger = _unconfigured(monkeypatch)
    child = logger.getChild("models")
    with progress_bar(2, desc="work", unit="step") as bar:
        bar.update()
        child.warning("careful: %d pixels", 3)
        child.info("not shown, as lastResort would not show it")
        bar.update()
    err = capsys.readouterr().err
    assert "\rcareful: 3 pixels\n" in err  # a line of its own: the bar cleared first, redrawn after
    assert "]careful" not in err  # not glued to the end of the bar
    assert "not shown" not in err
    assert logger.handlers == []  # removed when the bar closed
    child.warning("after")  # lastResort again
    assert capsys.readouterr().err == "after\n"


def test_configured_logging_is_left_alone(no_delay, capsys):
    import logging

    logger = logging.getLogger("hsi_tumor")
    before = list(logger.handlers)
    assert logger.hasHandlers()  # pytest's capture handler, on the root logger
    with progress_bar(1, desc="work", unit="step") as bar:
        assert logger.handlers == before
        bar.update()
