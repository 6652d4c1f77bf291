"""`distrib send` through a relay that requires OAuth2: tokens from the kept sign-in (the local
token service), AUTH XOAUTH2 / OAUTHBEARER in distrib's own SMTP client against a real aiosmtpd
server that checks each token, a refused token refreshed once, and no aiosmtplib in the library.
"""

from __future__ import annotations

import ast
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from campaign_helpers import CampaignFiles, write_campaign
from distrib.cli import app

runner = CliRunner()
USER = "presse@quais.example"  # the campaign's sender: the mailbox the tokens are for
SRC = Path(__file__).resolve().parents[1] / "src" / "distrib"


def distrib(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


@pytest.fixture
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "distrib" / "tokens"


def sign_in(token_server: Any) -> None:
    """`distrib relay login` as the officer would (the sign-in approved at once)."""
    token_server.state.auto_approve = True
    token_server.state.signed_in_as = USER
    code, out = distrib(
        "relay", "login", "--provider", "microsoft365", "--tenant", "agapc",
        "--client-id", "c0ffee", "--user", USER, "--authority-host", token_server.base,
        "--ca-file", token_server.ca_file,
    )  # fmt: skip
    assert code == 0, out


def oauth_campaign(
    tmp_path: Path, port: int, token_server: Any, *, limits: str = "", oauth: str = ""
) -> CampaignFiles:
    files = write_campaign(
        tmp_path / "c",
        port=port,
        smtp_extra=(
            'preset = "microsoft365"\nauth = "oauth2"\n'
            f'ca_file = "{token_server.ca_file}"\n'
            f'oauth = {{ tenant = "agapc", client_id = "c0ffee", authority_host = '
            f'"{token_server.base}", ca_file = "{token_server.ca_file}"{oauth} }}\n'
        ),
    )
    text = files.campaign.read_text().replace('security = "none"', 'security = "starttls"')
    files.campaign.write_text(text.replace("connections = 2\n", f"connections = 1\n{limits}"))
    return files


def runs(log: Path) -> list[sqlite3.Row]:
    if not log.exists():
        return []
    with sqlite3.connect(log) as db:
        db.row_factory = sqlite3.Row
        return list(db.execute("SELECT * FROM runs"))


def test_send_authenticates_with_xoauth2_using_the_kept_sign_in(
    tmp_path: Path,
    config_home: Path,
    token_server: Any,
    make_oauth_smtp_server: Callable[..., Any],
) -> None:
    sign_in(token_server)
    server = make_oauth_smtp_server(lambda user, token: token_server.user_of(token) == user)
    files = oauth_campaign(tmp_path, server.port, token_server)
    code, out = distrib("send", str(files.campaign), "--yes")
    assert code == 0, out
    assert len(server.messages()) == 5
    assert {m[0] for m in server.messages()} == {USER}  # every message sent as the mailbox
    attempts = server.attempts()
    assert attempts and all(a == ("XOAUTH2", USER, True) for a in attempts)
    secrets = list(token_server.state.access) + list(token_server.state.refresh)
    assert not any(s in out for s in secrets)


def test_oauthbearer_when_configured_and_offered(
    tmp_path: Path,
    config_home: Path,
    token_server: Any,
    make_oauth_smtp_server: Callable[..., Any],
) -> None:
    sign_in(token_server)
    server = make_oauth_smtp_server(lambda user, token: token_server.user_of(token) == user)
    files = oauth_campaign(tmp_path, server.port, token_server, oauth=', mechanism = "OAUTHBEARER"')
    code, out = distrib("send", str(files.campaign), "--yes")
    assert code == 0, out
    assert len(server.messages()) == 5
    assert set(server.attempts()) == {("OAUTHBEARER", USER, True)}


def test_a_token_refused_on_a_reconnect_is_refreshed_once(
    tmp_path: Path,
    config_home: Path,
    token_server: Any,
    make_oauth_smtp_server: Callable[..., Any],
) -> None:
    """The relay accepts each token for one session only (as if it expired in between): every
    new session gets ``334`` + ``535`` for the token in hand, then accepts a fresh one."""
    sign_in(token_server)
    used: set[str] = set()
    lock = threading.Lock()

    def once(user: str, token: str) -> bool:
        with lock:
            fresh = token not in used
            used.add(token)
        return fresh and token_server.user_of(token) == user

    server = make_oauth_smtp_server(once)
    files = oauth_campaign(
        tmp_path, server.port, token_server, limits="messages_per_connection = 2\n"
    )
    code, out = distrib("send", str(files.campaign), "--yes")
    assert code == 0, out
    assert len(server.messages()) == 5
    attempts = server.attempts()
    # The first session (the check before the run) uses the sign-in's token; each later one
    # is refused once, then accepted with a refreshed token: never twice refused in a row.
    assert attempts[0] == ("XOAUTH2", USER, True)
    later = attempts[1:]
    assert len(later) == 6 and later == [("XOAUTH2", USER, False), ("XOAUTH2", USER, True)] * (
        len(later) // 2
    )
    assert token_server.grants().count("refresh_token") == len(later) // 2


def test_the_library_never_imports_aiosmtplib() -> None:
    """aiosmtplib is a test dependency only: no module of distrib imports it, not even for
    type checking, and importing the sending and relay modules loads none of it."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n.split(".")[0] == "aiosmtplib" for n in names):
                found.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert found == []
    code = (
        "import sys, pkgutil, importlib, distrib.relay, distrib.send, distrib.app\n"
        "for pkg in (distrib.relay, distrib.send, distrib.app):\n"
        "    for m in pkgutil.iter_modules(pkg.__path__, pkg.__name__ + '.'):\n"
        "        importlib.import_module(m.name)\n"
        "print(sorted(m for m in sys.modules if m.startswith('aiosmtplib')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_token_refused_even_after_a_refresh_stops_before_the_run(
    tmp_path: Path,
    config_home: Path,
    token_server: Any,
    make_oauth_smtp_server: Callable[..., Any],
) -> None:
    sign_in(token_server)
    server = make_oauth_smtp_server(lambda user, token: False)
    files = oauth_campaign(tmp_path, server.port, token_server)
    code, out = distrib("send", str(files.campaign), "--yes")
    assert code == 1, out
    assert "535 5.7.8" in out and "XOAUTH2" in out
    assert len(server.attempts()) == 2  # the token, then one refreshed token
    assert server.messages() == []
    assert runs(files.log) == []  # stopped before "Run 1 started"
    secrets = list(token_server.state.access) + list(token_server.state.refresh)
    assert not any(s in out for s in secrets)


def test_nobody_signed_in_is_said_before_the_run(
    tmp_path: Path,
    config_home: Path,
    token_server: Any,
    make_oauth_smtp_server: Callable[..., Any],
) -> None:
    server = make_oauth_smtp_server(lambda user, token: True)
    files = oauth_campaign(tmp_path, server.port, token_server)
    code, out = distrib("send", str(files.campaign), "--yes")
    assert code == 1, out
    assert "distrib relay login" in out and "Traceback" not in out
    assert server.attempts() == [] and runs(files.log) == []
