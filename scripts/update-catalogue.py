"""Bring src/distrib/locale/fr.po up to date with the messages the code marks for translation.

    .venv/bin/python scripts/update-catalogue.py

Every message marked with ``_()``, ``gettext``, ``ngettext`` or ``N_`` in the files that
`distrib.i18n.SOURCES` lists gets an entry, in the order the code holds them; translations
already written are kept (a message whose English changed keeps nothing, and is listed);
messages the code no longer holds are dropped.  Then translate the empty ``msgstr ""``:
`tests/test_i18n.py` fails until every message has its French.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from distrib.i18n import extract_messages

CATALOGUE = Path(__file__).resolve().parents[1] / "src" / "distrib" / "locale" / "fr.po"


def main() -> None:
    """Rewrite the catalogue; print the messages still to translate."""
    old: dict[object, object] = {}
    if CATALOGUE.is_file():
        with CATALOGUE.open("rb") as file:
            for message in read_po(file, locale="fr"):
                if message.id:
                    old[message.id if isinstance(message.id, str) else tuple(message.id)] = (
                        message.string
                    )
    fixed = datetime(2026, 12, 1, tzinfo=UTC)  # no date that changes at every update
    catalog = Catalog(
        locale="fr",
        project="distrib",
        charset="utf-8",
        creation_date=fixed,
        revision_date=fixed,
        fuzzy=False,
        language_team="distrib",
        last_translator="distrib",
    )
    catalog.header_comment = (
        "# distrib's own messages in French (the command line, the HTML report and the web\n"
        "# pages).\n"
        "# Updated by scripts/update-catalogue.py; translate every empty msgstr."
    )
    for name, line, key in extract_messages():
        known = old.get(key)
        found = catalog.get(key if isinstance(key, str) else key[0])
        if found is not None:
            found.locations.append((f"src/distrib/{name}", line))
            continue
        string = known if known is not None else ("", "") if isinstance(key, tuple) else ""
        catalog.add(key, string, locations=[(f"src/distrib/{name}", line)])  # type: ignore[arg-type]
    with CATALOGUE.open("wb") as file:
        write_po(file, catalog, width=100, include_lineno=False)
    missing = [
        m.id
        for m in catalog
        if m.id and not all(m.string if isinstance(m.string, tuple) else (m.string,))
    ]
    print(f"{CATALOGUE}: {len(catalog)} message(s), {len(missing)} to translate")
    for message in missing:
        print(f"  {message!r}")


if __name__ == "__main__":
    main()
