"""No bad input ends in a traceback: the real `distrib` over a corpus of everything that once did.

Each case writes its bad input for real in a temporary folder (bomb workbooks, broken CSV, bad
campaign values, relays answering with escape sequences, invalid UTF-8 or 535, missing files,
folders where files belong...), runs the installed entry point in a subprocess, and checks that
distrib answered like a program and not like a crash: exit code 1 or 2 (3 for a run with
failures), no ``Traceback``, no "unexpected error" (distrib's own last-resort message, which
means a bug), no Rust panic, no terminal escape byte, and never the SMTP password, which is set
in the environment of every case.

To add a case: write a function ``(folder, servers) -> Invocation`` and add a `Case` row to
`CASES`.  A case that fails because of a defect another branch fixes is marked with
``xfail=`` naming the defect (strict: the marker must go once the fix is merged).

The first tests check the last resort itself (issue 10, defect 4): an error nobody expected is
a short message, without local variables (`send` holds the password in one) or values.
"""

from __future__ import annotations

import base64
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bad_inputs import (
    RawSMTP,
    Result,
    ods_cell,
    ods_row,
    run_distrib,
    write_campaign,
    write_ods_rows,
    write_xlsx_cells,
)
from smtp_server import SMTPTestServer, TLSFiles

PASSWORD = "correct-horse-battery-staple-31"
ENV = {"DISTRIB_SMTP_PASSWORD": PASSWORD}
#: The password as it may leak: as is, or in the base64 of an AUTH PLAIN or LOGIN exchange.
SECRETS = (
    PASSWORD,
    base64.b64encode(PASSWORD.encode()).decode(),
    base64.b64encode(f"\0press\0{PASSWORD}".encode()).decode(),
)


# --- The last resort ---------------------------------------------------------------------------

BOOM = """
import os
import sys

from distrib.cli import app, main


@app.command("boom")
def boom() -> None:
    \"\"\"Fail the way a bug would, holding the password in a local variable.\"\"\"
    password = os.environ["DISTRIB_SMTP_PASSWORD"]
    recipients = ["zoe@fleuve.example"]
    raise RuntimeError("the relay said " + recipients[0])


sys.argv = ["distrib", "boom"]
main()
"""


def run_boom(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "boom.py"
    script.write_text(BOOM, encoding="utf-8")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DISTRIB_")}
    return subprocess.run(
        [sys.executable, str(script)],
        env={**environ, **ENV, **env},
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def test_an_unexpected_error_is_a_short_message_not_a_traceback(tmp_path: Path) -> None:
    done = run_boom(tmp_path)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "error: distrib stopped on an unexpected error (RuntimeError in " in done.stderr
    assert "This is a bug in distrib" in done.stderr
    assert "DISTRIB_DEBUG=1" in done.stderr
    # Neither a value nor a local variable: not the password, not the exception's text.
    assert PASSWORD not in done.stdout + done.stderr
    assert "zoe@fleuve.example" not in done.stderr
    assert "password" not in done.stderr


def test_the_debug_traceback_never_shows_local_variables(tmp_path: Path) -> None:
    done = run_boom(tmp_path, DISTRIB_DEBUG="1")
    assert done.returncode == 1
    assert "RuntimeError" in done.stderr  # the traceback, for a bug report
    assert PASSWORD not in done.stdout + done.stderr  # only a locals panel would show it


def test_the_typer_app_is_told_not_to_show_locals() -> None:
    from distrib.cli import app

    assert app.pretty_exceptions_show_locals is False


# --- The corpus ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Invocation:
    """A command line to run, in which folder, with which extra environment."""

    args: tuple[str | Path, ...]
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)


class Servers:
    """Starts the relays a case needs; all stop when the case ends."""

    def __init__(self, stack: ExitStack, tls_files: TLSFiles) -> None:
        self.stack = stack
        self.tls_files = tls_files

    def raw(self, rcpt_reply: bytes) -> int:
        """A relay answering every RCPT with ``rcpt_reply`` (any bytes); return its port."""
        return self.stack.enter_context(RawSMTP(rcpt_reply)).port

    def aiosmtpd(self, **options: object) -> SMTPTestServer:
        """The suite's aiosmtpd test server (see smtp_server.py)."""
        if options.get("tls") is not None:
            options.setdefault("tls_files", self.tls_files)
        server = SMTPTestServer(**options).start()  # type: ignore[arg-type]
        self.stack.callback(server.stop)
        return server


Build = Callable[[Path, Servers], Invocation]


def _list(folder: Path) -> str:
    (folder / "list.csv").write_text(
        "Courriel,Nom\nzoe@fleuve.example,Zoé\nluc@fleuve.example,Luc\n", encoding="utf-8"
    )
    return "list.csv"


def check(source: str, writer: Callable[[Path], object], limits: str = "") -> Build:
    """`contacts check` over one source written by ``writer(folder / source)``."""

    def build(folder: Path, _: Servers) -> Invocation:
        writer(folder / source)
        campaign = write_campaign(folder, [source], extra=limits)
        return Invocation(("contacts", "check", campaign), folder)

    return build


def campaign_with(
    *, smtp: str = "", limits: str = "", extra: str = "", cmd: str = "check"
) -> Build:
    """`contacts check` of a campaign with these lines, or `send --yes` to a relay that
    accepts everything (so that a value the checks let through is really used)."""

    def build(folder: Path, servers: Servers) -> Invocation:
        smtp_lines = f"{smtp}\nport = {servers.raw(ACCEPT)}" if cmd == "send" else smtp
        campaign = write_campaign(
            folder, [_list(folder)], smtp=smtp_lines, limits=limits, extra=extra
        )
        args = ("contacts", "check", campaign) if cmd == "check" else ("send", campaign, "--yes")
        return Invocation(args, folder)

    return build


def send_to_raw(reply: bytes) -> Build:
    """`send --yes` to a relay answering RCPT with ``reply``, then nothing else to do."""

    def build(folder: Path, servers: Servers) -> Invocation:
        port = servers.raw(reply)
        campaign = write_campaign(folder, [_list(folder)], smtp=f"port = {port}")
        return Invocation(("send", campaign, "--yes"), folder)

    return build


def after_send_to_raw(reply: bytes, *command: str) -> Build:
    """Send as `send_to_raw` does, then run an audit ``command`` on the log."""

    def build(folder: Path, servers: Servers) -> Invocation:
        first = send_to_raw(reply)(folder, servers)
        run_distrib(*first.args, cwd=folder, env=ENV)
        return Invocation((*command, "-c", folder / "campaign.toml"), folder)

    return build


def export_to_a_markup_path(folder: Path, servers: Servers) -> Invocation:
    """An export to a path that reads like rich markup, in a folder that does not exist."""
    first = send_to_raw(ACCEPT)(folder, servers)
    run_distrib(*first.args, cwd=folder, env=ENV)
    out = folder / "missing" / "[/bold] list.xlsx"
    return Invocation(("log", "-c", folder / "campaign.toml", "-f", "xlsx", "-o", out), folder)


def refused_login(folder: Path, servers: Servers) -> Invocation:
    """A relay whose 535 echoes the credentials it was sent (base64 of AUTH PLAIN, and plain)."""
    server = servers.aiosmtpd(tls="starttls", users={"press": "another"})
    plain = base64.b64encode(f"\0press\0{PASSWORD}".encode()).decode()
    server.script("AUTH", f"535 5.7.8 Authentication failed: {plain} ({PASSWORD})")
    smtp = (
        f'port = {server.port}\nsecurity = "starttls"\nusername = "press"\n'
        f'ca_file = "{servers.tls_files.ca_file}"'
    )
    campaign = write_campaign(folder, [_list(folder)], smtp=smtp)
    return Invocation(("send", campaign, "--yes"), folder)


def corrupt_log(folder: Path, servers: Servers) -> Invocation:
    """A real delivery log (after a send) with one page overwritten: it opens, a query fails."""
    send = send_to_raw(ACCEPT)(folder, servers)
    run_distrib(*send.args, cwd=folder, env=ENV)
    log = folder / "distrib-log.sqlite"
    with sqlite3.connect(log) as db:  # everything in the main file, nothing in the WAL
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(log.read_bytes())
    data[2 * 4096 : 3 * 4096] = b"\xa5" * 4096  # the third page (SQLite's pages are 4 KiB)
    log.write_bytes(bytes(data))
    return Invocation(("report", "--log", log), folder)


def in_folder(*args: str | Path) -> Build:
    """Run ``args`` as given, in the case's folder, after writing nothing."""

    def build(folder: Path, _: Servers) -> Invocation:
        return Invocation(args, folder)

    return build


def with_file(name: str, content: bytes | None, *args: str) -> Build:
    """Write ``name`` (a folder when ``content`` is None) and run ``args`` on it."""

    def build(folder: Path, _: Servers) -> Invocation:
        path = folder / name
        if content is None:
            path.mkdir()
        else:
            path.write_bytes(content)
        return Invocation((*args, path), folder)

    return build


def source_is_a_folder(folder: Path, _: Servers) -> Invocation:
    campaign = write_campaign(folder, ["list.csv"])
    (folder / "list.csv").mkdir()
    return Invocation(("contacts", "check", campaign), folder)


def broken_front_matter(folder: Path, _: Servers) -> Invocation:
    campaign = write_campaign(folder, [_list(folder)])
    (folder / "release" / "fr.md").write_text(
        "---\ntitle: [Titre\nsubject: : :\n  - x\n---\nTexte.\n", encoding="utf-8"
    )
    return Invocation(("preview", campaign), folder)


def log_of_a_directory(folder: Path, _: Servers) -> Invocation:
    (folder / "log.sqlite").mkdir()
    return Invocation(("runs", "--log", folder / "log.sqlite"), folder)


ACCEPT = b"250 2.1.5 OK\r\n"
ESCAPES = b"550 5.1.1 \x1b[31mred\x1b]0;owned\x07 \x1b[2J\r\n"
INVALID_UTF8 = b"550 5.1.1 \xff\xfe\xc3( no such user \xe9t\xe9\r\n"


def _zip_with_garbage(path: Path) -> None:
    import zipfile

    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("xl/workbook.xml", b"<workbook><sheets><sheet name='A' r:id=")
        archive.writestr("xl/worksheets/sheet1.xml", b"\x00\x01 not xml")


def _unclosed_quote(path: Path) -> None:
    path.write_text('Courriel\n"zoe@fleuve.example\n' + "x" * 200_000 + "\n", encoding="utf-8")


def _ragged(path: Path) -> None:
    text = "Courriel,Nom\nzoe@fleuve.example,Zoé\nluc@fleuve.example,Luc,x," + "y" * 200_000
    path.write_text(text + "\n", encoding="utf-8")


def _wide(path: Path) -> None:
    path.write_text("Courriel" + "," * 100_000 + "\n" + "zoe@x.example\n" * 10_000, "utf-8")


@dataclass(frozen=True)
class Case:
    """One bad input: how to build and run it, and which exit codes are right."""

    id: str
    build: Build
    codes: frozenset[int] = frozenset({1})
    xfail: str | None = None  # the defect (fixed on another branch) that still breaks it


CASES = [
    # Contact files (issue 10, defects 7 and 14).
    Case(
        "xlsx-cell-at-XFD1048576",
        check("bomb.xlsx", lambda p: write_xlsx_cells(p, [("XFD1048576", "x")])),
    ),
    Case(
        "xlsx-cell-at-ZZ100000",
        check("zz.xlsx", lambda p: write_xlsx_cells(p, [("ZZ100000", "x")])),
    ),
    Case(
        "xlsx-declared-dimension",
        check("dim.xlsx", lambda p: write_xlsx_cells(p, [], dimension="A1:XFD1048576")),
    ),
    Case(
        "ods-repeated-everywhere",
        check(
            "bomb.ods", lambda p: write_ods_rows(p, [ods_row([ods_cell("x", 16_384)], 1_048_576)])
        ),
    ),
    Case("xlsx-random-bytes", check("junk.xlsx", lambda p: p.write_bytes(os.urandom(3000)))),
    Case("xlsx-zip-of-garbage", check("junk.xlsx", _zip_with_garbage)),
    Case("ods-empty-file", check("empty.ods", lambda p: p.write_bytes(b""))),
    Case("csv-unclosed-quote", check("list.csv", _unclosed_quote)),
    Case("csv-ragged-long-field", check("list.csv", _ragged)),
    Case("csv-wide-first-row", check("list.csv", _wide)),
    Case("csv-is-a-folder", source_is_a_folder),
    # Campaign files (defect 15).
    Case("retry-delay-inf", campaign_with(limits="retry_delay = inf")),
    Case("retry-delay-nan-send", campaign_with(limits="retry_delay = nan", cmd="send")),
    Case("retry-delay-negative", campaign_with(limits="retry_delay = -5")),
    Case("timeout-inf-send", campaign_with(smtp="timeout = inf", cmd="send")),
    Case(
        "ehlo-name-crlf-send",
        campaign_with(smtp='local_hostname = "a.example\\r\\nQUIT"', cmd="send"),
    ),
    Case("ehlo-name-space", campaign_with(smtp='local_hostname = "my host"')),
    Case("toml-nested-arrays", campaign_with(extra="deep = " + "[" * 20_000 + "]" * 20_000)),
    Case("toml-nested-tables", campaign_with(extra="deep = " + "{a=" * 3_000 + "1" + "}" * 3_000)),
    Case("campaign-missing", in_folder("contacts", "check", "absent.toml")),
    Case("campaign-is-a-folder", with_file("campaign.toml", None, "contacts", "check")),
    Case("campaign-binary", with_file("campaign.toml", bytes(range(256)) * 8, "send", "--yes")),
    Case("campaign-empty", with_file("campaign.toml", b"", "preview")),
    Case("release-broken-front-matter", broken_front_matter),
    # Relays (defect 9; the other two are fixed on other branches).
    Case("reply-with-escape-sequences", send_to_raw(ESCAPES), frozenset({3})),
    Case("report-of-escape-sequences", after_send_to_raw(ESCAPES, "report"), frozenset({0})),
    Case("log-of-escape-sequences", after_send_to_raw(ESCAPES, "log"), frozenset({0})),
    Case(
        "reply-invalid-utf8",
        send_to_raw(INVALID_UTF8),
        frozenset({3}),
    ),
    Case(
        "refused-login-echoes-password",
        refused_login,
    ),
    # Delivery logs.
    Case(
        "corrupt-log",
        corrupt_log,
    ),
    Case("log-is-a-folder", log_of_a_directory),
    Case("export-path-like-markup", export_to_a_markup_path),
    # The command line itself.
    Case("unknown-option", in_folder("send", "--frobnicate"), frozenset({2})),
    Case("bad-time", in_folder("log", "--since", "yesterday-ish"), frozenset({2})),
]


@pytest.fixture
def servers(tls_files: TLSFiles) -> Iterator[Servers]:
    with ExitStack() as stack:
        yield Servers(stack, tls_files)


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(c, marks=pytest.mark.xfail(reason=c.xfail, strict=True)) if c.xfail else c
        for c in CASES
    ],
    ids=[c.id for c in CASES],
)
def test_bad_input_is_an_answer_not_a_crash(case: Case, tmp_path: Path, servers: Servers) -> None:
    invocation = case.build(tmp_path, servers)
    result = run_distrib(*invocation.args, cwd=invocation.cwd, env={**ENV, **invocation.env})
    problems = _crash_signs(result)
    assert not problems, f"{problems}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    assert result.code in case.codes, result.output


def _crash_signs(result: Result) -> list[str]:
    signs = {
        "a traceback": "Traceback" in result.stderr,
        "distrib's last-resort message (a bug)": "unexpected error" in result.stderr,
        "a Rust panic": "panicked" in result.stderr,
        "killed by a signal": result.code < 0,
        "a terminal escape byte": "\x1b" in result.output or "\x07" in result.output,
        "the SMTP password": any(secret in result.output for secret in SECRETS),
    }
    return [sign for sign, present in signs.items() if present]
