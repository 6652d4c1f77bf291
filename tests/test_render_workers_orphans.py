"""A killed `distrib send` leaves no render worker behind (issue 10, #8).

The render pool's worker processes (`distrib.renderpool`) used to live on for ever after their
parent was SIGKILLed (re-parented to PID 1, ~100 MB each, titled like the dead `distrib send`).
Each test kills the parent at an event, with the workers certainly running, then polls until
the workers are gone (a deadline for the outcome, not a measurement).
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from campaign_helpers import CampaignFiles, write_campaign
from crash_helpers import (
    TESTS,
    Killer,
    children,
    distrib_process,
    environment,
    finish,
    kill_all,
    running,
    wait_for,
)
from smtp_server import SMTPTestServer

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")


def big_campaign(tmp_path: Path, server: SMTPTestServer, extra: int = 250) -> CampaignFiles:
    """The test campaign with ``extra`` more journalists: enough for render workers."""
    files = write_campaign(tmp_path / "c", port=server.port)
    text = files.campaign.read_text(encoding="utf-8").replace("connections = 2", "connections = 1")
    files.campaign.write_text(text, encoding="utf-8")
    rows = "".join(f"pigiste{i}@redaction{i % 9}.example;Élise;Côté;Le Fleuve;fr\n"
                   for i in range(extra))  # fmt: skip
    with (files.folder / "medias.csv").open("ab") as csv:
        csv.write(rows.encode("cp1252"))
    return files


def gone(processes: dict[int, int]) -> bool:
    return not any(running(pid, started) for pid, started in processes.items())


def test_killing_distrib_send_ends_its_render_workers(
    tmp_path: Path, smtp_server: SMTPTestServer
) -> None:
    files = big_campaign(tmp_path, smtp_server)
    workers: dict[int, int] = {}
    killer = Killer()
    # At the end of the third body, before the reply: the send's pool is rendering ahead.
    killer.before = lambda pid: workers.update(children(pid))
    smtp_server.script("DOT", skip=2, times=1, disconnect=True, action=killer)
    proc = killer.target(distrib_process("send", str(files.campaign), "--yes"))
    try:
        # Not its output yet: a worker left running would hold the pipe open.
        assert proc.wait(timeout=60) == -signal.SIGKILL
        assert workers, "the send had no render worker when it was killed"
        assert wait_for(lambda: gone(workers)), f"render workers left running: {sorted(workers)}"
    finally:
        kill_all(workers)
        finish(proc)


@pytest.mark.parametrize("where", ["main-thread", "thread"])
def test_killing_a_planning_process_ends_its_render_workers(
    tmp_path: Path, smtp_server: SMTPTestServer, where: str
) -> None:
    """The plan's pool (`make_plan`, `distrib preview`), started by the main thread (Linux's
    parent-death signal) or by another thread (the portable watch of the parent)."""
    files = big_campaign(tmp_path, smtp_server)
    option = ["--thread"] if where == "thread" else []
    proc = subprocess.Popen(
        [sys.executable, str(TESTS / "pool_driver.py"), str(files.campaign), *option],
        env=environment(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    workers: dict[int, int] = {}
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line == "planning\n", line + proc.stdout.read()
        workers.update(children(proc.pid))  # the pool is open: it waits for its stdin
        assert len(workers) == 2, workers
        proc.kill()
        assert proc.wait(timeout=60) == -signal.SIGKILL
        assert wait_for(lambda: gone(workers)), f"render workers left running: {sorted(workers)}"
    finally:
        kill_all(workers)
        if proc.poll() is None:
            proc.kill()
        finish(proc)
