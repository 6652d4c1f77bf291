"""Campaign values that used to pass the checks and end in a traceback at send time (issue 10,
defect 15): infinite or not-a-number delays, an EHLO name with CR/LF, TOML nested so deep the
parser recursed out.  Each is now refused when the campaign is loaded, by the real CLI, as
``campaign.toml: key: reason``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bad_inputs import run_distrib, write_campaign
from distrib.cli import app
from smtp_server import SMTPTestServer

runner = CliRunner()


def contacts_check(folder: Path, *, smtp: str = "", limits: str = "", extra: str = "") -> str:
    (folder / "list.csv").write_text("Courriel\nzoe@fleuve.example\n", encoding="utf-8")
    campaign = write_campaign(folder, ["list.csv"], smtp=smtp, limits=limits, extra=extra)
    result = runner.invoke(app, ["contacts", "check", str(campaign)])
    assert isinstance(result.exception, SystemExit), result.exception  # no uncaught error
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    return result.output


@pytest.mark.parametrize(
    ("table", "line", "key"),
    [
        ("limits", "retry_delay = inf", "limits.retry_delay: Input should be a finite number"),
        ("limits", "retry_delay = nan", "limits.retry_delay: Input should be"),
        ("limits", "retry_delay = -1", "limits.retry_delay: Input should be greater than or"),
        ("limits", "max_retry_delay = inf", "limits.max_retry_delay: Input should be a finite"),
        ("limits", "retry_delay = 1e9", "limits.retry_delay: Input should be less than or equal"),
        ("limits", "rate = inf", "limits.rate: Input should be a finite number"),
        ("limits", "per_domain = nan", "limits.per_domain: Input should be"),
        ("limits", "domains = { 'a.example' = inf }", "limits.domains.a.example: Input should be"),
        ("limits", "burst = 1e400", "limits.burst: Input should be a finite number"),
        ("limits", "per_hour = 9223372036854775807", "limits.per_hour: Input should be less"),
        ("smtp", "timeout = inf", "smtp.timeout: Input should be a finite number"),
        ("smtp", "data_timeout = nan", "smtp.data_timeout: Input should be"),
        ("smtp", "data_timeout = 1e12", "smtp.data_timeout: Input should be less than or equal"),
        ("extra", "[contacts]\nmx_timeout = inf", "contacts.mx_timeout: Input should be a finite"),
        ("extra", "max_attachments_mb = nan", "max_attachments_mb: Input should be"),
    ],
)
def test_numbers_must_be_finite_and_bounded(
    tmp_path: Path, table: str, line: str, key: str
) -> None:
    out = contacts_check(tmp_path, **{table: line})
    assert f"campaign.toml: {key}" in out


@pytest.mark.parametrize(
    "name",
    [
        '"mail.quais.example\\r\\nRCPT TO:<victim@target.example>"',
        '"mail\\n.quais.example"',
        '"bell\\u0007.example"',
        '"two words.example"',
        '"-leading-hyphen.example"',
        '"dots..example"',
        '"[not-an-address]"',
    ],
)
def test_the_ehlo_name_must_be_a_host_name(tmp_path: Path, name: str) -> None:
    out = contacts_check(tmp_path, smtp=f"local_hostname = {name}")
    assert "campaign.toml: smtp.local_hostname: " in out
    assert "is not a host name" in out or "is not an address literal" in out


@pytest.mark.parametrize(
    "name", ["mail.quais.example", "localhost", "[192.0.2.1]", "[IPv6:2001:db8::1]"]
)
def test_good_ehlo_names_are_accepted(tmp_path: Path, name: str) -> None:
    (tmp_path / "list.csv").write_text("Courriel\nzoe@fleuve.example\n", encoding="utf-8")
    campaign = write_campaign(tmp_path, ["list.csv"], smtp=f'local_hostname = "{name}"')
    result = runner.invoke(app, ["contacts", "check", str(campaign)])
    assert result.exit_code == 0, result.output


def test_the_relay_host_must_be_a_host_name(tmp_path: Path) -> None:
    campaign = write_campaign(tmp_path, ["list.csv"], smtp='host = "relay.example\\r\\nQUIT"')
    (tmp_path / "list.csv").write_text("Courriel\nzoe@fleuve.example\n", encoding="utf-8")
    result = runner.invoke(app, ["contacts", "check", str(campaign)])
    assert result.exit_code == 1
    assert "campaign.toml: smtp.host: 'relay.example\\r\\nQUIT' is not a host name" in result.output


@pytest.mark.parametrize(
    "value", ["[" * 5_000 + "]" * 5_000, "{ a = " * 3_000 + "1" + " }" * 3_000]
)
def test_toml_nested_too_deep_is_a_config_problem(tmp_path: Path, value: str) -> None:
    out = contacts_check(tmp_path, extra=f"deep = {value}")
    assert "campaign.toml: not a campaign file: arrays or tables nested hundreds of levels" in out


@pytest.mark.parametrize(
    "smtp_line", ['local_hostname = "mail.quais.example\\r\\nQUIT"', "timeout = inf"]
)
def test_send_refuses_them_before_connecting(
    tmp_path: Path, make_smtp_server: Callable[..., SMTPTestServer], smtp_line: str
) -> None:
    server = make_smtp_server()
    (tmp_path / "list.csv").write_text("Courriel\nzoe@fleuve.example\n", encoding="utf-8")
    smtp = f"{smtp_line}\nport = {server.port}"
    campaign = write_campaign(tmp_path, ["list.csv"], smtp=smtp, limits="retry_delay = inf")
    result = run_distrib("send", campaign, "--yes", cwd=tmp_path)
    assert result.code == 1, result.output
    assert "Traceback" not in result.output
    assert "campaign.toml: limits.retry_delay: Input should be a finite number" in result.stderr
    assert server.connections == 0
    assert not (tmp_path / "distrib-log.sqlite").exists()
