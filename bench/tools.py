"""The outside programs the benchmarks use, installed on first use, and the C sink and ceiling.

- Postfix's ``smtp-sink`` (the receiving server: C, discards everything) and ``smtp-source``
  (the C load generator: the most this machine can push through that sink), Debian package
  ``postfix``, installed with apt-get when missing;
- ``mailmerge`` 2.3.0 (PyPI), the peer tool, in its own virtual environment
  ``bench/.venv-mailmerge`` (gitignored);
- ``py-spy`` (PyPI) in ``bench/.venv-tools`` for the profile; ``hyperfine`` (Debian) for the
  start-up time, when it can be installed (else a plain repeated timing).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import venv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
MAILMERGE_VENV = BENCH / ".venv-mailmerge"
TOOLS_VENV = BENCH / ".venv-tools"
MAILMERGE_VERSION = "2.3.0"
SBIN = (Path("/usr/sbin"), Path("/usr/bin"))


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _which(name: str) -> Path | None:
    found = shutil.which(name)
    if found:
        return Path(found)
    for folder in SBIN:
        if (folder / name).is_file():
            return folder / name
    return None


def _apt_install(*packages: str) -> bool:
    """apt-get install ``packages`` (as root, or with sudo); False if that is not possible."""
    sudo: list[str] = []
    if os.geteuid() != 0:
        if not shutil.which("sudo"):
            return False
        sudo = ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    say(f"bench: installing {' '.join(packages)} with apt-get")
    if "postfix" in packages:
        # A local-only Postfix that delivers nothing: we only want its test programs.
        subprocess.run(
            [*sudo, "debconf-set-selections"],
            input="postfix postfix/main_mailer_type select No configuration\n",
            text=True,
            env=env,
            check=False,
        )
    update = subprocess.run([*sudo, "apt-get", "update", "-qq"], env=env, check=False)
    if update.returncode != 0:
        return False
    done = subprocess.run(
        [*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
        env=env,
        check=False,
        stdout=subprocess.DEVNULL,
    )
    return done.returncode == 0


def postfix_tools() -> tuple[Path, Path]:
    """Return the paths of smtp-sink and smtp-source, installing Postfix if needed."""
    sink, source = _which("smtp-sink"), _which("smtp-source")
    if sink is None or source is None:
        if not _apt_install("postfix"):
            raise SystemExit("bench: smtp-sink/smtp-source missing and postfix cannot be installed")
        sink, source = _which("smtp-sink"), _which("smtp-source")
    if sink is None or source is None:
        raise SystemExit("bench: postfix installed but smtp-sink/smtp-source not found")
    return sink, source


def hyperfine() -> Path | None:
    """Return hyperfine, installing it if possible (None: not available)."""
    found = _which("hyperfine")
    if found is None and _apt_install("hyperfine"):
        found = _which("hyperfine")
    return found


def _venv_with(folder: Path, *requirements: str) -> Path:
    python = folder / "bin" / "python"
    if not python.exists():
        say(f"bench: creating {folder.relative_to(BENCH.parent)}")
        venv.EnvBuilder(with_pip=True, clear=True).create(folder)
    stamp = folder / ".installed"
    wanted = "\n".join(requirements)
    if not stamp.exists() or stamp.read_text() != wanted:
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             *requirements],
            check=True,
        )  # fmt: skip
        stamp.write_text(wanted)
    return folder / "bin"


def mailmerge() -> Path:
    """Return the mailmerge command of ``bench/.venv-mailmerge`` (installed on first use)."""
    return _venv_with(MAILMERGE_VENV, f"mailmerge=={MAILMERGE_VERSION}") / "mailmerge"


def py_spy() -> Path | None:
    """Return py-spy from ``bench/.venv-tools`` (None if it cannot be installed)."""
    try:
        return _venv_with(TOOLS_VENV, "py-spy") / "py-spy"
    except subprocess.CalledProcessError:
        return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def smtp_sink(sink: Path, *options: str) -> Iterator[int]:
    """Run Postfix's smtp-sink on 127.0.0.1 (a free port) and yield the port; ``options``
    go before the address (``-p``: do not advertise PIPELINING)."""
    port = free_port()
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    # Backlog 1000; -m 1000 simultaneous sessions: never the limit here.
    proc = subprocess.Popen(
        [str(sink), *user, *options, "-m", "1000", f"127.0.0.1:{port}", "1000"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                error = proc.stderr.read().decode() if proc.stderr else ""
                raise SystemExit(f"bench: smtp-sink did not start: {error}")
            time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@dataclass(frozen=True)
class Ceiling:
    """The C load generator's best rate against the sink, and the session count that gave it."""

    rate: float
    sessions: int
    seconds: float


def ceiling(source: Path, port: int, messages: int, size: int) -> Ceiling:
    """smtp-source sending ``messages`` of ``size`` bytes over reused connections (``-d``);
    the best of several session counts."""
    best: Ceiling | None = None
    for sessions in (2, 4, 8, 16):
        started = time.perf_counter()
        subprocess.run(
            [str(source), "-d", "-s", str(sessions), "-m", str(messages), "-l", str(size),
             "-f", "presse@sdqe.example", "-t", "journaliste@redaction.example",
             f"127.0.0.1:{port}"],
            check=True,
        )  # fmt: skip
        seconds = time.perf_counter() - started
        found = Ceiling(messages / seconds, sessions, seconds)
        if best is None or found.rate > best.rate:
            best = found
    assert best is not None
    return best
