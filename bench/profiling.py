"""Where the time of an end-to-end send goes: a py-spy profile summarised by area.

py-spy samples every process (the sending process and its render workers) a few hundred times
per second without slowing them down much; each sample's stack is put in the first area whose
marker it contains.
"""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

# (area, markers): the first area with a marker in the stack wins; order matters.
MAIN_AREAS: list[tuple[str, tuple[str, ...]]] = [
    ("plan: read, merge, validate contacts", ("load_contacts",)),
    ("plan: check every message (waiting for the workers)", ("RenderPool.check", "_check_all")),
    ("plan: other (release, templates, fingerprints)", ("make_plan",)),
    ("record the run (one row per message)", ("start_run",)),
    ("send: delivery log, COMMIT (fsync, own thread)", ("_commit (distrib/send/commits.py",)),
    ("send: delivery log, statements of a group", ("GroupCommit", "apply (distrib/deliverylog")),
    ("send: SMTP socket writes (incl. the kernel's loopback)", ("_SelectorSocketTransport.write",)),
    ("send: SMTP replies (read, parse)", ("data_received", "_read_ready")),
    ("send: rendered messages in (from the workers)", ("RenderPool.stream", "_outgoing")),
    ("send: waiting for I/O (epoll)", ("select (selectors.py", "EpollSelector.select")),
    ("send: engine (state machine, pacing, SMTP commands)", ("Delivery.", "_Dispatch.",
                                                             "Connection.", "Wire.")),
    ("send: other (event loop, progress, lease)", ("send_run", "run_until_complete")),
    ("render pool's threads (jobs out, results in)", ("_ExecutorManagerThread", "Queue._feed")),
    ("imports (start-up, lazy imports)", ("_find_and_load",)),
    # py-spy counts a thread blocked in a queue's get() as busy: not CPU, shown apart.
    ("idle helper threads (waiting for work)", ("_worker (concurrent/futures/thread.py",)),
]  # fmt: skip
WORKER_AREAS: list[tuple[str, tuple[str, ...]]] = [
    ("render workers: plan (check every message, no MIME)", ("_check",)),
    ("render workers: send (render, sign)", ("_render",)),
]


@dataclass(frozen=True)
class Area:
    name: str
    seconds: float
    share: float  # of its process kind's samples


def record(py_spy: Path, command: list[str], out: Path, rate: int = 200) -> None:
    """Profile ``command`` with py-spy (all processes), raw collapsed stacks to ``out``."""
    subprocess.run(
        [str(py_spy), "record", "--subprocesses", "--nonblocking", "-r", str(rate), "-f",
         "raw", "-o", str(out), "--", *command],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def summarise(raw: Path, rate: int = 200) -> tuple[list[Area], list[Area]]:
    """(main process areas, render worker areas), largest first."""
    main: Counter[str] = Counter()
    workers: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        depth = len(re.findall(r"(?:^|;)process \d+:", stack))
        areas, counter = (MAIN_AREAS, main) if depth <= 1 else (WORKER_AREAS, workers)
        for name, markers in areas:
            if any(marker in stack for marker in markers):
                counter[name] += n
                break
        else:
            counter["other" if depth <= 1 else "render workers: other (start, idle)"] += n

    def areas(counter: Counter[str]) -> list[Area]:
        total = sum(counter.values()) or 1
        return [Area(k, v / rate, v / total) for k, v in counter.most_common()]

    return areas(main), areas(workers)
