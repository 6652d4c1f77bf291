"""The `Renderer`: templates compiled once per campaign, one `RenderedMessage` per contact.

Everything that does not depend on the contact is done once, in the constructor: templates
compiled (with the CSS inlined), release values, sender headers, the List-Id, the outlets
sheet, the DKIM key.  `Renderer.render` only does what differs from one journalist to the next:
it fills the contact into each template's skeleton (`distrib.render.skeleton`; Jinja2 runs once
per variant) and writes the MIME bytes directly (`distrib.render.fastmime`).

`Renderer.check` does everything `Renderer.render` does but write the bytes (and sign them):
the templates, every header value checked, the attachments, the content hash (what the
recipient reads) and the warnings.  A plan checks every message; the send then renders each one
once, and the content hash proves it is the message that was planned.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.errors import MessageError
from email.utils import format_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import distrib
from distrib.config import display_path
from distrib.errors import HeaderValueError, Location, Problem, RenderError
from distrib.headers import check_header, is_header_safe
from distrib.render.context import (
    LANGUAGE_TAGS,
    LanguageValues,
    TemplateValues,
    build_context,
    sender_values,
)
from distrib.render.css import inline_fragment
from distrib.render.dkim import DKIMSigner, load_signer
from distrib.render.fastmime import Body, MessageWriter, mailbox
from distrib.render.mime import (
    HeaderValues,
    Mailbox,
    attachment_part,
    build_message,
    content_hash_of,
    image_part,
)
from distrib.render.outlets import OutletSheet, read_outlets
from distrib.render.skeleton import Skeletons
from distrib.render.templates import TEMPLATE_FILES, Templates, TemplateSet, run_template
from distrib.render.unsubscribe import (
    check_url,
    list_unsubscribe_value,
    mailto_uri,
    secret_from_environment,
    token_url,
    unsubscribe_token,
    workspace_scope,
)

if TYPE_CHECKING:
    from distrib.config import Campaign
    from distrib.contacts.model import Contact
    from distrib.release import Release, ReleaseDocument
    from distrib.release_extras import Attachment
    from distrib.release_images import InlineImage

__all__ = [
    "HTML_SIZE_WARNING",
    "SUBJECT_LENGTH_WARNING",
    "TEMPLATE_FILES",
    "CheckedMessage",
    "MessageLanguage",
    "RenderedMessage",
    "Renderer",
    "choose_language",
    "default_templates_dir",
    "release_languages",
]

MessageLanguage = Literal["fr", "en", "both"]
_MESSAGE_ID = re.compile(r"<[^<>@\s]+@[^<>@\s]+>")
#: Gmail clips a message whose HTML passes about 102 KB ("[Message clipped]").
HTML_SIZE_WARNING = 100 * 1024
#: Mail apps show 40 to 90 characters of a subject; past this, say so.
SUBJECT_LENGTH_WARNING = 100
TEST_PREFIX = "[TEST] "
#: What a set-up problem is about, by its code (`Renderer._setup_summary`).
_SETUP_PARTS = (
    (frozenset({"sender", "unsubscribe", "header"}), "the sender settings"),
    (frozenset({"attachment", "image"}), "the release's attachments or images (or the logo)"),
    (frozenset({"outlets"}), "the outlets sheet"),
    (frozenset({"dkim"}), "the DKIM key"),
)


def default_templates_dir() -> Path:
    """Return the built-in templates: ``distrib/_templates`` in a wheel, else the repo's folder."""
    packaged = Path(distrib.__file__).parent / "_templates"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "templates"


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    """One message, ready for SMTP: ``data`` is the whole message with CRLF line endings.

    ``language`` is the language of the message (``both`` for a bilingual one), which differs
    from ``contact.language`` when the campaign's ``fallback_language`` was used.
    """

    contact: Contact
    language: MessageLanguage
    subject: str
    message_id: str
    envelope_from: str
    recipient: str
    data: bytes
    html: str
    text: str
    content_hash: str
    attachments: tuple[Attachment, ...] = ()
    warnings: tuple[Problem, ...] = ()
    images: tuple[InlineImage, ...] = ()  # the logo and the release's images, by cid:

    @property
    def size(self) -> int:
        """The size of the message in bytes, as the SMTP server will count it."""
        return len(self.data)

    @property
    def preview_html(self) -> str:
        """The HTML part with its ``cid:`` images as ``data:`` URLs: what a browser can show."""
        from distrib.release_images import with_data_urls

        return with_data_urls(self.html, self.images)


@dataclass(frozen=True, slots=True)
class CheckedMessage:
    """What `Renderer.check` knows of a message without writing it: all but the bytes.

    ``content_hash`` is the `RenderedMessage.content_hash` the same contact's message will
    have when it is rendered; ``content_size`` the bytes of its subject, text, HTML and
    attachments (the message as sent is larger: headers, quoted-printable and base64).
    """

    language: MessageLanguage
    subject: str
    message_id: str
    content_hash: str
    content_size: int
    warnings: tuple[Problem, ...] = ()


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A message ready to be written: its checked header values and rendered parts."""

    language: MessageLanguage
    subject: str
    headers: HeaderValues
    text: Body
    html: Body
    attachments: tuple[Attachment, ...]
    images: tuple[InlineImage, ...]
    fallback: str | None
    where: Location | None

    def content_hash(self) -> str:
        return content_hash_of(
            self.subject.encode("utf-8"),
            self.text.data,
            self.html.data,
            *(a.digest.encode("utf-8") for a in self.attachments),
            *(f"image:{i.content_id}:{i.filename}".encode() for i in self.images),
        )

    def warnings(self) -> tuple[Problem, ...]:
        return _warnings(self.subject, len(self.html.data), self.fallback, self.where)


def ascii_address(address: str) -> str:
    """Return ``address`` with its domain as an IDNA A-label; raise ValueError if it cannot be."""
    local, _, domain = address.rpartition("@")
    if not local.isascii():
        raise ValueError(f"{address!r} has a non-ASCII local part (SMTPUTF8 is not supported)")
    try:
        return f"{local}@{domain.encode('idna').decode('ascii')}"
    except UnicodeError as exc:
        raise ValueError(f"{address!r} has a domain that cannot be encoded: {exc}") from None


def _list_id(campaign: Campaign) -> str:
    """Return the List-Id value: the organisation, then ``<list.id>``."""
    from distrib.contacts.normalize import slugify

    sender = campaign.sender
    list_id = sender.list_id or f"{slugify(campaign.name) or 'communiques'}.{sender.domain}"
    list_id = list_id.encode("idna").decode("ascii") if not list_id.isascii() else list_id
    return f"{sender.organisation} <{list_id}>"


def language_documents(campaign: Campaign, release: Release) -> dict[str, list[ReleaseDocument]]:
    """Return the documents of each message language ``release`` can make (``fr``, ``en``, and
    ``both`` when it has the two in ``campaign``'s bilingual order)."""
    found: dict[str, list[ReleaseDocument]] = {}
    for lang in ("fr", "en"):
        document = release.get(lang)
        if document is not None:
            found[lang] = [document]
    order = campaign.bilingual_order
    if all(lang in found for lang in order):
        found["both"] = [found[lang][0] for lang in order]
    return found


def release_languages(campaign: Campaign, release: Release) -> frozenset[str]:
    """Return the message languages ``release`` can make: what `choose_language` chooses among,
    known without compiling a template (the `Renderer` uses the same)."""
    return frozenset(language_documents(campaign, release))


def choose_language(
    campaign: Campaign, available: Collection[str], contact: Contact
) -> tuple[MessageLanguage, str | None]:
    """Return the language of ``contact``'s message among the ``available`` ones (see
    `release_languages`) and, if it falls back, why.

    Raise `RenderError` if none of them serves the contact's language.
    """
    wanted = contact.language
    if wanted in available:
        return wanted, None
    lacking = [f"{lang}.md" for lang in ("fr", "en") if lang not in available]
    need = " and ".join(lacking)
    who = "this bilingual contact" if wanted == "both" else f"this contact's language ({wanted})"
    fallback = campaign.fallback_language
    if fallback is not None and fallback in available:
        note = f"the release has no {need} for {who}: sending the {fallback} version"
        return fallback, f"{note} (fallback_language)"
    where = contact.sources[0] if contact.sources else None
    message = f"the release has no {need}, which {who} needs (or set fallback_language)"
    raise RenderError([Problem(message, where, "language")])


class Renderer:
    """Render every contact's message from one campaign's templates and release.

    A template that does not load or compile, or that extends or includes one that does not
    exist, a bad outlets sheet, DKIM key or unsubscribe setting, is reported now (all of them,
    in one `RenderError`) rather than once per contact.  ``warnings`` lists what does not stop
    a send but deserves a look.
    """

    def __init__(
        self,
        campaign: Campaign,
        release: Release,
        templates_dir: Path | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        fast_path: bool = True,
    ) -> None:
        self.campaign = campaign
        #: False renders every message with Jinja2 and the standard library's email package:
        #: the reference the fast path (skeletons, `MessageWriter`) is tested against.
        self.fast_path = fast_path
        self.release = release
        folder = templates_dir or campaign.templates or default_templates_dir()
        self.templates = TemplateSet(folder)
        self.templates_dir = self.templates.folder
        self.warnings: list[Problem] = list(self.templates.warnings)
        self.signer: DKIMSigner | None = None
        self.outlet_sheet = OutletSheet()
        self._secret: bytes | None = None
        self.logo: InlineImage | None = None
        problems = [*self._setup_sender(environ), *self.templates.problems]
        problems += self._setup_extras()
        if problems:
            raise RenderError(problems, self._setup_summary(problems))
        sender = sender_values(campaign.sender)
        css = self.templates.css
        inline = (lambda html: inline_fragment(html, css)) if css else None
        logo = self._logo_values()
        self._shared = {
            lang: LanguageValues.build(lang, documents, sender, inline, logo)
            for lang, documents in self._language_documents().items()
        }
        self._outlets: dict[str, Mapping[str, str]] = {}
        self._content_language = {
            lang: ", ".join(LANGUAGE_TAGS[code] for code in shared.languages)
            for lang, shared in self._shared.items()
        }
        self._attachments_by_language: dict[str, tuple[Attachment, ...]] = {}
        self._images_by_language: dict[str, tuple[InlineImage, ...]] = {}
        self._last_date = ("", "")
        self.skeletons = Skeletons()
        self._writer = MessageWriter()
        self.stdlib_messages = 0  # messages written by build_message (fast_path=False, or rare)

    # -- set-up, once per campaign ------------------------------------------------------------

    def _setup_summary(self, problems: list[Problem]) -> str:
        """What the set-up ``problems`` are about: the templates only when they are the cause."""
        parts = []
        if self.templates.problems:
            parts.append(f"the templates in {display_path(self.templates_dir)}")
        others = {p.code for p in problems if p not in self.templates.problems}
        for codes, what in _SETUP_PARTS:
            if others & codes:
                parts.append(what)
        if len(parts) == 1 and self.templates.problems:
            return f"{parts[0]} cannot be used"
        return f"no message can be made: {', '.join(parts) or 'the settings'} cannot be used"

    def _setup_sender(self, environ: Mapping[str, str] | None) -> list[Problem]:
        """Check the sender values that become header values, once for the whole campaign."""
        sender = self.campaign.sender
        where = Location(display_path(self.campaign.file))
        problems = []
        self._from, self._mailto = "", ""
        self._sender_mailbox = Mailbox(sender.name, "")
        self._reply_to_mailbox: Mailbox | None = None
        try:
            self._from = ascii_address(sender.address)
            self._sender_mailbox = mailbox(sender.name, self._from)
            if sender.reply_to:
                self._reply_to_mailbox = mailbox("", ascii_address(sender.reply_to))
            self._mailto = mailto_uri(ascii_address(sender.unsubscribe_address))
        except ValueError as exc:
            problems.append(Problem(f"sender: {exc}", where, "sender"))
        self._list_id = _list_id(self.campaign)
        if sender.unsubscribe_url is not None:
            bad = check_url(sender.unsubscribe_url)
            secret = secret_from_environment(sender.unsubscribe_secret_env, environ)
            if bad is not None:
                problems.append(Problem(f"sender: {bad}", where, "sender"))
            if isinstance(secret, str):
                problems.append(Problem(f"sender: {secret}", where, "unsubscribe"))
            else:
                self._secret = secret
        for header, value in (("List-Id", self._list_id), ("From", sender.name)):
            try:
                check_header(header, value)
            except HeaderValueError as exc:
                problems.append(Problem(f"sender: {exc}", where, "header"))
        return problems

    def _setup_extras(self) -> list[Problem]:
        """Load the outlets sheet and the DKIM key; check the attachments' MIME parts."""
        campaign = self.campaign
        problems: list[Problem] = []
        for document in self.release.documents.values():
            for attachment in document.attachments:
                try:  # load_release refuses such names already: this is a second defence
                    attachment_part(attachment)
                except ValueError as exc:
                    where = Location(display_path(document.path))
                    problems.append(Problem(f"attachments: {exc}", where, "attachment"))
            for image in document.images:
                try:  # the same second defence for the images' names
                    image_part(image)
                except ValueError as exc:
                    where = Location(display_path(document.path))
                    problems.append(Problem(f"image: {exc}", where, "image"))
        problems += self._setup_logo()
        if campaign.outlets is not None:
            try:
                self.outlet_sheet = read_outlets(campaign.outlets)
            except RenderError as exc:
                problems.extend(exc.problems)
        if campaign.dkim is not None:
            signer = load_signer(campaign.dkim, Location(display_path(campaign.file)))
            if isinstance(signer, Problem):
                problems.append(signer)
            else:
                self.signer = signer
        return problems

    def _setup_logo(self) -> list[Problem]:
        """Read the logo of ``[press] logo``, if any: an image shown atop every HTML part."""
        from distrib.release_images import read_logo

        press = self.campaign.press
        if press.logo is None:
            return []
        alt = press.logo_alt if press.logo_alt is not None else self.campaign.sender.organisation
        found = read_logo(
            press.logo, alt=alt, domain=self.campaign.sender.domain, max_mb=press.max_image_mb
        )
        if isinstance(found, str):
            where = Location(display_path(self.campaign.workspace or self.campaign.file))
            return [Problem(f"press.logo: {found}", where, "image")]
        try:
            image_part(found)
        except ValueError as exc:
            where = Location(display_path(self.campaign.workspace or self.campaign.file))
            return [Problem(f"press.logo: {exc}", where, "image")]
        self.logo = found
        return []

    def _logo_values(self) -> TemplateValues | None:
        """What templates know of the logo (``logo.src``, ``logo.alt``, ``logo.width``)."""
        if self.logo is None:
            return None
        values = {
            "src": self.logo.src,
            "alt": self.logo.alt,
            "width": self.campaign.press.logo_width,
        }
        return TemplateValues("logo", values)

    def _language_documents(self) -> dict[str, list[ReleaseDocument]]:
        """Return the documents of each message language the release can make."""
        return language_documents(self.campaign, self.release)

    # -- per contact --------------------------------------------------------------------------

    def message_language(self, contact: Contact) -> tuple[MessageLanguage, str | None]:
        """Return the language of ``contact``'s message and, if it falls back, why.

        Raise `RenderError` if the release cannot serve the contact's language.
        """
        return choose_language(self.campaign, self._shared, contact)

    def outlet_values(self, contact: Contact) -> Mapping[str, str]:
        """Return the outlets-sheet variables of ``contact``'s outlet (cached per outlet)."""
        slug = contact.outlet_slug
        values = self._outlets.get(slug)
        if values is None:
            values = self.outlet_sheet.values(slug, contact.outlet)
            self._outlets[slug] = values
        return values

    def render(
        self,
        contact: Contact,
        *,
        message_id: str,
        date: datetime | None = None,
        sign: bool = True,
        test_to: str | None = None,
    ) -> RenderedMessage:
        """Render ``contact``'s message; raise `RenderError` (nothing built) if it cannot be.

        ``sign=False`` skips DKIM (planning needs no signature).  ``test_to`` renders the
        contact's message for the officer's own address: To and the envelope recipient are
        ``test_to`` and the subject starts with ``[TEST]``.
        """
        ready = self._prepare(contact, message_id=message_id, date=date, test_to=test_to)
        headers, attachments = ready.headers, ready.attachments
        try:
            images = ready.images
            if self.fast_path and self._writer.covers(headers):
                data = self._writer.write(headers, ready.text, ready.html, attachments, images)
            else:  # a Message-ID make_message_id never gives: the standard library writes it
                self.stdlib_messages += 1
                data = build_message(headers, ready.text.text, ready.html.text, attachments, images)
        except (ValueError, MessageError) as exc:
            raise RenderError(
                [Problem(f"cannot build the message: {exc}", ready.where, "message")]
            ) from None
        if sign and self.signer is not None:
            data = self.signer.sign(data)
        return RenderedMessage(
            contact=contact,
            language=ready.language,
            subject=ready.subject,
            message_id=message_id,
            envelope_from=self._from,
            recipient=test_to or contact.address,
            data=data,
            html=ready.html.text,
            text=ready.text.text,
            content_hash=ready.content_hash(),
            attachments=attachments,
            warnings=ready.warnings(),
            images=ready.images,
        )

    def check(
        self, contact: Contact, *, message_id: str, date: datetime | None = None
    ) -> CheckedMessage:
        """Do all `render` does but write and sign the bytes: the same problems (`RenderError`),
        the same subject, content hash and warnings, at about half the cost."""
        ready = self._prepare(contact, message_id=message_id, date=date, test_to=None)
        size = len(ready.text.data) + len(ready.html.data) + len(ready.subject.encode("utf-8"))
        return CheckedMessage(
            language=ready.language,
            subject=ready.subject,
            message_id=message_id,
            content_hash=ready.content_hash(),
            content_size=size
            + sum(a.size for a in ready.attachments)
            + sum(i.size for i in ready.images),
            warnings=ready.warnings(),
        )

    def _prepare(
        self,
        contact: Contact,
        *,
        message_id: str,
        date: datetime | None,
        test_to: str | None,
    ) -> _Prepared:
        """Render the templates and check every header value; raise `RenderError` if the
        message cannot be made (every problem found)."""
        if not _MESSAGE_ID.fullmatch(message_id):
            raise ValueError(f"not a Message-ID: {message_id!r} (use make_message_id)")
        if date is None:
            date = datetime.now(UTC).astimezone()
        elif date.tzinfo is None or date.utcoffset() is None:
            raise ValueError("the Date of a message must be timezone-aware")
        where = contact.sources[0] if contact.sources else None
        lang, fallback = self.message_language(contact)
        templates = self._templates(lang, contact, where)
        url = self._unsubscribe_url(contact)
        problems: list[Problem] = []
        subject_body, text_body, html_body = self._render_templates(
            templates, lang, contact, url=url, problems=problems, where=where
        )
        subject = subject_body.text.strip()
        if not problems and not subject:
            message = f"template {templates.subject.name}: the subject is empty"
            problems.append(Problem(message, where, "subject"))
        if test_to is not None:
            subject = TEST_PREFIX + subject
        headers = self._headers(
            contact,
            subject,
            lang=lang,
            url=url,
            message_id=message_id,
            date=date,
            problems=problems,
            where=where,
            test_to=test_to,
        )
        if problems or headers is None:
            raise RenderError(problems)
        return _Prepared(
            lang,
            subject,
            headers,
            text_body,
            html_body,
            self._attachments(lang),
            self._images(lang),
            fallback,
            where,
        )

    def _render_templates(
        self,
        templates: Templates,
        lang: str,
        contact: Contact,
        *,
        url: str | None,
        problems: list[Problem],
        where: Location | None,
    ) -> list[Body]:
        """Return the subject, text and HTML: from a skeleton if one fits, else from Jinja2."""
        context: dict[str, Any] | None = None
        outlet = self.outlet_values(contact)
        outputs = []
        for template in (templates.subject, templates.text, templates.html):
            variant = self.skeletons.variant(template, lang, outlet) if self.fast_path else None
            parts = (
                None if variant is None else self.skeletons.fill(template, variant, contact, url)
            )
            if parts is not None:
                output = "".join(parts)
            else:
                if context is None:
                    mailto = self.campaign.sender.unsubscribe_address
                    unsubscribe = {"mailto": mailto, "mailto_uri": self._mailto, "url": url}
                    shared = self._shared[lang]
                    context = build_context(contact, shared, unsubscribe=unsubscribe, outlet=outlet)
                failed = len(problems)
                output = run_template(template, context, problems, where, self.templates_dir)
                if len(problems) == failed and variant is not None:
                    # The same parts as the next contacts of this variant: the same bytes.
                    parts = self.skeletons.learn(
                        template, variant, contact=contact, url=url, context=context, output=output
                    )
            outputs.append(Body(output, output.encode("utf-8"), parts))
        return outputs

    def _templates(self, lang: str, contact: Contact, where: Location | None) -> Templates:
        templates = self.templates.get(lang, contact.outlet_slug)
        if templates is None:
            folder = display_path(self.templates_dir)
            missing = self.templates.missing[lang]
            message = f"template {missing} not found in {folder} (needed for language {lang})"
            raise RenderError([Problem(message, where, "template")])
        return templates

    def _attachments(self, lang: str) -> tuple[Attachment, ...]:
        cached = self._attachments_by_language.get(lang)
        if cached is not None:
            return cached
        found: dict[Path, Attachment] = {}
        for code in self._shared[lang].languages:
            document = self.release.get(code)
            for attachment in document.attachments if document else ():
                found.setdefault(attachment.path, attachment)
        self._attachments_by_language[lang] = tuple(found.values())
        return self._attachments_by_language[lang]

    def _images(self, lang: str) -> tuple[InlineImage, ...]:
        """The inline images of ``lang``'s messages: the logo, then each document's, once."""
        cached = self._images_by_language.get(lang)
        if cached is not None:
            return cached
        found: dict[str, InlineImage] = {}
        if self.logo is not None:
            found[self.logo.content_id] = self.logo
        for code in self._shared[lang].languages:
            document = self.release.get(code)
            for image in document.images if document else ():
                found.setdefault(image.content_id, image)
        self._images_by_language[lang] = tuple(found.values())
        return self._images_by_language[lang]

    def _unsubscribe_url(self, contact: Contact) -> str | None:
        url = self.campaign.sender.unsubscribe_url
        if url is None or self._secret is None:
            return None
        scope = workspace_scope(self.campaign.sender.domain, self.campaign.name)
        return token_url(url, unsubscribe_token(self._secret, contact.key, scope))

    def _headers(
        self,
        contact: Contact,
        subject: str,
        *,
        lang: str,
        url: str | None,
        message_id: str,
        date: datetime,
        problems: list[Problem],
        where: Location | None,
        test_to: str | None,
    ) -> HeaderValues | None:
        """Check every header value (CVE-2024-6923) and return them, or None if one is unsafe."""
        list_unsubscribe = list_unsubscribe_value(self._mailto, url)
        to_name, to_address = (
            ("", test_to) if test_to is not None else (_phrase(contact.name), contact.address)
        )
        values = [
            ("To", to_name),
            ("To", to_address),
            ("Subject", subject),
            ("List-Unsubscribe", list_unsubscribe),
        ]
        if not is_header_safe(" ".join(value for _, value in values)):  # one search for all
            for header, value in values:
                try:
                    check_header(header, value)
                except HeaderValueError as exc:
                    problems.append(Problem(str(exc), where, "header"))
            return None
        try:
            recipient = mailbox(to_name, to_address)
        except (ValueError, MessageError) as exc:
            problems.append(Problem(f"cannot use the address: {exc}", where, "header"))
            return None
        return HeaderValues(
            sender=self._sender_mailbox,
            recipient=recipient,
            subject=subject,
            date=self._date_text(date),
            message_id=message_id,
            content_language=self._content_language[lang],
            list_unsubscribe=list_unsubscribe,
            one_click=url is not None,
            reply_to=self._reply_to_mailbox,
            list_id=self._list_id,
        )

    def _date_text(self, date: datetime) -> str:
        """Return the Date header value (the last one is kept: a run sends many per second)."""
        key = date.isoformat(timespec="seconds")  # what format_datetime reads of it
        if key != self._last_date[0]:
            self._last_date = (key, format_datetime(date))
        return self._last_date[1]

    # -- checks over the whole audience -------------------------------------------------------

    def check_audience(self, contacts: Iterable[Contact]) -> list[Problem]:
        """Return warnings about the audience: outlet folders and sheet rows nobody matches."""
        slugs = {c.outlet_slug for c in contacts}
        warnings = list(self.warnings)
        for slug in sorted(set(self.templates.outlets) - slugs):
            where = Location(display_path(self.templates_dir / "outlets" / slug))
            message = f"outlets/{slug}: no contact's outlet has this slug, so it is not used"
            warnings.append(Problem(message, where, "unused-outlet"))
        for slug in sorted(set(self.outlet_sheet.rows) - slugs):
            message = f"outlet {slug!r}: no contact's outlet has this slug, so the row is not used"
            warnings.append(Problem(message, self.outlet_sheet.where[slug], "unused-outlet"))
        return warnings


def _warnings(
    subject: str, size: int, fallback: str | None, where: Location | None
) -> tuple[Problem, ...]:
    """Return what deserves a look in one message (none of it stops a send)."""
    found = []
    if fallback is not None:
        found.append(Problem(fallback, where, "fallback"))
    if len(subject) > SUBJECT_LENGTH_WARNING:
        message = f"the subject is {len(subject)} characters long; mail apps show 40 to 90"
        found.append(Problem(message, where, "long-subject"))
    if size > HTML_SIZE_WARNING:
        message = (
            f"the HTML part is {size / 1024:.0f} KB; Gmail clips messages past about 102 KB"
            ' ("[Message clipped]"): shorten the release or link to it'
        )
        found.append(Problem(message, where, "html-size"))
    return tuple(found)


def _phrase(name: str) -> str:
    """Return a display name as mail readers show it: runs of spaces count as one (RFC 5322
    phrase), so collapse them here rather than let each reader decide."""
    return " ".join(part for part in name.split(" ") if part)
