"""Group commits of the delivery log (`distrib.send.commits`, `DeliveryLog.apply`), on both
adapters, read back through a connection of its own (what another process would see)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from distrib.config import LimitsConfig
from distrib.deliverylog import Begin, DeliveryLog, NewMessage, Outcome, Release, State
from distrib.errors import DeliveryLogError
from distrib.send.commits import GroupCommit
from distrib.send.delivery import Delivery
from distrib.send.model import Item, Transaction, Worker
from distrib.send.transport import Connection
from log_helpers import begin, finish, raw_rows
from smtp_server import SMTPTestServer, plan_messages


def plan(log: DeliveryLog, n: int) -> list[int]:
    run = log.create_run("c", "c.toml")
    log.add_messages(
        run.id,
        [NewMessage(key=f"k{i}", recipient=f"r{i}@example.org", address=f"r{i}@example.org")
         for i in range(n)],
    )  # fmt: skip
    return [m.id for m in log.messages(run.id)]


def on_disk(target: str | Path) -> dict[int, str]:
    """The states another connection sees (only what is committed)."""
    return {int(m): str(s) for m, s in raw_rows(target, "SELECT id, status FROM messages")}


def run(
    log: DeliveryLog, body: Callable[[GroupCommit, list[BaseException]], Awaitable[Any]]
) -> tuple[Any, GroupCommit, list[BaseException]]:
    errors: list[BaseException] = []

    async def go() -> Any:
        commits = GroupCommit(log, on_error=errors.append)
        async with commits:
            result = await body(commits, errors)
        return result, commits

    result, commits = asyncio.run(go())
    return result, commits, errors


def test_changes_queued_together_share_one_transaction(
    log: DeliveryLog, target: str | Path
) -> None:
    ids = plan(log, 10)
    now = log.now()

    async def body(commits: GroupCommit, _: list[BaseException]) -> list[int | None]:
        futures = [commits.submit(Begin(m, "relay:25", now)) for m in ids]
        attempts = await asyncio.gather(*futures)
        # Awaited = committed: another connection already sees every message in `data`.
        assert set(on_disk(target).values()) == {"data"}
        return attempts

    attempts, commits, errors = run(log, body)
    assert not errors
    assert commits.groups == 1 and commits.changes == 10
    assert len(set(attempts)) == 10
    for message, attempt in zip(ids, attempts, strict=True):
        [found] = log.attempts(message)
        assert (found.id, found.started_at, found.server) == (attempt, now, "relay:25")
        assert log.message(message).attempts == 1


def test_a_begin_is_not_committed_before_its_future_resolves(
    log: DeliveryLog, target: str | Path
) -> None:
    [message] = plan(log, 1)
    seen: list[str] = []

    async def body(commits: GroupCommit, _: list[BaseException]) -> None:
        future = commits.submit(Begin(message, None, log.now()))
        seen.append(on_disk(target)[message])  # queued, not committed: still ready in the file
        await future
        seen.append(on_disk(target)[message])

    run(log, body)
    assert seen == ["ready", "data"]


def test_outcomes_are_committed_by_the_time_the_group_commit_closes(
    log: DeliveryLog, target: str | Path
) -> None:
    ids = plan(log, 3)

    async def body(commits: GroupCommit, _: list[BaseException]) -> None:
        attempts = await asyncio.gather(*(commits.submit(Begin(m, None, log.now())) for m in ids))
        for m, a in zip(ids, attempts, strict=True):
            commits.submit(Outcome(m, a, State.SENT, 250, "2.0.0 OK", log.now(), "2.0.0"))
        # Not awaited: the exit of `async with` commits them.

    _, commits, errors = run(log, body)
    assert not errors
    assert set(on_disk(target).values()) == {"sent"}
    assert all(log.attempts(m)[0].outcome == "sent" for m in ids)
    assert all(log.message(m).sent_at for m in ids)
    assert commits.changes == 6


def test_a_change_that_no_longer_applies_fails_alone(log: DeliveryLog, target: str | Path) -> None:
    done, fresh = plan(log, 2)
    finish(log, done, State.SENT, code=250, text="OK")

    async def body(commits: GroupCommit, errors: list[BaseException]) -> tuple[Any, Any]:
        again = commits.submit(Begin(done, None, log.now()))  # a sent message: refused
        other = commits.submit(Begin(fresh, None, log.now()))
        results = await asyncio.gather(again, other, return_exceptions=True)
        return results[0], results[1]

    (again, other), commits, errors = run(log, body)
    assert isinstance(again, DeliveryLogError) and "cannot go from sent" in str(again)
    assert isinstance(other, int)
    assert errors == [again]  # the run is told (it stops)
    assert on_disk(target) == {done: "sent", fresh: "data"}
    assert commits.groups == 1 and commits.changes == 1


def test_an_outcome_of_an_attempt_closed_by_another_process_is_refused(
    log: DeliveryLog, target: str | Path
) -> None:
    [message] = plan(log, 1)
    run_id = log.message(message).run_id

    async def body(commits: GroupCommit, errors: list[BaseException]) -> None:
        attempt = await commits.submit(Begin(message, None, log.now()))
        # Another process took the run over (data → unknown, this attempt closed), the officer
        # chose to resend it, and that process is now sending it under its own attempt.
        log.recover(run_id)
        log.resolve([log.message(message)], "resend", note="relay lost it", by="me")
        begin(log, message)
        commits.submit(Outcome(message, attempt, State.SENT, 250, "OK", log.now()))

    _, _, errors = run(log, body)
    assert len(errors) == 1 and "closed by another process" in str(errors[0])
    assert on_disk(target)[message] == "data"  # still theirs


def test_a_change_that_cannot_be_written_fails_alone_and_the_others_commit(
    log: DeliveryLog,
    target: str | Path,
) -> None:
    # Issue 10: one worker's change that raised (here a bug: an outcome that only a refusal
    # may have) used to roll back every other worker's change of the same group.
    begun, sent, wrong = plan(log, 3)
    attempt = begin(log, sent)

    async def body(commits: GroupCommit, _: list[BaseException]) -> list[Any]:
        futures = [
            commits.submit(Begin(begun, None, log.now())),
            commits.submit(Outcome(sent, attempt, State.SENT, 250, "OK", log.now())),
            commits.submit(Outcome(wrong, None, State.SENT, 250, "OK", log.now())),
        ]
        return await asyncio.gather(*futures, return_exceptions=True)

    results, commits, errors = run(log, body)
    assert isinstance(results[2], ValueError) and errors == [results[2]]
    assert on_disk(target) == {begun: "data", sent: "sent", wrong: "ready"}
    assert commits.groups == 1 and commits.changes == 2


def test_a_reply_text_that_is_not_valid_unicode_is_stored_as_valid_text(
    log: DeliveryLog, target: str | Path
) -> None:
    # Issue 10: text decoded with surrogateescape (what aiosmtplib keeps of Latin-1 bytes)
    # made SQLite raise UnicodeEncodeError, and the whole group failed.
    refused, other = plan(log, 2)
    attempt = begin(log, other)

    async def body(commits: GroupCommit, _: list[BaseException]) -> None:
        text = "RCPT TO: 550 5.1.1 inconnu \udce9"
        commits.submit(Outcome(refused, None, State.FAILED, 550, text, log.now(), "5.1.1"))
        commits.submit(Outcome(other, attempt, State.SENT, 250, "2.0.0 ok \udcff", log.now()))

    _, _, errors = run(log, body)
    assert not errors
    assert on_disk(target) == {refused: "failed", other: "sent"}
    assert log.message(refused).reply_text == "RCPT TO: 550 5.1.1 inconnu é"
    assert log.attempts(refused)[0].reply_text == "RCPT TO: 550 5.1.1 inconnu é"
    assert log.message(other).reply_text == "2.0.0 ok ÿ"


def test_refusals_before_data_add_a_closed_attempt_and_keep_the_queue_state(
    log: DeliveryLog,
    target: str | Path,
) -> None:
    failed, deferred, requeued = plan(log, 3)
    finish(log, requeued, State.DEFERRED, code=451, text="later", retry_in=0)
    started = log.now()

    async def body(commits: GroupCommit, _: list[BaseException]) -> None:
        commits.submit(
            Outcome(failed, None, State.FAILED, 550, "RCPT TO: 550 5.1.1 no such user",
                    log.now(), "5.1.1", None, "relay:25", started)
        )  # fmt: skip
        commits.submit(
            Outcome(deferred, None, State.DEFERRED, 451, "RCPT TO: 451 4.7.1 greylisted",
                    log.now(), "4.7.1", "2030-01-01T00:00:00.000+00:00", "relay:25", started)
        )  # fmt: skip
        commits.submit(Release(requeued, None, "421 closing (nothing was sent)", log.now(),
                               "relay:25", started))  # fmt: skip

    _, _, errors = run(log, body)
    assert not errors
    assert on_disk(target) == {failed: "failed", deferred: "deferred", requeued: "deferred"}
    [attempt] = log.attempts(failed)
    assert (attempt.outcome, attempt.reply_code, attempt.enhanced_code) == ("failed", 550, "5.1.1")
    assert attempt.started_at == started and attempt.finished_at is not None
    assert log.message(deferred).next_attempt_at == "2030-01-01T00:00:00.000+00:00"
    assert [a.outcome for a in log.attempts(requeued)] == ["deferred", "requeued"]
    assert log.message(requeued).attempts == 2


def test_outcomes_only_refusals_before_data(log: DeliveryLog, target: str | Path) -> None:
    [message] = plan(log, 1)

    async def body(commits: GroupCommit, _: list[BaseException]) -> Any:
        future = commits.submit(Outcome(message, None, State.SENT, 250, "OK", log.now()))
        return await asyncio.gather(future, return_exceptions=True)

    [result], _, errors = run(log, body)
    assert isinstance(result, ValueError) and "only a refusal" in str(result)
    assert errors == [result]
    assert on_disk(target)[message] == "ready"


def test_abandoning_while_the_begin_commits_releases_it_once_committed(
    log: DeliveryLog, target: str | Path, smtp_server: SMTPTestServer
) -> None:
    _, [out] = plan_messages(log, ["zoe@example.org"])

    class Dispatcher:
        halted = False

        def finished(self, outcome: str) -> None: ...
        def requeue(self, item: Item) -> None: ...
        def retry_later(self, item: Item, delay: float) -> None: ...
        def observe(self, reply: object) -> None: ...
        def cap_connection(self, worker: Worker) -> None: ...

    async def body(commits: GroupCommit, _: list[BaseException]) -> None:
        delivery = Delivery(log, LimitsConfig(), Dispatcher(), commits)  # type: ignore[arg-type]
        worker = Worker(Connection(smtp_server.smtp_config(), password=None, tls=None))
        t = Transaction(worker, Item(out), started=log.now())

        async def wait_for_begin() -> None:  # what Delivery does before DATA
            t.begin = commits.submit(Begin(out.message, None, t.started))
            t.attempt = await asyncio.shield(t.begin)

        task = asyncio.create_task(wait_for_begin())
        await asyncio.sleep(0)  # submitted, not committed
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        delivery._abandon(t)  # a second Ctrl-C: what Delivery.send does on cancellation

    _, _, errors = run(log, body)
    assert not errors
    assert on_disk(target)[out.message] == "ready"  # DATA was never written
    [attempt] = log.attempts(out.message)
    assert attempt.outcome == "requeued" and "nothing was sent" in (attempt.reply_text or "")


def test_submitting_outside_the_context_is_an_error(log: DeliveryLog) -> None:
    commits = GroupCommit(log, on_error=lambda exc: None)
    with pytest.raises(RuntimeError, match="not running"):
        commits.submit(Begin(1, None, log.now()))


def test_the_engine_groups_the_changes_of_its_workers(
    log: DeliveryLog, smtp_server: SMTPTestServer
) -> None:
    from distrib.send import send_messages

    run_, outgoing = plan_messages(log, [f"j{i}@example.org" for i in range(40)])
    limits = LimitsConfig(rate=0, connections=8, messages_per_connection=0)
    report = asyncio.run(
        send_messages(
            outgoing, log=log, smtp=smtp_server.smtp_config(), limits=limits, password=None
        )
    )
    assert report.sent == 40
    assert {m.status for m in log.messages(run_.id)} == {"sent"}
    assert len(smtp_server.messages) == 40
    # 80 changes (a Begin and an outcome per message) took fewer transactions.
    assert 0 < report.log_commits < 80
