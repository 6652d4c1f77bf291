"""The ``distrib`` command line: thin Typer commands that parse, call the library, and format.

One module per command group; library modules are imported inside commands so ``distrib --help``
starts fast.
"""

from __future__ import annotations

import os
import sys

import typer

from distrib import __version__
from distrib.cli import (
    audit,
    bounces,
    contacts,
    history,
    optout,
    preview,
    relay,
    release,
    replies,
    resolve,
    send,
    setup,
    templates,
    ui,
)

app = typer.Typer(
    name="distrib",
    help="Send a bilingual press release to the journalists who should get it.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
    # Never print local variables in a traceback: `send` holds the SMTP password in one.  (Typer
    # 0.12 to 0.22 showed them by default.)  `main` keeps tracebacks away from users anyway.
    pretty_exceptions_show_locals=False,
)
app.add_typer(contacts.app, name="contacts")
app.add_typer(release.app, name="release")
app.add_typer(templates.app, name="templates")
setup.register(app)
preview.register(app)
send.register(app)
audit.register(app)
history.register(contacts.app)
bounces.register(app)
replies.register(app)
optout.register(app)
resolve.register(app)
relay.register(app)
ui.register(app)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"distrib {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
    lang: str | None = typer.Option(
        None,
        "--lang",
        help="The language distrib speaks in, fr or en: its messages and the HTML report"
        " (default: DISTRIB_LANG, else the workspace's interface_language, else the"
        " locale's language, else en).",
        show_default=False,
    ),
) -> None:
    """Send a bilingual press release to the journalists who should get it.

    Typical session: contacts check → preview → send → report.
    """
    from distrib.app import pick_language, set_language
    from distrib.cli._common import remember_language

    if lang is not None and lang not in ("fr", "en"):
        raise typer.BadParameter(f"{lang!r}: fr or en", param_hint="--lang")
    remember_language(lang)
    set_language(pick_language(lang))


#: Set this environment variable to 1 to see the traceback of an unexpected error.
DEBUG_ENV = "DISTRIB_DEBUG"


def main() -> None:
    """Run the command line: an unexpected error is a short message and exit code 1, never a
    traceback (which could show what distrib was handling: addresses, replies, file content).
    """
    try:
        app()
    except Exception as exc:  # a bug: every error distrib expects is handled by its command
        if os.environ.get(DEBUG_ENV) == "1":
            raise
        where = _innermost_distrib_frame(exc)
        print(
            f"error: distrib stopped on an unexpected error ({type(exc).__name__}{where}).\n"
            "This is a bug in distrib, not something you did: please report it with the"
            " command you ran.  If a run was sending, the delivery log says what was sent"
            " (`distrib report`) and `distrib send CAMPAIGN --resume RUN` goes on.  To see the"
            f" details, run the command again with {DEBUG_ENV}=1 in the environment.",
            file=sys.stderr,
        )
        sys.exit(1)


def _innermost_distrib_frame(exc: BaseException) -> str:
    """Return " in module.py:LINE" for the deepest frame of distrib's own code ("" if none).

    Only the place is shown, never the exception's text or any value: a message may quote what
    distrib was handling.
    """
    import traceback
    from pathlib import Path

    package = Path(__file__).resolve().parent.parent
    found = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        path = Path(frame.filename)
        if path.is_relative_to(package):
            found = f" in {path.relative_to(package.parent).as_posix()}:{frame.lineno}"
    return found
