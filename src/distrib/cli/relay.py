"""`distrib relay login|logout|check`: sign in to the organisation's relay with OAuth2, forget
the sign-in, or check the relay before a run.

login and logout name the account by options (`--provider microsoft365 --tenant … --client-id
… --user …`, the same values as the ``[smtp.oauth]`` table); check reads the release's
settings.  The options shared with the commands that read an IMAP mailbox live here too.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from distrib.app import gettext as _
from distrib.cli._common import CampaignArg, Exit, ReleaseOpt, console, load, user_errors

if TYPE_CHECKING:
    from distrib.app import GoogleAccount, MicrosoftAccount, Preflight, SignInPrompt

app = typer.Typer(
    help="Check your organisation's relay, sign in to it (OAuth2), or forget the sign-in.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

# -- options shared with `bounces` and `unsubscribe --mailbox` (IMAP) ---------------------------

ImapPasswordEnvOpt = Annotated[
    str | None,
    typer.Option(
        "--imap-password-env",
        help="For an imap:// or imaps:// mailbox: the environment variable holding its password"
        " (default: [mailbox] password_env, else DISTRIB_IMAP_PASSWORD).",
        show_default=False,
    ),
]
ImapCaFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--imap-ca-file",
        help="For an IMAP mailbox: CA certificates to trust (default: the system's).",
        show_default=False,
    ),
]


# -- login / logout ----------------------------------------------------------------------------


class Provider(StrEnum):
    """The OAuth2 providers distrib signs in to."""

    microsoft365 = "microsoft365"
    google_workspace = "google-workspace"


ProviderOpt = Annotated[
    Provider, typer.Option("--provider", help="Whose relay.", show_default=False)
]
UserOpt = Annotated[
    str,
    typer.Option("--user", help="The mailbox that sends (the From address).", show_default=False),
]
TenantOpt = Annotated[
    str | None,
    typer.Option("--tenant", help="Microsoft 365: the tenant (ID or domain).", show_default=False),
]
ClientIdOpt = Annotated[
    str | None,
    typer.Option(
        "--client-id", help="Microsoft 365: the app registration's client ID.", show_default=False
    ),
]
ClientSecretEnvOpt = Annotated[
    str | None,
    typer.Option(
        "--client-secret-env",
        help="Microsoft 365 service account: the environment variable holding the client secret"
        " (client credentials; no person signs in).",
        show_default=False,
    ),
]
ClientSecretsOpt = Annotated[
    Path | None,
    typer.Option(
        "--client-secrets",
        help="Google Workspace: the Desktop app OAuth client's JSON file.",
        show_default=False,
    ),
]
ServiceAccountOpt = Annotated[
    Path | None,
    typer.Option(
        "--service-account-key",
        help="Google Workspace: a service account's JSON key with domain-wide delegation.",
        show_default=False,
    ),
]
MailboxScopeOpt = Annotated[
    bool,
    typer.Option(
        "--mailbox/--no-mailbox",
        help="Microsoft 365: also allow reading the mailbox over IMAP (bounces, opt-outs).",
    ),
]
AuthorityOpt = Annotated[
    str,
    typer.Option(
        "--authority-host",
        help="Microsoft 365: the sign-in service (another cloud, e.g. login.microsoftonline.us).",
    ),
]
CaFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--ca-file",
        help="CA certificates to trust for the sign-in service (default: the system's).",
        show_default=False,
    ),
]
KeyringOpt = Annotated[
    bool,
    typer.Option(
        "--keyring/--no-keyring",
        help="Keep the sign-in in the OS keyring instead of a private file in your config folder.",
    ),
]


def register(app_: typer.Typer) -> None:
    """Add the relay command group to ``app_``."""
    app_.add_typer(app, name="relay")


def _account(
    provider: Provider,
    user: str,
    tenant: str | None,
    client_id: str | None,
    client_secret_env: str | None,
    client_secrets: Path | None,
    service_account_key: Path | None,
    mailbox: bool,
    authority_host: str,
) -> MicrosoftAccount | GoogleAccount:
    from distrib import app

    with user_errors():
        return app.relay_account(
            str(provider), user, tenant=tenant, client_id=client_id,
            client_secret_env=client_secret_env, client_secrets=client_secrets,
            service_account_key=service_account_key, mailbox=mailbox,
            authority_host=authority_host,
        )  # fmt: skip


def _show(prompt: SignInPrompt) -> None:
    if prompt.code is not None:
        console.print(prompt.message or f"Open {prompt.url} and enter the code {prompt.code}.",
                      markup=False)  # fmt: skip
    else:
        console.print("Open this address in a browser on this computer, and sign in:")
        console.print(f"  {prompt.url}", markup=False, soft_wrap=True)
    console.print("Waiting for the sign-in…")


@app.command("login")
def login(
    provider: ProviderOpt,
    user: UserOpt,
    tenant: TenantOpt = None,
    client_id: ClientIdOpt = None,
    client_secret_env: ClientSecretEnvOpt = None,
    client_secrets: ClientSecretsOpt = None,
    service_account_key: ServiceAccountOpt = None,
    mailbox: MailboxScopeOpt = False,
    authority_host: AuthorityOpt = "https://login.microsoftonline.com",
    ca_file: CaFileOpt = None,
    keyring: KeyringOpt = False,
) -> None:
    """Sign in once; later runs renew the access token by themselves.

    Microsoft 365: a code to enter at the address shown (device-code flow), or, with
    --client-secret-env, the app's own credentials.  Google Workspace: a sign-in in a browser on
    this computer, or a service account key.  The sign-in (a refresh token) is kept in a file
    only you can read (0600) in your config folder, or in the OS keyring with --keyring; it is
    never printed.
    """
    from distrib import app

    account = _account(provider, user, tenant, client_id, client_secret_env, client_secrets,
                       service_account_key, mailbox, authority_host)  # fmt: skip
    with user_errors():
        tokens = app.relay_login(account, _show, keyring=keyring, ca_file=ca_file)
    where = tokens.cached_in
    if where:
        console.print(f"Signed in as {user}. The sign-in is kept in {where}.", markup=False)
    else:
        console.print(f"The service account can send as {user}; nothing is kept on disk.",
                      markup=False)  # fmt: skip


@app.command("logout")
def logout(
    provider: ProviderOpt,
    user: UserOpt,
    tenant: TenantOpt = None,
    client_id: ClientIdOpt = None,
    client_secret_env: ClientSecretEnvOpt = None,
    client_secrets: ClientSecretsOpt = None,
    service_account_key: ServiceAccountOpt = None,
    mailbox: MailboxScopeOpt = False,
    authority_host: AuthorityOpt = "https://login.microsoftonline.com",
    keyring: KeyringOpt = False,
) -> None:
    """Forget the kept sign-in of this account (run `distrib relay login` to sign in again)."""
    from distrib import app

    account = _account(provider, user, tenant, client_id, client_secret_env, client_secrets,
                       service_account_key, mailbox, authority_host)  # fmt: skip
    with user_errors():
        forgotten, where = app.relay_logout(account, keyring=keyring)
    if forgotten:
        console.print(f"Forgot the sign-in of {user} ({where}).", markup=False)
    else:
        console.print(f"No sign-in of {user} was kept.", markup=False)


_MARKS = {"ok": "ok", "note": "note", "warning": "warning", "failed": "FAILED", "skipped": "-"}


def _step_label(name: str) -> str:
    labels = {
        "connect": _("connection"), "tls": _("encryption"), "auth": _("sign-in"),
        "size": _("message size"), "pipelining": _("pipelining"), "smtputf8": _("UTF-8 addresses"),
        "spf": "SPF", "dkim": "DKIM", "dmarc": "DMARC", "dns": "DNS",
    }  # fmt: skip
    return labels.get(name, name)


def show_check(check: Preflight) -> None:
    """One line per step: its status, what was checked, what was found."""
    console.print(_("Relay {relay}:").format(relay=check.relay), markup=False)
    for step in check.steps:
        mark = _MARKS.get(step.status, step.status)
        console.print(f"  {mark:<8} {_step_label(step.name):<16} {step.detail}", markup=False)
    if check.failed:
        console.print(_("A send would stop here: fix what FAILED, then check again."))
    elif check.warnings:
        console.print(_("The relay is ready; the warnings do not stop a send."))
    else:
        console.print(_("The relay is ready."))


@app.command("check")
def check(
    campaign: CampaignArg = None,
    release: ReleaseOpt = None,
    dns: Annotated[
        bool,
        typer.Option(
            "--dns/--no-dns",
            help="Also look up the sender domain's SPF, DKIM and DMARC records (warnings only).",
        ),
    ] = True,
    nameserver: Annotated[
        list[str] | None,
        typer.Option(
            "--nameserver",
            help="Ask this DNS server (an IP address) instead of the system's; repeatable.",
            show_default=False,
        ),
    ] = None,
    dns_port: Annotated[
        int, typer.Option("--dns-port", help="The port of --nameserver.", min=1, max=65535)
    ] = 53,
) -> None:
    """Check the relay as a send would, without sending: connect, STARTTLS, sign in (password or
    OAuth2), and what the relay offers against the release's messages (SIZE against the largest
    one, SMTPUTF8 when an address needs it, PIPELINING); then the sender domain's DNS records.

    Every send runs the same check (without DNS) before its run is recorded, and stops there if
    a step FAILED.  Exit code 1 when a step failed.
    """
    from distrib import app as distrib_app

    config = load(campaign, release)
    with user_errors():
        found = distrib_app.relay_check(
            config, dns=dns, nameservers=tuple(nameserver or ()), dns_port=dns_port
        )
    show_check(found)
    if not found.ok:
        raise typer.Exit(int(Exit.ERROR))
