"""Builders shared by the release, render and preview tests: campaigns, contacts, releases."""

from __future__ import annotations

import email
import email.policy
import os
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from distrib.config import Campaign
from distrib.contacts.model import Contact
from distrib.errors import Location

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_RELEASE = REPO / "example" / "releases" / "2027-11-hiver-en-vitrine"
DATE = datetime(2027, 11, 4, 9, 0, tzinfo=UTC)


def corpus_size(explore: int, ci: int) -> int:
    """How many examples a seeded corpus test compares: ``ci`` in `make test` (Hypothesis's
    default "ci" profile, a fixed set), ``explore`` in `make fuzz` (HYPOTHESIS_PROFILE=explore).
    The first ``ci`` examples of a seed are the same in both: `make fuzz` goes on with more."""
    return explore if os.environ.get("HYPOTHESIS_PROFILE") == "explore" else ci


#: The unsubscribe-token secret tests put in DISTRIB_UNSUBSCRIBE_SECRET.
SECRET = "test-secret-0123456789abcdef"

SENDER: dict[str, Any] = {
    "name": "Service de presse AGAPC",
    "address": "presse@agapc.example",
    "reply_to": "relations.medias@agapc.example",
    "organisation": "Association des gens d'affaires de la Pointe-aux-Cèdres",
    "postal_address": "1200, rue des Cèdres, bureau 300, Montréal (Québec)  H9Z 1A1",
    "contact": "514 555-0142",
    "website": "https://agapc.example",
}

FR_FRONT = (
    "title: Lancement d’« Hiver en vitrine »\n"
    'subject: "Communiqué : « Hiver en vitrine » à la Pointe-aux-Cèdres"\n'
    "dateline: MONTRÉAL, le 4 novembre 2027 –\n"
)
EN_FRONT = (
    "title: Winter Storefronts launch\n"
    "subject: News release – Winter Storefronts in Pointe-aux-Cèdres\n"
    "dateline: MONTRÉAL, November 4, 2027 –\n"
)


def write_document(folder: Path, lang: str, front: str, body: str = "Le **texte**.\n") -> Path:
    """Write ``folder/<lang>.md`` with the given front matter (without the ``---`` lines)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{lang}.md"
    path.write_text(f"---\n{front}---\n{body}", encoding="utf-8")
    return path


def write_release(
    folder: Path, *, fr_body: str = "Le **texte**.\n", en_body: str = "The **text**.\n"
) -> Path:
    """Write a small valid two-language release into ``folder``."""
    write_document(folder, "fr", FR_FRONT, fr_body)
    write_document(folder, "en", EN_FRONT, en_body)
    return folder


def write_templates(folder: Path, files: dict[str, str]) -> Path:
    """Write a templates folder from ``{relative name: source}``."""
    for name, source in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    return folder


def simple_templates(
    *,
    subject: str = "{{ release.subject }}\n",
    text: str = "{{ release.body_text }}\n",
    html: str = "{{ release.body_html }}\n",
) -> dict[str, str]:
    """Return minimal templates for both languages, overriding any of the three files."""
    files = {}
    for lang in ("fr", "en"):
        files[f"{lang}/subject.txt"] = subject
        files[f"{lang}/message.txt"] = text
        files[f"{lang}/message.html"] = html
    return files


CAMPAIGN_KEYS = (
    "bilingual_order", "fallback_language", "outlets", "max_attachments_mb", "dkim", "press",
)  # fmt: skip


def make_campaign(
    tmp_path: Path, *, release: Path | None = None, templates: Path | None = None, **sender: Any
) -> Campaign:
    """Build a validated `Campaign`; keyword arguments in CAMPAIGN_KEYS are campaign keys, the
    others sender keys."""
    keys = {k: sender.pop(k) for k in CAMPAIGN_KEYS if k in sender}
    return _make_campaign(tmp_path, release=release, templates=templates, keys=keys, **sender)


def _make_campaign(
    tmp_path: Path,
    *,
    release: Path | None,
    templates: Path | None,
    keys: dict[str, Any],
    **sender: Any,
) -> Campaign:
    """Build a validated `Campaign` in ``tmp_path`` (a contact CSV and a release if not given)."""
    (tmp_path / "contacts.csv").write_text("email\nzoe@exemple.ca\n", encoding="utf-8")
    if release is None:
        release = write_release(tmp_path / "release")
    data: dict[str, Any] = {
        "file": tmp_path / "campaign.toml",
        "name": "test",
        "release": str(release),
        "sources": ["contacts.csv"],
        "sender": {**SENDER, **sender},
    }
    if templates is not None:
        data["templates"] = str(templates)
    data.update(keys)
    return Campaign.model_validate(data, context={"base": tmp_path})


def make_contact(**overrides: Any) -> Contact:
    """Return Zoé Bélanger of Le Devoir (French), with any field overridden."""
    values: dict[str, Any] = {
        "email": "Zoe.Belanger@Exemple.ca",
        "address": "Zoe.Belanger@exemple.ca",
        "key": "zoe.belanger@exemple.ca",
        "language": "fr",
        "first_name": "Zoé",
        "last_name": "Bélanger",
        "outlet": "Le Devoir",
        "outlet_slug": "le-devoir",
        "fields": {"beat": "Économie", "email": "Zoe.Belanger@Exemple.ca"},
        "sources": (Location("contacts.csv", 2),),
    }
    values.update(overrides)
    return Contact(**values)


def parse(data: bytes) -> EmailMessage:
    """Parse message bytes the way a modern reader does."""
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def parts(message: EmailMessage) -> tuple[str, str]:
    """Return the decoded (text, html) parts, checking their order and types."""
    assert message.get_content_type() == "multipart/alternative"
    children = list(message.iter_parts())
    assert [p.get_content_type() for p in children] == ["text/plain", "text/html"]
    for child in children:
        assert child.get_content_charset() == "utf-8"
    text, html = (str(p.get_content()) for p in children)
    return text.replace("\r\n", "\n"), html.replace("\r\n", "\n")
