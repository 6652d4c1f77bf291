"""The organisation's relay and mailbox: OAuth2 sign-in (Microsoft 365, Google Workspace), and
the settings an IMAP mailbox is read with."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from distrib.errors import InvalidRequestError

if TYPE_CHECKING:
    from collections.abc import Callable

    from distrib.config import Settings, SMTPConfig
    from distrib.relay.cache import TokenStore
    from distrib.relay.imap import ImapSettings
    from distrib.relay.oauth import GoogleAccount, MicrosoftAccount, SignInPrompt, TokenProvider

__all__ = [
    "IMAP_PASSWORD_ENV",
    "PROVIDERS",
    "imap_settings",
    "mailbox_location",
    "relay_account",
    "relay_login",
    "relay_logout",
    "relay_tokens",
    "settings_account",
    "settings_mailbox",
    "sign_in_relay",
    "workspace_mailbox",
]

Provider = Literal["microsoft365", "google-workspace"]
#: The providers distrib signs in to with OAuth2.
PROVIDERS: tuple[Provider, ...] = ("microsoft365", "google-workspace")
MICROSOFT_AUTHORITY = "https://login.microsoftonline.com"
#: Where an IMAP mailbox's password is, unless the settings or the command line say otherwise.
IMAP_PASSWORD_ENV = "DISTRIB_IMAP_PASSWORD"  # noqa: S105  (a variable's name)


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


def settings_account(
    smtp: SMTPConfig, *, mailbox: bool = False
) -> MicrosoftAccount | GoogleAccount | None:
    """The OAuth2 account the relay settings sign in with (``[smtp] oauth_provider``, its
    user name and ``oauth`` table); None when the relay takes a password."""
    if smtp.oauth_provider is None or (smtp.auth != "oauth2" and not mailbox):
        return None
    from distrib.config import OAuthConfig

    oauth = smtp.oauth or OAuthConfig()
    return relay_account(
        smtp.oauth_provider,
        smtp.username or "",
        tenant=oauth.tenant,
        client_id=oauth.client_id,
        client_secret_env=oauth.client_secret_env,
        client_secrets=oauth.client_secrets,
        service_account_key=oauth.service_account_key,
        authority_host=oauth.authority_host,
        mailbox=mailbox,
    )


def relay_tokens(smtp: SMTPConfig, *, mailbox: bool = False) -> TokenProvider | None:
    """Where a send gets its OAuth2 access tokens (``smtp.auth = "oauth2"``), from the kept
    sign-in of `relay_login`: refreshed when expired, never shown.  None with a password.
    ``mailbox``: tokens for the mailbox too (IMAP), from the same sign-in (``--mailbox``)."""
    account = settings_account(smtp, mailbox=mailbox)
    if account is None:
        return None
    from distrib.config import OAuthConfig
    from distrib.relay.oauth import token_provider

    oauth = smtp.oauth or OAuthConfig()
    verify: bool | str = str(oauth.ca_file) if oauth.ca_file is not None else True
    return token_provider(account, _store(oauth.keyring), verify=verify)


def sign_in_relay(smtp: SMTPConfig, on_prompt: Callable[[SignInPrompt], None]) -> TokenProvider:
    """`relay_login` with the account and options the relay settings name (what `distrib ui`'s
    "Sign in to the relay" does): the sign-in is kept where a send will look for it.
    `InvalidRequestError` when the relay takes a password."""
    account = settings_account(smtp)
    if account is None:
        raise InvalidRequestError(
            'the relay signs in with a password, not OAuth2 ([smtp] auth = "oauth2" and'
            " oauth_provider)"
        )
    from distrib.config import OAuthConfig

    oauth = smtp.oauth or OAuthConfig()
    return relay_login(account, on_prompt, keyring=oauth.keyring, ca_file=oauth.ca_file)


_NO_MAILBOX = (
    "name the mailbox (imaps://USER@HOST/FOLDER, or files), or set [mailbox] in the workspace's"
    " settings"
)


def settings_mailbox(
    settings: Settings,
    *,
    password_env: str | None = None,
    ca_file: Path | None = None,
) -> tuple[str, ImapSettings]:
    """The mailbox ``[mailbox]`` names and how to log into it (``password_env`` and
    ``ca_file``, given on the command line, win over the file's); `InvalidRequestError` when
    the settings name no mailbox."""
    from distrib.relay.imap import ImapSettings

    box, url = settings.mailbox, settings.mailbox_url
    if box is None or url is None:
        raise InvalidRequestError(_NO_MAILBOX)
    tokens = (
        relay_tokens(settings.smtp, mailbox=True) if settings.mailbox_auth == "oauth2" else None
    )
    return url, ImapSettings(
        password_env=password_env or box.password_env,
        tokens=tokens,
        ca_file=ca_file if ca_file is not None else box.ca_file,
    )


def workspace_mailbox(
    target: Path | None,
    *,
    password_env: str | None = None,
    ca_file: Path | None = None,
) -> tuple[str, ImapSettings]:
    """The mailbox of the workspace or campaign file ``target`` names (default: the one of
    the current folder), see `settings_mailbox`."""
    from distrib.app.logs import load_campaign
    from distrib.app.workspace import locate_target
    from distrib.errors import ConfigError

    try:
        found = locate_target(target)
    except ConfigError:
        if target is not None:
            raise
        raise InvalidRequestError(_NO_MAILBOX) from None
    file = found.workspace if found.workspace is not None else found.campaign
    assert file is not None
    return settings_mailbox(load_campaign(file), password_env=password_env, ca_file=ca_file)
