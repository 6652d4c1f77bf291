"""The `Renderer`: templates compiled once per campaign, one `RenderedMessage` per contact.

Everything that does not depend on the contact is done once, in the constructor: templates
compiled (with the CSS inlined), release values, sender headers, the List-Id, the outlets
sheet, the DKIM key.  `Renderer.render` only does what differs from one journalist to the next.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.errors import MessageError
from email.headerregistry import Address
from email.utils import format_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import distrib
from distrib.config import display_path
from distrib.errors import HeaderValueError, Location, Problem, RenderError
from distrib.headers import check_header
from distrib.render.context import LANGUAGE_TAGS, LanguageValues, build_context, sender_values
from distrib.render.css import inline_fragment
from distrib.render.dkim import DKIMSigner, load_signer
from distrib.render.mime import HeaderValues, build_message, content_hash
from distrib.render.outlets import OutletSheet, read_outlets
from distrib.render.templates import TEMPLATE_FILES, Templates, TemplateSet
from distrib.render.unsubscribe import (
    check_url,
    list_unsubscribe_value,
    mailto_uri,
    secret_from_environment,
    token_url,
    unsubscribe_token,
)

if TYPE_CHECKING:
    from distrib.config import Campaign
    from distrib.contacts.model import Contact
    from distrib.release import Release, ReleaseDocument
    from distrib.release_extras import Attachment

__all__ = [
    "HTML_SIZE_WARNING",
    "SUBJECT_LENGTH_WARNING",
    "TEMPLATE_FILES",
    "MessageLanguage",
    "RenderedMessage",
    "Renderer",
    "default_templates_dir",
]

MessageLanguage = Literal["fr", "en", "both"]
_MESSAGE_ID = re.compile(r"<[^<>@\s]+@[^<>@\s]+>")
#: Gmail clips a message whose HTML passes about 102 KB ("[Message clipped]").
HTML_SIZE_WARNING = 100 * 1024
#: Mail apps show 40 to 90 characters of a subject; past this, say so.
SUBJECT_LENGTH_WARNING = 100
TEST_PREFIX = "[TEST] "


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

    @property
    def size(self) -> int:
        """The size of the message in bytes, as the SMTP server will count it."""
        return len(self.data)


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
    ) -> None:
        self.campaign = campaign
        self.release = release
        folder = templates_dir or campaign.templates or default_templates_dir()
        self.templates = TemplateSet(folder)
        self.templates_dir = self.templates.folder
        self.warnings: list[Problem] = list(self.templates.warnings)
        self.signer: DKIMSigner | None = None
        self.outlet_sheet = OutletSheet()
        self._secret: bytes | None = None
        problems = [*self._setup_sender(environ), *self.templates.problems]
        problems += self._setup_extras()
        if problems:
            raise RenderError(
                problems, f"the templates in {display_path(self.templates_dir)} cannot be used"
            )
        sender = sender_values(campaign.sender)
        css = self.templates.css
        inline = (lambda html: inline_fragment(html, css)) if css else None
        self._shared = {
            lang: LanguageValues.build(lang, documents, sender, inline)
            for lang, documents in self._language_documents().items()
        }
        self._outlets: dict[str, Mapping[str, str]] = {}

    # -- set-up, once per campaign ------------------------------------------------------------

    def _setup_sender(self, environ: Mapping[str, str] | None) -> list[Problem]:
        """Check the sender values that become header values, once for the whole campaign."""
        sender = self.campaign.sender
        where = Location(display_path(self.campaign.file))
        problems = []
        self._from, self._reply_to, self._mailto = "", None, ""
        try:
            self._from = ascii_address(sender.address)
            self._reply_to = ascii_address(sender.reply_to) if sender.reply_to else None
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
        """Load the outlets sheet and the DKIM key."""
        campaign = self.campaign
        problems: list[Problem] = []
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

    def _language_documents(self) -> dict[str, list[ReleaseDocument]]:
        """Return the documents of each message language the release can make."""
        found: dict[str, list[ReleaseDocument]] = {}
        for lang in ("fr", "en"):
            document = self.release.get(lang)
            if document is not None:
                found[lang] = [document]
        order = self.campaign.bilingual_order
        if all(lang in found for lang in order):
            found["both"] = [found[lang][0] for lang in order]
        return found

    # -- per contact --------------------------------------------------------------------------

    def message_language(self, contact: Contact) -> tuple[MessageLanguage, str | None]:
        """Return the language of ``contact``'s message and, if it falls back, why.

        Raise `RenderError` if the release cannot serve the contact's language.
        """
        wanted = contact.language
        if wanted in self._shared:
            return wanted, None
        lacking = [f"{lang}.md" for lang in ("fr", "en") if lang not in self._shared]
        need = " and ".join(lacking)
        who = (
            "this bilingual contact" if wanted == "both" else f"this contact's language ({wanted})"
        )
        fallback = self.campaign.fallback_language
        if fallback is not None and fallback in self._shared:
            note = f"the release has no {need} for {who}: sending the {fallback} version"
            return fallback, f"{note} (fallback_language)"
        where = contact.sources[0] if contact.sources else None
        message = f"the release has no {need}, which {who} needs (or set fallback_language)"
        raise RenderError([Problem(message, where, "language")])

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
        if not _MESSAGE_ID.fullmatch(message_id):
            raise ValueError(f"not a Message-ID: {message_id!r} (use make_message_id)")
        if date is None:
            date = datetime.now(UTC).astimezone()
        elif date.tzinfo is None or date.utcoffset() is None:
            raise ValueError("the Date of a message must be timezone-aware")
        where = contact.sources[0] if contact.sources else None
        lang, fallback = self.message_language(contact)
        templates = self._templates(lang, contact, where)
        shared = self._shared[lang]
        url = self._unsubscribe_url(contact)
        unsubscribe = {
            "mailto": self.campaign.sender.unsubscribe_address,
            "mailto_uri": self._mailto,
            "url": url,
        }
        context = build_context(
            contact, shared, unsubscribe=unsubscribe, outlet=self.outlet_values(contact)
        )
        problems: list[Problem] = []
        subject = self._run(templates.subject, context, problems, where).strip()
        text = self._run(templates.text, context, problems, where)
        html = self._run(templates.html, context, problems, where)
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
        attachments = self._attachments(lang)
        try:
            data = build_message(headers, text, html, attachments)
        except (ValueError, MessageError) as exc:
            raise RenderError(
                [Problem(f"cannot build the message: {exc}", where, "message")]
            ) from None
        if sign and self.signer is not None:
            data = self.signer.sign(data)
        return RenderedMessage(
            contact=contact,
            language=lang,
            subject=subject,
            message_id=message_id,
            envelope_from=self._from,
            recipient=test_to or contact.address,
            data=data,
            html=html,
            text=text,
            content_hash=content_hash(subject, text, html, *(a.digest for a in attachments)),
            attachments=attachments,
            warnings=_warnings(subject, html, fallback, where),
        )

    def _templates(self, lang: str, contact: Contact, where: Location | None) -> Templates:
        templates = self.templates.get(lang, contact.outlet_slug)
        if templates is None:
            folder = display_path(self.templates_dir)
            missing = self.templates.missing[lang]
            message = f"template {missing} not found in {folder} (needed for language {lang})"
            raise RenderError([Problem(message, where, "template")])
        return templates

    def _attachments(self, lang: str) -> tuple[Attachment, ...]:
        found: dict[Path, Attachment] = {}
        for code in self._shared[lang].languages:
            document = self.release.get(code)
            for attachment in document.attachments if document else ():
                found.setdefault(attachment.path, attachment)
        return tuple(found.values())

    def _unsubscribe_url(self, contact: Contact) -> str | None:
        url = self.campaign.sender.unsubscribe_url
        if url is None or self._secret is None:
            return None
        return token_url(url, unsubscribe_token(self._secret, contact.key))

    def _run(
        self,
        template: Any,
        context: dict[str, Any],
        problems: list[Problem],
        where: Location | None,
    ) -> str:
        """Render one template; on failure append a problem naming the template and return ''."""
        name = template.name
        try:
            return str(template.render(context))
        except Exception as exc:  # a template is user code: never a traceback for its mistakes
            from jinja2 import TemplateError, UndefinedError

            if isinstance(exc, UndefinedError):
                message, code = f"template {name}: {exc.message}", "undefined"
            elif isinstance(exc, TemplateError):
                message, code = f"template {name}: {exc}", "template"
            else:
                message, code = f"template {name}: {type(exc).__name__}: {exc}", "template"
            problems.append(Problem(message + self._origin(exc, name), where, code))
        return ""

    def _origin(self, exc: BaseException, name: str | None) -> str:
        """Say where in the templates ``exc`` happened, e.g. `` (base.html, line 12)``."""
        for frame in reversed(traceback.extract_tb(exc.__traceback__)):
            path = Path(frame.filename)
            if path.is_relative_to(self.templates_dir):
                relative = path.relative_to(self.templates_dir).as_posix()
                if relative == name:
                    return f" (line {frame.lineno})"
                return f" ({relative}, line {frame.lineno})"
        return ""

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
        sender = self.campaign.sender
        date_text = format_datetime(date)
        languages = self._shared[lang].languages
        content_language = ", ".join(LANGUAGE_TAGS[code] for code in languages)
        list_unsubscribe = list_unsubscribe_value(self._mailto, url)
        to_name, to_address = (
            ("", test_to) if test_to is not None else (contact.name, contact.address)
        )
        values = [
            ("To", to_name),
            ("To", to_address),
            ("Subject", subject),
            ("List-Unsubscribe", list_unsubscribe),
        ]
        unsafe = len(problems)
        for header, value in values:
            try:
                check_header(header, value)
            except HeaderValueError as exc:
                problems.append(Problem(str(exc), where, "header"))
        if len(problems) > unsafe:
            return None
        try:
            local, _, domain = to_address.rpartition("@")
            # A UTF-8 local part (RFC 6532) is given in parts: Address(addr_spec=) refuses it.
            recipient = (
                Address(display_name=to_name, addr_spec=to_address)
                if local.isascii()
                else Address(display_name=to_name, username=local, domain=domain)
            )
            return HeaderValues(
                sender=Address(display_name=sender.name, addr_spec=self._from),
                recipient=recipient,
                subject=subject,
                date=date_text,
                message_id=message_id,
                content_language=content_language,
                list_unsubscribe=list_unsubscribe,
                one_click=url is not None,
                reply_to=Address(addr_spec=self._reply_to) if self._reply_to else None,
                list_id=self._list_id,
            )
        except (ValueError, MessageError) as exc:
            problems.append(Problem(f"cannot use the address: {exc}", where, "header"))
            return None

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
    subject: str, html: str, fallback: str | None, where: Location | None
) -> tuple[Problem, ...]:
    """Return what deserves a look in one message (none of it stops a send)."""
    found = []
    if fallback is not None:
        found.append(Problem(fallback, where, "fallback"))
    if len(subject) > SUBJECT_LENGTH_WARNING:
        message = f"the subject is {len(subject)} characters long; mail apps show 40 to 90"
        found.append(Problem(message, where, "long-subject"))
    size = len(html.encode("utf-8"))
    if size > HTML_SIZE_WARNING:
        message = (
            f"the HTML part is {size / 1024:.0f} KB; Gmail clips messages past about 102 KB"
            ' ("[Message clipped]"): shorten the release or link to it'
        )
        found.append(Problem(message, where, "html-size"))
    return tuple(found)
