"""Contacts stage: read media lists, normalise, merge, validate and suppress.

One module per step::

    read       CSV/XLSX -> table of text (encoding, delimiter, sheet, header row)
    columns    French/English header aliases -> fields; other columns -> template fields
    normalize  one value at a time: text, language, address, suppression key, slug
    prepare    one source table -> normalised rows, each valid or rejected with a reason
    suppress   suppression lists -> keys
    merge      suppress, deduplicate (earlier source wins), fill blanks, account for every row
    load       the whole stage for a campaign

`load_contacts` is the entry point; the pieces are public so they can be tested and reused.
"""

from distrib.contacts.columns import ColumnMap, field_name, header_key, map_columns
from distrib.contacts.load import load_contacts, read_contacts
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
from distrib.contacts.read import SourceTable, Table, read_source, read_table
from distrib.contacts.suppress import Suppression, load_suppression, read_suppression

__all__ = [
    "Address",
    "AddressError",
    "ColumnMap",
    "Contact",
    "ContactBook",
    "PreparedSource",
    "RowStatus",
    "SourceSummary",
    "SourceTable",
    "Suppression",
    "Table",
    "field_name",
    "header_key",
    "load_contacts",
    "load_suppression",
    "map_columns",
    "merge_sources",
    "normalize_address",
    "normalize_language",
    "parse_language",
    "prepare_source",
    "read_contacts",
    "read_source",
    "read_suppression",
    "read_table",
    "slugify",
    "suppression_key",
]
