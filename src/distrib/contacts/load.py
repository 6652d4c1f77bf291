"""Load a campaign's contacts: read every source and suppression list, then merge them.

Problems that make a source unusable are collected across *all* sources and suppression lists
and raised together in one `ContactsError`, so the officer can fix every file in one go.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

from distrib.config import Campaign, SourceConfig
from distrib.contacts.merge import merge_sources
from distrib.contacts.model import ContactBook
from distrib.contacts.prepare import PreparedSource, prepare_source
from distrib.contacts.read import read_source
from distrib.contacts.suppress import Suppression, load_suppression
from distrib.errors import ContactsError, Location, Problem

__all__ = ["load_contacts", "read_contacts"]


def read_contacts(
    sources: Sequence[SourceConfig],
    suppression: Iterable[Path] = (),
    default_language: Literal["fr", "en"] = "fr",
    *,
    extra_suppression: Iterable[tuple[str, Location]] = (),
) -> ContactBook:
    """Read, merge and suppress sources (earlier wins); raise `ContactsError` if one is unusable.

    The campaign-free form of `load_contacts`, for tools that check lists on their own.
    ``extra_suppression`` adds (address, where it comes from) entries, e.g. the opt-outs and hard
    bounces recorded in the delivery log.
    """
    problems: list[Problem] = []
    prepared: list[PreparedSource] = []
    for source in sources:
        try:
            prepared.append(prepare_source(read_source(source), source.columns))
        except ContactsError as exc:
            problems.extend(exc.problems)
    suppressed = Suppression()
    try:
        suppressed = load_suppression(suppression)
    except ContactsError as exc:
        problems.extend(exc.problems)
    if problems:
        raise ContactsError(problems, summary="some contact files cannot be used:")
    suppressed = suppressed.with_entries(extra_suppression)
    return merge_sources(prepared, suppressed, default_language)


def load_contacts(
    campaign: Campaign, *, extra_suppression: Iterable[tuple[str, Location]] = ()
) -> ContactBook:
    """Load the audience of ``campaign``: its sources in priority order, minus suppressions."""
    return read_contacts(
        campaign.sources,
        campaign.suppression,
        campaign.default_language,
        extra_suppression=extra_suppression,
    )
