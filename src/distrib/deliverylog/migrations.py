"""The schema's numbered migrations, as every adapter numbers them.

A migration is appended, never edited: a log opens and every migration it has not recorded yet
is applied, in ascending version order, in one write transaction (all or none), the versions
applied read *inside* that transaction so that two processes opening a new log at once never
both apply one.  Each adapter has its own statements for each version (`distrib.deliverylog.
sqlite.migrations`, `distrib.deliverylog.postgres.migrations`), with the same number and
meaning.  Each migration applied is recorded with the distrib version that applied it; a log
recording a migration this distrib does not know was written by a newer distrib: writing to it
is refused (`NewerLogError`) before anything is written, reading it gives a warning.

Numbers: 1-9 the sending stage and what comes back (8: replies; 9: suppression removals,
numbered when 7 and 8 were taken on other branches; a log that has 9 but not 8 gets 8 when it
is next opened: every version not recorded is applied), 10-19 the audit stage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from distrib import __version__

__all__ = ["SCHEMA", "Migration", "newer_versions"]


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered schema change, in one adapter's statements."""

    version: int
    name: str
    sql: str


#: (version, name) of every migration, in order: each adapter's list has exactly these.
SCHEMA: Final[Sequence[tuple[int, str]]] = (
    (1, "runs, messages and attempts"),
    (2, "how unknown and failed messages were resolved by the officer"),
    (3, "one sending process per campaign: leases"),
    (4, "several workers drain one run"),
    (7, "the relay each attempt was handed to, for quotas across runs"),
    (8, "replies to sent messages, a person's or automatic"),
    (9, "suppression removals: who took an address off the list, when and why"),
    (10, "suppression list: opt-outs and hard bounces"),
    (11, "bounces reported by delivery-status notifications"),
)


def newer_versions(
    recorded: Mapping[int, str | None], known: Sequence[int] | None = None
) -> str | None:
    """Say how the log is newer than this distrib if it records unknown migrations, else None.

    E.g. "written by a newer distrib (schema 12, applied by distrib 0.4.0; this distrib 0.1.0
    knows up to schema 11)".
    """
    versions = {v for v, _ in SCHEMA} if known is None else set(known)
    unknown = sorted(set(recorded) - versions)
    if not unknown:
        return None
    top = unknown[-1]
    by = recorded[top]
    applied = f", applied by distrib {by}" if by else ""
    return (
        f"written by a newer distrib (schema {top}{applied}; this distrib {__version__} knows"
        f" up to schema {max(versions, default=0)})"
    )
