"""`distrib send` and the embargo: an embargoed release leaves before its embargo, every message
carrying the notice; after it, only with --drop-embargo (no notice, recorded in the run);
`hold_until` and `--at` schedule the start; preview always works."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from campaign_helpers import EXPECTED, CampaignFiles, parse, parts, write_campaign
from distrib.cli import app
from smtp_server import SMTPTestServer

runner = CliRunner()


def distrib(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def with_embargo(files: CampaignFiles, moment: datetime | str, key: str = "embargo") -> None:
    when = moment if isinstance(moment, str) else moment.isoformat()
    for name in ("fr.md", "en.md"):
        path = files.folder / "release" / name
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace("---\n", f"---\n{key}: {when}\n", 1), encoding="utf-8")


def run_settings(log: Path) -> list[dict[str, object]]:
    with sqlite3.connect(log) as db:
        return [json.loads(row[0]) for row in db.execute("SELECT settings FROM runs ORDER BY id")]


NBSP = "\u00a0"
#: A moment still to come whose forms are fixed: 1 March 2099, 9:00 Eastern Standard Time.
FUTURE = "2099-03-01T09:00:00-05:00"
FRENCH_NOTICE = f"SOUS EMBARGO jusqu’au 1er mars 2099, 9{NBSP}h (HNE)"
ENGLISH_NOTICE = "EMBARGOED UNTIL 9 a.m. ET, March 1, 2099"


@pytest.fixture
def campaign(tmp_path: Path, smtp_server: SMTPTestServer) -> CampaignFiles:
    return write_campaign(tmp_path / "c", port=smtp_server.port)


def test_an_embargoed_release_is_sent_before_its_embargo_with_the_notice(
    campaign: CampaignFiles, smtp_server: SMTPTestServer
) -> None:
    with_embargo(campaign, FUTURE)
    code, out = distrib("send", str(campaign.campaign), "--yes")
    assert code == 0, out
    assert f"embargo: {FUTURE}; every message carries the notice" in out
    assert len(smtp_server.messages) == len(EXPECTED)
    for received in smtp_server.messages:
        message = parse(received.data)
        text, html = parts(message)
        text = text.replace("\r\n", "\n")
        if EXPECTED[received.rcpt_tos[0]] == "fr":
            notice, request = FRENCH_NOTICE, "Merci de ne rien publier avant cette heure."
            assert str(message["Subject"]).startswith(f"EMBARGO 1er mars 9{NBSP}h HNE – ")
        else:
            notice, request = ENGLISH_NOTICE, "Please do not publish before then."
            assert str(message["Subject"]).startswith("EMBARGOED until March 1, 9 a.m. ET – ")
        # At the top of both parts, before the greeting and the release.
        assert text.startswith(f"{notice}\n{request}\n\n"), text[:200]
        assert '<p class="label embargo"' in html
        assert f"<strong>{notice}</strong><br>{request}</p>" in html
        assert html.index(notice) < html.index('class="greeting"') < html.index("<h1")
        assert "Pour diffusion immédiate" not in text and "For immediate release" not in text
    runs = run_settings(campaign.log)
    assert runs[-1]["drop_embargo"] is False
    assert runs[-1]["release"]["fr"]["label"] == FRENCH_NOTICE  # type: ignore[index]


def test_sending_after_the_embargo_is_refused_without_drop_embargo(
    campaign: CampaignFiles, smtp_server: SMTPTestServer
) -> None:
    embargo = (datetime.now(UTC) - timedelta(minutes=1)).replace(microsecond=0)
    with_embargo(campaign, embargo)
    code, out = distrib("send", str(campaign.campaign), "--yes")
    assert code == 1
    assert f"the release's embargo ({embargo.isoformat()}) has passed" in out
    assert "distrib send --drop-embargo" in out
    assert smtp_server.messages == []
    code, out = distrib("send", str(campaign.campaign), "--yes", "--drop-embargo")
    assert code == 0, out
    assert "has passed; sent without the embargo notice (--drop-embargo)" in out
    assert len(smtp_server.messages) == len(EXPECTED)
    for received in smtp_server.messages:
        message = parse(received.data)
        text, html = parts(message)
        assert "EMBARGO" not in text and "EMBARGO" not in html
        assert "EMBARGO" not in str(message["Subject"])
        label = (
            "Pour diffusion immédiate"
            if EXPECTED[received.rcpt_tos[0]] == "fr"
            else ("For immediate release")
        )
        assert text.startswith(label)
    assert run_settings(campaign.log)[-1]["drop_embargo"] is True


def test_drop_embargo_before_the_embargo_is_refused(
    campaign: CampaignFiles, smtp_server: SMTPTestServer
) -> None:
    with_embargo(campaign, FUTURE)
    code, out = distrib("send", str(campaign.campaign), "--yes", "--drop-embargo")
    assert code == 1
    assert "has not passed: the release would go out unprotected" in out
    assert smtp_server.messages == []
    # Preview works at any time, and shows the notice.
    code, out = distrib("preview", str(campaign.campaign), "--out", str(campaign.folder / "p"))
    assert code == 0, out


def test_hold_until_refuses_an_early_start(
    campaign: CampaignFiles, smtp_server: SMTPTestServer
) -> None:
    hold = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    with_embargo(campaign, hold, key="hold_until")
    code, out = distrib("send", str(campaign.campaign), "--yes")
    assert code == 1
    assert f"the release is held until {hold.isoformat()} (hold_until in its front matter)" in out
    assert f"distrib send --at {hold.isoformat()}" in out
    early = (hold - timedelta(minutes=5)).isoformat()
    code, out = distrib("send", str(campaign.campaign), "--yes", "--at", early)
    assert code == 1 and "held until" in out
    assert smtp_server.messages == []


def test_at_waits_for_the_given_time(
    campaign: CampaignFiles, smtp_server: SMTPTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--at` says until when it waits and that the machine must stay awake, waits, then
    sends.  The wait runs on a clock of its own that its sleeps move on (three seconds before
    the start when it begins): how long the command took to get there changes nothing."""
    from distrib import schedule

    real = schedule.wait_until
    slept: list[float] = []

    def on_own_clock(target: datetime, **options: Any) -> None:
        now = [target - timedelta(seconds=3)]

        def sleep(seconds: float) -> None:
            slept.append(seconds)
            now[0] += timedelta(seconds=seconds)

        real(target, clock=lambda: now[0], sleep=sleep, on_tick=options.get("on_tick"))

    monkeypatch.setattr(schedule, "wait_until", on_own_clock)
    start = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    code, out = distrib("send", str(campaign.campaign), "--yes", "--at", start.isoformat())
    assert code == 0, out
    assert sum(slept) == 3  # it waited until the time given, then sent
    assert f"(until {start.isoformat()}): this machine must stay on and awake" in out
    assert len(smtp_server.messages) == len(EXPECTED)


def test_at_needs_a_time_zone(campaign: CampaignFiles, smtp_server: SMTPTestServer) -> None:
    code, out = distrib("send", str(campaign.campaign), "--yes", "--at", "2027-11-04 09:00")
    assert code == 1
    assert "has no time zone" in out
    assert smtp_server.messages == []
