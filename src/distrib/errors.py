"""Errors raised by distrib, and the `Problem` record used to report bad input.

The tree::

    DistribError                       every error distrib raises on purpose
    ├── ProblemsError                  one or more Problems, all collected before raising
    │   ├── AccountsError              the team accounts file (users.toml) is unusable
    │   ├── ConfigError                the campaign file is missing, malformed or invalid
    │   ├── ContactsError              a contact source or suppression list cannot be used at all
    │   ├── ReleaseError               the release folder or a release document is unusable
    │   ├── ReleaseImportError         a file cannot be imported into a release (nothing written)
    │   │   └── ReleaseOverwriteError  importing would replace files edited since (their diffs)
    │   ├── RenderError                templates or messages that cannot be rendered
    │   ├── RunChangedError            resuming a run whose contacts or templates changed
    │   ├── ResolveError               `distrib resolve` named messages it cannot resolve
    │   └── TestSendError              a test send cannot be made (bad address, unknown contact)
    ├── HeaderValueError (ValueError)  a control character would reach a message header
    ├── EmbargoError (ValueError)      a time without a zone, or a start before the embargo
    ├── InvalidRequestError            a request an interface passed on is not valid (usage)
    ├── RunStoppedError                a run stopped on an error; what was sent is in the log
    ├── SendError                      the run cannot go on (never for one refused recipient)
    │   ├── SMTPConnectionError        cannot connect, or the connection keeps dropping
    │   ├── SMTPSecurityError          TLS required but unavailable or failed
    │   ├── SMTPAuthError              credentials refused, or AUTH would be in plaintext
    │   └── SMTPConfigError            relay refuses our sender or parameters (us, not them)
    ├── DeliveryLogError               the delivery log cannot be opened or used
    │   ├── NoLogError                 nothing to read yet: no file, an empty one, no schema
    │   ├── DamagedLogError            the file is corrupt (or not a SQLite file): how to recover
    │   ├── NewerLogError              written by a newer distrib: this one must not write to it
    │   ├── RunNotFoundError           no run with that id
    │   └── RunLockedError             another process holds the run's lease
    ├── MailboxError                   a mailbox cannot be read
    ├── RelayError                     a relay, token service or mailbox server cannot be used
    │                                  (PresetError, TokenError, SaslError, ImapError: their
    │                                  own tree is drawn in distrib.relay.errors)
    └── SinkError                      the capture server cannot listen or store mail

A refused recipient is *data* (a row in the delivery log), never an exception.  Messages start
with where the problem is, ``path[:sheet]:row:column: reason``, so the officer can go there.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

__all__ = [
    "AccountsError",
    "AudienceError",
    "ConfigError",
    "ContactsError",
    "DamagedLogError",
    "DeliveryLogError",
    "DistribError",
    "EmbargoError",
    "HeaderValueError",
    "InvalidRequestError",
    "Location",
    "MailboxError",
    "NewerLogError",
    "NoLogError",
    "Problem",
    "ProblemsError",
    "ReleaseError",
    "ReleaseImportError",
    "ReleaseOverwriteError",
    "RenderError",
    "ResolveError",
    "RunChangedError",
    "RunLockedError",
    "RunNotFoundError",
    "RunStoppedError",
    "SMTPAuthError",
    "SMTPConfigError",
    "SMTPConnectionError",
    "SMTPSecurityError",
    "SendError",
    "SinkError",
    "TestSendError",
]


class Location(NamedTuple):
    """Where something came from: a file, optionally a sheet, a 1-based row and a column name.

    ``row`` counts lines the way a spreadsheet shows them (the header is row 1), so the officer
    can jump straight to it.  Immutable; a named tuple because the contacts stage builds one per
    row of provenance, up to a million, and a tuple is built several times faster than a frozen
    dataclass.
    """

    path: str
    row: int | None = None
    sheet: str | None = None
    column: str | None = None

    def __str__(self) -> str:
        parts = [self.path]
        if self.sheet is not None:
            parts.append(self.sheet)
        if self.row is not None:
            parts.append(str(self.row))
        if self.column is not None:
            parts.append(self.column)
        return ":".join(parts)


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the input, with where it is and a stable machine-readable code."""

    message: str
    where: Location | None = None
    code: str = "invalid"

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where is not None else self.message


class DistribError(Exception):
    """Base class of every error distrib raises on purpose."""


class ProblemsError(DistribError):
    """One or more problems, collected so the officer can fix them all at once."""

    def __init__(self, problems: Iterable[Problem], summary: str | None = None) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        if not self.problems:
            raise ValueError("ProblemsError needs at least one problem")
        self.summary = summary
        super().__init__(self._text())

    def _text(self) -> str:
        lines = [self.summary] if self.summary else []
        lines.extend(str(p) for p in self.problems)
        return "\n".join(lines)


class ConfigError(ProblemsError):
    """The campaign file is missing, malformed, or has invalid keys."""


class ContactsError(ProblemsError):
    """A contact source or suppression list cannot be used at all (bad rows are data)."""


class AudienceError(ProblemsError):
    """An audience rule names a column no list has, or a value no contact has."""


class ReleaseError(ProblemsError):
    """The release folder or one of its documents is unusable."""


class ReleaseImportError(ProblemsError):
    """One or more files cannot be imported (each problem names its file); nothing was written."""


class ReleaseOverwriteError(ReleaseImportError):
    """Importing would replace files that were edited; ``conflicts`` holds what would change
    (`distrib.importing.Conflict`: the file, its front-matter diff, whether the body differs)."""

    def __init__(self, problems: Iterable[Problem], conflicts: Sequence[object]) -> None:
        self.conflicts: tuple[Any, ...] = tuple(conflicts)
        super().__init__(
            problems,
            "the release folder has edited files; nothing was written (--force replaces them)",
        )


class AccountsError(ProblemsError):
    """The team accounts file (``users.toml``) is malformed, or an account cannot be made."""


class RenderError(ProblemsError):
    """Templates that do not load, or messages that cannot be rendered for some contacts."""


class RunChangedError(ProblemsError):
    """A run cannot be resumed as it is: its campaign changed since it was planned."""


class ResolveError(ProblemsError):
    """Some messages named to `distrib resolve` are not in the run or not in a state it fixes."""


class TestSendError(ProblemsError):
    """The test send cannot be made (a bad address, an unknown contact, nobody to render)."""

    __test__ = False  # not a pytest test class


class HeaderValueError(DistribError, ValueError):
    """A value meant for a message header contains CR, LF or another control character."""

    def __init__(self, header: str, value: str, reason: str) -> None:
        self.header = header
        self.value = value
        self.reason = reason
        super().__init__(f"header {header}: {reason} in {value!r}")


class EmbargoError(DistribError, ValueError):
    """A send would state a false embargo (it would start at or after the release's embargo
    with its notice), would start before the release's ``hold_until``, or a time cannot be
    used."""


class InvalidRequestError(DistribError):
    """A request an interface passed on is not valid: an unknown state, a file type that is not
    written, an address that is not one.  Interfaces show it as a usage error."""


class RunStoppedError(DistribError):
    """The run stopped on an error (the relay, the log …); what was sent is in the log.

    ``run`` is the run that was being sent (a `distrib.deliverylog.Run`), ``cause`` the error.
    """

    def __init__(self, run: object, cause: DistribError) -> None:
        self.run = run
        self.cause = cause
        super().__init__(str(cause))


class SendError(DistribError):
    """The run cannot go on.  Raised for connection, TLS, auth and configuration failures only."""

    def __init__(self, message: str, *, code: int | None = None, reply: str | None = None) -> None:
        self.code = code
        self.reply = reply
        super().__init__(message)


class SMTPConnectionError(SendError):
    """Could not connect to the relay, or it keeps dropping the connection."""


class SMTPSecurityError(SendError):
    """TLS was required and could not be established; distrib never falls back to plaintext."""


class SMTPAuthError(SendError):
    """The relay refused our credentials, or authenticating would have sent them in plaintext."""


class SMTPConfigError(SendError):
    """The relay refuses our sender address or a parameter: our setup, not a recipient."""


class DeliveryLogError(DistribError):
    """The delivery log cannot be opened, upgraded or written."""


class NoLogError(DeliveryLogError):
    """A command that only reads found no delivery log (no file, an empty file, a database
    without distrib's tables): nothing has been sent yet, and nothing was created."""


class DamagedLogError(DeliveryLogError):
    """The delivery log's file is damaged (or is not a SQLite file): the message says how to
    recover what can still be read."""


class NewerLogError(DeliveryLogError):
    """The delivery log records schema migrations this distrib does not know: a newer distrib
    wrote it, and only a read-only command may use it."""


class RunNotFoundError(DeliveryLogError):
    """No run with that id in the delivery log."""


class RunLockedError(DeliveryLogError):
    """Another process is sending this run (it holds the lease)."""


class MailboxError(DistribError):
    """The mailbox cannot be read: missing, not a Maildir/mbox/message file, or unreadable."""


class SinkError(DistribError):
    """`distrib sink` cannot listen on its address or use its Maildir."""
