"""Load a campaign's contacts: read every source and suppression list, then merge them.

Problems that make a source unusable are collected across *all* sources and suppression lists
and raised together in one `ContactsError`, so the officer can fix every file in one go.

Precedence: sources are ordered by ``priority`` (1 before 2), sources without one after those
with one, ties and the rest in campaign order; a source with several sheets keeps the order of
its sheets.  The first row of an address in that order wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

from distrib.config import Campaign, ContactsConfig, SourceConfig
from distrib.contacts.audience import KeyRule, Rule, apply_audience
from distrib.contacts.combine import DomainCheck, MergedTable, combine
from distrib.contacts.merge import book_from_table, no_gc
from distrib.contacts.model import ContactBook
from distrib.contacts.parallel import prepare_sources
from distrib.contacts.prepare import PreparedSource
from distrib.contacts.read import Limits
from distrib.contacts.suppress import Suppression, load_suppression
from distrib.errors import ContactsError, Location, Problem

__all__ = [
    "limits_of",
    "load_contacts",
    "merge_campaign",
    "ordered",
    "read_contacts",
    "read_merged",
]


def ordered(sources: Sequence[SourceConfig]) -> list[SourceConfig]:
    """Return the sources in precedence order (``priority``, then campaign order)."""
    ranked = sorted(
        enumerate(sources),
        key=lambda item: (item[1].priority is None, item[1].priority or 0, item[0]),
    )
    return [source for _, source in ranked]


def limits_of(config: ContactsConfig) -> Limits:
    """Return the reading limits a campaign's ``[contacts]`` table sets."""
    return Limits(
        max_file_bytes=config.max_file_mb << 20,
        max_unpacked_bytes=max(1 << 30, (config.max_file_mb << 20) * 4),
        max_cell_chars=config.max_cell_chars,
        max_rows=config.max_rows,
        max_columns=config.max_columns,
        max_cells=config.max_cells,
    )


def read_merged(
    sources: Sequence[SourceConfig],
    suppression: Iterable[Path] = (),
    *,
    extra_suppression: Iterable[tuple[str, Location]] = (),
    limits: Limits | None = None,
    domain_check: DomainCheck | None = None,
    workers: int | None = None,
) -> MergedTable:
    """Read, suppress, deduplicate and fill every source; raise `ContactsError` if one is
    unusable.  The table form of the merge, for tools that do not need `Contact` records.

    ``workers``: how many processes read and prepare the sources (see `contacts.parallel`);
    None chooses (`parallel.plan_workers`): two for several large lists when two processors
    are idle and forking is safe, else one.
    """
    limits = limits or Limits()
    problems: list[Problem] = []
    warnings: list[Problem] = []
    prepared: list[PreparedSource] = []
    for result in prepare_sources(ordered(sources), limits, workers=workers):
        problems.extend(result.problems)
        warnings.extend(result.warnings)
        prepared.extend(result.prepared)
    suppressed = Suppression()
    try:
        suppressed = load_suppression(suppression)
    except ContactsError as exc:
        problems.extend(exc.problems)
    if problems:
        raise ContactsError(problems, summary="some contact files cannot be used:")
    suppressed = suppressed.with_entries(extra_suppression)
    return combine(prepared, suppressed, domain_check=domain_check, extra_warnings=warnings)


def read_contacts(
    sources: Sequence[SourceConfig],
    suppression: Iterable[Path] = (),
    default_language: Literal["fr", "en"] = "fr",
    *,
    extra_suppression: Iterable[tuple[str, Location]] = (),
    limits: Limits | None = None,
    domain_check: DomainCheck | None = None,
    workers: int | None = None,
) -> ContactBook:
    """Read, merge and suppress sources; raise `ContactsError` if one is unusable.

    The campaign-free form of `load_contacts`, for tools that check lists on their own.
    ``extra_suppression`` adds (address or ``@domain``, where it comes from) entries, e.g. the
    opt-outs and hard bounces recorded in the delivery log.  ``workers``: see `read_merged`.
    """
    with no_gc():
        merged = read_merged(
            sources, suppression, extra_suppression=extra_suppression, limits=limits,
            domain_check=domain_check, workers=workers,
        )  # fmt: skip
        return book_from_table(merged, default_language)


def _domain_check(campaign: Campaign, check_mx: bool | None) -> DomainCheck | None:
    if not (campaign.contacts.check_mx if check_mx is None else check_mx):
        return None
    from distrib.contacts.mx import mail_server_check, make_resolver

    config = campaign.contacts
    return mail_server_check(make_resolver(config.mx_nameservers, config.mx_timeout))


def merge_campaign(
    campaign: Campaign,
    *,
    extra_suppression: Iterable[tuple[str, Location]] = (),
    check_mx: bool | None = None,
    domain_check: DomainCheck | None = None,
) -> MergedTable:
    """Merge the campaign's lists as a table (``check_mx`` overrides the campaign file)."""
    return read_merged(
        campaign.sources, campaign.suppression, extra_suppression=extra_suppression,
        limits=limits_of(campaign.contacts),
        domain_check=domain_check or _domain_check(campaign, check_mx),
    )  # fmt: skip


def load_contacts(
    campaign: Campaign,
    *,
    extra_suppression: Iterable[tuple[str, Location]] = (),
    check_mx: bool | None = None,
    domain_check: DomainCheck | None = None,
    audience: Sequence[Rule | KeyRule] = (),
) -> ContactBook:
    """Load the audience of ``campaign``: its sources in precedence order, minus suppressions,
    narrowed by the ``audience`` rules (`distrib.contacts.audience`; `AudienceError` when a rule
    names a column or a value no list has)."""
    with no_gc():
        merged = merge_campaign(
            campaign, extra_suppression=extra_suppression, check_mx=check_mx,
            domain_check=domain_check,
        )  # fmt: skip
        book = book_from_table(merged, campaign.default_language)
    return apply_audience(book, merged, audience)
