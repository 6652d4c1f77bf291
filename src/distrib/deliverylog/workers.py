"""Several processes drain one run: workers, their claims and heartbeats.

Every process that sends a run is one of its *workers*: it registers (a row with its pid, host,
user and a heartbeat), then *claims* pending messages a few at a time (`DeliveryLog.claim`: on
PostgreSQL ``SELECT … FOR UPDATE SKIP LOCKED``, on SQLite inside ``BEGIN IMMEDIATE``), so two
workers never get the same message, and sends only what it claimed: its changes speak for it
(`DeliveryLog.apply` with ``worker``), and a `Begin` applies only to a message it holds.  The
guarded `Begin` stays the last line of defence against sending twice.

The first worker is the process that started the run (``distrib send``), which holds the
campaign's lease; others join it (``distrib send CAMPAIGN --resume RUN --join``), on this
machine or another one sharing a PostgreSQL log.  While any worker is alive the campaign's
lease is not stale: no other process starts a run of the campaign meanwhile.

A worker that falls silent (its heartbeat expired, or it ran on this host and its pid is gone)
is recovered by the others (`Worker.idle`): its messages in ``data`` become ``unknown`` (never
resent automatically), those it had claimed but not begun go back to the queue, and it is marked
finished, so that if it was only slow its next change is refused and it stops.  A live worker's
messages are never touched.  When nothing is left to claim, a worker waits while other live
workers still hold messages (to take them over if those fall silent), then ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from types import TracebackType
from typing import Final, Self

from distrib.deliverylog.lease import LEASE_TTL, os_user, pid_alive, silent
from distrib.deliverylog.port import DeliveryLog
from distrib.deliverylog.records import MessageRow, Recovered, WorkerRow, timestamp
from distrib.errors import DeliveryLogError

__all__ = ["CLAIM_FIRST", "CLAIM_MOST", "IDLE_POLL", "Worker", "silent_workers"]

#: A worker's first claim takes this many messages; each next one twice as many, up to
#: `CLAIM_MOST` (a long run costs few claims; the end of a run is shared out finely).
CLAIM_FIRST: Final = 8
CLAIM_MOST: Final = 128
#: Seconds between two looks while other workers still hold messages.
IDLE_POLL: Final = 0.5


def silent_workers(
    log: DeliveryLog, *, host: str | None = None, alive: Callable[[int], bool] = pid_alive
) -> Callable[[WorkerRow], bool]:
    """A ``dead`` predicate for `DeliveryLog.recover`: the workers that fell silent by now."""
    here = socket.gethostname() if host is None else host
    now = log.now()
    return lambda w: silent(w.expires_at, w.pid, w.host, now, here=here, alive=alive)


class Worker:
    """One registered worker of a run; use as a context manager (`finish` on the way out)."""

    def __init__(
        self,
        log: DeliveryLog,
        row: WorkerRow,
        *,
        ttl: float = LEASE_TTL,
        host: str | None = None,
        alive: Callable[[int], bool] = pid_alive,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.log = log
        self.row = row
        self.ttl = ttl
        self.host = socket.gethostname() if host is None else host
        self._alive = alive
        self._sleep = sleep
        self._size = CLAIM_FIRST
        self.claimed = 0  # messages claimed so far
        self.finished = False

    @classmethod
    def register(
        cls,
        log: DeliveryLog,
        run_id: int,
        *,
        ttl: float = LEASE_TTL,
        pid: int | None = None,
        host: str | None = None,
        alive: Callable[[int], bool] = pid_alive,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> Worker:
        """Register this process as a worker of ``run_id``."""
        pid = os.getpid() if pid is None else pid
        host = socket.gethostname() if host is None else host
        expires = timestamp(log.current_time() + timedelta(seconds=ttl))
        row = log.register_worker(
            run_id, owner=f"{host}:{pid}:{secrets.token_hex(4)}", pid=pid, host=host,
            user=os_user(), expires_at=expires,
        )  # fmt: skip
        return cls(log, row, ttl=ttl, host=host, alive=alive, sleep=sleep)

    def __repr__(self) -> str:
        return f"<Worker {self.id} of run {self.run_id}>"

    @property
    def id(self) -> int:
        """The worker's id in the log."""
        return self.row.id

    @property
    def run_id(self) -> int:
        """The run it drains."""
        return self.row.run_id

    def renew(self) -> bool:
        """Write a heartbeat; False if the worker was finished (recovered by another as
        silent): it must stop."""
        if self.finished:
            return False
        now = self.log.current_time()
        alive = self.log.renew_worker(
            self.id, timestamp(now), timestamp(now + timedelta(seconds=self.ttl))
        )
        if not alive:
            self.finished = True
        return alive

    def claims(self, *, later: bool = False) -> Iterator[MessageRow]:
        """Claim and yield pending messages until none is free: ``ready`` and due ``deferred``
        ones in planning order (``later``: deferred ones not yet due, soonest first).  Claims
        lazily: a message is claimed only when the one before it was taken."""
        while True:
            rows = self.log.claim(self.run_id, self.id, self._size, later=later)
            if not rows:
                return
            self.claimed += len(rows)
            self._size = min(CLAIM_MOST, self._size * 2)
            yield from rows

    def silent(self, other: WorkerRow) -> bool:
        """Tell whether another worker is gone (see the module's docstring)."""
        now = self.log.now()
        return other.id != self.id and silent(
            other.expires_at, other.pid, other.host, now, here=self.host, alive=self._alive
        )

    def sweep(self) -> Recovered:
        """Recover the run's silent workers (their messages: ``data`` → ``unknown``, claimed
        ones back in the queue); never this one's nor a live one's."""
        return self.log.recover(self.run_id, dead=self.silent)

    def others_busy(self) -> bool:
        """Tell whether another unfinished worker still holds messages of the run."""
        load = self.log.worker_load(self.run_id)
        return any(n for worker, n in load.items() if worker != self.id)

    async def idle(self) -> bool:
        """Nothing was free to claim: recover silent workers, and say whether to claim again
        (True) or whether the run is drained (False: nothing free, and no other live worker
        holds a message).  Waits while other live workers send what they hold."""
        while True:
            self.sweep()
            if self.log.free_messages(self.run_id):
                return True
            if not self.others_busy():
                return False
            await self._sleep(IDLE_POLL)

    def finish(self, note: str | None = None) -> int:
        """Leave the run: claimed messages not begun go back to the queue (returned count)."""
        if self.finished:
            return 0
        self.finished = True
        return self.log.finish_worker(self.id, note)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.finish()
            return
        with contextlib.suppress(DeliveryLogError):  # the error on its way matters more
            self.finish()
