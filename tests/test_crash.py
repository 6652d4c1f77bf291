"""Crash tests: kill the sending process (named crash points, SIGKILL at random moments, Ctrl-C),
resume, and compare the delivery log with what the real SMTP server received.

The server runs in this process, so it outlives every sender we kill.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

import crash_driver
from campaign_helpers import EXPECTED, CampaignFiles, write_campaign
from distrib.cli import app
from distrib.deliverylog import DeliveryLog
from distrib.send.crash import CRASH_EXIT, POINTS, CrashPoints
from smtp_server import SMTPTestServer, plan_messages

TESTS = Path(__file__).resolve().parent
DRIVER = TESTS / "crash_driver.py"
runner = CliRunner()


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISTRIB_CRASH")}
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


def drive(log: Path, server: SMTPTestServer, connections: int = 1, **env: str) -> Popen:
    return subprocess.Popen(
        [sys.executable, str(DRIVER), str(log), str(server.port), str(connections)],
        env=environment(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


Popen = subprocess.Popen[str]


def finish(proc: Popen, timeout: float = 30) -> tuple[int, str]:
    out, errors = proc.communicate(timeout=timeout)
    return proc.returncode, out + (errors or "")


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


def rows(log: Path) -> dict[str, sqlite3.Row]:
    with sqlite3.connect(log) as conn:
        conn.row_factory = sqlite3.Row
        return {r["address"]: r for r in conn.execute("SELECT * FROM messages ORDER BY id")}


def outcomes(log: Path, address: str) -> list[str]:
    with sqlite3.connect(log) as conn:
        found = conn.execute(
            "SELECT a.outcome FROM attempts a JOIN messages m ON m.id = a.message"
            " WHERE m.address = ? ORDER BY a.id",
            (address,),
        )
        return [r[0] for r in found]


def copies(server: SMTPTestServer) -> Counter[str]:
    """How many times the server accepted a message for each address."""
    return Counter(m.rcpt_tos[0] for m in server.messages if m.accepted)


def plan(tmp_path: Path, n: int) -> tuple[Path, list[str]]:
    path = tmp_path / "distrib-log.sqlite"
    recipients = [f"journaliste{i:02d}@redaction{i % 3}.example" for i in range(n)]
    with DeliveryLog.open(path) as log:
        plan_messages(log, recipients, campaign="crash")
    return path, recipients


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
    tmp_path: Path, make_smtp_server: Callable[..., SMTPTestServer], point: str, pipelining: bool
) -> None:
    # With PIPELINING, MAIL, RCPT and DATA leave together and `data` is committed while they
    # are in flight, awaited before the body: the same states at every point.
    smtp_server = make_smtp_server(pipelining=pipelining)
    log, recipients = plan(tmp_path, 5)
    second, third = recipients[1], recipients[2]
    code, out = finish(drive(log, smtp_server, DISTRIB_CRASH_AT=point, DISTRIB_CRASH_AFTER="3"))
    assert code == CRASH_EXIT, out
    left, final, expected_copies = AT_POINT[point]
    before = rows(log)
    states = [before[r]["status"] for r in recipients]
    assert states[0] == "sent" and states[2:] == [left, "ready", "ready"]
    assert states[1] in SECOND_LEFT.get(point, {"sent"})
    if point in {"after-dot", "after-250-before-commit"}:
        # The body and the final dot left before the crash: the server accepted it.
        assert wait_for(lambda: copies(smtp_server)[third] == 1)

    # Resume in this process (faster than a new one): take the dead process's lease, recover,
    # send what is pending.
    assert crash_driver.main(["crash_driver", str(log), str(smtp_server.port), "1"]) == 0
    after = rows(log)
    assert after[third]["status"] == final
    assert after[second]["status"] == ("unknown" if states[1] == "data" else "sent")
    assert all(after[r]["status"] == "sent" for r in recipients if r not in {second, third})
    got = copies(smtp_server)
    assert got[third] == expected_copies
    assert all(got[r] == 1 for r in recipients if r != third)  # nothing twice, nothing lost
    if final == "unknown":
        assert outcomes(log, third) == ["interrupted"]  # never resent automatically
        assert "may or may not have been delivered" in after[third]["reply_text"]
    elif left == "ready":
        assert outcomes(log, third) == ["sent"]  # the crashed try never reached the file


def test_a_crash_before_a_group_commit_loses_nothing_and_sends_nothing_twice(
    tmp_path: Path, smtp_server: SMTPTestServer
) -> None:
    log, recipients = plan(tmp_path, 12)
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
        assert all(copies(smtp_server)[r] == 1 for r in recipients if left[r]["status"] == "sent")
    assert crash_driver.main(["crash_driver", str(log), str(smtp_server.port), "3"]) == 0
    final = rows(log)
    got = copies(smtp_server)
    received = Counter(m.rcpt_tos[0] for m in smtp_server.messages)
    assert set(received) <= set(recipients) and max(received.values()) == 1  # never twice
    for r in recipients:
        assert final[r]["status"] in {"sent", "unknown"}, r  # nothing lost or left behind
        if final[r]["status"] == "sent":
            assert got[r] == 1
        else:
            # A lost outcome: the server has it once, the log says "may or may not".
            assert outcomes(log, r)[-1] == "interrupted"
    # At most one message per connection is in `data` in the file at any moment.
    assert sum(final[r]["status"] == "unknown" for r in recipients) <= 3 * 3


@pytest.mark.slow
def test_sigkill_at_random_moments_never_sends_twice_or_loses_a_message(
    tmp_path: Path, smtp_server: SMTPTestServer
) -> None:
    rng = random.Random(20270202)
    log, recipients = plan(tmp_path, 36)
    # Slow replies widen the windows inside a transaction, so kills land in all of them.
    smtp_server.script("RCPT", delay=0.004)
    smtp_server.script("DATA", delay=0.004)
    smtp_server.script("DOT", delay=0.012)
    kills = 0
    for _ in range(10):
        before = len(smtp_server.messages)
        proc = drive(log, smtp_server, connections=2)
        target = before + rng.randint(1, 3)
        wait_for(
            lambda p=proc, t=target: len(smtp_server.messages) >= t or p.poll() is not None  # type: ignore[misc]
        )
        time.sleep(rng.uniform(0, 0.03))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        finish(proc)
    code, out = finish(drive(log, smtp_server, connections=2))
    assert code == 0, out
    assert kills >= 8  # most runs were killed mid-send

    final = rows(log)
    got = copies(smtp_server)
    received = Counter(m.rcpt_tos[0] for m in smtp_server.messages)
    assert max(received.values()) == 1  # no body ever reached the server twice
    assert set(final) == set(recipients)
    unknown = [r for r in recipients if final[r]["status"] == "unknown"]
    for r in recipients:
        status = final[r]["status"]
        assert status in {"sent", "unknown"}, (r, status)  # nothing lost or left behind
        if status == "sent":
            assert got[r] == 1
        else:
            assert got[r] <= 1
            assert outcomes(log, r)[-1] == "interrupted"
    # Each kill leaves at most one message per connection in DATA.
    assert len(unknown) <= 2 * kills
    # Kills before DATA were resent safely: some message's envelope was given more than once
    # (a try killed before its DATA), and it was then sent, once.
    tries = Counter(c.arg for c in smtp_server.commands if c.verb == "RCPT")
    assert any(
        n > 1 and final[r]["status"] == "sent" and got[r] == 1
        for r in recipients
        for arg, n in tries.items()
        if r in arg
    )
    # Every unknown message had reached the DATA phase: its envelope was accepted.
    rcpts = {c.arg for c in smtp_server.commands if c.verb == "RCPT"}
    assert all(any(r in arg for arg in rcpts) for r in unknown)


# -- the real `distrib send` ------------------------------------------------------------------


@pytest.fixture
def campaign(tmp_path: Path, smtp_server: SMTPTestServer) -> CampaignFiles:
    files = write_campaign(tmp_path / "c", port=smtp_server.port)
    text = files.campaign.read_text(encoding="utf-8").replace("connections = 2", "connections = 1")
    files.campaign.write_text(text, encoding="utf-8")
    return files


def cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def distrib_process(*args: str, **env: str) -> Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "distrib", *args],
        env=environment(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def by_address(files: CampaignFiles) -> dict[str, str]:
    return {a: r["status"] for a, r in rows(files.log).items()}


@pytest.mark.parametrize(("point", "third"), [("before-data", "sent"), ("after-dot", "unknown")])
def test_distrib_send_killed_then_resumed(
    campaign: CampaignFiles, smtp_server: SMTPTestServer, point: str, third: str
) -> None:
    proc = distrib_process(
        "send", str(campaign.campaign), "--yes", DISTRIB_CRASH_AT=point, DISTRIB_CRASH_AFTER="3"
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
    smtp_server.script("DOT", "250 2.0.0 OK, slowly", delay=1.0, address=second)
    proc = distrib_process("send", str(campaign.campaign), "--yes")
    assert wait_for(lambda: len(smtp_server.messages) == 2, timeout=30)  # 2nd body is in
    proc.send_signal(signal.SIGINT)
    code, out = finish(proc)
    assert code == 4, out
    assert "Stopping (Ctrl-C): messages in flight finish, nothing new starts" in out
    assert "To go on: distrib send campaign.toml --resume 1" in out
    states = by_address(campaign)
    assert list(states.values()) == ["sent", "sent", "ready", "ready", "ready"]
    with sqlite3.connect(campaign.log) as conn:
        assert conn.execute("SELECT status FROM runs").fetchone()[0] == "stopped"
        assert conn.execute("SELECT COUNT(*) FROM leases").fetchone()[0] == 0


def test_a_second_ctrl_c_abandons_the_message_in_flight(
    campaign: CampaignFiles, smtp_server: SMTPTestServer
) -> None:
    second = list(EXPECTED)[1]
    smtp_server.script("DOT", "250 2.0.0 OK, very slowly", delay=8.0, address=second)
    proc = distrib_process("send", str(campaign.campaign), "--yes")
    assert wait_for(lambda: len(smtp_server.messages) == 2, timeout=30)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    code, out = finish(proc)
    assert time.monotonic() - started < 5  # did not wait for the 8 s reply
    assert code == 4, out
    assert "Stopping at once" in out
    assert "Traceback" not in out
    assert list(by_address(campaign).values()) == ["sent", "unknown", "ready", "ready", "ready"]


def test_a_second_process_is_refused_while_the_first_sends(
    campaign: CampaignFiles, smtp_server: SMTPTestServer
) -> None:
    smtp_server.script("DOT", "250 2.0.0 OK", delay=0.4)
    proc = distrib_process("send", str(campaign.campaign), "--yes")
    try:
        assert wait_for(lambda: len(smtp_server.messages) >= 1, timeout=30)
        for args in (["--resume", "1"], []):
            code, out = cli("send", str(campaign.campaign), "--yes", *args)
            assert code == 1
            assert f"being sent right now: run 1 by process {proc.pid}" in out
    finally:
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
    with (campaign.folder / "medias.csv").open("ab") as out:
        out.write(rows.encode("cp1252"))  # enough messages for render workers
    smtp_server.script("DOT", "250 2.0.0 OK", delay=0.02)
    proc = subprocess.Popen(
        [sys.executable, "-m", "distrib", "send", str(campaign.campaign), "--yes"],
        env=environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )  # fmt: skip
    assert wait_for(lambda: len(smtp_server.messages) >= 5, timeout=60)
    os.killpg(proc.pid, signal.SIGINT)
    code, out = finish(proc, timeout=60)
    assert code == 4, out
    assert "Stopping (Ctrl-C)" in out and "Traceback" not in out
    states = Counter(by_address(campaign).values())
    assert set(states) <= {"sent", "ready"}  # nothing left in flight, nothing unknown
    assert states["sent"] == len(smtp_server.messages) >= 5
    assert states["ready"] > 0
    with sqlite3.connect(campaign.log) as conn:
        assert conn.execute("SELECT status FROM runs").fetchone()[0] == "stopped"
        assert conn.execute("SELECT COUNT(*) FROM leases").fetchone()[0] == 0
