"""Dispatch: ``limits.connections`` workers, each owning one reused SMTP connection, pull from a
small bounded queue fed lazily from ``outgoing``; one token bucket paces them all; deferred
messages come back after a backoff; a stop request or a stop error lets in-flight messages finish.

What happens to one message (and to the delivery log) is in `distrib.send.delivery`.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace

from distrib.config import LimitsConfig, SMTPConfig
from distrib.deliverylog import DeliveryLog
from distrib.errors import SMTPAuthError, SMTPConnectionError
from distrib.send.delivery import Delivery
from distrib.send.model import Item, Outgoing, Progress, SendReport, Worker
from distrib.send.policy import backoff
from distrib.send.ratelimit import Clock, Sleep, TokenBucket
from distrib.send.transport import ConnectFailed, Connection, build_tls_context

__all__ = ["RECONNECT_ATTEMPTS", "STOP_REASON", "send_messages"]

#: Consecutive connection troubles (refused, dropped, 421) a worker retries before giving up.
RECONNECT_ATTEMPTS = 3
#: The ``stop_reason`` of a run stopped through the ``stop`` event.
STOP_REASON = "stop requested"
#: The first reconnect waits at most this long, whatever ``limits.retry_delay`` says.
_RECONNECT_BASE = 2.0


async def send_messages(
    outgoing: Iterable[Outgoing],
    *,
    log: DeliveryLog,
    smtp: SMTPConfig,
    limits: LimitsConfig,
    password: str | None,
    total: int | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    stop: asyncio.Event | None = None,
    clock: Clock = time.monotonic,
    sleep: Sleep = asyncio.sleep,
) -> SendReport:
    """Send every message of ``outgoing`` (consumed lazily) and record each outcome in ``log``.

    Raises a `distrib.errors.SendError` subclass when the run cannot go on (connection, TLS,
    AUTH, sender refused), after in-flight messages finished; messages not tried stay ``ready``.
    Setting ``stop`` ends the run the same way but returns a report with ``stopped=True``.
    """
    if smtp.username and password is None:
        raise SMTPAuthError(
            f"smtp.username is set but the environment variable {smtp.password_env}"
            " is empty or unset"
        )
    if smtp.username and smtp.security == "none":
        raise SMTPAuthError(
            'smtp.username is set with security = "none": distrib never sends a password over'
            ' an unencrypted connection (use "starttls" or "tls")'
        )
    dispatch = _Dispatch(
        log=log,
        smtp=smtp,
        limits=limits,
        password=password,
        total=total,
        on_progress=on_progress,
        clock=clock,
        sleep=sleep,
    )
    return await dispatch.run(iter(outgoing), stop)


class _Dispatch:
    """The queue, the workers and the counts of one `send_messages` call."""

    def __init__(
        self,
        *,
        log: DeliveryLog,
        smtp: SMTPConfig,
        limits: LimitsConfig,
        password: str | None,
        total: int | None,
        on_progress: Callable[[Progress], None] | None,
        clock: Clock,
        sleep: Sleep,
    ) -> None:
        self.smtp = smtp
        self.limits = limits
        self.password = password
        self.tls = build_tls_context(smtp)
        self.on_progress = on_progress
        self.clock = clock
        self.sleep = sleep
        self.delivery = Delivery(log, limits, self)
        self.bucket = TokenBucket(limits.rate, clock=clock, sleep=sleep)
        self.fresh: deque[Item] = deque()
        self.waiting: set[int] = set()  # message ids sleeping until an in-run retry
        self.retry_tasks: set[asyncio.Task[None]] = set()
        self.outstanding = 0  # items taken from `outgoing` without a final outcome yet
        self.exhausted = False
        self.workers: list[Worker] = []  # the workers still running
        self.changed = asyncio.Event()
        self.halt = asyncio.Event()
        self.stop: asyncio.Event | None = None
        self.stop_reason: str | None = None
        self.error: BaseException | None = None
        self.counts = Progress(0, 0, 0, 0, 0, total, 0.0)
        self.connections = 0
        self.started = clock()

    # -- the Dispatcher protocol used by Delivery ---------------------------------------------

    @property
    def halted(self) -> bool:
        """Tell whether the run is stopping (checking the stop event itself, not a copy)."""
        if self.stop is not None and self.stop.is_set():
            self._halt(STOP_REASON)
        return self.halt.is_set()

    def finished(self, outcome: str) -> None:
        """Count a final outcome for this run."""
        self.outstanding -= 1
        self._bump(**{outcome: 1})
        self._notify()

    def requeue(self, item: Item) -> None:
        """Put ``item`` back at the front of the queue."""
        self.fresh.appendleft(item)
        self._bump(requeued=1)
        self._notify()

    def retry_later(self, item: Item, delay: float) -> None:
        """Put ``item`` back after ``delay`` seconds (it is ``deferred`` in the log meanwhile)."""
        self.waiting.add(item.out.message)
        task = asyncio.create_task(self._retry_later(item, delay))
        self.retry_tasks.add(task)
        task.add_done_callback(self.retry_tasks.discard)

    async def _retry_later(self, item: Item, delay: float) -> None:
        await self.sleep(delay)
        if not self.halt.is_set():
            self.waiting.discard(item.out.message)
            self.requeue(item)

    # -- the run ------------------------------------------------------------------------------

    async def run(self, items: Iterator[Outgoing], stop: asyncio.Event | None) -> SendReport:
        """Run the producer and the workers until done, stopped or failed."""
        self.stop = stop
        tasks = [asyncio.create_task(self._produce(items))]
        tasks += [asyncio.create_task(self._work()) for _ in range(self.limits.connections)]
        watcher = asyncio.create_task(self._watch(stop)) if stop is not None else None
        try:
            await asyncio.gather(*tasks)
        finally:
            helpers = [*self.retry_tasks, *([watcher] if watcher else [])]
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            close = getattr(items, "close", None)
            if callable(close):
                close()  # a generator that renders: let it clean up
        # Messages waiting for an in-run retry, or queued for one, are ``deferred`` in the log.
        for _ in self.waiting | {i.out.message for i in self.fresh if i.retries}:
            self._bump(deferred=1)
        if self.error is not None:
            raise self.error
        c = self.counts
        return SendReport(
            sent=c.sent,
            deferred=c.deferred,
            failed=c.failed,
            unknown=c.unknown,
            stopped=self.stop_reason is not None,
            stop_reason=self.stop_reason,
            elapsed=self.clock() - self.started,
            connections=self.connections,
        )

    async def _watch(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._halt(STOP_REASON)

    def _halt(self, reason: str | None) -> None:
        if not self.halt.is_set():
            self.stop_reason = reason
            self.halt.set()
        self._notify()

    def _fail(self, exc: BaseException) -> None:
        if self.error is None:
            self.error = exc
        self._halt(None)

    def _notify(self) -> None:
        self.changed.set()

    async def _changed(self) -> None:
        # Callers check their condition right before this, with no await in between.
        self.changed.clear()
        await self.changed.wait()

    async def _produce(self, items: Iterator[Outgoing]) -> None:
        try:
            while not self.halt.is_set():
                if len(self.fresh) >= self.limits.connections:
                    await self._changed()
                    continue
                out = next(items, None)  # renders the next message, lazily
                if out is None:
                    break
                self.outstanding += 1
                self.fresh.append(Item(out))
                self._notify()
                await asyncio.sleep(0)  # let a worker start on it before rendering more
        except Exception as exc:
            self._fail(exc)
        finally:
            self.exhausted = True
            self._notify()

    async def _next(self) -> Item | None:
        while True:
            if self.halted:
                return None
            if self.fresh:
                item = self.fresh.popleft()
                self._notify()
                return item
            if self.exhausted and self.outstanding == 0:
                return None
            await self._changed()

    async def _work(self) -> None:
        worker = Worker(Connection(self.smtp, password=self.password, tls=self.tls))
        self.workers.append(worker)
        try:
            while (item := await self._next()) is not None:
                await self._handle(worker, item)
        except asyncio.CancelledError:
            worker.conn.abort()
            raise
        except SMTPConnectionError as exc:
            # Relays often cap connections per client: while another worker is connected and
            # sending, carry on with fewer connections rather than stopping the run.
            others = any(w.conn.is_open for w in self.workers if w is not worker)
            if not others or self.halt.is_set():
                self._fail(exc)
        except Exception as exc:
            self._fail(exc)
        finally:
            self.workers.remove(worker)
            self._notify()
        await worker.conn.close()

    async def _handle(self, worker: Worker, item: Item) -> None:
        try:
            opened = await self._ensure_open(worker)
        except SMTPConnectionError:
            self.fresh.appendleft(item)  # never claimed: another worker may take it
            raise
        if opened:
            await self._pause(self.bucket.reserve())
        if self.halted:
            # Not tried: it keeps its state in the log (ready, or deferred after a retry).
            self.outstanding -= 1
            if item.retries:
                self._bump(deferred=1)
            self._notify()
            return
        await self.delivery.send(worker, item)

    async def _ensure_open(self, worker: Worker) -> bool:
        conn = worker.conn
        while not conn.is_open:
            if self.halt.is_set():
                return False
            if worker.troubles > RECONNECT_ATTEMPTS:
                raise SMTPConnectionError(
                    f"{conn.server}: giving up after {worker.troubles} connection problems in a"
                    f" row; last: {worker.last_trouble}"
                )
            if worker.troubles:
                base = min(self.limits.retry_delay, _RECONNECT_BASE)
                await self._pause(
                    backoff(worker.troubles, base=base, cap=self.limits.max_retry_delay)
                )
                if self.halt.is_set():
                    return False
            try:
                await conn.open()
            except ConnectFailed as exc:
                worker.troubles += 1
                worker.last_trouble = str(exc)
            else:
                self.connections += 1
        return True

    async def _pause(self, delay: float) -> None:
        """Sleep ``delay`` seconds with the injected sleep, waking early if the run halts."""
        if delay <= 0 or self.halt.is_set():
            return
        sleeper = asyncio.ensure_future(self.sleep(delay))
        halted = asyncio.ensure_future(self.halt.wait())
        try:
            await asyncio.wait({sleeper, halted}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, halted):
                task.cancel()
            await asyncio.gather(sleeper, halted, return_exceptions=True)

    def _bump(self, **delta: int) -> None:
        c = self.counts
        values = {k: getattr(c, k) + v for k, v in delta.items()}
        self.counts = replace(c, **values, elapsed=self.clock() - self.started)
        if self.on_progress is not None:
            self.on_progress(self.counts)
