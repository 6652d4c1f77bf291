"""`distrib preview`: write every rendered message to a folder, or serve them on a local page."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from distrib import app
from distrib.app import gettext as _
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
    from distrib.app import LivePreview, PreviewSet


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
    problems and the warnings at http://127.0.0.1:PORT/ (Ctrl-C stops); the pages are rebuilt
    when the release, the templates, the lists or the workspace (or campaign) file change.
    Exits 1 when some messages cannot be rendered (they are listed).
    """
    config = load(campaign, release)
    chosen = selection(only, exclude)
    if serve:
        with user_errors():
            live = app.live_preview(config, selection=chosen)
        _print_audience(live.current())
        _serve(live, port)
        return
    with user_errors():
        # One pass: each message is written as soon as it is rendered (rendered once).
        collected, written = app.collect_and_write_preview(config, out, selection=chosen)
    _print_audience(collected)
    console.print(
        _("Wrote {n} messages to {folder}/").format(
            n=written.written, folder=app.display_path(written.folder.resolve())
        ),
        markup=False,
    )
    console.print(
        _("Open {index} in a browser.").format(index=app.display_path(written.index.resolve())),
        markup=False,
    )
    _report(collected)


def _print_audience(collected: PreviewSet) -> None:
    if collected.audience is not None:
        from distrib.cli.contacts import print_audience

        print_audience(collected.audience)


def _report(collected: PreviewSet) -> None:
    """Print the warnings, then the problems (which exit 1): one line per distinct one."""
    from distrib.cli.send import problem_line

    warnings = [w for e in collected.entries for w in e.warnings] + list(collected.warnings)
    if warnings:
        groups = app.group_problems(warnings)
        console.print(
            _("{n} warning(s) (they do not stop a send):").format(n=len(warnings)), markup=False
        )
        for group in groups[:20]:
            console.print(f"  {problem_line(group)}", markup=False)
        if len(groups) > 20:
            console.print(
                "  " + _("… and {n} more (distrib preview --serve)").format(n=len(groups) - 20)
            )
    problems = collected.problems
    if problems:
        err.print(_("{n} message(s) cannot be rendered:").format(n=len(problems)), markup=False)
        for group in app.group_problems(problems):
            err.print(f"  {problem_line(group)}", markup=False)
        raise typer.Exit(int(Exit.ERROR))


def _serve(live: LivePreview, port: int) -> None:
    from distrib.web.preview_server import PreviewServer

    try:
        server = PreviewServer(live, port)
    except OSError as exc:
        err.print(f"error: cannot listen on 127.0.0.1:{port}: {exc.strerror}", markup=False)
        raise typer.Exit(int(Exit.ERROR)) from None
    collected = live.current()
    total = len(collected.entries)
    failing = sum(not e.ok for e in collected.entries)
    console.print(
        _("{total} recipient(s), {failing} with problems.").format(total=total, failing=failing)
    )
    console.print(_("Preview at {url}  (Ctrl-C to stop)").format(url=server.url), markup=False)
    console.print(
        _(
            "The pages follow the release, the templates, the lists and the workspace (or"
            " campaign) file: change one, reload the page."
        )
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        console.print("\n" + _("Stopped."))
    finally:
        server.httpd.server_close()
