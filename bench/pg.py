"""A throwaway PostgreSQL cluster for the tests and the benchmarks: Debian's ``postgresql``
binaries, a fresh ``initdb`` in a temporary folder, listening only on a Unix socket inside that
folder (so two copies of the suite, or a bench beside the suite, never meet), stopped and
deleted afterwards.  Imported by tests/conftest.py (the ``postgres_cluster`` fixture) and by
`bench.harness`; it needs nothing from distrib.

PostgreSQL refuses to run as root, so under root (CI) the cluster runs as the unprivileged
``postgres`` user that the Debian package creates.  A test (or a bench round) gets a database
of its own (`PostgresCluster.new_database`).  ``durable=False`` (the tests) turns off fsync
and synchronous commits for speed; the benchmarks keep PostgreSQL's durable defaults, as a
team's server would have them (and as SQLite's ``synchronous=FULL`` does).
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

SKIP_REASON = "PostgreSQL not installed (scripts/install-system-deps.sh installs it)"


def find_bindir() -> Path | None:
    """Return the newest ``/usr/lib/postgresql/N/bin`` holding initdb and pg_ctl, or None."""
    root = Path("/usr/lib/postgresql")
    found = []
    if root.is_dir():
        for folder in root.iterdir():
            if (folder / "bin/initdb").is_file() and folder.name.isdigit():
                found.append((int(folder.name), folder / "bin"))
    return max(found)[1] if found else None


@dataclass
class PostgresCluster:
    """One running cluster; `url` names a database on it."""

    bindir: Path
    folder: Path
    port: int = 5432
    durable: bool = False
    user: str = "distrib"
    _numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @classmethod
    def start(cls, bindir: Path, *, durable: bool = False) -> PostgresCluster:
        """initdb and start a cluster in a new temporary folder (ready when this returns)."""
        # Not under pytest's tmp_path: that is private to root (0700) and the server may run
        # as another user; the socket path must also stay short (107 bytes at most).
        folder = Path(tempfile.mkdtemp(prefix="distrib-pg-"))
        folder.chmod(0o755)
        cluster = cls(bindir, folder, durable=durable)
        if os.geteuid() == 0:
            shutil.chown(folder, user="postgres")
        cluster._run(
            "initdb", "-D", str(folder / "data"), "-A", "trust", "-U", cluster.user,
            "--no-sync", "-E", "UTF8", "--locale=C.UTF-8",
        )  # fmt: skip
        options = f"-c listen_addresses= -k {folder} -p {cluster.port} -c max_connections=100"
        if not durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        cluster._run(
            "pg_ctl", "-D", str(folder / "data"), "-o", options, "-l", str(folder / "log"), "-w",
            "start",
        )  # fmt: skip
        return cluster

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bindir / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            log = self.folder / "log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{tool} failed: {done.stderr or done.stdout}\n{tail}")

    def url(self, database: str = "postgres") -> str:
        """A libpq URL for ``database`` over the cluster's Unix socket."""
        return f"postgresql://{self.user}@/{database}?host={self.folder}&port={self.port}"

    def new_database(self) -> str:
        """Create an empty database and return its URL."""
        import psycopg

        name = f"test_{next(self._numbers)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop the database ``url`` names (closing its connections)."""
        import psycopg

        name = url.rpartition("/")[2].partition("?")[0]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())

    def stop(self) -> None:
        """Stop the server at once and delete its folder."""
        try:
            self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
