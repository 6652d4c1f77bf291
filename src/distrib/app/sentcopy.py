"""A copy of what a run sent, in the officer's Sent folder (``[mailbox] sent_copy``), so the
mailbox shows what went out: the run's first sent message (``first``) or each (``each``),
appended over IMAP after the send, flagged ``\\Seen``.  A message whose Message-ID the folder
already holds is not appended again (a resumed run copies nothing twice).  A failure is a
warning for the send's summary: the messages were sent and stay recorded as sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from distrib.errors import DistribError, Problem, RenderError

if TYPE_CHECKING:
    from collections.abc import Callable

    from distrib.app.pipeline import Plan
    from distrib.deliverylog import DeliveryLog
    from distrib.deliverylog.records import MessageRow

__all__ = ["SentCopy", "copy_to_sent"]


@dataclass(frozen=True, slots=True)
class SentCopy:
    """What went to the Sent folder: copies appended, copies already there; or why not."""

    mode: str  # first, each
    folder: str
    appended: int
    already: int
    warning: str = ""  # set when the copy failed (the send itself did not)


def _renderer(plan: Plan, row: MessageRow) -> Callable[[], bytes]:
    from distrib.renderpool import Job, render_one

    def render() -> bytes:
        found = next((i for i, m in enumerate(plan.messages) if m.contact.key == row.key), None)
        if found is None or plan.messages[found].message_id != row.message_id:
            raise RenderError([Problem(f"{row.recipient}: not in this run's plan")])
        rendered = render_one(
            plan.renderer, plan.messages[found].contact, Job(found, row.id, row.message_id or "")
        )
        if rendered.problems or rendered.content_hash != row.content_hash:
            raise RenderError([Problem(f"{row.recipient}: the message changed since it was sent")])
        return _dated(rendered.data, row.sent_at)

    return render


def _dated(data: bytes, sent_at: str | None) -> bytes:
    """``data`` with its Date header set to when the relay accepted it (rendering again for
    the copy dates it now)."""
    import re
    from datetime import datetime
    from email.utils import format_datetime

    if sent_at is None:
        return data
    head, sep, body = data.partition(b"\r\n\r\n")
    date = format_datetime(datetime.fromisoformat(sent_at)).encode()
    head = re.sub(rb"(?m)^Date: [^\r\n]*", b"Date: " + date, head, count=1)
    return head + sep + body


def copy_to_sent(plan: Plan, log: DeliveryLog, run_id: int) -> SentCopy | None:
    """Append the run's first (or each) sent message to the mailbox's Sent folder, as
    ``[mailbox] sent_copy`` says; None when it says ``none`` or nothing was sent."""
    from distrib.app.relay import settings_mailbox
    from distrib.deliverylog.states import State
    from distrib.relay.imap import append_to_sent

    box = plan.campaign.mailbox
    if box is None or box.sent_copy == "none":
        return None
    rows = [m for m in log.messages(run_id, states=[State.SENT]) if m.message_id]
    rows.sort(key=lambda m: (m.sent_at or "", m.id))
    if box.sent_copy == "first":
        rows = rows[:1]
    if not rows:
        return None
    try:
        url, imap = settings_mailbox(plan.campaign)
        done = append_to_sent(
            url,
            imap,
            [(m.message_id or "", _renderer(plan, m)) for m in rows],
            fallback_folder=box.sent_folder,
        )
    except DistribError as exc:
        return SentCopy(box.sent_copy, box.sent_folder, 0, 0, warning=str(exc))
    return SentCopy(box.sent_copy, done.folder, done.appended, done.already)
