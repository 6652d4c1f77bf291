"""Rate-limit accuracy: how close a paced run comes to its ``rate``, and its worst second.

Reads the delivery log of a finished run: the time each message's SMTP transaction began
(``attempts.started_at``, the moment the pacer let it go; milliseconds).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path


@dataclass(frozen=True)
class Accuracy:
    messages: int
    span: float  # seconds from the first to the last message
    achieved: float  # messages per second after the initial burst
    worst_second: int  # the most messages that began within any 1-second window


def accuracy(log: Path, burst: int) -> Accuracy:
    """Measure the latest run of ``log`` (paced with ``burst``)."""
    from distrib.deliverylog import open_log

    first: dict[int, str] = {}
    with open_log(log, read_only=True) as opened:
        for attempt in opened.run_attempts(opened.runs()[-1].id):  # oldest first
            first.setdefault(attempt.message, attempt.started_at)
    times = sorted(datetime.fromisoformat(t).timestamp() for t in first.values())
    span = times[-1] - times[0]
    # With a bucket of `burst`, the first `burst` leave at once, then one every 1/rate.
    achieved = (len(times) - burst) / span if span > 0 else 0.0
    worst = max(bisect.bisect_left(times, t + 1.0) - i for i, t in enumerate(times))
    return Accuracy(len(times), span, achieved, worst)
