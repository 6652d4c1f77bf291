"""Dispatch: ``limits.connections`` workers, each owning one reused SMTP connection, pull from a
small bounded queue fed lazily from ``outgoing``; a `Pacer` spaces them (global rate, relay
quotas, a rate per recipient domain); deferred messages come back after a backoff.

Stopping: a ``stop`` request lets in-flight messages finish and starts nothing new; an
``abandon`` request (a second Ctrl-C) cancels them, leaving each one's state truthful; an error
storm (many policy rejections or throttling replies in a row) *pauses* the run the same way.

What happens to one message (and to the delivery log) is in `distrib.send.delivery`.

The delivery-log changes of every worker are committed together (`distrib.send.commits`): a
worker awaits the commit of its claim-and-``data`` change before DATA; outcomes join the next
group.  ``outgoing`` may be an async iterable (e.g. messages rendered in another process,
`distrib.renderpool`), so the event loop only sends.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from dataclasses import replace
from datetime import datetime

from distrib.config import LimitsConfig, SMTPConfig
from distrib.deliverylog import DeliveryLog, QuotaFull
from distrib.errors import DistribError, RunLockedError, SMTPAuthError, SMTPConnectionError
from distrib.send.auth import Tokens
from distrib.send.commits import GroupCommit
from distrib.send.delivery import Delivery
from distrib.send.model import Item, Outgoing, Progress, QuotaWait, SendReport, Worker
from distrib.send.policy import Reply, backoff, storm_kind
from distrib.send.quota import (
    QUOTA_PAUSE,
    hold_pacer,
    relay_identity,
    relay_quotas,
    resume_time,
    seed_pacer,
)
from distrib.send.ratelimit import Clock, Pacer, Sleep, Window
from distrib.send.transport import ConnectFailed, Connection, build_tls_context

__all__ = ["ABANDON_REASON", "RECONNECT_ATTEMPTS", "STOP_REASON", "send_messages"]

#: Consecutive connection troubles (refused, dropped, 421) a worker retries before giving up.
RECONNECT_ATTEMPTS = 3
#: The ``stop_reason`` of a run stopped through the ``stop`` event.
STOP_REASON = "stop requested"
#: The ``stop_reason`` of a run stopped through the ``abandon`` event.
ABANDON_REASON = "stopped at once: messages in flight were abandoned"
#: The first reconnect waits at most this long, whatever ``limits.retry_delay`` says.
_RECONNECT_BASE = 2.0
#: How many rendered messages may wait when per-domain limits let later ones overtake.
_LOOKAHEAD = 64
_STORM_NAMES = {"policy": "policy rejection(s) (5.7.x)", "throttling": "throttling (421/4.7.x)"}


async def send_messages(
    outgoing: Iterable[Outgoing] | AsyncIterable[Outgoing],
    *,
    log: DeliveryLog,
    smtp: SMTPConfig,
    limits: LimitsConfig,
    password: str | None,
    tokens: Tokens | None = None,
    total: int | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    stop: asyncio.Event | None = None,
    abandon: asyncio.Event | None = None,
    heartbeat: Callable[[], bool] | None = None,
    heartbeat_every: float = 5.0,
    log_worker: int | None = None,
    clock: Clock = time.monotonic,
    sleep: Sleep = asyncio.sleep,
    wait_for_quota: bool = False,
) -> SendReport:
    """Send every message of ``outgoing`` (consumed lazily) and record each outcome in ``log``.

    Raises a `distrib.errors.SendError` subclass when the run cannot go on (connection, TLS,
    AUTH, sender refused), after in-flight messages finished; messages not tried stay ``ready``.
    Setting ``stop`` ends the run the same way but returns a report with ``stopped=True``;
    setting ``abandon`` also cancels in-flight messages.  ``heartbeat`` is called every
    ``heartbeat_every`` seconds (to keep a lease); when it returns False the run stops.
    ``log_worker``: the run's worker (`distrib.deliverylog.workers`) that claimed the messages
    of ``outgoing``: the log applies the changes only to messages it holds.  ``tokens``: with
    ``smtp.auth = "oauth2"``, where the OAuth2 access tokens come from (instead of ``password``).

    The relay's quotas (``limits.per_minute``, ``per_hour``, ``per_day``) count what the log
    shows the relay was handed by earlier runs too, and by other processes sending at the same
    time (each message's ``Begin`` is checked by the log: `distrib.send.quota`).  When one holds the
    next message more than `QUOTA_PAUSE` seconds, the run pauses (``paused``, with
    ``resume_at``), unless ``wait_for_quota``: then it waits (``sleep``).
    """
    if smtp.username and password is None and tokens is None:
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
        tokens=tokens,
        total=total,
        on_progress=on_progress,
        clock=clock,
        sleep=sleep,
        log_worker=log_worker,
        wait_for_quota=wait_for_quota,
    )
    items = aiter(outgoing) if isinstance(outgoing, AsyncIterable) else iter(outgoing)
    return await dispatch.run(items, stop, abandon, heartbeat, heartbeat_every)


class _Dispatch:
    """The queue, the workers and the counts of one `send_messages` call."""

    def __init__(
        self,
        *,
        log: DeliveryLog,
        smtp: SMTPConfig,
        limits: LimitsConfig,
        password: str | None,
        tokens: Tokens | None,
        total: int | None,
        on_progress: Callable[[Progress], None] | None,
        clock: Clock,
        sleep: Sleep,
        log_worker: int | None = None,
        wait_for_quota: bool = False,
    ) -> None:
        self.log = log
        self.smtp = smtp
        self.limits = limits
        self.password = password
        self.tokens = tokens
        self.tls = build_tls_context(smtp)
        self.on_progress = on_progress
        self.clock = clock
        self.sleep = sleep
        self.commits = GroupCommit(log, on_error=self._fail, worker=log_worker)
        self.relay = relay_identity(smtp)
        self.delivery = Delivery(
            log, limits, self, self.commits, relay=self.relay, quotas=relay_quotas(limits)
        )
        self.pacer = Pacer(
            rate=limits.rate,
            burst=limits.burst,
            per_minute=limits.per_minute,
            per_hour=limits.per_hour,
            per_day=limits.per_day,
            per_domain=limits.per_domain,
            domain_burst=limits.domain_burst,
            domains=limits.domains,
        )
        lookahead = _LOOKAHEAD if self.pacer.by_domain else 0
        self.capacity = max(limits.connections, lookahead)
        self.per_connection = limits.messages_per_connection  # 0: no limit
        self.fresh: deque[Item] = deque()
        self.reserved = 0  # workers that saw an item in `fresh` and are about to take one
        self.waiting: set[int] = set()  # message ids sleeping until an in-run retry
        self.retry_tasks: set[asyncio.Task[None]] = set()
        self.worker_tasks: list[asyncio.Task[None]] = []
        self.outstanding = 0  # items taken from `outgoing` without a final outcome yet
        self.exhausted = False
        self.workers: list[Worker] = []  # the workers still running
        self.changed = asyncio.Event()
        self.halt = asyncio.Event()
        self.stop: asyncio.Event | None = None
        self.stop_reason: str | None = None
        self.paused = False
        self.storm = 0  # replies in a row that refuse or throttle us (see `observe`)
        self.storm_kinds: Counter[str] = Counter()
        self.error: BaseException | None = None
        self.counts = Progress(0, 0, 0, 0, 0, total, 0.0)
        self.connections = 0
        self.started = clock()
        self.wait_for_quota = wait_for_quota
        self.resume_at: datetime | None = None  # paused by a quota: when it has room again
        # What the relay was handed by earlier runs (any release) counts against its quotas.
        seed_pacer(self.pacer, log, self.relay, self.started)

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

    def recount(self, was: str, now: str) -> None:
        """Count a final outcome again (``was`` counted, its change found ``now`` instead)."""
        self._bump(**{was: -1, now: 1})

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

    def observe(self, reply: Reply) -> None:
        """Count replies that refuse or throttle *us*; too many in a row pause the run.

        A message accepted ends the row; replies about one recipient (no such user, mailbox
        full, greylisting) neither count nor end it.
        """
        if reply.positive:
            self.storm = 0
            self.storm_kinds.clear()
            return
        kind = storm_kind(reply)
        if kind is None:
            return
        self.storm += 1
        self.storm_kinds[kind] += 1
        limit = self.limits.pause_after
        if limit and self.storm >= limit and not self.halt.is_set():
            kinds = " and ".join(
                f"{n} {_STORM_NAMES[k]}" for k, n in sorted(self.storm_kinds.items())
            )
            replies = "reply" if self.storm == 1 else "replies"
            self._pause(
                f"{self.storm} {replies} in a row refused or throttled us ({kinds}); last:"
                f" {reply}.  The relay is blocking or slowing this sender: check with its"
                " operator or lower [limits], then resume the run"
            )

    def cap_connection(self, worker: Worker) -> None:
        """Reconnect after as many messages as ``worker``'s connection took before refusing."""
        learned = max(1, worker.used - 1)
        if not self.per_connection or learned < self.per_connection:
            self.per_connection = learned

    def quota_full(self, full: QuotaFull) -> None:
        """Other processes filled the relay's quota: learn from the log when it has room."""
        hold_pacer(self.pacer, self.log, full, self.clock())
        self._notify()

    # -- the run ------------------------------------------------------------------------------

    async def run(
        self,
        items: Iterator[Outgoing] | AsyncIterator[Outgoing],
        stop: asyncio.Event | None,
        abandon: asyncio.Event | None,
        heartbeat: Callable[[], bool] | None,
        heartbeat_every: float,
    ) -> SendReport:
        """Run the producer and the workers until done, stopped or failed."""
        async with self.commits:  # on the way out, everything queued is committed
            await self._run(items, stop, abandon, heartbeat, heartbeat_every)
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
            paused=self.paused,
            log_commits=self.commits.groups,
            suppressed=c.suppressed,
            resume_at=self.resume_at,
        )

    async def _run(
        self,
        items: Iterator[Outgoing] | AsyncIterator[Outgoing],
        stop: asyncio.Event | None,
        abandon: asyncio.Event | None,
        heartbeat: Callable[[], bool] | None,
        heartbeat_every: float,
    ) -> None:
        self.stop = stop
        producer = asyncio.create_task(self._produce(items))
        self.worker_tasks = [
            asyncio.create_task(self._work()) for _ in range(self.limits.connections)
        ]
        helpers: list[asyncio.Task[None]] = []
        if stop is not None:
            helpers.append(asyncio.create_task(self._watch(stop)))
        if abandon is not None:
            helpers.append(asyncio.create_task(self._watch_abandon(abandon)))
        if heartbeat is not None:
            helpers.append(asyncio.create_task(self._heartbeat(heartbeat, heartbeat_every)))
        try:
            await asyncio.gather(producer, *self.worker_tasks, return_exceptions=True)
        finally:
            helpers += self.retry_tasks
            for task in (producer, *self.worker_tasks, *helpers):
                task.cancel()
            await asyncio.gather(producer, *self.worker_tasks, *helpers, return_exceptions=True)
            if isinstance(items, AsyncIterator):
                aclose = getattr(items, "aclose", None)
                if callable(aclose):
                    await aclose()  # e.g. stop the processes that render
            else:
                close = getattr(items, "close", None)
                if callable(close):
                    close()  # a generator that renders: let it clean up

    async def _watch(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._halt(STOP_REASON)

    async def _watch_abandon(self, abandon: asyncio.Event) -> None:
        await abandon.wait()
        self._halt(STOP_REASON)
        self.stop_reason = ABANDON_REASON
        self.counts = replace(self.counts, stopping=ABANDON_REASON)
        if self.on_progress is not None:
            self.on_progress(self.counts)
        for task in self.worker_tasks:
            task.cancel()  # each in-flight message is left truthful by Delivery._abandon

    async def _heartbeat(self, beat: Callable[[], bool], every: float) -> None:
        while True:
            await asyncio.sleep(every)  # real time: a lease is about wall-clock expiry
            try:
                alive = beat()
            except DistribError:
                continue  # e.g. the log is busy for a moment: try again at the next beat
            if not alive:
                self._fail(
                    RunLockedError(
                        "this process lost the campaign's lease (it stopped heartbeating for"
                        " too long and another process took over): it stopped sending"
                    )
                )
                return

    def _halt(self, reason: str | None) -> None:
        if not self.halt.is_set():
            self.stop_reason = reason
            self.halt.set()
            self.counts = replace(self.counts, stopping=reason or "an error")
            if self.on_progress is not None:
                self.on_progress(self.counts)
        self._notify()

    def _pause(self, reason: str) -> None:
        if not self.halt.is_set():
            self.paused = True
        self._halt(reason)

    def _pause_for_quota(self, window: Window, until: float, now: float) -> None:
        """A relay quota is reached: pause, saying when the window has room again."""
        if self.halt.is_set():
            return
        self.resume_at = resume_time(self.log, until, now)
        self._pause(
            f"the relay's quota is reached ({window.name} = {window.count} through"
            f" {self.relay}, counting every run of the log): it has room again at"
            f" {self.resume_at.isoformat(timespec='seconds')}"
        )

    def _waiting(self, window: Window | None, until: float = 0.0, now: float = 0.0) -> None:
        """Say (through ``on_progress``) that a relay quota holds the next message until
        ``until`` (pacer time), or, with no ``window``, that nothing holds it any more."""
        wait = None
        if window is not None:
            when = resume_time(self.log, until, now).replace(microsecond=0)
            wait = QuotaWait(window.name, when, until - now)
            shown = self.counts.waiting
            if shown is not None and (shown.quota, shown.until) == (wait.quota, wait.until):
                return
        elif self.counts.waiting is None:
            return
        self.counts = replace(self.counts, waiting=wait, elapsed=self.clock() - self.started)
        if self.on_progress is not None:
            self.on_progress(self.counts)

    def _fail(self, exc: BaseException) -> None:
        if self.error is None:
            self.error = exc
        self._halt(None)

    def _notify(self) -> None:
        self.changed.set()

    async def _changed(self, timeout: float | None = None) -> None:
        """Wait for a change (or ``timeout`` seconds, with the injected sleep).

        Callers check their condition right before this, with no await in between.
        """
        self.changed.clear()
        if timeout is None:
            await self.changed.wait()
            return
        waiter = asyncio.ensure_future(self.changed.wait())
        sleeper = asyncio.ensure_future(self.sleep(max(0.0, timeout)))
        try:
            await asyncio.wait({waiter, sleeper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (waiter, sleeper):
                task.cancel()
            await asyncio.gather(waiter, sleeper, return_exceptions=True)

    async def _produce(self, items: Iterator[Outgoing] | AsyncIterator[Outgoing]) -> None:
        try:
            while not self.halt.is_set():
                if len(self.fresh) >= self.capacity:
                    await self._changed()
                    continue
                if isinstance(items, AsyncIterator):
                    out = await anext(items, None)
                else:
                    out = next(items, None)  # renders the next message, lazily
                if out is None:
                    break
                if out.retry_at is not None:
                    # Deferred by an earlier run: wait for its retry time (they come in order).
                    due = (out.retry_at - self.log.current_time()).total_seconds()
                    await self._sleep_unless_halted(due)
                    if self.halt.is_set():
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

    async def _wait_for_work(self, worker: Worker) -> bool:
        """Wait until an item is free for ``worker`` (True) or the run is over (False)."""
        while True:
            if self.halted:
                return False
            if len(self.fresh) > self.reserved:
                self.reserved += 1
                worker.waiting = True
                return True
            if self.exhausted and self.outstanding == 0:
                return False
            await self._changed()

    def _unreserve(self, worker: Worker) -> None:
        if worker.waiting:
            worker.waiting = False
            self.reserved -= 1
            self._notify()

    async def _take(self, worker: Worker) -> tuple[Item, float] | None:
        """Pick the next item the limits allow; return it with how long to wait before it."""
        while True:
            if self.halted:
                return None
            if not self.fresh:
                if self.exhausted and self.outstanding == 0:
                    return None
                await self._changed()
                continue
            now = self.clock()
            held = self.pacer.quota_hold(now)
            if held is not None and held[0] - now > QUOTA_PAUSE and not self.wait_for_quota:
                self._pause_for_quota(held[1], held[0], now)
                return None
            if held is not None:
                self._waiting(held[1], held[0], now)
            picked = self.pacer.pick([item.domain for item in self.fresh], now)
            if isinstance(picked, tuple):
                index, at = picked
                item = self.fresh[index]
                del self.fresh[index]
                self._unreserve(worker)
                return item, at - now
            await self._changed(timeout=picked - now)

    async def _work(self) -> None:
        worker = Worker(
            Connection(self.smtp, password=self.password, tls=self.tls, tokens=self.tokens)
        )
        self.workers.append(worker)
        try:
            while await self._wait_for_work(worker):
                try:
                    if not await self._one(worker):
                        break
                finally:
                    self._unreserve(worker)
        except asyncio.CancelledError:
            worker.conn.abort()
            raise
        except SMTPConnectionError as exc:
            # Relays often cap connections per client: while another worker is connected and
            # sending, carry on with fewer connections rather than stopping the run.  A worker
            # whose last connection succeeded counts, open at this instant or not (between two
            # connections, or still greeting the relay): a moment must not decide the run.  A
            # worker whose attempt is under way is waited for: on a loaded machine the refused
            # workers can use up their tries before the first connection's greeting is read.
            while not self.halt.is_set() and any(
                w.opening for w in self.workers if w is not worker
            ):
                await self._changed()
            others = any(w.conn.is_open or w.connected for w in self.workers if w is not worker)
            if not others or self.halt.is_set():
                if worker.throttled:
                    self._pause(
                        f"{exc}.  The relay keeps saying it is busy (421): try again later,"
                        " with fewer [limits] connections or a lower rate"
                    )
                else:
                    self._fail(exc)
        except Exception as exc:
            self._fail(exc)
        finally:
            self.workers.remove(worker)
            self._notify()
        await worker.conn.close()

    async def _one(self, worker: Worker) -> bool:
        """Send one message on ``worker``; False when the run is stopping."""
        if self.per_connection and worker.used >= self.per_connection and worker.conn.is_open:
            await worker.conn.close()  # QUIT; the next message opens a new connection
        if not await self._ensure_open(worker):
            return False
        taken = await self._take(worker)
        if taken is None:
            return not self.halted
        item, delay = taken
        await self._sleep_unless_halted(delay)
        self._waiting(None)
        if self.halted:
            # Not tried: it keeps its state in the log (ready, or deferred after a retry).
            self.outstanding -= 1
            if item.retries:
                self._bump(deferred=1)
            self._notify()
            return False
        await self.delivery.send(worker, item)
        return True

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
                await self._sleep_unless_halted(
                    backoff(worker.troubles, base=base, cap=self.limits.max_retry_delay)
                )
                if self.halt.is_set():
                    return False
            worker.opening = True
            try:
                await conn.open()
            except ConnectFailed as exc:
                worker.troubles += 1
                worker.last_trouble = str(exc)
                worker.throttled = exc.code == 421
                worker.connected = False
            else:
                self.connections += 1
                worker.used = 0
                worker.connected = True
            finally:
                worker.opening = False
                self._notify()
        return True

    async def _sleep_unless_halted(self, delay: float) -> None:
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
