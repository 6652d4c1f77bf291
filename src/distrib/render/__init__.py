"""Rendering: Jinja2 templates -> one MIME message (bytes) per contact.

Templates live in ``campaign.templates`` or, when the campaign names none, in the built-in
folder (`default_templates_dir`).  Layout::

    style.css              the stylesheet, inlined into every .html template once (css-inline)
    base.html, base.txt    shared layouts with blocks: preheader, top, label, greeting, pitch (with
                           intro inside it), embargo (empty, for older templates), body, footer
    label.html/.txt        one language's label: its embargo notice or "Pour diffusion immédiate"
    release.html/.txt      one language's release (title, dateline, text, links, files, About,
                           end mark, media contact), included by the layouts
    fr/subject.txt         one line: the Subject (stripped; must not be empty)
    fr/message.txt         the text/plain part
    fr/message.html        the text/html part, usually ``{% extends "base.html" %}``
    en/...                 the same three files in English
    both/...               the same three files for a bilingual message (both languages)
    outlets/<slug>/<lang>/ per-outlet replacements of any of the three files, typically
                           ``{% extends "fr/message.html" %}`` with a block or two

``.html`` templates are autoescaped and may hold no script, event handler, ``javascript:`` URL
or external stylesheet; ``.txt`` templates are not escaped.  Both use ``StrictUndefined`` (a
misspelt field is an error, never an empty string), ``trim_blocks``, ``lstrip_blocks`` and
``keep_trailing_newline``; ``None`` prints as nothing.  Template names stay inside the folder
(``..`` and symlinks leading out are refused).  Templates are untrusted: both environments are
Jinja2's ``ImmutableSandboxedEnvironment`` (no private attributes, hence no modules, files,
commands or environment variables; no changing a list or dict), and a template that tries is
a render problem naming it and its line (`distrib.render.context`).

Template context
----------------
``contact``
    The journalist: every column of the merged row under its snake_case name (``contact.beat``,
    ``contact["beat"]``), plus ``email``, ``address`` (the form used on the wire), ``first_name``,
    ``last_name``, ``name`` (first and last), ``outlet``, ``outlet_slug`` and ``language`` (the
    message's: ``fr``, ``en`` or ``both``).  Every value is a string, possibly empty.  A field
    that is not there is an error naming the template and the field; test for it with
    ``{% if contact.beat is defined %}`` or use ``{{ contact.beat | default("") }}``.
``release``
    The release document in the message's language (the first one of a bilingual message):
    ``title``, ``subject``, ``dateline``, ``summary``, ``body_html`` (safe HTML), ``body_text``,
    ``body_markdown``, ``embargo`` (an aware datetime, or None: none, or its notice dropped with
    ``send --drop-embargo``), ``hold_until``, ``label`` (the embargo notice in the document's
    language, « Pour diffusion immédiate », or ""), ``label_note`` (the request under an embargo
    notice), ``subject_prefix`` ("EMBARGO 1er mars 9 h HNE –" or ""), ``story_html`` /
    ``story_text`` (the body with the dateline opening its first paragraph), ``jump`` ("English
    follows" / "Version française plus bas"), ``language``, ``language_tag``,
    ``links`` (``title``, ``url``), ``attachments`` (``filename``, ``content_type``, ``size``,
    ``size_text``), ``about_html``/``about_text``, ``media_contact_html``/``media_contact_text``,
    ``end_mark`` ("– 30 –" or "-30-"), ``has_end_mark`` and ``meta`` (other front matter keys).
``documents``, ``releases``, ``languages``
    Every document of the message in order (two for a bilingual message), the same by language
    (``releases.fr``), and the language codes in order (``("fr", "en")`` by default).
``outlet``
    The contact's outlet: ``name``, ``slug`` and every column of the campaign's outlets sheet
    (blank for an outlet the sheet does not list).
``sender``
    From the campaign file: ``name``, ``address``, ``reply_to``, ``organisation``,
    ``postal_address``, ``contact`` and ``website`` (the last three may be None).
``unsubscribe``
    ``mailto`` (the address that takes unsubscribe requests), ``mailto_uri``
    (``mailto:...?subject=unsubscribe``) and ``url`` (this recipient's https link with its token,
    or None).
``lang``
    ``"fr"``, ``"en"`` or ``"both"``; ``language_tag`` is the first language's ``fr-CA``/``en-CA``.
``logo``
    The workspace's logo (``[press] logo``), or None: ``src`` (``cid:…``, the image's part in
    the message), ``alt`` (``logo_alt``, default the organisation) and ``width`` (``logo_width``
    pixels).  ``body_html`` shows the release's own images the same way (``cid:``).

Filters (`distrib.render.filters`): Babel's ``format_datetime``, ``format_date``,
``format_time``, ``format_number``, ``format_currency``, ``format_percent``, each with an
optional language: ``{{ release.embargo | format_datetime("fr") }}`` writes "4 novembre 2027
à 9 h 00 (UTC-05:00)"; and the newsrooms' ``money`` ("485 000 $" / "$485,000") and ``when``
("le 1er mars 2028, 9 h (HNE)" / "March 1, 2028, 9 a.m. ET"), `distrib.render.typography`.
A French document's texts come with French spacing (non-breaking spaces before ``:`` ``»``…).

Contact values are data, never template source: ``{{ 7*7 }}`` in a name is printed as typed, and
``<b>`` is escaped in the HTML part and left as typed in the text part.

Speed: a template that only prints contact values or tests them (``{% if contact.beat %}``,
``==``, ``is defined``, ``| default``) is rendered by Jinja2 once per variant and filled in for
each contact (`distrib.render.skeleton`); one that does more with them (``| upper``, a loop, a
``{% set %}``) is rendered for every message, as before: the same output, about 0.1 ms more a
message for each such template.  The message bytes are written by `distrib.render.fastmime`.
"""

from distrib.render.context import LANGUAGE_TAGS
from distrib.render.mime import make_message_id
from distrib.render.renderer import (
    TEMPLATE_FILES,
    CheckedMessage,
    MessageLanguage,
    RenderedMessage,
    Renderer,
    choose_language,
    default_templates_dir,
    release_languages,
)
from distrib.render.unsubscribe import unsubscribe_token, verify_token, workspace_scope

__all__ = [
    "LANGUAGE_TAGS",
    "TEMPLATE_FILES",
    "CheckedMessage",
    "MessageLanguage",
    "RenderedMessage",
    "Renderer",
    "choose_language",
    "default_templates_dir",
    "make_message_id",
    "release_languages",
    "unsubscribe_token",
    "verify_token",
    "workspace_scope",
]
