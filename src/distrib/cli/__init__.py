"""The ``distrib`` command line: thin Typer commands that parse, call the library, and format.

One module per command group; library modules are imported inside commands so ``distrib --help``
starts fast.
"""

from __future__ import annotations

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
    resolve,
    send,
    setup,
)

app = typer.Typer(
    name="distrib",
    help="Send a bilingual press release to the journalists who should get it.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(contacts.app, name="contacts")
setup.register(app)
preview.register(app)
send.register(app)
audit.register(app)
history.register(contacts.app)
bounces.register(app)
optout.register(app)
resolve.register(app)
relay.register(app)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"distrib {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Send a bilingual press release to the journalists who should get it.

    Typical session: contacts check → preview → send → report.
    """


def main() -> None:
    """Run the command line."""
    app()
