"""Source formats beyond plain CSV: UTF-16, pipes, mojibake, workbooks (all sheets, ODS,
formulas, errors, bombs, limits), vCard, repeated headers and total rows."""

from __future__ import annotations

import zipfile
from pathlib import Path

import openpyxl
import pytest

from contacts_helpers import load, write_csv, write_ods, write_xlsx
from distrib.config import SourceConfig
from distrib.contacts import Limits, read_contacts, read_table
from distrib.contacts.workbook import cell_text
from distrib.errors import ContactsError

HEADER = ["Courriel", "Prénom", "Nom", "Média"]
ZOE = ["zoe@courrier.example", "Zoé", "Gagnon", "Le Courrier du Fleuve"]
LUC = ["luc@radio.example", "Luc", "Roy", "Radio Boréale"]


@pytest.fixture(autouse=True)
def _here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def test_excel_unicode_text_is_utf16_with_tabs(tmp_path: Path) -> None:
    # What Excel's "Unicode text" writes: UTF-16 LE with a BOM, tab-separated, CRLF.
    path = write_csv(tmp_path / "l.txt", [HEADER, ZOE], encoding="utf-16", delimiter="\t",
                     newline="\r\n")  # fmt: skip
    book = load(path)
    assert (book.sources[0].encoding, book.sources[0].encoding_basis) == ("utf-16", "bom")
    assert book.sources[0].delimiter == "\t"
    assert book.contacts[0].first_name == "Zoé"


def test_utf16_without_bom_is_recognised(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "l.txt", [HEADER, ZOE], encoding="utf-16-le", delimiter="\t")
    book = load(path)
    assert (book.sources[0].encoding, book.sources[0].encoding_basis) == ("utf-16-le", "utf-16")
    assert book.contacts[0].outlet == "Le Courrier du Fleuve"


def test_encoding_basis_is_reported(tmp_path: Path) -> None:
    utf8 = write_csv(tmp_path / "a.csv", [HEADER, ZOE])
    cp1252 = write_csv(tmp_path / "b.csv", [HEADER, LUC], encoding="cp1252")
    forced = SourceConfig(path=write_csv(tmp_path / "c.csv", [HEADER]), encoding="latin-1")
    book = load(utf8, cp1252, forced)
    assert [(s.encoding, s.encoding_basis) for s in book.sources] == [
        ("utf-8", "utf-8"),
        ("cp1252", "fallback"),
        ("latin-1", "campaign"),
    ]


def test_pipe_delimiter(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "l.csv", [HEADER, ZOE, LUC], delimiter="|")
    book = load(path)
    assert book.sources[0].delimiter == "|"
    assert [c.last_name for c in book.contacts] == ["Gagnon", "Roy"]


def test_mojibake_in_a_utf8_file_is_rejected_not_imported(tmp_path: Path) -> None:
    # A file converted twice: valid UTF-8, but one name holds "Ã©" and one outlet "â€™".
    rows = [HEADER, ["zoe@c.example", "ZoÃ©", "Gagnon", ""],
            ["luc@c.example", "Luc", "Roy", "Lâ€™Écho"], LUC,
            ["ana@c.example", "Ana", "Ãlvarez", "Le Monde à l'envers"]]  # fmt: skip
    book = load(write_csv(tmp_path / "l.csv", rows))
    assert [c.address for c in book.contacts] == ["luc@radio.example", "ana@c.example"]
    assert [(str(p.where), p.code) for p in book.rejected] == [
        ("l.csv:2:Prénom", "mojibake"),
        ("l.csv:3:Média", "mojibake"),
    ]
    assert "'â€™' would be '’'" in book.rejected[1].message
    assert "converted twice" in book.rejected[0].message
    assert book.adds_up


def test_xlsx_all_sheets_and_listed_sheets(tmp_path: Path) -> None:
    path = tmp_path / "l.xlsx"
    book = openpyxl.Workbook()
    first = book.active
    assert first is not None
    first.title = "Montréal"
    for row in (HEADER, ZOE):
        first.append(row)
    book.create_sheet("Vide")
    book.create_chartsheet("Graphique")  # no cells: never read
    second = book.create_sheet("Québec")
    for row in (["Email", "First name"], LUC, ["ZOE@courrier.example", "Z"]):
        second.append(row)
    book.save(path)
    merged = load(SourceConfig(path=path, sheet="*"))
    assert [s.sheet for s in merged.sources] == ["Montréal", "Québec"]
    assert [(s.rows, s.accepted, s.duplicates) for s in merged.sources] == [(1, 1, 0), (2, 1, 1)]
    assert [str(w) for w in merged.warnings if w.code == "blank-sheet"] == [
        "l.xlsx:Vide: blank sheet; nothing to read"
    ]
    zoe = merged.contacts[0]
    assert [str(loc) for loc in zoe.sources] == ["l.xlsx:Montréal:2", "l.xlsx:Québec:3"]
    listed = load(SourceConfig(path=path, sheet=("Québec", "Montréal")))
    assert [c.address for c in listed.contacts] == ["luc@radio.example", "ZOE@courrier.example"]


def test_all_sheets_rejects_a_sheet_without_address_column(tmp_path: Path) -> None:
    path = tmp_path / "l.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER)
    sheet.append(ZOE)
    notes = book.create_sheet("Notes")
    notes.append(["Mise à jour", "2026-11-01"])
    book.save(path)
    with pytest.raises(ContactsError) as caught:
        load(SourceConfig(path=path, sheet="*"))
    (problem,) = caught.value.problems
    assert str(problem.where) == "l.xlsx:Notes"
    assert "headers found: 'Mise à jour', '2026-11-01'" in problem.message


def test_ods_sheet(tmp_path: Path) -> None:
    path = write_ods(tmp_path / "l.ods", {"Médias": [HEADER, ZOE, ["", "", "", ""], LUC]})
    book = load(path)
    assert [c.first_name for c in book.contacts] == ["Zoé", "Luc"]
    assert book.sources[0].sheet == "Médias"
    assert [str(loc) for loc in book.contacts[1].sources] == ["l.ods:Médias:4"]
    assert book.sources[0].blank_rows == 1


def test_ods_formula_without_a_value_is_reported(tmp_path: Path) -> None:
    path = write_ods(tmp_path / "l.ods", {"S": [HEADER, ZOE, [*LUC[:3], "of:=CONCATENATE([.A2])"]]})
    book = load(path)
    assert [c.first_name for c in book.contacts] == ["Zoé"]
    (problem,) = book.rejected
    assert (str(problem.where), problem.code) == ("l.ods:S:3:Média", "formula")
    assert "=CONCATENATE([.A2]) in column Média has no saved value" in problem.message


def test_xlsx_formula_without_cached_value_is_reported_not_blank(tmp_path: Path) -> None:
    # openpyxl writes formulas without the value Excel would have saved beside them.
    path = tmp_path / "l.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in (HEADER, ZOE, LUC):
        sheet.append(row)
    sheet["D3"] = '=CONCATENATE("Radio", " Est")'
    book.save(path)
    merged = load(path)
    assert [c.first_name for c in merged.contacts] == ["Zoé"]
    (problem,) = merged.rejected
    assert (str(problem.where), problem.code) == ("l.xlsx:Sheet:3:Média", "formula")
    assert 'formula =CONCATENATE("Radio", " Est") in column Média has no saved value' in (
        problem.message
    )


def test_xlsx_error_cells_keep_their_text(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "l.xlsx", [["Email", "Note"], ["a@b.example", "x"]])
    _patch_sheet(path, b'<c r="B2" t="inlineStr"><is><t>x</t></is></c>',
                 b'<c r="B2" t="e"><v>#N/A</v></c>')  # fmt: skip
    (contact,) = load(path).contacts
    assert contact.fields["note"] == "#N/A"


def _patch_sheet(path: Path, old: bytes, new: bytes) -> None:
    """Replace bytes in the first worksheet of an XLSX file."""
    with zipfile.ZipFile(path) as archive:
        members = {i.filename: archive.read(i) for i in archive.infolist()}
    sheet = "xl/worksheets/sheet1.xml"
    assert old in members[sheet], members[sheet][:600]
    members[sheet] = members[sheet].replace(old, new)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_xlsx_entity_bomb_is_refused(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "bomb.xlsx", [["Email"], ["a@b.example"]])
    lol = "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    bomb = f'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol0 "lol">{lol}]>'.encode()
    with zipfile.ZipFile(path) as archive:
        members = {i.filename: archive.read(i) for i in archive.infolist()}
    sheet = members["xl/worksheets/sheet1.xml"]
    members["xl/worksheets/sheet1.xml"] = bomb + sheet[sheet.index(b"<worksheet") :].replace(
        b"a@b.example", b"&lol9;"
    )
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(ContactsError) as caught:
        load(path)
    (problem,) = caught.value.problems
    assert problem.code == "unsafe-xml"
    assert "declares XML entities" in problem.message
    # Behind that check, the sheet XML is only ever parsed with defusedxml, which refuses the
    # entities too; and openpyxl (exports) uses defusedxml because it is installed.
    from defusedxml import EntitiesForbidden

    from distrib.contacts.workbook import _xlsx_notes

    with zipfile.ZipFile(path) as archive, pytest.raises(EntitiesForbidden):
        list(_xlsx_notes(archive, "xl/worksheets/sheet1.xml"))
    assert openpyxl.xml.DEFUSEDXML is True


def test_zip_bomb_and_file_size_limits(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "big.xlsx", [["Email", "Note"], ["a@b.example", "x" * 50_000]])
    small = Limits(max_file_bytes=1 << 20, max_unpacked_bytes=40_000)
    with pytest.raises(ContactsError, match=r"unpacks to more than 0 MB; refused \(zip bomb\?\)"):
        read_contacts([SourceConfig(path=path)], limits=small)
    csv = write_csv(tmp_path / "big.csv", [["Email"], ["a@b.example"]] * 1000)
    with pytest.raises(ContactsError, match=r"big\.csv: the file is 0\.0 MB, over the 0 MB limit"):
        read_contacts([SourceConfig(path=csv)], limits=Limits(max_file_bytes=1000))


def test_cell_size_limit_rejects_the_row(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "l.csv", [["Email", "Note"], ["a@b.example", "x" * 101],
                                          ["c@d.example", "court"]])  # fmt: skip
    book = read_contacts([SourceConfig(path=path)], limits=Limits(max_cell_chars=100))
    assert [c.address for c in book.contacts] == ["c@d.example"]
    (problem,) = book.rejected
    assert (str(problem.where), problem.code) == ("l.csv:2:Note", "cell-too-long")
    assert problem.message == "cell longer than 100 characters in column Note"


def test_calamine_reads_cells_as_openpyxl_does(tmp_path: Path) -> None:
    import datetime as dt

    rows = [
        ["Email", "Int", "Float", "Date", "Datetime", "Bool", "Time", "Zero", "Text"],
        ["a@b.example", 612345678, 1.5, dt.date(2024, 3, 4), dt.datetime(2024, 1, 2, 10, 5),
         True, dt.time(10, 30), "0612345678", "NA"],
        ["c@d.example", 3.0, -2.25, dt.datetime(2024, 1, 2), None, False, None, None, "=1+2"],
    ]  # fmt: skip
    path = write_xlsx(tmp_path / "l.xlsx", rows)
    ours = read_table(path).frame.values.tolist()
    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    theirs = [[cell_text(v) for v in row] for row in book.worksheets[0].iter_rows(values_only=True)]
    book.close()
    assert ours == theirs


def test_vcard(tmp_path: Path) -> None:
    path = tmp_path / "carnet.vcf"
    path.write_text(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Zoé Gagnon\r\nN:Gagnon;Zoé;;;\r\n"
        "EMAIL;TYPE=INTERNET:zoe.perso@maison.example\r\n"
        "EMAIL;TYPE=INTERNET,WORK,PREF:zoe@courrier.example\r\n"
        "ORG:Le Courrier du Fleuve;Culture\r\nTITLE:Journaliste\r\nTEL:0612345678\r\n"
        "ADR;TYPE=WORK:;;1 rue du Port;Québec;QC;G1K;Canada\r\nLANG:fr-CA\r\nEND:VCARD\r\n"
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Luc Roy\r\nthis line is broken\r\nEND:VCARD\r\n"
        "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Sam Okafor\r\nEMAIL:sam@river.example\r\n"
        "LANG:en\r\nEND:VCARD\r\n",
        encoding="utf-8",
    )
    book = load(path)
    zoe, sam = book.contacts
    assert (zoe.address, zoe.first_name, zoe.last_name, zoe.outlet) == (
        "zoe@courrier.example", "Zoé", "Gagnon", "Le Courrier du Fleuve",
    )  # fmt: skip
    assert zoe.language == "fr" and sam.language == "en"
    assert zoe.fields["phone"] == "0612345678" and zoe.fields["city"] == "Québec"
    assert zoe.fields["other_emails"] == "zoe.perso@maison.example"
    assert [str(loc) for loc in zoe.sources] == ["carnet.vcf:1"]
    assert [str(loc) for loc in sam.sources] == ["carnet.vcf:18"]
    (broken,) = book.rejected
    assert (str(broken.where), broken.code) == ("carnet.vcf:13", "unreadable")
    assert broken.message.startswith("this card cannot be read")
    assert book.adds_up and book.sources[0].rows == 3


def test_repeated_headers_and_total_rows_are_skipped_and_reported(tmp_path: Path) -> None:
    rows = [HEADER, ZOE, ["COURRIEL", "prénom", "Nom", "Média"], LUC,
            ["Total", "", "", "2"], ["", "", "", ""], ["Sous-total : 2", "", "", ""]]  # fmt: skip
    book = load(write_csv(tmp_path / "l.csv", rows))
    (summary,) = book.sources
    assert (summary.rows, summary.accepted, summary.header_rows, summary.total_rows) == (2, 2, 1, 2)
    assert summary.blank_rows == 1
    assert [
        (str(w.where), w.code) for w in book.warnings if w.code in ("repeated-header", "total-row")
    ] == [
        ("l.csv:3", "repeated-header"),
        ("l.csv:5", "total-row"),
        ("l.csv:7", "total-row"),
    ]
    assert book.rejected == () and book.adds_up
