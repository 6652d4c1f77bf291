"""A relay's quotas span runs and releases: what the workspace's log says the relay was
handed counts, a run that reaches a quota pauses and says when it can go on, ``--resume``
then sends the rest, and ``--wait`` waits for it.  Real aiosmtpd servers, real SQLite and
PostgreSQL logs; a clock these tests move (the log's and the engine's), never a sleep."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from distrib import app
from distrib.cli import app as cli
from distrib.config import Campaign
from distrib.deliverylog import open_log
from smtp_server import SMTPTestServer
from workspace_helpers import FIRST, LANGUAGES, SECOND, WorkspaceFiles, write_workspace

T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
DAY, HOUR = timedelta(days=1), timedelta(hours=1)


class FakeTime:
    """The log's clock and the engine's sleep: sleeping moves the clock on, at once."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)
        await asyncio.sleep(0)


def workspace(tmp_path: Path, server: SMTPTestServer, limits: str, log: str = "") -> WorkspaceFiles:
    ws = write_workspace(tmp_path / "ws", port=server.port, extra=log)
    text = ws.file.read_text(encoding="utf-8")
    # One connection: the sends (and the clock's moves) come one after the other.
    text = text.replace("[limits]\nrate = 0\nconnections = 2\n",
                        f"[limits]\nrate = 0\nconnections = 1\n{limits}\n")  # fmt: skip
    ws.file.write_text(text, encoding="utf-8")
    return ws


def release(ws: WorkspaceFiles, slug: str) -> Campaign:
    return app.open_release(ws.release(slug))


def send(campaign: Campaign, time: FakeTime, *, resume: bool = False, wait: bool = False
         ) -> app.SendResult:  # fmt: skip
    if resume:
        prep = app.prepare_resume(campaign, "latest", clock=time)
    else:
        prep = app.prepare_send(campaign, clock=time)
    with prep:
        return app.send(prep, handle_signals=False, render_workers=0, wait_for_quota=wait,
                        sleep=time.sleep)  # fmt: skip


def send_times(target: str | Path, server: SMTPTestServer) -> list[datetime]:
    """When each message the relay accepted was handed to it, from the log."""
    with open_log(target, read_only=True) as log:
        return log.relay_sends(f"127.0.0.1:{server.port}", T0 - DAY)


def most_in_any_window(times: list[datetime], window: timedelta) -> int:
    """The most sends in any window of ``window`` (each window starting at a send)."""
    return max((sum(1 for t in times if start <= t < start + window) for start in times),
               default=0)  # fmt: skip


def test_a_daily_quota_across_three_runs_never_sends_n_plus_1_in_any_24_hours(
    tmp_path: Path, smtp_server: SMTPTestServer
) -> None:
    ws = workspace(tmp_path, smtp_server, "per_day = 5")
    time = FakeTime()
    # Run 1, release 1 (8 journalists): 5 go, then the run pauses until the first is a day old.
    result = send(release(ws, FIRST), time)
    assert result.status == "stopped" and result.engine.paused
    assert result.engine.sent == 5
    assert result.engine.resume_at == T0 + DAY
    assert "per_day = 5" in (result.engine.stop_reason or "")
    assert result.run.status == "paused"
    assert len(smtp_server.messages) == 5
    # Half a day later, resumed: still no room; nothing goes, it says the same time.
    time.now = T0 + 12 * HOUR
    result = send(release(ws, FIRST), time, resume=True)
    assert result.engine.paused and result.engine.sent == 0
    assert result.engine.resume_at == T0 + DAY
    assert len(smtp_server.messages) == 5
    # Once the window has room, the resume sends the rest of release 1.
    time.now = T0 + DAY
    result = send(release(ws, FIRST), time, resume=True)
    assert result.status == "done" and result.engine.sent == 3
    # Run 2, release 2, an hour later: the 3 sent an hour ago count; 2 go, then it pauses.
    time.now = T0 + DAY + HOUR
    result = send(release(ws, SECOND), time)
    assert result.engine.paused and result.engine.sent == 2
    assert result.engine.resume_at == T0 + 2 * DAY
    # What the server received, and when the log says each was handed over.
    received = [m.rcpt_tos[0] for m in smtp_server.messages]
    assert len(received) == 10
    assert set(received[:8]) == set(LANGUAGES)
    times = send_times(ws.log, smtp_server)
    assert len(times) == len(received)
    assert most_in_any_window(times, DAY) == 5
    assert time.slept == []  # paused, never waited


def test_per_hour_waits_with_wait_on_postgresql(
    tmp_path: Path, make_smtp_server: object, postgres_url: str
) -> None:
    server = make_smtp_server()  # type: ignore[operator]
    ws = workspace(tmp_path, server, "per_hour = 3", log=f'log = "{postgres_url}"')
    time = FakeTime()
    # Release 1 with --wait: 3 an hour, the run waiting (the clock moved by its sleep).
    campaign = release(ws, FIRST)
    pg = campaign.log_target
    assert str(pg).startswith("postgresql://")
    result = send(campaign, time, wait=True)
    assert result.status == "done" and result.engine.sent == len(LANGUAGES)
    times = send_times(pg, server)
    assert times == [T0] * 3 + [T0 + HOUR] * 3 + [T0 + 2 * HOUR] * 2
    assert most_in_any_window(times, HOUR) == 3
    assert len(server.messages) == len(LANGUAGES)
    assert time.slept == [3600.0, 3600.0]
    # Release 2, half an hour after the last: the window holds those 2; 1 goes, then a pause.
    time.now = T0 + 2 * HOUR + HOUR / 2
    result = send(release(ws, SECOND), time)
    assert result.engine.paused and result.engine.sent == 1
    assert result.engine.resume_at == T0 + 3 * HOUR
    # Resumed once those 2 are an hour old: the one of half an hour ago still counts.
    time.now = T0 + 3 * HOUR
    result = send(release(ws, SECOND), time, resume=True)
    assert result.engine.paused and result.engine.sent == 2
    assert result.engine.resume_at == T0 + 3 * HOUR + HOUR / 2
    assert most_in_any_window(send_times(pg, server), HOUR) == 3
    assert len(server.messages) == len(LANGUAGES) + 3


runner = CliRunner()


def test_the_cli_says_when_a_paused_run_can_go_on(
    tmp_path: Path, smtp_server: SMTPTestServer
) -> None:
    ws = workspace(tmp_path, smtp_server, "per_day = 3")
    result = runner.invoke(cli, ["send", str(ws.release(FIRST)), "--yes"])
    assert result.exit_code == 4, result.output
    out = " ".join(result.output.split())
    assert "quota" in out and "per_day = 3" in out
    assert "--resume 1" in out and "--wait" in out
    assert len(smtp_server.messages) == 3


def test_a_quota_wait_is_shown_on_the_progress_line(
    tmp_path: Path, smtp_server: SMTPTestServer
) -> None:
    """`--wait` on a quota: the progress callback says which quota holds the next message and
    when it has room; the CLI's progress line says it, in English and in French."""
    from distrib.cli.send import progress_text, quota_wait_text
    from distrib.i18n import current_language, set_language

    ws = workspace(tmp_path, smtp_server, "per_day = 5")
    time = FakeTime()
    seen: list[app.Progress] = []
    prep = app.prepare_send(release(ws, FIRST), clock=time)
    with prep:
        result = app.send(prep, handle_signals=False, render_workers=0, wait_for_quota=True,
                          sleep=time.sleep, on_progress=seen.append)  # fmt: skip
    assert result.status == "done" and result.engine.sent == len(LANGUAGES)
    assert time.slept == [DAY.total_seconds()]
    waits = [p.waiting for p in seen]
    # Nothing held the first 5; then the day quota held the 6th until the first was a day old,
    # said once, and cleared when it went.
    held = [w for w in waits if w is not None]
    assert held == [app.QuotaWait("per_day", T0 + DAY, DAY.total_seconds())]
    start = waits.index(held[0])
    assert [p.sent for p in seen[:start] if p.waiting is None][-1] == 5
    assert waits[start + 1] is None and seen[start + 1].sent == 5
    assert seen[-1].waiting is None and seen[-1].sent == len(LANGUAGES)
    # The words on the progress line, in the officer's time zone (the machine's).
    local = (T0 + DAY).astimezone().strftime("%H:%M")
    line = progress_text(seen[start], 0.0, None)
    assert line.endswith(f"waiting for the relay's quota (per_day): room at {local}")
    was = current_language()
    set_language("fr")
    try:
        french = quota_wait_text(held[0])
    finally:
        set_language(was)
    assert french == f"en attente du quota du relais (per_day) : place à {local}"
