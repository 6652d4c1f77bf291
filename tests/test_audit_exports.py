"""`distrib log` exports, parsed back and compared with the log itself; formula neutralisation."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from audit_helpers import PEOPLE, Clock, add_run, open_log
from distrib.audit import LOG_COLUMNS
from distrib.cli import app
from distrib.deliverylog.records import NewBounce
from distrib.export import neutralise

runner = CliRunner()

TIME_COLUMNS = {"attempted_at", "sent_at", "bounced_at", "updated_at"}


def distrib(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[Path]:
    clock = Clock()
    path = tmp_path / "distrib-log.sqlite"
    with open_log(path, clock) as log:
        run = add_run(log, clock)
        alice = next(m for m in log.messages(run.id) if m.recipient.startswith("alice"))
        # A hostile bounce: its text is data from outside and must not become a formula.
        log.record_bounce(
            NewBounce(message=alice.id, notice="<n1@x>", recipient=alice.address, kind="soft",
                      action="failed", matched_by="message-id", source="mbox#1",
                      status="5.7.1", diagnostic="=cmd|' /C calc'!A0")
        )  # fmt: skip
    yield path


def truth(path: Path) -> list[dict[str, Any]]:
    """What the log holds, read with plain SQL (independently of the audit module)."""
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        rows = []
        for m in conn.execute(
            "SELECT m.*, r.campaign FROM messages m JOIN runs r ON r.id = m.run_id ORDER BY m.id"
        ):
            last = conn.execute(
                "SELECT * FROM attempts WHERE message = ? ORDER BY id DESC LIMIT 1", (m["id"],)
            ).fetchone()
            bounce = conn.execute("SELECT * FROM bounces WHERE message = ?", (m["id"],)).fetchone()
            row = dict(m)
            row["run"] = m["run_id"]
            row["enhanced_code"] = last["enhanced_code"] if last else None
            row["server"] = last["server"] if last else None
            row["attempted_at"] = last["finished_at"] if last else None
            row["bounce"] = bounce["kind"] if bounce else None
            row["bounce_status"] = bounce["status"] if bounce else None
            row["bounce_reply"] = bounce["diagnostic"] if bounce else None
            row["bounced_at"] = (bounce["arrived_at"] or bounce["recorded_at"]) if bounce else None
            rows.append(row)
        return rows
    finally:
        conn.close()


def same_instant(exported: object, stored: object) -> bool:
    if stored is None:
        return exported in (None, "")
    return datetime.fromisoformat(str(exported)) == datetime.fromisoformat(str(stored))


def test_csv_export_matches_the_log_cell_for_cell(log_file: Path) -> None:
    code, text = distrib("log", "--log", str(log_file), "-f", "csv", "--tz", "America/Montreal")
    assert code == 0, text
    rows = list(csv.DictReader(io.StringIO(text)))
    expected = truth(log_file)
    assert len(rows) == len(expected) == len(PEOPLE)
    assert list(rows[0]) == list(LOG_COLUMNS)
    for got, want in zip(rows, expected, strict=True):
        for column in LOG_COLUMNS:
            if column in TIME_COLUMNS:
                assert same_instant(got[column], want[column]), column
                if want[column]:
                    assert got[column].endswith("-05:00")
            else:
                value = want[column]
                assert got[column] == ("" if value is None else str(neutralise(value))), column


def test_json_export_matches_the_log_and_keeps_data_as_is(log_file: Path) -> None:
    code, text = distrib("log", "--log", str(log_file), "--format", "json", "--tz", "UTC")
    assert code == 0, text
    rows = json.loads(text)
    expected = truth(log_file)
    assert [list(r) for r in rows] == [[*LOG_COLUMNS, "attempt_log"]] * len(expected)
    for got, want in zip(rows, expected, strict=True):
        for column in LOG_COLUMNS:
            assert got[column] == want[column], column  # UTC: the stored strings exactly
        assert len(got["attempt_log"]) == want["attempts"]
    alice = next(r for r in rows if r["recipient"].startswith("alice"))
    assert alice["outlet"] == '=HYPERLINK("x")'  # JSON is for programs: not neutralised
    assert alice["bounce_reply"] == "=cmd|' /C calc'!A0"


def test_xlsx_export_matches_the_log_and_holds_no_formula(log_file: Path, tmp_path: Path) -> None:
    target = tmp_path / "log.xlsx"
    code, out = distrib("log", "--log", str(log_file), "-f", "xlsx", "-o", str(target))
    assert code == 0, out
    assert f"Wrote {len(PEOPLE)} row(s)" in out
    sheet = load_workbook(target).active
    assert sheet is not None
    values = list(sheet.iter_rows(values_only=True))
    assert values[0] == LOG_COLUMNS
    for got, want in zip(values[1:], truth(log_file), strict=True):
        cells = dict(zip(LOG_COLUMNS, got, strict=True))
        for column in LOG_COLUMNS:
            if column in TIME_COLUMNS:
                assert same_instant(cells[column], want[column]), column
            elif want[column] is None:
                assert cells[column] in (None, ""), column
            else:
                assert cells[column] == neutralise(want[column]), column
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def test_formula_like_cells_are_neutralised_in_csv(log_file: Path) -> None:
    code, text = distrib("log", "--log", str(log_file), "-f", "csv", "-s", "bounced")
    assert code == 0, text
    (row,) = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    assert row["outlet"] == '\'=HYPERLINK("x")'
    assert row["bounce_reply"] == "'=cmd|' /C calc'!A0"


def test_attempts_export(log_file: Path) -> None:
    code, text = distrib("log", "--log", str(log_file), "--attempts", "-f", "json", "--tz", "UTC")
    assert code == 0, text
    rows = json.loads(text)
    conn = sqlite3.connect(log_file)
    try:
        stored = conn.execute(
            "SELECT started_at, finished_at, server, outcome, reply_code, enhanced_code,"
            " reply_text FROM attempts ORDER BY id"
        ).fetchall()
    finally:
        conn.close()
    assert [
        (r["started_at"], r["finished_at"], r["server"], r["outcome"], r["reply_code"],
         r["enhanced_code"], r["reply_text"]) for r in rows
    ] == stored  # fmt: skip


def test_filters_on_the_command_line(log_file: Path) -> None:
    def recipients(*args: str) -> list[str]:
        code, text = distrib("log", "--log", str(log_file), "-f", "json", *args)
        assert code == 0, text
        return [r["recipient"] for r in json.loads(text)]

    assert recipients("--language", "en", "--status", "sent") == [
        "sam.okafor@river.example", "omar@mtl.radio-est.example"
    ]  # fmt: skip
    assert recipients("--outlet", "RADIO EST", "--outlet", "le fleuve", "-s", "deferred") == [
        "lina@radio-est.example"
    ]
    assert recipients("--domain", "fleuve.example", "--address", "marc") == [
        "Marc.Tremblay@fleuve.example"
    ]
    assert recipients(
        "--since", "2027-02-02 09:00:01 America/Montreal", "--until", "2027-02-02T14:00:02Z"
    ) == ["sam.okafor@river.example", "noemie@river.example"]
    assert recipients("all", "--address", "zoe") == ["zoe.belanger@fleuve.example"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "2027-02-02 09:00"], "--since: '2027-02-02 09:00' has no time zone"),
        (["--until", "demain"], "--until: 'demain' is not a date"),
        (["--tz", "Montreal"], "--tz: unknown time zone"),
        (["-f", "xlsx"], "--format xlsx needs --output FILE"),
        (["--status", "lost"], "unknown state(s): lost"),
    ],
)
def test_usage_mistakes_are_clear(log_file: Path, args: list[str], message: str) -> None:
    code, out = distrib("log", "--log", str(log_file), *args)
    assert code == 2, out
    assert message in out and "Traceback" not in out


def test_the_table_shows_bounces_and_times(log_file: Path) -> None:
    code, out = distrib("log", "--log", str(log_file), "--tz", "America/Montreal", "-a", "alice")
    assert code == 0, out
    assert "soft bounce:" in out and "5.7.1" in out and "09:00:02-05:00" in out


def test_runs_lists_each_run_with_counts_and_exports(log_file: Path) -> None:
    code, out = distrib("runs", "--log", str(log_file), "--tz", "America/Montreal")
    assert code == 0, out
    assert "printemps" in out and "09:00:00-05:00" in out and "09:00:04-05:00" in out
    assert "4 s" in out and "bounced 1," in out and "sent 4," in out
    code, text = distrib("runs", "--log", str(log_file), "-f", "json")
    assert code == 0, text
    (run,) = json.loads(text)
    assert run["campaign"] == "printemps" and run["messages"] == len(PEOPLE)
    assert (run["sent"], run["bounced"], run["failed"], run["unknown"]) == (4, 1, 1, 1)
    assert (run["deferred"], run["suppressed"]) == (1, 1)
