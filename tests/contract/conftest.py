"""The contract suite: every test here runs against both adapters of the delivery log.

``target`` is a SQLite file in ``tmp_path``, or a PostgreSQL database on the session's
throwaway cluster (tests/pg_server.py; skipped with its one-line reason when PostgreSQL is not
installed).  A PostgreSQL test gets the session's migrated database emptied for it (``DELETE``
and the id sequences restarted: 0.03 s, where ``TRUNCATE`` took 0.19 s and a fresh ``CREATE
DATABASE`` with its migrations 0.2 s); a test about creating or upgrading a log asks for
``empty_target`` instead, a database no one has opened yet.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from distrib.deliverylog import DeliveryLog, open_log
from log_helpers import Clock

#: Every table distrib creates, emptied between PostgreSQL tests.
TABLES = (
    "replies", "bounces", "suppression_removals", "suppressions", "resolutions", "leases",
    "attempts", "messages", "workers", "runs",
)  # fmt: skip


@pytest.fixture(scope="session")
def shared_database(postgres_cluster: Any) -> str:
    """One migrated PostgreSQL database for the session's contract tests."""
    url = str(postgres_cluster.new_database())
    open_log(url).close()
    return url


@pytest.fixture
def target(adapter: str, tmp_path: Path, request: pytest.FixtureRequest) -> str | Path:
    """Where the test's log is: a new file, or the shared database emptied."""
    if adapter == "sqlite":
        return tmp_path / "logs" / "distrib-log.sqlite"
    import psycopg

    url = str(request.getfixturevalue("shared_database"))
    with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
        for table in TABLES:
            conn.execute(f"DELETE FROM {table}".encode())
        for table in TABLES:
            if table != "leases":  # keyed by campaign
                conn.execute(f"ALTER SEQUENCE {table}_id_seq RESTART".encode())
    return url


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def log(target: str | Path, clock: Clock) -> Iterator[DeliveryLog]:
    with open_log(target, clock=clock) as opened:
        yield opened


@pytest.fixture
def other(log: DeliveryLog, target: str | Path, clock: Clock) -> Iterator[DeliveryLog]:
    """A second connection to the same log, as another process would have."""
    with open_log(target, clock=clock) as opened:
        yield opened
