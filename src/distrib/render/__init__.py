"""Rendering: Jinja2 templates -> one MIME message (bytes) per contact.

Templates live in ``campaign.templates`` or, when the campaign names none, in the built-in
folder (`default_templates_dir`).  Layout::

    base.html              shared HTML layout with blocks: greeting, intro, embargo, body, footer
    base.txt               shared text layout with the same blocks
    fr/subject.txt         one line: the Subject (stripped; must not be empty)
    fr/message.txt         the text/plain part
    fr/message.html        the text/html part, usually ``{% extends "base.html" %}``
    en/...                 the same three files in English

``.html`` templates are autoescaped; ``.txt`` templates are not.  Both environments use
``StrictUndefined`` (a misspelt field is an error, never an empty string), ``trim_blocks``,
``lstrip_blocks`` and ``keep_trailing_newline``; ``None`` prints as nothing.

Template context
----------------
``contact``
    The journalist: every column of the merged row under its snake_case name (``contact.beat``,
    ``contact["beat"]``), plus ``email``, ``address`` (the form used on the wire), ``first_name``,
    ``last_name``, ``name`` (first and last), ``outlet``, ``outlet_slug`` and ``language``.  Every
    value is a string, possibly empty.  A field that is not there is an error naming the
    template and the field; test for it with ``{% if contact.beat is defined %}`` or use
    ``{{ contact.beat | default("") }}``.
``release``
    The release document in the contact's language: ``title``, ``subject``, ``dateline``,
    ``summary`` ("" when absent), ``body_html`` (already safe HTML), ``body_text``,
    ``body_markdown``, ``embargo`` (an aware datetime or None), ``language`` and ``meta`` (the
    other front matter keys, all strings).
``sender``
    From the campaign file: ``name``, ``address``, ``reply_to``, ``organisation``,
    ``postal_address``, ``contact`` and ``website`` (the last three may be None).
``unsubscribe``
    ``mailto`` (the address that takes unsubscribe requests), ``mailto_uri``
    (``mailto:...?subject=unsubscribe``) and ``url`` (an https URL or None).
``lang``
    ``"fr"`` or ``"en"``; ``language_tag`` is ``"fr-CA"`` or ``"en-CA"``.

Filter: ``{{ release.embargo | format_datetime(lang) }}`` writes "4 novembre 2027 à 9 h 00
(UTC-05:00)" or "November 4, 2027 at 9:00 a.m. (UTC-05:00)".

Contact values are data, never template source: ``{{ 7*7 }}`` in a name is printed as typed, and
``<b>`` is escaped in the HTML part and left as typed in the text part.
"""

from distrib.render.context import LANGUAGE_TAGS
from distrib.render.mime import make_message_id
from distrib.render.renderer import (
    TEMPLATE_FILES,
    MessageLanguage,
    RenderedMessage,
    Renderer,
    default_templates_dir,
)
from distrib.render.unsubscribe import unsubscribe_token, verify_token

__all__ = [
    "LANGUAGE_TAGS",
    "TEMPLATE_FILES",
    "MessageLanguage",
    "RenderedMessage",
    "Renderer",
    "default_templates_dir",
    "make_message_id",
    "unsubscribe_token",
    "verify_token",
]
