"""A relay's quotas across runs: which relay a run sends through, and what the delivery log
says that relay was already handed.

``[limits]`` ``per_minute``, ``per_hour`` and ``per_day`` are a relay's quotas: they count every
recipient the relay accepted in the sliding window, whatever run or release of the workspace
it was for (`distrib.deliverylog.port.Quotas.relay_sends`).  A relay is its host, its port and
the AUTH username (two accounts of one provider have a quota each).  A run seeds its `Pacer`
with those earlier sends when it starts; a quota whose next free slot is more than
`QUOTA_PAUSE` seconds away pauses the run (unless it was asked to wait): its messages stay
``ready``, and ``--resume`` sends them once the window has room.

The pacer only knows this process's sends after it started, so the log has the last word: each
message's ``Begin`` carries the relay's quotas (`relay_quotas`) and the log refuses it when every
process together already filled one (`distrib.deliverylog.changes.QuotaFull`).  The message then
goes back to the queue, nothing of it sent, and the pacer is seeded afresh from the log
(`seed_pacer` with ``fresh``) and held until the time the log gave: it waits or pauses as above.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from distrib.config import LimitsConfig, SMTPConfig
from distrib.deliverylog import DeliveryLog, Quota, QuotaFull
from distrib.send.ratelimit import Pacer

__all__ = [
    "QUOTA_PAUSE",
    "hold_pacer",
    "quota_limits",
    "relay_identity",
    "relay_quotas",
    "resume_time",
    "seed_pacer",
]

#: A quota that lets the next message go within this many seconds is waited for, in the run;
#: a longer wait pauses the run (a per-minute quota never pauses it).
QUOTA_PAUSE: Final = 60.0


def relay_identity(smtp: SMTPConfig) -> str:
    """The relay's name in the log: ``host:port``, and ``as USER`` when it authenticates."""
    relay = f"{smtp.host.lower()}:{smtp.port}"
    return f"{relay} as {smtp.username}" if smtp.username else relay


def quota_limits(limits: LimitsConfig) -> dict[str, tuple[int, float]]:
    """The quotas set: name -> (count, window in seconds)."""
    quotas = {
        "per_minute": (limits.per_minute, 60.0),
        "per_hour": (limits.per_hour, 3600.0),
        "per_day": (limits.per_day, 86_400.0),
    }
    return {name: quota for name, quota in quotas.items() if quota[0] > 0}


def relay_quotas(limits: LimitsConfig) -> tuple[Quota, ...]:
    """The quotas each `Begin` asks the log to check (`distrib.deliverylog.changes.Quota`)."""
    return tuple(
        Quota(name, count, period) for name, (count, period) in quota_limits(limits).items()
    )


def seed_pacer(
    pacer: Pacer, log: DeliveryLog, relay: str, now: float, *, fresh: bool = False
) -> int:
    """Give ``pacer``'s quota windows what the log says ``relay`` was handed in them (the
    log's times mapped to the pacer's clock, whose current time is ``now``); return how many
    earlier sends the longest window holds.  ``fresh``: replace what the windows held (the
    log has this process's sends too, and other processes')."""
    period = pacer.longest_window
    if period <= 0:
        return 0
    current = log.current_time()
    earlier = log.relay_sends(relay, current - timedelta(seconds=period))
    pacer.seed([now - (current - at).total_seconds() for at in earlier], now, fresh=fresh)
    return len(earlier)


def hold_pacer(pacer: Pacer, log: DeliveryLog, full: QuotaFull, now: float) -> None:
    """The log refused a `Begin` (``full``): seed ``pacer`` afresh from the log and hold the
    full quota's window until the log's time ``full.until`` (``now``: the pacer's time)."""
    seed_pacer(pacer, log, full.relay, now, fresh=True)
    until = now + (full.until - log.current_time()).total_seconds()
    for window in pacer.windows:
        if window.name == full.quota.name:
            window.hold(until)


def resume_time(log: DeliveryLog, until: float, now: float) -> datetime:
    """The log's time at pacer time ``until`` (``now`` being the pacer's current time)."""
    return log.current_time() + timedelta(seconds=until - now)
