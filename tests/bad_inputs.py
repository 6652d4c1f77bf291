"""Bad inputs, written for real, and the real `distrib` command to run on them.

Workbooks are written by hand with `zipfile` (minimal SpreadsheetML and OpenDocument XML), so a
test can put one cell at XFD1048576 or repeat a cell 16,384 times without any binary fixture.
`run_distrib` runs the command's entry point (`distrib.cli.main`, what ``.venv/bin/distrib``
calls) in a child process with an address-space limit: if a regression lets a reader allocate
gigabytes, that process fails, not the machine (nor the test process).  The child is forked
from a server that has imported distrib already (`forked`): the same command in its own
process, without a second of imports each time.
"""

from __future__ import annotations

import os
import socketserver
import sys
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path

from forked import run_distrib_forked

DISTRIB = Path(sys.executable).with_name("distrib")
#: Far more than distrib needs for any test input, far less than a dimension bomb asks for.
MEMORY_LIMIT = 2 << 30

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_OFFICE_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"


@dataclass(frozen=True)
class Result:
    """What one run of `distrib` did."""

    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """Standard output and standard error together."""
        return self.stdout + self.stderr


def run_distrib(
    *args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None
) -> Result:
    """Run ``distrib ARGS`` for real; no terminal, no standard input."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DISTRIB_")}
    environ.update(env or {})
    code, out, err = run_distrib_forked(
        args,
        env=environ,
        cwd=cwd,
        memory_limit=MEMORY_LIMIT,
        timeout=600,  # not a timing assertion: a hang fails instead of blocking the suite
    )
    return Result(
        code, out.decode("utf-8", "backslashreplace"), err.decode("utf-8", "backslashreplace")
    )


def _inline(reference: str, text: str) -> str:
    return f'<c r="{reference}" t="inlineStr"><is><t>{text}</t></is></c>'


def sheet_xml(cells: list[tuple[str, str]], *, dimension: str | None = None) -> str:
    """A worksheet with inline-string cells at the given references, rows in order."""
    rows: dict[int, list[str]] = {}
    for reference, text in cells:
        row = int(reference.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
        rows.setdefault(row, []).append(_inline(reference, text))
    data = "".join(f'<row r="{r}">{"".join(c)}</row>' for r, c in sorted(rows.items()))
    return sheet_data_xml(data, dimension=dimension)


def sheet_data_xml(data: str, *, dimension: str | None = None) -> str:
    """A worksheet around ``data``, the hand-written content of <sheetData>."""
    declared = f'<dimension ref="{dimension}"/>' if dimension else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{_MAIN}">{declared}'
        f"<sheetData>{data}</sheetData></worksheet>"
    )


def write_xlsx_xml(path: Path, sheets: dict[str, str]) -> Path:
    """Write a workbook whose sheets are the given worksheet XML documents, by name."""
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for i in range(1, len(sheets) + 1)
    )
    types = (
        '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
        'package/2006/content-types"><Default Extension="rels" ContentType="application/'
        'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
        'ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="'
        'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        f"{overrides}</Types>"
    )
    root_rels = (
        f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_PKG_REL}">'
        f'<Relationship Id="rId1" Type="{_OFFICE_REL}/officeDocument" '
        'Target="xl/workbook.xml"/></Relationships>'
    )
    entries = "".join(
        f'<sheet name="{name}" sheetId="{i}" r:id="rId{i}"/>'
        for i, name in enumerate(sheets, start=1)
    )
    book = (
        f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{_MAIN}" '
        f'xmlns:r="{_OFFICE_REL}"><sheets>{entries}</sheets></workbook>'
    )
    links = "".join(
        f'<Relationship Id="rId{i}" Type="{_OFFICE_REL}/worksheet" '
        f'Target="worksheets/sheet{i}.xml"/>'
        for i in range(1, len(sheets) + 1)
    )
    book_rels = (
        f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_PKG_REL}">'
        f"{links}</Relationships>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", types)
        archive.writestr("_rels/.rels", root_rels)
        archive.writestr("xl/workbook.xml", book)
        archive.writestr("xl/_rels/workbook.xml.rels", book_rels)
        for i, xml in enumerate(sheets.values(), start=1):
            archive.writestr(f"xl/worksheets/sheet{i}.xml", xml)
    return path


def write_xlsx_cells(
    path: Path, cells: list[tuple[str, str]], *, sheet: str = "Media", dimension: str | None = None
) -> Path:
    """Write a one-sheet workbook with just these cells (a header and an address first)."""
    head = [("A1", "Email"), ("A2", "zoe@fleuve.example")]
    return write_xlsx_xml(path, {sheet: sheet_xml(head + cells, dimension=dimension)})


def ods_cell(text: str | None, repeat: int = 1) -> str:
    """One ODS cell (empty when ``text`` is None), repeated across ``repeat`` columns."""
    times = f' table:number-columns-repeated="{repeat}"' if repeat > 1 else ""
    if text is None:
        return f"<table:table-cell{times}/>"
    return (
        f'<table:table-cell{times} office:value-type="string"><text:p>{text}</text:p>'
        "</table:table-cell>"
    )


def ods_row(cells: list[str], repeat: int = 1) -> str:
    """One ODS row of ``cells``, repeated down ``repeat`` rows."""
    times = f' table:number-rows-repeated="{repeat}"' if repeat > 1 else ""
    return f"<table:table-row{times}>{''.join(cells)}</table:table-row>"


def write_ods_rows(path: Path, rows: list[str], *, table: str = "Media") -> Path:
    """Write an ODS file with one table: a header, an address, then the given rows."""
    head = [ods_row([ods_cell("Email")]), ods_row([ods_cell("zoe@fleuve.example")])]
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f'<office:body><office:spreadsheet><table:table table:name="{table}">'
        f"{''.join(head + rows)}</table:table></office:spreadsheet></office:body>"
        "</office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="'
        'urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/'
        'vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry manifest:full-path='
        '"content.xml" manifest:media-type="text/xml"/></manifest:manifest>'
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet"
        )
        archive.writestr("META-INF/manifest.xml", manifest)
        archive.writestr("content.xml", content)
    return path


RELEASE = {
    "fr.md": "---\ntitle: Titre\nsubject: Sujet\ndateline: MONTRÉAL –\n---\nTexte.\n",
    "en.md": "---\ntitle: Title\nsubject: Subject\ndateline: MONTRÉAL –\n---\nText.\n",
}


def _with_defaults(given: str, defaults: dict[str, str]) -> str:
    """``given`` lines, then each default whose key ``given`` does not set."""
    keys = {line.partition("=")[0].strip() for line in given.splitlines() if "=" in line}
    rest = [f"{key} = {value}" for key, value in defaults.items() if key not in keys]
    return "\n".join([given, *rest])


def write_campaign(
    folder: Path, sources: list[str], *, extra: str = "", smtp: str = "", limits: str = ""
) -> Path:
    """Write a campaign over ``sources`` (files in ``folder``) that sends to 127.0.0.1:2525;
    ``smtp`` and ``limits`` lines replace the defaults they name, ``extra`` goes at the top."""
    (folder / "release").mkdir(parents=True, exist_ok=True)
    for name, text in RELEASE.items():
        (folder / "release" / name).write_text(text, encoding="utf-8")
    listed = ", ".join(f'"{s}"' for s in sources)
    smtp = _with_defaults(smtp, {"host": '"127.0.0.1"', "port": "2525", "security": '"none"'})
    limits = _with_defaults(limits, {"rate": "0", "retry_delay": "0.01", "max_retry_delay": "0.05"})
    campaign = folder / "campaign.toml"
    campaign.write_text(
        f'name = "bad-inputs"\nrelease = "release"\nsources = [{listed}]\n{extra}\n'
        '[sender]\nname = "Presse"\naddress = "presse@quais.example"\n'
        'organisation = "Quais"\npostal_address = "10, rue du Port, Montréal"\n'
        f"[smtp]\n{smtp}\n[limits]\n{limits}\n",
        encoding="utf-8",
    )
    return campaign


class RawSMTP:
    """A bare SMTP server on 127.0.0.1 that answers RCPT with exactly the bytes it is given
    (invalid UTF-8, escape sequences: what aiosmtpd, which writes text, cannot send).
    Everything else is accepted; it relays nothing."""

    def __init__(self, rcpt_reply: bytes) -> None:
        reply = rcpt_reply

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                self.wfile.write(b"220 raw.example ESMTP\r\n")
                while line := self.rfile.readline():
                    verb = line[:4].upper()
                    if verb in (b"EHLO", b"HELO"):
                        self.wfile.write(b"250-raw.example\r\n250 8BITMIME\r\n")
                    elif verb == b"RCPT":
                        self.wfile.write(reply)
                    elif verb == b"DATA":
                        self.wfile.write(b"354 go ahead\r\n")
                        while self.rfile.readline() not in (b".\r\n", b""):
                            pass
                        self.wfile.write(b"250 2.0.0 OK\r\n")
                    elif verb == b"QUIT":
                        self.wfile.write(b"221 2.0.0 bye\r\n")
                        return
                    else:
                        self.wfile.write(b"250 2.0.0 OK\r\n")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> RawSMTP:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()
