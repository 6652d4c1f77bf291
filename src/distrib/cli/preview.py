"""`distrib preview`: write every rendered message to a folder, or serve them on a local page."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from distrib.cli._common import (
    CampaignArg,
    ExcludeOpt,
    Exit,
    OnlyOpt,
    ReleaseOpt,
    console,
    err,
    load,
    selection,
    user_errors,
)

if TYPE_CHECKING:
    from distrib.app import PreviewSet


def register(app: typer.Typer) -> None:
    """Add the preview command to ``app``."""
    app.command("preview")(preview)


def preview(
    campaign: CampaignArg = None,
    release: ReleaseOpt = None,
    only: OnlyOpt = None,
    exclude: ExcludeOpt = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Folder to write to (default: preview/RELEASE/ in the workspace, preview/"
            " beside a campaign file).",
            show_default=False,
        ),
    ] = None,
    serve: Annotated[
        bool,
        typer.Option(
            "--serve",
            help="Serve the preview on a local web page (127.0.0.1) instead of writing files.",
        ),
    ] = False,
    port: Annotated[
        int, typer.Option("--port", help="Port for --serve (0 picks a free one).", min=0)
    ] = 8025,
) -> None:
    """Render every message and write one .eml and one .html per recipient, plus an index.html.

    Nothing is sent, whatever the embargo.  With --serve, browse every recipient's message, the
    problems and the warnings at http://127.0.0.1:PORT/ (Ctrl-C stops).  Exits 1 when some
    messages cannot be rendered (they are listed).
    """
    from distrib import app

    config = load(campaign, release)
    chosen = selection(only, exclude)
    with user_errors():
        if serve:
            collected = app.collect_preview(config, selection=chosen)
        else:
            # One pass: each message is written as soon as it is rendered (rendered once).
            collected, written = app.collect_and_write_preview(config, out, selection=chosen)
    if collected.audience is not None:
        from distrib.cli.contacts import print_audience

        print_audience(collected.audience)
    if serve:
        _serve(collected, port)
        return
    console.print(
        f"Wrote {written.written} messages to {app.display_path(written.folder.resolve())}/"
    )
    console.print(f"Open {app.display_path(written.index.resolve())} in a browser.")
    _report(collected)


def _report(collected: PreviewSet) -> None:
    """Print the warnings, then the problems (which exit 1)."""
    warnings = [w for e in collected.entries for w in e.warnings] + list(collected.warnings)
    if warnings:
        console.print(f"{len(warnings)} warning(s) (they do not stop a send):", markup=False)
        for warning in warnings[:20]:
            console.print(f"  {warning}", markup=False)
        if len(warnings) > 20:
            console.print(f"  … and {len(warnings) - 20} more (distrib preview --serve)")
    problems = collected.problems
    if problems:
        err.print(f"{len(problems)} message(s) cannot be rendered:", markup=False)
        for problem in problems:
            err.print(f"  {problem}", markup=False)
        raise typer.Exit(int(Exit.ERROR))


def _serve(collected: PreviewSet, port: int) -> None:
    from distrib.web.preview_server import PreviewServer

    try:
        server = PreviewServer(collected, port)
    except OSError as exc:
        err.print(f"error: cannot listen on 127.0.0.1:{port}: {exc.strerror}", markup=False)
        raise typer.Exit(int(Exit.ERROR)) from None
    total = len(collected.entries)
    failing = sum(not e.ok for e in collected.entries)
    console.print(f"{total} recipient(s), {failing} with problems.")
    console.print(f"Preview at {server.url}  (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        console.print("\nStopped.")
    finally:
        server.httpd.server_close()
