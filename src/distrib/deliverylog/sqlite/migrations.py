"""The SQLite statements of each schema migration (`distrib.deliverylog.migrations`), recorded
in the ``schema_migrations`` table of each log file.

The versions applied are read *inside* the write transaction (``BEGIN IMMEDIATE``), so two
processes creating the same new log at once cannot both apply a migration; `migrate` refuses a
log written by a newer distrib (`NewerLogError`) before writing anything.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime

from distrib import __version__
from distrib.deliverylog.migrations import Migration, newer_versions
from distrib.errors import NewerLogError

__all__ = [
    "MIGRATIONS",
    "applied_versions",
    "current_version",
    "migrate",
    "recorded_migrations",
]


MIGRATIONS: Sequence[Migration] = (
    Migration(
        1,
        "runs, messages and attempts",
        """
        CREATE TABLE runs (
            id             INTEGER PRIMARY KEY,
            token          TEXT NOT NULL UNIQUE,
            campaign       TEXT NOT NULL,
            campaign_file  TEXT NOT NULL,
            status         TEXT NOT NULL,
            created_at     TEXT NOT NULL,
            started_at     TEXT,
            finished_at    TEXT,
            settings       TEXT NOT NULL DEFAULT '{}',
            contacts_hash  TEXT,
            templates_hash TEXT,
            note           TEXT
        );
        CREATE TABLE messages (
            id              INTEGER PRIMARY KEY,
            run_id          INTEGER NOT NULL REFERENCES runs(id),
            key             TEXT NOT NULL,
            recipient       TEXT NOT NULL,
            address         TEXT NOT NULL,
            name            TEXT NOT NULL DEFAULT '',
            outlet          TEXT NOT NULL DEFAULT '',
            language        TEXT NOT NULL DEFAULT '',
            provenance      TEXT NOT NULL DEFAULT '',
            subject         TEXT NOT NULL DEFAULT '',
            message_id      TEXT,
            content_hash    TEXT,
            status          TEXT NOT NULL,
            reply_code      INTEGER,
            reply_text      TEXT,
            attempts        INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT,
            created_at      TEXT NOT NULL,
            updated_at      TEXT NOT NULL,
            sent_at         TEXT,
            note            TEXT,
            UNIQUE (run_id, key)
        );
        CREATE INDEX messages_run_status ON messages (run_id, status);
        CREATE INDEX messages_key_status ON messages (key, status);
        CREATE TABLE attempts (
            id            INTEGER PRIMARY KEY,
            message       INTEGER NOT NULL REFERENCES messages(id),
            started_at    TEXT NOT NULL,
            finished_at   TEXT,
            server        TEXT,
            outcome       TEXT,
            reply_code    INTEGER,
            enhanced_code TEXT,
            reply_text    TEXT
        );
        CREATE INDEX attempts_message ON attempts (message);
        """,
    ),
    Migration(
        2,
        "how unknown and failed messages were resolved by the officer",
        """
        ALTER TABLE messages ADD COLUMN resolved_at TEXT;
        ALTER TABLE messages ADD COLUMN resolved_by TEXT;
        ALTER TABLE messages ADD COLUMN resolution TEXT;
        CREATE TABLE resolutions (
            id          INTEGER PRIMARY KEY,
            message     INTEGER NOT NULL REFERENCES messages(id),
            resolved_at TEXT NOT NULL,
            resolved_by TEXT NOT NULL,
            resolution  TEXT NOT NULL,
            from_status TEXT NOT NULL,
            to_status   TEXT NOT NULL,
            note        TEXT NOT NULL
        );
        CREATE INDEX resolutions_message ON resolutions (message);
        """,
    ),
    Migration(
        3,
        "one sending process per campaign: leases",
        """
        CREATE TABLE leases (
            campaign     TEXT PRIMARY KEY,
            run_id       INTEGER REFERENCES runs(id),
            owner        TEXT NOT NULL,
            pid          INTEGER NOT NULL,
            host         TEXT NOT NULL,
            user         TEXT NOT NULL DEFAULT '',
            taken_at     TEXT NOT NULL,
            heartbeat_at TEXT NOT NULL,
            expires_at   TEXT NOT NULL
        );
        """,
    ),
    Migration(
        4,
        "several workers drain one run",
        """
        CREATE TABLE workers (
            id           INTEGER PRIMARY KEY,
            run_id       INTEGER NOT NULL REFERENCES runs(id),
            owner        TEXT NOT NULL UNIQUE,
            pid          INTEGER NOT NULL,
            host         TEXT NOT NULL,
            user         TEXT NOT NULL DEFAULT '',
            started_at   TEXT NOT NULL,
            heartbeat_at TEXT NOT NULL,
            expires_at   TEXT NOT NULL,
            finished_at  TEXT,
            note         TEXT
        );
        CREATE INDEX workers_run ON workers (run_id);
        ALTER TABLE messages ADD COLUMN worker INTEGER REFERENCES workers(id);
        CREATE INDEX messages_worker ON messages (worker);
        """,
    ),
    Migration(
        7,
        "the relay each attempt was handed to, for quotas across runs",
        """
        ALTER TABLE attempts ADD COLUMN relay TEXT;
        CREATE INDEX attempts_relay ON attempts (relay, started_at);
        """,
    ),
    Migration(
        8,
        "replies to sent messages, a person's or automatic",
        """
        CREATE TABLE replies (
            id          INTEGER PRIMARY KEY,
            message     INTEGER NOT NULL REFERENCES messages(id),
            notice      TEXT NOT NULL UNIQUE,
            sender      TEXT NOT NULL,
            subject     TEXT NOT NULL,
            kind        TEXT NOT NULL,
            reason      TEXT NOT NULL,
            matched_by  TEXT NOT NULL,
            arrived_at  TEXT,
            recorded_at TEXT NOT NULL,
            source      TEXT NOT NULL
        );
        CREATE INDEX replies_message ON replies (message);
        """,
    ),
    Migration(
        9,
        "suppression removals: who took an address off the list, when and why",
        """
        CREATE TABLE suppression_removals (
            id         INTEGER PRIMARY KEY,
            address    TEXT NOT NULL,
            key        TEXT NOT NULL,
            reason     TEXT NOT NULL,
            source     TEXT NOT NULL,
            listed_at  TEXT NOT NULL,
            removed_at TEXT NOT NULL,
            removed_by TEXT NOT NULL,
            why        TEXT NOT NULL
        );
        CREATE INDEX suppression_removals_key ON suppression_removals (key);
        """,
    ),
    # 10-19: the audit stage (suppressions, bounces).
    Migration(
        10,
        "suppression list: opt-outs and hard bounces",
        """
        CREATE TABLE suppressions (
            id           INTEGER PRIMARY KEY,
            address      TEXT NOT NULL,
            key          TEXT NOT NULL,
            reason       TEXT NOT NULL,
            source       TEXT NOT NULL,
            requested_at TEXT,
            created_at   TEXT NOT NULL,
            message      INTEGER REFERENCES messages(id),
            note         TEXT,
            UNIQUE (key, reason)
        );
        """,
    ),
    Migration(
        11,
        "bounces reported by delivery-status notifications",
        """
        CREATE TABLE bounces (
            id          INTEGER PRIMARY KEY,
            message     INTEGER NOT NULL REFERENCES messages(id),
            notice      TEXT NOT NULL,
            recipient   TEXT NOT NULL,
            kind        TEXT NOT NULL,
            action      TEXT NOT NULL,
            status      TEXT,
            diagnostic  TEXT,
            remote_mta  TEXT,
            matched_by  TEXT NOT NULL,
            arrived_at  TEXT,
            recorded_at TEXT NOT NULL,
            source      TEXT NOT NULL,
            UNIQUE (notice, recipient)
        );
        CREATE INDEX bounces_message ON bounces (message);
        CREATE INDEX messages_message_id ON messages (message_id);
        """,
    ),
)


_TABLE = "schema_migrations"


def recorded_migrations(conn: sqlite3.Connection) -> dict[int, str | None]:
    """Map each migration recorded in this database to the distrib version that applied it (None
    when not recorded: logs written before distrib recorded it).  Empty for a new file.

    Only reads: usable on a read-only connection.
    """
    found = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (_TABLE,)
    ).fetchone()
    if found is None:
        return {}
    columns = {str(row[1]) for row in conn.execute(f"PRAGMA table_info({_TABLE})")}
    by = "distrib" if "distrib" in columns else "NULL"
    return {int(v): d for v, d in conn.execute(f"SELECT version, {by} FROM {_TABLE}")}


def applied_versions(conn: sqlite3.Connection) -> set[int]:
    """Return the versions of every migration recorded in this database (only reads)."""
    return set(recorded_migrations(conn))


def current_version(conn: sqlite3.Connection) -> int:
    """Return the highest migration applied to this database (0 for a new file)."""
    return max(applied_versions(conn), default=0)


def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration] = MIGRATIONS) -> list[int]:
    """Apply every migration the database has not recorded, in version order; return them.

    ``conn`` must be in autocommit mode (no transaction open).  Raise `NewerLogError`, having
    written nothing, if the database records a migration that ``migrations`` does not have.
    """
    recorded = recorded_migrations(conn)
    newer = newer_versions(recorded, [m.version for m in migrations])
    if newer is not None:
        raise NewerLogError(f"{newer}: upgrade distrib to write to this log")
    if {m.version for m in migrations} <= recorded.keys():
        return []  # up to date: no write lock taken
    conn.execute("BEGIN IMMEDIATE")
    try:
        applied = _apply(conn, migrations)
        conn.execute("COMMIT")
    except BaseException:
        # SQLite may already have rolled back by itself (e.g. on SQLITE_FULL).
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
    return applied


def _apply(conn: sqlite3.Connection, migrations: Sequence[Migration]) -> list[int]:
    """Inside the write transaction: read what is applied (another process may have applied it
    since we looked), then apply the rest."""
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {_TABLE} (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
        " applied_at TEXT NOT NULL, distrib TEXT)"
    )
    columns = {str(row[1]) for row in conn.execute(f"PRAGMA table_info({_TABLE})")}
    if "distrib" not in columns:  # a log written before distrib recorded itself
        conn.execute(f"ALTER TABLE {_TABLE} ADD COLUMN distrib TEXT")
    recorded = recorded_migrations(conn)
    newer = newer_versions(recorded, [m.version for m in migrations])
    if newer is not None:
        raise NewerLogError(f"{newer}: upgrade distrib to write to this log")
    applied = []
    for migration in sorted(migrations, key=lambda m: m.version):
        if migration.version in recorded:
            continue
        for statement in _statements(migration.sql):
            conn.execute(statement)
        conn.execute(
            f"INSERT INTO {_TABLE} (version, name, applied_at, distrib) VALUES (?, ?, ?, ?)",
            (migration.version, migration.name, datetime.now(UTC).isoformat(), __version__),
        )
        applied.append(migration.version)
    return applied


def _statements(sql: str) -> list[str]:
    # executescript() would COMMIT implicitly; splitting keeps the upgrade one transaction.
    return [s.strip() for s in sql.split(";") if s.strip()]
