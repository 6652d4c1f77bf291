"""A workspace's releases, sent end to end with the `distrib` CLI against a real SMTP server
and a real SQLite log: opt-outs carry over, "already sent" is per release, audiences select
exactly who they name, and a list's language is the fallback of its rows."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from campaign_helpers import parse
from distrib.cli import app
from smtp_server import SMTPTestServer
from workspace_helpers import (
    CULTURE,
    FIRST,
    LANGUAGES,
    SECOND,
    WorkspaceFiles,
    write_release,
    write_workspace,
)

runner = CliRunner()


def distrib(*args: str | Path) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


@pytest.fixture
def ws(tmp_path: Path, smtp_server: SMTPTestServer) -> WorkspaceFiles:
    return write_workspace(tmp_path / "ws", port=smtp_server.port)


def recipients(server: SMTPTestServer, marker: str = "") -> set[str]:
    """Who the server received a message for (whose subject holds ``marker``)."""
    return {r.rcpt_tos[0] for r in server.messages if marker in str(parse(r.data)["Subject"])}


def test_an_opt_out_during_release_1_stops_release_2(
    ws: WorkspaceFiles, smtp_server: SMTPTestServer
) -> None:
    code, out = distrib("send", ws.release(FIRST), "--yes")
    assert code == 0, out
    assert recipients(smtp_server, "(1)") == set(LANGUAGES)
    code, out = distrib("unsubscribe", "Zoe+press@Fleuve.example", "-c", ws.root)
    assert code == 0, out
    code, out = distrib("send", ws.release(SECOND), "--yes")
    assert code == 0, out
    # Release 2 goes to everyone again, except the journalist who opted out.
    assert recipients(smtp_server, "(2)") == set(LANGUAGES) - {"zoe@fleuve.example"}
    assert "1 suppressed" in out
    # One log for the workspace, each run keyed by its release.
    with sqlite3.connect(ws.log) as conn:
        runs = conn.execute("SELECT id, campaign FROM runs ORDER BY id").fetchall()
    assert runs == [(1, FIRST), (2, SECOND)]
    # The check of release 2 sets her aside too.
    code, out = distrib("contacts", "check", ws.root, "--release", SECOND)
    assert code == 0, out
    assert "zoe@fleuve.example is on a suppression list (delivery log:unsubscribed" in out


def test_already_sent_is_per_release_never_per_workspace(
    ws: WorkspaceFiles, smtp_server: SMTPTestServer
) -> None:
    assert distrib("send", ws.release(FIRST), "--yes")[0] == 0
    code, out = distrib("send", ws.release(FIRST), "--yes")
    assert code == 0 and "Nothing to send" in out
    code, out = distrib("send", ws.root, "--release", SECOND, "--yes")
    assert code == 0, out
    assert f"Campaign {SECOND}: {len(LANGUAGES)} message(s) to send" in out
    assert recipients(smtp_server, "(2)") == set(LANGUAGES)


def test_a_beat_rule_selects_exactly_those_journalists(
    ws: WorkspaceFiles, smtp_server: SMTPTestServer
) -> None:
    # The English sheet says "Beat", the French list "Rubrique": one rule reads both, any case.
    code, out = distrib("send", ws.release(FIRST), "--only", "beat=culture", "--yes")
    assert code == 0, out
    assert sorted(r.rcpt_tos[0] for r in smtp_server.messages) == sorted(CULTURE)
    assert "Audience: 4 of 8 contacts (4 left out by 1 rule(s))" in out
    assert "--only beat=culture: 4 left out" in out


def test_a_release_toml_audience_and_exclude_option_combine(
    ws: WorkspaceFiles, smtp_server: SMTPTestServer
) -> None:
    (ws.release(SECOND) / "release.toml").write_text(
        '[audience]\nsegment = "culture"\n', encoding="utf-8"
    )
    code, out = distrib("send", ws.release(SECOND), "--exclude", "région=estrie", "--yes")
    assert code == 0, out
    assert recipients(smtp_server) == CULTURE - {"lea@estrie.example"}
    assert "segment culture: include rubrique=Culture: 4 left out" in out
    assert "--exclude région=estrie: 1 left out" in out
    # The run remembers its audience.
    with sqlite3.connect(ws.log) as conn:
        (settings,) = conn.execute("SELECT settings FROM runs").fetchone()
    assert '"exclude": ["r\\u00e9gion=estrie"]' in settings


def test_an_english_list_contact_with_a_blank_language_gets_the_english_message(
    ws: WorkspaceFiles, smtp_server: SMTPTestServer
) -> None:
    code, out = distrib("send", ws.release(FIRST), "--yes")
    assert code == 0, out
    for address, language in LANGUAGES.items():
        (received,) = smtp_server.received_for(address)
        assert parse(received.data)["Content-Language"] == f"{language}-CA", address
    # The send summary names every fallback decision, as `contacts check` does.
    assert "language by fallback (3):" in out
    assert "english.xlsx:Sheet:3:Language: no language: using 'en', the language of this list" in (
        out
    )
    assert "unknown language 'Spanish': using 'en', the language of this list" in out
    assert "medias.csv:6:Langue: no language: using 'fr'" in out
    code, out = distrib("contacts", "check", ws.release(FIRST))
    assert "Languages: en 3, fr 5 (2 missing, 1 unknown: 2 sent in their list's language" in out


def test_without_the_list_language_the_campaign_default_applies(
    tmp_path: Path, smtp_server: SMTPTestServer
) -> None:
    ws = write_workspace(tmp_path / "ws", port=smtp_server.port, english_language=None)
    assert distrib("send", ws.release(FIRST), "--yes")[0] == 0
    (received,) = smtp_server.received_for("mia@river.example")
    assert parse(received.data)["Content-Language"] == "fr-CA"


def test_preview_shows_each_fallback_on_its_message(ws: WorkspaceFiles) -> None:
    from distrib.app import collect_preview, open_release

    collected = collect_preview(open_release(ws.release(FIRST)))
    warned = {
        e.contact.address: [w.code for w in e.warnings] for e in collected.entries if e.warnings
    }
    assert warned == {
        "anne@estrie.example": ["language-missing"],
        "mia@river.example": ["language-list-missing"],
        "lucas@river.example": ["language-list-unknown"],
    }
    code, out = distrib("preview", ws.release(FIRST))
    assert code == 0, out
    assert "no language: using 'en', the language of this list" in out
    assert (ws.root / "preview" / FIRST / "index.html").is_file()


def test_a_follow_up_goes_to_those_who_received_the_release(
    ws: WorkspaceFiles, smtp_server: SMTPTestServer
) -> None:
    assert (
        distrib("send", ws.release(FIRST), "--only", "rubrique=Politique,Économie", "--yes")[0] == 0
    )
    got_first = {"marc@fleuve.example", "luc@fleuve.example", "anne@estrie.example"}
    assert recipients(smtp_server, "(1)") == got_first
    correction = write_release(
        ws.root / "releases" / "2027-01-correction",
        settings=f'[audience]\nreceived = "{FIRST}"\n',
        marker=" (c)",
    )
    code, out = distrib("send", correction, "--yes")
    assert code == 0, out
    assert recipients(smtp_server, "(c)") == got_first
    # And the others: everyone who did not get it.
    code, out = distrib("send", ws.release(SECOND), "--exclude", f"received={FIRST}", "--yes")
    assert code == 0, out
    assert recipients(smtp_server, "(2)") == set(LANGUAGES) - got_first


def test_test_send_honours_the_opt_outs_of_the_log(
    ws: WorkspaceFiles, smtp_server: SMTPTestServer
) -> None:
    assert distrib("unsubscribe", "sam@river.example", "-c", ws.root)[0] == 0
    code, out = distrib(
        "send", ws.release(FIRST), "--test-to", "moi@quais.example", "--as", "sam@river.example"
    )
    assert code == 1
    assert "no contact with this address in the release's audience" in out
    assert smtp_server.messages == []


def test_resume_applies_the_audience_the_run_was_started_with(
    ws: WorkspaceFiles, smtp_server: SMTPTestServer
) -> None:
    text = ws.file.read_text(encoding="utf-8")
    ws.file.write_text(text.replace("connections = 2", "connections = 1\npause_after = 1"))
    # The relay blocks Léa once (5.7.1), which pauses the run after Zoé and Léa.
    smtp_server.script("RCPT", "550 5.7.1 Blocked by policy", address="lea@estrie.example")
    code, out = distrib("send", ws.release(FIRST), "--only", "beat=Culture", "--yes")
    assert code == 4, out
    assert f"To go on: distrib send {ws.release(FIRST)} --resume 1" in out or ("--resume 1" in out)
    # Resumed without --only: the run's own audience, so nothing changed and no one else.
    code, out = distrib("send", ws.release(FIRST), "--resume", "1", "--yes")
    assert code == 3, out  # finished, with Léa failed
    assert "to send: 2 message(s)" in out
    accepted = sorted(m.rcpt_tos[0] for m in smtp_server.messages if m.accepted)
    assert accepted == sorted(CULTURE - {"lea@estrie.example"})


def test_an_unknown_beat_is_an_error_listing_the_known_ones(ws: WorkspaceFiles) -> None:
    code, out = distrib("send", ws.release(FIRST), "--only", "beat=Sport", "--yes")
    assert code == 1
    assert (
        "--only beat=Sport: no contact has beat 'Sport' (the lists have: Business (1),"
        " Culture (4), Économie (2), Politique (1))"
    ) in out
    assert "Traceback" not in out


def test_an_outlet_template_of_a_contact_outside_the_audience_is_not_unused(
    ws: WorkspaceFiles,
) -> None:
    import shutil

    from campaign_helpers import REPO
    from distrib.app import Selection, collect_preview, open_release

    shutil.copytree(REPO / "templates", ws.root / "templates")
    for slug in ("la-voix-de-l-estrie", "la-voix-de-lestri"):  # the second one: a typo
        folder = ws.root / "templates" / "outlets" / slug / "fr"
        folder.mkdir(parents=True)
        (folder / "subject.txt").write_text("{{ release.subject }} (Estrie)", encoding="utf-8")
    ws.file.write_text('templates = "templates"\n' + ws.file.read_text(encoding="utf-8"))
    collected = collect_preview(
        open_release(ws.release(FIRST)), selection=Selection(only=("rubrique=Politique",))
    )
    unused = [w.message for w in collected.warnings if w.code == "unused-outlet"]
    assert unused == [
        "outlets/la-voix-de-lestri: no contact's outlet has this slug, so it is not used"
    ]
