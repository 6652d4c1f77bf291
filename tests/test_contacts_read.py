"""Reading media lists: encodings, delimiters, XLSX, text kept as written, unusable files."""

from __future__ import annotations

from pathlib import Path

import pytest

from contacts_helpers import load, write_csv, write_xlsx
from distrib.config import SourceConfig
from distrib.contacts import read_source, read_table
from distrib.contacts.read import decode, sniff_delimiter
from distrib.errors import ContactsError

HEADER = ["Courriel", "Prénom", "Nom", "Média"]
ROW = ["zoe@courrier.example", "Zoé", "Gagnon", "Le Courrier du Fleuve"]


@pytest.fixture(autouse=True)
def _here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # display_path shows short, predictable paths


@pytest.mark.parametrize(
    ("encoding", "reported"),
    [
        ("utf-8", "utf-8"),
        ("utf-8-sig", "utf-8-sig"),
        ("cp1252", "cp1252"),
        ("utf-16", "utf-16"),
    ],
)
def test_encodings_are_detected(tmp_path: Path, encoding: str, reported: str) -> None:
    path = write_csv(tmp_path / "l.csv", [HEADER, ROW], encoding=encoding)
    table = read_source(SourceConfig(path=path))
    assert table.table.encoding == reported
    assert table.headers == tuple(HEADER)  # no "\ufeff" glued to the first header
    assert list(table.frame.loc[2]) == ROW
    book = load(path)
    assert book.contacts[0].first_name == "Zoé"
    assert book.sources[0].encoding == reported


def test_cp1252_only_when_utf8_fails(tmp_path: Path) -> None:
    text = "Courriel,Nom\nzoe@c.example,Zoé\n"
    assert decode(text.encode("utf-8")) == (text, "utf-8")
    assert decode(text.encode("cp1252")) == (text, "cp1252")


def test_given_encoding_is_honoured_and_mojibake_is_refused(tmp_path: Path) -> None:
    # UTF-8 bytes are also valid cp1252: only the configured encoding makes them read so, and
    # the "ZoÃ©" it gives is refused, never imported.
    path = write_csv(
        tmp_path / "l.csv", [["Email", "Surname"], ["z@c.example", "Zoé"], ["y@c.example", "Roy"]]
    )
    book = load(SourceConfig(path=path, encoding="cp1252"))
    assert [c.last_name for c in book.contacts] == ["Roy"]
    assert (book.sources[0].encoding, book.sources[0].encoding_basis) == ("cp1252", "campaign")
    (problem,) = book.rejected
    assert (str(problem.where), problem.code) == ("l.csv:2:Surname", "mojibake")
    assert "'ZoÃ©' in column Surname looks like UTF-8 read as Windows-1252" in problem.message
    assert "'Ã©' would be 'é'" in problem.message
    assert "check `encoding` for this source" in problem.message


def test_undecodable_bytes_are_a_contacts_error(tmp_path: Path) -> None:
    path = tmp_path / "l.csv"
    path.write_bytes(b"Courriel\nz\x81@c.example\n")  # 0x81 is undefined in cp1252
    with pytest.raises(ContactsError, match=r"l\.csv:2: cannot be read as UTF-8 or Windows-1252 "
                       r"\(byte 0x81 on line 2, offset 10\)"):  # fmt: skip
        read_table(path)


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiters_are_sniffed(tmp_path: Path, delimiter: str) -> None:
    path = write_csv(tmp_path / "l.csv", [HEADER, ROW, ROW], delimiter=delimiter)
    table = read_source(SourceConfig(path=path))
    assert table.table.delimiter == delimiter
    assert table.headers == tuple(HEADER)
    assert load(path).sources[0].delimiter == delimiter


def test_sniffing_prefers_consistent_field_counts() -> None:
    text = "Courriel;Nom\na@b.example;Tremblay, Marie\nc@d.example;Roy, Luc\n"
    assert sniff_delimiter(text) == ";"
    assert sniff_delimiter("Courriel\na@b.example\n") == ","


def test_given_delimiter_is_honoured(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "l.csv", [["Courriel;Nom", "x"], ["a@b.example;Roy", "y"]])
    table = read_source(SourceConfig(path=path, delimiter=";"))
    assert table.headers == ("Courriel", "Nom,x")


def test_cells_are_text_as_written(tmp_path: Path) -> None:
    rows = [
        ["Courriel", "Nom", "Téléphone", "Note", "Formule", "Date"],
        ["a@b.example", "NA", "0612345678", "Null", "=HYPERLINK(1)", "01/02/2024"],
        ["c@d.example", "None", "007", "nan", "+1 418", "-"],
    ]
    path = write_csv(tmp_path / "l.csv", rows)
    first, second = load(path).contacts
    assert first.fields["last_name"] == "NA"
    assert first.fields["phone"] == "0612345678"
    assert first.fields["note"] == "Null"
    assert first.fields["formule"] == "=HYPERLINK(1)"
    assert first.fields["date"] == "01/02/2024"
    assert (second.last_name, second.fields["phone"], second.fields["note"]) == (
        "None",
        "007",
        "nan",
    )
    assert second.fields["formule"] == "+1 418"


def test_xlsx_first_sheet_and_cell_types(tmp_path: Path) -> None:
    rows = [
        ["Email", "First name", "Phone", "Formula", "Ratio"],
        ["a@b.example", "Emma", "0612345678", "=1+2", 1.5],
        ["c@d.example", "Liam", 612345678, "@mention", 3.0],
    ]
    path = write_xlsx(tmp_path / "l.xlsx", rows, sheet="Médias")
    table = read_source(SourceConfig(path=path))
    assert table.table.sheet == "Médias"
    assert table.table.encoding is None and table.table.delimiter is None
    assert list(table.frame.loc[2]) == ["a@b.example", "Emma", "0612345678", "=1+2", "1.5"]
    assert list(table.frame.loc[3]) == ["c@d.example", "Liam", "612345678", "@mention", "3"]
    book = load(path)
    assert book.sources[0].sheet == "Médias"
    assert book.contacts[0].sources[0].sheet == "Médias"


def test_xlsx_named_sheet(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "l.xlsx", [HEADER, ROW], sheet="Contacts", first="Notes")
    book = load(SourceConfig(path=path, sheet="Contacts"))
    assert [c.address for c in book.contacts] == ["zoe@courrier.example"]
    with pytest.raises(ContactsError, match=r"no sheet named 'Absente' \(sheets: 'Notes', 'Con"):
        load(SourceConfig(path=path, sheet="Absente"))


def test_xlsx_blank_rows_keep_row_numbers(tmp_path: Path) -> None:
    rows = [HEADER, ROW, [None] * 4, ["bad", "", "", ""], [None] * 4]
    book = load(write_xlsx(tmp_path / "l.xlsx", rows))
    assert str(book.rejected[0].where) == "l.xlsx:Feuil1:4:Courriel"
    assert (book.sources[0].rows, book.sources[0].blank_rows) == (2, 1)


def test_csv_blank_lines_and_multiline_cells_keep_row_numbers(tmp_path: Path) -> None:
    text = 'Courriel,Nom\na@b.example,"Roy\nLuc"\n\n,,\nbad,X\n'
    path = tmp_path / "l.csv"
    path.write_text(text, encoding="utf-8")
    book = load(path)
    assert [str(p.where) for p in book.rejected] == ["l.csv:2:Nom", "l.csv:5:Courriel"]
    assert (book.sources[0].rows, book.sources[0].blank_rows) == (2, 2)


def test_header_below_a_title_row(tmp_path: Path) -> None:
    rows = [["Liste des médias 2024", "", "", ""], ["", "", "", ""], HEADER, ROW]
    book = load(write_csv(tmp_path / "l.csv", rows))
    assert book.contacts[0].sources[0].row == 4
    (warning,) = [w for w in book.warnings if w.code == "header-row"]
    assert "header is on row 3" in warning.message
    assert str(warning.where) == "l.csv:3"


def test_overflowing_csv_row_is_rejected(tmp_path: Path) -> None:
    rows = [["Courriel", "Nom"], ["a@b.example", "Roy"], ["c@d.example", "Tremblay", "Marie"]]
    book = load(write_csv(tmp_path / "l.csv", rows))
    assert [c.address for c in book.contacts] == ["a@b.example"]
    assert [(p.code, p.where.row if p.where else None) for p in book.rejected] == [("overflow", 3)]
    assert book.adds_up


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("l.xls", b"", r"old Excel \(\.xls\)"),
        ("l.ods", b"", "not a valid workbook"),
        ("l.xlsx", b"Courriel\na@b.example\n", "not a valid workbook"),
        (
            "l.csv",
            b"PK\x03\x04rest",
            r"zipped file \(\.xlsx or \.ods\); give it the right extension",
        ),
        ("l.csv", b"", "no address column; headers found: none"),
    ],
)
def test_unusable_files(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ContactsError, match=message):
        load(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ContactsError, match=r"absent\.csv: file not found"):
        load(tmp_path / "absent.csv")


def test_missing_address_column_lists_headers_found_and_expected(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "l.csv", [["Nom", "Prénom", "Ville"], ["Roy", "Luc", "Laval"]])
    with pytest.raises(ContactsError) as caught:
        load(path)
    (problem,) = caught.value.problems
    assert problem.code == "no-address-column"
    assert str(problem.where) == "l.csv"
    assert "headers found: 'Nom', 'Prénom', 'Ville'" in problem.message
    assert "expected one of: Courriel, E-mail, Email" in problem.message


def test_problems_are_collected_across_all_sources(tmp_path: Path) -> None:
    good = write_csv(tmp_path / "good.csv", [HEADER, ROW])
    no_column = write_csv(tmp_path / "nocol.csv", [["Nom"], ["Roy"]])
    with pytest.raises(ContactsError) as caught:
        load(no_column, good, tmp_path / "absent.xlsx", suppression=[tmp_path / "gone.csv"])
    where = [str(p.where) for p in caught.value.problems]
    assert where == ["nocol.csv", "absent.xlsx", "gone.csv"]
