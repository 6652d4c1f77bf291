"""Work that outlives a request: a send, a resume, a preview's full check, each in a thread of
the server process.  The state is kept here (server-side), so a page that is reloaded, or
opened in another tab, finds the work where it is and follows it again through SSE.

Nothing here decides anything: the threads call `distrib.app` verbs and keep what their
callbacks report.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

from distrib import app as verbs
from distrib.errors import DistribError
from distrib.web.sse import Event, EventChannel

__all__ = ["CheckJob", "Job", "SendJob", "Snapshot"]

Snapshot = dict[str, Any]


class Job:
    """A thread's work, its latest state (`snapshot`) and the streams following it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._channels: list[EventChannel] = []
        self.finished = False
        self.error = ""

    def snapshot(self) -> Snapshot:  # pragma: no cover - each job says what it shows
        raise NotImplementedError

    def _publish(self) -> None:
        """Send the state to every stream (and end them when the work is over)."""
        data = json.dumps(self.snapshot(), ensure_ascii=False)
        with self._lock:
            channels = list(self._channels)
        for channel in channels:
            channel.publish(Event(data, event="end" if self.finished else "progress"))
            if self.finished:
                channel.close()

    def _end(self, error: str = "") -> None:
        self.error = error
        self.finished = True
        self._publish()

    async def events(self) -> AsyncIterator[Event]:
        """The state now, then each change until the work is over (for one stream)."""
        channel = EventChannel(asyncio.get_running_loop())
        with self._lock:
            self._channels.append(channel)
            finished = self.finished
        try:
            data = json.dumps(self.snapshot(), ensure_ascii=False)
            yield Event(data, event="end" if finished else "progress")
            if finished:
                return
            async for event in channel:
                yield event
        finally:
            with self._lock:
                self._channels.remove(channel)


class CheckJob(Job):
    """A preview's full check (every message rendered once), with its progress."""

    def __init__(self, session: verbs.PreviewSession) -> None:
        super().__init__()
        self.session = session
        self.progress = verbs.CheckProgress(0, len(session), 0)
        self.groups: tuple[verbs.ProblemGroup, ...] = ()
        self.problem_count = 0
        self._cancelled = threading.Event()

    def start(self) -> CheckJob:
        threading.Thread(target=self._run, name="distrib-preview-check", daemon=True).start()
        return self

    def cancel(self) -> None:
        """Abandon the check (its preview was replaced): it stops before its next message."""
        self._cancelled.set()

    def _run(self) -> None:
        try:
            checked = self.session.check_all(self._progress, cancelled=self._cancelled.is_set)
        except DistribError as exc:
            self._end(str(exc))
            return
        if checked is not None:
            problems = checked.problems
            self.groups = verbs.group_problems(problems)
            self.problem_count = len(problems)
        self._end()

    def _progress(self, progress: verbs.CheckProgress) -> None:
        self.progress = progress
        self._publish()

    def snapshot(self) -> Snapshot:
        p = self.progress
        return {"done": p.done, "total": p.total, "problems": p.problems, "finished": self.finished}


class SendJob(Job):
    """A send or a resume of one release, in its own thread (a delivery log is used by the
    thread that opened it): ``prepare`` makes the `SendPreparation` (`distrib.app.prepare_send`
    or `prepare_resume`), ``refuse`` says why it must not be sent ('' to send it), and the
    thread sends it, then closes it.  `accepted` is set once that is decided: `failure` (an
    error preparing) or `refusal` say why nothing was sent."""

    def __init__(
        self,
        slug: str,
        prepare: Callable[[], verbs.SendPreparation],
        refuse: Callable[[verbs.SendPreparation], str],
    ) -> None:
        super().__init__()
        self.slug = slug
        self._prepare = prepare
        self._refuse = refuse
        self.accepted = threading.Event()
        self.failure: DistribError | None = None
        self.refusal = ""
        self.switch = verbs.StopSwitch()
        self.total = 0
        self.run_id: int | None = None
        self.progress: verbs.Progress | None = None
        self.result: verbs.SendResult | None = None

    def start(self) -> SendJob:
        threading.Thread(target=self._run, name="distrib-send", daemon=True).start()
        return self

    def _run(self) -> None:
        try:
            prep = self._prepare()
        except DistribError as exc:
            self.failure = exc
            self.accepted.set()
            self._end(str(exc))
            return
        try:
            with prep:
                self.refusal = self._refuse(prep)
                self.total = prep.pending
                self.run_id = prep.run.id if prep.run is not None else None
                self.accepted.set()
                if self.refusal:
                    self._end(self.refusal)
                    return
                self.result = verbs.send(
                    prep,
                    on_progress=self._progress,
                    on_started=self._started,
                    handle_signals=False,  # not the main thread: the Stop button stops it
                    stop=self.switch,
                )
        except DistribError as exc:
            self.accepted.set()
            self._end(str(exc))
            return
        except Exception as exc:
            self.accepted.set()
            self._end(f"{type(exc).__name__}: {exc}")
            return
        self._end()

    def _started(self, run: verbs.Run) -> None:
        self.run_id = run.id
        self._publish()

    def _progress(self, progress: verbs.Progress) -> None:
        self.progress = progress
        self._publish()

    def stop(self) -> None:
        """Ask for a clean stop (messages in flight finish; the run can be resumed)."""
        self.switch.request()
        self._publish()

    @property
    def status(self) -> str:
        """``sending``, ``stopping``, or how it ended (``done``, ``failures``, ``stopped``,
        ``error``)."""
        if self.finished:
            if self.result is None:
                return "error"
            return self.result.status
        return "stopping" if self.switch.requested else "sending"

    def snapshot(self) -> Snapshot:
        p = self.progress
        sent = p.sent if p else 0
        refused = p.failed if p else 0
        deferred = p.deferred if p else 0
        unknown = p.unknown if p else 0
        done = p.done if p else 0
        elapsed = p.elapsed if p else 0.0
        rate = done / elapsed if elapsed > 0 else 0.0
        left = (self.total - done) / rate if rate > 0 else None
        return {
            "run": self.run_id,
            "status": self.status,
            "sent": sent,
            "refused": refused,
            "deferred": deferred,
            "unknown": unknown,
            "done": done,
            "total": self.total,
            "rate": f"{rate:.1f}",
            "left": _duration(left),
            "engine_stopping": bool(p and p.stopping),  # the engine took the stop
            "finished": self.finished,
        }


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    whole = int(seconds + 0.5)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
