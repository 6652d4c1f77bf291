"""The PostgreSQL statements of each schema migration (`distrib.deliverylog.migrations`), with
the same numbers and meaning as SQLite's, recorded in ``schema_migrations``.

Ids are ``BIGSERIAL``; times are text in the log's own format (`records.timestamp`), compared
byte by byte (``COLLATE "C"``), so both adapters return the same strings.  Migrations run in one
transaction under an advisory lock (``pg_advisory_xact_lock``): two processes opening a new
database at once apply each migration once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import psycopg

from distrib import __version__
from distrib.deliverylog.migrations import Migration, newer_versions
from distrib.errors import NewerLogError

__all__ = ["MIGRATIONS", "migrate", "recorded_migrations"]

_TIME = 'TEXT COLLATE "C"'

MIGRATIONS: Sequence[Migration] = (
    Migration(
        1,
        "runs, messages and attempts",
        f"""
        CREATE TABLE runs (
            id             BIGSERIAL PRIMARY KEY,
            token          TEXT NOT NULL UNIQUE,
            campaign       TEXT NOT NULL,
            campaign_file  TEXT NOT NULL,
            status         TEXT NOT NULL,
            created_at     {_TIME} NOT NULL,
            started_at     {_TIME},
            finished_at    {_TIME},
            settings       TEXT NOT NULL DEFAULT '{{}}',
            contacts_hash  TEXT,
            templates_hash TEXT,
            note           TEXT
        );
        CREATE TABLE messages (
            id              BIGSERIAL PRIMARY KEY,
            run_id          BIGINT NOT NULL REFERENCES runs(id),
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
            next_attempt_at {_TIME},
            created_at      {_TIME} NOT NULL,
            updated_at      {_TIME} NOT NULL,
            sent_at         {_TIME},
            note            TEXT,
            UNIQUE (run_id, key)
        );
        CREATE INDEX messages_run_status ON messages (run_id, status);
        CREATE INDEX messages_key_status ON messages (key, status);
        CREATE TABLE attempts (
            id            BIGSERIAL PRIMARY KEY,
            message       BIGINT NOT NULL REFERENCES messages(id),
            started_at    {_TIME} NOT NULL,
            finished_at   {_TIME},
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
        f"""
        ALTER TABLE messages ADD COLUMN resolved_at {_TIME}, ADD COLUMN resolved_by TEXT,
            ADD COLUMN resolution TEXT;
        CREATE TABLE resolutions (
            id          BIGSERIAL PRIMARY KEY,
            message     BIGINT NOT NULL REFERENCES messages(id),
            resolved_at {_TIME} NOT NULL,
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
        f"""
        CREATE TABLE leases (
            campaign     TEXT PRIMARY KEY,
            run_id       BIGINT REFERENCES runs(id),
            owner        TEXT NOT NULL,
            pid          INTEGER NOT NULL,
            host         TEXT NOT NULL,
            "user"       TEXT NOT NULL DEFAULT '',
            taken_at     {_TIME} NOT NULL,
            heartbeat_at {_TIME} NOT NULL,
            expires_at   {_TIME} NOT NULL
        );
        """,
    ),
    Migration(
        4,
        "several workers drain one run",
        f"""
        CREATE TABLE workers (
            id           BIGSERIAL PRIMARY KEY,
            run_id       BIGINT NOT NULL REFERENCES runs(id),
            owner        TEXT NOT NULL UNIQUE,
            pid          INTEGER NOT NULL,
            host         TEXT NOT NULL,
            "user"       TEXT NOT NULL DEFAULT '',
            started_at   {_TIME} NOT NULL,
            heartbeat_at {_TIME} NOT NULL,
            expires_at   {_TIME} NOT NULL,
            finished_at  {_TIME},
            note         TEXT
        );
        CREATE INDEX workers_run ON workers (run_id);
        ALTER TABLE messages ADD COLUMN worker BIGINT REFERENCES workers(id);
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
        f"""
        CREATE TABLE replies (
            id          BIGSERIAL PRIMARY KEY,
            message     BIGINT NOT NULL REFERENCES messages(id),
            notice      TEXT NOT NULL UNIQUE,
            sender      TEXT NOT NULL,
            subject     TEXT NOT NULL,
            kind        TEXT NOT NULL,
            reason      TEXT NOT NULL,
            matched_by  TEXT NOT NULL,
            arrived_at  {_TIME},
            recorded_at {_TIME} NOT NULL,
            source      TEXT NOT NULL
        );
        CREATE INDEX replies_message ON replies (message);
        """,
    ),
    Migration(
        9,
        "suppression removals: who took an address off the list, when and why",
        f"""
        CREATE TABLE suppression_removals (
            id         BIGSERIAL PRIMARY KEY,
            address    TEXT NOT NULL,
            key        TEXT NOT NULL,
            reason     TEXT NOT NULL,
            source     TEXT NOT NULL,
            listed_at  {_TIME} NOT NULL,
            removed_at {_TIME} NOT NULL,
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
        f"""
        CREATE TABLE suppressions (
            id           BIGSERIAL PRIMARY KEY,
            address      TEXT NOT NULL,
            key          TEXT NOT NULL,
            reason       TEXT NOT NULL,
            source       TEXT NOT NULL,
            requested_at {_TIME},
            created_at   {_TIME} NOT NULL,
            message      BIGINT REFERENCES messages(id),
            note         TEXT,
            UNIQUE (key, reason)
        );
        """,
    ),
    Migration(
        11,
        "bounces reported by delivery-status notifications",
        f"""
        CREATE TABLE bounces (
            id          BIGSERIAL PRIMARY KEY,
            message     BIGINT NOT NULL REFERENCES messages(id),
            notice      TEXT NOT NULL,
            recipient   TEXT NOT NULL,
            kind        TEXT NOT NULL,
            action      TEXT NOT NULL,
            status      TEXT,
            diagnostic  TEXT,
            remote_mta  TEXT,
            matched_by  TEXT NOT NULL,
            arrived_at  {_TIME},
            recorded_at {_TIME} NOT NULL,
            source      TEXT NOT NULL,
            UNIQUE (notice, recipient)
        );
        CREATE INDEX bounces_message ON bounces (message);
        CREATE INDEX messages_message_id ON messages (message_id);
        """,
    ),
)

_TABLE = "schema_migrations"
#: The advisory lock every migrating process takes first.
_LOCK = "distrib: schema"


def recorded_migrations(conn: psycopg.Connection[tuple[object, ...]]) -> dict[int, str | None]:
    """Map each migration recorded in this database to the distrib version that applied it.
    Empty for a database without distrib's tables.  Only reads."""
    found = conn.execute("SELECT to_regclass(%s)", (_TABLE,)).fetchone()
    if found is None or found[0] is None:
        return {}
    rows = conn.execute(f"SELECT version, distrib FROM {_TABLE}").fetchall()
    return {int(str(v)): (None if d is None else str(d)) for v, d in rows}


def migrate(
    conn: psycopg.Connection[tuple[object, ...]], migrations: Sequence[Migration] = MIGRATIONS
) -> list[int]:
    """Apply every migration the database has not recorded, in version order; return them.

    ``conn`` is in autocommit mode (no transaction open).  Raise `NewerLogError`, having
    written nothing, if the database records a migration that ``migrations`` does not have.
    """
    known = [m.version for m in migrations]
    recorded = recorded_migrations(conn)
    newer = newer_versions(recorded, known)
    if newer is not None:
        raise NewerLogError(f"{newer}: upgrade distrib to write to this log")
    if set(known) <= recorded.keys():
        return []  # up to date: no lock taken
    applied: list[int] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (_LOCK,))
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {_TABLE} (version INTEGER PRIMARY KEY,"
            " name TEXT NOT NULL, applied_at TEXT NOT NULL, distrib TEXT)"
        )
        recorded = recorded_migrations(conn)  # another process may have applied them since
        newer = newer_versions(recorded, known)
        if newer is not None:
            raise NewerLogError(f"{newer}: upgrade distrib to write to this log")
        for migration in sorted(migrations, key=lambda m: m.version):
            if migration.version in recorded:
                continue
            for statement in _statements(migration.sql):
                conn.execute(statement.encode())  # no parameters: run as written
            conn.execute(
                f"INSERT INTO {_TABLE} (version, name, applied_at, distrib)"
                " VALUES (%s, %s, %s, %s)",
                (migration.version, migration.name, datetime.now(UTC).isoformat(), __version__),
            )
            applied.append(migration.version)
    return applied


def _statements(sql: str) -> list[str]:
    return [s.strip() for s in sql.split(";") if s.strip()]
