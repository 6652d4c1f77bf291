"""Exports neutralise formula-like cells in CSV and XLSX, and round-trip the data."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from openpyxl import load_workbook

from distrib.export import neutralise, write_table, xlsx_text

DANGEROUS = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]


@pytest.mark.parametrize("value", DANGEROUS)
def test_formula_like_cells_get_a_leading_quote(value: str) -> None:
    assert neutralise(value) == "'" + value


@pytest.mark.parametrize("value", ["Zoé", "a=b", "", 42, None, "presse@agapc.example"])
def test_other_values_are_unchanged(value: object) -> None:
    assert neutralise(value) == value


def rows() -> list[dict[str, object]]:
    return [{"name": v, "n": i} for i, v in enumerate(["Zoé Bélanger", *DANGEROUS])]


def test_csv_round_trip_is_neutralised() -> None:
    text = write_table(None, ["name", "n"], rows(), "csv")
    assert text is not None
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert parsed[0] == {"name": "Zoé Bélanger", "n": "0"}
    assert [r["name"] for r in parsed[1:]] == ["'" + v for v in DANGEROUS]


def test_csv_file_has_a_bom_for_excel(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    write_table(path, ["name", "n"], rows(), "csv")
    assert path.read_bytes().startswith(b"\xef\xbb\xbfname,n\r\n")


def test_xlsx_cells_are_text_not_formulas(tmp_path: Path) -> None:
    path = tmp_path / "out.xlsx"
    write_table(path, ["name", "n"], rows(), "xlsx")
    sheet = load_workbook(path).active
    assert sheet is not None
    values = list(sheet.iter_rows(values_only=True))
    assert values[0] == ("name", "n")
    # XML normalises a lone CR to LF; what matters is the leading quote.
    assert [v[0] for v in values[2:]] == ["'" + v.replace("\r", "\n") for v in DANGEROUS]
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def test_json_keeps_data_as_is() -> None:
    text = write_table(None, ["name", "n"], rows(), "json")
    assert text is not None
    assert json.loads(text)[1] == {"name": DANGEROUS[0], "n": 1}


CONTROL = ["\x07bell", "a\x01b", "v\x0bt", "f\x0cf", "nul\x00", "\ufffe", "lone \udc80"]


def test_xlsx_writes_what_xml_cannot_hold_as_visible_escapes(tmp_path: Path) -> None:
    path = tmp_path / "out.xlsx"
    data = [{"text": v} for v in [*CONTROL, "=\x07SUM(A1)", "tab\tcr\rlf\n"]]
    write_table(path, ["text", "=header"], data, "xlsx")
    sheet = load_workbook(path).active
    assert sheet is not None
    values = [row[0] for row in sheet.iter_rows(values_only=True)]
    assert values[0] == "text"
    assert values[1:] == [
        "\\x07bell", "a\\x01b", "v\\x0bt", "f\\x0cf", "nul\\x00", "\\ufffe", "lone \\udc80",
        "'=\\x07SUM(A1)",  # neutralised, then escaped
        "tab\tcr\nlf\n",  # TAB, CR and LF are XML (a lone CR reads back as LF)
    ]  # fmt: skip
    header = next(sheet.iter_rows(values_only=True))
    assert header[1] == "'=header"  # the header row is neutralised too


def test_csv_and_json_keep_control_characters() -> None:
    data = [{"text": v} for v in CONTROL[:5]]
    text = write_table(None, ["text"], data, "csv")
    assert text is not None
    assert [r["text"] for r in csv.DictReader(io.StringIO(text))] == CONTROL[:5]
    assert [r["text"] for r in json.loads(write_table(None, ["text"], data, "json") or "")] == (
        CONTROL[:5]
    )


def test_xlsx_text_leaves_other_values_alone() -> None:
    assert xlsx_text("Zoé Bélanger — 😀") == "Zoé Bélanger — 😀"
    assert xlsx_text(42) == 42
    assert xlsx_text(None) is None
