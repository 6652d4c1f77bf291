"""`distrib send` and the embargo: refused before it, `--at` waits, preview always works."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from campaign_helpers import EXPECTED, CampaignFiles, write_campaign
from distrib.cli import app
from smtp_server import SMTPTestServer

runner = CliRunner()


def distrib(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def with_embargo(files: CampaignFiles, moment: datetime) -> None:
    for name in ("fr.md", "en.md"):
        path = files.folder / "release" / name
        text = path.read_text(encoding="utf-8")
        path.write_text(
            text.replace("---\n", f"---\nembargo: {moment.isoformat()}\n", 1), encoding="utf-8"
        )


@pytest.fixture
def campaign(tmp_path: Path, smtp_server: SMTPTestServer) -> CampaignFiles:
    return write_campaign(tmp_path / "c", port=smtp_server.port)


def test_send_refuses_to_start_before_the_embargo(
    campaign: CampaignFiles, smtp_server: SMTPTestServer
) -> None:
    embargo = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    with_embargo(campaign, embargo)
    code, out = distrib("send", str(campaign.campaign), "--yes")
    assert code == 1
    assert f"under embargo until {embargo.isoformat()}" in out
    assert f"distrib send --at {embargo.isoformat()}" in out
    assert smtp_server.messages == []
    # --at before the embargo is refused too; preview works whatever the time.
    early = (embargo - timedelta(minutes=5)).isoformat()
    code, out = distrib("send", str(campaign.campaign), "--yes", "--at", early)
    assert code == 1 and "under embargo" in out
    code, out = distrib("preview", str(campaign.campaign), "--out", str(campaign.folder / "p"))
    assert code == 0, out
    assert smtp_server.messages == []


def test_send_after_the_embargo_goes(campaign: CampaignFiles, smtp_server: SMTPTestServer) -> None:
    with_embargo(campaign, datetime.now(UTC) - timedelta(minutes=1))
    code, out = distrib("send", str(campaign.campaign), "--yes")
    assert code == 0, out
    assert len(smtp_server.messages) == len(EXPECTED)


def test_at_waits_for_the_given_time(campaign: CampaignFiles, smtp_server: SMTPTestServer) -> None:
    start = datetime.now(UTC) + timedelta(seconds=1.5)
    began = time.monotonic()
    code, out = distrib("send", str(campaign.campaign), "--yes", "--at", start.isoformat())
    assert code == 0, out
    assert time.monotonic() - began >= 1.0  # tolerant: it waited, then sent
    assert "Waiting 00:00:0" in out
    assert len(smtp_server.messages) == len(EXPECTED)


def test_at_needs_a_time_zone(campaign: CampaignFiles, smtp_server: SMTPTestServer) -> None:
    code, out = distrib("send", str(campaign.campaign), "--yes", "--at", "2027-11-04 09:00")
    assert code == 1
    assert "has no time zone" in out
    assert smtp_server.messages == []
