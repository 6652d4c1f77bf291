"""Build the documents the import tests read: .docx files with python-docx, PNG bytes by hand.

Everything is made here, in the test run: no sample file is shipped.  python-docx has no API for
hyperlinks, tracked changes or comments, so those are added as WordprocessingML elements.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

from docx import Document
from docx.document import Document as DocumentObject
from docx.opc.constants import RELATIONSHIP_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Inches
from docx.text.paragraph import Paragraph

NBSP = "\u00a0"
NNBSP = "\u202f"


def png_bytes(width: int = 4, height: int = 3, rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A valid RGB PNG of one colour, written by hand (zlib + CRCs)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    row = b"\x00" + bytes(rgb) * width
    pixels = zlib.compress(row * height)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def add_hyperlink(paragraph: Paragraph, text: str, url: str) -> None:
    """Append a hyperlink run (w:hyperlink with an external relationship)."""
    rel_id = paragraph.part.relate_to(url, RELATIONSHIP_TYPE.HYPERLINK, is_external=True)
    link = OxmlElement("w:hyperlink")
    link.set(qn("r:id"), rel_id)
    run = OxmlElement("w:r")
    text_element = OxmlElement("w:t")
    text_element.text = text
    text_element.set(qn("xml:space"), "preserve")
    run.append(text_element)
    link.append(run)
    paragraph._p.append(link)


def _run(text: str, *, deleted: bool = False) -> OxmlElement:
    run = OxmlElement("w:r")
    element = OxmlElement("w:delText" if deleted else "w:t")
    element.text = text
    element.set(qn("xml:space"), "preserve")
    run.append(element)
    return run


def add_tracked_insertion(paragraph: Paragraph, text: str, change_id: int = 101) -> None:
    """Append a pending (unaccepted) insertion, as Word writes it with Track Changes on."""
    insertion = OxmlElement("w:ins")
    insertion.set(qn("w:id"), str(change_id))
    insertion.set(qn("w:author"), "Relecteur")
    insertion.set(qn("w:date"), "2027-11-01T10:00:00Z")
    insertion.append(_run(text))
    paragraph._p.append(insertion)


def add_tracked_deletion(paragraph: Paragraph, text: str, change_id: int = 102) -> None:
    """Append a pending (unaccepted) deletion: the text is still in the accepted document."""
    deletion = OxmlElement("w:del")
    deletion.set(qn("w:id"), str(change_id))
    deletion.set(qn("w:author"), "Relecteur")
    deletion.set(qn("w:date"), "2027-11-01T10:00:00Z")
    deletion.append(_run(text, deleted=True))
    paragraph._p.append(deletion)


def add_text(paragraph: Paragraph, text: str) -> None:
    """Append a plain run (python-docx's add_run, for symmetry with the helpers above)."""
    paragraph.add_run(text)


@dataclass
class DocxRelease:
    """A release built with python-docx; ``path`` once saved."""

    document: DocumentObject = field(default_factory=Document)

    def save(self, path: Path) -> Path:
        self.document.save(str(path))
        return path

    def to_bytes(self) -> bytes:
        buffer = BytesIO()
        self.document.save(buffer)
        return buffer.getvalue()


def french_docx(*, tracked: bool = False, image: bytes | None = None) -> DocxRelease:
    """The usual French release: Title, Subtitle, dateline, a list, a table, a link, an image."""
    built = DocxRelease()
    doc = built.document
    doc.add_paragraph("Pour diffusion immédiate")
    doc.add_paragraph(f"Hiver en vitrine{NBSP}: 485{NBSP}000{NBSP}$ pour nos rues", style="Title")
    doc.add_paragraph("Un programme pour animer les rues commerciales", style="Subtitle")
    first = doc.add_paragraph("MONTRÉAL, le 4 novembre 2027 – L’Association dévoile « ")
    bold = first.add_run("Hiver en vitrine")
    bold.bold = True
    first.add_run(f"{NBSP}», un programme de 485{NBSP}000{NBSP}$.")
    second = doc.add_paragraph("Le programme est ")
    italic = second.add_run("financé")
    italic.italic = True
    second.add_run(" par les membres")
    if tracked:
        add_tracked_deletion(second, " et des partenaires")
        add_tracked_insertion(second, " et la Ville")
    second.add_run(".")
    if tracked:
        doc.add_comment(italic, text="Vérifier ce chiffre avec la Ville", author="Relecteur")
    doc.add_heading("Ce que prévoit le programme", level=1)
    doc.add_paragraph("Six haltes chauffées", style="List Bullet")
    doc.add_paragraph("Le marché des Cèdres, chaque samedi", style="List Bullet")
    doc.add_paragraph(f"Un passeport{NBSP}: dix commerces", style="List Bullet")
    table = doc.add_table(rows=3, cols=2)
    for row, (item, amount) in enumerate(
        [
            ("Poste", "Montant"),
            ("Haltes", f"120{NBSP}000{NBSP}$"),
            ("Marché", f"65{NBSP}000{NBSP}$"),
        ]
    ):
        table.cell(row, 0).text = item
        table.cell(row, 1).text = amount
    if image is not None:
        doc.add_picture(BytesIO(image), width=Inches(1))
    link = doc.add_paragraph("Programmation : ")
    add_hyperlink(link, "agapc.example/hiver", "https://agapc.example/hiver")
    doc.add_heading("À propos de l’AGAPC", level=2)
    doc.add_paragraph("Fondée en 1987, l’AGAPC regroupe 240 commerces.")
    doc.add_paragraph("– 30 –")
    contact = doc.add_paragraph()
    contact.add_run("Renseignements :").bold = True
    doc.add_paragraph("Julien Ostiguy")
    doc.add_paragraph("514 555-0142")
    return built


def english_docx(*, image: bytes | None = None) -> DocxRelease:
    """The English counterpart, with the heading, the list and the image the e2e test checks."""
    built = DocxRelease()
    doc = built.document
    doc.add_paragraph("FOR IMMEDIATE RELEASE")
    doc.add_paragraph("Winter Storefronts: $485,000 for our streets", style="Title")
    doc.add_paragraph(
        "MONTRÉAL, November 4, 2027 — The Business Association today unveiled Winter Storefronts."
    )
    doc.add_heading("What the program includes", level=1)
    doc.add_paragraph("Six heated rest stops", style="List Bullet")
    doc.add_paragraph("The Cèdres Market, every Saturday", style="List Bullet")
    if image is not None:
        doc.add_picture(BytesIO(image), width=Inches(1))
    doc.add_heading("About the AGAPC", level=2)
    doc.add_paragraph("Founded in 1987, the AGAPC brings together 240 businesses.")
    doc.add_paragraph("-30-")
    doc.add_paragraph("Media contact: Julien Ostiguy, 514 555-0142")
    return built
