"""`distrib contacts …`: see who will get what before anything is sent."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import typer

from distrib.cli._common import CampaignArg, Exit, console, load, user_errors

if TYPE_CHECKING:
    from distrib.contacts.model import ContactBook

app = typer.Typer(help="Check and merge the campaign's media lists.", no_args_is_help=True)


@app.command("check")
def check(campaign: CampaignArg) -> None:
    """Merge the campaign's lists and show who will get what, and every row set aside.

    Exits 0 even when rows are rejected (they are listed); 1 when a source cannot be read.
    """
    from distrib.contacts import load_contacts

    config = load(campaign)
    with user_errors():
        book = load_contacts(config)
    print_book(book, default_language=config.default_language)
    raise typer.Exit(int(Exit.OK))


def print_book(book: ContactBook, *, default_language: str, details: bool = True) -> None:
    """Print the per-source accounting, languages, outlets and every row set aside."""
    from rich.table import Table

    table = Table(title="Contact sources (priority order)", title_justify="left")
    for column in ("source", "read as", "rows", "accepted", "duplicates", "rejected", "suppressed"):
        table.add_column(column, justify="left" if column in ("source", "read as") else "right")
    for s in book.sources:
        name = f"{s.path}:{s.sheet}" if s.sheet else s.path
        read_as = ", ".join(part for part in (s.encoding, _delimiter(s.delimiter)) if part)
        table.add_row(
            name,
            read_as,
            *(str(n) for n in (s.rows, s.accepted, s.duplicates, s.rejected, s.suppressed)),
        )
    totals = [
        sum(getattr(s, f) for s in book.sources)
        for f in ("rows", "accepted", "duplicates", "rejected", "suppressed")
    ]
    table.add_row("total", "", *(str(n) for n in totals), style="bold")
    console.print(table)
    ok = "adds up" if book.adds_up else "DOES NOT ADD UP (please report this as a bug)"
    console.print(
        f"Accounting: {totals[0]} rows read = {totals[1]} accepted + {totals[2]} duplicates"
        f" + {totals[3]} rejected + {totals[4]} suppressed ({ok})"
    )
    languages = Counter(c.language for c in book.contacts)
    console.print(
        "Languages: "
        + ", ".join(f"{lang} {n}" for lang, n in sorted(languages.items()))
        + f" (missing or unknown languages default to {default_language})"
    )
    outlets = Counter(c.outlet or "(no outlet)" for c in book.contacts)
    console.print(f"Outlets: {len(outlets)}")
    if details:
        for title, problems in (
            ("Rejected rows", book.rejected),
            ("Suppressed", book.suppressed),
            ("Duplicates", book.duplicates),
            ("Warnings", book.warnings),
        ):
            if problems:
                console.print(f"\n{title} ({len(problems)}):")
                for problem in problems:
                    console.print(f"  {problem}", markup=False)


def _delimiter(value: str | None) -> str | None:
    names = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
    return None if value is None else f"{names.get(value, repr(value))}-separated"
