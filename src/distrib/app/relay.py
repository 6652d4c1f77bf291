"""The organisation's relay and mailbox: OAuth2 sign-in (Microsoft 365, Google Workspace), and
the settings an IMAP mailbox is read with."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from distrib.errors import InvalidRequestError
from distrib.relay.errors import RelayCheckError
from distrib.relay.preflight import Preflight, Step

if TYPE_CHECKING:
    from collections.abc import Callable

    from distrib.app.pipeline import Plan
    from distrib.config import Campaign, SMTPConfig
    from distrib.relay.cache import TokenStore
    from distrib.relay.imap import ImapSettings
    from distrib.relay.oauth import GoogleAccount, MicrosoftAccount, SignInPrompt, TokenProvider

__all__ = [
    "PROVIDERS",
    "Preflight",
    "RelayCheckError",
    "Step",
    "check_before_send",
    "imap_settings",
    "mailbox_location",
    "relay_account",
    "relay_check",
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


def _message_facts(plan: Plan) -> tuple[int | None, bool]:
    """The size of the largest message of ``plan`` (the one with the most content, rendered and
    signed as it will leave) and whether an envelope address is not ASCII."""
    from distrib.errors import DistribError

    sender = plan.campaign.sender.address
    needs_utf8 = not sender.isascii() or any(not m.contact.email.isascii() for m in plan.messages)
    if not plan.messages:
        return None, needs_utf8
    biggest = max(plan.messages, key=lambda m: m.size)
    try:
        rendered = plan.renderer.render(biggest.contact, message_id=biggest.message_id)
    except DistribError:
        return None, needs_utf8  # the plan lists the problem; the send will not start
    return len(rendered.data), needs_utf8 or not rendered.envelope_from.isascii()


def _check(
    campaign: Campaign,
    plan: Plan | None,
    *,
    dns: bool,
    nameservers: tuple[str, ...] = (),
    dns_port: int = 53,
    dns_timeout: float = 5.0,
) -> Preflight:
    import asyncio

    from distrib.config import smtp_password
    from distrib.relay.preflight import check_relay

    largest, needs_utf8 = _message_facts(plan) if plan is not None else (None, False)
    resolver = None
    if dns and nameservers:
        from distrib.relay.dns import resolver_for

        resolver = resolver_for(nameservers, port=dns_port, timeout=dns_timeout)
    elif dns:
        from distrib.relay.dns import resolver_for

        resolver = resolver_for(timeout=dns_timeout)
    return asyncio.run(
        check_relay(
            campaign.smtp,
            password=smtp_password(campaign.smtp),
            tokens=relay_tokens(campaign.smtp),
            largest=largest,
            needs_utf8=needs_utf8,
            sender_domain=campaign.sender.domain if dns else None,
            dkim_selector=campaign.dkim.selector if campaign.dkim is not None else None,
            resolver=resolver,
        )
    )


def relay_check(
    campaign: Campaign,
    *,
    dns: bool = True,
    nameservers: tuple[str, ...] = (),
    dns_port: int = 53,
    dns_timeout: float = 5.0,
) -> Preflight:
    """`distrib relay check`: one session with the relay as a send opens it (connect,
    STARTTLS, AUTH with the password or an OAuth2 token), what it offers against the release's
    messages (SIZE against the largest, SMTPUTF8 when an address needs it, PIPELINING), and,
    with ``dns``, the sender domain's SPF, DKIM and DMARC (warnings only; "could not check"
    when DNS cannot be asked).  ``nameservers``/``dns_port``: ask those servers instead of the
    system's.  Never raises for what the relay answers: every conclusion is a `Step`."""
    from distrib.app.pipeline import make_plan

    plan = make_plan(campaign, workers=0)
    return _check(campaign, plan, dns=dns, nameservers=nameservers, dns_port=dns_port,
                  dns_timeout=dns_timeout)  # fmt: skip


def check_before_send(plan: Plan) -> Preflight:
    """The relay check a send runs before its run is recorded (without DNS: those only warn;
    `relay_check` shows them).  Raises `RelayCheckError` when a step failed."""
    found = _check(plan.campaign, plan, dns=False)
    if not found.ok:
        raise RelayCheckError(found)
    return found
