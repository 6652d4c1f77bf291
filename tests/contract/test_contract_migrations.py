"""Schema migrations and opening, on both adapters: an older log is upgraded in place without
losing a row; a new log gets its schema once even when processes open it together; a log
written by a newer distrib is never written; a log opened read-only is never written."""

from __future__ import annotations

import multiprocessing
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

from distrib import __version__
from distrib.deliverylog import DeliveryLog, NewMessage, State, open_log
from distrib.deliverylog.migrations import SCHEMA
from distrib.errors import DeliveryLogError, NewerLogError
from log_helpers import finish, raw_execute, raw_rows

NEWEST = max(v for v, _ in SCHEMA)


def migrate_first(target: str | Path, count: int) -> None:
    """Create the log as an older distrib did: only its first ``count`` migrations."""
    if isinstance(target, Path):
        import sqlite3

        from distrib.deliverylog.sqlite.migrations import MIGRATIONS, migrate

        target.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(target, isolation_level=None)
        try:
            migrate(conn, MIGRATIONS[:count])
        finally:
            conn.close()
        return
    import psycopg

    from distrib.deliverylog.postgres import migrations

    with psycopg.connect(target, autocommit=True) as conn:
        migrations.migrate(conn, migrations.MIGRATIONS[:count])


def record_newer_migration(target: str | Path, *, by: str | None = None) -> None:
    """Record migration NEWEST + 1 as a newer distrib would (a table this one does not know)."""
    raw_execute(target, "CREATE TABLE embargo_holds (id INTEGER PRIMARY KEY)")
    who = f"'{by}'" if by is not None else "NULL"
    raw_execute(
        target,
        "INSERT INTO schema_migrations (version, name, applied_at, distrib)"
        f" VALUES ({NEWEST + 1}, 'holds', '2031-01-01', {who})",
    )


def test_an_older_log_is_upgraded_in_place_without_loss(empty_target: str | Path) -> None:
    migrate_first(empty_target, 1)  # a log written before migrations 2 and on
    raw_execute(
        empty_target,
        "INSERT INTO runs (token, campaign, campaign_file, status, created_at)"
        " VALUES ('t', 'c', 'c.toml', 'stopped', '2026-01-10T14:00:00.000+00:00')",
    )
    raw_execute(
        empty_target,
        "INSERT INTO messages (run_id, key, recipient, address, status, created_at,"
        " updated_at) VALUES (1, 'k', 'a@x.org', 'a@x.org', 'unknown',"
        " '2026-01-10T14:00:00.000+00:00', '2026-01-10T14:00:00.000+00:00')",
    )
    with open_log(empty_target, create=False) as log:
        assert log.upgraded == tuple(v for v, _ in SCHEMA[1:])
        [row] = log.messages(1)
        assert (row.status, row.resolution, row.resolved_by, row.worker) == (
            "unknown",
            None,
            None,
            None,
        )
        assert log.lease_holder("c") is None
        assert [v for v, _, _ in log.migrations()] == [v for v, _ in SCHEMA]
        # The new tables work on the old data.
        assert log.add_suppression("a@x.org", "a@x.org", reason="unsubscribed", source="test")
        log.resolve([row], "resend", note="not in the relay's log", by="marie")
        assert log.message(1).status == "ready"
    with open_log(empty_target) as again:
        assert again.upgraded == ()


def test_each_migration_records_the_distrib_that_applied_it(log: DeliveryLog) -> None:
    assert [(v, by) for v, _, by in log.migrations()] == [(v, __version__) for v, _ in SCHEMA]


def test_a_log_written_by_a_newer_distrib_is_not_written(
    log: DeliveryLog, target: str | Path
) -> None:
    log.create_run("printemps", "c.toml")
    record_newer_migration(target, by="9.4.0")
    before = raw_rows(target, "SELECT * FROM runs")
    with pytest.raises(NewerLogError) as caught:
        open_log(target)
    message = str(caught.value)
    assert "newer distrib" in message and r"distrib 9.4.0" in message
    assert f"schema {NEWEST + 1}" in message and f"up to schema {NEWEST}" in message
    assert "upgrade distrib" in message
    assert raw_rows(target, "SELECT * FROM runs") == before
    with open_log(target, read_only=True) as reader:  # reading it still works, with a warning
        assert [r.campaign for r in reader.runs()] == ["printemps"]
        assert any("newer distrib" in w for w in reader.warnings)
    raw_execute(target, f"DELETE FROM schema_migrations WHERE version = {NEWEST + 1}")
    raw_execute(target, "DROP TABLE embargo_holds")


def test_a_log_opened_read_only_refuses_to_write(log: DeliveryLog, target: str | Path) -> None:
    run = log.create_run("printemps", "c.toml")
    log.add_messages(run.id, [NewMessage(key="a", recipient="a@x.org", address="a@x.org")])
    finish(log, log.messages(run.id)[0].id, State.SENT)
    before = raw_rows(target, "SELECT * FROM messages")
    with open_log(target, read_only=True) as reader:
        assert reader.read_only
        assert [r.campaign for r in reader.runs()] == ["printemps"]
        for write in (
            lambda: reader.create_run("x", "x.toml"),
            lambda: reader.set_run_status(run.id, "stopped"),
            lambda: reader.recover(run.id),
            lambda: reader.add_suppression("b@x.org", "b@x.org", reason="r", source="s"),
            lambda: reader.apply([]),
            reader.writer,
        ):
            with pytest.raises(DeliveryLogError, match="read-only"):
                write()
    assert raw_rows(target, "SELECT * FROM messages") == before


def _open_at_once(target: str | Path, barrier: Barrier, results: Queue[str]) -> None:
    barrier.wait()
    try:
        with open_log(target):
            results.put("ok")
    except Exception as exc:  # every failure is reported to the test, none hangs it
        results.put(f"{type(exc).__name__}: {exc}")


def test_processes_opening_a_new_log_at_once_apply_the_schema_exactly_once(
    adapter: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Two `distrib` processes may create the same log at the same moment (two terminals, a
    scheduled send, two officers): each must read what is applied inside its own write
    transaction (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: an advisory lock).

    Before the fix, 28 of 40 rounds of 8 processes failed on SQLite ("table runs already
    exists"; every run of this test failed in its first round): 20 rounds all passing by chance
    (0.3 ** 20) is beyond belief.  The processes start together on a barrier, no sleeping.
    """
    context = multiprocessing.get_context("fork")
    processes = 8
    rounds = 20 if adapter == "sqlite" else 4  # a new database each round: 0.15 s
    for round_ in range(rounds):
        target: str | Path = tmp_path / f"log-{round_}.sqlite"
        cluster = request.getfixturevalue("postgres_cluster") if adapter == "postgresql" else None
        if cluster is not None:
            target = cluster.new_database()
        barrier = context.Barrier(processes)
        results: Queue[str] = context.Queue()
        started = [
            context.Process(target=_open_at_once, args=(target, barrier, results))
            for _ in range(processes)
        ]
        for process in started:
            process.start()
        outcomes = [results.get(timeout=60) for _ in started]
        for process in started:
            process.join(timeout=60)
        errors = [text for text in outcomes if text != "ok"]
        assert errors == [], f"round {round_}: {errors}"
        rows = raw_rows(target, "SELECT version, name FROM schema_migrations ORDER BY 1")
        assert rows == list(SCHEMA)
        if cluster is not None:
            cluster.drop_database(target)
