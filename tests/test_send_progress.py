"""What the progress bar of `distrib send` shows beside the bar: counts, pace and ETA."""

from __future__ import annotations

import pytest

from distrib.cli.send import RateMeter, progress_text
from distrib.send import Progress


def progress(sent: int, elapsed: float, **kw: int) -> Progress:
    counts = {"deferred": 0, "failed": 0, "unknown": 0, **kw}
    return Progress(sent, counts["deferred"], counts["failed"], counts["unknown"], 0, 100, elapsed)


def test_the_pace_is_measured_over_the_recent_window_only() -> None:
    meter = RateMeter(window=10)
    assert meter.update(0.0, 0, 100) == (0.0, None)
    rate, left = meter.update(5.0, 50, 100)  # 10 per second so far
    assert rate == pytest.approx(10) and left == pytest.approx(5)
    meter.update(20.0, 60, 100)  # the relay slowed down: 10 in the last 15 s
    rate, left = meter.update(25.0, 65, 100)
    assert rate == pytest.approx(1.0) and left == pytest.approx(35)


def test_progress_text_shows_every_outcome_the_pace_and_the_eta() -> None:
    p = progress(40, 4.0, deferred=2, failed=1, unknown=1)
    assert p.done == 44
    text = progress_text(p, 11.0, 3725.0)
    assert text == "sent 40 · deferred 2 · failed 1 · unknown 1 · 11.0/s · ETA 1:02:05"
    assert progress_text(p, 0.0, None).endswith("0.0/s · ETA -")
