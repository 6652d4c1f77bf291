"""Rendering in worker processes, so the event loop that sends only sends.

Rendering a message (templates, MIME, DKIM) is CPU work; sending is mostly waiting, plus the
Python cost of each SMTP command and log change.  In one process they take turns on one core.
A `RenderPool` moves rendering to other processes:

- **planning** (`RenderPool.check`): every contact's message is checked once
  (`distrib.render.Renderer.check`: templates, header values, content hash; no MIME bytes), to
  find every problem before anything leaves; the processes split the audience and return, in
  order, only what the plan keeps (language, subject, Message-ID, content hash, size, warnings);
- **sending** (`RenderPool.stream`): the messages still to send are rendered (written as MIME
  and signed: the only time they are) a batch at a time, a few batches ahead of the SMTP
  workers and never more, so memory stays flat however long the list; the bytes come back in
  order, with their content hash, which the sender compares with the plan's.

The processes are started with ``fork`` on Linux (they inherit the `Renderer` and the contacts
already in memory: nothing to rebuild or copy, ~20 ms); elsewhere, or when forking a
multi-threaded process would warn (Python 3.12+), with ``forkserver``/``spawn``, and each one
builds its own `Renderer` from the campaign.  Below `MIN_PARALLEL` messages, starting processes
costs more than it saves: callers render in-process then.

A worker never outlives the process that started it: if that process is killed (SIGKILL, a
crash), nothing tells the pool to stop, and a worker waiting for its next task would wait for
ever (it holds the task pipe open itself).  So each worker asks Linux to kill it when its parent
dies (``prctl(PR_SET_PDEATHSIG)``), and, everywhere, a thread of the worker waits on
multiprocessing's parent sentinel and ends the worker when the parent is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from itertools import islice
from multiprocessing.context import BaseContext
from typing import TYPE_CHECKING, Any

from distrib.errors import Problem, RenderError

if TYPE_CHECKING:
    from distrib.config import Campaign
    from distrib.contacts.model import Contact
    from distrib.render import Renderer

__all__ = [
    "MIN_PARALLEL",
    "Checked",
    "Job",
    "RenderPool",
    "Rendered",
    "check_one",
    "default_workers",
    "release_freed_memory",
    "render_one",
]

#: Below this many messages, render in the calling process.
MIN_PARALLEL = 200
#: Contacts per task when planning.
_CHECK_CHUNK = 256
#: The largest batch of messages rendered per task when sending (they start smaller).
_BATCH = 128
#: Batches in flight per process when sending: enough to never starve the SMTP workers.
_AHEAD = 2


@dataclass(frozen=True, slots=True)
class Checked:
    """What planning keeps of one message (or why it could not be rendered); ``size``: the
    bytes of its subject, text, HTML and attachments (`CheckedMessage.content_size`)."""

    language: str = ""
    subject: str = ""
    message_id: str = ""
    content_hash: str = ""
    size: int = 0
    warnings: tuple[Problem, ...] = ()
    problems: tuple[Problem, ...] = ()


@dataclass(frozen=True, slots=True)
class Job:
    """One message to render for sending: the contact (by index), its log row and Message-ID."""

    contact: int
    row: int
    message_id: str


@dataclass(frozen=True, slots=True)
class Rendered:
    """One message rendered for sending, or the problems that stopped it."""

    row: int
    envelope_from: str = ""
    recipient: str = ""
    data: bytes = b""
    message_id: str = ""
    content_hash: str = ""
    problems: tuple[Problem, ...] = ()


@functools.cache
def _malloc_trim() -> Any:
    if sys.platform != "linux":
        return None
    try:
        return getattr(ctypes.CDLL("libc.so.6"), "malloc_trim", None)  # glibc only
    except OSError:
        return None


def release_freed_memory() -> bool:
    """Give the memory freed so far back to the system; False where that is not possible.

    Reading and merging the media lists (pandas, numpy) frees hundreds of megabytes of
    temporaries that the C allocator keeps for later: for 100,000 contacts the process stays
    about 60 MB larger than what it holds, and the render workers forked from it inherit those
    pages.  glibc's ``malloc_trim(0)`` hands them back (it only touches free memory).
    """
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


def default_workers() -> int:
    """How many processes render: one per core (they sleep when they are ahead)."""
    return max(1, os.cpu_count() or 1)


def check_one(renderer: Renderer, contact: Contact, token: str) -> Checked:
    """Check ``contact``'s message once (everything but writing its bytes: the send does that)
    and keep what the plan needs."""
    from distrib.render import make_message_id

    message_id = make_message_id(token, contact.key, renderer.campaign.sender.domain)
    try:
        checked = renderer.check(contact, message_id=message_id)
    except RenderError as exc:
        return Checked(problems=tuple(exc.problems))
    return Checked(
        language=checked.language,
        subject=checked.subject,
        message_id=checked.message_id,
        content_hash=checked.content_hash,
        size=checked.content_size,
        warnings=checked.warnings,
    )


def render_one(renderer: Renderer, contact: Contact, job: Job) -> Rendered:
    """Render ``job``'s message for sending (signed, dated now)."""
    try:
        message = renderer.render(contact, message_id=job.message_id)
    except RenderError as exc:
        return Rendered(job.row, problems=tuple(exc.problems))
    return Rendered(
        job.row,
        message.envelope_from,
        message.recipient,
        message.data,
        message.message_id,
        message.content_hash,
    )


# -- in the worker processes ------------------------------------------------------------------

_renderer: Renderer | None = None
_contacts: Sequence[Contact] = ()


#: The exit status of a worker that ended because the process that started it is gone.
ORPHAN_EXIT = 75
#: ``prctl`` option: the signal the kernel sends this process when its parent dies (Linux).
_PR_SET_PDEATHSIG = 1


def _die_with(creator: int, pdeathsig: bool) -> None:
    """End this worker when ``creator`` (the process that started the pool) dies.

    ``pdeathsig``: the pool was started by the creator's main thread (Linux sends the signal
    when the *thread* that forked the worker ends, so only the main thread is safe to tie to).
    """
    if pdeathsig and sys.platform == "linux" and os.getppid() == creator:
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != creator:  # it died before the request was made
            os._exit(ORPHAN_EXIT)
    parent = multiprocessing.parent_process()
    if parent is not None:
        sentinel = parent.sentinel

        def watch() -> None:
            # The sentinel becomes ready when the parent ends (or is killed), on every platform.
            multiprocessing.connection.wait([sentinel])
            os._exit(ORPHAN_EXIT)

        threading.Thread(target=watch, name="distrib-parent-watch", daemon=True).start()


def _start(
    source: Renderer | Campaign, contacts: Sequence[Contact], creator: int, pdeathsig: bool
) -> None:
    global _renderer, _contacts  # one renderer per worker process
    from distrib.config import Campaign

    _die_with(creator, pdeathsig)
    # Ctrl-C in a terminal reaches the whole process group: the sending process stops cleanly
    # (in-flight messages finish) and closes the pool; a worker must not die on it meanwhile.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    if isinstance(source, Campaign):
        from distrib.release import load_release
        from distrib.render import Renderer

        source = Renderer(source, load_release(source))
    _renderer, _contacts = source, contacts


def _nothing() -> None:
    return None


def _check(start: int, stop: int, token: str) -> list[Checked]:
    assert _renderer is not None
    return [check_one(_renderer, _contacts[i], token) for i in range(start, stop)]


def _render(jobs: list[Job]) -> list[Rendered]:
    assert _renderer is not None
    return [render_one(_renderer, _contacts[job.contact], job) for job in jobs]


# -- in the calling process -------------------------------------------------------------------


def _context() -> BaseContext:
    methods = multiprocessing.get_all_start_methods()
    forking_is_quiet = sys.version_info < (3, 12) or threading.active_count() == 1
    if sys.platform == "linux" and "fork" in methods and forking_is_quiet:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


class RenderPool:
    """Worker processes rendering ``contacts``' messages with ``renderer``; a context manager."""

    def __init__(
        self, renderer: Renderer, contacts: Sequence[Contact], *, workers: int | None = None
    ) -> None:
        self.workers = workers or default_workers()
        context = _context()
        # With fork the processes inherit these objects; otherwise each rebuilds a Renderer.
        source: Any = renderer if context.get_start_method() == "fork" else renderer.campaign
        # The processes are started by the thread that submits (the first task, below).
        main = threading.current_thread() is threading.main_thread()
        self._executor = ProcessPoolExecutor(
            self.workers,
            mp_context=context,
            initializer=_start,
            initargs=(source, contacts, os.getpid(), main),
        )
        self._contacts = contacts
        # The first task starts every process now (with fork), before the caller starts threads.
        self._executor.submit(_nothing)

    def __enter__(self) -> RenderPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the processes (pending tasks are cancelled)."""
        self._executor.shutdown(wait=True, cancel_futures=True)

    def check(self, token: str) -> Iterator[Checked]:
        """Render every contact's message once (see `check_one`); results in contact order."""
        size = len(self._contacts)
        chunk = max(1, min(_CHECK_CHUNK, -(-size // (self.workers * 4))))
        futures = [
            self._executor.submit(_check, start, min(size, start + chunk), token)
            for start in range(0, size, chunk)
        ]
        try:
            for future in futures:
                yield from future.result()
        finally:
            for future in futures:
                future.cancel()

    async def stream(self, jobs: Iterable[Job]) -> AsyncIterator[Rendered]:
        """Render ``jobs`` (read lazily) a batch at a time, a few batches ahead; in order."""
        loop = asyncio.get_running_loop()
        source = iter(jobs)
        pending: deque[Future[list[Rendered]]] = deque()
        size = 4  # small first batches: the first message leaves quickly
        exhausted = False
        try:
            while True:
                while not exhausted and len(pending) < self.workers * _AHEAD:
                    batch = list(islice(source, size))
                    if not batch:
                        exhausted = True
                        break
                    pending.append(self._executor.submit(_render, batch))
                    size = min(_BATCH, size * 2)
                if not pending:
                    return
                for rendered in await asyncio.wrap_future(pending.popleft(), loop=loop):
                    yield rendered
        finally:
            for future in pending:
                future.cancel()


def render_inline(
    renderer: Renderer, contacts: Sequence[Contact], jobs: Iterable[Job]
) -> Iterator[Rendered]:
    """The same as `RenderPool.stream`, in this process (small runs)."""
    for job in jobs:
        yield render_one(renderer, contacts[job.contact], job)
