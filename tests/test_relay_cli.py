"""`distrib relay login|logout` against the local token service: the prompt is shown, the
sign-in kept privately in the config folder, tokens never printed."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from distrib.cli import app

runner = CliRunner()
USER = "presse@agapc.example"


def distrib(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


@pytest.fixture
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "distrib" / "tokens"


def test_microsoft_login_and_logout(token_server: Any, config_home: Path) -> None:
    token_server.state.auto_approve = True  # the officer signs in at once
    account = ("--provider", "microsoft365", "--tenant", "agapc", "--client-id", "c0ffee",
               "--user", USER, "--authority-host", token_server.base)  # fmt: skip
    code, out = distrib("relay", "login", *account, "--ca-file", token_server.ca_file)
    assert code == 0, out
    assert "To sign in, use a web browser to open the page https://microsoft.com/devicelogin" in out
    (kept,) = list(config_home.iterdir())
    assert f"Signed in as {USER}. The sign-in is kept in {kept}." in out
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    secrets = list(token_server.state.access) + list(token_server.state.refresh)
    assert secrets and not any(s in out for s in secrets)
    code, out = distrib("relay", "logout", *account)
    assert code == 0 and f"Forgot the sign-in of {USER}" in out
    assert list(config_home.iterdir()) == []
    code, out = distrib("relay", "logout", *account)
    assert code == 0 and f"No sign-in of {USER} was kept." in out


def test_login_mistakes_are_clear(token_server: Any, config_home: Path, tmp_path: Path) -> None:
    code, out = distrib("relay", "login", "--provider", "microsoft365", "--user", USER)
    assert code == 2 and "Microsoft 365 needs --tenant and --client-id" in out
    code, out = distrib("relay", "login", "--provider", "google-workspace", "--user", USER)
    assert code == 2 and "--client-secrets or --service-account-key" in out
    # The sign-in service is unreachable or untrusted: one line, no traceback.
    code, out = distrib("relay", "login", "--provider", "microsoft365", "--tenant", "agapc",
                        "--client-id", "c0ffee", "--user", USER,
                        "--authority-host", token_server.base)  # fmt: skip
    assert code == 1 and "cannot reach Microsoft's sign-in service" in out
    assert "Traceback" not in out
    secrets_file = tmp_path / "client.json"
    secrets_file.write_text(json.dumps({"web": {}}))
    code, out = distrib("relay", "login", "--provider", "google-workspace", "--user", USER,
                        "--client-secrets", str(secrets_file))  # fmt: skip
    assert code == 1 and "not the JSON of a Desktop app OAuth client" in out


def test_google_service_account_login(token_server: Any, config_home: Path, tmp_path: Path) -> None:
    key = tmp_path / "sa.json"
    key.write_text(json.dumps(token_server.service_account_key()))
    code, out = distrib("relay", "login", "--provider", "google-workspace", "--user", USER,
                        "--service-account-key", str(key),
                        "--ca-file", token_server.ca_file)  # fmt: skip
    assert code == 0, out
    assert f"The service account can send as {USER}; nothing is kept on disk." in out
    assert not config_home.exists()
