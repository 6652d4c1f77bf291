"""Child processes forked from a server that has already imported distrib (test speed).

A test that runs ``distrib ...`` or the crash driver in a new interpreter pays for Python's
start and for importing distrib, pandas, openpyxl ... each time: a second or more here, and
some tests start dozens.  multiprocessing's ``forkserver`` starts one server per test process
(on first use) that imports those modules once; each child is a fork of it: a separate
process with its own pid, memory, file descriptors and exit status (a SIGKILL, a crash point's
``os._exit``, a memory limit act on it alone), that starts in milliseconds.

What the children do not share with a fresh interpreter: the modules in `PRELOAD` are already
imported.  None of them reads the environment, the working directory or the terminal when it
is imported (they read them when called), so a child given its own environment, folder and
output files behaves as ``distrib`` started there.  `distrib.cli` itself is imported in the
child: its consoles look at the output and at ``COLUMNS`` when they are made.

Tests whose point is the interpreter itself (start-up, ``python -m distrib``, the installed
``distrib`` script, signals to a terminal's process group) still use `subprocess`.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

#: Imported once by the fork server; names importable without the tests' folder on the path
#: (Python 3.11's fork server imports them before it takes the test process's ``sys.path``).
PRELOAD = [
    "__main__",  # pytest's, imported once here rather than again in each child
    "click",
    "typer",
    "rich.console",
    "rich.table",
    "rich.text",
    "pydantic",
    "pandas",
    "openpyxl",
    "python_calamine",
    "jinja2",
    "distrib.config",
    "distrib.app.audit",
    "distrib.app.contacts",
    "distrib.app.logs",
    "distrib.app.pipeline",
    "distrib.app.previewing",
    "distrib.app.resuming",
    "distrib.app.sending",
    "distrib.audit",
    "distrib.contacts",
    "distrib.deliverylog",
    "distrib.deliverylog.lease",
    "distrib.deliverylog.sqlite",
    "distrib.deliverylog.postgres",
    "distrib.export",
    "distrib.release",
    "distrib.render",
    "distrib.renderpool",
    "distrib.send",
]

_SERVER = multiprocessing.get_context("forkserver")
_SERVER.set_forkserver_preload(PRELOAD)


def _child(
    output: str,
    errors: str | None,
    cwd: str | None,
    env: dict[str, str],
    memory_limit: int | None,
    target: Callable[..., object],
    args: Sequence[Any],
) -> None:
    """In the forked child: standard input from /dev/null, standard output to ``output`` and
    standard error to ``errors`` (or ``output``), ``env`` as the whole environment, then run
    ``target(*args)``; its `SystemExit` code is the exit status."""
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    for fd, path in ((1, output), (2, errors or output)):
        opened = os.open(path, os.O_WRONLY | os.O_APPEND)
        os.dup2(opened, fd)
        os.close(opened)
    if memory_limit is not None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    if cwd is not None:
        os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    target(*args)


class ForkedProcess:
    """``target(*args)`` in a child forked from the fork server; its exit code as
    `subprocess.Popen` gives it (negative: killed by that signal).  ``separate_stderr``: keep
    standard error apart (else it goes with standard output, in order)."""

    def __init__(
        self,
        target: Callable[..., object],
        args: Sequence[Any],
        *,
        env: dict[str, str],
        cwd: str | Path | None = None,
        memory_limit: int | None = None,
        separate_stderr: bool = False,
    ) -> None:
        self._files = [self._file("out")] + ([self._file("err")] if separate_stderr else [])
        errors = self._files[1] if separate_stderr else None
        where = None if cwd is None else str(cwd)
        self._process = _SERVER.Process(
            target=_child,
            args=(self._files[0], errors, where, env, memory_limit, target, list(args)),
        )
        self._process.start()
        assert self._process.pid is not None
        self.pid: int = self._process.pid
        self.returncode: int | None = None

    @staticmethod
    def _file(kind: str) -> str:
        fd, path = tempfile.mkstemp(prefix=f"distrib-forked-{kind}-")
        os.close(fd)
        return path

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self._process.exitcode
        return self.returncode

    def kill(self) -> None:
        self._process.kill()

    def wait_bytes(self, timeout: float | None = None) -> tuple[bytes, bytes]:
        """Wait for the child to end; return what it wrote to its standard output and error
        (standard error is empty unless kept apart)."""
        self._process.join(timeout)
        if self.poll() is None:
            raise subprocess.TimeoutExpired(["forked"], timeout or 0)
        try:
            written = [Path(path).read_bytes() for path in self._files]
        finally:
            for path in self._files:
                Path(path).unlink(missing_ok=True)
            self._process.close()
        return written[0], written[1] if len(written) > 1 else b""

    def communicate(self, timeout: float | None = None) -> tuple[str, str]:
        """`subprocess.Popen.communicate` for a text process."""
        out, err = self.wait_bytes(timeout)
        return out.decode("utf-8", "backslashreplace"), err.decode("utf-8", "backslashreplace")


def distrib_main(*args: str) -> None:
    """The ``distrib`` command (`distrib.cli.main`) with ``args``, as its script runs it."""
    sys.argv = ["distrib", *args]
    from distrib.cli import main

    main()


def distrib_forked(
    args: Sequence[str | Path], *, env: dict[str, str], cwd: str | Path | None = None
) -> ForkedProcess:
    """Start ``distrib ARGS`` in a forked child, standard output and error together (collect
    it with ``communicate``)."""
    return ForkedProcess(distrib_main, [str(a) for a in args], env=env, cwd=cwd)


def run_distrib_forked(
    args: Sequence[str | Path],
    *,
    env: dict[str, str],
    cwd: str | Path | None = None,
    memory_limit: int | None = None,
    timeout: float = 600,
) -> tuple[int, bytes, bytes]:
    """Run ``distrib ARGS`` in a forked child; return its exit code, stdout and stderr."""
    child = ForkedProcess(
        distrib_main,
        [str(a) for a in args],
        env=env,
        cwd=cwd,
        memory_limit=memory_limit,
        separate_stderr=True,
    )
    out, err = child.wait_bytes(timeout)
    assert child.returncode is not None
    return child.returncode, out, err
