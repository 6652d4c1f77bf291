"""What only the SQLite adapter does: a durable file (WAL, synchronous=FULL), and a clear error
for a file that is not a log.  Everything the port promises runs on both adapters in
tests/contract/."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from distrib.deliverylog import open_log
from distrib.deliverylog.migrations import SCHEMA
from distrib.deliverylog.postgres.migrations import MIGRATIONS as POSTGRES
from distrib.deliverylog.sqlite.migrations import MIGRATIONS as SQLITE
from distrib.errors import DeliveryLogError


def test_a_new_file_is_created_migrated_and_durable(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "distrib-log.sqlite"
    open_log(path).close()
    conn = sqlite3.connect(path)
    try:
        versions = conn.execute("SELECT version, name FROM schema_migrations ORDER BY version")
        assert versions.fetchall() == list(SCHEMA)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()
    with open_log(path) as log:
        # The log's own connection: synchronous=FULL (NORMAL may lose the last commits).
        from distrib.deliverylog.sql.store import SQLLog

        assert isinstance(log, SQLLog)
        assert log._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # type: ignore[attr-defined]


def test_a_file_that_is_not_a_database_is_an_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.sqlite"
    bogus.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(DeliveryLogError, match="cannot open the delivery log"):
        open_log(bogus)


def test_every_adapter_has_the_same_migrations() -> None:
    assert [(m.version, m.name) for m in SQLITE] == list(SCHEMA)
    assert [(m.version, m.name) for m in POSTGRES] == list(SCHEMA)
    audit = ("suppression list", "bounces")
    assert all(10 <= v <= 19 for v, name in SCHEMA if name.startswith(audit))
