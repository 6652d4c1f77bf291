"""What every command shares: consoles, exit codes, error handling and locating the log."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.text import Text

if TYPE_CHECKING:
    from distrib.app import Campaign, DeliveryLog, Selection


class SafeConsole(Console):
    """A rich console that prints control characters as visible escapes (``\\x1b``).

    Everything distrib prints comes from somewhere: SMTP replies, contact files, bounces, the
    delivery log.  Every string printed, table cells and titles included, goes through
    `render_str`, which escapes what could drive the terminal (`distrib.safetext`): an ESC
    never starts an escape sequence, a CR never overwrites a line.  (Rich alone drops BEL, BS,
    VT, FF and CR without a trace and lets ESC through.)
    """

    def render_str(self, text: str, *args: Any, **kwargs: Any) -> Text:
        """Turn ``text`` into rich's Text, after escaping its control characters."""
        from distrib.app import for_terminal

        return super().render_str(for_terminal(text), *args, **kwargs)


# Piped or captured output gets a wide fixed width, so tables are not squeezed to 80 columns.
# No emoji codes: a location such as "english.xlsx:Sheet:5:Email: …" holds ":Email:", which
# rich would otherwise print as ✉ (user data and paths are shown exactly as they are).
console = SafeConsole(
    highlight=False, soft_wrap=True, emoji=False, width=None if sys.stdout.isatty() else 120
)
err = SafeConsole(stderr=True, highlight=False, soft_wrap=True, emoji=False)


class Exit(IntEnum):
    """distrib's exit codes (documented in the README)."""

    OK = 0  # success: everything done (or nothing to do)
    ERROR = 1  # bad input, configuration, or a connection/TLS/auth failure
    USAGE = 2  # bad command line, or a confirmation needed without a terminal
    FAILURES = 3  # the run finished, but some messages failed, were deferred or are unknown
    STOPPED = 4  # the run was stopped before the end (Ctrl-C); it can be resumed


CampaignArg = Annotated[
    Path | None,
    typer.Argument(
        metavar="[RELEASE]",
        help="The release: its folder (releases/SLUG), a workspace with --release, or a campaign"
        " file (default: the current folder).",
        show_default=False,
    ),
]
ReleaseOpt = Annotated[
    str | None,
    typer.Option(
        "--release",
        "-r",
        metavar="SLUG",
        help="The release of the workspace to use (a folder name of releases/).",
        show_default=False,
    ),
]
OnlyOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--only",
        metavar="COLUMN=VALUE",
        help="Only contacts whose COLUMN holds VALUE (VALUE,VALUE: either), e.g. beat=Culture,"
        " region=Estrie, language=en, list=partenaires.csv, segment=NAME, received=SLUG;"
        " repeatable: every rule must hold.",
        show_default=False,
    ),
]
ExcludeOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--exclude",
        metavar="COLUMN=VALUE",
        help="Leave out contacts whose COLUMN holds VALUE (received=SLUG: those that release"
        " went to); repeatable.",
        show_default=False,
    ),
]
LogOpt = Annotated[
    str | None,
    typer.Option(
        "--log",
        help="Delivery log: a file, or a postgresql:// URL (default: the one the campaign names).",
        show_default=False,
    ),
]
CampaignOpt = Annotated[
    Path | None,
    typer.Option(
        "--campaign",
        "-c",
        help="Workspace, release folder or campaign file whose delivery log to read.",
        show_default=False,
    ),
]


def fail(message: str, code: Exit = Exit.ERROR) -> NoReturn:
    """Print ``message`` on stderr and exit with ``code``."""
    from rich.markup import escape  # the message may quote a path or an argument: not markup

    err.print(
        f"[bold red]error:[/] {escape(message)}"
        if sys.stderr.isatty()
        else f"error: {escape(message)}"
    )
    raise typer.Exit(int(code))


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn distrib's errors into a clear message and exit code 1 — never a traceback."""
    from distrib.errors import DistribError, InvalidRequestError, ProblemsError

    try:
        yield
    except InvalidRequestError as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(int(Exit.USAGE)) from None
    except ProblemsError as exc:
        if exc.summary:
            err.print(f"error: {exc.summary}", markup=False)
        else:
            err.print(f"error: {len(exc.problems)} problem(s):", markup=False)
        for problem in exc.problems:
            err.print(f"  {problem}", markup=False)
        raise typer.Exit(int(Exit.ERROR)) from None
    except DistribError as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(int(Exit.ERROR)) from None


#: The ``--lang`` the command line was given (None: not given), for `load`.
_explicit_language: list[str | None] = [None]


def remember_language(lang: str | None) -> None:
    """Keep the ``--lang`` option: a workspace's ``interface_language`` applies only without it."""
    _explicit_language[0] = lang


def load(target: Path | None, release: str | None = None) -> Campaign:
    """Open the release a command names (`distrib.app.open_release`; errors become a clean
    exit); from then on distrib speaks the workspace's ``interface_language`` unless
    ``--lang`` or DISTRIB_LANG chose another."""
    from distrib.app import open_release

    with user_errors():
        campaign = open_release(target, release)
    _speak_as(campaign.interface_language)
    return campaign


def _speak_as(workspace_language: str | None) -> None:
    """Speak the workspace's ``interface_language``, unless ``--lang`` or DISTRIB_LANG chose."""
    from distrib.app import pick_language, set_language

    if workspace_language is not None:
        set_language(pick_language(_explicit_language[0], workspace=workspace_language))


def selection(only: list[str] | None, exclude: list[str] | None) -> Selection:
    """The ``--only``/``--exclude`` options, for the verbs."""
    from distrib.app import Selection

    return Selection.of(only, exclude)


def open_log(
    campaign: Path | None, log: str | Path | None, *, create: bool = False, read_only: bool = False
) -> DeliveryLog:
    """Open the delivery log named by ``--log``, by ``--campaign``, or found in this folder
    (`distrib.app.open_log`); show its warnings (e.g. written by a newer distrib) on stderr."""
    from distrib import app

    if log is None:
        _speak_as(app.interface_language(campaign))
    with user_errors():
        opened = app.open_log(campaign, log, create=create, read_only=read_only)
    for warning in opened.warnings:
        err.print(f"warning: {warning}", markup=False)
    return opened


def confirm_send(question: str, *, yes: bool) -> None:
    """Ask before anything leaves; exit (nothing sent) on "no" or when no one can answer.

    ``--yes`` skips the question; without a terminal the command refuses rather than guessing.
    """
    if yes:
        return
    if not sys.stdin.isatty():
        fail("refusing to send without confirmation: run in a terminal or pass --yes", Exit.USAGE)
    if not typer.confirm(question, default=False):
        console.print("Nothing was sent.")
        raise typer.Exit(int(Exit.OK))
