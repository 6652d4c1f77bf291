"""`distrib send --resume` and `distrib resolve`, end to end: real campaign files, a real SMTP
server, a real delivery log."""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from campaign_helpers import EXPECTED, CampaignFiles, parse, write_campaign
from distrib.cli import app
from distrib.deliverylog import DeliveryLog, NewMessage, open_log
from distrib.deliverylog.lease import acquire_lease
from log_helpers import begin, raw_execute
from smtp_server import SMTPTestServer

runner = CliRunner()
ZOE, MARC, ALICE, SAM, NOEMIE = EXPECTED  # in sending order


def distrib(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


@pytest.fixture
def campaign(tmp_path: Path, smtp_server: SMTPTestServer) -> CampaignFiles:
    files = write_campaign(tmp_path / "c", port=smtp_server.port)
    text = files.campaign.read_text(encoding="utf-8")
    text = text.replace("connections = 2", "connections = 1\npause_after = 1")
    files.campaign.write_text(text, encoding="utf-8")
    return files


def states(files: CampaignFiles, run: int = 1) -> dict[str, str]:
    with sqlite3.connect(files.log) as conn:
        rows = conn.execute("SELECT address, status FROM messages WHERE run_id = ?", (run,))
        return dict(rows.fetchall())


def copies(server: SMTPTestServer) -> Counter[str]:
    return Counter(m.rcpt_tos[0] for m in server.messages if m.accepted)


def pause_run_1(files: CampaignFiles, server: SMTPTestServer) -> str:
    """Send run 1; the relay blocks Alice once (5.7.1), which pauses it (pause_after = 1)."""
    server.script("RCPT", "550 5.7.1 Blocked by policy", address=ALICE, times=1)
    code, out = distrib("send", str(files.campaign), "--yes")
    assert code == 4, out
    assert states(files) == {ZOE: "sent", MARC: "sent", ALICE: "failed", SAM: "ready",
                             NOEMIE: "ready"}  # fmt: skip
    return out


def test_a_paused_run_says_why_and_resumes_without_sending_twice(
    campaign: CampaignFiles, smtp_server: SMTPTestServer
) -> None:
    out = pause_run_1(campaign, smtp_server)
    assert "Paused: 1 reply in a row refused or throttled us" in out
    assert "550 5.7.1 Blocked by policy" in out
    assert "To go on: distrib send campaign.toml --resume 1" in out
    code, out = distrib("runs", "--log", str(campaign.log))
    assert "paused" in out

    code, out = distrib("send", str(campaign.campaign), "--resume", "1", "--yes")
    assert code == 3, out  # finished, with Alice failed
    assert "to send: 2 message(s)" in out
    assert states(campaign) == {ZOE: "sent", MARC: "sent", ALICE: "failed", SAM: "sent",
                                NOEMIE: "sent"}  # fmt: skip
    assert copies(smtp_server) == Counter({ZOE: 1, MARC: 1, SAM: 1, NOEMIE: 1})

    # The block is lifted: the officer sends Alice's message again, with a note.
    code, out = distrib(
        "resolve",
        "1",
        ALICE,
        "--resend",
        "--note",
        "relay unblocked us",
        "--log",
        str(campaign.log),
    )
    assert code == 0, out
    assert "1 message(s) set to be sent again" in out
    code, out = distrib("send", str(campaign.campaign), "--resume", "latest", "--yes")
    assert code == 0, out
    assert copies(smtp_server) == Counter(dict.fromkeys(EXPECTED, 1))
    assert set(states(campaign).values()) == {"sent"}
    code, out = distrib("send", str(campaign.campaign), "--resume", "1", "--yes")
    assert code == 0 and "Nothing left to send in run 1." in out


def test_resume_recovers_a_crash_and_never_resends_an_unknown_message(
    campaign: CampaignFiles, smtp_server: SMTPTestServer
) -> None:
    pause_run_1(campaign, smtp_server)
    # Leave the log as a crash would: Sam in the middle of DATA; Noémie claimed (``sending``),
    # as versions before group commits left a message they had taken.
    with open_log(campaign.log) as log:
        rows = {m.address: m for m in log.messages(1)}
        begin(log, rows[SAM].id)
    raw_execute(
        campaign.log, f"UPDATE messages SET status = 'sending' WHERE id = {rows[NOEMIE].id}"
    )
    code, out = distrib("send", str(campaign.campaign), "--resume", "1", "--yes")
    assert code == 3, out
    assert "1 back to ready (never reached DATA), 1 now unknown" in out
    assert "to send: 1 message(s)" in out
    assert states(campaign)[SAM] == "unknown" and states(campaign)[NOEMIE] == "sent"
    assert SAM not in copies(smtp_server)  # never resent automatically
    # A new run of the campaign does not send to Sam either (he may have the message); it
    # only tries Alice again, whom run 1 failed.  Sam is told apart from those sent, and the
    # exit code stays 3 while his message is unknown.
    code, out = distrib("send", str(campaign.campaign), "--yes")
    assert code == 3, out
    assert "1 message(s) to send" in out
    assert "3 already sent by an earlier run, 1 may have arrived (unknown)" in out
    assert "1 may have arrived (unknown in run 1), not resent" in out
    assert "`distrib resolve 1 -c campaign.toml`" in out
    assert states(campaign, 2)[SAM] == "skipped" and states(campaign, 2)[ALICE] == "sent"

    code, out = distrib("resolve", "1", "--log", str(campaign.log))
    assert code == 0
    with open_log(campaign.log) as log:
        sam = next(m for m in log.messages(1) if m.address == SAM)
    assert f"{SAM}  {sam.message_id}" in out
    assert "interrupted after DATA began" in out

    code, out = distrib(
        "resolve", "1", SAM, "--mark-sent", "-n", "relay log: 250 queued as 4XyZ",
        "--log", str(campaign.log),
    )  # fmt: skip
    assert code == 0, out
    assert states(campaign)[SAM] == "sent"
    with sqlite3.connect(campaign.log) as conn:
        resolution = conn.execute(
            "SELECT resolution, resolved_by, note FROM messages WHERE address = ?", (SAM,)
        ).fetchone()
    assert resolution[0] == "mark-sent" and resolution[1] and resolution[2].startswith("relay")
    assert SAM not in copies(smtp_server)
    code, out = distrib("send", str(campaign.campaign), "--yes")
    assert code == 0, out  # nothing unknown left anywhere: done
    assert "Nothing to send." in out and "may have arrived" not in out


def test_resume_settles_the_campaigns_other_interrupted_runs(
    campaign: CampaignFiles, smtp_server: SMTPTestServer
) -> None:
    pause_run_1(campaign, smtp_server)
    # Leave a second run as a killed `distrib send` would: still "sending", Sam cut off in the
    # middle of DATA.
    with open_log(campaign.log) as log:
        run = log.create_run("quays", "campaign.toml")
        log.add_messages(run.id, [NewMessage(key="k-sam", recipient=SAM, address=SAM)])
        (sam,) = log.messages(run.id)
        begin(log, sam.id)
        log.set_run_status(run.id, "sending")
    code, out = distrib("send", str(campaign.campaign), "--resume", "1", "--yes")
    assert code == 3, out
    assert "Run 2 had been interrupted" in out
    assert "0 back to ready (never reached DATA), 1 now unknown" in out
    assert "1 may have arrived (unknown in run 2), not resent" in out
    assert states(campaign, 2) == {SAM: "unknown"}
    with sqlite3.connect(campaign.log) as conn:
        status, note = conn.execute("SELECT status, note FROM runs WHERE id = 2").fetchone()
    assert status == "finished" and "interrupted" in note  # no longer "sending"


def test_resolve_reports_every_problem_and_changes_nothing(
    campaign: CampaignFiles, smtp_server: SMTPTestServer
) -> None:
    pause_run_1(campaign, smtp_server)
    log = str(campaign.log)
    code, out = distrib("resolve", "1", ZOE, "nobody@x.example", "--mark-sent", "-n", "x",
                        "--log", log)  # fmt: skip
    assert code == 1
    assert f"{ZOE}: is sent; --mark-sent applies to unknown" in out
    assert "nobody@x.example: no message to this address in run 1" in out
    assert "nothing was resolved" in out
    code, out = distrib("resolve", "1", ALICE, "--resend", "--log", log)
    assert code == 1 and "--note is required" in out
    assert states(campaign)[ALICE] == "failed"
    code, out = distrib("resolve", "1", ALICE, "--resend", "--mark-sent", "-n", "x", "--log", log)
    assert code == 2 and "choose one of" in out
    code, out = distrib("resolve", "1", "--log", log)
    assert code == 0 and "Run 1 has no unknown message." in out


def test_resume_refuses_changed_contacts_unless_forced(
    campaign: CampaignFiles, smtp_server: SMTPTestServer
) -> None:
    pause_run_1(campaign, smtp_server)
    # Noémie leaves the English sheet's list (suppressed) and a new journalist is added.
    suppression = campaign.folder / "suppression.csv"
    suppression.write_text(suppression.read_text() + "noemie@river.example\n", encoding="utf-8")
    csv = campaign.folder / "medias.csv"
    extra = "nouveau@fleuve.example;Lea;Nouveau;Le Fleuve;fr\n".encode("cp1252")
    csv.write_bytes(csv.read_bytes() + extra)

    code, out = distrib("send", str(campaign.campaign), "--resume", "1", "--yes")
    assert code == 1
    assert "run 1 was not resumed: the campaign changed since it was planned" in out
    assert "the contact lists changed since run 1 was planned" in out
    assert f"{NOEMIE}: pending, but no longer in the contact lists" in out
    assert "1 contact(s) in the lists are not part of run 1" in out
    assert states(campaign)[SAM] == "ready" and len(smtp_server.messages) == 2

    code, out = distrib("send", str(campaign.campaign), "--resume", "1", "--yes", "--force")
    assert code == 3, out
    assert "1 pending message(s) set aside, 0 re-planned" in out
    assert states(campaign)[NOEMIE] == "skipped" and states(campaign)[SAM] == "sent"
    assert NOEMIE not in copies(smtp_server)
    with sqlite3.connect(campaign.log) as conn:
        note = conn.execute("SELECT note FROM messages WHERE address = ?", (NOEMIE,)).fetchone()
    assert "no longer in the contact lists" in note[0]


def test_an_opt_out_recorded_while_a_run_is_paused_does_not_block_its_resume(
    campaign: CampaignFiles, smtp_server: SMTPTestServer
) -> None:
    """The log's suppression list changes the audience, not the lists: a run paused, then an
    opt-out (`distrib unsubscribe`) resumes without --force and skips that journalist."""
    pause_run_1(campaign, smtp_server)
    code, out = distrib("unsubscribe", SAM, "--campaign", str(campaign.campaign))
    assert code == 0, out
    assert states(campaign)[SAM] == "suppressed"  # the waiting message is stopped at once

    code, out = distrib("send", str(campaign.campaign), "--resume", "1", "--yes")
    assert code == 3, out  # finished, with Alice failed
    assert "changed since" not in out
    assert SAM not in copies(smtp_server) and copies(smtp_server)[NOEMIE] == 1
    assert states(campaign)[SAM] == "suppressed"


def test_resume_refuses_changed_templates_unless_forced_then_sends_the_new_text(
    campaign: CampaignFiles, smtp_server: SMTPTestServer
) -> None:
    pause_run_1(campaign, smtp_server)
    release = campaign.folder / "release" / "en.md"
    release.write_text(release.read_text().replace("today", "this morning"), encoding="utf-8")
    code, out = distrib("send", str(campaign.campaign), "--resume", "1", "--yes")
    assert code == 1
    assert "the templates or the release changed since run 1" in out
    assert f"{SAM}: pending, and the message would now read differently" in out
    assert NOEMIE not in out  # French: her message did not change

    code, out = distrib("send", str(campaign.campaign), "--resume", "1", "--yes", "--force")
    assert code == 3, out
    assert "0 pending message(s) set aside, 1 re-planned" in out
    [sam] = smtp_server.received_for(SAM)
    assert b"this morning" in sam.data.replace(b"=\r\n", b"")
    # Same run, same Message-ID as planned: the relay's logs can still be searched by it.
    with sqlite3.connect(campaign.log) as conn:
        planned = conn.execute(
            "SELECT message_id FROM messages WHERE address = ?", (SAM,)
        ).fetchone()[0]
    assert parse(sam.data)["Message-ID"] == planned


def test_a_run_held_by_another_process_is_refused_clearly(
    campaign: CampaignFiles, smtp_server: SMTPTestServer
) -> None:
    pause_run_1(campaign, smtp_server)
    with open_log(campaign.log) as log:
        lease = acquire_lease(log, "quays", run_id=1, pid=4242, host="poste-de-marie")
        for args in (["--resume", "1"], []):
            code, out = distrib("send", str(campaign.campaign), "--yes", *args)
            assert code == 1, out
            assert "campaign 'quays' is being sent right now: run 1 by process 4242" in out
            assert "on poste-de-marie" in out and "Traceback" not in out
        lease.release()
    with sqlite3.connect(campaign.log) as conn:
        assert conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 1  # no run left behind
    assert len(smtp_server.messages) == 2


def test_resuming_never_sends_to_contacts_a_newer_run_sent_to(
    campaign: CampaignFiles, smtp_server: SMTPTestServer
) -> None:
    pause_run_1(campaign, smtp_server)
    code, out = distrib("send", str(campaign.campaign), "--yes")  # run 2, while 1 is paused
    assert code == 0, out
    assert states(campaign, 2) == {ZOE: "skipped", MARC: "skipped", ALICE: "sent",
                                   SAM: "sent", NOEMIE: "sent"}  # fmt: skip
    code, out = distrib("send", str(campaign.campaign), "--resume", "1", "--yes")
    assert code == 3, out  # nothing left, but Alice failed in run 1
    assert "2 pending message(s) skipped: another run of the campaign sent them" in out
    assert "Nothing left to send in run 1." in out
    assert states(campaign)[SAM] == "skipped" and states(campaign)[NOEMIE] == "skipped"
    with sqlite3.connect(campaign.log) as conn:
        status, note = conn.execute("SELECT status, note FROM runs WHERE id = 1").fetchone()
    assert (status, note) == ("finished", "")  # not left "paused" with the old reason
    assert copies(smtp_server) == Counter(dict.fromkeys(EXPECTED, 1))


def test_resume_checks_the_run_belongs_to_the_campaign(
    campaign: CampaignFiles, smtp_server: SMTPTestServer, tmp_path: Path
) -> None:
    pause_run_1(campaign, smtp_server)
    code, out = distrib("send", str(campaign.campaign), "--resume", "7", "--yes")
    assert code == 1 and "no run 7" in out
    code, out = distrib("send", str(campaign.campaign), "--force", "--yes")
    assert code == 2 and "--force only goes with --resume" in out
    other = write_campaign(
        tmp_path / "other", port=smtp_server.port, extra=f'log = "{campaign.log}"'
    )
    text = other.campaign.read_text().replace('name = "quays"', 'name = "autre"')
    other.campaign.write_text(text)
    code, out = distrib("send", str(other.campaign), "--resume", "1", "--yes")
    assert code == 1 and "run 1 is a run of campaign 'quays', not of 'autre'" in out


def test_a_template_that_no_longer_renders_blocks_the_resume_and_changes_nothing(
    campaign: CampaignFiles, smtp_server: SMTPTestServer
) -> None:
    pause_run_1(campaign, smtp_server)
    template = campaign.folder / "templates" / "en" / "message.txt"
    good = template.read_text(encoding="utf-8")
    template.write_text(
        good.replace("{% block greeting %}", "{% block greeting %}{{ contact.nope }}")
    )
    code, out = distrib("send", str(campaign.campaign), "--resume", "1", "--yes", "--force")
    assert code == 1
    assert "run 1 was not resumed: 2 message(s) cannot be rendered" in out
    assert "has no field 'nope'" in out
    assert states(campaign)[SAM] == "ready" and len(smtp_server.messages) == 2
    with sqlite3.connect(campaign.log) as conn:
        assert conn.execute("SELECT COUNT(*) FROM leases").fetchone()[0] == 0  # released
    template.write_text(good, encoding="utf-8")
    code, out = distrib("send", str(campaign.campaign), "--resume", "1", "--yes")
    assert code == 3, out
    assert states(campaign)[SAM] == "sent"


def test_a_run_whose_embargo_passed_resumes_only_without_the_notice(
    campaign: CampaignFiles, smtp_server: SMTPTestServer
) -> None:
    """Run 1 left before the embargo and paused; by the time it is resumed the embargo has
    passed: its last messages would carry a false notice.  Refused, unless --drop-embargo
    (with --force: the pending messages change), which the run then records."""
    from datetime import UTC, datetime

    from distrib.app.resuming import prepare_resume
    from distrib.app.sending import SendPreparation, send
    from distrib.config import load_campaign
    from distrib.errors import EmbargoError, RunChangedError

    for name in ("fr.md", "en.md"):
        path = campaign.folder / "release" / name
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace("---\n", "---\nembargo: 2099-03-01T09:00-05:00\n", 1))
    pause_run_1(campaign, smtp_server)
    assert all("EMBARGO" in str(parse(m.data)["Subject"]) for m in smtp_server.messages)
    config = load_campaign(campaign.campaign)
    later = datetime(2099, 3, 1, 15, tzinfo=UTC)  # the embargo was at 14:00 UTC
    with open_log(campaign.log, clock=lambda: later) as log:
        with pytest.raises(EmbargoError, match=r"has passed .* --drop-embargo"):
            prepare_resume(config, log, 1)
        with pytest.raises(RunChangedError):
            prepare_resume(config, log, 1, drop_embargo=True)
        resumption = prepare_resume(config, log, 1, drop_embargo=True, force=True)
        assert resumption.run.settings["drop_embargo"] is True
        prep = SendPreparation(
            resumption.plan.campaign, log, resumption.plan, resumption=resumption
        )
        send(prep, handle_signals=False)
    assert states(campaign)[SAM] == "sent" and states(campaign)[NOEMIE] == "sent"
    resumed = [m for m in smtp_server.messages if m.rcpt_tos[0] in (SAM, NOEMIE)]
    assert len(resumed) == 2
    for received in resumed:
        message = parse(received.data)
        body = message.get_body(("plain",))
        assert body is not None and "EMBARGO" not in str(body.get_content())
        assert "EMBARGO" not in str(message["Subject"])


def with_embargo(files: CampaignFiles, embargo: str) -> None:
    for name in ("fr.md", "en.md"):
        path = files.folder / "release" / name
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace("---\n", f"---\nembargo: {embargo}\n", 1), encoding="utf-8")


def being_sent(log: DeliveryLog, run: int) -> None:
    """Make ``run`` look sent right now by another live process (this one's pid, this host)."""
    import os
    import socket
    from datetime import UTC, datetime

    from distrib.deliverylog.records import timestamp

    log.set_run_status(run, "sending")
    far = timestamp(datetime(2199, 1, 1, tzinfo=UTC))
    log.register_worker(
        run, owner="other", pid=os.getpid(), host=socket.gethostname(), user="u", expires_at=far
    )


def test_a_run_sent_with_drop_embargo_is_joined_without_the_notice(
    campaign: CampaignFiles, smtp_server: SMTPTestServer
) -> None:
    """`--join` plans the run as it was started: without the embargo notice when it was sent
    with --drop-embargo, so the joining worker's messages are the run's, byte for byte."""
    from distrib.app.resuming import prepare_join
    from distrib.config import load_campaign

    with_embargo(campaign, "2020-03-01T09:00-05:00")  # passed
    smtp_server.script("RCPT", "550 5.7.1 Blocked by policy", address=ALICE, times=1)
    code, out = distrib("send", str(campaign.campaign), "--yes", "--drop-embargo")
    assert code == 4, out  # paused, Sam and Noémie still to send
    assert all("EMBARGO" not in str(parse(m.data)["Subject"]) for m in smtp_server.messages)
    code, out = distrib("send", str(campaign.campaign), "--resume", "1", "--join", "--drop-embargo")
    assert code == 2 and "--join goes with --resume RUN" in out
    with open_log(campaign.log) as log:
        being_sent(log, 1)
        joining = prepare_join(load_campaign(campaign.campaign), log, 1)
    assert joining.pending == 2
    assert joining.plan.campaign.drop_embargo


def test_a_run_carrying_the_notice_is_not_joined_once_its_embargo_has_passed(
    campaign: CampaignFiles, smtp_server: SMTPTestServer
) -> None:
    from datetime import UTC, datetime

    from distrib.app.resuming import prepare_join
    from distrib.config import load_campaign
    from distrib.errors import EmbargoError

    with_embargo(campaign, "2099-03-01T09:00-05:00")
    pause_run_1(campaign, smtp_server)  # before the embargo: with the notice
    config = load_campaign(campaign.campaign)
    with open_log(campaign.log) as log:
        being_sent(log, 1)
        assert prepare_join(config, log, 1).pending == 2  # before the embargo: joined
    later = datetime(2099, 3, 1, 15, tzinfo=UTC)  # the embargo was at 14:00 UTC
    with (
        open_log(campaign.log, clock=lambda: later) as log,
        pytest.raises(EmbargoError, match="has passed"),
    ):
        prepare_join(config, log, 1)
