"""The media lists, as an officer checks them: who will get what, and every row set aside.

The delivery log's suppression list (opt-outs, hard bounces) sets people aside and the
release's audience narrows the lists exactly as `distrib send` will (`distrib.app.audience`),
so what the check shows is what the send does; the log is only read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from distrib.errors import InvalidRequestError

if TYPE_CHECKING:
    from distrib.app.audience import Selection
    from distrib.audit import History
    from distrib.config import Campaign
    from distrib.contacts.model import ContactBook
    from distrib.deliverylog import DeliveryLog

__all__ = ["MERGE_FORMATS", "Merged", "check_contacts", "contact_history", "merge_contacts"]

#: The file types `merge_contacts` writes.
MERGE_FORMATS = (".csv", ".xlsx")


@dataclass(frozen=True, slots=True)
class Merged:
    """The merged list written by `merge_contacts`, and where the rejected rows went."""

    book: ContactBook
    output: Path
    rejects: Path


def check_contacts(
    campaign: Campaign, *, check_mx: bool | None = None, selection: Selection | None = None
) -> ContactBook:
    """Merge the campaign's lists: every row accepted, duplicate, rejected or suppressed, and
    who of the accepted contacts the release's audience leaves out, and why.

    ``check_mx``: look up each domain's mail server (None: the campaign's setting).
    ``selection``: the command's ``--only``/``--exclude`` rules.
    """
    from distrib.app.audience import load_audience

    return load_audience(campaign, selection, check_mx=check_mx)


def merge_contacts(
    campaign: Campaign,
    output: Path,
    *,
    check_mx: bool | None = None,
    selection: Selection | None = None,
) -> Merged:
    """Write the merged list (``.csv`` or ``.xlsx``, with provenance columns, formula-like
    cells neutralised) to ``output`` and the rejected rows beside it (``NAME.rejects.EXT``)."""
    from distrib.contacts.output import write_merged
    from distrib.errors import ContactsError, Location, Problem

    if output.suffix.lower() not in MERGE_FORMATS:
        raise InvalidRequestError(f"{output}: the merged list must be a .csv or .xlsx file")
    book = check_contacts(campaign, check_mx=check_mx, selection=selection)
    try:
        rejects = write_merged(book, output)
    except OSError as exc:
        problem = Problem(f"cannot write: {exc.strerror}", Location(str(output)), "write")
        raise ContactsError([problem]) from None
    return Merged(book, output, rejects)


def contact_history(log: DeliveryLog, address: str) -> History:
    """Every message of every run the log holds for one journalist, and their opt-outs.

    Case and ``+tag`` variants of the address are the same person, as for suppression.
    """
    from distrib.audit import history
    from distrib.contacts.normalize import AddressError, normalize_address

    try:
        checked = normalize_address(address)
    except AddressError as exc:
        raise InvalidRequestError(f"{address!r}: {exc.reason}") from None
    domain = checked.address.rpartition("@")[2]
    return history(log, checked.address, key=checked.suppression_key, domain=domain)
