"""The Jinja2 environments and the values templates see (documented in `distrib.render`).

Contact data only ever enters a template as a *value* of the context, never as template source,
so ``{{ 7*7 }}`` in a journalist's name prints as typed.  Lookups of a missing field fail loudly
(`StrictUndefined`) with a message that names the object and the field the officer can fix:
``'contact' has no field 'beat'``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from jinja2.utils import missing

if TYPE_CHECKING:
    from distrib.config import SenderConfig
    from distrib.contacts.model import Contact
    from distrib.release import ReleaseDocument

__all__ = [
    "LANGUAGE_TAGS",
    "TemplateValues",
    "build_context",
    "make_environments",
    "unsubscribe_mailto_uri",
]

# The language of the message, as a BCP 47 tag for Content-Language and <html lang>.
LANGUAGE_TAGS: Mapping[str, str] = MappingProxyType({"fr": "fr-CA", "en": "en-CA"})

_DATETIME_PATTERNS = {
    "fr": "d MMMM y 'à' H 'h' mm '(UTC'xxx')'",
    "en": "MMMM d, y 'at' h:mm a '(UTC'xxx')'",
}


class TemplateValues(Mapping[str, Any]):
    """A read-only mapping that templates read as ``name.field`` or ``name["field"]``.

    Unlike a dict, ``contact.items`` or ``contact.values`` is the *field* of that name (a media
    list may well have a "values" column), never a method: see `_Environment.getattr`.
    """

    __slots__ = ("_data", "_label")

    def __init__(self, label: str, data: Mapping[str, Any]) -> None:
        self._label = label
        self._data = dict(data)

    @property
    def label(self) -> str:
        """The name templates know this mapping by, used in error messages."""
        return self._label

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"TemplateValues({self._label!r}, {self._data!r})"


class _FieldUndefined(StrictUndefined):
    """`StrictUndefined` whose message names the mapping and field, e.g. 'contact' has no field."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        owner = self._undefined_obj
        if isinstance(owner, TemplateValues):
            return f"{owner.label!r} has no field {self._undefined_name!r}"
        if owner is missing:
            return f"{self._undefined_name!r} is not defined"
        return str(super()._undefined_message)


class _Environment(Environment):
    """An environment in which `TemplateValues` expose their fields only, never their methods."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        """Look up ``obj.attribute``; for `TemplateValues`, only its fields."""
        if isinstance(obj, TemplateValues):
            return self.getitem(obj, attribute)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        """Look up ``obj[argument]``; for `TemplateValues`, only its fields."""
        if isinstance(obj, TemplateValues):
            try:
                return obj[argument]
            except (KeyError, TypeError):
                return self.undefined(obj=obj, name=argument)
        return super().getitem(obj, argument)


def _finalize(value: Any) -> Any:
    """Print an absent optional value (None) as nothing rather than 'None'."""
    return "" if value is None else value


def format_datetime(value: datetime | None, lang: str) -> str:
    """Format an aware date-time the way a reader of ``lang`` expects, keeping its UTC offset."""
    if value is None:
        return ""
    from babel.dates import format_datetime as babel_format

    pattern = _DATETIME_PATTERNS.get(lang, _DATETIME_PATTERNS["en"])
    locale = LANGUAGE_TAGS.get(lang, "en-CA").replace("-", "_")
    return str(babel_format(value, pattern, tzinfo=value.tzinfo, locale=locale))


def make_environments(templates_dir: Path) -> tuple[Environment, Environment]:
    """Return the (HTML, text) environments: autoescaped HTML, plain text and subject."""
    options: dict[str, Any] = {
        "loader": FileSystemLoader(templates_dir, encoding="utf-8"),
        "undefined": _FieldUndefined,
        "keep_trailing_newline": True,
        # Block tags on lines of their own leave no blank lines: the text part stays tidy.
        "trim_blocks": True,
        "lstrip_blocks": True,
        "finalize": _finalize,
        "auto_reload": False,
    }
    html = _Environment(autoescape=True, **options)
    text = _Environment(autoescape=False, **options)
    for environment in (html, text):
        environment.filters["format_datetime"] = format_datetime
    return html, text


def _contact_values(contact: Contact) -> TemplateValues:
    """Every field of the merged row, with the standard ones taking precedence."""
    data: dict[str, Any] = dict(contact.fields)
    data.update(
        email=contact.email,
        address=contact.address,
        first_name=contact.first_name,
        last_name=contact.last_name,
        name=contact.name,
        outlet=contact.outlet,
        outlet_slug=contact.outlet_slug,
        language=contact.language,
    )
    return TemplateValues("contact", data)


def _release_values(document: ReleaseDocument) -> TemplateValues:
    return TemplateValues(
        "release",
        {
            "language": document.language,
            "title": document.title,
            "subject": document.subject,
            "dateline": document.dateline,
            "summary": document.summary,
            "body_html": document.body_html,
            "body_text": document.body_text,
            "body_markdown": document.body_markdown,
            "embargo": document.embargo,
            "meta": TemplateValues("release.meta", document.meta),
        },
    )


def unsubscribe_mailto_uri(sender: SenderConfig) -> str:
    """Return the ``mailto:`` URI that asks to be taken off the list."""
    return f"mailto:{sender.unsubscribe_address}?subject=unsubscribe"


def _sender_values(sender: SenderConfig) -> TemplateValues:
    return TemplateValues(
        "sender",
        {
            "name": sender.name,
            "address": sender.address,
            "reply_to": sender.reply_to,
            "organisation": sender.organisation,
            "postal_address": sender.postal_address,
            "contact": sender.contact,
            "website": sender.website,
        },
    )


def build_context(
    contact: Contact, document: ReleaseDocument, sender: SenderConfig
) -> dict[str, Any]:
    """Return the template context for one contact (see the `distrib.render` docstring)."""
    unsubscribe = {
        "mailto": sender.unsubscribe_address,
        "mailto_uri": unsubscribe_mailto_uri(sender),
        "url": sender.unsubscribe_url,
    }
    return {
        "contact": _contact_values(contact),
        "release": _release_values(document),
        "sender": _sender_values(sender),
        "unsubscribe": TemplateValues("unsubscribe", unsubscribe),
        "lang": contact.language,
        "language_tag": LANGUAGE_TAGS[contact.language],
    }
