"""Group commit: the delivery-log changes of every worker, committed together.

Each state change used to be its own transaction, and each transaction's commit is a flush to
disk (``synchronous=FULL``): at about a millisecond each, three per message, the log capped a
send at a few hundred messages per second.  Here the workers hand their changes
(`distrib.deliverylog.changes`) to one `GroupCommit`, which writes everything queued in one
transaction (`LogWriter.apply`) and commits it while the event loop goes on sending:

- the transaction runs in a helper thread, on a connection of its own (`DeliveryLog.writer`):
  the database works (and flushes) with the GIL released while the event loop goes on;
- while one group's flush is under way the next group builds up: there is no timer, so a quiet
  run commits at once and a busy one commits many changes per flush;
- a worker awaits the commit of its `Begin` before it writes DATA: nothing is ever sent that
  the file does not already call ``data``.  Outcomes and releases are not awaited: they are in
  the next commit, a few milliseconds later, and always before the engine returns;
- a change that no longer applies (another process recovered the run: its attempt is closed)
  fails alone, as does one that cannot be written for any other reason (each change has its
  own savepoint): the other workers' changes of its group still commit, and the run stops
  through ``on_error``.  A change on a message suppressed while the run went on
  (`distrib.deliverylog.changes.Withdrawn`) fails alone too, without stopping the run: the
  worker skips that message.  A `Begin` refused because the relay's quota is full
  (`distrib.deliverylog.changes.QuotaFull`) fails alone the same way: the message waits.  A
  transaction that fails as a whole (disk full, I/O error)
  fails every change in it the same way.

Crash points (`distrib.send.crash`): ``before-group-commit`` (a group's statements written,
its COMMIT not issued: nothing of it is in the file), and ``after-commit`` once per committed
outcome other than a deferral.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from distrib.deliverylog import (
    Change,
    DeliveryLog,
    LogWriter,
    Outcome,
    QuotaFull,
    State,
    Withdrawn,
)
from distrib.send.crash import crash_point

__all__ = ["GroupCommit"]

_Pending = tuple[Change, "asyncio.Future[int | None]"]


class GroupCommit:
    """Commit delivery-log changes in groups; use ``async with`` (the exit commits the rest)."""

    def __init__(
        self,
        log: DeliveryLog,
        *,
        on_error: Callable[[BaseException], None],
        worker: int | None = None,
    ) -> None:
        self._log = log
        self._on_error = on_error
        self._worker = worker  # the run's worker these changes speak for (None: none)
        self._writer: LogWriter | None = None
        self._queue: list[_Pending] = []
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._thread: ThreadPoolExecutor | None = None
        self.groups = 0  # transactions committed
        self.changes = 0  # changes committed

    async def __aenter__(self) -> GroupCommit:
        self._writer = self._log.writer()
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="distrib-commit")
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def submit(self, change: Change) -> asyncio.Future[int | None]:
        """Queue ``change`` for the next group; the future gives `Begin`'s attempt id once
        committed (None for other changes), or the `DeliveryLogError` that refused it."""
        if self._task is None or self._wake is None:
            raise RuntimeError("GroupCommit is not running")
        future: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._queue.append((change, future))
        self._wake.set()
        return future

    async def close(self) -> None:
        """Commit everything queued, then close the connection and the helper thread."""
        if self._task is None:
            return
        self._closing = True
        assert self._wake is not None
        self._wake.set()
        # Shielded: the changes in flight must end in the file, even if we are cancelled.
        await asyncio.shield(self._task)
        self._task = None
        if self._thread is not None:
            self._thread.shutdown(wait=True)
        if self._writer is not None:
            self._writer.close()

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            if not self._queue:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            group, self._queue = self._queue, []
            await self._commit(group)
            # Let the callbacks of the futures just resolved run (one may submit a change).
            await asyncio.sleep(0)

    async def _commit(self, group: list[_Pending]) -> None:
        writer, thread = self._writer, self._thread
        assert writer is not None and thread is not None
        changes = [change for change, _ in group]
        loop = asyncio.get_running_loop()
        # The whole transaction runs in the helper thread: the database works (and flushes)
        # with the GIL released, while the event loop goes on sending.
        write = partial(writer.apply, changes, worker=self._worker, before_commit=_before_commit)
        results = await loop.run_in_executor(thread, write)
        self.groups += 1
        for (change, future), result in zip(group, results, strict=True):
            if isinstance(result, BaseException):
                if not future.done():
                    future.set_exception(result)
                    future.exception()  # retrieved: only Begin's future is ever awaited
                # A suppressed message is only skipped; a full quota waits for room.
                if not isinstance(result, Withdrawn | QuotaFull):
                    self._on_error(result)
                continue
            self.changes += 1
            if not future.done():
                future.set_result(result)
            if isinstance(change, Outcome) and change.state is not State.DEFERRED:
                crash_point("after-commit")


def _before_commit() -> None:
    crash_point("before-group-commit")
