"""The send page of `distrib ui` once a release's embargo has passed: refused as it is; sent
without the embargo notice only when the officer ticks "send it as an immediate release" and
confirms, which the run records (as `distrib send --drop-embargo`).  A real SMTP server, a real
SQLite log; the end of the send is read from the page's own SSE stream."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from campaign_helpers import parse, parts
from distrib import app as verbs
from smtp_server import SMTPTestServer
from test_web_sending import last_state, post
from web_helpers import csrf_of, signed_in, ui_server
from workspace_helpers import FIRST, LANGUAGES, write_workspace


def test_a_passed_embargo_is_refused_then_dropped_when_ticked_and_confirmed(
    tmp_path: Path, smtp_server: SMTPTestServer
) -> None:
    ws = write_workspace(tmp_path / "ws", port=smtp_server.port)
    passed = (datetime.now(UTC) - timedelta(minutes=5)).replace(microsecond=0).isoformat()
    for name in ("fr.md", "en.md"):
        path = ws.release(FIRST) / name
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace("---\n", f"---\nembargo: {passed}\n", 1), encoding="utf-8")
    send = f"/releases/{FIRST}/send"
    with ui_server(ws.root) as server:
        client = signed_in(server)
        client.post("/lang", data={"csrf": csrf_of(client.get("/").text), "lang": "en"})
        refused = client.get(send)
        assert refused.status_code == 409
        assert "has passed" in refused.text and 'name="drop_embargo"' in refused.text
        # Posting the send as it is sends nothing.
        assert post(client, send, f"{send}?drop_embargo=1", confirm="8").status_code == 409
        assert smtp_server.messages == []

        ticked = client.get(send, params={"drop_embargo": "1"})
        assert ticked.status_code == 200
        assert "Immediate release: the embargo notice is dropped" in ticked.text
        assert '<input type="hidden" name="drop_embargo" value="1">' in ticked.text
        started = post(
            client, send, f"{send}?drop_embargo=1", confirm=str(len(LANGUAGES)), drop_embargo="1"
        )
        assert started.status_code == 303, started.text
        final = last_state(client, f"{send}/events")
        assert final["status"] == "done", final
    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == sorted(LANGUAGES)
    for received in smtp_server.messages:
        message = parse(received.data)
        text, html = parts(message)
        assert "EMBARGO" not in str(message["Subject"]).upper()
        assert "EMBARGO" not in text.upper() and "EMBARGO" not in html.upper()
        label = (
            "Pour diffusion immédiate"
            if LANGUAGES[received.rcpt_tos[0]] == "fr"
            else ("For immediate release")
        )
        assert label in text
    with verbs.open_log(ws.root, read_only=True) as log:
        (run,) = log.runs()
        assert run.settings["drop_embargo"] is True
        assert verbs.run_report(log, run.id).by_state == {"sent": len(LANGUAGES)}
