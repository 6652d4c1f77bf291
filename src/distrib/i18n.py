"""distrib's own words in French and in English: what its interfaces say, and the HTML report.

Messages are written in English in the code and marked with `gettext` (``_("…")``) or
`ngettext`; placeholders are named and filled after translation (``_("{n} sent").format(n=3)``),
so a translation can move them.  The French translations live in ``locale/fr.po`` beside this
module, in gettext's PO format, read at run time with Babel (`babel.messages.pofile`): no
compiled ``.mo`` file to build or commit, and a translator edits one text file.  A message the
catalogue lacks (or leaves empty, or marks fuzzy) is shown in English, never as a blank.

Which language: `pick_language` — the interface's ``--lang``, else ``DISTRIB_LANG``, else the
locale (``LC_ALL``, ``LC_MESSAGES``, ``LANG``: ``fr_CA.UTF-8`` is French), else English.  The
command line sets it once (`set_language`); the HTML report and the web pages take a
`Translator` of their own (`translator`), so two languages can be served at once.

What is translated: the command line's own summaries, headings, questions and advice of
``send``, ``preview``, ``report`` and ``ui``, the whole HTML report, and the web pages of
``distrib ui`` (one catalogue: a word the command line and the pages share is translated
once).  Problem texts from the stages (a rejected row, a template error, an SMTP reply) stay as
they are: English, or the server's words.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Literal

__all__ = [
    "LANGUAGES",
    "SOURCES",
    "Translator",
    "current_language",
    "extract_messages",
    "gettext",
    "ngettext",
    "pick_language",
    "set_language",
    "translator",
]

Language = Literal["en", "fr"]
LANGUAGES: tuple[Language, ...] = ("en", "fr")
#: The environment variable that picks the interface's language (``fr`` or ``en``).
LANGUAGE_ENV = "DISTRIB_LANG"
_LOCALE = Path(__file__).with_name("locale")


@cache
def _catalogue(language: str) -> Mapping[str | tuple[str, str], tuple[str, ...]]:
    """The translations of ``language``: msgid (or (singular, plural)) -> msgstr forms."""
    path = _LOCALE / f"{language}.po"
    if language == "en" or not path.is_file():
        return {}
    from babel.messages.pofile import read_po

    with path.open("rb") as file:
        catalog = read_po(file, locale=language)
    found: dict[str | tuple[str, str], tuple[str, ...]] = {}
    for message in catalog:
        if not message.id or message.fuzzy:
            continue
        raw = message.string if isinstance(message.string, tuple | list) else (message.string,)
        strings = tuple(str(s) for s in raw if isinstance(s, str))
        if not strings or len(strings) != len(raw) or not all(strings):
            continue
        if isinstance(message.id, tuple | list):
            found[(str(message.id[0]), str(message.id[1]))] = strings
        else:
            found[str(message.id)] = strings
    return found


def _plural_index(language: str, n: int) -> int:
    """French and English both have two forms; French uses the singular for 0 and 1."""
    if language == "fr":
        return 0 if n in (0, 1) else 1
    return 0 if n == 1 else 1


@dataclass(frozen=True, slots=True)
class Translator:
    """gettext for one language: ``gettext("Sent")``, ``ngettext("{n} message", …, n)``."""

    language: Language
    _messages: Mapping[str | tuple[str, str], tuple[str, ...]] = field(repr=False)

    def gettext(self, message: str) -> str:
        """Return ``message`` in this language (itself when it has no translation)."""
        found = self._messages.get(message)
        return found[0] if found else message

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """Return the form of ``singular``/``plural`` that goes with ``n``."""
        found = self._messages.get((singular, plural))
        index = _plural_index(self.language, n)
        if found and index < len(found):
            return found[index]
        return singular if _plural_index("en", n) == 0 else plural


def translator(language: str) -> Translator:
    """Return the `Translator` of ``language`` (``fr``; anything else is English)."""
    chosen: Language = "fr" if language == "fr" else "en"
    return Translator(chosen, _catalogue(chosen))


def pick_language(
    explicit: str | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    workspace: str | None = None,
) -> str:
    """Return ``fr`` or ``en``: ``explicit`` (``--lang``), else ``DISTRIB_LANG``, else the
    workspace's ``interface_language``, else the locale's language (``LC_ALL``,
    ``LC_MESSAGES``, ``LANG``), else ``en``."""
    env = os.environ if environ is None else environ
    for value in (explicit, env.get(LANGUAGE_ENV), workspace):
        if value:
            return "fr" if value.strip().lower().startswith("fr") else "en"
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name)
        if value:  # the first one set decides, as in C's setlocale
            return "fr" if value.lower().startswith("fr") else "en"
    return "en"


#: The files whose messages the catalogue translates (relative to the package; a ``*`` pattern
#: names several), and how to
#: read them: `extract_messages` finds every ``_("…")``, ``gettext``, ``ngettext`` and ``N_``.
SOURCES: tuple[tuple[str, str], ...] = (
    ("cli/__init__.py", "python"),
    ("cli/send.py", "python"),
    ("cli/preview.py", "python"),
    ("cli/audit.py", "python"),
    ("cli/relay.py", "python"),
    ("cli/replies.py", "python"),
    ("cli/history.py", "python"),
    ("cli/ui.py", "python"),
    ("audit/html.py", "python"),
    ("audit/report.html.j2", "jinja2.ext:babel_extract"),
    ("web/*.py", "python"),
    ("web/templates/*.html", "jinja2.ext:babel_extract"),
)
#: The calls whose literal argument is a message (``UploadRefused(status, message, …)``: the
#: web pages translate a refused upload's text when they show it).
_KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None, "UploadRefused": (2,)}


def extract_messages() -> list[tuple[str, int, str | tuple[str, str]]]:
    """Every message the sources mark, in order: (file, line, msgid or (singular, plural)).

    For maintainers (``scripts/update-catalogue.py``) and the test that keeps the catalogue
    complete; needs Babel's extractors, so it is never called at run time.
    """
    from babel.messages.extract import extract_from_file

    package = Path(__file__).parent
    found: list[tuple[str, int, str | tuple[str, str]]] = []
    for pattern, method in SOURCES:
        options = {"extensions": "jinja2.ext.i18n"} if method != "python" else None
        for path in sorted(package.glob(pattern)):
            name = path.relative_to(package).as_posix()
            for line, message, _comments, _context in extract_from_file(
                method, path, keywords=_KEYWORDS, options=options
            ):
                key = (str(message[0]), str(message[1])) if isinstance(message, tuple) else message
                found.append((name, line, key))
    return found


_current: list[Translator] = []


def set_language(language: str) -> None:
    """Make ``language`` the one `gettext` and `ngettext` answer in (the command line's)."""
    _current[:] = [translator(language)]


def current_language() -> str:
    """The language `gettext` answers in: set by `set_language`, else `pick_language`'s."""
    if not _current:
        set_language(pick_language())
    return _current[0].language


def gettext(message: str) -> str:
    """Return ``message`` in the current language (see `set_language`)."""
    if not _current:
        set_language(pick_language())
    return _current[0].gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """Return the form of ``singular``/``plural`` for ``n`` in the current language."""
    if not _current:
        set_language(pick_language())
    return _current[0].ngettext(singular, plural, n)
