"""`distrib templates copy`: distrib's built-in templates, copied to be customised."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from distrib.cli._common import console, user_errors

app = typer.Typer(
    help="Customise the templates every message is rendered with.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@app.command("copy")
def copy(
    folder: Annotated[
        Path | None,
        typer.Argument(
            help="Where to copy them (default: templates/ in the workspace).", show_default=False
        ),
    ] = None,
    workspace: Annotated[
        Path | None,
        typer.Option(
            "--workspace",
            "-w",
            help="The workspace (default: the one the current folder is in).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Copy distrib's built-in templates (subject, text and HTML per language, base layouts,
    style.css) to customise them; says the line the workspace file needs to use them."""
    from distrib import app
    from distrib.app import display_path

    with user_errors():
        copied = app.copy_templates(folder, workspace)
    console.print(
        f"Copied {len(copied.written)} template files to {display_path(copied.folder.resolve())}/",
        markup=False,
    )
    if copied.setting and copied.workspace is not None:
        console.print(
            f"To use them, add this line to {display_path(copied.workspace)} (at the top, before"
            f" any [table]):\n  {copied.setting}",
            markup=False,
        )
