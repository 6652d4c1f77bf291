"""`distrib report`: counts, problems, the run's timeline, and the self-contained HTML report."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from audit_helpers import PEOPLE, Clock, Person, add_run, open_log
from campaign_helpers import write_campaign
from distrib.audit import report, timeline
from distrib.audit.html import chart, render_html
from distrib.audit.report import MAX_BINS
from distrib.cli import app
from distrib.deliverylog import DeliveryLog, Run
from smtp_server import SMTPTestServer

runner = CliRunner()

HOSTILE_OUTLET = "<script>alert(1)</script>"


def distrib(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def log(tmp_path: Path, clock: Clock) -> Iterator[DeliveryLog]:
    with open_log(tmp_path / "distrib-log.sqlite", clock) as opened:
        yield opened


@pytest.fixture
def run(log: DeliveryLog, clock: Clock) -> Run:
    return add_run(log, clock)


def test_counts_by_state_language_and_outlet(log: DeliveryLog, run: Run) -> None:
    rep = report(log, run)
    assert rep.by_state == {"sent": 5, "failed": 1, "deferred": 1, "unknown": 1, "suppressed": 1}
    assert rep.total == len(PEOPLE)
    assert rep.by_language == {
        "en": {"sent": 3},
        "fr": {"sent": 2, "failed": 1, "deferred": 1, "unknown": 1, "suppressed": 1},
    }
    assert list(rep.by_outlet) == [
        "Le Fleuve",
        "Radio Est",
        "The Daily River",
        HOSTILE_OUTLET,
        '=HYPERLINK("x")',
    ]  # fmt: skip  (most messages first, then by name)
    assert rep.by_outlet["Le Fleuve"] == {"sent": 2, "suppressed": 1}
    assert [m.recipient for m in rep.failures] == ["noemie@river.example"]
    assert rep.failures[0].enhanced_code == "5.1.1"
    assert [m.recipient for m in rep.unknown] == ["eve@radio-est.example"]
    assert [m.recipient for m in rep.deferred] == ["lina@radio-est.example"]


def test_the_timeline_counts_attempts_per_second_with_the_rate_limit(
    log: DeliveryLog, run: Run
) -> None:
    # Attempts finish at 0.4, 0.9 | 1.4, 1.7 | 2.4, 2.9 | 3.2, 3.9 seconds.
    line = timeline(log, run)
    assert line.rate == 2.0 and line.bin_seconds == 1
    assert [dict(b) for b in line.bins] == [
        {"sent": 2}, {"sent": 1, "failed": 1}, {"sent": 1, "unknown": 1},
        {"deferred": 1, "sent": 1},
    ]  # fmt: skip
    assert line.total == 8 and line.peak == 2.0
    assert line.start is not None and line.start.astimezone(UTC).hour == 14


def test_long_runs_get_wider_bins_never_more_than_the_maximum(
    log: DeliveryLog, clock: Clock
) -> None:
    people = [Person(f"j{i}@media.example", f"J {i}", "Média", "fr") for i in range(100)]
    long = add_run(log, clock, people, rate=0.05, spacing=20.0)  # 33 minutes
    line = timeline(log, long)
    assert line.bin_seconds == 10 and len(line.bins) <= MAX_BINS
    assert line.total == 100 and line.peak == pytest.approx(0.1)  # one message per 10 s bin


def test_a_run_without_attempts_has_an_empty_timeline(log: DeliveryLog, clock: Clock) -> None:
    nobody = add_run(log, clock, [Person("a@b.example", "A", "B", "fr", "skipped")], rate=0)
    line = timeline(log, nobody)
    assert line.bins == () and line.rate is None
    html = render_html(report(log, nobody))
    assert "No message was handed to the relay" in html and 'class="rate-limit"' not in html


def test_the_chart_draws_bars_to_scale_and_the_rate_limit_line(log: DeliveryLog, run: Run) -> None:
    line = timeline(log, run)
    drawn = chart(line, UTC)
    assert drawn.rate_y is not None
    assert len(drawn.bars) == 7  # one segment per outcome present in each second
    per_unit = (drawn.baseline - drawn.rate_y) / 2.0  # the line is at 2 messages per second
    first = [b for b in drawn.bars if b.x == drawn.bars[0].x]
    assert sum(b.height for b in first) == pytest.approx(2 * per_unit, abs=0.05)
    failed = next(b for b in drawn.bars if b.outcome == "failed")
    assert failed.height == pytest.approx(per_unit, abs=0.05)
    assert "14:00:01" in failed.label
    assert [label for _, label in drawn.x_ticks][:2] == ["14:00:00", "14:00:01"]
    assert "peak 2/s at 14:00:00" in drawn.summary and "rate limit 2/s" in drawn.summary


def test_the_html_report_is_self_contained_and_escaped(log: DeliveryLog, run: Run) -> None:
    html = render_html(report(log, run), zone=UTC, source="distrib-log.sqlite")
    assert html.startswith("<!DOCTYPE html>")
    # Nothing is fetched: no script, stylesheet link, image, font, or url() in the CSS.
    for pattern in (r"<script", r"<link", r"\bsrc=", r"\bhref=", r"url\(", r"@import"):
        assert not re.search(pattern, html, re.I), pattern
    assert "<style>" in html and "<svg" in html
    assert HOSTILE_OUTLET not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;Ève&lt;/b&gt;" in html
    assert "distrib resolve 1 --mark-sent eve@radio-est.example" in html
    assert "distrib resolve 1 --resend eve@radio-est.example" in html
    assert "RCPT TO: 550 5.1.1 no such user" in html
    assert "2027-02-02 14:00:00+00:00" in html


@pytest.mark.browser
def test_the_html_report_in_headless_chromium(
    tmp_path: Path, browser: Any, screenshots_dir: Path
) -> None:
    clock = Clock()
    crowd = [
        Person(f"journaliste{i}@media{i % 6}.example", f"Journaliste {i}", f"Média {i % 6}",
               "fr" if i % 3 else "en", "failed" if i % 23 == 5 else "sent")
        for i in range(90)
    ]  # fmt: skip
    with open_log(tmp_path / "distrib-log.sqlite", clock) as log:
        run = add_run(log, clock, [*PEOPLE, *crowd], rate=4, spacing=0.22)
        rep = report(log, run)
        drawn = chart(rep.timeline, UTC)
        target = tmp_path / "report.html"
        target.write_text(render_html(rep, zone=UTC), encoding="utf-8")

    page = browser.new_page(viewport={"width": 1100, "height": 900})
    requests: list[str] = []
    dialogs: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        page.goto(target.as_uri())
        assert page.locator("svg.timeline rect.bar").count() == len(drawn.bars) > 20
        rate = page.locator("svg.timeline line.rate-limit")
        assert rate.count() == 1
        # The rate line is drawn where 4 messages per second is, above the time axis.
        axis = page.locator("svg.timeline line.axis").first.bounding_box()
        line = rate.bounding_box()
        assert axis is not None and line is not None and line["y"] < axis["y"]
        assert page.locator("svg.timeline text.rate-label").text_content() == "rate limit 4/s"
        rows = page.locator("table.outlets tbody tr")
        assert rows.count() == len(rep.by_outlet)
        assert HOSTILE_OUTLET in page.locator("table.outlets").inner_text()  # shown as text
        assert page.locator("script").count() == 0 and dialogs == []
        assert "eve@radio-est.example" in page.locator("table.unknown").inner_text()
        assert page.locator("table.failed tbody tr").count() == len(rep.failures)
        page.screenshot(path=str(screenshots_dir / "audit-report.png"), full_page=True)
    finally:
        page.close()
    assert requests == [target.as_uri()]  # the file itself, nothing else


def test_report_command_prints_problems_and_writes_html(
    tmp_path: Path, smtp_server: SMTPTestServer
) -> None:
    files = write_campaign(tmp_path / "c", port=smtp_server.port)
    smtp_server.script("RCPT", "550 5.1.1 no such user", address="noemie@river.example")
    smtp_server.script("DOT", disconnect=True, address="sam.okafor@river.example")
    code, out = distrib("send", str(files.campaign), "--yes")
    assert code == 3, out
    target = tmp_path / "out" / "report.html"
    target.parent.mkdir()
    code, out = distrib("report", "--campaign", str(files.campaign), "--html", str(target))
    assert code == 0, out
    assert "By state: sent 3, failed 1, unknown 1 (total 5)" in out
    assert "distrib resolve 1 --mark-sent sam.okafor@river.example" in out
    resend = "distrib resolve 1 --resend sam.okafor@river.example --note 'not in the relay log'"
    assert resend in out
    assert f"Wrote the HTML report to {target}" in out
    html = target.read_text(encoding="utf-8")
    assert html.count('class="bar sent"') >= 1 and "The Daily River" in html
    code, out = distrib("report", "--campaign", str(files.campaign), "--html", str(tmp_path))
    assert code == 1 and "cannot write the report" in out and "Traceback" not in out


def test_resolved_unknowns_are_reported(log: DeliveryLog, run: Run) -> None:
    from distrib.resolve import resolve

    resolve(
        log,
        run.id,
        ["eve@radio-est.example"],
        "mark-sent",
        note="relay log: 250",
        by="Camille Fortin",
    )
    rep = report(log, run)
    assert [m.recipient for m in rep.resolved] == ["eve@radio-est.example"]
    html = render_html(rep, zone=UTC)
    assert "Unknowns resolved" in html and "Camille Fortin" in html


def test_the_html_report_names_the_release_and_who_received_it(
    tmp_path: Path, smtp_server: SMTPTestServer
) -> None:
    """A director reads which release went out (title and subject per language, its label)
    and who received it (outlet, language, what the relay answered), not only a slug."""
    files = write_campaign(tmp_path / "c", port=smtp_server.port)
    smtp_server.script("RCPT", "550 5.1.1 no such user", address="noemie@river.example")
    assert distrib("send", str(files.campaign), "--yes")[0] == 3
    target = tmp_path / "report.html"
    code, out = distrib("report", "--campaign", str(files.campaign), "--html", str(target))
    assert code == 0, out
    assert "  fr: Pour diffusion immédiate: Communiqué – La Coopérative des Quais" in out
    html = target.read_text(encoding="utf-8")
    release = html.split('id="release"')[1].split("</div>\n  </div>")[0]
    for text in (
        "La Coopérative des Quais ouvre un atelier",  # the French title
        "Communiqué – La Coopérative des Quais ouvre un atelier",  # its subject
        "Quays Co-op opens a workshop",  # the English title
        "News release – Quays Co-op opens a workshop",
        "Pour diffusion immédiate",
        "For immediate release",
    ):
        assert text in release, text
    recipients = html.split('id="recipients"')[1].split("</section>")[0]
    assert "<details>" in recipients and "5 recipient(s)" in recipients
    rows = recipients.split("<tbody>")[1].split("<tr>")[1:]
    assert len(rows) == 5
    noemie = next(row for row in rows if "noemie@river.example" in row)
    assert "The Daily River" in noemie and ">fr<" in noemie
    assert "550 5.1.1 no such user" in noemie and 'class="badge failed"' in noemie
    assert all("250" in row for row in rows if row is not noemie)


def test_a_run_that_did_not_record_its_release_shows_its_subjects(
    log: DeliveryLog, run: Run
) -> None:
    html = render_html(report(log, run), zone=UTC)
    release = html.split('id="release"')[1].split("</div>\n  </div>")[0]
    assert "Communiqué 0" in release  # the first subject of each language
