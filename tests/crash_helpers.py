"""What the crash tests share: sending processes to start and kill, and kill points chosen by
events the test SMTP server sees (never by how long something takes).

A `Killer` is a rule's ``action`` (`smtp_server.SMTPTestServer.script`): when the server reads
the chosen command (the Nth RCPT, the DATA command, the end of a body …) it SIGKILLs the sending
process, in the server's thread, before it answers, then the rule hangs up.  The process is
therefore killed at exactly that point of its conversation, however fast or slow the machine.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Protocol, TypeVar

from forked import ForkedProcess, distrib_forked

TESTS = Path(__file__).resolve().parent


class Process(Protocol):
    """What the crash tests use of a child process: a `subprocess.Popen` or a
    `forked.ForkedProcess`."""

    pid: int
    returncode: int | None

    def communicate(self, timeout: float | None = None) -> tuple[str, str]: ...

    def poll(self) -> int | None: ...

    def kill(self) -> None: ...


Popen = subprocess.Popen[str]
_P = TypeVar("_P", bound=Process)


def environment(**extra: str) -> dict[str, str]:
    """The environment of a child process: no crash point inherited, the tests' helpers on the
    path, output unbuffered (a test reads it line by line while the process runs)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISTRIB_CRASH")}
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def distrib_process(*args: str, new_session: bool = False, **env: str) -> Popen:
    """Start ``distrib ARGS`` (stdout and stderr together, as text)."""
    return subprocess.Popen(
        [sys.executable, "-m", "distrib", *args],
        env=environment(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=new_session,
    )


def distrib_child(*args: str, **env: str) -> ForkedProcess:
    """Start ``distrib ARGS`` forked from the fork server (`forked`): it starts in milliseconds
    rather than the second or more a new interpreter takes to import distrib, so a test that
    starts two and holds one while the other starts does not depend on the machine's load.
    Standard output and error together, as `finish` reads them."""
    return distrib_forked(args, env=environment(**env))


def finish(proc: Process, timeout: float = 60) -> tuple[int, str]:
    """Wait for ``proc`` (``timeout`` only guards against a hung test) and return its exit code
    and output."""
    out, errors = proc.communicate(timeout=timeout)
    return proc.returncode, out + (errors or "")


def read_until(proc: Popen, text: str) -> str:
    """Read ``proc``'s output line by line until a line contains ``text`` (or the output ends);
    return what was read.  `finish` reads the rest."""
    assert proc.stdout is not None
    lines: list[str] = []
    while line := proc.stdout.readline():
        lines.append(line)
        if text in line:
            break
    return "".join(lines)


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    """Poll ``condition`` until it holds; False if it still does not after ``timeout`` seconds
    (a deadline for an outcome, not a measurement)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


class Killer:
    """SIGKILL one process when a server rule fires; remember what it was doing.

    The pid is given once the process is started (`target`); a rule firing before that waits
    for it, so the kill never depends on which comes first.
    """

    def __init__(self) -> None:
        self._pid: Future[int] = Future()
        self.hit: list[str | None] = []  # the address of each command it fired on
        self.fired = threading.Event()
        self.before: Callable[[int], object] | None = None  # called with the pid, first

    def target(self, proc: _P) -> _P:
        self._pid.set_result(proc.pid)
        return proc

    def __call__(self, address: str | None) -> None:
        pid = self._pid.result(timeout=60)
        if self.before is not None:
            self.before(pid)
        self.hit.append(address)
        os.kill(pid, signal.SIGKILL)
        self.fired.set()


# -- the crash driver, forked from a process that has already imported it --------------------


def _drive(argv: list[str]) -> None:
    import crash_driver

    sys.exit(crash_driver.main(["crash_driver", *argv]))


def driver_process(argv: list[str], env: dict[str, str]) -> ForkedProcess:
    """``python crash_driver.py ARGV`` with ``env`` as its whole environment, forked from the
    fork server that has imported the sending stage (`forked`): a fresh interpreter would
    spend a second or more importing it for each of the dozens of sending processes a crash
    test starts and kills.  Standard output and error together, as `finish` reads them."""
    return ForkedProcess(_drive, [argv], env=env)


# -- processes, as /proc shows them (Linux) ---------------------------------------------------


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, start time) of ``pid``, or None if there is no such process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # the name, in parentheses, may hold spaces
    return fields[0], int(fields[1]), int(fields[19])


def children(pid: int) -> dict[int, int]:
    """The processes whose parent is ``pid``: pid → start time (to tell a reused pid apart)."""
    found: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and stat[1] == pid and stat[0] != "Z":
                found[int(entry.name)] = stat[2]
    return found


def running(pid: int, started: int) -> bool:
    """Tell whether the process ``pid`` that started at ``started`` still runs (an exited one
    waiting to be reaped, a zombie, does not)."""
    stat = _stat(pid)
    return stat is not None and stat[2] == started and stat[0] != "Z"


def kill_all(processes: dict[int, int]) -> None:
    """SIGKILL whichever of ``processes`` still run (cleaning up after a failed test)."""
    for pid, started in processes.items():
        if running(pid, started):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
