"""A permanent "no such user" refusal during one release suppresses the address for the whole
workspace: the next release never writes to it (asserted on the real server's envelopes), the
report says so, and `contacts history` shows why."""

from __future__ import annotations

import asyncio
from pathlib import Path

from typer.testing import CliRunner

from distrib.cli import app
from distrib.config import LimitsConfig
from distrib.deliverylog import open_log
from distrib.send import send_messages
from smtp_server import SMTPTestServer, plan_messages
from workspace_helpers import FIRST, LANGUAGES, SECOND, write_workspace

runner = CliRunner()


def distrib(*args: str | Path) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, " ".join(result.output.split())


def test_a_5_1_1_in_release_1_is_never_written_to_by_release_2(
    tmp_path: Path, smtp_server: SMTPTestServer
) -> None:
    ws = write_workspace(tmp_path / "ws", port=smtp_server.port)
    # The deferral (452) is retried at once rather than after the default 30 s.
    text = ws.file.read_text(encoding="utf-8").replace("[limits]\n", "[limits]\nretry_delay = 0\n")
    ws.file.write_text(text, encoding="utf-8")
    gone, moved, full = "marc@fleuve.example", "luc@fleuve.example", "sam@river.example"
    smtp_server.script("RCPT", "550 5.1.1 <marc@fleuve.example>: no such user", address=gone)
    smtp_server.script("RCPT", "550 5.7.1 refused by policy", address=moved, times=1)
    smtp_server.script("RCPT", "452 4.2.2 mailbox full", address=full, times=1)
    code, out = distrib("send", ws.release(FIRST), "--yes")
    assert code == 3, out  # a failure (and a deferral)
    said = "1 address(es) suppressed: no such user (refused as nonexistent; no later release"
    assert f"{said} writes to them): {gone}" in out
    assert "Suggested for suppression" not in out
    # Release 2: everyone but the address that does not exist (a 5.7.1 and a 4.x.x do not
    # suppress: those two get it).
    before = len(smtp_server.messages)
    code, out = distrib("send", ws.release(SECOND), "--yes")
    assert code == 0, out
    second = [m.rcpt_tos[0] for m in smtp_server.messages[before:]]
    assert sorted(second) == sorted(set(LANGUAGES) - {gone})
    rcpts = [c.arg for c in smtp_server.commands if c.verb == "RCPT" and gone in c.arg]
    assert len(rcpts) == 1  # only release 1 ever named it
    code, out = distrib("contacts", "history", gone, "-c", ws.root)
    assert code == 0, out
    assert "no such user" in out and "5.1.1" in out
    # The HTML report of release 1 says it too.
    html = tmp_path / "report.html"
    code, out = distrib("report", "1", "-c", ws.root, "--html", html)
    assert code == 0, out
    assert "suppressed: no such user" in html.read_text(encoding="utf-8")


def test_a_5_1_1_stops_that_address_waiting_in_other_unfinished_runs(
    empty_target: str | Path, smtp_server: SMTPTestServer
) -> None:
    """As an opt-out does: the refusal of run 2 turns that person's messages still waiting in
    run 1 (another release, not finished) into ``suppressed`` (its ``+tag`` and case variants
    too), so resuming run 1 never names the address; everyone else stays ``ready``."""
    gone, other = "marc@fleuve.example", "zoe@fleuve.example"
    smtp_server.script("RCPT", f"550 5.1.1 <{gone}>: no such user", address=gone)
    with open_log(empty_target, create=True) as log:
        run1, _ = plan_messages(log, [other, "Marc+presse@Fleuve.example"], campaign="release-1")
        run2, outgoing = plan_messages(log, [gone, "luc@fleuve.example"], campaign="release-2")
        limits = LimitsConfig(rate=0, connections=1, retries=1, retry_delay=0, pause_after=0)
        report = asyncio.run(
            send_messages(outgoing, log=log, smtp=smtp_server.smtp_config(), limits=limits,
                          password=None)
        )  # fmt: skip
        assert (report.sent, report.failed) == (1, 1)
        assert {m.address: m.status for m in log.messages(run1.id)} == {
            other: "ready", "Marc+presse@Fleuve.example": "suppressed",
        }  # fmt: skip
        assert [m.status for m in log.messages(run2.id)] == ["failed", "sent"]
        entries = [(s.key, s.reason) for s in log.suppressions()]
        assert entries == [(gone, "no such user")]
