"""`distrib release import`: a release from Word, a web page or plain text, into fr.md / en.md."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from distrib.cli._common import console, err, user_errors

if TYPE_CHECKING:
    from distrib.app import ImportReport
    from distrib.errors import ReleaseOverwriteError

app = typer.Typer(
    help="Work on releases: add one to the workspace, import one from Word, a web page or text.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

DEFAULT_ZONE = "America/Toronto"


@app.command("new")
def new(
    slug: Annotated[
        str,
        typer.Argument(
            help="The release's name: its folder in releases/ and its key in the delivery log,"
            " e.g. 2027-11-hiver-en-vitrine.",
            show_default=False,
        ),
    ],
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
    """Add a release to the workspace: releases/SLUG/ with a starter fr.md and en.md, and a
    commented release.toml (its audience, sender or templates, all optional)."""
    from distrib import app
    from distrib.app import display_path

    with user_errors():
        made = app.create_release(slug, workspace)
    for path in made.written:
        console.print(f"  created {display_path(path.resolve())}", markup=False)
    folder = display_path(made.folder.resolve())
    console.print(
        f"Next: write {folder}/fr.md and en.md (or `distrib release import FILE --release"
        f" {slug}`), then `distrib preview {folder}`.",
        markup=False,
    )


@app.command("import")
def import_(
    files: Annotated[
        list[str],
        typer.Argument(
            help="Files to import: .docx, .html, .txt, .md; '-' reads text from standard input.",
            show_default=False,
        ),
    ],
    lang: Annotated[
        str | None,
        typer.Option(
            "--lang", help="fr or en (default: detected from the text).", show_default=False
        ),
    ] = None,
    release: Annotated[
        str | None,
        typer.Option(
            "--release",
            help="The release: a folder, or a release of the workspace by name (default: the"
            " current release folder, or the one ./campaign.toml names).",
            show_default=False,
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace fr.md/en.md even if they were edited.")
    ] = False,
    tz: Annotated[
        str,
        typer.Option("--tz", help="Time zone of an embargo line that names none."),
    ] = DEFAULT_ZONE,
    dateline: Annotated[
        str | None,
        typer.Option(
            "--dateline",
            help="Dateline for a document that has none (e.g. 'MONTRÉAL, le 4 novembre 2027 –').",
            show_default=False,
        ),
    ] = None,
    embargo: Annotated[
        str | None,
        typer.Option(
            "--embargo",
            help="Embargo moment, e.g. '2027-11-04 09:00' (in --tz) or '2027-11-04T09:00-05:00'.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Turn each FILE into the release's fr.md or en.md (front matter + Markdown) and its images.

    Prints what it understood (title, dateline, embargo, sections, About, media contact, images)
    and what it dropped (banners, navigation, share links, tag debris, labels, the end mark), so
    you can check it before `distrib preview`.  Nothing is written when a file has a problem, and
    a file edited since the last import is never replaced without --force (its front matter diff
    is shown instead).
    """
    from distrib import app
    from distrib.errors import ReleaseOverwriteError

    stdin = sys.stdin.buffer.read() if app.STDIN in files else None
    with user_errors():
        try:
            report = app.import_release(
                files, release=release, lang=lang, tz=tz, force=force, dateline=dateline,
                embargo=embargo, stdin=stdin,
            )  # fmt: skip
        except ReleaseOverwriteError as exc:
            _conflicts(exc)
            raise
    _print(report)


def _conflicts(exc: ReleaseOverwriteError) -> None:
    for conflict in exc.conflicts:
        err.print(f"{conflict.path} was edited; what the import would change:", markup=False)
        if conflict.front_matter_diff:
            err.print(conflict.front_matter_diff.rstrip("\n"), markup=False)
        if conflict.body_changed:
            err.print("  (the text after the front matter differs too)", markup=False)


def _print(report: ImportReport) -> None:
    from distrib.app import display_path

    for document in report.documents:
        destination = display_path(report.target / document.filename)
        console.print(f"{document.source} → {destination}", markup=False)
        console.print("  Understood:", markup=False)
        width = max(len(note.what) for note in document.understood)
        for note in document.understood:
            console.print(f"    {note.what.ljust(width)}  {note.detail}", markup=False)
        if document.dropped:
            console.print(f"  Dropped ({len(document.dropped)}):", markup=False)
            for note in document.dropped:
                console.print(f"    {note}", markup=False)
        if document.warnings:
            console.print(f"  Warnings ({len(document.warnings)}):", markup=False)
            for warning in document.warnings:
                console.print(f"    {warning}", markup=False)
    console.print("Files:", markup=False)
    for written in report.written:
        console.print(f"  {written.action:<9} {display_path(written.path)}", markup=False)
    for lang in report.missing_languages:
        console.print(
            f"Missing: {lang}.md — contacts who read {lang} get the campaign's"
            " fallback_language, or are listed as problems by preview and send if it has none.",
            markup=False,
        )
    console.print(
        f"Next: distrib preview {display_path(report.target)}, and read every message.",
        markup=False,
    )
