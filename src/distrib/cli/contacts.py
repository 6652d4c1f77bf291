"""`distrib contacts …`: see who will get what before anything is sent."""

from __future__ import annotations

from collections import Counter
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
    fail,
    load,
    selection,
    user_errors,
)

if TYPE_CHECKING:
    from distrib.app import AudienceSummary, ContactBook, SourceSummary

app = typer.Typer(
    help="Check and merge the media lists, and see who a release goes to.", no_args_is_help=True
)

CheckMX = Annotated[
    bool | None,
    typer.Option(
        "--check-mx/--no-check-mx",
        help="Look up each domain's mail server (DNS) and reject rows whose domain takes no "
        "mail (default: the campaign's contacts.check_mx).",
        show_default=False,
    ),
]
_TOP_OUTLETS = 10


@app.command("check")
def check(
    campaign: CampaignArg = None,
    release: ReleaseOpt = None,
    only: OnlyOpt = None,
    exclude: ExcludeOpt = None,
    check_mx: CheckMX = None,
) -> None:
    """Merge the lists and show who the release will go to, and every row set aside.

    The delivery log's opt-outs and bounces are set aside, and the release's audience (its
    release.toml, --only, --exclude) says who of the others it goes to, and why not the rest.
    Exits 0 even when rows are rejected (they are listed); 1 when a source cannot be read or
    an audience rule names a column or value no list has.
    """
    from distrib import app

    config = load(campaign, release)
    with user_errors():
        book = app.check_contacts(config, check_mx=check_mx, selection=selection(only, exclude))
    print_book(book, default_language=config.default_language)
    raise typer.Exit(int(Exit.OK))


@app.command("merge")
def merge(
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="The merged list to write: a .csv or .xlsx file.",
            show_default=False,
        ),
    ],
    campaign: CampaignArg = None,
    release: ReleaseOpt = None,
    only: OnlyOpt = None,
    exclude: ExcludeOpt = None,
    check_mx: CheckMX = None,
) -> None:
    """Write the merged list (with provenance columns) and a file of the rejected rows.

    "-o merged.csv" also writes "merged.rejects.csv".  Cells a spreadsheet would run as
    formulas are neutralised.
    """
    from distrib import app

    if output.suffix.lower() not in app.MERGE_FORMATS:  # before the lists are read
        fail(f"{output}: the merged list must be a .csv or .xlsx file", Exit.USAGE)
    config = load(campaign, release)
    with user_errors():
        merged = app.merge_contacts(
            config, output, check_mx=check_mx, selection=selection(only, exclude)
        )
    book = merged.book
    print_book(book, default_language=config.default_language, details=False)
    console.print(f"\nWrote {len(book.contacts)} contacts to {merged.output}", markup=False)
    console.print(f"Wrote {len(book.rejected)} rejected rows to {merged.rejects}", markup=False)
    raise typer.Exit(int(Exit.OK))


def _read_as(s: SourceSummary) -> str:
    basis = {"bom": "BOM", "utf-16": "guessed", "utf-8": "valid", "fallback": "guessed",
             "campaign": "given"}  # fmt: skip
    encoding = f"{s.encoding} ({basis.get(s.encoding_basis or '', '?')})" if s.encoding else None
    sheet = f"sheet {s.sheet!r}" if s.sheet is not None else None
    return ", ".join(part for part in (sheet, encoding, _delimiter(s.delimiter)) if part)


def _skipped(s: SourceSummary) -> str:
    parts = [
        f"{n} {what}"
        for n, what in ((s.blank_rows, "blank"), (s.header_rows, "header"), (s.total_rows, "total"))
        if n
    ]
    return ", ".join(parts)


def print_book(book: ContactBook, *, default_language: str, details: bool = True) -> None:
    """Print the per-source accounting, languages, outlets and every row set aside."""
    from rich.box import SIMPLE_HEAD
    from rich.table import Table

    table = Table(title="Contact sources (precedence order)", title_justify="left", box=SIMPLE_HEAD)
    columns = ("source", "rows", "accepted", "duplicates", "rejected", "suppressed")
    for column in (*columns, "skipped", "read as"):
        wraps = column in ("source", "read as")  # long paths fold; the counts never do
        table.add_column(
            column,
            justify="right" if column in columns[1:] else "left",
            no_wrap=not wraps,
            overflow="fold" if wraps else "ellipsis",
            min_width=22 if column == "read as" else None,
        )
    for s in book.sources:
        counts = (s.rows, s.accepted, s.duplicates, s.rejected, s.suppressed)
        table.add_row(s.path, *(str(n) for n in counts), _skipped(s), _read_as(s))
    totals = [
        sum(getattr(s, f) for s in book.sources)
        for f in ("rows", "accepted", "duplicates", "rejected", "suppressed")
    ]
    table.add_row("total", *(str(n) for n in totals), "", "", style="bold")
    console.print(table)
    ok = "adds up" if book.adds_up else "DOES NOT ADD UP (please report this as a bug)"
    console.print(
        f"Accounting: {totals[0]} rows read = {totals[1]} accepted + {totals[2]} duplicates"
        f" + {totals[3]} rejected + {totals[4]} suppressed ({ok})"
    )
    if book.audience is not None:
        print_audience(book.audience)
    _print_languages(book, default_language)
    _print_outlets(book)
    if book.conflicts:
        console.print(f"Conflicts: {len(book.conflicts)} (same address, different values)")
    if details:
        for title, problems in (
            ("Rejected rows", book.rejected),
            ("Conflicts (the first value is kept)", book.conflicts),
            ("Suppressed", book.suppressed),
            ("Duplicates", book.duplicates),
            ("Not in the audience", book.outside),
            ("Warnings", book.warnings),
        ):
            if problems:
                console.print(f"\n{title} ({len(problems)}):")
                for problem in problems:
                    console.print(f"  {problem}", markup=False)


def print_audience(audience: AudienceSummary, indent: str = "") -> None:
    """Say how many contacts are in the release's audience, and what left the others out."""
    console.print(
        f"{indent}Audience: {audience.kept} of {audience.merged} contacts"
        f" ({audience.out} left out by {len(audience.rules)} rule(s))",
        markup=False,
    )
    for rule in audience.rules:
        console.print(f"{indent}  {rule}: {audience.left_out.get(rule, 0)} left out", markup=False)


def _print_languages(book: ContactBook, default_language: str) -> None:
    languages = Counter(c.language for c in book.contacts)
    codes = Counter(w.code for w in book.language_fallbacks)
    missing = codes["language-missing"] + codes["language-list-missing"]
    unknown = codes["language-unknown"] + codes["language-list-unknown"]
    detail = ", ".join(
        f"{n} {word}" for n, word in ((missing, "missing"), (unknown, "unknown")) if n
    )
    to_list = codes["language-list-missing"] + codes["language-list-unknown"]
    if not to_list:
        why = f"sent in {default_language}, the campaign default: {detail}"
    else:
        to_default = missing + unknown - to_list
        why = f"{detail}: {to_list} sent in their list's language"
        why += f", {to_default} in {default_language}, the campaign default" if to_default else ""
    console.print(
        "Languages: "
        + (", ".join(f"{lang} {n}" for lang, n in sorted(languages.items())) or "none")
        + (f" ({why})" if detail else "")
    )


def _print_outlets(book: ContactBook) -> None:
    by_slug: dict[str, Counter[str]] = {}
    for contact in book.contacts:
        by_slug.setdefault(contact.outlet_slug, Counter())[contact.outlet] += 1
    named = {slug: names for slug, names in by_slug.items() if slug}
    sizes = sorted(named.items(), key=lambda item: (-sum(item[1].values()), item[0]))
    top = ", ".join(
        f"{names.most_common(1)[0][0]} {sum(names.values())}" for _, names in sizes[:_TOP_OUTLETS]
    )
    without = sum(by_slug.get("", Counter()).values())
    more = f", … {len(sizes) - _TOP_OUTLETS} more" if len(sizes) > _TOP_OUTLETS else ""
    console.print(
        f"Outlets: {len(sizes)}"
        + (f" ({top}{more})" if top else "")
        + (f"; {without} contacts without an outlet" if without else "")
    )


def _delimiter(value: str | None) -> str | None:
    return None if value is None else ("tab" if value == "\t" else f'"{value}"')
