"""An opt-out or a hard bounce recorded while a run is sending (`DeliveryLog.add_suppression`
with ``pending``, from another connection to the same file): that person's message becomes
``suppressed`` under the engine's feet.  The engine must skip it (nothing sent to that person,
the message stays ``suppressed``) and go on with everyone else, never abort.

Driven by events, not time: the suppression is written from the engine's progress callback
(after an earlier recipient's outcome) or from the relay itself while it answers that person's
RCPT TO (the client waits for the reply meanwhile)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from distrib.config import LimitsConfig, SMTPConfig
from distrib.deliverylog import DeliveryLog, open_log
from distrib.send import Progress, SendReport, send_messages
from raw_smtp import RawSMTPServer, Session
from smtp_server import SMTPTestServer, plan_messages

LIMITS = LimitsConfig(
    rate=0, connections=1, retries=1, retry_delay=0, max_retry_delay=0, pause_after=0
)
OPTED_OUT = "journaliste2@redaction.example"


@pytest.fixture
def log(tmp_path: Path) -> Iterator[DeliveryLog]:
    with open_log(tmp_path / "distrib-log.sqlite") as opened:
        yield opened


def addresses(n: int) -> list[str]:
    return [f"journaliste{i}@redaction.example" for i in range(n)]


def suppress(path: Path, address: str, message: int) -> None:
    """What `distrib optout` or `distrib bounces` does, from a connection of its own."""
    with open_log(path) as other:
        other.add_suppression(address, address, reason="opt-out", source="test", pending=[message])


def send(
    outgoing: Any,
    log: DeliveryLog,
    smtp: Any,
    on_progress: Callable[[Progress], None] | None = None,
) -> SendReport:
    return asyncio.run(
        send_messages(
            outgoing, log=log, smtp=smtp, limits=LIMITS, password=None, on_progress=on_progress
        )
    )


def assert_only_they_were_skipped(log: DeliveryLog, run_id: int, report: SendReport) -> None:
    found = {m.address: m for m in log.messages(run_id)}
    skipped = found.pop(OPTED_OUT)
    assert skipped.status == "suppressed" and skipped.note == "opt-out (test)"
    assert {m.status for m in found.values()} == {"sent"}
    assert (report.sent, report.failed, report.unknown, report.deferred) == (len(found), 0, 0, 0)
    assert report.suppressed == 1
    assert not report.stopped


@pytest.mark.parametrize("pipelining", [False, True], ids=["one-by-one", "pipelining"])
def test_an_opt_out_recorded_during_the_send_skips_that_message_and_the_run_goes_on(
    make_smtp_server: Any, log: DeliveryLog, pipelining: bool
) -> None:
    server: SMTPTestServer = make_smtp_server(pipelining=pipelining)
    run, outgoing = plan_messages(log, addresses(5))
    [target] = [o.message for o in outgoing if o.recipient == OPTED_OUT]

    def on_progress(progress: Progress) -> None:
        # After the first outcome, before the worker starts the second message (one
        # connection): the person opts out while the run goes on.
        if progress.sent == 1 and log.message(target).status != "suppressed":
            suppress(log.where, OPTED_OUT, target)

    report = send(outgoing, log, server.smtp_config(), on_progress)

    assert server.received_for(OPTED_OUT) == []  # nothing sent to that person
    assert len(server.messages) == 4
    assert_only_they_were_skipped(log, run.id, report)


@pytest.mark.parametrize(
    "reply",
    [b"550 5.1.1 no such user\r\n", b"451 4.7.1 greylisted\r\n", b"421 4.3.2 closing\r\n"],
    ids=["refused", "deferred", "closing"],
)
@pytest.mark.parametrize("pipelining", [False, True], ids=["one-by-one", "pipelining"])
def test_a_suppression_while_the_relay_answers_rcpt_to_is_kept(
    log: DeliveryLog, reply: bytes, pipelining: bool
) -> None:
    # The relay records the opt-out (as a bounce processor would) before it answers RCPT TO
    # for that person: the engine's refusal, deferral or release of a message that is no
    # longer pending used to stop the run ("cannot go from suppressed to ...").
    run, outgoing = plan_messages(log, addresses(4))
    [target] = [o.message for o in outgoing if o.recipient == OPTED_OUT]

    done: list[bool] = []

    def answer(session: Session, line: bytes) -> bytes | None:
        if line.upper().startswith(b"RCPT") and OPTED_OUT.encode() in line and not done:
            done.append(True)
            suppress(log.where, OPTED_OUT, target)  # in the relay's thread, its own connection
            return reply
        return None

    with RawSMTPServer(answer, pipelining=pipelining) as server:
        report = send(outgoing, log, _smtp(server))
        bodies = server.messages
    assert not any(OPTED_OUT.encode() in body for body in bodies)
    assert len(bodies) == 3
    assert_only_they_were_skipped(log, run.id, report)


def _smtp(server: RawSMTPServer) -> SMTPConfig:
    return SMTPConfig(
        host="127.0.0.1", port=server.port, security="none", timeout=3, data_timeout=3,
        local_hostname="client.test",
    )  # fmt: skip
