"""A send writes each message once (issue 11): the plan checks every message without writing its
bytes (`Renderer.check`), and the send renders each one, once, checking that it hashes to what
was planned.  Counted, never timed."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import pytest

from distrib.app.pipeline import make_plan, send_run, start_run
from distrib.config import load_campaign
from distrib.deliverylog import open_log
from distrib.errors import RenderError
from distrib.release import load_release
from distrib.render import Renderer, make_message_id
from distrib.render.fastmime import MessageWriter
from preview_helpers import write_preview_campaign
from smtp_server import SMTPTestServer


def outcome(call: Any) -> tuple[Any, ...]:
    try:
        result = call()
    except RenderError as exc:
        return ("problems", tuple(str(p) for p in exc.problems))
    return (result.language, result.subject, result.message_id, result.content_hash,
            tuple(str(w) for w in result.warnings))  # fmt: skip


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast", "reference"])
def test_checking_a_message_finds_what_rendering_it_finds(tmp_path: Path, fast_path: bool) -> None:
    # Every kind of message: French, English, bilingual, an attachment, an outlet override,
    # and a contact whose message cannot be rendered.
    campaign = load_campaign(write_preview_campaign(tmp_path).campaign)
    from distrib.contacts import load_contacts

    book = load_contacts(campaign)
    renderer = Renderer(campaign, load_release(campaign), fast_path=fast_path)
    found = []
    for contact in book.contacts:
        message_id = make_message_id("0123456789ab", contact.key, "agapc.example")
        checked = outcome(partial(renderer.check, contact, message_id=message_id))
        rendered = outcome(partial(renderer.render, contact, message_id=message_id))
        assert checked == rendered, contact.key
        found.append(checked[0])
    assert "problems" in found and {"fr", "en", "both"} <= set(found)


def test_a_send_writes_each_message_once(
    tmp_path: Path, smtp_server: SMTPTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    written: list[str] = []
    original = MessageWriter.write

    def counted(self: MessageWriter, headers: Any, *args: Any, **kwargs: Any) -> bytes:
        written.append(headers.message_id)
        return original(self, headers, *args, **kwargs)

    monkeypatch.setattr(MessageWriter, "write", counted)
    files = write_preview_campaign(tmp_path, port=smtp_server.port)
    campaign = load_campaign(files.campaign)
    plan = make_plan(campaign, workers=0)  # in this process, where the writes are counted
    assert written == []  # the plan writes no message
    with open_log(files.log) as log:
        run = start_run(plan, log)
        outcome = send_run(plan, log, run, handle_signals=False, render_workers=0)
    assert outcome.report.sent == len(plan.messages) > 5
    assert sorted(written) == sorted(m.message_id for m in plan.messages)  # each once
    assert len(smtp_server.messages) == len(plan.messages)


def test_freed_memory_goes_back_to_the_system_where_it_can() -> None:
    import sys

    from distrib.renderpool import release_freed_memory

    assert release_freed_memory() is (sys.platform == "linux")  # glibc here; False elsewhere


def test_the_plan_keeps_one_copy_of_each_subject(
    tmp_path: Path, smtp_server: SMTPTestServer
) -> None:
    files = write_preview_campaign(tmp_path, port=smtp_server.port)
    plan = make_plan(load_campaign(files.campaign), workers=2)  # results come from processes
    by_text: dict[str, set[int]] = {}
    for m in plan.messages:
        by_text.setdefault(m.subject, set()).add(id(m.subject))
    assert all(len(ids) == 1 for ids in by_text.values())  # one object per distinct subject
    assert len(by_text) < len(plan.messages)
