"""`distrib preview`: write every rendered message to a folder, to look at before sending."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from distrib.cli._common import CampaignArg, Exit, console, err, load, user_errors


def register(app: typer.Typer) -> None:
    """Add the preview command to ``app``."""
    app.command("preview")(preview)


def preview(
    campaign: CampaignArg,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Folder to write to (default: preview/ beside the campaign).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Render every message and write one .eml and one .html per recipient, plus an index.html.

    Nothing is sent.  Exits 1 when some messages cannot be rendered (they are listed).
    """
    from distrib.config import display_path
    from distrib.pipeline import make_plan, render_planned
    from distrib.preview import write_preview

    config = load(campaign)
    with user_errors():
        plan = make_plan(config)
        folder = out if out is not None else config.folder / "preview"
        result = write_preview(
            render_planned(plan), folder, problems=plan.problems, title=config.name
        )
    index = folder / "index.html"
    console.print(f"Wrote {len(plan.messages)} messages to {display_path(folder.resolve())}/")
    console.print(f"Open {display_path(index.resolve())} in a browser.")
    del result
    if plan.problems:
        err.print(f"{len(plan.problems)} message(s) cannot be rendered:", markup=False)
        for problem in plan.problems:
            err.print(f"  {problem}", markup=False)
        raise typer.Exit(int(Exit.ERROR))
