"""Run a command and measure it from outside: wall time and peak memory of each process.

The peak resident set of the command's own process and of each of its children (the render
workers) is read from ``/proc/PID/status`` (``VmHWM``, the high-water mark) every few
milliseconds while it runs; ``wait4`` gives the largest process of the tree as a cross-check.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Measured:
    """One run of a command."""

    seconds: float
    returncode: int
    main_mb: float  # peak RSS of the command's own process
    children_mb: float  # the largest peak RSS among its child processes
    tree_mb: float  # wait4's ru_maxrss: the largest process of the tree
    user: float = 0.0  # CPU seconds in user mode (the process and the children it waited for)
    system: float = 0.0  # CPU seconds in the kernel (creating files, page faults …)


def _hwm(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        return None
    return None


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text().split()
            found += [int(c) for c in text]
    except OSError:
        pass
    return found


def run(command: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
        log: Path | None = None) -> Measured:  # fmt: skip
    """Run ``command`` to its end (output to ``log`` or discarded) and measure it."""
    out = log.open("w") if log is not None else subprocess.DEVNULL
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    main = children = 0.0
    while True:
        done, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if done:
            break
        main = max(main, _hwm(proc.pid) or 0.0)
        for child in _children(proc.pid):
            children = max(children, _hwm(child) or 0.0)
        time.sleep(0.02)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if log is not None and hasattr(out, "close"):
        out.close()  # type: ignore[union-attr]
    return Measured(
        seconds, proc.returncode, main, children, usage.ru_maxrss / 1024,
        usage.ru_utime, usage.ru_stime,
    )  # fmt: skip


def sent_in_latest_run(log: Path | str) -> tuple[int, int]:
    """(sent, total) of the latest run in the delivery log ``log`` (a file or a URL)."""
    from distrib.deliverylog import open_log

    with open_log(log, read_only=True) as opened:
        counts = opened.counts(opened.runs()[-1].id)
    return counts.get("sent", 0), sum(counts.values())
