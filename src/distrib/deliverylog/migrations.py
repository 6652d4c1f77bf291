"""Numbered schema migrations, recorded in the ``schema_migrations`` table of each log file.

A migration is appended, never edited: an older log file opens and every migration it has not
recorded yet is applied, in ascending version order, each in its own transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["MIGRATIONS", "Migration", "applied_versions", "current_version", "migrate"]


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered schema change."""

    version: int
    name: str
    sql: str


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


def applied_versions(conn: sqlite3.Connection) -> set[int]:
    """Return the versions of every migration recorded in this database."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    return {int(row[0]) for row in conn.execute("SELECT version FROM schema_migrations")}


def current_version(conn: sqlite3.Connection) -> int:
    """Return the highest migration applied to this database (0 for a new file)."""
    return max(applied_versions(conn), default=0)


def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration] = MIGRATIONS) -> list[int]:
    """Apply every migration the database has not recorded, in version order; return them."""
    applied = []
    done = applied_versions(conn)
    for migration in sorted(migrations, key=lambda m: m.version):
        if migration.version in done:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(migration.sql):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.name, datetime.now(UTC).isoformat()),
            )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        applied.append(migration.version)
    return applied


def _statements(sql: str) -> list[str]:
    # executescript() would COMMIT implicitly; splitting keeps each migration one transaction.
    return [s.strip() for s in sql.split(";") if s.strip()]
