"""Contacts stage: read media lists, normalise, merge, validate and suppress.

One module per step::

    read       a source -> table of text (dispatch, size limits, header row, sheets)
      textfile   CSV/TSV/TXT: encoding (BOM, UTF-16, UTF-8, cp1252) and delimiter detection
      workbook   XLSX/ODS with calamine; zip/entity-bomb checks; formulas without a value
      vcard      .vcf address-book exports, one card per row
    columns    French/English header aliases -> fields; other columns -> template fields
    normalize  one value at a time: text, language, address, suppression key, slug
    addresses  a column of addresses at once: strict ASCII fast path, else `normalize`
    mojibake   UTF-8 read as Windows-1252 ("ZoÃ©")
    vector     whole-column checks over numpy arrays of text
    prepare    one source table -> normalised rows, each valid or rejected with a reason
    suppress   suppression lists -> address keys and domains
    combine    suppress, deduplicate (precedence order), fill blanks, conflicts, accounting
    mx         the optional mail-server (DNS) check
    merge      the merged table -> `Contact` records and the `ContactBook`
    output     write the merged list and its rejects (CSV/XLSX, formula-safe)
    load       the whole stage for a campaign

`load_contacts` is the entry point; the pieces are public so they can be tested and reused.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from distrib.contacts.columns import ColumnMap, field_name, header_key, map_columns
    from distrib.contacts.combine import MergedTable, combine
    from distrib.contacts.load import load_contacts, merge_campaign, read_contacts, read_merged
    from distrib.contacts.merge import merge_sources
    from distrib.contacts.model import Contact, ContactBook, RowStatus, SourceSummary
    from distrib.contacts.normalize import (
        Address,
        AddressError,
        normalize_address,
        normalize_language,
        parse_language,
        slugify,
        suppression_key,
    )
    from distrib.contacts.prepare import PreparedSource, prepare_source
    from distrib.contacts.read import (
        Limits,
        SourceTable,
        Table,
        read_source,
        read_sources,
        read_table,
    )
    from distrib.contacts.suppress import Suppression, load_suppression, read_suppression

#: Where each name lives: imported when first asked for, so that importing one light module
#: of the stage (e.g. `distrib.contacts.normalize` for the sending engine's `suppression_key`)
#: does not load pandas and every reader.
_HOMES: dict[str, str] = {
    "ColumnMap": "distrib.contacts.columns",
    "field_name": "distrib.contacts.columns",
    "header_key": "distrib.contacts.columns",
    "map_columns": "distrib.contacts.columns",
    "MergedTable": "distrib.contacts.combine",
    "combine": "distrib.contacts.combine",
    "load_contacts": "distrib.contacts.load",
    "merge_campaign": "distrib.contacts.load",
    "read_contacts": "distrib.contacts.load",
    "read_merged": "distrib.contacts.load",
    "merge_sources": "distrib.contacts.merge",
    "Contact": "distrib.contacts.model",
    "ContactBook": "distrib.contacts.model",
    "RowStatus": "distrib.contacts.model",
    "SourceSummary": "distrib.contacts.model",
    "Address": "distrib.contacts.normalize",
    "AddressError": "distrib.contacts.normalize",
    "normalize_address": "distrib.contacts.normalize",
    "normalize_language": "distrib.contacts.normalize",
    "parse_language": "distrib.contacts.normalize",
    "slugify": "distrib.contacts.normalize",
    "suppression_key": "distrib.contacts.normalize",
    "PreparedSource": "distrib.contacts.prepare",
    "prepare_source": "distrib.contacts.prepare",
    "Limits": "distrib.contacts.read",
    "SourceTable": "distrib.contacts.read",
    "Table": "distrib.contacts.read",
    "read_source": "distrib.contacts.read",
    "read_sources": "distrib.contacts.read",
    "read_table": "distrib.contacts.read",
    "Suppression": "distrib.contacts.suppress",
    "load_suppression": "distrib.contacts.suppress",
    "read_suppression": "distrib.contacts.suppress",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'distrib.contacts' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


__all__ = [
    "Address",
    "AddressError",
    "ColumnMap",
    "Contact",
    "ContactBook",
    "Limits",
    "MergedTable",
    "PreparedSource",
    "RowStatus",
    "SourceSummary",
    "SourceTable",
    "Suppression",
    "Table",
    "combine",
    "field_name",
    "header_key",
    "load_contacts",
    "load_suppression",
    "map_columns",
    "merge_campaign",
    "merge_sources",
    "normalize_address",
    "normalize_language",
    "parse_language",
    "prepare_source",
    "read_contacts",
    "read_merged",
    "read_source",
    "read_sources",
    "read_suppression",
    "read_table",
    "slugify",
    "suppression_key",
]
