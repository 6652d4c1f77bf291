"""`import_release` on Word documents built here with python-docx, and on unsafe .docx files."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from distrib.importing import ReleaseImportError, import_release
from distrib.release import read_release
from import_helpers import NBSP, english_docx, french_docx, png_bytes

TORONTO = ZoneInfo("America/Toronto")

FRENCH = f"""---
title: 'Hiver en vitrine{NBSP}: 485{NBSP}000{NBSP}$ pour nos rues'
subject: 'Hiver en vitrine{NBSP}: 485{NBSP}000{NBSP}$ pour nos rues'
dateline: MONTRÉAL, le 4 novembre 2027 –
summary: Un programme pour animer les rues commerciales
about: |-
  ### À propos de l’AGAPC

  Fondée en 1987, l’AGAPC regroupe 240 commerces.
media_contact: |-
  **Renseignements :**\\
  Julien Ostiguy\\
  514 555-0142
---
L’Association dévoile « **Hiver en vitrine**{NBSP}», un programme de 485{NBSP}000{NBSP}$.

Le programme est *financé* par les membres.

## Ce que prévoit le programme

- Six haltes chauffées
- Le marché des Cèdres, chaque samedi
- Un passeport{NBSP}: dix commerces

| Poste | Montant |
|---|---|
| Haltes | 120{NBSP}000{NBSP}$ |
| Marché | 65{NBSP}000{NBSP}$ |

![](images/fr-1.png)

Programmation : [agapc.example/hiver](https://agapc.example/hiver)
"""


def test_french_docx_becomes_fr_md_with_its_parts(tmp_path: Path) -> None:
    image = png_bytes()
    source = french_docx(image=image).save(tmp_path / "communique.docx")
    target = tmp_path / "release"
    report = import_release([source], target=target, timezone=TORONTO)

    assert (target / "fr.md").read_text(encoding="utf-8") == FRENCH
    assert (target / "images" / "fr-1.png").read_bytes() == image
    assert [(w.path.name, w.action) for w in report.written] == [
        ("fr.md", "created"),
        ("fr-1.png", "created"),
    ]
    assert report.missing_languages == ("en",)
    document = report.documents[0]
    assert document.language == "fr"
    assert document.sections == ("Ce que prévoit le programme",)
    assert [str(n) for n in document.dropped] == [
        "label line (distrib adds its own label): Pour diffusion immédiate",
        "end mark (distrib adds the language's own): – 30 –",
    ]
    assert document.warnings == ()  # the table is a table in the message now
    # What send will read: the title with its " : " intact, the subtitle as the summary (the
    # inbox preheader), the image shown in place (an inline part), the table a table.
    release = read_release(target, domain="agapc.example")
    fr = release.documents["fr"]
    assert fr.title == f"Hiver en vitrine{NBSP}: 485{NBSP}000{NBSP}$ pour nos rues"
    assert fr.subject == fr.title
    assert fr.summary == "Un programme pour animer les rues commerciales"
    assert fr.attachments == ()
    [shown] = fr.images
    assert shown.name == "images/fr-1.png" and shown.data == image
    assert f'<img src="cid:{shown.content_id}" alt=""' in fr.body_html
    assert "<li>Six haltes chauffées</li>" in fr.body_html
    assert "<td " in fr.body_html and f"120{NBSP}000{NBSP}$</td>" in fr.body_html
    assert f"Haltes  120{NBSP}000{NBSP}$" in fr.body_text
    assert fr.about_text.startswith("À propos de l’AGAPC")
    assert not fr.has_end_mark  # distrib adds « – 30 » itself


def test_english_docx_detects_its_language(tmp_path: Path) -> None:
    source = english_docx().save(tmp_path / "release.docx")
    report = import_release([source], target=tmp_path / "r", timezone=TORONTO)
    document = report.documents[0]
    assert document.language == "en"
    assert document.language_reason.startswith("detected: ")
    assert (tmp_path / "r" / "en.md").read_text(encoding="utf-8") == (
        "---\n"
        "title: 'Winter Storefronts: $485,000 for our streets'\n"
        "subject: 'Winter Storefronts: $485,000 for our streets'\n"
        "dateline: MONTRÉAL, November 4, 2027 —\n"
        "about: |-\n"
        "  ### About the AGAPC\n"
        "\n"
        "  Founded in 1987, the AGAPC brings together 240 businesses.\n"
        "media_contact: 'Media contact: Julien Ostiguy, 514 555-0142'\n"
        "---\n"
        "The Business Association today unveiled Winter Storefronts.\n"
        "\n"
        "## What the program includes\n"
        "\n"
        "- Six heated rest stops\n"
        "- The Cèdres Market, every Saturday\n"
    )
    assert read_release(tmp_path / "r").languages == ("en",)


def test_tracked_changes_are_left_out_and_comments_never_read(tmp_path: Path) -> None:
    source = french_docx(tracked=True).save(tmp_path / "relu.docx")
    # The document really holds the pending changes and the comment.
    with zipfile.ZipFile(source) as archive:
        xml = archive.read("word/document.xml").decode()
        assert "<w:ins " in xml and "<w:del " in xml and "commentReference" in xml
        assert "Vérifier ce chiffre" in archive.read("word/comments.xml").decode()
    report = import_release([source], target=tmp_path / "r", timezone=TORONTO)
    text = (tmp_path / "r" / "fr.md").read_text(encoding="utf-8")
    # The text as accepted so far: the pending deletion stays, the pending insertion does not.
    assert "Le programme est *financé* par les membres et des partenaires.\n" in text
    assert "la Ville" not in text
    assert "Vérifier" not in text and "Relecteur" not in text
    assert report.documents[0].warnings[0] == (
        "2 unaccepted tracked change(s): the text imported is the text without them"
        " (insertions left out, deletions kept); accept or reject them in Word, then import"
        " again"
    )


def _zip(members: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _docx_members(tmp_path: Path) -> dict[str, bytes]:
    source = english_docx().save(tmp_path / "base.docx")
    with zipfile.ZipFile(source) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[bytes, str]]:
    members = _docx_members(tmp_path)
    docm = dict(members)
    docm["[Content_Types].xml"] = members["[Content_Types].xml"].replace(
        b"document.main+xml", b"document.macroEnabled.main+xml"
    )
    bomb = dict(members)
    bomb["word/media/filler.bin"] = b"\0" * 20_000_000
    entity = dict(members)
    entity["word/document.xml"] = (
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">]>'
        + members["word/document.xml"].split(b"?>", 1)[1]
    )
    return {
        "encrypted.docx": (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600,
            "the document is encrypted (password-protected) or is an old .doc",
        ),
        "corrupt.docx": (b"PK\x03\x04 this is not really a zip", "not a Word .docx file"),
        "renamed-docm.docx": (_zip(docm), "a macro-enabled Word document (.docm)"),
        "bomb.docx": (_zip(bomb), "'word/media/filler.bin' would expand to 20,000,000 bytes"),
        "entities.docx": (_zip(entity), "word/document.xml: holds a DTD or entities"),
        "macros.docm": (_zip(members), "a macro-enabled Word document (.docm)"),
        "notes.odt": (b"PK", "OpenDocument (.odt) is not imported"),
    }


@pytest.mark.parametrize(
    "name",
    [
        "encrypted.docx",
        "corrupt.docx",
        "renamed-docm.docx",
        "bomb.docx",
        "entities.docx",
        "macros.docm",
        "notes.odt",
    ],
)
def test_unsafe_or_unusable_files_are_refused_naming_the_file(tmp_path: Path, name: str) -> None:
    data, reason = _bad_inputs(tmp_path)[name]
    path = tmp_path / name
    path.write_bytes(data)
    target = tmp_path / "release"
    with pytest.raises(ReleaseImportError) as info:
        import_release([path], target=target, timezone=TORONTO)
    problems = [str(p) for p in info.value.problems]
    assert len(problems) == 1
    assert problems[0].startswith(f"{path}: {reason}"), problems[0]
    assert not target.exists()  # nothing written


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    source = french_docx(image=png_bytes(64, 64)).save(tmp_path / "gros.docx")
    size = source.stat().st_size
    with pytest.raises(ReleaseImportError) as info:
        import_release([source], target=tmp_path / "r", timezone=TORONTO, max_mb=size / 2e6)
    assert str(info.value.problems[0]).startswith(f"{source}: ")
    assert "MB import limit" in str(info.value.problems[0])


def test_every_bad_file_is_listed_and_nothing_is_written(tmp_path: Path) -> None:
    good = english_docx().save(tmp_path / "good.docx")
    bad = tmp_path / "bad.docx"
    bad.write_bytes(b"not a zip")
    odt = tmp_path / "old.odt"
    odt.write_bytes(b"PK")
    with pytest.raises(ReleaseImportError) as info:
        import_release([good, bad, odt], target=tmp_path / "r", timezone=TORONTO)
    assert [p.where.path for p in info.value.problems if p.where] == [str(bad), str(odt)]
    assert not (tmp_path / "r").exists()
