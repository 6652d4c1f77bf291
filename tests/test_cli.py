"""The CLI's other journeys: help, init, contacts check, preview, runs/log/report, sink."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
import typer
from openpyxl import load_workbook
from typer.testing import CliRunner

from campaign_helpers import EXPECTED, CampaignFiles, write_campaign
from distrib.cli import app
from distrib.sink import CaptureSink
from smtp_server import SMTPTestServer, build_message

runner = CliRunner()


def distrib(*args: str, cwd: Path | None = None) -> tuple[int, str]:
    old = Path.cwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        result = runner.invoke(app, list(args))
    finally:
        os.chdir(old)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def all_commands() -> list[tuple[str, Any]]:
    # Typer vendors its own click, so walk the command tree by duck typing.
    found: list[tuple[str, Any]] = []

    def walk(prefix: str, command: Any) -> None:
        found.append((prefix, command))
        for name, sub in getattr(command, "commands", {}).items():
            walk(f"{prefix} {name}".strip(), sub)

    walk("", typer.main.get_command(app))
    return found


@pytest.mark.parametrize(("name", "command"), all_commands(), ids=lambda v: str(v) or "distrib")
def test_every_command_and_option_has_help(name: str, command: Any) -> None:
    assert command.help, f"`distrib {name}` has no help text"
    for param in command.params:
        if param.param_type_name == "option":
            assert param.help, f"`distrib {name}` option {param.opts} has no help"


def test_expected_commands_exist() -> None:
    names = {name for name, _ in all_commands()}
    for expected in ("init", "contacts check", "preview", "send", "sink", "runs", "log", "report"):
        assert expected in names


def test_version() -> None:
    code, out = distrib("--version")
    assert code == 0 and re.fullmatch(r"distrib \d+\.\d+\.\d+\n", out)


def test_init_writes_a_workspace_that_sends_to_the_sink(tmp_path: Path) -> None:
    folder = tmp_path / "press"
    code, out = distrib("init", str(folder))
    assert code == 0, out
    for name in (
        "distrib.toml",
        "contacts.csv",
        "releases/premier-communique/fr.md",
        "releases/premier-communique/en.md",
        "releases/premier-communique/release.toml",
    ):
        assert (folder / name).is_file(), name
    # The built-in templates are used: no copy of them to keep up to date.
    assert not (folder / "templates").exists()
    assert "distrib sink" in out
    # The starter talks to `distrib sink` on 127.0.0.1:2525; point it at a free port for the test.
    with CaptureSink(tmp_path / "maildir", port=0) as sink:
        workspace = folder / "distrib.toml"
        workspace.write_text(workspace.read_text().replace("port = 2525", f"port = {sink.port}"))
        code, out = distrib("send", str(folder / "releases" / "premier-communique"), "--yes")
        assert code == 0, out
        # Sent to the local capture server, as the starter means; the summary says the release
        # is still the sample one (a warning: it does not stop the send).
        assert "not written yet: the release still holds the starter's text:" in out
        assert re.search(r"premier-communique/fr\.md:2: \d+ lines are still the starter", out)
        assert sorted(m.rcpt_tos for m in sink.captured) == [
            ("camille.fortin@journal.example",),
            ("sam.okafor@dailyriver.example",),
        ]
    # Never overwrites.
    code, out = distrib("init", str(folder))
    assert code == 1 and "already exists" in out


def test_contacts_check_accounts_for_every_row(tmp_path: Path) -> None:
    files = write_campaign(tmp_path / "c", port=2525)
    code, out = distrib("contacts", "check", str(files.campaign))
    assert code == 0, out
    # French CSV: 5 data rows (+1 blank), English sheet: 5 rows.
    assert "Accounting: 10 rows read = 5 accepted + 1 duplicates + 2 rejected + 2 suppressed" in out
    assert re.search(r"medias\.csv:4:Courriel: .*pas-une-adresse@", out)
    assert re.search(r"english\.xlsx:Sheet:4:First Name: .*(carriage return|line feed)", out)
    assert "cp1252" in out


def test_contacts_check_names_a_source_without_an_address_column(tmp_path: Path) -> None:
    files = write_campaign(tmp_path / "c", port=2525)
    (files.folder / "medias.csv").write_text("Nom;Média\nRoy;Radio\n", encoding="utf-8")
    code, out = distrib("contacts", "check", str(files.campaign))
    assert code == 1
    assert "medias.csv" in out and "Nom" in out
    assert "Traceback" not in out


def test_bad_campaign_file_is_reported_with_key(tmp_path: Path) -> None:
    files = write_campaign(tmp_path / "c", port=2525)
    files.campaign.write_text(files.campaign.read_text().replace("rate = 0", "rate = -1"))
    code, out = distrib("send", str(files.campaign), "--yes")
    assert code == 1
    assert "campaign.toml: limits.rate:" in out


def test_preview_writes_every_message_and_an_index(tmp_path: Path) -> None:
    files = write_campaign(tmp_path / "c", port=2525)
    out_dir = tmp_path / "preview"
    code, out = distrib("preview", str(files.campaign), "--out", str(out_dir))
    assert code == 0, out
    assert "Wrote 5 messages" in out
    assert len(list(out_dir.glob("*.eml"))) == 5
    index = (out_dir / "index.html").read_text(encoding="utf-8")
    for address in EXPECTED:
        assert address in index


@pytest.fixture
def sent(tmp_path: Path, smtp_server: SMTPTestServer) -> CampaignFiles:
    files = write_campaign(tmp_path / "c", port=smtp_server.port)
    smtp_server.script("RCPT", "550 5.1.1 no such user", address="noemie@river.example")
    code, out = distrib("send", str(files.campaign), "--yes")
    assert code == 3, out
    return files


def test_runs_lists_runs_with_counts(sent: CampaignFiles) -> None:
    code, out = distrib("runs", "--campaign", str(sent.campaign))
    assert code == 0, out
    assert re.search(r"\b1\s+.*quays\s+.*finished", out)
    assert "failed 1, sent 4" in out


def test_log_formats_round_trip(sent: CampaignFiles, tmp_path: Path) -> None:
    code, text = distrib("log", "1", "--log", str(sent.log), "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert {r["recipient"].strip() for r in rows} >= {"zoe.belanger@fleuve.example"}
    assert len(rows) == 5
    code, text = distrib(
        "log", "latest", "--log", str(sent.log), "--format", "json", "-s", "failed"
    )
    assert code == 0
    (failed,) = json.loads(text)
    assert failed["recipient"] == "noemie@river.example" and failed["reply_code"] == 550
    target = tmp_path / "log.xlsx"
    code, out = distrib("log", "--log", str(sent.log), "-f", "xlsx", "-o", str(target))
    assert code == 0, out
    sheet = load_workbook(target).active
    assert sheet is not None
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][:2] == ("run", "recipient") and len(values) == 6


def test_log_export_neutralises_formulas(sent: CampaignFiles) -> None:
    code, text = distrib("log", "--log", str(sent.log), "--format", "csv")
    assert code == 0
    outlets = [r["outlet"] for r in csv.DictReader(io.StringIO(text.lstrip("\ufeff")))]
    assert '\'=HYPERLINK("x")' in outlets


def test_log_rejects_unknown_states_and_runs(sent: CampaignFiles) -> None:
    code, out = distrib("log", "--log", str(sent.log), "--status", "lost")
    assert code == 2 and "unknown state" in out
    code, out = distrib("log", "7", "--log", str(sent.log))
    assert code == 1 and "no run 7" in out


def test_report_counts_by_state_language_and_outlet(sent: CampaignFiles) -> None:
    code, out = distrib("report", "--campaign", str(sent.campaign))
    assert code == 0, out
    assert "By state: sent 4, failed 1 (total 5)" in out
    assert "noemie@river.example  550 RCPT TO: 550 5.1.1 no such user" in out
    assert "The Daily River" in out


def test_audit_without_a_log_is_a_clear_error(tmp_path: Path) -> None:
    code, out = distrib("runs", cwd=tmp_path)
    assert code == 1
    assert "no delivery log here" in out


def test_sink_command_prints_one_line_per_message(tmp_path: Path) -> None:
    maildir = tmp_path / "mail"
    with subprocess.Popen(
        [sys.executable, "-m", "distrib", "sink", "--port", "0", "--maildir", str(maildir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            ready = proc.stdout.readline()
            match = re.search(r"listening on 127\.0\.0\.1:(\d+)", ready)
            assert match, ready
            message = build_message(
                "presse@quais.example", "zoe@fleuve.example", subject="Allô Zoé"
            )
            aiosmtplib_send(int(match.group(1)), message)
            line = proc.stdout.readline()
            assert "zoe@fleuve.example" in line and "Allô Zoé" in line
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    assert len(list((maildir / "new").iterdir())) == 1


def aiosmtplib_send(port: int, message: bytes) -> None:
    import asyncio

    asyncio.run(
        aiosmtplib.send(
            message,
            sender="presse@quais.example",
            recipients=["zoe@fleuve.example"],
            hostname="127.0.0.1",
            port=port,
            start_tls=False,
        )
    )
