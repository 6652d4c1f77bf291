"""The `Renderer`: templates compiled once per campaign, one `RenderedMessage` per contact."""

from __future__ import annotations

import re
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime
from email.errors import MessageError
from email.headerregistry import Address
from email.utils import format_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, Template, TemplateError, TemplateSyntaxError, UndefinedError, meta

import distrib
from distrib.config import display_path
from distrib.errors import HeaderValueError, Location, Problem, RenderError
from distrib.headers import check_header
from distrib.release import LANGUAGES, Language
from distrib.render.context import LANGUAGE_TAGS, build_context, make_environments
from distrib.render.mime import HeaderValues, build_message, content_hash

if TYPE_CHECKING:
    from distrib.config import Campaign, SenderConfig
    from distrib.contacts.model import Contact
    from distrib.release import Release

__all__ = ["TEMPLATE_FILES", "RenderedMessage", "Renderer", "default_templates_dir"]

# What every language folder holds: templates/<lang>/<file>.
TEMPLATE_FILES = ("subject.txt", "message.txt", "message.html")
_MESSAGE_ID = re.compile(r"<[^<>@\s]+@[^<>@\s]+>")


def default_templates_dir() -> Path:
    """Return the built-in templates: ``distrib/_templates`` in a wheel, else the repo's folder."""
    packaged = Path(distrib.__file__).parent / "_templates"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "templates"


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    """One message, ready for SMTP: ``data`` is the whole message with CRLF line endings."""

    contact: Contact
    language: Language
    subject: str
    message_id: str
    envelope_from: str
    recipient: str
    data: bytes
    html: str
    text: str
    content_hash: str

    @property
    def size(self) -> int:
        """The size of the message in bytes, as the SMTP server will count it."""
        return len(self.data)


@dataclass(frozen=True, slots=True)
class _Templates:
    subject: Template
    text: Template
    html: Template


def ascii_address(address: str) -> str:
    """Return ``address`` with its domain as an IDNA A-label; raise ValueError if it cannot be."""
    local, _, domain = address.rpartition("@")
    if not local.isascii():
        raise ValueError(f"{address!r} has a non-ASCII local part (SMTPUTF8 is not supported)")
    try:
        return f"{local}@{domain.encode('idna').decode('ascii')}"
    except UnicodeError as exc:
        raise ValueError(f"{address!r} has a domain that cannot be encoded: {exc}") from None


def list_unsubscribe(sender: SenderConfig) -> str:
    """Return the List-Unsubscribe value: the https URL first if any, then the mailto URI."""
    uris = [f"mailto:{ascii_address(sender.unsubscribe_address)}?subject=unsubscribe"]
    if sender.unsubscribe_url is not None:
        url = sender.unsubscribe_url
        if not url.isascii() or re.search(r"[\s<>\"]", url):
            raise ValueError(
                f"{url!r} must be ASCII without spaces, quotes or <>; percent-encode it"
            )
        uris.insert(0, url)
    return ", ".join(f"<{uri}>" for uri in uris)


class Renderer:
    """Render every contact's message from one campaign's templates and release.

    Templates are loaded and compiled here, once; a template that does not load or compile,
    or that extends or includes one that does not exist, is reported now (all of them, in one
    `RenderError`) rather than once per contact.
    """

    def __init__(
        self, campaign: Campaign, release: Release, templates_dir: Path | None = None
    ) -> None:
        self.campaign = campaign
        self.release = release
        folder = templates_dir or campaign.templates or default_templates_dir()
        self.templates_dir = folder.resolve()
        self._html_env, self._text_env = make_environments(self.templates_dir)
        self._templates: dict[Language, _Templates] = {}
        self._missing: dict[Language, str] = {}
        self._from = self._list_unsubscribe = ""
        self._reply_to: str | None = None
        problems = self._check_sender()
        if not self.templates_dir.is_dir():
            where = Location(display_path(self.templates_dir))
            problems.append(Problem("templates folder not found", where, "template"))
        else:
            problems.extend(self._compile_all())
        if problems:
            raise RenderError(
                problems, f"the templates in {display_path(self.templates_dir)} cannot be used"
            )
        self._collect_languages()

    def _check_sender(self) -> list[Problem]:
        """Check the sender values that become header values, once for the whole campaign."""
        sender = self.campaign.sender
        where = Location(display_path(self.campaign.file))
        problems = []
        try:
            self._list_unsubscribe = list_unsubscribe(sender)
            self._from = ascii_address(sender.address)
            self._reply_to = ascii_address(sender.reply_to) if sender.reply_to else None
        except ValueError as exc:
            problems.append(Problem(f"sender: {exc}", where, "sender"))
        return problems

    def _environment(self, name: str) -> Environment:
        return self._html_env if name.endswith(".html") else self._text_env

    def _compile_all(self) -> list[Problem]:
        """Compile every .html and .txt template in the folder, and check what they reference."""
        problems: list[Problem] = []
        names = self._text_env.list_templates(filter_func=lambda n: n.endswith((".html", ".txt")))
        for name in names:
            problem = self._compile(name, set(names))
            if problem is not None:
                problems.append(problem)
        return problems

    def _compile(self, name: str, available: set[str]) -> Problem | None:
        environment = self._environment(name)
        where = Location(display_path(self.templates_dir / name))
        try:
            source = self.templates_dir.joinpath(name).read_text(encoding="utf-8")
            environment.get_template(name)
        except UnicodeDecodeError:
            return Problem(f"template {name}: not UTF-8 text", where, "template")
        except TemplateSyntaxError as exc:
            where = Location(where.path, exc.lineno)
            return Problem(f"template {name}: {exc.message}", where, "template")
        except (OSError, TemplateError) as exc:
            return Problem(f"template {name}: {exc}", where, "template")
        for reference in meta.find_referenced_templates(environment.parse(source)):
            if reference is not None and reference not in available:
                message = f"template {name}: refers to {reference!r}, which is not in the folder"
                return Problem(message, where, "template")
        return None

    def _collect_languages(self) -> None:
        """Keep the three templates of each language; a missing one fails only its contacts."""
        for lang in LANGUAGES:
            names = [f"{lang}/{file}" for file in TEMPLATE_FILES]
            absent = [n for n in names if not (self.templates_dir / n).is_file()]
            if absent:
                self._missing[lang] = ", ".join(absent)
                continue
            subject, text, html = (self._environment(n).get_template(n) for n in names)
            self._templates[lang] = _Templates(subject, text, html)

    def render(
        self, contact: Contact, *, message_id: str, date: datetime | None = None
    ) -> RenderedMessage:
        """Render ``contact``'s message; raise `RenderError` (nothing built) if it cannot be."""
        if not _MESSAGE_ID.fullmatch(message_id):
            raise ValueError(f"not a Message-ID: {message_id!r} (use make_message_id)")
        if date is None:
            date = datetime.now(UTC).astimezone()
        elif date.tzinfo is None or date.utcoffset() is None:
            raise ValueError("the Date of a message must be timezone-aware")
        where = contact.sources[0] if contact.sources else None
        templates, context = self._prepare(contact, where)
        problems: list[Problem] = []
        subject = self._run(templates.subject, context, problems, where).strip()
        text = self._run(templates.text, context, problems, where)
        html = self._run(templates.html, context, problems, where)
        if not problems and not subject:
            message = f"template {templates.subject.name}: the subject is empty"
            problems.append(Problem(message, where, "subject"))
        headers = self._headers(
            contact, subject, message_id=message_id, date=date, problems=problems, where=where
        )
        if problems or headers is None:
            raise RenderError(problems)
        try:
            data = build_message(headers, text, html)
        except (ValueError, MessageError) as exc:
            raise RenderError(
                [Problem(f"cannot build the message: {exc}", where, "message")]
            ) from None
        return RenderedMessage(
            contact=contact,
            language=contact.language,
            subject=subject,
            message_id=message_id,
            envelope_from=self._from,
            recipient=contact.address,
            data=data,
            html=html,
            text=text,
            content_hash=content_hash(subject, text, html),
        )

    def _prepare(
        self, contact: Contact, where: Location | None
    ) -> tuple[_Templates, dict[str, Any]]:
        """Return the contact's templates and context, or raise if the language is not covered."""
        lang = contact.language
        document = self.release.get(lang)
        if document is None:
            message = f"the release has no {lang}.md, which this contact's language ({lang}) needs"
            raise RenderError([Problem(message, where, "language")])
        templates = self._templates.get(lang)
        if templates is None:
            folder = display_path(self.templates_dir)
            message = (
                f"template {self._missing[lang]} not found in {folder} (needed for language {lang})"
            )
            raise RenderError([Problem(message, where, "template")])
        return templates, build_context(contact, document, self.campaign.sender)

    def _run(
        self,
        template: Template,
        context: dict[str, Any],
        problems: list[Problem],
        where: Location | None,
    ) -> str:
        """Render one template; on failure append a problem naming the template and return ''."""
        name = template.name
        try:
            return template.render(context)
        except UndefinedError as exc:
            message = f"template {name}: {exc.message}{self._origin(exc, name)}"
            problems.append(Problem(message, where, "undefined"))
        except TemplateError as exc:
            problems.append(
                Problem(f"template {name}: {exc}{self._origin(exc, name)}", where, "template")
            )
        except Exception as exc:  # a template is user code: never a traceback for its mistakes
            message = f"template {name}: {type(exc).__name__}: {exc}{self._origin(exc, name)}"
            problems.append(Problem(message, where, "template"))
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
        message_id: str,
        date: datetime,
        problems: list[Problem],
        where: Location | None,
    ) -> HeaderValues | None:
        """Check every header value (CVE-2024-6923) and return them, or None if one is unsafe."""
        sender = self.campaign.sender
        date_text = format_datetime(date)
        language_tag = LANGUAGE_TAGS[contact.language]
        values = [
            ("From", sender.name),
            ("From", self._from),
            ("To", contact.name),
            ("To", contact.address),
            ("Subject", subject),
            ("Date", date_text),
            ("Message-ID", message_id),
            ("Content-Language", language_tag),
            ("List-Unsubscribe", self._list_unsubscribe),
            ("Reply-To", self._reply_to or ""),
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
            return HeaderValues(
                sender=Address(display_name=sender.name, addr_spec=self._from),
                recipient=Address(display_name=contact.name, addr_spec=contact.address),
                subject=subject,
                date=date_text,
                message_id=message_id,
                content_language=language_tag,
                list_unsubscribe=self._list_unsubscribe,
                one_click=sender.unsubscribe_url is not None,
                reply_to=Address(addr_spec=self._reply_to) if self._reply_to else None,
            )
        except (ValueError, MessageError) as exc:
            problems.append(Problem(f"cannot use the address: {exc}", where, "header"))
            return None
