"""One message through the delivery-log state machine (see `distrib.deliverylog.states`).

MAIL → RCPT → ``Begin`` (claim and ``data``, committed before DATA) → DATA → 354 → body and
final dot → ``Outcome``.  The log changes go through a `GroupCommit` (`distrib.send.commits`),
which commits the changes of every worker together: the worker awaits its ``Begin`` before it
writes DATA, and its outcome is in the next group.  Until ``Begin`` is committed the message is
``ready`` (or ``deferred``) in the file, which is the truth: nothing of it was transmitted.

DATA is split from the body: a connection lost before 354 is known not to have delivered
anything (released and retried), while once a body byte may have left, a lost connection or a
timeout is ``unknown`` and never retried automatically.

Every change after ``Begin`` names the attempt, the fencing token of this process: if another
process took the run over and recovered it, the change fails and this process stops.

A person may be suppressed while the run goes on (an opt-out or a hard bounce recorded
meanwhile: their pending message becomes ``suppressed``).  Their ``Begin`` then fails with
`Withdrawn`: nothing of the message is sent (RSET; after a pipelined 354, where any byte would
be the body, the session is dropped instead), the message stays ``suppressed``, it is counted
as such, and the run goes on.  A refusal or a release of such a message changes nothing.

``Begin`` is also the relay quotas' reservation (`distrib.deliverylog.changes.QuotaFull`): when
other processes sending through the same relay filled a quota meanwhile, it fails, nothing of
the message is sent (RSET, or the session dropped after a pipelined 354), the log keeps a
``requeued`` attempt saying why, and the message goes back to the queue while the dispatcher
learns from the log when the relay has room again.  Crash
points (`distrib.send.crash`) mark where the crash tests kill the process.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Protocol

from distrib.config import LimitsConfig
from distrib.contacts.normalize import suppression_key
from distrib.deliverylog import (
    Begin,
    DeliveryLog,
    Outcome,
    Quota,
    QuotaFull,
    Release,
    State,
    Withdrawn,
    timestamp,
)
from distrib.deliverylog.records import NO_SUCH_USER, NewSuppression
from distrib.errors import SMTPAuthError, SMTPConfigError
from distrib.send.commits import GroupCommit
from distrib.send.crash import crash_point
from distrib.send.model import Item, Outgoing, Transaction, Worker
from distrib.send.policy import Reply, backoff, too_many_recipients
from distrib.send.transport import AUTH_CODES, BadAddress, Connection, Dropped, check_address

__all__ = ["Delivery", "Dispatcher"]


class Dispatcher(Protocol):
    """What `Delivery` needs from the dispatcher that owns the queue."""

    @property
    def halted(self) -> bool:
        """Tell whether the run is stopping (start nothing new)."""
        ...

    def finished(self, outcome: str) -> None:
        """Count a final outcome for this run (sent, deferred, failed, unknown, suppressed)."""

    def recount(self, was: str, now: str) -> None:
        """Count a final outcome already counted as ``was`` as ``now`` instead."""

    def requeue(self, item: Item) -> None:
        """Put ``item`` back at the front of the queue now."""

    def retry_later(self, item: Item, delay: float) -> None:
        """Put ``item`` back after ``delay`` seconds."""

    def observe(self, reply: Reply) -> None:
        """Note a reply to a message, to detect an error storm (and pause the run)."""

    def cap_connection(self, worker: Worker) -> None:
        """The server refused more recipients on ``worker``'s connection: reconnect sooner."""

    def quota_full(self, full: QuotaFull) -> None:
        """The log refused a `Begin`: the relay's quota is full (other processes' sends
        included); hold the next messages until it has room."""


class Delivery:
    """Drive one message at a time through MAIL, RCPT, DATA and the delivery log."""

    def __init__(
        self,
        log: DeliveryLog,
        limits: LimitsConfig,
        dispatcher: Dispatcher,
        commits: GroupCommit,
        *,
        relay: str | None = None,
        quotas: tuple[Quota, ...] = (),
    ) -> None:
        self.log = log
        self.limits = limits
        self.dispatcher = dispatcher
        self.commits = commits
        self.relay = relay  # the relay's identity: what it accepted counts against its quotas
        self.quotas = quotas if relay is not None else ()  # checked by each Begin

    @staticmethod
    def _trouble(worker: Worker, what: str, *, throttled: bool = False) -> None:
        worker.troubles += 1
        worker.last_trouble = what
        worker.throttled = throttled

    async def send(self, worker: Worker, item: Item) -> None:
        """Try ``item`` once on ``worker``'s open connection and record what happened."""
        out = item.out
        utf8 = not (out.recipient.isascii() and out.envelope_from.isascii())
        options = self._preflight(worker.conn, out, utf8)
        crash_point("before-claim")
        t = Transaction(worker, item, started=self.log.now())
        try:
            if isinstance(options, str):
                self._record(t, State.FAILED, None, options)
            else:
                await self._transaction(t, options, utf8)
        except Dropped as exc:
            self._dropped(t, exc)
        except asyncio.CancelledError:
            self._abandon(t)
            raise
        except Exception:
            if t.stage in {"envelope", "data"}:  # no body byte was sent: say so
                self._release(t, "the run stopped on an error before 354 (nothing was sent)")
            raise

    async def _transaction(self, t: Transaction, options: list[str], utf8: bool) -> None:
        conn, out = t.worker.conn, t.item.out
        t.worker.used += 1
        if conn.pipelining:
            return await self._pipelined(t, options, utf8)
        mail, rcpt = await conn.envelope(
            out.envelope_from, out.recipient, options=options, utf8=utf8
        )
        if rcpt is None:
            return await self._refused(t, mail, "MAIL FROM")
        if not rcpt.positive:
            return await self._refused(t, rcpt, "RCPT TO")
        t.accepted = True  # the relay took the recipient: it counts against its quotas
        crash_point("before-data")
        # Claim and `data` in one change, committed (with other workers' changes) before DATA.
        refused = await self._begin(t)
        if refused is not None:
            return await self._not_begun(t, refused, pipelined=False)
        t.stage = "data"
        crash_point("after-data-commit")
        reply = await conn.data_command()
        if reply.code != 354:
            return await self._refused(t, reply, "DATA")
        crash_point("after-354")
        t.stage = "body"
        reply = await conn.data_body(out.data)
        return self._after_body(t, reply)

    async def _pipelined(self, t: Transaction, options: list[str], utf8: bool) -> None:
        """The transaction when the server offers PIPELINING: MAIL, RCPT and DATA in one write.

        The log changes exactly as on the path one command at a time: the message stays
        `ready` while the commands are in flight (nothing of it can be delivered without a
        body), and the claim and `data` change is committed after the 354 and before any body
        byte.  A refusal of MAIL, RCPT or DATA is recorded as on that path.
        """
        conn, out = t.worker.conn, t.item.out
        mail, rcpt, data = await conn.envelope_and_data(
            out.envelope_from, out.recipient, options=options, utf8=utf8
        )
        if not mail.positive or rcpt is None or not rcpt.positive:
            # (A body invited for a refused envelope: the connection already dropped itself.)
            if not mail.positive or rcpt is None:
                return await self._refused(t, mail, "MAIL FROM")
            return await self._refused(t, rcpt, "RCPT TO")
        t.accepted = True  # the relay took the recipient: it counts against its quotas
        if data is None or data.code != 354:
            return await self._refused(t, data or rcpt, "DATA")
        crash_point("before-data")
        refused = await self._begin(t)
        if refused is not None:
            return await self._not_begun(t, refused, pipelined=True)
        t.stage = "data"
        crash_point("after-data-commit")
        crash_point("after-354")
        t.stage = "body"
        reply = await conn.data_body(out.data)
        return self._after_body(t, reply)

    async def _begin(self, t: Transaction) -> Withdrawn | QuotaFull | None:
        """Submit the claim-and-``data`` change and wait for its commit; None once committed,
        else why it was not: the message left the queue meanwhile (suppressed while the run
        went on), or the relay's quota is full."""
        t.begin = self.commits.submit(
            Begin(t.item.out.message, t.worker.conn.server, t.started, self.relay, self.quotas)
        )
        try:
            t.attempt = await asyncio.shield(t.begin)
        except (Withdrawn, QuotaFull) as exc:
            return exc
        return None

    async def _not_begun(
        self, t: Transaction, refused: Withdrawn | QuotaFull, *, pipelined: bool
    ) -> None:
        if isinstance(refused, Withdrawn):
            return await self._withdrawn(t, pipelined=pipelined)
        return await self._quota_full(t, refused, pipelined=pipelined)

    async def _quota_full(self, t: Transaction, full: QuotaFull, *, pipelined: bool) -> None:
        """Other processes filled the relay's quota: send nothing of this message now (it is
        still ``ready`` or ``deferred`` in the log) and put it back in the queue."""
        self.dispatcher.quota_full(full)
        if pipelined:
            t.worker.conn.abort()  # the 354 is in: any byte written now would be the body
        else:
            await t.worker.conn.rset()  # (dropped meanwhile: `_dropped` requeues it)
        self._release(t, f"{full} (nothing was sent)")
        self.dispatcher.requeue(t.item)

    async def _withdrawn(self, t: Transaction, *, pipelined: bool) -> None:
        """The person was suppressed while the envelope was under way: send nothing of it."""
        t.stage = "done"
        if pipelined:
            t.worker.conn.abort()  # the 354 is in: any byte written now would be the body
        else:
            await t.worker.conn.rset()
        self.dispatcher.finished("suppressed")

    def _preflight(self, conn: Connection, out: Outgoing, utf8: bool) -> list[str] | str:
        """Return the MAIL FROM parameters, or why this one message cannot be sent on ``conn``.

        A problem with our own envelope sender would fail every message: it stops the run.
        """
        smtputf8 = conn.supports("smtputf8")
        try:
            conn.check_sender(out.envelope_from)
        except BadAddress as exc:
            raise SMTPConfigError(f"the envelope sender cannot be used: {exc}") from None
        if not out.envelope_from.isascii() and not smtputf8:
            raise SMTPConfigError(
                f"the envelope sender {out.envelope_from!r} is not ASCII and {conn.server}"
                " does not support SMTPUTF8"
            )
        try:
            check_address(out.recipient)
        except BadAddress as exc:
            return str(exc)
        options: list[str] = []
        if utf8:
            if not smtputf8:
                return (
                    f"the address {out.recipient!r} has a non-ASCII local part and"
                    f" {conn.server} does not support SMTPUTF8"
                )
            options.append("SMTPUTF8")
        if not out.data.isascii():
            if not conn.supports("8bitmime"):
                return f"the message has 8-bit content and {conn.server} does not offer 8BITMIME"
            options.append("BODY=8BITMIME")
        limit = conn.size_limit
        if limit is not None:
            if limit and len(out.data) > limit:
                return f"the message ({len(out.data)} bytes) exceeds {conn.server}'s SIZE {limit}"
            options.insert(0, f"SIZE={len(out.data)}")
        return options

    def _dropped(self, t: Transaction, exc: Dropped) -> None:
        """Handle a lost connection or a timeout, by how far the transaction had gone."""
        self._trouble(t.worker, str(exc))
        if t.stage == "envelope" or not exc.body_sent:
            # Before 354 the server never had a byte of the body: safe to send again.
            self._release(t, f"{exc} (nothing was sent)")
            self.dispatcher.requeue(t.item)
        else:
            self._record(t, State.UNKNOWN, None, _unknown_text(exc))

    async def _refused(self, t: Transaction, reply: Reply, command: str) -> None:
        """Handle a negative reply to MAIL FROM, RCPT TO or the DATA command."""
        server, out = t.worker.conn.server, t.item.out
        text = f"{command}: {reply}"
        if reply.code == 421:
            # The server is closing (our side is closed already): nothing was sent,
            # even in reply to the DATA command (no 354, so no body).
            self._trouble(t.worker, f"{server}: {reply}", throttled=True)
            self.dispatcher.observe(reply)
            self._release(t, f"{server} closing: {text}")
            self.dispatcher.requeue(t.item)
            return
        if reply.code in AUTH_CODES and t.stage == "envelope":
            self._release(t, text)
            raise SMTPAuthError(
                f"{server} requires authentication or encryption: {text}",
                code=reply.code,
                reply=reply.text,
            )
        if command == "MAIL FROM" and reply.permanent and reply.code != 552:
            self._release(t, text)
            raise SMTPConfigError(
                f"{server} refused our sender {out.envelope_from}: {reply}",
                code=reply.code,
                reply=reply.text,
            )
        await t.worker.conn.rset()
        if too_many_recipients(reply) and command == "RCPT TO" and t.worker.used > 1:
            # One recipient per transaction, so "too many recipients" means too many on this
            # connection: send this one on a new connection, and reconnect sooner from now on.
            self._release(t, f"{text} (after {t.worker.used - 1} on this connection)")
            self.dispatcher.cap_connection(t.worker)
            self.dispatcher.requeue(t.item)
            return
        if reply.transient:
            t.worker.troubles = 0
            self._defer(t, reply, text)
        else:
            self._record(t, State.FAILED, reply, text, self._no_such_user(t, reply, command, text))

    def _no_such_user(
        self, t: Transaction, reply: Reply, command: str, text: str
    ) -> NewSuppression | None:
        """The suppression a permanent refusal of the recipient calls for (its enhanced code
        in ``limits.suppress_codes``: "no such user"), else None."""
        if command not in {"RCPT TO", "DATA end"} or not reply.permanent:
            return None
        if reply.enhanced is None or reply.enhanced not in self.limits.suppress_codes:
            return None
        out = t.item.out
        address = out.address or out.recipient
        key = suppression_key(address)
        source = f"refused {reply.enhanced} by {self.relay or t.worker.conn.server}"
        # As an opt-out does: that person's messages still waiting in other runs (of any
        # release) become ``suppressed`` in the same transaction as the refusal.
        waiting = tuple(
            ref.id
            for ref in self.log.pending_refs()
            if ref.id != out.message and suppression_key(ref.address) == key
        )
        return NewSuppression(
            address, key, NO_SUCH_USER, source, message=out.message, note=text, pending=waiting,
        )  # fmt: skip

    def _after_body(self, t: Transaction, reply: Reply) -> None:
        """Record the reply to the final dot."""
        text = f"DATA: {reply}"
        if reply.positive:
            crash_point("after-250-before-commit")
            self._record(t, State.SENT, reply, reply.text)
        elif reply.transient:
            # 4xx, including 421, after the dot: the server says it did not take the message.
            if reply.code == 421:
                self._trouble(t.worker, f"{t.worker.conn.server}: {reply}", throttled=True)
            else:
                t.worker.troubles = 0
            self._defer(t, reply, text)
        elif reply.permanent:
            suppress = self._no_such_user(t, reply, "DATA end", text)
            self._record(t, State.FAILED, reply, text, suppress)
        else:
            # Not a reply the protocol allows here: the server has the body, so do not guess.
            t.worker.conn.abort()
            self._record(t, State.UNKNOWN, reply, f"unexpected reply {text}")

    def _release(self, t: Transaction, reason: str) -> None:
        """Nothing was transmitted: back to the queue (the log keeps the attempt's reason)."""
        out = t.item.out
        self.commits.submit(
            Release(out.message, t.attempt, reason, self.log.now(), t.worker.conn.server,
                    t.started)
        )  # fmt: skip
        t.stage = "done"

    def _outcome(
        self,
        t: Transaction,
        state: State,
        reply: Reply | None,
        text: str,
        retry_at: str | None = None,
        *,
        suppress: NewSuppression | None = None,
    ) -> asyncio.Future[int | None]:
        # A refusal of DATA after the relay took the recipient counts against its quotas (a
        # change after `Begin` needs nothing: `Begin` named the relay).
        relay = self.relay if t.accepted and t.attempt is None else None
        future = self.commits.submit(
            Outcome(
                t.item.out.message, t.attempt, state, reply.code if reply else None, text,
                self.log.now(), reply.enhanced if reply else None, retry_at,
                t.worker.conn.server, t.started, relay, suppress,
            )
        )  # fmt: skip
        t.stage = "done"
        return future

    def _record(
        self,
        t: Transaction,
        state: State,
        reply: Reply | None,
        text: str,
        suppress: NewSuppression | None = None,
    ) -> None:
        before_data = t.attempt is None
        future = self._outcome(t, state, reply, text, suppress=suppress)
        if reply is not None and state is not State.UNKNOWN:
            t.worker.troubles = 0
        self.dispatcher.finished(str(state))
        if before_data:
            self._recount_if_withdrawn(future, str(state))
        if reply is not None:
            self.dispatcher.observe(reply)

    def _recount_if_withdrawn(self, future: asyncio.Future[int | None], counted: str) -> None:
        """A refusal before DATA of a message suppressed meanwhile: the log keeps it
        ``suppressed`` (the change fails alone), so count it as such."""

        def check(done: asyncio.Future[int | None]) -> None:
            if not done.cancelled() and isinstance(done.exception(), Withdrawn):
                self.dispatcher.recount(counted, "suppressed")

        future.add_done_callback(check)

    def _defer(self, t: Transaction, reply: Reply | None, text: str) -> None:
        item = t.item
        item.retries += 1
        delay = backoff(item.retries, base=self.limits.retry_delay, cap=self.limits.max_retry_delay)
        retry_at = timestamp(self.log.current_time() + timedelta(seconds=delay))
        before_data = t.attempt is None
        future = self._outcome(t, State.DEFERRED, reply, text, retry_at)
        if reply is not None:
            self.dispatcher.observe(reply)  # may pause the run: then no retry in this run
        if item.retries > self.limits.retries or self.dispatcher.halted:
            self.dispatcher.finished("deferred")
            if before_data:
                self._recount_if_withdrawn(future, "deferred")
            return
        self.dispatcher.retry_later(item, delay)

    def _abandon(self, t: Transaction) -> None:
        """Leave the log truthful when the whole send is cancelled mid-message."""
        if t.stage == "envelope" and t.begin is not None:
            # Cancelled while its Begin was being committed: once it is, release it (DATA
            # was never written).  GroupCommit commits it before the engine returns.
            t.begin.add_done_callback(lambda begun: self._release_begun(t, begun))
            t.stage = "done"
        elif t.stage in {"envelope", "data"}:
            self._release(t, _ABANDONED)
        elif t.stage == "body":
            text = _unknown_text("stopped at once while waiting for the reply to the message")
            self._record(t, State.UNKNOWN, None, text)

    def _release_begun(self, t: Transaction, begun: asyncio.Future[int | None]) -> None:
        if begun.cancelled() or begun.exception() is not None:
            return  # not committed: the message is still ready (or deferred)
        t.attempt = begun.result()
        self._release(t, _ABANDONED)


_ABANDONED = "stopped at once before 354 (nothing was sent)"


def _unknown_text(cause: object) -> str:
    return (
        f"{cause}: the message may or may not have been delivered (RFC 1047);"
        " not resent automatically: check with the recipient or the relay's logs"
    )
