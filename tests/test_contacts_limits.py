"""Contact files that would make a reader explode, run through the real `distrib contacts check`.

Dimension bombs (issue 10, defect 7): a 1.5 KB workbook with one cell at XFD1048576 made
python-calamine allocate 512 GiB and abort; ZZ100000 cost 2.8 GB.  Each is refused with the
file and sheet named, before any reader builds the sheet.  Broken CSV (defect 14): an unclosed
quote followed by more than 128 KB ended in the csv module's own error; now ``file:row:``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bad_inputs import (
    ods_cell,
    ods_row,
    run_distrib,
    sheet_data_xml,
    write_campaign,
    write_ods_rows,
    write_xlsx_cells,
    write_xlsx_xml,
)


def check(folder: Path, source: str, limits: str = "") -> tuple[int, str]:
    campaign = write_campaign(folder, [source], extra=limits)
    result = run_distrib("contacts", "check", campaign, cwd=folder)
    assert "Traceback" not in result.output
    assert "panicked" not in result.output  # a Rust panic's text
    return result.code, result.output


def test_a_cell_at_xfd1048576_is_refused_before_reading(tmp_path: Path) -> None:
    write_xlsx_cells(tmp_path / "bomb.xlsx", [("XFD1048576", "x")])
    assert (tmp_path / "bomb.xlsx").stat().st_size < 2000
    code, out = check(tmp_path, "bomb.xlsx")
    assert code == 1
    assert "bomb.xlsx:Media: its cells reach XFD1048576: 1,048,576 rows x 16,384 columns" in out
    assert "contacts.max_columns = 1,000" in out


def test_a_cell_at_zz100000_is_refused(tmp_path: Path) -> None:
    write_xlsx_cells(tmp_path / "zz.xlsx", [("ZZ100000", "x")])
    code, out = check(tmp_path, "zz.xlsx")
    assert code == 1
    assert "zz.xlsx:Media: its cells reach ZZ100000: 100,000 rows x 702 columns" in out
    assert "contacts.max_cells = 20,000,000" in out


def test_a_huge_declared_dimension_is_refused(tmp_path: Path) -> None:
    # The cells are few, but the sheet says it spans the whole grid.
    write_xlsx_cells(tmp_path / "declared.xlsx", [], dimension="A1:XFD1048576")
    code, out = check(tmp_path, "declared.xlsx")
    assert code == 1
    assert "declared.xlsx:Media: declares its size as A1:XFD1048576" in out


def test_the_bomb_in_a_sheet_nobody_asked_for_is_refused_too(tmp_path: Path) -> None:
    good = sheet_data_xml(
        '<row r="1"><c r="A1" t="inlineStr"><is><t>Email</t></is></c></row>'
        '<row r="2"><c r="A2" t="inlineStr"><is><t>zoe@fleuve.example</t></is></c></row>'
    )
    bomb = sheet_data_xml('<row r="9"><c r="XFD9"><v>1</v></c></row>')
    write_xlsx_xml(tmp_path / "two.xlsx", {"Media": good, "Notes": bomb})
    code, out = check(tmp_path, "two.xlsx")
    assert code == 1
    assert "two.xlsx:Notes: its cells reach XFD9" in out


@pytest.mark.parametrize(
    ("name", "data", "corner"),
    [
        # Cells without a reference are placed one after the other, as calamine does (the
        # count stops at the first cell over the limits: column 1,001, ALM).
        ("unnumbered", '<row r="3">' + "<c><v>1</v></c>" * 1500 + "</row>", "ALM3"),
        # Leading zeros: calamine reads A0000000000001048576 as row 1,048,576.
        ("zeros", '<row r="3"><c r="KZ0000000000001048576"><v>1</v></c></row>', "KZ1048576"),
        # Rows without a number follow the one before.
        ("rows", '<row r="1048575"><c r="C1048575"><v>1</v></c></row><row><c/></row>', None),
        # A namespace prefix and single quotes: still found.
        ("prefixed", "<x:row r='3'><x:c r='ALM3'><x:v>1</x:v></x:c></x:row>", "ALM3"),
    ],
    ids=["unnumbered", "zeros", "rows", "prefixed"],
)
def test_cells_are_placed_as_the_reader_places_them(
    tmp_path: Path, name: str, data: str, corner: str | None
) -> None:
    head = (
        '<row r="1"><c r="A1" t="inlineStr"><is><t>Email</t></is></c></row>'
        '<row r="2"><c r="A2" t="inlineStr"><is><t>zoe@fleuve.example</t></is></c></row>'
    )
    xml = sheet_data_xml(head + data).replace(
        "<worksheet ",
        '<worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main" ',
    )
    write_xlsx_xml(tmp_path / f"{name}.xlsx", {"Media": xml})
    limits = "[contacts]\nmax_rows = 1048575\n" if name == "rows" else ""
    code, out = check(tmp_path, f"{name}.xlsx", limits)
    assert code == 1, out
    assert f"{name}.xlsx:Media: its cells reach {corner or 'C1048576'}" in out


def test_wide_and_long_lists_within_the_limits_are_read(tmp_path: Path) -> None:
    # 30 columns (past T, so the exact count runs) and a cell far down: allowed.
    cells = [(f"{letter}1", f"Col {letter}") for letter in "BCDEFGHIJKLMNOPQRSTUVWXYZ"]
    cells += [("AD1", "Notes"), ("AD5000", "a note")]
    write_xlsx_cells(tmp_path / "wide.xlsx", cells)
    code, out = check(tmp_path, "wide.xlsx")
    assert code == 0, out


def test_lower_limits_from_the_campaign_apply(tmp_path: Path) -> None:
    write_xlsx_cells(tmp_path / "list.xlsx", [("C40", "x")])
    code, out = check(tmp_path, "list.xlsx", "[contacts]\nmax_rows = 30\n")
    assert code == 1
    assert "list.xlsx:Media: its cells reach C40: 40 rows x 3 columns" in out
    assert "more than contacts.max_rows = 30;" in out


def test_ods_repeated_cells_are_counted_before_reading(tmp_path: Path) -> None:
    # Every row of the grid holds "x": calamine would expand 17 billion cells (it gives up at
    # 100 million, after the text of the file has been read).
    write_ods_rows(tmp_path / "bomb.ods", [ods_row([ods_cell("x", 16_384)], 1_048_576)])
    code, out = check(tmp_path, "bomb.ods")
    assert code == 1
    assert "bomb.ods:Media: its cells reach XFD1048578: 1,048,578 rows x 16,384 columns" in out


def test_ods_repeats_under_calamine_own_cap_are_counted_too(tmp_path: Path) -> None:
    write_ods_rows(tmp_path / "mid.ods", [ods_row([ods_cell("x", 500)], 50_000)])
    code, out = check(tmp_path, "mid.ods")
    assert code == 1
    assert "mid.ods:Media: its cells reach SF50002: 50,002 rows x 500 columns" in out


def test_ods_empty_repeats_as_spreadsheets_write_them_are_fine(tmp_path: Path) -> None:
    # LibreOffice ends every table with empty rows and cells repeated to the edge of the grid.
    rows = [ods_row([ods_cell(None, 16_000), ods_cell(None, 384)], 1_048_000)]
    write_ods_rows(tmp_path / "saved.ods", rows)
    code, out = check(tmp_path, "saved.ods")
    assert code == 0, out


# --- Delimited text -----------------------------------------------------------------------------

LONG = "x" * 200_000


@pytest.mark.parametrize(
    ("text", "row"),
    [
        # An unclosed quote: the rest of the file is one field.
        ('Courriel,Nom\nzoe@fleuve.example,"Zoé\nluc@fleuve.example,' + LONG + "\n", 2),
        # Ragged (row 3 is wider, so the csv module reads it) and a field of 200,000 characters.
        ("Courriel,Nom\nzoe@fleuve.example,Zoé\nluc@fleuve.example,Luc,x," + LONG + "\n", 3),
    ],
    ids=["unclosed-quote", "ragged-long-field"],
)
def test_a_field_past_the_csv_limit_is_a_row_problem(tmp_path: Path, text: str, row: int) -> None:
    (tmp_path / "list.csv").write_text(text, encoding="utf-8")
    code, out = check(tmp_path, "list.csv")
    assert code == 1
    assert f"list.csv:{row}: a field in this row is longer than 131,072 characters" in out


def test_a_very_wide_first_row_is_refused_before_the_grid_is_built(tmp_path: Path) -> None:
    # 220 KB: the first row sets the width of every row, 10,001 rows x 100,001 columns.
    text = "Courriel" + "," * 100_000 + "\n" + "zoe@fleuve.example\n" * 10_000
    (tmp_path / "wide.csv").write_text(text, encoding="utf-8")
    code, out = check(tmp_path, "wide.csv")
    assert code == 1
    assert "wide.csv: 10,001 rows x 100,001 columns (the first row has 100,001 fields)" in out


def test_a_very_wide_later_row_is_refused_naming_it(tmp_path: Path) -> None:
    text = "Courriel\n" + "zoe@fleuve.example\n" * 10_000 + "," * 100_000 + "\n"
    (tmp_path / "ragged.csv").write_text(text, encoding="utf-8")
    code, out = check(tmp_path, "ragged.csv")
    assert code == 1
    assert "ragged.csv: 10,002 rows x 100,001 columns (row 10,002 has 100,001 fields)" in out


def test_nul_bytes_in_a_ragged_file_are_a_rejected_cell(tmp_path: Path) -> None:
    # The csv module of Python 3.11 reads NUL; the row is rejected like any control character.
    text = b"Courriel,Nom\nzoe@fleuve.example,Z\x00e\nluc@fleuve.example,Luc,extra\n"
    (tmp_path / "nul.csv").write_bytes(text)
    code, out = check(tmp_path, "nul.csv")
    assert code == 0, out
    assert "nul.csv:2:Nom: NUL in column Nom" in out


def test_a_sheet_stored_under_another_suffix_is_measured_too(tmp_path: Path) -> None:
    # The relationships may name any member as a sheet; the reader follows them.
    path = write_xlsx_cells(tmp_path / "renamed.xlsx", [("XFD1048576", "x")])
    import zipfile

    with zipfile.ZipFile(path) as archive:
        members = {i.filename: archive.read(i) for i in archive.infolist()}
    members["xl/worksheets/sheet1.dat"] = members.pop("xl/worksheets/sheet1.xml")
    members["xl/_rels/workbook.xml.rels"] = members["xl/_rels/workbook.xml.rels"].replace(
        b"sheet1.xml", b"sheet1.dat"
    )
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    code, out = check(tmp_path, "renamed.xlsx")
    assert code == 1
    assert "renamed.xlsx:Media: its cells reach XFD1048576" in out


def test_a_workbook_with_two_members_of_the_same_name_is_refused(tmp_path: Path) -> None:
    # A bomb first, a harmless sheet of the same name after it: no guessing which one is read.
    import warnings
    import zipfile

    harmless = write_xlsx_cells(tmp_path / "harmless.xlsx", [])
    bomb = sheet_data_xml('<row r="9"><c r="XFD1048576"><v>1</v></c></row>')
    path = tmp_path / "twice.xlsx"
    with zipfile.ZipFile(harmless) as source, zipfile.ZipFile(path, "w") as archive:
        archive.writestr("xl/worksheets/sheet1.xml", bomb)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # zipfile warns about the duplicate name
            for info in source.infolist():
                archive.writestr(info.filename, source.read(info))
    code, out = check(tmp_path, "twice.xlsx")
    assert code == 1
    assert "twice.xlsx: not a valid workbook (two members named 'xl/worksheets/sheet1.xml')" in out


def test_ods_a_table_inside_a_cell_does_not_hide_the_rest(tmp_path: Path) -> None:
    inner = (
        '<table:table-cell office:value-type="string"><table:table table:name="inner">'
        f"{ods_row([ods_cell('y')])}</table:table></table:table-cell>"
    )
    rows = [ods_row([inner]), ods_row([ods_cell("x", 500)], 50_000)]
    write_ods_rows(tmp_path / "nested.ods", rows)
    code, out = check(tmp_path, "nested.ods")
    assert code == 1
    assert "nested.ods:Media: its cells reach SF50003" in out
