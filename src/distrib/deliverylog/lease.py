"""One sending process per campaign: a lease in the delivery log, kept alive by heartbeats.

A process that sends (or resumes) a run of campaign C first takes C's lease: a row with its pid,
host, user and a heartbeat, taken atomically (`DeliveryLog.take_lease`: SQLite's ``BEGIN
IMMEDIATE``, a PostgreSQL advisory lock) so two processes cannot both see it free.  A second
process is refused with `RunLockedError`.  Workers that join the run
(`distrib.deliverylog.workers`) do not take it: while any of them is alive the lease is not
stale, so no other process starts sending the campaign meanwhile.

The lease is per *campaign*, not per run: two processes starting two new runs of the same
campaign at once would otherwise both send to everyone.

A lease whose holder stopped heartbeating is *stale* and taken over once it expires (``ttl``
seconds after the last heartbeat).  One shortcut, safe by construction: when the holder ran on
this same host and its pid no longer exists, it cannot be sending, so the lease is taken at once
(a crashed run can be resumed without waiting).  A pid reused by an unrelated process only makes
distrib wait for the expiry.  Taking over never touches messages; `DeliveryLog.recover` does, and
it closes the old holder's open attempts, which fences that holder off (a change naming a closed
attempt is refused).
"""

from __future__ import annotations

import contextlib
import getpass
import os
import secrets
import socket
from collections.abc import Callable
from datetime import datetime, timedelta
from types import TracebackType
from typing import Self

from distrib.deliverylog.port import DeliveryLog
from distrib.deliverylog.records import Holder, WorkerRow, timestamp
from distrib.errors import DeliveryLogError, RunLockedError

__all__ = [
    "HEARTBEAT_EVERY",
    "LEASE_TTL",
    "Holder",
    "Lease",
    "acquire_lease",
    "lease_holder",
    "os_user",
    "pid_alive",
    "silent",
]

#: A lease expires this many seconds after its last heartbeat.
LEASE_TTL = 30.0
#: How often a sending process renews its lease.
HEARTBEAT_EVERY = 5.0


def os_user() -> str:
    """Return the operating-system user running distrib (for leases and resolutions)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no USER/LOGNAME variable
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"


def pid_alive(pid: int) -> bool:
    """Tell whether a process with this pid exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    except OSError:
        return True  # cannot tell: assume alive (the safe side)
    return True


def lease_holder(log: DeliveryLog, campaign: str) -> Holder | None:
    """Return who holds ``campaign``'s lease (possibly stale), or None."""
    return log.lease_holder(campaign)


def silent(
    expires_at: str,
    pid: int,
    host: str,
    now: str,
    *,
    here: str | None = None,
    alive: Callable[[int], bool] = pid_alive,
) -> bool:
    """Tell whether a process that heartbeats (a lease holder, a worker) is gone: its last
    heartbeat expired, or it ran on this host (``here``) and its pid no longer exists."""
    if expires_at < now:
        return True
    here = socket.gethostname() if here is None else here
    return host == here and not alive(pid)


class Lease:
    """A held lease.  Renew it every `HEARTBEAT_EVERY` seconds; release it when done."""

    def __init__(self, log: DeliveryLog, campaign: str, owner: str, ttl: float) -> None:
        self.log = log
        self.campaign = campaign
        self.owner = owner
        self.ttl = ttl
        self.held = True

    def __repr__(self) -> str:
        return f"<Lease {self.campaign!r} owner={self.owner} held={self.held}>"

    def _expiry(self) -> tuple[str, str]:
        now = self.log.current_time()
        return timestamp(now), timestamp(now + timedelta(seconds=self.ttl))

    def renew(self) -> bool:
        """Write a heartbeat; return False if the lease was lost (taken over or released)."""
        if not self.held:
            return False
        now, expires = self._expiry()
        self.held = self.log.renew_lease(self.campaign, self.owner, now, expires)
        return self.held

    def confirm(self) -> None:
        """Renew the lease, or raise `RunLockedError` if another process took it meanwhile
        (e.g. while this one planned for long, or waited at a confirmation prompt)."""
        if not self.renew():
            holder = lease_holder(self.log, self.campaign)
            who = f": {_locked_message(holder, self.log.current_time())}" if holder else ""
            raise RunLockedError(
                f"this process lost the lease of campaign {self.campaign!r} before sending{who}"
            )

    def attach(self, run_id: int) -> None:
        """Record which run this lease is sending (shown to a refused second process)."""
        self.log.attach_lease(self.campaign, self.owner, run_id)

    def release(self) -> None:
        """Give the lease up (idempotent; never raises for a log that is already closed)."""
        if not self.held:
            return
        self.held = False
        # A DeliveryLogError or a ValueError: the log is already closed.
        with contextlib.suppress(DeliveryLogError, ValueError):
            self.log.release_lease(self.campaign, self.owner)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def acquire_lease(
    log: DeliveryLog,
    campaign: str,
    *,
    run_id: int | None = None,
    ttl: float = LEASE_TTL,
    pid: int | None = None,
    host: str | None = None,
    alive: Callable[[int], bool] = pid_alive,
) -> Lease:
    """Take ``campaign``'s lease or raise `RunLockedError` naming who holds it."""
    pid = os.getpid() if pid is None else pid
    host = socket.gethostname() if host is None else host
    owner = f"{host}:{pid}:{secrets.token_hex(4)}"
    lease = Lease(log, campaign, owner, ttl)
    now, expires = lease._expiry()
    wanted = Holder(campaign, run_id, owner, pid, host, os_user(), now, now, expires)

    def stale(holder: Holder, workers: list[WorkerRow]) -> bool:
        # Gone, and no worker still drains its run (workers keep the campaign taken).
        return silent(
            holder.expires_at, holder.pid, holder.host, now, here=host, alive=alive
        ) and all(silent(w.expires_at, w.pid, w.host, now, here=host, alive=alive) for w in workers)

    current = log.take_lease(wanted, stale)
    if current is not None:
        raise RunLockedError(_locked_message(current, log.current_time()))
    return lease


def _locked_message(holder: Holder, now: datetime) -> str:
    which = f"run {holder.run_id}" if holder.run_id is not None else "a new run"
    ago = _seconds_between(holder.heartbeat_at, now)
    wait = max(0, round(-_seconds_between(holder.expires_at, now)))
    user = f" (user {holder.user})" if holder.user else ""
    return (
        f"campaign {holder.campaign!r} is being sent right now: {which} by process {holder.pid}"
        f" on {holder.host}{user}, last heartbeat {ago:.0f} s ago.  Only one process may send a"
        " campaign at a time.  If that process is gone (another machine, or it hangs), its lease"
        f" expires in {wait} s; then `distrib send --resume` can continue."
    )


def _seconds_between(stamp: str, now: datetime) -> float:
    try:
        return (now - datetime.fromisoformat(stamp)).total_seconds()
    except ValueError:
        return 0.0
