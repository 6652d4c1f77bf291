"""An older SQLite delivery log (as the first release wrote it) opens and is upgraded in place,
without losing a row; read commands never upgrade it.  (The same on both adapters, and the race
of processes creating one log: tests/contract/test_contract_migrations.py.)"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from distrib import __version__
from distrib.audit import log_entries
from distrib.cli import app
from distrib.deliverylog import open_log
from distrib.deliverylog.records import HARD_BOUNCE, NewBounce
from distrib.deliverylog.sqlite.migrations import MIGRATIONS, migrate

V1_TABLES = ("runs", "messages", "attempts")


def write_v1_log(path: Path) -> None:
    """A log as the first release wrote it: only migration 1, with a finished run in it."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        # The migrations table as the first release made it (before it recorded distrib's version).
        conn.execute(
            "CREATE TABLE schema_migrations ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        for statement in MIGRATIONS[0].sql.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(
            "INSERT INTO schema_migrations VALUES (1, ?, '2026-01-10T13:59:00+00:00')",
            (MIGRATIONS[0].name,),
        )
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

    with open_log(path, create=False) as log:
        versions = [v for v, _, _ in log.migrations()]
        assert versions == sorted(m.version for m in MIGRATIONS)
        assert log.upgraded == tuple(versions[1:])
        # Who applied each migration is recorded from now on; the first release did not say.
        by = [by for _, _, by in log.migrations()]
        assert by == [None] + [__version__] * (len(versions) - 1)
        # The old rows read through today's API and audit queries.
        entries = log_entries(log, 1)
        assert [e.status for e in entries] == ["sent", "failed", "unknown", "suppressed"]
        assert entries[0].enhanced_code == "2.0.0" and entries[0].campaign == "hiver"
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
    # Every old column keeps its value; later migrations only add columns (empty for old rows).
    attempt_width = len(before["attempts"][0])
    assert [r[:attempt_width] for r in after["attempts"]] == before["attempts"]
    assert all(v is None for r in after["attempts"] for v in r[attempt_width:])
    width = len(before["messages"][0])
    unchanged = [r[:width] for r in after["messages"] if r[0] != 3]
    assert unchanged == [r for r in before["messages"] if r[0] != 3]
    assert all(v is None for r in after["messages"] for v in r[width:])


def test_an_upgraded_log_is_not_migrated_twice(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    write_v1_log(path)
    with open_log(path):
        pass
    conn = sqlite3.connect(path)
    try:
        assert migrate(conn) == []
    finally:
        conn.close()


def test_read_commands_read_an_older_log_without_upgrading_it(tmp_path: Path) -> None:
    """Reading must not write: an older log is read as today's distrib sees it, from an upgraded
    copy in memory, and the file stays exactly as it was (it is upgraded by the next send)."""
    path = tmp_path / "old.sqlite"
    write_v1_log(path)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    runner = CliRunner()
    for args, expected in (
        (["runs"], "hiver"),
        (["log", "1", "-f", "csv"], "sam@river.example"),
        (["report", "1"], "Run 1 of hiver"),
        (["suppressions"], "The suppression list is empty."),
        (["contacts", "history", "zoe@fleuve.example"], "1 message(s) in 1 run(s)"),
        (["resolve", "1"], "1 unknown message(s)"),
    ):
        result = runner.invoke(app, [*args, "--log", str(path)])
        assert result.exit_code == 0, (args, result.output)
        assert expected in result.output, (args, result.output)
        assert hashlib.sha256(path.read_bytes()).hexdigest() == before, args
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT version FROM schema_migrations").fetchall() == [(1,)]
    finally:
        conn.close()
