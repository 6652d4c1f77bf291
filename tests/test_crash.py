"""Crash tests: kill the sending process (named crash points, SIGKILL when the server reads a
chosen command, Ctrl-C), resume, and compare the delivery log with what the real SMTP server
received.  The crash table and the kills at chosen commands run on both adapters of the log
(a SQLite file, a PostgreSQL database).

The server runs in this process, so it outlives every sender we kill.  Every kill point is an
event (a crash point in the code, or the Nth MAIL/RCPT/DATA/end of body the server reads), never
a moment: each assertion holds however fast or slow the machine is.
"""

from __future__ import annotations

import dataclasses
import os
import random
import signal
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

import crash_driver
from campaign_helpers import EXPECTED, CampaignFiles, write_campaign
from crash_helpers import (
    Killer,
    distrib_process,
    driver_process,
    environment,
    finish,
    read_until,
    wait_for,
)
from distrib.cli import app
from distrib.deliverylog import MessageRow, open_log
from distrib.send.crash import CRASH_EXIT, POINTS, CrashPoints
from forked import ForkedProcess, distrib_main
from smtp_server import SMTPTestServer, plan_messages

runner = CliRunner()


def drive(
    log: str | Path, server: SMTPTestServer, connections: int = 1, **env: str
) -> ForkedProcess:
    """Start a sending process (the crash driver) on ``log``; ``env`` adds to its environment."""
    return driver_process([str(log), str(server.port), str(connections)], environment(**env))


def rows(log: str | Path) -> dict[str, MessageRow]:
    """Every message of the log by address, as another process reads it (read-only)."""
    with open_log(log, read_only=True) as reader:
        return {m.address: m for run in reader.runs() for m in reader.messages(run.id)}


def outcomes(log: str | Path, address: str) -> list[str]:
    with open_log(log, read_only=True) as reader:
        message = rows(log)[address].id
        return [str(a.outcome) for a in reader.attempts(message)]


def copies(server: SMTPTestServer) -> Counter[str]:
    """How many times the server accepted a message for each address."""
    return Counter(m.rcpt_tos[0] for m in server.messages if m.accepted)


def plan(target: str | Path, n: int) -> tuple[str | Path, list[str]]:
    recipients = [f"journaliste{i:02d}@redaction{i % 3}.example" for i in range(n)]
    with open_log(target) as log:
        plan_messages(log, recipients, campaign="crash")
    return target, recipients


def test_crash_points_are_named_and_counted() -> None:
    exits: list[int] = []

    def fake_exit(code: int) -> None:  # type: ignore[misc]
        exits.append(code)

    points = CrashPoints.from_env(
        {"DISTRIB_CRASH_AT": "after-dot", "DISTRIB_CRASH_AFTER": "2"},
        exit=fake_exit,  # type: ignore[arg-type]
    )
    for name in ("before-data", "after-dot", "after-354", "after-dot", "after-dot"):
        points.hit(name)
    assert exits == [CRASH_EXIT, CRASH_EXIT]  # the 2nd time, and every time after
    assert CrashPoints.from_env({}).point is None
    assert [*AT_POINT, "before-group-commit"] == list(POINTS)  # every point is tested below
    with pytest.raises(ValueError, match="not one of"):
        CrashPoints.from_env({"DISTRIB_CRASH_AT": "after-lunch"})


# What each crash point leaves for the third message, before and after resuming:
# (state left by the crash, state after resume, copies the server has after resume).  The claim
# and `data` are one change, committed before DATA: until then the message is `ready`.
AT_POINT = {
    "before-claim": ("ready", "sent", 1),
    "before-data": ("ready", "sent", 1),
    "after-data-commit": ("data", "unknown", 0),
    "after-354": ("data", "unknown", 0),
    "after-dot": ("data", "unknown", 1),
    "after-250-before-commit": ("data", "unknown", 1),
    "after-commit": ("sent", "sent", 1),
}
# The second message's outcome is committed with the next group, a few milliseconds after its
# reply and always before the third message's DATA: a crash before that leaves it in `data`
# (unknown after resuming: the server has it once), the conservative truth.  Right at the
# start of the third message (no await since the reply) it is certainly not committed yet;
# after the third one's RCPT it may or may not be.
SECOND_LEFT = {"before-claim": {"data"}, "before-data": {"data", "sent"}}


@pytest.mark.parametrize("pipelining", [False, True], ids=["one-by-one", "pipelining"])
@pytest.mark.parametrize("point", list(AT_POINT))
def test_a_crash_at_each_point_is_resumed_truthfully(
    empty_target: str | Path,
    make_smtp_server: Callable[..., SMTPTestServer],
    point: str,
    pipelining: bool,
) -> None:
    # With PIPELINING, MAIL, RCPT and DATA leave together and `data` is committed while they
    # are in flight, awaited before the body: the same states at every point.
    smtp_server = make_smtp_server(pipelining=pipelining)
    log, recipients = plan(empty_target, 5)
    second, third = recipients[1], recipients[2]
    code, out = finish(drive(log, smtp_server, DISTRIB_CRASH_AT=point, DISTRIB_CRASH_AFTER="3"))
    assert code == CRASH_EXIT, out
    left, final, expected_copies = AT_POINT[point]
    before = rows(log)
    states = [before[r].status for r in recipients]
    assert states[0] == "sent" and states[2:] == [left, "ready", "ready"]
    assert states[1] in SECOND_LEFT.get(point, {"sent"})
    if point in {"after-dot", "after-250-before-commit"}:
        # The body and the final dot left before the crash: the server accepted it.
        assert wait_for(lambda: copies(smtp_server)[third] == 1)

    # Resume in this process (faster than a new one): take the dead process's lease, recover,
    # send what is pending.
    assert crash_driver.main(["crash_driver", str(log), str(smtp_server.port), "1"]) == 0
    after = rows(log)
    assert after[third].status == final
    assert after[second].status == ("unknown" if states[1] == "data" else "sent")
    assert all(after[r].status == "sent" for r in recipients if r not in {second, third})
    got = copies(smtp_server)
    assert got[third] == expected_copies
    assert all(got[r] == 1 for r in recipients if r != third)  # nothing twice, nothing lost
    if final == "unknown":
        assert outcomes(log, third) == ["interrupted"]  # never resent automatically
        assert "may or may not have been delivered" in (after[third].reply_text or "")
    elif left == "ready":
        assert outcomes(log, third) == ["sent"]  # the crashed try never reached the file


def test_a_crash_before_a_group_commit_loses_nothing_and_sends_nothing_twice(
    empty_target: str | Path, smtp_server: SMTPTestServer
) -> None:
    log, recipients = plan(empty_target, 12)
    for after in ("2", "3", "4"):
        proc = drive(
            log, smtp_server, connections=3, DISTRIB_CRASH_AT="before-group-commit",
            DISTRIB_CRASH_AFTER=after,
        )  # fmt: skip
        code, out = finish(proc)
        assert code == CRASH_EXIT, out
        left = rows(log)
        # The group that was being written is not in the file: its messages are as they were
        # before it (never `sent` without the server having them).
        assert all(copies(smtp_server)[r] == 1 for r in recipients if left[r].status == "sent")
    assert crash_driver.main(["crash_driver", str(log), str(smtp_server.port), "3"]) == 0
    final = rows(log)
    got = copies(smtp_server)
    received = Counter(m.rcpt_tos[0] for m in smtp_server.messages)
    assert set(received) <= set(recipients) and max(received.values()) == 1  # never twice
    for r in recipients:
        assert final[r].status in {"sent", "unknown"}, r  # nothing lost or left behind
        if final[r].status == "sent":
            assert got[r] == 1
        else:
            # A lost outcome: the server has it once, the log says "may or may not".
            assert outcomes(log, r)[-1] == "interrupted"
    # At most one message per connection is in `data` in the file at any moment.
    assert sum(final[r].status == "unknown" for r in recipients) <= 3 * 3


#: The commands at which the server kills the sending process: the MAIL that starts a message
#: (the previous message's 250 was sent, its outcome perhaps not committed yet), its RCPT (no
#: `data` yet), the DATA command (`data` committed; with PIPELINING not yet, it is committed
#: after the 354), and the end of its body, before the reply.
KILL_AT = ("MAIL", "RCPT", "DATA", "DOT")


def kill_points(seed: int) -> list[tuple[str, int]]:
    """A seeded list of kill points: each command of `KILL_AT` three times, at its 1st to 4th
    occurrence in the life of a sending process, shuffled; the last one is at a RCPT, so the
    final run sends a message whose envelope a killed process had already given."""
    rng = random.Random(seed)
    points = [(verb, rng.randint(1, 4)) for verb in KILL_AT * 3]
    rng.shuffle(points)
    last = next(i for i, (verb, _) in enumerate(points) if verb == "RCPT")
    points.append(points.pop(last))
    return points


@pytest.mark.slow
@pytest.mark.parametrize("pipelining", [False, True], ids=["one-by-one", "pipelining"])
def test_sigkill_at_chosen_commands_never_sends_twice_or_loses_a_message(
    empty_target: str | Path, make_smtp_server: Callable[..., SMTPTestServer], pipelining: bool
) -> None:
    server = make_smtp_server(pipelining=pipelining)
    # 12 kills, each after at most 4 commands of its kind (at most 5 messages settled per
    # process: the one killed and one in flight on the other connection): 72 recipients leave
    # every process enough messages to reach its kill point.
    log, recipients = plan(empty_target, 72)
    points = kill_points(20270202)
    killed: list[tuple[str, str]] = []
    for verb, nth in points:
        killer = Killer()
        server.script(verb, disconnect=True, times=1, skip=nth - 1, action=killer)
        proc = killer.target(drive(log, server, connections=2))
        code, out = finish(proc)
        assert code == -signal.SIGKILL, (verb, nth, out)  # killed at its point, every time
        (address,) = killer.hit
        assert address is not None
        killed.append((verb, address))
        # Every session of the killed process has ended: none of its commands is still to be
        # read, so the next rule counts only the next process's commands.
        assert wait_for(lambda: server.active_sessions == 0)
    code, out = finish(drive(log, server, connections=2))
    assert code == 0, out

    final = rows(log)
    got = copies(server)
    received = Counter(m.rcpt_tos[0] for m in server.messages)
    rcpts = Counter(c.arg for c in server.commands if c.verb == "RCPT")
    assert max(received.values()) == 1  # no body ever reached the server twice
    assert set(final) == set(recipients)
    unknown = [r for r in recipients if final[r].status == "unknown"]
    for r in recipients:
        status = final[r].status
        assert status in {"sent", "unknown"}, (r, status)  # nothing lost or left behind
        if status == "sent":
            assert got[r] == 1
        else:
            assert got[r] <= 1  # accepted, perhaps, with the outcome not committed yet
            assert outcomes(log, r)[-1] == "interrupted"
            assert any(r in arg for arg in rcpts)  # it had reached the DATA phase
    # Each kill leaves at most one message per connection in `data`.
    assert len(unknown) <= 2 * len(points)
    for verb, address in killed:
        if verb == "DOT" or (verb == "DATA" and not pipelining):
            # Cut off after `data` was committed: unknown, never resent; the server has the
            # body once (killed before its reply) or, at the DATA command, not at all.
            assert final[address].status == "unknown", (verb, address)
            assert received[address] == (1 if verb == "DOT" else 0), (verb, address)
        elif verb == "RCPT" or verb == "DATA":
            # Before `data` (with PIPELINING the DATA command leaves with RCPT): still `ready`,
            # so it was tried again; its envelope was given more than once.
            assert sum(n for arg, n in rcpts.items() if address in arg) > 1, (verb, address)
    # The last kill was at a RCPT: that message was sent by the final run, once.
    verb, address = killed[-1]
    assert verb == "RCPT" and final[address].status == "sent" and got[address] == 1


# -- the real `distrib send` ------------------------------------------------------------------


@pytest.fixture
def campaign(tmp_path: Path, smtp_server: SMTPTestServer) -> CampaignFiles:
    files = write_campaign(tmp_path / "c", port=smtp_server.port)
    text = files.campaign.read_text(encoding="utf-8").replace("connections = 2", "connections = 1")
    files.campaign.write_text(text, encoding="utf-8")
    return files


@pytest.fixture
def campaign_on(campaign: CampaignFiles, empty_target: str | Path) -> CampaignFiles:
    """The campaign with its log on either adapter (``log = "postgresql://…"``)."""
    if isinstance(empty_target, Path):
        return campaign
    text = campaign.campaign.read_text(encoding="utf-8")
    campaign.campaign.write_text(f'log = "{empty_target}"\n{text}', encoding="utf-8")
    return dataclasses.replace(campaign, log=empty_target)  # type: ignore[arg-type]


def cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def by_address(files: CampaignFiles) -> dict[str, str]:
    return {a: r.status for a, r in rows(files.log).items()}


@pytest.mark.parametrize(("point", "third"), [("before-data", "sent"), ("after-dot", "unknown")])
def test_distrib_send_killed_then_resumed(
    campaign_on: CampaignFiles, smtp_server: SMTPTestServer, point: str, third: str
) -> None:
    campaign = campaign_on
    # `distrib send` in its own process (forked from the fork server: `forked`), which the
    # crash point ends as a kill would: no `finally`, no flush, no commit.
    proc = ForkedProcess(
        distrib_main,
        ["send", str(campaign.campaign), "--yes"],
        env=environment(DISTRIB_CRASH_AT=point, DISTRIB_CRASH_AFTER="3"),
    )
    code, out = finish(proc, timeout=60)
    assert code == CRASH_EXIT, out
    addresses = list(EXPECTED)
    # In `data` when the process died: the third message after the dot, and the second one
    # too when its outcome had not reached the file yet (a few milliseconds after its reply;
    # see SECOND_LEFT).  Those, and only those, are unknown after resuming.
    cut_off = {a for a, state in by_address(campaign).items() if state == "data"}
    assert (addresses[2] in cut_off) is (third == "unknown")
    assert cut_off <= {addresses[1], addresses[2]}
    code, out = cli("send", str(campaign.campaign), "--resume", "1", "--yes")
    assert code == (3 if cut_off else 0), out
    assert "Run 1 of quays (interrupted while sending)" in out
    states = by_address(campaign)
    assert states[addresses[2]] == third
    assert all(states[a] == ("unknown" if a in cut_off else "sent") for a in addresses)
    assert max(copies(smtp_server).values()) == 1
    if cut_off:
        assert f"{len(cut_off)} now unknown" in out
    for address in sorted(cut_off):
        code, out = cli(
            "resolve", "1", address, "--mark-sent", "--note", "relay log: queued",
            "--log", str(campaign.log),
        )  # fmt: skip
        assert code == 0, out
    assert set(by_address(campaign).values()) == {"sent"}
    assert copies(smtp_server) == Counter(dict.fromkeys(addresses, 1))


def test_ctrl_c_lets_the_message_in_flight_finish(
    campaign: CampaignFiles, smtp_server: SMTPTestServer
) -> None:
    second = list(EXPECTED)[1]
    body_in, go = threading.Event(), threading.Event()
    # The server holds its reply to the second message until the process has taken the Ctrl-C.
    smtp_server.script("DOT", address=second, times=1, hold=go, action=lambda _: body_in.set())
    proc = distrib_process("send", str(campaign.campaign), "--yes")
    try:
        assert body_in.wait(60)  # the second body is in; its reply waits
        proc.send_signal(signal.SIGINT)
        seen = read_until(proc, "Stopping (Ctrl-C)")
    finally:
        go.set()  # now the server answers the message in flight
    code, rest = finish(proc)
    out = seen + rest
    assert code == 4, out
    assert "Stopping (Ctrl-C): messages in flight finish, nothing new starts" in out
    assert "To go on: distrib send campaign.toml --resume 1" in out
    states = by_address(campaign)
    assert list(states.values()) == ["sent", "sent", "ready", "ready", "ready"]
    with open_log(campaign.log, read_only=True) as log:
        assert [run.status for run in log.runs()] == ["stopped"]
        assert log.lease_holder("quays") is None


def test_a_second_ctrl_c_abandons_the_message_in_flight(
    campaign: CampaignFiles, smtp_server: SMTPTestServer
) -> None:
    # A reply to the dot could take ten minutes: a process that waited for it would not end
    # before the server answers, and the server answers only once the process has ended.
    text = campaign.campaign.read_text(encoding="utf-8")
    campaign.campaign.write_text(text.replace("data_timeout = 5", "data_timeout = 600"))
    second = list(EXPECTED)[1]
    body_in, go = threading.Event(), threading.Event()
    smtp_server.script("DOT", address=second, times=1, hold=go, action=lambda _: body_in.set())
    proc = distrib_process("send", str(campaign.campaign), "--yes")
    try:
        assert body_in.wait(60)
        proc.send_signal(signal.SIGINT)
        seen = read_until(proc, "Stopping (Ctrl-C)")
        proc.send_signal(signal.SIGINT)
        code, rest = finish(proc)  # ends although the reply is still held
    finally:
        go.set()
        if proc.poll() is None:
            proc.kill()
    out = seen + rest
    assert code == 4, out
    assert "Stopping at once" in out
    assert "Traceback" not in out
    assert list(by_address(campaign).values()) == ["sent", "unknown", "ready", "ready", "ready"]


def test_a_second_process_is_refused_while_the_first_sends(
    campaign: CampaignFiles, smtp_server: SMTPTestServer
) -> None:
    body_in, go = threading.Event(), threading.Event()
    # The first process waits for the reply to its first message while the second one tries.
    smtp_server.script("DOT", times=1, hold=go, action=lambda _: body_in.set())
    proc = distrib_process("send", str(campaign.campaign), "--yes")
    try:
        assert body_in.wait(60)
        for args in (["--resume", "1"], []):
            code, out = cli("send", str(campaign.campaign), "--yes", *args)
            assert code == 1
            assert f"being sent right now: run 1 by process {proc.pid}" in out
    finally:
        go.set()
        code, out = finish(proc)
    assert code == 0, out
    assert copies(smtp_server) == Counter(dict.fromkeys(EXPECTED, 1))


def test_ctrl_c_in_a_terminal_stops_cleanly_with_render_workers(
    campaign: CampaignFiles, smtp_server: SMTPTestServer
) -> None:
    """A terminal's Ctrl-C reaches the whole process group, render workers included: the run
    must still stop cleanly (the workers ignore it; the sending process decides)."""
    rows = "".join(f"pigiste{i}@redaction{i % 9}.example;Élise;Côté;Le Fleuve;fr\n"
                   for i in range(250))  # fmt: skip
    with (campaign.folder / "medias.csv").open("ab") as csv:
        csv.write(rows.encode("cp1252"))  # enough messages for render workers
    body_in, go = threading.Event(), threading.Event()
    smtp_server.script("DOT", skip=4, times=1, hold=go, action=lambda _: body_in.set())
    # Its own process group, as a terminal's foreground job.
    proc = distrib_process("send", str(campaign.campaign), "--yes", new_session=True)
    try:
        assert body_in.wait(60)  # the fifth body is in; its reply waits
        os.killpg(proc.pid, signal.SIGINT)
        seen = read_until(proc, "Stopping (Ctrl-C)")
    finally:
        go.set()
    code, rest = finish(proc)
    out = seen + rest
    assert code == 4, out
    assert "Stopping (Ctrl-C)" in out and "Traceback" not in out
    states = Counter(by_address(campaign).values())
    assert set(states) <= {"sent", "ready"}  # nothing left in flight, nothing unknown
    assert states["sent"] == len(smtp_server.messages) == 5  # the fifth one finished
    assert states["ready"] == 250
    with open_log(campaign.log, read_only=True) as log:
        assert [run.status for run in log.runs()] == ["stopped"]
        assert log.lease_holder("quays") is None
