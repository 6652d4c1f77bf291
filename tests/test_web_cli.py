"""`distrib ui` and `distrib users` as an officer runs them: real processes, real servers."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from campaign_helpers import CampaignFiles, write_campaign
from distrib.app import add_account
from distrib.cli import app as cli
from web_helpers import csrf_of

runner = CliRunner()
PASSWORD = "correct horse battery staple"


@pytest.fixture
def files(tmp_path: Path) -> CampaignFiles:
    return write_campaign(tmp_path / "ws", port=25)


@contextmanager
def distrib_ui(*args: str, cwd: Path) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """Run ``distrib ui ARGS`` (never opening a browser); yield it with its first lines."""
    process = subprocess.Popen(
        [sys.executable, "-m", "distrib", "ui", *args, "--no-browser"],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "BROWSER": "false"},
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(2)]
        yield process, lines
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)


def test_ui_prints_an_address_with_a_key_that_opens_the_workspace(files: CampaignFiles) -> None:
    with distrib_ui("--port", "0", cwd=files.folder) as (process, lines):
        found = re.search(r"Open (http://127\.0\.0\.1:(\d+)/)\?token=([\w-]{43})", lines[1])
        assert found is not None, lines
        base, token = found.group(1), found.group(3)
        with httpx.Client(base_url=base) as client:
            assert client.get("/").status_code == 401
            assert client.get(f"/?token={token}").status_code == 303
            home = client.get("/")
            assert home.status_code == 200 and "quays" in home.text
    assert process.returncode == 0  # Ctrl-C stops it cleanly


def test_a_team_server_refuses_to_start_without_accounts(files: CampaignFiles) -> None:
    result = runner.invoke(cli, ["ui", str(files.campaign), "--host", "0.0.0.0", "--no-browser"])
    assert result.exit_code == 2
    out = " ".join(result.output.split())
    assert "refusing to serve on 0.0.0.0 without accounts" in out
    assert "distrib users add NAME" in out and "HTTPS reverse proxy" in out
    result = runner.invoke(cli, ["ui", str(files.campaign), "--team", "--no-browser"])
    assert result.exit_code == 2 and "without accounts" in result.output


def test_a_team_server_with_accounts_says_tls_goes_in_front(files: CampaignFiles) -> None:
    add_account(files.folder / "users.toml", "camille", PASSWORD)
    args = ("--host", "0.0.0.0", "--port", "0")  # listens everywhere; the test stays on 127.0.0.1
    with distrib_ui(*args, cwd=files.folder) as (_, lines):
        found = re.search(r"on http://127\.0\.0\.1:(\d+)/", lines[0])
        assert found is not None, lines
        assert "TLS" in lines[1] and "HTTPS reverse proxy" in lines[1]
        assert "token=" not in "".join(lines)
        with httpx.Client(base_url=f"http://127.0.0.1:{found.group(1)}") as client:
            assert client.get("/").headers["location"] == "/login"
            form = client.get("/login")
            # Cookies are Secure on a team server: a client sends them over HTTPS only (here, by
            # hand, as the proxy's HTTPS connection would carry them).
            cookie = form.headers["set-cookie"]
            assert "Secure" in cookie and "HttpOnly" in cookie
            signed = client.post(
                "/login",
                data={"csrf": csrf_of(form.text), "name": "camille", "password": PASSWORD},
                headers={"cookie": cookie.split(";")[0]},
            )
            assert signed.status_code == 303 and "Secure" in signed.headers["set-cookie"]


def test_users_add_asks_twice_and_keeps_only_a_hash(files: CampaignFiles) -> None:
    result = runner.invoke(
        cli, ["users", "add", "camille", str(files.campaign)], input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    stored = (files.folder / "users.toml").read_text(encoding="utf-8")
    assert "$argon2id$" in stored and PASSWORD not in stored and PASSWORD not in result.output
    assert ((files.folder / "users.toml").stat().st_mode & 0o777) == 0o600
    mismatch = runner.invoke(
        cli, ["users", "add", "zoe", str(files.campaign)], input=f"{PASSWORD}\nother\n"
    )
    assert mismatch.exit_code != 0 and "zoe" not in (files.folder / "users.toml").read_text()
    short = runner.invoke(cli, ["users", "add", "zoe", str(files.campaign)], input="short\nshort\n")
    assert short.exit_code == 1 and "too short" in short.output
    bad = runner.invoke(
        cli, ["users", "add", "../x", str(files.campaign)], input=f"{PASSWORD}\n" * 2
    )
    assert bad.exit_code == 1 and "account name" in bad.output
    listed = runner.invoke(cli, ["users", "list", str(files.campaign)])
    assert listed.output.split() == ["camille"]
    assert runner.invoke(cli, ["users", "remove", "camille", str(files.campaign)]).exit_code == 0
    assert "No account" in runner.invoke(cli, ["users", "list", str(files.campaign)]).output


def test_a_damaged_accounts_file_is_reported_not_ignored(files: CampaignFiles) -> None:
    (files.folder / "users.toml").write_text('[users]\n"camille" = "plaintext"\n', encoding="utf-8")
    result = runner.invoke(cli, ["ui", str(files.campaign), "--team", "--no-browser"])
    assert result.exit_code == 1
    assert "users.camille: must be an Argon2 hash" in result.output
