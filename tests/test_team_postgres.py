"""Team mode: two officers on two machines share one workspace through one PostgreSQL log.

Each "machine" is its own copy of the workspace folder (lists, releases, distrib.toml saying
``log = "postgresql://…"``) and runs the real `distrib` command in its own process; one real
aiosmtpd server stands for the organisation's relay, and every assertion is on what that server
received (its envelopes) and on the shared log.  The overlap of two sends is made by events:
the first sender is held at its first DATA until the second has started and been refused.
Skipped (one line) when PostgreSQL is not installed.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from time import monotonic, sleep

import pytest

from distrib.deliverylog import open_log
from forked import ForkedProcess, distrib_forked
from smtp_server import SMTPTestServer
from workspace_helpers import FIRST, LANGUAGES, SECOND, WorkspaceFiles, write_workspace

pytestmark = pytest.mark.slow  # several processes: started first (conftest)

#: Not a timing assertion: a process that hangs fails the test instead of blocking the suite.
GUARD = 300.0


@dataclass(frozen=True)
class Done:
    """What one `distrib` process did."""

    code: int
    output: str

    @property
    def flat(self) -> str:
        """The output on one line (terminal wrapping undone)."""
        return " ".join(self.output.split())


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISTRIB_")}
    env["DISTRIB_LANG"] = "en"
    env["COLUMNS"] = "200"
    return env


def start(*args: str | Path) -> ForkedProcess:
    """Start ``distrib ARGS`` in a process of its own (collect it with `finish`), forked from a
    server that has imported distrib already (`forked`): a process of its own, started fast."""
    return distrib_forked(args, env=environment())


def finish(process: ForkedProcess) -> Done:
    out, _ = process.communicate(timeout=GUARD)
    assert process.returncode is not None
    return Done(process.returncode, out)


def run(*args: str | Path) -> Done:
    """Run ``distrib ARGS`` in a process of its own and wait for it."""
    return finish(start(*args))


@dataclass(frozen=True)
class Machines:
    """Two copies of one workspace folder, one log."""

    a: WorkspaceFiles
    b: WorkspaceFiles
    log: str


@pytest.fixture
def machines(tmp_path: Path, smtp_server: SMTPTestServer, postgres_url: str) -> Machines:
    a = write_workspace(tmp_path / "machine-a" / "presse", port=smtp_server.port,
                        extra=f'log = "{postgres_url}"\n')  # fmt: skip
    # One connection: a sender held at its first DATA sends nothing else meanwhile; and the
    # client's timeouts longer than any hold, so that how long the other machine takes never
    # changes what happens (the guard below ends a hung test).
    text = a.file.read_text(encoding="utf-8").replace("connections = 2", "connections = 1")
    text = text.replace("timeout = 5\ndata_timeout = 5", "timeout = 3600\ndata_timeout = 3600")
    assert "timeout = 3600" in text
    a.file.write_text(text, encoding="utf-8")
    (tmp_path / "machine-b").mkdir()
    shutil.copytree(a.root, tmp_path / "machine-b" / "presse")
    b_root = tmp_path / "machine-b" / "presse"
    b = WorkspaceFiles(b_root, b_root / "distrib.toml", b_root / "distrib-log.sqlite")
    return Machines(a, b, postgres_url)


def envelopes(server: SMTPTestServer) -> Counter[str]:
    """How many messages the relay accepted for each address."""
    return Counter(r for m in server.messages if m.accepted for r in m.rcpt_tos)


def no_local_log(m: Machines) -> None:
    """Neither machine fell back to a log file of its own."""
    assert not m.a.log.exists() and not m.b.log.exists()


def test_two_machines_sending_one_release_at_once_send_each_journalist_once(
    machines: Machines, smtp_server: SMTPTestServer
) -> None:
    """Guards the lease on the shared log: with a log per machine (two SQLite files) machine
    B would see nothing sent and send all 8 again, so every journalist would get two copies
    and B would exit 0; here B is refused, names A's run, and the relay gets each one once."""
    held, go = threading.Event(), threading.Event()
    smtp_server.script("DATA", hold=go, times=1, action=lambda _: held.set())
    a = start("send", machines.a.release(FIRST), "--yes")
    try:
        assert held.wait(GUARD), "machine A never reached DATA"
        # A holds the release's lease and is in the middle of a message: B tries the same.
        b = run("send", machines.b.release(FIRST), "--yes")
    finally:
        go.set()
        first = finish(a)
    assert first.code == 0, first.output
    assert b.code == 1, b.output
    assert f"campaign '{FIRST}' is being sent right now: run 1 by process {a.pid}" in b.flat
    assert "Only one process may send a campaign at a time" in b.flat
    assert envelopes(smtp_server) == Counter(dict.fromkeys(LANGUAGES, 1))
    with open_log(machines.log, read_only=True) as log:
        runs = log.runs()
        assert [(r.id, r.campaign, r.status) for r in runs] == [(1, FIRST, "finished")]
        assert log.counts(1) == {"sent": len(LANGUAGES)}
    no_local_log(machines)
    # Afterwards B sees A's run: sending the release again from B sends nothing.
    again = run("send", machines.b.release(FIRST), "--yes")
    assert again.code == 0 and "Nothing to send" in again.flat, again.output
    assert sum(envelopes(smtp_server).values()) == len(LANGUAGES)


def test_a_second_machine_joining_the_run_drains_it_with_the_first(
    machines: Machines, smtp_server: SMTPTestServer
) -> None:
    """`--join`: B becomes a second worker of A's run instead of starting one of its own, and
    between them each journalist gets one message (a log per machine would give B a run of
    its own and send everyone twice).  A's first claim takes all 8 messages of this small
    list, so B, having nothing free to claim, waits for A to end before it ends too."""
    held, go = threading.Event(), threading.Event()
    smtp_server.script("DATA", hold=go, times=1, action=lambda _: held.set())
    a = start("send", machines.a.release(FIRST), "--yes")
    b = None
    try:
        assert held.wait(GUARD), "machine A never reached DATA"
        b = start("send", machines.b.release(FIRST), "--resume", "1", "--join", "--yes")
        # An event, not a delay: A is released once B is registered as the run's 2nd worker.
        with open_log(machines.log, read_only=True) as log:
            deadline = monotonic() + GUARD
            while len(log.workers(1)) < 2 and b.poll() is None and monotonic() < deadline:
                sleep(0.05)
            workers = log.workers(1)
    finally:
        go.set()
        first = finish(a)
        second = finish(b) if b is not None else None
    assert first.code == 0, first.output
    assert second is not None and second.code == 0, second and second.output
    assert len(workers) == 2, second.output
    assert {w.pid for w in workers} == {a.pid, b.pid}
    assert envelopes(smtp_server) == Counter(dict.fromkeys(LANGUAGES, 1))
    with open_log(machines.log, read_only=True) as log:
        assert [r.id for r in log.runs()] == [1]
        assert log.counts(1) == {"sent": len(LANGUAGES)}
    no_local_log(machines)


def test_an_opt_out_typed_on_machine_a_is_honoured_by_machine_b(
    machines: Machines, smtp_server: SMTPTestServer
) -> None:
    """Guards shared suppressions: with a log per machine, B's send would reach Zoé and B's
    history would not know her opt-out."""
    zoe = "zoe@fleuve.example"
    opt_out = run("unsubscribe", zoe, "-c", machines.a.root)
    assert opt_out.code == 0, opt_out.output
    sent = run("send", machines.b.release(SECOND), "--yes")
    assert sent.code == 0, sent.output
    assert "1 suppressed" in sent.flat
    assert envelopes(smtp_server) == Counter(dict.fromkeys(set(LANGUAGES) - {zoe}, 1))
    history = run("contacts", "history", zoe, "-c", machines.b.root)
    assert history.code == 0, history.output
    assert "unsubscribed" in history.flat
    no_local_log(machines)


def test_a_no_such_user_refused_during_a_send_from_a_is_honoured_by_b(
    machines: Machines, smtp_server: SMTPTestServer
) -> None:
    """Guards shared "no such user" suppressions: with a log per machine, B's release 2
    would name the refused address at RCPT again."""
    gone = "marc@fleuve.example"
    smtp_server.script("RCPT", f"550 5.1.1 <{gone}>: no such user", address=gone)
    first = run("send", machines.a.release(FIRST), "--yes")
    assert first.code == 3, first.output  # one failure
    assert envelopes(smtp_server) == Counter(dict.fromkeys(set(LANGUAGES) - {gone}, 1))
    second = run("send", machines.b.release(SECOND), "--yes")
    assert second.code == 0, second.output
    assert envelopes(smtp_server) == Counter(dict.fromkeys(set(LANGUAGES) - {gone}, 2))
    rcpts = [c for c in smtp_server.commands if c.verb == "RCPT" and gone in c.arg]
    assert len(rcpts) == 1  # only A's release 1 ever named it
    history = run("contacts", "history", gone, "-c", machines.b.root)
    assert history.code == 0 and "5.1.1" in history.flat, history.output
    no_local_log(machines)
