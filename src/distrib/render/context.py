"""The Jinja2 environments and the values templates see (documented in `distrib.render`).

Templates are untrusted input (a colleague's, an agency's, a download): both environments are
Jinja2's `ImmutableSandboxedEnvironment`.  A template can print, test, loop over and filter the
values it is given, call distrib's filters and Jinja2's own, define macros and extend or include
other templates of its folder; it cannot read a private attribute (``__init__``,
``__globals__``, ``_data``...), so it never reaches a module, ``os``, ``open``, the environment
or a secret, and it cannot change a list or dict it is given.  Such an attempt raises
`jinja2.exceptions.SecurityError`, which `distrib.render.templates.run_template` reports as a
problem naming the template and its line: the message is not built.

Contact data only ever enters a template as a *value* of the context, never as template source,
so ``{{ 7*7 }}`` in a journalist's name prints as typed.  Lookups of a missing field fail loudly
(`StrictUndefined`) with a message that names the object and the field the officer can fix:
``'contact' has no field 'beat'``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound, Undefined
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import missing
from markupsafe import Markup, escape

from distrib.release_extras import format_size
from distrib.render import typography
from distrib.render.css import inline_template
from distrib.render.filters import FILTERS

if TYPE_CHECKING:
    from distrib.config import SenderConfig
    from distrib.contacts.model import Contact
    from distrib.release import ReleaseDocument

__all__ = [
    "LANGUAGE_TAGS",
    "ConfinedLoader",
    "LanguageValues",
    "TemplateValues",
    "build_context",
    "contact_values",
    "make_environments",
    "release_label",
    "release_values",
    "sender_values",
]

# The language of the message, as a BCP 47 tag for Content-Language and <html lang>.
LANGUAGE_TAGS: Mapping[str, str] = MappingProxyType({"fr": "fr-CA", "en": "en-CA"})


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
    """`StrictUndefined` whose message names the mapping and field, e.g. 'contact' has no field,
    and suggests the field the officer probably meant (`suggest_field`)."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        owner = self._undefined_obj
        if isinstance(owner, TemplateValues):
            name = str(self._undefined_name)
            return f"{owner.label!r} has no field {name!r}" + suggest_field(owner, name)
        if owner is missing:
            return f"{self._undefined_name!r} is not defined"
        kind = _KINDS.get(type(owner).__name__)
        if kind is not None:
            return f"{kind} has no field {self._undefined_name!r}"
        return str(super()._undefined_message)

    def __repr__(self) -> str:
        # Printed inside a list or a dict ("[Undefined]"), an undefined value is as wrong as
        # printed alone: a problem naming the field, never "Undefined" in 500 messages.
        self._fail_with_undefined_error()
        return ""  # pragma: no cover (the line above raises)


#: What a value is, for "… has no field" messages (rather than "'str object' has no attribute").
_KINDS = {
    "str": "a text value", "int": "a number", "float": "a number", "bool": "a yes/no value",
    "dict": "a mapping", "list": "a list", "tuple": "a list", "datetime": "a date and time",
    "date": "a date", "Markup": "an HTML value", "NoneType": "an empty value",
}  # fmt: skip


def suggest_field(owner: TemplateValues, name: str) -> str:
    """Say which field ``name`` probably meant: ``; did you mean contact.first_name (the
    column 'Prénom')?``, or "" when nothing is close.

    A contact field is looked up as a column header first (``prenom``, ``Courriel``, ``Média``
    are headers of the standard fields ``first_name``, ``email``, ``outlet``), then as the
    field a header of that name becomes (``Rubrique spéciale`` → ``rubrique_speciale``), then
    among the fields by spelling.
    """
    import difflib

    fields = [key for key in owner if isinstance(key, str)]
    if owner.label == "contact":
        from distrib.contacts.columns import _ALIAS_LISTS, ALIASES, field_name, header_key

        typed = header_key(name)
        alias = ALIASES.get(typed)
        if alias == "name":  # "Nom"/"Name": the last name beside a first-name column
            alias = "last_name"
        if alias is not None and alias in fields and alias != name:
            column = next((h for h in _ALIAS_LISTS.get(alias, ()) if header_key(h) == typed), name)
            return f"; did you mean contact.{alias} (the column {column!r})?"
        slug = field_name(name)
        if slug and slug != name and slug in fields:
            return f"; did you mean contact.{slug} (the column {name!r})?"
    close = difflib.get_close_matches(name, fields, n=1, cutoff=0.7)
    if close:
        return f"; did you mean {owner.label}.{close[0]}?"
    return ""


#: The largest string or list a template may build with ``*`` (a release is a few KB).
MAX_REPEAT = 100_000
#: The largest power a template may compute with ``**``.
MAX_POWER_DIGITS = 100


class _Environment(ImmutableSandboxedEnvironment):
    """A sandboxed environment in which `TemplateValues` expose their fields only, never their
    methods (nor their private attributes: those are the sandbox's business for other values).

    ``*`` and ``**`` are checked too: ``{{ "x" * 10**10 }}`` would otherwise exhaust memory
    (the sandbox only caps ``range``)."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        """Compute ``left operator right``, refusing results too large for a message."""
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if (
                    isinstance(seq, str | list | tuple)
                    and isinstance(times, int)
                    and len(seq) * max(times, 0) > MAX_REPEAT
                ):
                    raise SecurityError(
                        f"a repetition of {len(seq) * times:,} items is too large"
                        f" (at most {MAX_REPEAT:,})"
                    )
            return left * right
        if (
            isinstance(left, int)
            and isinstance(right, int)
            and right > 0
            and abs(left) > 1
            and right * len(str(abs(left))) > MAX_POWER_DIGITS
        ):
            raise SecurityError(f"the power {left} ** {right} is too large")
        return super().call_binop(context, operator, left, right)

    def getattr(self, obj: Any, attribute: str) -> Any:
        """Look up ``obj.attribute``; for `TemplateValues`, only its fields; for anything
        else, what the sandbox allows."""
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

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        """Refuse an unsafe attribute at once, rather than return an undefined value that a
        ``default`` filter or an ``is defined`` test would quietly swallow (or that a further
        lookup would turn into a misleading "has no attribute" message)."""
        raise SecurityError(
            f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe."
        )


def _finalize(value: Any) -> Any:
    """Print an absent optional value (None) as nothing rather than 'None'."""
    return "" if value is None else value


class ConfinedLoader(FileSystemLoader):
    """A `FileSystemLoader` that never reads outside its folder and can inline CSS.

    Jinja2 already refuses ``..`` in template names; this also refuses a template file that is
    a symlink leading out of the folder.  With ``css`` (the folder's ``style.css``, possibly
    empty) every ``.html`` template is returned with the CSS inlined (`distrib.render.css`).
    """

    def __init__(self, root: Path, css: str | None = None) -> None:
        super().__init__(root, encoding="utf-8", followlinks=False)
        self.root = root.resolve()
        self.css = css

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        """Return the template source (CSS inlined for .html), refusing files outside."""
        source, filename, uptodate = super().get_source(environment, template)
        if not Path(filename).resolve().is_relative_to(self.root):
            raise TemplateNotFound(f"{template} (it leads outside the templates folder)")
        if self.css is not None and template.endswith(".html"):
            source = inline_template(source, self.css)
        return source, filename, uptodate


def make_environments(
    templates_dir: Path, css: str | None = None
) -> tuple[Environment, Environment]:
    """Return the (HTML, text) environments: autoescaped HTML, plain text and subject; both
    sandboxed (`ImmutableSandboxedEnvironment`, see the module docstring)."""
    options: dict[str, Any] = {
        "undefined": _FieldUndefined,
        "keep_trailing_newline": True,
        # Block tags on lines of their own leave no blank lines: the text part stays tidy.
        "trim_blocks": True,
        "lstrip_blocks": True,
        "finalize": _finalize,
        "auto_reload": False,
    }
    html = _Environment(autoescape=True, loader=ConfinedLoader(templates_dir, css), **options)
    text = _Environment(autoescape=False, loader=ConfinedLoader(templates_dir), **options)
    for environment in (html, text):
        environment.filters.update(FILTERS)
    return html, text


def contact_values(contact: Contact, language: str) -> TemplateValues:
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
        language=language,
    )
    return TemplateValues("contact", data)


@dataclass(frozen=True, slots=True)
class ReleaseLabel:
    """What a message says at its top about when the release may be published."""

    text: str  # "SOUS EMBARGO jusqu’au …" / "Pour diffusion immédiate" / "" (none)
    note: str  # the request under an embargo notice ("" otherwise)
    subject_prefix: str  # "EMBARGO 1er mars 9 h HNE –" when the subject carries it, else ""
    embargo: datetime | None  # the embargo the message states (None: none, or dropped)


def release_label(document: ReleaseDocument) -> ReleaseLabel:
    """The label of ``document`` as its messages show it, per the campaign's ``[press]``."""
    from distrib.config import PressConfig

    press = document.press or PressConfig()
    lang = document.language
    embargo = None if document.embargo_dropped else document.embargo
    if embargo is not None:
        zone = press.time_zone
        prefix = ""
        if press.embargo_in_subject:
            prefix = typography.embargo_subject_prefix(embargo, lang, zone=zone)
        return ReleaseLabel(
            typography.embargo_notice(embargo, lang, zone=zone),
            typography.embargo_request(lang),
            prefix,
            embargo,
        )
    if not press.immediate_release:
        return ReleaseLabel("", "", "", None)
    custom = press.immediate_release_fr if lang == "fr" else press.immediate_release_en
    text = custom if custom is not None else typography.immediate_release_label(lang)
    return ReleaseLabel(text, "", "", None)


def _story_html(document: ReleaseDocument) -> Markup:
    """The body with the dateline opening its first paragraph, as a release's lead reads."""
    dateline = escape(document.dateline)
    body = str(document.body_html)
    if body.startswith("<p>"):
        return Markup(f'<p><span class="dateline">{dateline}</span> {body[3:]}')  # noqa: S704
    return Markup(f'<p class="dateline">{dateline}</p>\n{body}')  # noqa: S704


def _story_text(document: ReleaseDocument) -> str:
    """`_story_html` for the text part: ``MONTRÉAL, le 4 novembre 2027 – L’Association …``."""
    if str(document.body_html).startswith("<p>"):  # the body opens with a paragraph
        return f"{document.dateline} {document.body_text}"
    return f"{document.dateline}\n\n{document.body_text}"


def release_values(
    document: ReleaseDocument, inline: Callable[[Markup], Markup] | None = None
) -> TemplateValues:
    """The values of one release document (built once per campaign, not per message).

    ``inline`` inlines the stylesheet into the document's HTML (its body, About and contact).
    A French document's text gets French spacing (non-breaking spaces before ``:`` ``»`` …).
    """
    style = inline or (lambda html: html)
    label = release_label(document)
    french = document.language == "fr"

    def text(value: str) -> str:
        return typography.french_spacing(value) if french and value else value

    def html(value: Markup) -> Markup:
        if not french or not value:
            return style(value)
        return style(Markup(typography.french_spacing_html(str(value))))  # noqa: S704

    links = tuple(
        TemplateValues("link", {"title": link.title, "url": link.url}) for link in document.links
    )
    attachments = tuple(
        TemplateValues(
            "attachment",
            {
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size,
                "size_text": format_size(a.size),
            },
        )
        for a in document.attachments
    )
    return TemplateValues(
        "release",
        {
            "language": document.language,
            "language_tag": LANGUAGE_TAGS[document.language],
            "title": text(document.title),
            "subject": text(document.subject),
            "subject_prefix": label.subject_prefix,
            "dateline": text(document.dateline),
            "summary": text(document.summary),
            "label": label.text,
            "label_note": label.note,
            "embargo": label.embargo,
            "hold_until": document.hold_until,
            "jump": typography.bilingual_jump(document.language),
            "story_html": html(_story_html(document)),
            "story_text": text(_story_text(document)),
            "body_html": html(document.body_html),
            "body_text": text(document.body_text),
            "body_markdown": document.body_markdown,
            "meta": TemplateValues("release.meta", document.meta),
            "links": links,
            "attachments": attachments,
            "about_html": html(document.about_html),
            "about_text": text(document.about_text),
            "media_contact_html": html(document.media_contact_html),
            "media_contact_text": text(document.media_contact_text),
            "end_mark": document.end_mark,
            "has_end_mark": document.has_end_mark,
        },
    )


def sender_values(sender: SenderConfig) -> TemplateValues:
    """The sender's values, from the campaign file."""
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


@dataclass(frozen=True, slots=True)
class LanguageValues:
    """The context values shared by every message of one language (``fr``, ``en`` or ``both``)."""

    lang: str
    languages: tuple[str, ...]
    documents: tuple[TemplateValues, ...]
    releases: TemplateValues
    sender: TemplateValues
    language_tag: str
    logo: TemplateValues | None = None

    @classmethod
    def build(
        cls,
        lang: str,
        documents: Sequence[ReleaseDocument],
        sender: TemplateValues,
        inline: Callable[[Markup], Markup] | None = None,
        logo: TemplateValues | None = None,
    ) -> LanguageValues:
        """Return the shared values of ``lang`` whose documents are ``documents``, in order."""
        values = tuple(release_values(d, inline) for d in documents)
        return cls(
            lang=lang,
            languages=tuple(d.language for d in documents),
            documents=values,
            releases=TemplateValues(
                "releases", {d.language: v for d, v in zip(documents, values, strict=True)}
            ),
            sender=sender,
            language_tag=LANGUAGE_TAGS[documents[0].language],
            logo=logo,
        )


def build_context(
    contact: Contact,
    shared: LanguageValues,
    *,
    unsubscribe: Mapping[str, str | None],
    outlet: Mapping[str, str],
) -> dict[str, Any]:
    """Return the template context for one contact (see the `distrib.render` docstring)."""
    return {
        "contact": contact_values(contact, shared.lang),
        "release": shared.documents[0],
        "releases": shared.releases,
        "documents": shared.documents,
        "languages": shared.languages,
        "sender": shared.sender,
        "unsubscribe": TemplateValues("unsubscribe", unsubscribe),
        "outlet": TemplateValues("outlet", outlet),
        "lang": shared.lang,
        "language_tag": shared.language_tag,
        "logo": shared.logo,
    }
