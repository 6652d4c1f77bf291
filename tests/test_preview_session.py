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


def test_load_preview_stages_imports_everything_a_first_preview_needs(tmp_path: Path) -> None:
    """`distrib ui` calls `load_preview_stages` before it gives its address: then the first
    page (the lists read and merged), the templates compiled and a message rendered import
    nothing more (pandas, the CSS inliner ... were imported by the first page, about a second
    here).  In a new interpreter, where nothing is imported yet."""
    import subprocess
    import sys

    ws = write_workspace(tmp_path / "ws", port=9)
    script = f"""
import sys
from pathlib import Path
from distrib import app
app.load_preview_stages()
before = set(sys.modules)
session = app.preview_session(app.open_release(Path({str(ws.file)!r}), {FIRST!r}))
session.renderer
assert session.render_one(1).message is not None
# Codecs are found by name on first use (the lists' Windows-1252, IDNA): a few KB each.
new = sorted(m for m in set(sys.modules) - before
             if not m.startswith("encodings.") and m != "stringprep")
print(" ".join(new))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [], done.stdout


def test_the_check_waits_while_a_message_is_being_opened(tmp_path: Path) -> None:
    """A message opened in `distrib ui` is rendered while the background check waits between
    two of its messages (they share one interpreter): no message of the check starts while one
    is being opened, and the check goes on, whole, once it is done."""
    import threading
    from typing import Any

    from distrib.render import Renderer

    ws = write_workspace(tmp_path / "ws", port=9)
    campaign = verbs.open_release(ws.file, FIRST)
    plain = verbs.preview_session(campaign)
    inside, done_opening = threading.Event(), threading.Event()
    checked_meanwhile: list[str] = []

    class Held:
        """The release's renderer; the opened message is held until the test lets it go."""

        def __init__(self) -> None:
            self.renderer = Renderer(campaign, plain.release)

        def __getattr__(self, name: str) -> Any:
            return getattr(self.renderer, name)

        def render(self, contact: Any, **options: Any) -> Any:
            if threading.current_thread().name == "opener":
                inside.set()
                assert done_opening.wait(60)
            elif inside.is_set() and not done_opening.is_set():
                checked_meanwhile.append(contact.email)
            return self.renderer.render(contact, **options)

    session = verbs.PreviewSession(campaign, plain.book, plain.release, make_renderer=Held)  # type: ignore[arg-type]
    session.prepare()
    opened: list[Any] = []
    opener = threading.Thread(target=lambda: opened.append(session.open_message(3)), name="opener")
    opener.start()
    assert inside.wait(60)
    results: list[Any] = []
    check = threading.Thread(target=lambda: results.append(session.check_all()))
    check.start()
    assert session.check_waiting.wait(60)  # the check waits for the message being opened
    assert checked_meanwhile == []
    done_opening.set()
    opener.join(60)
    check.join(60)
    [checked] = results
    assert checked is not None and len(checked.entries) == len(LANGUAGES)
    assert opened[0].message.data == checked.render(checked.entries[2], sign=False).data
    assert not session.check_waiting.is_set()
