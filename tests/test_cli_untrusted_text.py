"""Text from relays and contact files, printed and exported by the real CLI (issue 10).

Defect 9: an SMTP reply holding terminal escape sequences reached the terminal raw in `send`'s
report, `report`, `log`, the "Suggested for suppression" lines, `contacts history`...  Every
string the CLI prints now shows control characters as visible escapes (``\\x1b``).

Defect 10: the same reply, or a contact cell holding BEL/SOH/VT/FF, made `log -f xlsx` and
`contacts merge -o x.xlsx` crash (openpyxl's IllegalCharacterError): XML cannot hold them.
They are written as the same visible escapes, and formula neutralisation still applies.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bad_inputs import Result, run_distrib, write_campaign
from smtp_server import SMTPTestServer

# SGR colour, an OSC window title ended by BEL, a CSI clear-screen and an 8-bit CSI (U+009B).
REPLY = "550 5.1.1 \x1b[31mred\x1b]0;owned\x07 \x1b[2J\x9b2J no such user"
DEFERRAL = "451 4.7.1 \x1b[5mblink\x07 try later\rOVERWRITTEN"
SHOWN = "\\x1b[31mred\\x1b]0;owned\\x07 \\x1b[2J\\x9b2J no such user"


def no_control_bytes(result: Result) -> None:
    for name, text in (("stdout", result.stdout), ("stderr", result.stderr)):
        for char in ("\x1b", "\x07", "\x9b", "\r"):
            assert char not in text, f"{char!r} in {name}:\n{text}"
    assert "Traceback" not in result.output


@dataclass(frozen=True)
class Sent:
    campaign: Path
    result: Result


@pytest.fixture(scope="module")
def sent(tmp_path_factory: pytest.TempPathFactory) -> Sent:
    """A campaign sent to a relay that refuses one address and defers another, in colour.

    Sent once for the module: the tests below only read its log and its report (the audit
    commands are read-only: test_deliverylog_opening.py), each in a fresh process.
    """
    folder = tmp_path_factory.mktemp("sent")
    server = SMTPTestServer().start()
    try:
        server.script("RCPT", REPLY, address="luc@fleuve.example")
        server.script("RCPT", DEFERRAL, address="ana@fleuve.example")
        (folder / "list.csv").write_text(
            "Courriel,Nom\nzoe@fleuve.example,Zoé\nluc@fleuve.example,Luc\nana@fleuve.example,Ana\n",
            encoding="utf-8",
        )
        campaign = write_campaign(
            folder, ["list.csv"], smtp=f"port = {server.port}", limits="retries = 0"
        )
        result = run_distrib("send", campaign, "--yes", cwd=folder)
    finally:
        server.stop()
    assert result.code == 3, result.output  # the run finished with a failure and a deferral
    return Sent(campaign, result)


def test_the_send_report_shows_replies_escaped(sent: Sent) -> None:
    out = sent.result.stdout
    no_control_bytes(sent.result)
    assert f"luc@fleuve.example  550 RCPT TO: 550 5.1.1 {SHOWN}" in out
    # "No such user": suppressed by the send itself (no file to paste), said in the report.
    assert "Suggested for suppression" not in out
    assert "1 address(es) suppressed: no such user" in " ".join(out.split())
    assert "try later\\x0dOVERWRITTEN" in out  # a CR that would overwrite the line


@pytest.mark.parametrize(
    "command",
    [
        ("report",),
        ("log",),
        ("log", "--attempts"),
        ("log", "--status", "failed"),
        ("runs",),
        ("resolve", "latest"),
        ("contacts", "history", "luc@fleuve.example"),
        ("contacts", "history", "ana@fleuve.example"),
    ],
    ids=" ".join,
)
def test_audit_commands_never_print_control_characters(
    sent: Sent, command: tuple[str, ...]
) -> None:
    campaign = sent.campaign
    result = run_distrib(*command, "-c", campaign, cwd=campaign.parent)
    assert result.code == 0, result.output
    no_control_bytes(result)


def test_the_report_shows_the_escapes(sent: Sent) -> None:
    result = run_distrib("report", "-c", sent.campaign, cwd=sent.campaign.parent)
    assert SHOWN in result.stdout


def test_log_exports_to_xlsx_with_visible_escapes(sent: Sent) -> None:
    out = sent.campaign.parent / "log.xlsx"
    result = run_distrib("log", "-c", sent.campaign, "-f", "xlsx", "-o", out, cwd=out.parent)
    assert result.code == 0, result.output
    sheet = load_workbook(out).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    header = rows[0]
    replies = {row[header.index("address")]: row[header.index("reply_text")] for row in rows[1:]}
    # The log holds replies with their control characters already made visible (they are
    # untrusted bytes, scrubbed as they arrive: `distrib.send.replies`), and so does the export.
    assert replies["luc@fleuve.example"] == f"RCPT TO: 550 5.1.1 {SHOWN}"
    assert replies["ana@fleuve.example"].endswith("\\x1b[5mblink\\x07 try later\\x0dOVERWRITTEN")


def test_csv_exports_keep_the_text_as_it_is(sent: Sent) -> None:
    # Piped, it is data: every character as the log holds it (the relay's control characters
    # were made visible when the reply arrived; nothing raw was ever stored).
    result = run_distrib("log", "-c", sent.campaign, "-f", "csv", cwd=sent.campaign.parent)
    assert result.code == 0
    assert f"550 5.1.1 {SHOWN}" in result.stdout
    assert REPLY not in result.stdout


NOTES = "\x07bell \x01soh \x0bvt \x0cff"


def test_contacts_merge_to_xlsx_escapes_control_characters(tmp_path: Path) -> None:
    (tmp_path / "list.csv").write_text(
        "Courriel,Nom,Notes,Formule\n"
        f"zoe@fleuve.example,Zoé,{NOTES},=1+1\n"
        "luc@fleuve.example,Lu\x07c,ok,x\n",  # rejected (control character in a name)
        encoding="utf-8",
    )
    campaign = write_campaign(tmp_path, ["list.csv"])
    out = tmp_path / "merged.xlsx"
    result = run_distrib("contacts", "merge", campaign, "-o", out, cwd=tmp_path)
    assert result.code == 0, result.output
    no_control_bytes(result)
    merged = load_workbook(out).active
    assert merged is not None
    rows = list(merged.iter_rows(values_only=True))
    zoe = dict(zip(rows[0], rows[1], strict=True))
    assert zoe["notes"] == "\\x07bell \\x01soh \\x0bvt \\x0cff"
    assert zoe["formule"] == "'=1+1"  # still neutralised
    assert all(cell.data_type != "f" for row in merged.iter_rows() for cell in row)
    rejects = load_workbook(tmp_path / "merged.rejects.xlsx").active
    assert rejects is not None
    assert len(list(rejects.iter_rows())) == 2  # the header and Luc's row
