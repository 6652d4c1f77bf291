"""A clean stop asked from another thread (the web interface's Stop button): `distrib.app.send`
with a `StopSwitch`, against a real SMTP server and a real SQLite log.  The stop is driven by
events: the server holds a reply until the engine says it is stopping."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

from distrib import app as verbs
from smtp_server import SMTPTestServer
from workspace_helpers import FIRST, LANGUAGES, write_workspace


def test_a_stop_from_another_thread_ends_the_run_cleanly_and_resume_sends_the_rest(
    tmp_path: Path, smtp_server: SMTPTestServer
) -> None:
    ws = write_workspace(tmp_path / "ws", port=smtp_server.port)
    campaign = verbs.open_release(ws.file, FIRST)
    switch = verbs.StopSwitch()
    stopping = threading.Event()

    def on_progress(progress: verbs.Progress) -> None:
        if progress.stopping is not None:
            stopping.set()  # the engine took the stop: let the held reply go

    # At the third message's final dot, the officer presses Stop (from the server's thread: not
    # the sending one); the reply waits until the engine has taken the stop.
    smtp_server.script("DOT", skip=2, times=1, action=lambda _: switch.request(), hold=stopping)
    with verbs.prepare_send(campaign) as prep:
        total = prep.pending
        result = verbs.send(prep, on_progress=on_progress, handle_signals=False, stop=switch)
    assert switch.requested and result.status == "stopped"
    assert result.engine.stop_reason == verbs.STOP_REASON
    first = result.report.by_state
    assert 3 <= first.get("sent", 0) < total == len(LANGUAGES)
    assert first.get("sent", 0) + first.get("ready", 0) == total  # nothing lost, nothing unknown

    with verbs.prepare_resume(campaign, result.run.id) as prep:
        assert prep.pending == total - first["sent"]
        again = verbs.send(prep, handle_signals=False, stop=verbs.StopSwitch())
    assert again.status == "done" and again.run.id == result.run.id
    assert again.report.by_state == {"sent": total}
    # The summary after a send counts; it does not read every recipient's row (the HTML
    # report does): at 50,000 recipients that raised the send's peak memory by 86 MB.
    assert again.report.recipients is None
    received = Counter(m.rcpt_tos[0] for m in smtp_server.messages if m.accepted)
    assert received == Counter(dict.fromkeys(LANGUAGES, 1))  # each journalist exactly once


def test_a_stop_asked_before_the_send_starts_sends_nothing(
    tmp_path: Path, smtp_server: SMTPTestServer
) -> None:
    ws = write_workspace(tmp_path / "ws", port=smtp_server.port)
    campaign = verbs.open_release(ws.file, FIRST)
    switch = verbs.StopSwitch()
    switch.request()
    with verbs.prepare_send(campaign) as prep:
        result = verbs.send(prep, handle_signals=False, stop=switch)
    assert result.status == "stopped"
    assert result.report.by_state == {"ready": len(LANGUAGES)}
    assert smtp_server.messages == []
