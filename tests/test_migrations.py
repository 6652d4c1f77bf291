"""An older delivery log opens and is upgraded in place, without losing a row."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from audit_helpers import Clock, add_run, open_log
from distrib.audit import log_entries
from distrib.deliverylog import DeliveryLog
from distrib.deliverylog.feedback import HARD_BOUNCE, NewBounce
from distrib.deliverylog.migrations import MIGRATIONS, migrate

V1_TABLES = ("runs", "messages", "attempts")


def write_v1_log(path: Path) -> None:
    """A log as the first release wrote it: only migration 1, with a finished run in it."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        assert migrate(conn, MIGRATIONS[:1]) == [1]
        conn.execute(
            "INSERT INTO runs (id, token, campaign, campaign_file, status, created_at, started_at,"
            " finished_at, settings) VALUES (1, 'a1b2c3d4e5f6', 'hiver', 'hiver/campaign.toml',"
            " 'finished', '2026-01-10T14:00:00.000+00:00', '2026-01-10T14:00:01.000+00:00',"
            " '2026-01-10T14:00:09.000+00:00', '{\"rate\": 5}')"
        )
        for i, (address, status) in enumerate(
            [("zoe@fleuve.example", "sent"), ("sam@river.example", "failed"),
             ("eve@radio.example", "unknown"), ("luc@fleuve.example", "suppressed")],
            start=1,
        ):  # fmt: skip
            conn.execute(
                "INSERT INTO messages (id, run_id, key, recipient, address, name, outlet, language,"
                " provenance, subject, message_id, content_hash, status, reply_code, reply_text,"
                " attempts, created_at, updated_at, sent_at) VALUES (?, 1, ?, ?, ?, 'Nom', 'Média',"
                " 'fr', 'medias.csv:2', 'Communiqué', ?, ?, ?, 250, 'ok', 1,"
                " '2026-01-10T14:00:00.000+00:00', '2026-01-10T14:00:05.000+00:00', NULL)",
                (i, address, address, address, f"<id{i}@quais.example>", f"{i:064x}", status),
            )
            conn.execute(
                "INSERT INTO attempts (message, started_at, finished_at, server, outcome,"
                " reply_code, enhanced_code, reply_text) VALUES (?,"
                " '2026-01-10T14:00:02.000+00:00', '2026-01-10T14:00:03.000+00:00', 'relay:587',"
                " ?, 250, '2.0.0', 'ok')",
                (i, status),
            )
    finally:
        conn.close()


def snapshot(path: Path) -> dict[str, list[tuple[object, ...]]]:
    conn = sqlite3.connect(path)
    try:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY id").fetchall() for t in V1_TABLES}
    finally:
        conn.close()


def test_a_version_1_log_opens_upgraded_without_loss(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    write_v1_log(path)
    before = snapshot(path)
    assert sum(len(rows) for rows in before.values()) == 9

    with DeliveryLog.open(path, create=False) as log:
        versions = [r[0] for r in log.query("SELECT version FROM schema_migrations ORDER BY 1")]
        assert versions == sorted(m.version for m in MIGRATIONS)
        # The old rows read through today's API and audit queries.
        entries = log_entries(log, 1)
        assert [e["status"] for e in entries] == ["sent", "failed", "unknown", "suppressed"]
        assert entries[0]["enhanced_code"] == "2.0.0" and entries[0]["campaign"] == "hiver"
        # The new tables work on the old data.
        assert log.add_suppression("sam@river.example", "sam@river.example",
                                   reason=HARD_BOUNCE, source="test")  # fmt: skip
        assert log.record_bounce(
            NewBounce(message=3, notice="<n@x>", recipient="eve@radio.example", kind="hard",
                      action="failed", matched_by="message-id", source="test")
        )  # fmt: skip
        assert log.message(3).status == "bounced"

    after = snapshot(path)
    assert after["runs"] == before["runs"]
    assert after["attempts"] == before["attempts"]
    # Every old column keeps its value; later migrations only add columns (empty for old rows).
    width = len(before["messages"][0])
    unchanged = [r[:width] for r in after["messages"] if r[0] != 3]
    assert unchanged == [r for r in before["messages"] if r[0] != 3]
    assert all(v is None for r in after["messages"] for v in r[width:])


def test_an_upgraded_log_is_not_migrated_twice(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    write_v1_log(path)
    with DeliveryLog.open(path):
        pass
    conn = sqlite3.connect(path)
    try:
        assert migrate(conn) == []
    finally:
        conn.close()


def test_audit_migrations_use_their_own_numbers() -> None:
    versions = [m.version for m in MIGRATIONS]
    assert len(set(versions)) == len(versions)
    ours = [m for m in MIGRATIONS if m.name.startswith(("suppression", "bounces"))]
    assert ours and all(10 <= m.version <= 19 for m in ours)


def test_the_audit_tables_are_there_in_a_new_log(tmp_path: Path) -> None:
    clock = Clock()
    with open_log(tmp_path / "new.sqlite", clock) as log:
        add_run(log, clock)
        tables = {r[0] for r in log.query("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"runs", "messages", "attempts", "suppressions", "bounces"} <= tables
