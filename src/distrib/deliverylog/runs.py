"""What the stages decide about runs, over the port: interrupted runs, unknown counts, notes.

The guarded changes themselves (resume's set-aside and re-plan, the officer's resolutions,
skipping what another run sent) are port operations (`distrib.deliverylog.port.Messages`); like
the state machine, every one names the states it may start from, so a message that was sent
can never be moved (except by the officer's explicit resolution of an ``unknown`` one).
"""

from __future__ import annotations

import socket
from collections.abc import Callable

from distrib.deliverylog.lease import pid_alive, silent
from distrib.deliverylog.port import DeliveryLog
from distrib.deliverylog.records import Earlier, Resolution, Run, maybe_sent_note, sent_note
from distrib.deliverylog.states import RESOLUTIONS, Action

__all__ = [
    "RESOLUTIONS",
    "Action",
    "Earlier",
    "Resolution",
    "interrupted_runs",
    "is_test_run",
    "maybe_sent_note",
    "sent_note",
    "unresolved_unknown",
]


def is_test_run(run: Run) -> bool:
    """Tell whether ``run`` is a test send to the officer (`distrib send --test-to`)."""
    return bool(run.settings.get("test_to"))


def unresolved_unknown(log: DeliveryLog, campaign: str) -> dict[int, int]:
    """Count the ``unknown`` messages of each run of ``campaign`` (test sends aside): they may
    or may not have arrived, and wait for the officer (`distrib resolve RUN`)."""
    tests = {run.id for run in log.runs(campaign) if is_test_run(run)}
    return {run: n for run, n in log.unknown_counts(campaign).items() if run not in tests}


def interrupted_runs(
    log: DeliveryLog,
    campaign: str,
    *,
    host: str | None = None,
    alive: Callable[[int], bool] = pid_alive,
) -> list[Run]:
    """Return the runs of ``campaign`` a sending process left unfinished, oldest first: still
    ``planned`` or ``sending``, or with messages still ``sending`` or in ``data``, and drained
    by no live worker (`distrib.deliverylog.workers`).

    Only the holder of the campaign's lease starts sending, so for the process that holds it
    now, each of these was left by a process that ended without a word (killed, crashed, the
    machine stopped).  Test sends take no lease: they are left alone.
    """
    here = socket.gethostname() if host is None else host
    now = log.now()
    found = []
    for run in log.interrupted_candidates(campaign):
        if is_test_run(run):
            continue
        workers = log.workers(run.id)
        if any(
            not silent(w.expires_at, w.pid, w.host, now, here=here, alive=alive) for w in workers
        ):
            continue  # still being drained
        found.append(run)
    return found
