"""The relay check: `distrib relay check`, and the same check before every send, which stops
before "Run N started" (no run in the delivery log, nothing sent) when a step fails.  Each
failure against a real local server: refused connection, no STARTTLS when required, AUTH 535,
SIZE too small, SMTPUTF8 missing with a non-ASCII address; DNS warnings from a local DNS
server, and "could not check" when DNS does not answer."""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from campaign_helpers import CampaignFiles, write_campaign
from distrib import app as distrib_app
from distrib.cli import app
from smtp_server import SMTPTestServer

runner = CliRunner()


def distrib(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def runs(log: Path) -> list[Any]:
    if not log.exists():
        return []
    with sqlite3.connect(log) as db:
        return list(db.execute("SELECT id FROM runs"))


def free_port() -> int:
    """A port nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def add_utf8_contact(files: CampaignFiles) -> None:
    with (files.folder / "medias.csv").open("ab") as out:
        out.write("zoé@fleuve.example;Zoé;Unicode;Le Fleuve;fr\n".encode("cp1252"))


def starttls(files: CampaignFiles, server: SMTPTestServer, user: str = "") -> None:
    text = files.campaign.read_text().replace('security = "none"', 'security = "starttls"')
    extra = f'ca_file = "{server.tls_files.ca_file}"\n' if server.tls_files else ""
    if user:
        extra += f'username = "{user}"\npassword_env = "QUAYS_PW"\n'
    files.campaign.write_text(text.replace("data_timeout = 5\n", "data_timeout = 5\n" + extra))


Setup = Callable[[Path, Callable[..., SMTPTestServer], pytest.MonkeyPatch], CampaignFiles]


def refused(
    tmp: Path, make: Callable[..., SMTPTestServer], mp: pytest.MonkeyPatch
) -> CampaignFiles:
    return write_campaign(tmp, port=free_port())


def no_starttls(
    tmp: Path, make: Callable[..., SMTPTestServer], mp: pytest.MonkeyPatch
) -> CampaignFiles:
    server = make()  # plaintext only
    files = write_campaign(tmp, port=server.port)
    starttls(files, server)
    return files


def auth_535(
    tmp: Path, make: Callable[..., SMTPTestServer], mp: pytest.MonkeyPatch
) -> CampaignFiles:
    server = make(tls="starttls", users={"presse": "right"}, auth_required=True)
    files = write_campaign(tmp, port=server.port)
    starttls(files, server, user="presse")
    mp.setenv("QUAYS_PW", "wrong-secret-value")
    return files


def size_too_small(
    tmp: Path, make: Callable[..., SMTPTestServer], mp: pytest.MonkeyPatch
) -> CampaignFiles:
    return write_campaign(tmp, port=make(data_size_limit=1_000).port)


def no_smtputf8(
    tmp: Path, make: Callable[..., SMTPTestServer], mp: pytest.MonkeyPatch
) -> CampaignFiles:
    files = write_campaign(tmp, port=make(smtputf8=False).port)
    add_utf8_contact(files)
    return files


@pytest.mark.parametrize(
    ("setup", "step", "said"),
    [
        (refused, "connection", "cannot connect to 127.0.0.1:"),
        (no_starttls, "encryption", "does not offer STARTTLS"),
        (auth_535, "sign-in", "535"),
        (size_too_small, "message size", "the relay accepts at most 1,000 (SIZE)"),
        (no_smtputf8, "UTF-8 addresses", "does not offer SMTPUTF8"),
    ],
)
def test_a_failed_check_stops_the_send_before_its_run_is_recorded(
    tmp_path: Path,
    make_smtp_server: Callable[..., SMTPTestServer],
    monkeypatch: pytest.MonkeyPatch,
    setup: Setup,
    step: str,
    said: str,
) -> None:
    files = setup(tmp_path / "c", make_smtp_server, monkeypatch)
    code, out = distrib("relay", "check", str(files.campaign), "--no-dns")
    assert code == 1, out
    failed = [line for line in out.splitlines() if line.strip().startswith("FAILED")]
    assert len(failed) == 1 and step in failed[0] and said in failed[0], out
    assert "A send would stop here" in out and "wrong-secret-value" not in out
    code, out = distrib("send", str(files.campaign), "--yes")
    assert code == 1, out
    assert "failed its check before the run" in out and said in out
    assert "Run 1 started" not in out and "Traceback" not in out
    assert "wrong-secret-value" not in out
    assert runs(files.log) == []  # nothing recorded: no aborted run to clean up


def test_a_relay_that_passes_is_checked_once_more_by_the_send(
    tmp_path: Path, make_smtp_server: Callable[..., SMTPTestServer]
) -> None:
    server = make_smtp_server(pipelining=True, data_size_limit=10_485_760)
    files = write_campaign(tmp_path / "c", port=server.port)
    add_utf8_contact(files)
    code, out = distrib("relay", "check", str(files.campaign), "--no-dns")
    assert code == 0, out
    for line in (
        "ok       connection",
        "ok       pipelining       offered",
        "ok       UTF-8 addresses  offered (an address is not ASCII)",
        "the relay accepts 10,485,760",
        "The relay is ready.",
    ):
        assert line in out, out
    code, out = distrib("send", str(files.campaign), "--yes")
    assert code == 0, out
    assert "zoé@fleuve.example" in {m.rcpt_tos[0] for m in server.messages}
    assert len(runs(files.log)) == 1


def test_dns_warnings_do_not_fail_the_check(
    tmp_path: Path, make_smtp_server: Callable[..., SMTPTestServer], dns_server: Any
) -> None:
    dns_server.records.update({
        ("quais.example", "TXT"): ['"v=spf1 -all"'],
    })  # fmt: skip
    server = make_smtp_server()
    files = write_campaign(tmp_path / "c", port=server.port)
    code, out = distrib("relay", "check", str(files.campaign), "--nameserver", "127.0.0.1",
                        "--dns-port", str(dns_server.port))  # fmt: skip
    assert code == 0, out
    assert any(line.lstrip().startswith("warning  SPF") for line in out.splitlines()), out
    assert "The relay is ready; the warnings do not stop a send." in out


def test_dns_that_does_not_answer_could_not_be_checked(
    tmp_path: Path, make_smtp_server: Callable[..., SMTPTestServer], dns_server: Any
) -> None:
    port = dns_server.port
    dns_server.stop()
    server = make_smtp_server()
    files = write_campaign(tmp_path / "c", port=server.port)
    campaign = distrib_app.load_campaign(files.campaign)
    found = distrib_app.relay_check(
        campaign, nameservers=("127.0.0.1",), dns_port=port, dns_timeout=0.5
    )
    assert found.ok
    (dns,) = [s for s in found.steps if s.name == "dns"]
    assert dns.status == "skipped" and dns.detail.startswith("could not check")
    assert not [s for s in found.steps if s.name in ("spf", "dkim", "dmarc")]
