"""The plain address, defined once: an RFC 5322 dot-atom of ``atext`` at a plain host name.

Nearly every address of a media list is ``jean.tremblay@journal.example``, and every stage
that handles addresses takes a fast path for those and leaves the rest to a full parser:

- contacts (`distrib.contacts.addresses`, `distrib.contacts.normalize`): a local part that is a
  `DOT_ATOM` is one email-validator always accepts (the numpy pass over a whole column checks
  the same characters, `tests/test_contacts_addresses.py` compares them);
- render (`distrib.render.fastmime.mailbox`, `distrib.render.mime`): a `PLAIN_ADDRESS` is one
  the standard library's ``Address`` gives back unchanged (property-tested), and a Message-ID's
  domain must be a `DOT_ATOM`;
- send (`distrib.send.transport.check_address`): a `PLAIN_ADDRESS` goes on a command line as it
  is (anything else is checked against the RFC 5321/6531 mailbox grammar).
"""

from __future__ import annotations

import re

__all__ = ["ATEXT", "DOT_ATOM", "PLAIN_ADDRESS", "UTF8_DOT_ATOM", "dot_atom", "plain_address"]

#: One RFC 5322 ``atext`` character (ASCII letters, digits and ``!#$%&'*+/=?^_`{|}~-``).
ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
#: ``atext`` runs separated by single dots, none leading or trailing (RFC 5322 dot-atom-text).
DOT_ATOM = rf"{ATEXT}+(?:\.{ATEXT}+)*"
#: A dot-atom at a host name of ASCII letters, digits and hyphens.
PLAIN_ADDRESS = rf"{DOT_ATOM}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
#: The same dot-atom with any non-ASCII character allowed as ``atext`` (RFC 6531/6532).
UTF8_DOT_ATOM = rf"(?:{ATEXT}|[^\x00-\x7f])+(?:\.(?:{ATEXT}|[^\x00-\x7f])+)*"

#: `DOT_ATOM`, compiled (use ``fullmatch``).
dot_atom = re.compile(DOT_ATOM)
#: `PLAIN_ADDRESS`, compiled (use ``fullmatch``).
plain_address = re.compile(PLAIN_ADDRESS)
