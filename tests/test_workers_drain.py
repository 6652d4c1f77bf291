"""Two `distrib send` processes drain one run of a campaign whose log is a real PostgreSQL
database, against one real SMTP server (aiosmtpd) that counts what it received: zero
duplicates, zero lost, also when one of them is SIGKILLed at a chosen event.

The first process starts the run (``distrib send``); the second joins it (``--resume latest
--join``).  The server holds the first process's first MAIL FROM until the second one has
delivered a message, so both are sending at once whatever the machine's speed; a kill happens
when the server reads a chosen final dot (an event, never a moment).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from campaign_helpers import EXPECTED, CampaignFiles, write_campaign
from crash_helpers import Killer, distrib_child, finish, wait_for
from distrib.deliverylog import MessageRow, open_log
from smtp_server import SMTPTestServer

pytestmark = pytest.mark.slow  # several processes: started first (conftest)

#: Journalists added to the campaign's French list, so that there is a run to share.
EXTRA = 36


def drain_campaign(folder: Path, port: int, url: str) -> CampaignFiles:
    """The test campaign with its log on PostgreSQL, one connection per process, and
    `EXTRA` more journalists."""
    files = write_campaign(folder, port=port)
    rows = "".join(
        f"journaliste{i:02d}@redaction{i % 3}.example;Prénom;Nom {i};Média {i % 4};fr\n"
        for i in range(EXTRA)
    )
    csv = folder / "medias.csv"
    csv.write_bytes(csv.read_bytes() + rows.encode("cp1252"))
    text = files.campaign.read_text(encoding="utf-8").replace("connections = 2", "connections = 1")
    # The starter's first MAIL FROM is held until the joiner has delivered a message: its
    # client must not give up meanwhile, however long the joiner takes to start on a loaded
    # machine (with 5 s it did, two suites side by side, and the "third final dot" the joiner
    # is killed at became the starter's).  A minute still ends a session left waiting.
    text = text.replace("timeout = 5\ndata_timeout = 5", "timeout = 60\ndata_timeout = 60")
    assert "timeout = 60" in text
    files.campaign.write_text(f'log = "{url}"\n{text}', encoding="utf-8")
    return files


def messages(url: str) -> list[MessageRow]:
    with open_log(url, read_only=True) as log:
        [run] = log.runs()
        return log.messages(run.id)


def first_claimed(url: str) -> MessageRow:
    """The message the first worker takes first (claims come in planning order)."""
    return min((m for m in messages(url) if m.worker is not None), key=lambda m: m.id)


@pytest.mark.parametrize("kill", [None, "starter", "joiner"])
def test_two_workers_drain_one_run_and_send_each_message_once(
    tmp_path: Path,
    postgres_url: str,
    make_smtp_server: Callable[..., SMTPTestServer],
    kill: str | None,
) -> None:
    server = make_smtp_server()
    files = drain_campaign(tmp_path / "c", server.port, postgres_url)
    go = threading.Event()
    server.script("MAIL", hold=go, times=1)  # the starter's first message waits here
    starter_kill, joiner_kill = Killer(), Killer()
    if kill == "joiner":
        # The joiner's third final dot (the starter is held at its first MAIL until then).
        server.script("DOT", disconnect=True, times=1, skip=2, action=joiner_kill)

    starter = starter_kill.target(distrib_child("send", str(files.campaign), "--yes"))
    try:
        assert wait_for(lambda: any(c.verb == "MAIL" for c in server.commands), timeout=60)
        held = first_claimed(postgres_url)  # the starter's, held at MAIL FROM
        if kill == "starter":
            # Its first final dot: `data` committed, the body sent, no reply read yet.
            server.script(
                "DOT", disconnect=True, times=1, address=held.address, action=starter_kill
            )
        joiner = joiner_kill.target(
            distrib_child("send", str(files.campaign), "--resume", "latest", "--join", "--yes")
        )
        try:
            if kill == "joiner":
                assert joiner_kill.fired.wait(60)
                code, out = finish(joiner)
                assert code == -9, out  # killed at its point
            else:
                assert wait_for(lambda: len(server.messages) >= 1, timeout=60), "no joiner"
            go.set()  # now the starter goes on
            if kill == "starter":
                assert starter_kill.fired.wait(60)
            code, out = finish(starter)
            if kill == "starter":
                assert code == -9, out
            else:
                assert code in {0, 3}, out  # 3: an unknown message (the joiner's) to settle
                assert "Traceback" not in out
            if kill != "joiner":
                code, out = finish(joiner)
                assert code in {0, 3}, out
                assert "joins in" in out and "Traceback" not in out
        finally:
            if joiner.poll() is None:
                joiner.kill()
    finally:
        go.set()
        if starter.poll() is None:
            starter.kill()

    rows = messages(postgres_url)
    planned = {m.address for m in rows if m.status not in {"skipped", "suppressed", "rejected"}}
    assert len(planned) == len(EXPECTED) + EXTRA
    bodies = Counter(m.rcpt_tos[0] for m in server.messages)
    accepted = Counter(m.rcpt_tos[0] for m in server.messages if m.accepted)
    assert max(bodies.values()) == 1  # zero duplicates: no body reached the server twice
    sent = {m.address for m in rows if m.status == "sent"}
    unknown = {m.address for m in rows if m.status == "unknown"}
    assert sent | unknown == planned  # zero lost: every message sent, or cut off (unknown)
    assert all(accepted[a] == 1 for a in sent)  # each sent one, received once
    killed = starter_kill.hit + joiner_kill.hit
    assert unknown == set(killed)  # only the message a kill cut off after its body
    assert all(bodies[a] == 1 for a in unknown)  # the body had arrived; never resent
    workers = {m.worker for m in rows if m.status in {"sent", "unknown"}}
    assert len(workers) == 2  # both processes sent
    with open_log(postgres_url, read_only=True) as log:
        [run] = log.runs()
        assert run.status == "finished"
        assert log.workers(run.id) == []  # every worker finished, or was recovered
