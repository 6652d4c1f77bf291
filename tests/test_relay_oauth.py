"""OAuth2 tokens from MSAL and google-auth, against a local HTTPS token service (no internet):
sign-in, the kept cache and its permissions, refresh on expiry, revocation, logout."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path
from typing import Any

import pytest
import requests

from distrib.relay.cache import FileTokenStore
from distrib.relay.errors import LoginRequired, TokenError
from distrib.relay.oauth import (
    GoogleAccount,
    GoogleTokens,
    MicrosoftAccount,
    MicrosoftTokens,
    SignInPrompt,
    login,
    logout,
)
from token_server import DEVICE_GRANT, TokenServer

USER = "presse@agapc.example"


def microsoft(server: TokenServer, **options: Any) -> MicrosoftAccount:
    options.setdefault("user", USER)
    return MicrosoftAccount(tenant="agapc-tenant", client_id="c0ffee-public",
                            authority_host=server.base, **options)  # fmt: skip


def approving(server: TokenServer, seen: list[SignInPrompt]) -> Any:
    def on_prompt(prompt: SignInPrompt) -> None:
        seen.append(prompt)
        server.approve()  # the officer types the code in a browser

    return on_prompt


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_device_code_sign_in_keeps_a_private_cache_and_gives_tokens(
    token_server: TokenServer, tmp_path: Path
) -> None:
    store = FileTokenStore(tmp_path / "config" / "tokens")
    seen: list[SignInPrompt] = []
    provider = login(microsoft(token_server), approving(token_server, seen), store,
                     verify=token_server.ca_file)  # fmt: skip
    (prompt,) = seen
    assert prompt.code is not None and prompt.code in prompt.message
    assert prompt.url == "https://microsoft.com/devicelogin"
    token = provider.access_token()
    assert token_server.user_of(token) == USER
    (kept,) = list(store.folder.iterdir())
    assert mode(store.folder) == 0o700 and mode(kept) == 0o600
    assert kept.name.startswith("microsoft365-")
    assert provider.cached_in == str(kept)
    # A later run (a new process) reads the sign-in back: no new sign-in, no new grant.
    grants = token_server.grants()
    again = MicrosoftTokens(microsoft(token_server), store, verify=token_server.ca_file)
    assert again.access_token() == token
    assert token_server.grants() == grants


def test_an_expired_token_is_refreshed_and_the_new_refresh_token_kept(
    token_server: TokenServer, tmp_path: Path
) -> None:
    token_server.state.expires_in = 60  # MSAL renews tokens with less than 5 minutes left
    store = FileTokenStore(tmp_path / "tokens")
    provider = login(microsoft(token_server), approving(token_server, []), store,
                     verify=token_server.ca_file)  # fmt: skip
    first = provider.access_token()
    before = (store.folder / next(store.folder.iterdir()).name).read_text()
    second = provider.access_token()
    assert second != first and token_server.user_of(second) == USER
    assert token_server.grants() == [DEVICE_GRANT, "refresh_token", "refresh_token"]
    after = (store.folder / next(store.folder.iterdir()).name).read_text()
    assert after != before  # the rotated refresh token was written back
    # A new process refreshes from what was kept (the old refresh token is spent).
    other = MicrosoftTokens(microsoft(token_server), store, verify=token_server.ca_file)
    assert token_server.user_of(other.access_token()) == USER


def test_a_fresh_token_is_reused_until_a_server_refuses_it(
    token_server: TokenServer, tmp_path: Path
) -> None:
    store = FileTokenStore(tmp_path / "tokens")
    provider = login(microsoft(token_server), approving(token_server, []), store,
                     verify=token_server.ca_file)  # fmt: skip
    token = provider.access_token()
    assert provider.access_token() == token
    assert token_server.grants() == [DEVICE_GRANT]
    forced = provider.access_token(force_refresh=True)
    assert forced != token and token_server.grants() == [DEVICE_GRANT, "refresh_token"]


def test_a_revoked_sign_in_asks_to_sign_in_again(token_server: TokenServer, tmp_path: Path) -> None:
    token_server.state.expires_in = 60
    store = FileTokenStore(tmp_path / "tokens")
    provider = login(microsoft(token_server), approving(token_server, []), store,
                     verify=token_server.ca_file)  # fmt: skip
    token_server.revoke_all()
    with pytest.raises(LoginRequired, match=r"revoked or has expired .*distrib relay login"):
        provider.access_token()


def test_nobody_signed_in_yet(token_server: TokenServer, tmp_path: Path) -> None:
    provider = MicrosoftTokens(microsoft(token_server), FileTokenStore(tmp_path / "t"),
                               verify=token_server.ca_file)  # fmt: skip
    with pytest.raises(LoginRequired, match=r"nobody is signed in .* as presse@agapc\.example"):
        provider.access_token()
    assert not (tmp_path / "t").exists()
    assert token_server.state.requests == []  # known without asking the network


def test_logout_forgets_the_sign_in(token_server: TokenServer, tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "tokens")
    account = microsoft(token_server)
    login(account, approving(token_server, []), store, verify=token_server.ca_file)
    assert logout(account, store) is True
    assert list(store.folder.iterdir()) == []
    assert logout(account, store) is False
    fresh = MicrosoftTokens(account, store, verify=token_server.ca_file)
    with pytest.raises(LoginRequired):
        fresh.access_token()


def test_signing_in_as_someone_else_is_refused_and_nothing_kept(
    token_server: TokenServer, tmp_path: Path
) -> None:
    token_server.state.signed_in_as = "stagiaire@agapc.example"
    store = FileTokenStore(tmp_path / "tokens")
    with pytest.raises(
        TokenError, match=r"you signed in as stagiaire@agapc\.example, but the relay"
    ):
        login(microsoft(token_server), approving(token_server, []), store,
              verify=token_server.ca_file)  # fmt: skip
    assert not store.folder.exists() or list(store.folder.iterdir()) == []


def test_the_mailbox_scope_is_asked_for_when_wanted(
    token_server: TokenServer, tmp_path: Path
) -> None:
    login(microsoft(token_server, mailbox=True), approving(token_server, []),
          FileTokenStore(tmp_path / "t"), verify=token_server.ca_file)  # fmt: skip
    (body,) = [b for b in token_server.state.bodies if "scope=" in b and "device_code" not in b]
    assert "SMTP.Send" in body and "IMAP.AccessAsUser.All" in body and "offline_access" in body


def test_a_service_account_uses_client_credentials_and_keeps_nothing(
    token_server: TokenServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = microsoft(token_server, client_secret_env="AGAPC_ENTRA_SECRET")
    store = FileTokenStore(tmp_path / "tokens")
    with pytest.raises(TokenError, match="put it in the environment variable AGAPC_ENTRA_SECRET"):
        MicrosoftTokens(account, store, verify=token_server.ca_file).access_token()
    monkeypatch.setenv("AGAPC_ENTRA_SECRET", "not-the-secret")
    with pytest.raises(TokenError, match="invalid_client") as refused:
        MicrosoftTokens(account, store, verify=token_server.ca_file).access_token()
    assert "not-the-secret" not in str(refused.value)
    monkeypatch.setenv("AGAPC_ENTRA_SECRET", token_server.state.client_secret)
    provider = MicrosoftTokens(account, store, verify=token_server.ca_file)
    token = provider.access_token()
    assert token_server.user_of(token) == "app:c0ffee-public"
    assert token_server.grants()[-1] == "client_credentials"
    assert provider.cached_in == "" and not store.folder.exists()
    assert "scope=https%3A%2F%2Foutlook.office365.com%2F.default" in token_server.state.bodies[-1]


def test_an_unreachable_or_untrusted_token_service_is_a_clear_error(
    token_server: TokenServer, tmp_path: Path
) -> None:
    store = FileTokenStore(tmp_path / "t")
    login(microsoft(token_server), approving(token_server, []), store, verify=token_server.ca_file)
    # The system's CAs do not know the local service's certificate: TLS is verified.
    untrusted = MicrosoftTokens(microsoft(token_server), store)
    with pytest.raises(TokenError, match="cannot reach Microsoft's sign-in service"):
        untrusted.access_token()
    token_server.stop()
    gone = MicrosoftTokens(microsoft(token_server), store, verify=token_server.ca_file)
    with pytest.raises(TokenError, match="cannot reach Microsoft's sign-in service"):
        gone.access_token()


# -- Google ----------------------------------------------------------------------------------


def browser(server: TokenServer, seen: list[SignInPrompt]) -> Any:
    """The officer's browser: opens the address, signs in, follows the redirect to 127.0.0.1."""

    def on_prompt(prompt: SignInPrompt) -> None:
        seen.append(prompt)

        def visit() -> None:
            requests.get(prompt.url, verify=server.ca_file, timeout=30)

        threading.Thread(target=visit, daemon=True).start()

    return on_prompt


def google(server: TokenServer, tmp_path: Path) -> GoogleAccount:
    secrets_file = tmp_path / "client_secret.json"
    secrets_file.write_text(json.dumps(server.google_client_secrets()))
    return GoogleAccount(user=USER, client_secrets=secrets_file)


def test_google_installed_app_sign_in_refresh_and_logout(
    token_server: TokenServer, tmp_path: Path
) -> None:
    token_server.state.expires_in = 60  # google-auth renews tokens with less than 3m45 left
    store = FileTokenStore(tmp_path / "tokens")
    account = google(token_server, tmp_path)
    seen: list[SignInPrompt] = []
    provider = login(account, browser(token_server, seen), store, verify=token_server.ca_file)
    (prompt,) = seen
    assert prompt.url.startswith(f"{token_server.base}/google/auth?")
    assert "code_challenge=" in prompt.url and "login_hint=presse%40agapc.example" in prompt.url
    (kept,) = list(store.folder.iterdir())
    assert kept.name.startswith("google-workspace-") and mode(kept) == 0o600
    first = provider.access_token()
    assert token_server.user_of(first) == USER
    assert token_server.grants() == ["authorization_code", "refresh_token"]
    later = GoogleTokens(account, store, verify=token_server.ca_file)
    assert token_server.user_of(later.access_token()) == USER
    assert token_server.grants()[-1] == "refresh_token"
    token_server.revoke_all()
    with pytest.raises(LoginRequired, match="invalid_grant"):
        GoogleTokens(account, store, verify=token_server.ca_file).access_token()
    assert logout(account, store) is True and list(store.folder.iterdir()) == []


def test_google_refuses_a_client_secrets_file_that_is_not_one(tmp_path: Path) -> None:
    bad = tmp_path / "client_secret.json"
    bad.write_text(json.dumps({"web": {"client_id": "x"}}))
    with pytest.raises(TokenError, match="not the JSON of a Desktop app OAuth client"):
        login(GoogleAccount(user=USER, client_secrets=bad), lambda p: None,
              FileTokenStore(tmp_path / "t"))  # fmt: skip


def test_google_service_account_with_domain_wide_delegation(
    token_server: TokenServer, tmp_path: Path
) -> None:
    key_file = tmp_path / "sa.json"
    key_file.write_text(json.dumps(token_server.service_account_key()))
    account = GoogleAccount(user=USER, service_account_key=key_file)
    store = FileTokenStore(tmp_path / "tokens")
    provider = login(account, lambda p: None, store, verify=token_server.ca_file)
    token = provider.access_token()
    assert token_server.user_of(token) == USER  # the token acts as the mailbox (sub)
    assert token_server.grants()[-1].endswith("jwt-bearer")
    assert not store.folder.exists()
    # A key the service does not know is refused with the service's reason.
    other = tmp_path / "other.json"
    unknown = token_server.service_account_key("other@agapc-relay.iam.test")
    token_server.state.service_keys.pop("other@agapc-relay.iam.test")
    other.write_text(json.dumps(unknown))
    with pytest.raises(TokenError, match="Google refused a token"):
        GoogleTokens(GoogleAccount(user=USER, service_account_key=other), store,
                     verify=token_server.ca_file).access_token()  # fmt: skip


def test_kept_sign_ins_are_never_readable_by_others(
    token_server: TokenServer, tmp_path: Path
) -> None:
    store = FileTokenStore(tmp_path / "tokens")
    login(microsoft(token_server), approving(token_server, []), store, verify=token_server.ca_file)
    (kept,) = list(store.folder.iterdir())
    assert os.stat(kept).st_uid == os.geteuid()
    kept.chmod(0o644)
    with pytest.raises(TokenError, match=r"can be read or changed by other users \(mode 0644\)"):
        MicrosoftTokens(microsoft(token_server), store,
                        verify=token_server.ca_file).access_token()  # fmt: skip
