"""`distrib send` again after a crash, without --resume (issue 10, #3): what an officer under
stress does.  The runs the killed processes left unfinished are settled first, as --resume
would (``data`` → ``unknown``, ``sending`` → ``ready``); the new run sends everyone no run sent
or may have sent; the unknown ones are reported, never resent, and keep the exit code at 3 until
the officer settles them.

The real CLI in a subprocess, a real SMTP server, a real log; each process is killed by the
server when it reads a chosen command (`crash_helpers.Killer`), never at a moment.
"""

from __future__ import annotations

import signal
import sqlite3
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from campaign_helpers import EXPECTED, CampaignFiles, write_campaign
from crash_helpers import Killer, distrib_child, finish, wait_for
from distrib.cli import app
from smtp_server import SMTPTestServer

pytestmark = pytest.mark.slow  # several processes: started first (conftest)

runner = CliRunner()
EXTRA = [f"pigiste{i:02d}@redaction{i % 4}.example" for i in range(40)]
EVERYONE = [*EXPECTED, *EXTRA]  # the 45 journalists, in sending order

#: Where each of the three processes is killed: the end of its 5th body (before the reply),
#: its 3rd RCPT, its 4th DATA command.
KILLS = (("DOT", 5), ("RCPT", 3), ("DATA", 4))


def cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def campaign_for(tmp_path: Path, server: SMTPTestServer) -> CampaignFiles:
    files = write_campaign(tmp_path / "c", port=server.port)
    text = files.campaign.read_text(encoding="utf-8").replace("connections = 2", "connections = 1")
    files.campaign.write_text(text, encoding="utf-8")
    rows = "".join(f"{a};Élise;Côté;Le Fleuve;fr\n" for a in EXTRA)
    with (files.folder / "medias.csv").open("ab") as csv:
        csv.write(rows.encode("cp1252"))
    return files


def statuses(files: CampaignFiles) -> dict[int, dict[str, str]]:
    """run → address → status."""
    found: dict[int, dict[str, str]] = {}
    with sqlite3.connect(files.log) as conn:
        for run, address, status in conn.execute("SELECT run_id, address, status FROM messages"):
            found.setdefault(run, {})[address] = status
    return found


def runs(files: CampaignFiles) -> list[tuple[int, str, str]]:
    with sqlite3.connect(files.log) as conn:
        return list(conn.execute("SELECT id, status, COALESCE(note, '') FROM runs ORDER BY id"))


@pytest.mark.parametrize("pipelining", [False, True], ids=["one-by-one", "pipelining"])
def test_sending_again_after_three_kills_settles_them_and_misses_no_one(
    tmp_path: Path, make_smtp_server: Callable[..., SMTPTestServer], pipelining: bool
) -> None:
    server = make_smtp_server(pipelining=pipelining)
    files = campaign_for(tmp_path, server)
    killed: list[str] = []
    before_kill: set[str] = set()  # the message each process sent last before it was killed
    outputs: list[str] = []
    for verb, nth in KILLS:
        killer = Killer()
        server.script(verb, disconnect=True, times=1, skip=nth - 1, action=killer)
        first = len(server.messages)
        proc = killer.target(distrib_child("send", str(files.campaign), "--yes"))
        code, out = finish(proc)
        assert code == -signal.SIGKILL, out
        (address,) = killer.hit
        assert address is not None
        killed.append(address)
        outputs.append(out)
        assert wait_for(lambda: server.active_sessions == 0)
        accepted_here = [m.rcpt_tos[0] for m in server.messages[first:] if m.accepted]
        before_kill.add(accepted_here[-1])
    cut_at_dot, cut_at_rcpt, cut_at_data = killed
    # Cut off after `data` was committed: at the end of a body, and at the DATA command when it
    # is sent on its own (with PIPELINING, `data` is committed after the 354: still `ready`).
    certain = {cut_at_dot} | (set() if pipelining else {cut_at_data})
    # Each new process settled the run the previous one left, before planning.
    assert "Run 1 had been interrupted" in outputs[1]
    assert "0 back to ready (never reached DATA), 1 now unknown" in outputs[1]
    assert "1 may have arrived (unknown in run 1), not resent" in outputs[1]
    assert "Run 2 had been interrupted" in outputs[2]

    code, out = cli("send", str(files.campaign), "--yes")
    assert code == 3, out  # finished, but messages of earlier runs may or may not have arrived
    assert "Run 3 had been interrupted" in out and "Run 4 started" in out
    assert "Traceback" not in out

    # The log: nothing left in flight, no run left "sending".
    log = statuses(files)
    assert not {s for run in log.values() for s in run.values()} & {"sending", "data"}
    unknown = {a: run for run, rows in log.items() for a, s in rows.items() if s == "unknown"}
    # Unknown: the messages cut off after `data`, and perhaps the one a process had sent just
    # before it was killed (its 250 was in, its outcome not yet committed: the group commit
    # writes it with the next message's `data`): the conservative truth.
    assert certain <= set(unknown) <= certain | before_kill, (unknown, certain, before_kill)
    # Reported, run by run, apart from those already sent.
    assert f"{len(unknown)} may have arrived (unknown)" in out
    for run, n in Counter(unknown.values()).items():
        assert f"{n} may have arrived (unknown in run {run}), not resent" in out
        assert f"`distrib resolve {run} -c campaign.toml`" in out

    # What the server received: everyone exactly once, except the unknown ones, never resent.
    accepted = Counter(m.rcpt_tos[0] for m in server.messages if m.accepted)
    bodies = Counter(m.rcpt_tos[0] for m in server.messages)
    for address in EVERYONE:
        if address in unknown:
            assert bodies[address] <= 1 and accepted[address] <= 1, address
        else:
            assert accepted[address] == bodies[address] == 1, address
    assert bodies[cut_at_dot] == 1 and accepted[cut_at_dot] == 0  # killed before its reply
    if not pipelining:
        assert bodies[cut_at_data] == 0  # killed at the DATA command: no body
    # The message killed at its RCPT was `ready`: the next run sent it, once.
    assert cut_at_rcpt not in unknown and accepted[cut_at_rcpt] == 1
    assert [(run, status) for run, status, _ in runs(files)] == [
        (1, "stopped"), (2, "stopped"), (3, "stopped"), (4, "finished"),
    ]  # fmt: skip
    assert all("interrupted" in note for run, _, note in runs(files) if run < 4)

    # Sending again: nothing to send, but exit 3 while the unknown ones are not settled.
    code, out = cli("send", str(files.campaign), "--yes")
    assert code == 3, out
    assert "Nothing to send." in out
    assert f"{len(EVERYONE) - len(unknown)} already sent by an earlier run" in out
    # The officer settles them (the relay's log is the judge) and resends what never left.
    for address, run in unknown.items():
        code, out = cli("resolve", str(run), "--log", str(files.log))
        assert address in out, out
        action = "--mark-sent" if bodies[address] else "--resend"
        code, out = cli("resolve", str(run), address, action, "-n", "relay log checked",
                        "--log", str(files.log))  # fmt: skip
        assert code == 0, out
    for run in sorted(set(unknown.values())):
        code, out = cli("send", str(files.campaign), "--resume", str(run), "--yes")
        assert code == 0, out
    code, out = cli("send", str(files.campaign), "--yes")
    assert code == 0, out
    assert "Nothing to send." in out and "may have arrived" not in out
    final = Counter(m.rcpt_tos[0] for m in server.messages if m.accepted)
    assert final == Counter({a: 1 for a in EVERYONE if a != cut_at_dot})


def test_a_run_being_sent_is_not_settled_by_a_second_send(
    tmp_path: Path, smtp_server: SMTPTestServer
) -> None:
    """Settling is for runs whose process is gone: a live one keeps its lease, and a second
    `send` is refused before it changes anything."""
    import threading

    files = campaign_for(tmp_path, smtp_server)
    body_in, go = threading.Event(), threading.Event()
    smtp_server.script("DOT", times=1, hold=go, action=lambda _: body_in.set())
    proc = distrib_child("send", str(files.campaign), "--yes")
    try:
        assert body_in.wait(60)  # its first message is in `data`, its reply held
        code, out = cli("send", str(files.campaign), "--yes")
        assert code == 1, out
        assert f"being sent right now: run 1 by process {proc.pid}" in out
        assert statuses(files)[1][EVERYONE[0]] == "data"  # not settled: it is being sent
        assert len(runs(files)) == 1
    finally:
        go.set()
        code, out = finish(proc)
    assert code == 0, out
    assert Counter(m.rcpt_tos[0] for m in smtp_server.messages) == Counter(EVERYONE)
