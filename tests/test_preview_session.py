"""The preview rendered on demand (`distrib.app.preview_session`, what `distrib ui` shows): the
list of recipients is made without compiling a template or computing a Message-ID, and a
message opened carries the Message-ID the check and `distrib preview` give that recipient."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from distrib import app as verbs
from distrib.errors import RenderError
from distrib.render import default_templates_dir, make_message_id
from workspace_helpers import FIRST, LANGUAGES, write_workspace


def test_the_list_is_made_without_templates_and_message_ids_stay_the_same(
    tmp_path: Path,
) -> None:
    ws = write_workspace(tmp_path / "ws", port=9)
    campaign = verbs.open_release(ws.file, FIRST)
    session = verbs.preview_session(campaign)
    assert {e.contact.email: e.language for e in session.entries} == LANGUAGES
    assert all(e.message_id == "" and e.subject == "" for e in session.entries)  # none yet

    opened = session.render_one(2)
    checked = session.check_all()
    assert checked is not None
    expected = {
        e.number: make_message_id("preview", e.contact.key, campaign.sender.domain)
        for e in session.entries
    }
    assert opened.entry.message_id == expected[2] == checked.entries[1].message_id
    assert opened.message is not None and expected[2].encode() in opened.message.data
    assert {e.number: e.message_id for e in checked.entries} == expected
    # What `distrib preview` gives each recipient is the same.
    collected = verbs.collect_preview(campaign)
    assert {e.number: e.message_id for e in collected.entries} == expected
    assert checked.render(checked.entries[1], sign=False).data == opened.message.data


def test_broken_templates_do_not_stop_the_list_only_the_messages(tmp_path: Path) -> None:
    ws = write_workspace(tmp_path / "ws", port=9, extra='templates = "modeles"')
    shutil.copytree(default_templates_dir(), ws.root / "modeles")
    (ws.root / "modeles" / "en" / "subject.txt").write_text("{% if %}", encoding="utf-8")
    campaign = verbs.open_release(ws.file, FIRST)

    session = verbs.preview_session(campaign)  # the list, whatever the templates
    assert {e.contact.email for e in session.entries} == set(LANGUAGES)
    with pytest.raises(RenderError) as opened:
        session.render_one(1)
    assert "en/subject.txt" in str(opened.value.problems[0])
    with pytest.raises(RenderError) as checked:
        session.check_all()  # the same refusal, again: the templates are compiled once
    assert checked.value is opened.value


def test_a_setup_problem_outside_the_templates_does_not_blame_them(tmp_path: Path) -> None:
    key = tmp_path / "cle.pem"
    key.write_text("not a private key\n", encoding="utf-8")
    dkim = f'[dkim]\nselector = "s1"\ndomain = "quais.example"\nkey_file = "{key}"\n'
    ws = write_workspace(tmp_path / "ws", port=9, extra=dkim)
    session = verbs.preview_session(verbs.open_release(ws.file, FIRST))
    with pytest.raises(RenderError) as refused:
        session.render_one(1)
    said = str(refused.value)
    assert "the DKIM key" in said and "cle.pem" in said
    assert "templates" not in said  # `distrib preview` and `distrib send` say the same
