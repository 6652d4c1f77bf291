"""The interface's language: French or English, chosen in the header, else from the browser.

``translator(lang)`` returns the ``_`` function the templates call with the English text.  The
French texts are in distrib's one catalogue (``src/distrib/locale/fr.po``, read by
``distrib.i18n``), shared with the command line: the pages' templates and this package's
modules are among ``distrib.i18n.SOURCES``, so ``scripts/update-catalogue.py`` collects their
texts and ``tests/test_i18n.py`` checks every one has its French.  This module keeps only the
choice of language and the filling of ``{name}`` fields.
"""

from __future__ import annotations

from collections.abc import Callable

from distrib import app as verbs

__all__ = ["DEFAULT", "LANGUAGES", "negotiate", "translator"]

#: The interface's languages, in the order the header shows them.
LANGUAGES = ("fr", "en")
#: The language when the browser states no preference we have.
DEFAULT = "fr"


def translator(lang: str) -> Callable[..., str]:
    """Return ``_``: the text in ``lang`` from distrib's catalogue (English if none), with
    ``{name}`` fields filled."""
    words = verbs.translator(lang)

    def translate(text: str, **values: object) -> str:
        found = words.gettext(text)
        return found.format(**values) if values else found

    return translate


def negotiate(accept_language: str | None) -> str:
    """The interface language a browser's ``Accept-Language`` asks for (`DEFAULT` otherwise)."""
    best, best_q = DEFAULT, -1.0
    for order, item in enumerate((accept_language or "").split(",")):
        tag, _, params = item.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in LANGUAGES:
            continue
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        q -= order * 1e-6  # equal weights: the first listed wins
        if q > best_q and q > 0:
            best, best_q = primary, q
    return best
