"""Rate limits shared by every sending worker: GCRA rates (token buckets), quota windows (per
minute, hour, day; seeded with earlier runs' sends by `distrib.send.quota`) and the `Pacer`
that combines them with a limit per recipient domain.

Times are floats from a monotonic clock (injectable), so limits are exact below one second.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence

__all__ = ["Clock", "Pacer", "Rate", "Sleep", "Window"]

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class Rate:
    """A token bucket in its "virtual scheduling" form (GCRA, ITU-T I.371).

    ``rate`` per second with bursts of ``burst``: instead of a token count it keeps the
    theoretical arrival time ``tat`` of the next message.  A message may go at
    ``tat - (burst - 1) / rate``; sending at time ``t`` moves ``tat`` to ``max(tat, t) + 1/rate``.
    The same waits as a token bucket, but it can be asked "when?" without taking anything, and
    committed at a time in the future, which `Pacer` needs to combine several limits.
    """

    def __init__(self, rate: float, burst: float = 1.0) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0")
        if burst < 1:
            raise ValueError("burst must be >= 1")
        self.interval = 1.0 / rate
        self.tolerance = (burst - 1.0) * self.interval
        self.tat = float("-inf")

    def ready_at(self, now: float) -> float:
        """Return the earliest time, not before ``now``, a message may go."""
        return max(now, self.tat - self.tolerance)

    def commit(self, at: float) -> None:
        """Record a message sent at ``at`` (at or after `ready_at`)."""
        self.tat = max(self.tat, at) + self.interval


class Window:
    """At most ``count`` messages in any window of ``period`` seconds (a relay's quota).

    A sliding log of the last ``count`` send times: the next message may go once the oldest
    of them is ``period`` old.  Exact for any window, not only for clock-aligned minutes or
    hours; memory is ``count`` floats.  Commits must come in time order (`Pacer` ensures it).
    """

    def __init__(self, count: int, period: float, name: str = "") -> None:
        if count < 1 or period <= 0:
            raise ValueError("a window needs count >= 1 and period > 0")
        self.count = count
        self.period = period
        self.name = name or f"{count} per {period:g} s"
        self.times: deque[float] = deque(maxlen=count)
        self.held = float("-inf")  # no message before this time (see `hold`)

    def seed(self, times: Sequence[float], now: float, *, fresh: bool = False) -> None:
        """Record earlier sends (``times``, oldest first, before ``now``: e.g. earlier runs'
        sends through the same relay); those older than the window are left out.  ``fresh``:
        ``times`` replace what the window held (they are the whole truth, e.g. every
        process's sends as the delivery log has them)."""
        if fresh:
            self.times.clear()
        self.times.extend(t for t in times if t > now - self.period)

    def hold(self, until: float) -> None:
        """Let no message go before ``until`` (the delivery log says the quota is full)."""
        self.held = max(self.held, until)

    def ready_at(self, now: float) -> float:
        """Return the earliest time, not before ``now``, a message may go."""
        if len(self.times) < self.count:
            return max(now, self.held)
        return max(now, self.held, self.times[0] + self.period)

    def commit(self, at: float) -> None:
        """Record a message sent at ``at``."""
        self.times.append(at)


class Pacer:
    """Every limit of a run: global rate and quotas, and a rate per recipient domain.

    `pick` chooses, among the messages waiting (in queue order), the first one whose domain
    allows it by the time the global limits allow *any* message, and reserves that time in
    every limit at once.  A message to a domain that must wait does not hold back messages to
    other domains behind it.  Send times come out in non-decreasing order, which keeps the
    `Window` logs exact.
    """

    def __init__(
        self,
        *,
        rate: float = 0.0,
        burst: int = 1,
        per_minute: int = 0,
        per_hour: int = 0,
        per_day: int = 0,
        per_domain: float = 0.0,
        domain_burst: int = 1,
        domains: Mapping[str, float] | None = None,
    ) -> None:
        self.limits: list[Rate | Window] = []
        if rate > 0:
            self.limits.append(Rate(rate, burst))
        self.windows: list[Window] = []
        for name, count, period in (
            ("per_minute", per_minute, 60.0),
            ("per_hour", per_hour, 3600.0),
            ("per_day", per_day, 86_400.0),
        ):
            if count > 0:
                self.windows.append(Window(count, period, name))
        self.limits.extend(self.windows)
        self.per_domain = per_domain
        self.domain_burst = domain_burst
        self.domain_rates = {d.lower(): r for d, r in (domains or {}).items()}
        self._domains: dict[str, Rate | None] = {}
        self._last = float("-inf")  # the latest time reserved: reservations never go back

    @property
    def longest_window(self) -> float:
        """The longest quota window, in seconds (0: no quota)."""
        return max((w.period for w in self.windows), default=0.0)

    def seed(self, times: Sequence[float], now: float, *, fresh: bool = False) -> None:
        """Record earlier sends in every quota window (see `Window.seed`)."""
        for window in self.windows:
            window.seed(times, now, fresh=fresh)

    def quota_hold(self, now: float) -> tuple[float, Window] | None:
        """The quota that holds the next message longest, and until when (None: none does)."""
        held = max(((w.ready_at(now), w) for w in self.windows), default=None,
                   key=lambda pair: pair[0])  # fmt: skip
        if held is None or held[0] <= now:
            return None
        return held

    @property
    def by_domain(self) -> bool:
        """Tell whether any per-domain limit applies."""
        return self.per_domain > 0 or bool(self.domain_rates)

    def _domain(self, domain: str) -> Rate | None:
        key = domain.lower()
        if key not in self._domains:
            rate = self.domain_rates.get(key, self.per_domain)
            self._domains[key] = Rate(rate, self.domain_burst) if rate > 0 else None
        return self._domains[key]

    def pick(self, domains: Sequence[str], now: float) -> tuple[int, float] | float:
        """Choose among messages to ``domains``: ``(index, send_at)``, reserved; or, when
        every one's domain must wait, the time the soonest will be allowed (nothing reserved).
        """
        at = max(self._last, *(limit.ready_at(now) for limit in self.limits), now)
        soonest = float("inf")
        for index, domain in enumerate(domains):
            bucket = self._domain(domain)
            ready = bucket.ready_at(now) if bucket is not None else now
            if ready <= at:
                for limit in self.limits:
                    limit.commit(at)
                if bucket is not None:
                    bucket.commit(at)
                self._last = at
                return index, at
            soonest = min(soonest, ready)
        return soonest
