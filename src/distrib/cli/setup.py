"""`distrib init` and `distrib sink`: get started, and capture mail locally."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from distrib.cli._common import console, fail, user_errors


def register(app: typer.Typer) -> None:
    """Add the init and sink commands to ``app``."""
    app.command("init")(init)
    app.command("sink")(sink)


def init(
    folder: Annotated[Path, typer.Argument(help="Folder to create the starter campaign in.")],
) -> None:
    """Write a starter campaign: campaign file, a short bilingual release, templates, contacts.

    It sends to `distrib sink` out of the box.  Existing files are never overwritten.
    """
    from distrib import app
    from distrib.app import display_path

    try:
        written = app.start_campaign(folder)
    except FileExistsError as exc:
        fail(f"{exc}: already exists; choose an empty folder")
    for path in written:
        console.print(f"  created {display_path(path.resolve())}")
    campaign = display_path((folder / "campaign.toml").resolve())
    console.print(
        "\nNext:\n"
        f"  distrib sink &                      # a local capture server on 127.0.0.1:2525\n"
        f"  distrib contacts check {campaign}\n"
        f"  distrib preview {campaign}\n"
        f"  distrib send {campaign}"
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
