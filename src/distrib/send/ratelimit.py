"""An asyncio token bucket shared by every sending worker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

__all__ = ["Clock", "Sleep", "TokenBucket"]

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class TokenBucket:
    """Allow ``rate`` acquisitions per second on average, at most ``burst`` at once.

    Each caller reserves its token immediately (the balance may go negative) and then sleeps
    exactly until that token is earned.  Reserving first keeps callers in arrival order and
    makes the spacing exact, even for rates below one per second, without polling.
    ``rate`` 0 means no limit.
    """

    def __init__(
        self,
        rate: float,
        *,
        burst: float = 1.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if rate < 0:
            raise ValueError("rate must be >= 0")
        if burst < 1:
            raise ValueError("burst must be >= 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = burst
        self._stamp = clock()

    @property
    def tokens(self) -> float:
        """Return the current balance (negative while callers are waiting for reservations)."""
        self._refill()
        return self._tokens

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._stamp)
        self._stamp = now
        self._tokens = min(self.burst, self._tokens + elapsed * self.rate)

    def reserve(self) -> float:
        """Take one token now and return how long to wait before using it (0 if available)."""
        if self.rate == 0:
            return 0.0
        self._refill()
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    async def acquire(self) -> None:
        """Wait until one token is available and take it."""
        delay = self.reserve()
        if delay <= 0:
            return
        try:
            await self._sleep(delay)
        except asyncio.CancelledError:
            # The token was never used: give it back so later callers are not delayed for it.
            self._tokens += 1.0
            raise
