"""A campaign for preview tests: every kind of message, one attachment, one failing contact."""

from __future__ import annotations

import shutil
from pathlib import Path

from campaign_helpers import REPO, CampaignFiles, write_campaign
from distrib.app import collect_preview
from distrib.config import load_campaign
from distrib.preview import PreviewSet

ATTACHMENT = b"%PDF-1.4\nfiche technique\n"


def write_preview_campaign(folder: Path, port: int = 2525) -> CampaignFiles:
    """The messy bilingual campaign, plus a bilingual contact, an attachment and a contact
    whose outlet override uses a field nobody has (so its message cannot be rendered)."""
    templates = folder / "templates"
    shutil.copytree(REPO / "templates", templates)
    override = templates / "outlets" / "radio-test" / "fr"
    override.mkdir(parents=True)
    (override / "subject.txt").write_text("{{ contact.rubrique }}\n", encoding="utf-8")
    unused = templates / "outlets" / "nulle-part" / "en"  # no contact's outlet: a warning
    unused.mkdir(parents=True)
    (unused / "subject.txt").write_text("{{ release.subject }}\n", encoding="utf-8")
    files = write_campaign(folder / "c", port=port, templates=templates)
    with (files.folder / "medias.csv").open("ab") as csv:
        csv.write("lea@deuxrives.example;Léa;Roy;Les Deux Rives;bilingue\n".encode("cp1252"))
        csv.write("remi@radiotest.example;Rémi;Paré;Radio Test;fr\n".encode("cp1252"))
    release = files.folder / "release"
    (release / "fiche.pdf").write_bytes(ATTACHMENT)
    text = (release / "fr.md").read_text(encoding="utf-8")
    (release / "fr.md").write_text(
        text.replace("---\n", "---\nattachments: [fiche.pdf]\n", 1), encoding="utf-8"
    )
    return files


def preview_set(folder: Path) -> PreviewSet:
    """Collect the preview of `write_preview_campaign`."""
    return collect_preview(load_campaign(write_preview_campaign(folder).campaign))
