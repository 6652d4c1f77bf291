"""`distrib ui` (the workspace in a browser), `distrib users` (its team accounts) and
`distrib unsubscribe-server` (the one-click unsubscribe page)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from distrib.app import gettext as _
from distrib.cli._common import Exit, console, err, fail, user_errors

#: Seconds a thread holds the GIL before another waiting for it gets it (Python's default: 5 ms).
UI_SWITCH_INTERVAL = 0.0005

WorkspaceArg = Annotated[
    Path | None,
    typer.Argument(
        help="The workspace: its distrib.toml (or a campaign file), or the folder holding it"
        " (default: this folder).",
        show_default=False,
    ),
]
HostOpt = Annotated[
    str,
    typer.Option(
        "--host",
        help="Address to listen on.  Anything but the loopback (127.0.0.1, ::1) makes a team"
        " server: it needs accounts (`distrib users add`) and HTTPS in front of it.",
    ),
]
AllowHostOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--allow-host",
        help="A host name people type to reach this server (the name its HTTPS proxy serves);"
        " requests naming any other host are refused.  Repeatable.",
        show_default=False,
    ),
]

users_app = typer.Typer(
    help="Accounts that may sign in to a team server (`distrib ui --host …`).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add `ui`, `users` and `unsubscribe-server` to ``app``."""
    app.command("ui")(ui)
    app.add_typer(users_app, name="users")
    app.command("unsubscribe-server")(unsubscribe_server)


def _workspace(workspace: Path | None) -> Path:
    from distrib import app

    with user_errors():
        file = app.workspace_file(workspace)
        app.load_campaign(file)  # every problem of the file now, not on the first page
    return file


def ui(
    workspace: WorkspaceArg = None,
    port: Annotated[int, typer.Option("--port", help="Port (0: a free one).", min=0)] = 0,
    host: HostOpt = "127.0.0.1",
    allow_host: AllowHostOpt = None,
    team: Annotated[
        bool,
        typer.Option(
            "--team",
            help="Require accounts even on the loopback (a team server behind a reverse proxy"
            " on this machine).",
        ),
    ] = False,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Do not open a browser; only print the address.")
    ] = False,
    max_upload_mb: Annotated[
        int, typer.Option("--max-upload-mb", help="Largest file a browser may send.", min=1)
    ] = 20,
) -> None:
    """Open the workspace in a browser: a local server with a random access key.

    The address printed holds the key (as Jupyter's does): open it, and the browser keeps a
    session cookie.  On a team server (--host other than the loopback, or --team) officers sign
    in with the accounts of users.toml instead; put an HTTPS reverse proxy in front of it.
    On a folder without a workspace (or one not made yet), the page offers to create it.
    """
    from distrib import app
    from distrib.web.serving import Server, is_loopback
    from distrib.web.workspace import UiSettings, create_app, new_access_token

    team = team or not is_loopback(host)
    to_create = app.workspace_to_create(workspace)
    if to_create is not None and team:
        fail(
            _(
                "{folder}: no workspace here.  A team server opens an existing workspace:"
                " create it first (`distrib init {folder}`, or `distrib ui {folder}` on this"
                " machine)."
            ).format(folder=to_create),
            Exit.USAGE,
        )
    file = to_create or _workspace(workspace)
    allowed = {"127.0.0.1", "localhost", "[::1]", "::1"}
    allowed.update(name.strip().lower() for name in allow_host or ())
    if team:
        with user_errors():
            accounts = app.load_accounts(app.accounts_file(file))
        if not accounts:
            fail(
                _(
                    "refusing to serve on {host} without accounts: anyone who can reach it"
                    " would see the workspace.  Add one with `distrib users add NAME {file}`"
                    " (accounts are kept in {accounts}), and put an HTTPS reverse proxy in"
                    " front of the server."
                ).format(host=host, file=file, accounts=app.accounts_file(file)),
                Exit.USAGE,
            )
    settings = UiSettings(
        workspace=file,
        access_token=None if team else new_access_token(),
        team=team,
        allowed_hosts=frozenset(allowed),
        max_upload=max_upload_mb * 1024 * 1024,
        secure_cookies=team and not is_loopback(host),
        setup=to_create is not None,
    )
    with user_errors():
        server = Server(create_app(settings, warm=True), host, port)
    app.load_preview_stages()  # before the address is given: the first preview is not slowed
    # The preview's background check renders every message in a thread of this process: with
    # Python's default 5 ms switch interval, each time a request's thread gave up the GIL (a
    # socket read or write) it waited up to 5 ms to get it back, and a message opened during
    # the check took several times longer than after it (docs/benchmarks.md).
    sys.setswitchinterval(UI_SWITCH_INTERVAL)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104 (compared, not bound)
    if team:
        console.print(
            _("distrib ui: team server for {file} on {url}").format(
                file=file, url=server.url(shown)
            ),
            markup=False,
        )
        console.print(
            _(
                "TLS: this server speaks plain HTTP.  Put an HTTPS reverse proxy in front of it"
                " (see docs/web.md) and let people reach it only through the proxy; officers"
                " sign in with their accounts (`distrib users list`)."
            ),
            markup=False,
        )
    else:
        url = f"{server.url(shown)}?token={settings.access_token}"
        if to_create is not None:
            console.print(
                _("distrib ui: no workspace in {folder} yet; the page offers to create it").format(
                    folder=to_create
                ),
                markup=False,
            )
        else:
            console.print(_("distrib ui: {file}").format(file=file), markup=False)
        console.print(_("Open {url}").format(url=url), markup=False, soft_wrap=True)
        console.print(
            _("(the address holds this session's access key; Ctrl-C stops)"), markup=False
        )
        if not no_browser:
            _open_browser(url)
    sys.stdout.flush()
    server.serve()


def _open_browser(url: str) -> None:
    import webbrowser

    try:
        webbrowser.open(url)
    except webbrowser.Error:
        err.print(_("(no browser could be opened: open the address yourself)"), markup=False)


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="The account name (letters, digits, . _ @ -).")],
    workspace: WorkspaceArg = None,
) -> None:
    """Add an account (or change its password): the password is asked twice, never shown."""
    from distrib import app

    file = _workspace(workspace)
    password = typer.prompt(
        f"Password for {name}", hide_input=True, confirmation_prompt=True, err=True
    )
    with user_errors():
        accounts = app.add_account(app.accounts_file(file), name, password)
    console.print(
        f"Account {name} saved in {accounts.file} ({len(accounts.users)} account(s)).",
        markup=False,
    )


@users_app.command("remove")
def users_remove(
    name: Annotated[str, typer.Argument(help="The account name.")],
    workspace: WorkspaceArg = None,
) -> None:
    """Remove an account (its sessions end when the server restarts)."""
    from distrib import app

    file = _workspace(workspace)
    with user_errors():
        removed = app.remove_account(app.accounts_file(file), name)
    if not removed:
        fail(f"no account named {name} in {app.accounts_file(file)}")
    console.print(f"Account {name} removed.", markup=False)


@users_app.command("list")
def users_list(workspace: WorkspaceArg = None) -> None:
    """List the accounts that may sign in to a team server."""
    from distrib import app

    file = _workspace(workspace)
    with user_errors():
        accounts = app.load_accounts(app.accounts_file(file))
    if not accounts:
        console.print(f"No account in {accounts.file}.", markup=False)
        return
    for account_name in accounts.names():
        console.print(account_name, markup=False)


def unsubscribe_server(
    workspace: WorkspaceArg = None,
    port: Annotated[int, typer.Option("--port", help="Port (0: a free one).", min=0)] = 8040,
    host: Annotated[
        str,
        typer.Option("--host", help="Address to listen on (its HTTPS reverse proxy's side)."),
    ] = "127.0.0.1",
) -> None:
    """Serve the one-click unsubscribe page (RFC 8058) of the workspace's messages.

    Put it behind an HTTPS reverse proxy at the campaign's unsubscribe_url
    (https://…/u/{token}); it records opt-outs in the workspace's delivery log.  It needs the
    token secret in the environment variable the campaign names (unsubscribe_secret_env).
    """
    from distrib import app
    from distrib.web.serving import Server
    from distrib.web.unsubscribe_server import create_unsubscribe_app

    file = _workspace(workspace)
    with user_errors():
        campaign = app.load_campaign(file)
        index = app.token_index(campaign)
        server = Server(create_unsubscribe_app(file, index), host, port)
    console.print(
        f"distrib unsubscribe-server: {file} on {server.url()}u/TOKEN (Ctrl-C stops)",
        markup=False,
    )
    if campaign.sender.unsubscribe_url is None:
        err.print(
            "warning: the campaign has no unsubscribe_url: set it to this server's public"
            " https:// address followed by /u/{token}",
            markup=False,
        )
    sys.stdout.flush()
    server.serve()
