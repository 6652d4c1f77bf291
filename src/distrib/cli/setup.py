"""`distrib init`, `distrib migrate` and `distrib sink`: get started, and capture mail locally."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from distrib.cli._common import console, fail, user_errors


def register(app: typer.Typer) -> None:
    """Add the init, migrate and sink commands to ``app``."""
    app.command("init")(init)
    app.command("migrate")(migrate)
    app.command("sink")(sink)


def init(
    folder: Annotated[Path, typer.Argument(help="Folder to create the workspace in.")],
) -> None:
    """Write a starter workspace: distrib.toml (sender, relay, lists), a contact list and a
    first bilingual release in releases/.

    It sends to `distrib sink` out of the box, with distrib's built-in templates (`distrib
    templates copy` makes a copy to customise).  Existing files are never overwritten.
    """
    from distrib import app
    from distrib.app import display_path

    try:
        written = app.start_workspace(folder)
    except FileExistsError as exc:
        fail(f"{exc}: already exists; choose an empty folder")
    for path in written:
        console.print(f"  created {display_path(path.resolve())}", markup=False)
    release = display_path(written[-1].parent.resolve())
    console.print(
        "\nNext:\n"
        "  distrib sink &                      # a local capture server on 127.0.0.1:2525\n"
        f"  distrib contacts check {release}\n"
        f"  distrib preview {release}\n"
        f"  distrib send {release}\n"
        f"  (cd {display_path(folder.resolve())} && distrib release new 2027-03-nouvelle)"
        "   # the next release",
        markup=False,
    )


def migrate(
    campaign: Annotated[
        Path, typer.Argument(help="The campaign file to convert.", show_default=False)
    ],
) -> None:
    """Turn a campaign file into a workspace beside it: distrib.toml and releases/NAME/.

    The release keeps its name in the delivery log, and the log stays where it is, so everyone
    already sent is still "already sent" and every opt-out still holds.  The campaign file and
    its release folder are left as they were (the release is copied): remove them when the
    workspace works for you.
    """
    from distrib import app
    from distrib.app import display_path

    with user_errors():
        migrated = app.migrate_campaign(campaign)
    for path in migrated.written:
        console.print(f"  created {display_path(path.resolve())}", markup=False)
    named = "" if migrated.name == migrated.slug else f" (named {migrated.name!r} in it)"
    console.print(
        f"The release keeps its name in the delivery log"
        f" {_shown(migrated.log)}{named}: everyone it was sent to is still"
        ' "already sent", and every opt-out holds.  The campaign file and its release folder'
        " are unchanged: remove them once the workspace works for you.\n"
        f"Next: distrib preview {display_path(migrated.release.resolve())}",
        markup=False,
    )


def sink(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0 picks a free one).")] = 2525,
    maildir: Annotated[Path, typer.Option(help="Maildir to store captured messages in.")] = Path(
        "captured-mail"
    ),
) -> None:
    """Run a local SMTP server that captures every message in a Maildir (nothing is relayed).

    Prints one line per message.  Stop it with Ctrl-C.
    """
    from distrib import app
    from distrib.app import display_path

    def show(line: str) -> None:
        console.print(line, markup=False)

    with user_errors():
        app.capture_mail(
            host=host,
            port=port,
            maildir=maildir,
            on_message=show,
            on_ready=lambda h, p: console.print(
                f"distrib sink listening on {h}:{p}; saving to {display_path(maildir.resolve())}/"
                " (Ctrl-C to stop)",
                markup=False,
            ),
        )


def _shown(log: object) -> str:
    """A log file as the officer would type it; a database URL as it is (without password)."""
    from pathlib import Path

    from distrib.app import display_path

    return display_path(log.resolve()) if isinstance(log, Path) else str(log)
