"""Two `distrib send` processes through one relay at once never exceed its quota together.

Two releases of one workspace are sent at the same moment by two real `distrib` processes,
through one aiosmtpd relay with ``per_hour = 5`` (16 messages between them), on a SQLite log and
on a PostgreSQL one.  The overlap is made by events, not time: the relay holds each process's
first MAIL FROM until both have started (each has read the log, found it empty, and counts 5
free places), then lets both go.  Each message's `Begin` is checked by the log against what
every process was handed: exactly 5 go, both runs pause at the quota, the rest stays ``ready``.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from distrib.deliverylog import open_log, utcnow
from forked import ForkedProcess, distrib_forked
from smtp_server import SMTPTestServer
from workspace_helpers import FIRST, LANGUAGES, SECOND, write_workspace

pytestmark = pytest.mark.slow  # several processes: started first (conftest)

#: Not a timing assertion: a process that hangs fails the test instead of blocking the suite.
GUARD = 300.0
PER_HOUR = 5


def start(*args: str | Path) -> ForkedProcess:
    """Start ``distrib ARGS`` in a process of its own, forked from a server that has imported
    distrib already (`forked`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISTRIB_")}
    env |= {"DISTRIB_LANG": "en", "COLUMNS": "200"}
    return distrib_forked(args, env=env)


def finish(process: ForkedProcess) -> tuple[int, str]:
    out, _ = process.communicate(timeout=GUARD)
    assert process.returncode is not None
    return process.returncode, " ".join(out.split())


@pytest.mark.parametrize("adapter", ["sqlite", "postgresql"])
def test_two_processes_sending_through_one_relay_at_once_send_exactly_the_quota(
    adapter: str, tmp_path: Path, smtp_server: SMTPTestServer, request: pytest.FixtureRequest
) -> None:
    """Guards the quota's reservation in the log: with each process counting only what the
    log held when it started plus its own sends, both would send 5 (10 in the hour)."""
    extra = ""
    if adapter == "postgresql":
        extra = f'log = "{request.getfixturevalue("postgres_url")}"\n'
    ws = write_workspace(tmp_path / "ws", port=smtp_server.port, extra=extra)
    text = ws.file.read_text(encoding="utf-8")
    # One connection each: a process held at its first MAIL sends nothing else meanwhile; the
    # client's timeouts longer than any hold (the guard ends a hung test).
    text = text.replace("timeout = 5\ndata_timeout = 5", "timeout = 3600\ndata_timeout = 3600")
    text = text.replace("connections = 2\n", f"connections = 1\nper_hour = {PER_HOUR}\n")
    assert "timeout = 3600" in text and f"per_hour = {PER_HOUR}" in text
    ws.file.write_text(text, encoding="utf-8")
    log_target: str | Path = extra.split('"')[1] if extra else ws.log

    lock = threading.Lock()
    arrived: list[str | None] = []
    both, go = threading.Event(), threading.Event()

    def arrive(sender: str | None) -> None:
        with lock:
            arrived.append(sender)
            if len(arrived) == 2:
                both.set()

    smtp_server.script("MAIL", hold=go, times=2, action=arrive)
    started = utcnow()
    first = start("send", ws.release(FIRST), "--yes")
    second = start("send", ws.release(SECOND), "--yes")
    try:
        assert both.wait(GUARD), "the two processes never both reached MAIL FROM"
    finally:
        go.set()
        done = [finish(first), finish(second)]

    # Both runs paused at the quota (exit code 4), saying when it has room again.
    for code, output in done:
        assert code == 4, output
        assert f"per_hour = {PER_HOUR}" in output and "--resume" in output, output
    # The relay took exactly 5 messages in the hour, from the two processes together.
    accepted = [m for m in smtp_server.messages if m.accepted]
    assert len(accepted) == PER_HOUR
    with open_log(log_target, read_only=True) as log:
        relay = f"127.0.0.1:{smtp_server.port}"
        assert len(log.relay_sends(relay, started - timedelta(minutes=1))) == PER_HOUR
        runs = log.runs()
        assert sorted(r.campaign for r in runs) == [FIRST, SECOND]
        assert {r.status for r in runs} == {"paused"}
        counts = Counter[str]()
        for run in runs:
            counts.update(log.counts(run.id))
        # Nothing lost, nothing in doubt: 5 sent, the others ready for --resume.
        assert counts == {"sent": PER_HOUR, "ready": 2 * len(LANGUAGES) - PER_HOUR}
        # The log's sends are the relay's: each sent message was received once.
        sent = sorted(m.recipient for run in runs for m in log.messages(run.id, states=["sent"]))
        assert sorted(r for m in accepted for r in m.rcpt_tos) == sent
        # 10 places were believed free and 5 given: at least one process met the full quota in
        # the log, sent nothing of that message, and the log says so.
        full = [
            a
            for run in runs
            for m in log.messages(run.id, states=["ready"])
            for a in log.attempts(m.id)
        ]
        assert full and all(a.outcome == "requeued" for a in full)
        assert all(f"per_hour = {PER_HOUR}" in (a.reply_text or "") for a in full)
        assert all("nothing was sent" in (a.reply_text or "") for a in full)
