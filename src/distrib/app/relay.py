"""The organisation's relay and mailbox: OAuth2 sign-in (Microsoft 365, Google Workspace), and
the settings an IMAP mailbox is read with."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from distrib.errors import InvalidRequestError

if TYPE_CHECKING:
    from collections.abc import Callable

    from distrib.config import SMTPConfig
    from distrib.relay.cache import TokenStore
    from distrib.relay.imap import ImapSettings
    from distrib.relay.oauth import GoogleAccount, MicrosoftAccount, SignInPrompt, TokenProvider

__all__ = [
    "PROVIDERS",
    "imap_settings",
    "mailbox_location",
    "relay_account",
    "relay_login",
    "relay_logout",
    "relay_tokens",
]

Provider = Literal["microsoft365", "google-workspace"]
#: The providers distrib signs in to with OAuth2.
PROVIDERS: tuple[Provider, ...] = ("microsoft365", "google-workspace")
MICROSOFT_AUTHORITY = "https://login.microsoftonline.com"


def relay_account(
    provider: str,
    user: str,
    *,
    tenant: str | None = None,
    client_id: str | None = None,
    client_secret_env: str | None = None,
    client_secrets: Path | None = None,
    service_account_key: Path | None = None,
    mailbox: bool = False,
    authority_host: str = MICROSOFT_AUTHORITY,
) -> MicrosoftAccount | GoogleAccount:
    """The account to sign in with; what a provider needs and was not given is an
    `InvalidRequestError` naming it."""
    from distrib.relay.oauth import GoogleAccount, MicrosoftAccount

    if provider == "microsoft365":
        if not tenant or not client_id:
            raise InvalidRequestError("Microsoft 365 needs --tenant and --client-id")
        return MicrosoftAccount(
            tenant=tenant, client_id=client_id, user=user, client_secret_env=client_secret_env,
            authority_host=authority_host, mailbox=mailbox,
        )  # fmt: skip
    if provider == "google-workspace":
        if (client_secrets is None) == (service_account_key is None):
            raise InvalidRequestError(
                "Google Workspace needs --client-secrets or --service-account-key (one)"
            )
        return GoogleAccount(
            user=user, client_secrets=client_secrets, service_account_key=service_account_key
        )
    raise InvalidRequestError(f"{provider!r}: not a provider ({', '.join(PROVIDERS)})")


def _store(keyring: bool) -> TokenStore:
    from distrib.relay.cache import FileTokenStore, KeyringTokenStore

    return KeyringTokenStore() if keyring else FileTokenStore()


def relay_login(
    account: MicrosoftAccount | GoogleAccount,
    on_prompt: Callable[[SignInPrompt], None],
    *,
    keyring: bool = False,
    ca_file: Path | None = None,
) -> TokenProvider:
    """Sign in once (``on_prompt`` shows the code or the address to open); the refresh token is
    kept in a 0600 file of the user's config folder, or the OS keyring, and never shown."""
    from distrib.relay.oauth import login

    verify: bool | str = str(ca_file) if ca_file is not None else True
    return login(account, on_prompt, _store(keyring), verify=verify)


def relay_logout(
    account: MicrosoftAccount | GoogleAccount, *, keyring: bool = False
) -> tuple[bool, str]:
    """Forget the kept sign-in; return whether there was one, and where it was kept."""
    from distrib.relay.oauth import logout

    store = _store(keyring)
    where = store.describe(account.key)
    return logout(account, store), where


def mailbox_location(text: str) -> str | Path:
    """An ``imap://``/``imaps://`` address as it is; anything else is a file or folder path."""
    from distrib.relay.imap import is_imap_url

    return text if is_imap_url(text) else Path(text)


def imap_settings(password_env: str, ca_file: Path | None = None) -> ImapSettings:
    """How to read an IMAP mailbox: its password from the environment variable named."""
    from distrib.relay.imap import ImapSettings

    return ImapSettings(password_env=password_env, ca_file=ca_file)


def relay_tokens(smtp: SMTPConfig) -> TokenProvider | None:
    """Where a send gets its OAuth2 access tokens (``smtp.auth = "oauth2"``), from the kept
    sign-in of `relay_login`: refreshed when expired, never shown.  None with a password."""
    if smtp.auth != "oauth2" or smtp.oauth_provider is None:
        return None
    from distrib.config import OAuthConfig
    from distrib.relay.oauth import token_provider

    oauth = smtp.oauth or OAuthConfig()
    account = relay_account(
        smtp.oauth_provider,
        smtp.username or "",
        tenant=oauth.tenant,
        client_id=oauth.client_id,
        client_secret_env=oauth.client_secret_env,
        client_secrets=oauth.client_secrets,
        service_account_key=oauth.service_account_key,
        authority_host=oauth.authority_host,
    )
    verify: bool | str = str(oauth.ca_file) if oauth.ca_file is not None else True
    return token_provider(account, _store(oauth.keyring), verify=verify)
