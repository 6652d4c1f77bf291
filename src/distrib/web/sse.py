"""Server-Sent Events: live progress (a send's counts, a check's steps) pushed to a page.

`EventChannel` is filled from any thread (an application verb's progress callback runs in a
worker thread) and read by the request that streams it; `event_stream` turns what it yields
into a ``text/event-stream`` answer.  The page reads it with ``EventSource`` (``static/app.js``
binds an element with ``data-sse-src`` and writes each event's text into it as text, never as
HTML).  A value never breaks the stream's framing: an event or id holding CR or LF is refused,
and data is split into one ``data:`` line per line.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

from starlette.responses import StreamingResponse

__all__ = ["Event", "EventChannel", "event_stream", "format_event"]

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class Event:
    """One event: its text, and optionally its type (``event:``) and id."""

    data: str
    event: str | None = None
    id: str | None = None


def format_event(event: Event) -> bytes:
    """The bytes of ``event`` on the stream."""
    lines = []
    for name, value in (("event", event.event), ("id", event.id)):
        if value is not None:
            if _LINE_BREAK.search(value) or "\x00" in value:
                raise ValueError(f"an SSE {name} cannot hold a line break or NUL")
            lines.append(f"{name}: {value}")
    lines.extend(f"data: {line}" for line in _LINE_BREAK.split(event.data))
    return ("\n".join(lines) + "\n\n").encode("utf-8")


class EventChannel:
    """Events published from any thread, read once by one stream; `close` ends the stream."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue()

    def publish(self, event: Event) -> None:
        """Add ``event`` (safe from any thread)."""
        self._loop.call_soon_threadsafe(self._queue.put_nowait, event)

    def close(self) -> None:
        """End the stream after the events published so far (safe from any thread)."""
        self._loop.call_soon_threadsafe(self._queue.put_nowait, None)

    async def __aiter__(self) -> AsyncIterator[Event]:
        while True:
            event = await self._queue.get()
            if event is None:
                return
            yield event


def event_stream(events: AsyncIterator[Event]) -> StreamingResponse:
    """A ``text/event-stream`` answer sending each of ``events`` as it comes."""

    async def body() -> AsyncIterator[bytes]:
        async for event in events:
            yield format_event(event)

    return StreamingResponse(
        body(),
        media_type="text/event-stream; charset=utf-8",
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )
