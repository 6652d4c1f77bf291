"""Rendering in worker processes (`distrib.renderpool`): the plan and the send give exactly what
rendering in-process gives, in order, with a bounded read-ahead; against a real SMTP server and
a real delivery log."""

from __future__ import annotations

import asyncio
import multiprocessing
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import distrib.renderpool as renderpool
from campaign_helpers import CampaignFiles, parse, parts, write_campaign
from distrib.app.pipeline import Plan, make_plan, send_run, start_run
from distrib.config import load_campaign
from distrib.deliverylog import open_log
from distrib.errors import RenderError
from distrib.renderpool import Job, RenderPool
from smtp_server import SMTPTestServer

REPO = Path(__file__).resolve().parents[1]
EXTRA = 30  # French contacts added to the helper's lists


@pytest.fixture
def campaign(tmp_path: Path, smtp_server: SMTPTestServer) -> CampaignFiles:
    templates = tmp_path / "templates"
    shutil.copytree(REPO / "templates", templates)
    # English messages need a field nobody has: every English contact is a render problem.
    subject = templates / "en" / "subject.txt"
    subject.write_text("{{ contact.no_such_field }} " + subject.read_text(), encoding="utf-8")
    files = write_campaign(tmp_path / "c", port=smtp_server.port, templates=templates)
    rows = "".join(
        f"pigiste{i}@redaction{i % 7}.example;Élise{i};Côté;Le Fleuve {i % 3};fr\n"
        for i in range(EXTRA)
    )
    with (files.folder / "medias.csv").open("ab") as out:
        out.write(rows.encode("cp1252"))
    return files


def summary(plan: Plan) -> list[tuple[Any, ...]]:
    return [
        (m.contact.key, m.language, m.subject, m.message_id, m.content_hash, m.size)
        for m in plan.messages
    ]


def test_the_plan_rendered_by_workers_is_the_plan_rendered_here(campaign: CampaignFiles) -> None:
    config = load_campaign(campaign.campaign)
    here = make_plan(config, token="0123456789ab", workers=0)
    there = make_plan(config, token="0123456789ab", workers=2)
    assert len(here.messages) == 3 + EXTRA
    assert summary(there) == summary(here)  # same messages, same order, same hashes
    assert [str(p) for p in there.problems] == [str(p) for p in here.problems]
    assert len(here.problems) == 2  # the two English contacts
    assert all("no_such_field" in str(p) for p in here.problems)
    assert [str(w) for w in there.warnings] == [str(w) for w in here.warnings]


def test_sending_with_render_workers_sends_each_planned_message_once(
    campaign: CampaignFiles, smtp_server: SMTPTestServer
) -> None:
    config = load_campaign(campaign.campaign)
    plan = make_plan(config, workers=0)
    planned = {m.contact.address: m for m in plan.messages}
    with open_log(campaign.log) as log:
        run = start_run(plan, log)
        outcome = send_run(plan, log, run, handle_signals=False, render_workers=2)
        rows = {m.address: m for m in log.messages(run.id)}
    assert outcome.report.sent == len(planned)
    assert {r.status for r in rows.values()} == {"sent"}
    received = smtp_server.messages
    assert sorted(r.rcpt_tos[0] for r in received) == sorted(planned)  # each once
    for r in received:
        item = planned[r.rcpt_tos[0]]
        message = parse(r.data)
        assert message["Message-ID"] == item.message_id == rows[r.rcpt_tos[0]].message_id
        # The same message as rendering it here (only the Date differs).
        again = plan.renderer.render(item.contact, message_id=item.message_id)
        assert str(message["Subject"]) == again.subject
        text, html = parts(message)
        lf = (text.replace("\r\n", "\n"), html.replace("\r\n", "\n"))
        assert lf == (again.text.replace("\r\n", "\n"), again.html.replace("\r\n", "\n"))


def test_a_message_that_no_longer_matches_its_plan_is_never_sent(
    campaign: CampaignFiles, smtp_server: SMTPTestServer
) -> None:
    config = load_campaign(campaign.campaign)
    plan = make_plan(config, workers=0)
    with open_log(campaign.log) as log:
        run = start_run(plan, log)
        victim = plan.messages[10].contact.address
        with sqlite3.connect(campaign.log) as other:  # as if the templates changed meanwhile
            other.execute("UPDATE messages SET content_hash = 'x' WHERE address = ?", (victim,))
        with pytest.raises(RenderError, match="changed since it was planned"):
            send_run(plan, log, run, handle_signals=False, render_workers=1)
        assert log.get_run(run.id).status == "aborted"
        states = {m.address: m.status for m in log.messages(run.id)}
    assert states[victim] == "ready"
    assert not smtp_server.received_for(victim)


@pytest.fixture
def planned(campaign: CampaignFiles) -> Iterator[Plan]:
    yield make_plan(load_campaign(campaign.campaign), workers=0)


def test_the_send_stream_reads_only_a_few_batches_ahead(planned: Plan) -> None:
    contacts = [m.contact for m in planned.messages] * 20  # 660 messages to render
    pulled = 0

    def jobs() -> Iterator[Job]:
        nonlocal pulled
        for i, contact in enumerate(contacts):
            pulled += 1
            yield Job(i, i, planned.messages[i % len(planned.messages)].message_id)
            del contact

    async def first_only() -> tuple[int, Any]:
        with RenderPool(planned.renderer, contacts, workers=1) as pool:
            stream = pool.stream(jobs())
            first = await anext(stream)
            await asyncio.sleep(0.5)  # the SMTP side is slow: the stream must wait for it
            ahead = pulled
            await stream.aclose()
            return ahead, first

    ahead, first = asyncio.run(first_only())
    assert first.row == 0 and first.data.startswith(b"") and not first.problems
    assert ahead <= 4 + 8 + 16  # the first batches (4, then 8, 16 …), two in flight at most
    assert ahead < len(contacts)


def test_spawned_workers_build_their_own_renderer_and_agree(
    planned: Plan, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What happens where fork is not used (macOS, Windows, or a threaded Python 3.12+).
    monkeypatch.setattr(renderpool, "_context", lambda: multiprocessing.get_context("spawn"))
    contacts = [m.contact for m in planned.messages]
    with RenderPool(planned.renderer, contacts, workers=1) as pool:
        checked = list(pool.check(planned.token))
    assert [c.content_hash for c in checked] == [m.content_hash for m in planned.messages]
    assert [c.message_id for c in checked] == [m.message_id for m in planned.messages]
