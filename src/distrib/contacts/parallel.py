"""Read and prepare the sources of a campaign, on two cores when that pays.

Reading and preparing a source (decode, parse, clean, check, validate its addresses) needs
nothing from the other sources, and it is most of the stage's time on large lists.  So when the
lists are large, this process and a worker process share the sources: the worker takes the
largest one not yet started, this process the smallest, until none is left (each side takes
the next as soon as it is free, so a slow file or a busy core evens out).  The worker sends
back the prepared rows (pickled: about 0.2 s per 100,000 rows to send and receive, which is why
small lists stay in this process).  The result is the same, in the same order, as preparing
the sources one after the other here: `read_and_prepare` is the one function both paths run,
and the results are put back in source order before anything else looks at them.

The worker is started with ``fork`` (no second start-up of Python and pandas, about a second
here), so the parallel path is only chosen automatically on Linux and when this process runs
no other thread: forking a multi-threaded process can copy a lock another thread held.  If the
worker dies (e.g. killed for memory), the sources it had not sent back are prepared here.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from pathlib import Path

from distrib.config import SourceConfig
from distrib.contacts.merge import no_gc
from distrib.contacts.prepare import PreparedSource, prepare_source
from distrib.contacts.read import Limits, SourceTable, read_sources
from distrib.errors import ContactsError, Problem

__all__ = [
    "MIN_PARALLEL_BYTES",
    "SourceResult",
    "idle_cpus",
    "plan_workers",
    "prepare_sources",
    "read_and_prepare",
]

# Below this much input in all, a worker costs more (start, sending rows back) than it saves.
MIN_PARALLEL_BYTES = 8 << 20
# The sources other than the largest must add up to at least this share of it, or this process
# would mostly wait for the worker, which also has to send the largest back.
_MIN_REST_SHARE = 0.25
# Processors that must be idle (while this process sleeps) for a worker to run beside it.
_MIN_IDLE = 1.5


@dataclass(frozen=True, slots=True)
class SourceResult:
    """What one source gave: its prepared tables and warnings, or why it cannot be used."""

    prepared: tuple[PreparedSource, ...] = ()
    warnings: tuple[Problem, ...] = ()
    problems: tuple[Problem, ...] = ()


def _without_cells(prepared: PreparedSource) -> PreparedSource:
    """Drop the source's cells as read: `prepare_source` copied what the stage needs into
    ``frame``; only the tables' details (path, sheet, encoding…) are used after it."""
    source: SourceTable = prepared.table
    table = replace(source.table, frame=source.table.frame.iloc[:0])
    return replace(prepared, table=replace(source, table=table, frame=source.frame.iloc[:0]))


def read_and_prepare(source: SourceConfig, limits: Limits) -> SourceResult:
    """Read one source (all its wanted sheets) and prepare each table."""
    try:
        tables, skipped = read_sources(source, limits)
    except ContactsError as exc:
        return SourceResult(problems=exc.problems)
    prepared = (
        replace(
            _without_cells(prepare_source(t, source.columns, limits)),
            language=source.language,
            name=source.list_name,
        )
        for t in tables
    )
    return SourceResult(tuple(prepared), tuple(skipped))


def _in_worker(source: SourceConfig, limits: Limits) -> SourceResult:
    with no_gc():  # see merge.no_gc; the worker builds as many objects as this process
        return read_and_prepare(source, limits)


def _size(source: SourceConfig) -> int:
    try:
        return source.path.stat().st_size
    except OSError:
        return 0  # read_sources will say why


def plan_workers(
    sizes: Sequence[int], idle: float, *, can_fork: bool, min_bytes: int = MIN_PARALLEL_BYTES
) -> int:
    """Return how many processes should prepare sources of these sizes (bytes): 1 or 2.

    Two when there are two sources or more, ``fork`` is safe (``can_fork``), the input is large
    (``min_bytes`` in all), the sources other than the largest are a fair share of it (else this
    process would mostly wait for the worker), and two cores are free (``idle``: how many were
    idle just before; see `idle_cpus`).  On a busy machine a worker only adds the cost of
    sending rows back: Linux shares the processors between sessions, not processes, so a second
    process of ours gets no more time while others keep the cores busy.
    """
    if len(sizes) < 2 or idle < _MIN_IDLE or not can_fork or sum(sizes) < min_bytes:
        return 1
    largest = max(sizes)
    return 2 if sum(sizes) - largest >= _MIN_REST_SHARE * largest else 1


def idle_cpus(interval: float = 0.05) -> float:
    """Return how many processors were idle, on average, over the next ``interval`` seconds
    (from ``/proc/stat``; 0 where it cannot be read, which keeps the stage in one process)."""

    def sample() -> tuple[int, int]:
        with Path("/proc/stat").open(encoding="ascii") as stat:
            cpu = [int(v) for v in stat.readline().split()[1:]]
        return sum(cpu), cpu[3] + cpu[4]  # all time, idle + waiting for I/O

    try:
        total, idle = sample()
        time.sleep(interval)
        total_after, idle_after = sample()
    except (OSError, ValueError, IndexError):
        return 0.0
    if total_after <= total:
        return 0.0
    return (os.cpu_count() or 1) * (idle_after - idle) / (total_after - total)


def _can_fork() -> bool:
    return (
        sys.platform == "linux"
        and "fork" in multiprocessing.get_all_start_methods()
        and threading.active_count() == 1
    )


def prepare_sources(
    sources: Sequence[SourceConfig], limits: Limits, *, workers: int | None = None
) -> list[SourceResult]:
    """Return `read_and_prepare` of each source, in the order given.

    ``workers``: how many processes share the sources (1: all in this one; 2: this one and a
    worker process); None chooses (`plan_workers`).
    """
    if workers is None:
        sizes = [_size(s) for s in sources]
        # Measure the idle processors only when the rest would allow a worker.
        could = plan_workers(sizes, float(_MIN_IDLE), can_fork=_can_fork()) > 1
        workers = plan_workers(sizes, idle_cpus(), can_fork=True) if could else 1
    if workers < 2 or len(sources) < 2:
        return [read_and_prepare(source, limits) for source in sources]
    return _shared(sources, limits)


def _shared(sources: Sequence[SourceConfig], limits: Limits) -> list[SourceResult]:
    """Prepare the sources here and in one worker process, each taking the next when free."""
    # Largest first for the worker, smallest first for this process (it also unpickles).
    pending = deque(sorted(range(len(sources)), key=lambda i: -_size(sources[i])))
    results: list[SourceResult | None] = [None] * len(sources)
    failure: list[BaseException] = []
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        first = pending.popleft()
        # Submitted from this thread, so the worker is forked before the driver thread exists.
        future = pool.submit(_in_worker, sources[first], limits)

        def drive(index: int, job: Future[SourceResult]) -> None:
            """Wait for the worker's source, then give it the next largest one."""
            while True:
                try:
                    results[index] = job.result()
                except BrokenProcessPool:
                    return  # the worker died: what it did not send back is prepared below
                except BaseException as exc:  # a bug: raised again in the calling thread
                    failure.append(exc)
                    return
                try:
                    index = pending.popleft()  # deque pops are atomic: no lock needed
                except IndexError:
                    return
                try:
                    job = pool.submit(_in_worker, sources[index], limits)
                except (BrokenProcessPool, RuntimeError):  # died, or shut down
                    pending.appendleft(index)
                    return

        driver = threading.Thread(target=drive, args=(first, future), daemon=True)
        driver.start()
        try:
            while True:
                try:
                    index = pending.pop()
                except IndexError:
                    break
                results[index] = read_and_prepare(sources[index], limits)
        except BaseException:
            pending.clear()  # the worker finishes its source and takes no other
            raise
        driver.join()
    if failure:
        raise failure[0]
    return [
        result if result is not None else read_and_prepare(source, limits)
        for result, source in zip(results, sources, strict=True)
    ]
