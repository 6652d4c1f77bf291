"""Release loading: front matter, validation with every problem reported, Markdown to HTML/text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from markupsafe import Markup

from distrib.errors import ReleaseError
from distrib.release import load_release, markdown_to_text, read_release
from render_helpers import (
    EN_FRONT,
    EXAMPLE_RELEASE,
    FR_FRONT,
    make_campaign,
    write_document,
    write_release,
)


def problems_of(folder: Path) -> list[str]:
    with pytest.raises(ReleaseError) as info:
        read_release(folder)
    return [str(p) for p in info.value.problems]


def test_loads_both_documents_with_string_values(tmp_path: Path) -> None:
    front = FR_FRONT + "summary: Un résumé\nversion: 1.10\nurgent: yes\ndate: 2027-11-04\n"
    write_document(tmp_path, "fr", front, "Premier **paragraphe**.\n")
    write_document(tmp_path, "en", EN_FRONT)
    release = read_release(tmp_path)
    assert release.languages == ("fr", "en")
    fr = release.documents["fr"]
    assert fr.language == "fr"
    assert fr.title == "Lancement d’« Hiver en vitrine »"
    assert fr.subject == "Communiqué : « Hiver en vitrine » à la Pointe-aux-Cèdres"
    assert fr.dateline == "MONTRÉAL, le 4 novembre 2027 –"
    assert fr.summary == "Un résumé"
    assert fr.embargo is None
    # BaseLoader: no float, boolean or date conversions.
    assert dict(fr.meta) == {"version": "1.10", "urgent": "yes", "date": "2027-11-04"}
    assert fr.path == tmp_path / "fr.md"
    assert fr.body_markdown == "Premier **paragraphe**.\n"
    assert fr.body_html == Markup("<p>Premier <strong>paragraphe</strong>.</p>\n")
    assert isinstance(fr.body_html, Markup)
    assert fr.body_text == "Premier paragraphe."
    assert release.get("en") is release.documents["en"]
    assert release.get("de") is None


def test_load_release_uses_the_campaign_folder(tmp_path: Path) -> None:
    campaign = make_campaign(tmp_path)
    assert load_release(campaign).languages == ("fr", "en")


def test_one_language_is_enough(tmp_path: Path) -> None:
    write_document(tmp_path, "en", EN_FRONT)
    release = read_release(tmp_path)
    assert release.languages == ("en",)
    assert release.get("fr") is None


def test_no_document_at_all_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("hello", encoding="utf-8")
    assert problems_of(tmp_path) == [
        f"{tmp_path}: no fr.md or en.md in the release folder: write one Markdown file per language"
    ]


def test_missing_folder_is_an_error(tmp_path: Path) -> None:
    assert problems_of(tmp_path / "nope") == [f"{tmp_path / 'nope'}: release folder not found"]


def test_every_problem_of_every_document_is_reported(tmp_path: Path) -> None:
    write_document(tmp_path, "fr", "title: Titre\nembargo: 2027-03-10T09:00:00\n")
    write_document(tmp_path, "en", "title: [unclosed\n")
    problems = problems_of(tmp_path)
    fr, en = tmp_path / "fr.md", tmp_path / "en.md"
    assert f"{fr}: subject: required key is missing" in problems
    assert f"{fr}: dateline: required key is missing" in problems
    assert any(
        p.startswith(f"{fr}:3: embargo: '2027-03-10T09:00:00' has no UTC offset") for p in problems
    )
    # YAML mistakes say the line and the column.
    assert any(p.startswith(f"{en}:2:17: front matter is not valid YAML") for p in problems), (
        problems
    )
    assert len(problems) == 4


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("2027-03-10", "a date without a time"),
        ("next tuesday", "not an ISO 8601 date-time"),
        ("2027-03-10T09:00", "has no UTC offset"),
    ],
)
def test_bad_embargo_names_the_line(tmp_path: Path, value: str, fragment: str) -> None:
    write_document(tmp_path, "fr", FR_FRONT + f"embargo: {value}\n")
    [problem] = problems_of(tmp_path)
    assert problem.startswith(f"{tmp_path / 'fr.md'}:5: embargo: ")
    assert fragment in problem


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2027-03-10T09:00:00-05:00", datetime(2027, 3, 10, 14, 0, tzinfo=UTC)),
        ("2027-03-10T14:00:00Z", datetime(2027, 3, 10, 14, 0, tzinfo=UTC)),
        ("2027-03-10 10:00+01:00", datetime(2027, 3, 10, 9, 0, tzinfo=UTC)),
    ],
)
def test_zoned_embargo_is_parsed(tmp_path: Path, value: str, expected: datetime) -> None:
    write_document(tmp_path, "fr", FR_FRONT + f"embargo: '{value}'\n")
    embargo = read_release(tmp_path).documents["fr"].embargo
    assert embargo == expected
    assert embargo is not None and embargo.utcoffset() is not None


def test_embargo_keeps_its_offset(tmp_path: Path) -> None:
    write_document(tmp_path, "fr", FR_FRONT + "embargo: 2027-03-10T09:00:00-05:00\n")
    embargo = read_release(tmp_path).documents["fr"].embargo
    assert embargo is not None
    assert embargo.tzinfo == timezone(timedelta(hours=-5))


def test_yaml_error_reports_the_file_line_and_column(tmp_path: Path) -> None:
    write_document(tmp_path, "fr", FR_FRONT + "summary: `à revoir`\n")
    [problem] = problems_of(tmp_path)
    assert problem.startswith(f"{tmp_path / 'fr.md'}:5:10: front matter is not valid YAML")
    assert "must be in quotes" in problem


def test_a_colon_in_a_one_line_value_is_part_of_it(tmp_path: Path) -> None:
    """``summary: a: b`` is not valid YAML, but there is only one way to read it."""
    write_document(tmp_path, "fr", FR_FRONT + "summary: a: b\n")
    assert read_release(tmp_path).documents["fr"].summary == "a: b"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("title: x\n", "must start with YAML front matter"),
        ("---\ntitle: x\nbody without end\n", "front matter is not closed"),
        ("---\n- a\n- b\n---\nbody\n", "must be 'key: value' lines"),
    ],
)
def test_malformed_front_matter(tmp_path: Path, text: str, fragment: str) -> None:
    (tmp_path / "fr.md").write_text(text, encoding="utf-8")
    problems = problems_of(tmp_path)
    assert any(fragment in p for p in problems), problems


def test_nested_values_repeated_keys_and_empty_values(tmp_path: Path) -> None:
    front = FR_FRONT + "tags: [a, b]\ntitle: again\n" + "summary: ''\n"
    write_document(
        tmp_path, "fr", front.replace("dateline: MONTRÉAL, le 4 novembre 2027 –", "dateline: ''")
    )
    problems = problems_of(tmp_path)
    path = tmp_path / "fr.md"
    assert f"{path}:5: tags: must be a single text value, not a list or mapping" in problems
    assert f"{path}:6: title: given twice (first on line 2)" in problems
    assert f"{path}:4: dateline: must not be empty" in problems
    assert len(problems) == 3


def test_subject_must_be_one_line(tmp_path: Path) -> None:
    front = FR_FRONT.replace('subject: "Communiqué', 'subject: "Bcc: x@y.z\\nCommuniqué')
    write_document(tmp_path, "fr", front)
    [problem] = problems_of(tmp_path)
    assert problem.startswith(f"{tmp_path / 'fr.md'}:3: subject: contains a line feed (LF)")


def test_empty_body_and_encoding(tmp_path: Path) -> None:
    write_document(tmp_path, "fr", FR_FRONT, "\n\n")
    (tmp_path / "en.md").write_bytes(b"---\ntitle: caf\xe9\n---\nbody\n")
    problems = problems_of(tmp_path)
    assert f"{tmp_path / 'fr.md'}:6: the document has no body after the front matter" in problems
    assert f"{tmp_path / 'en.md'}:2: not UTF-8 text; save the file as UTF-8" in problems


def test_bom_crlf_and_nfc(tmp_path: Path) -> None:
    decomposed = "Cafe\u0301"
    text = f"\ufeff---\r\n{FR_FRONT}---\r\n{decomposed} et **gras**\r\n".replace("\n", "\r\n")
    (tmp_path / "fr.md").write_bytes(text.replace("\r\r\n", "\r\n").encode("utf-8"))
    document = read_release(tmp_path).documents["fr"]
    assert document.body_text == "Café et gras"
    assert "\r" not in document.body_markdown


def test_raw_html_and_script_links_are_neutralised(tmp_path: Path) -> None:
    body = (
        '<script>alert(1)</script>\n\nVoir [ici](javascript:alert(1)) et <b onclick="x">gras</b>.\n'
    )
    write_release(tmp_path, fr_body=body)
    document = read_release(tmp_path).documents["fr"]
    assert "<script" not in document.body_html
    assert "&lt;script&gt;" in document.body_html
    assert "javascript:" not in document.body_html.replace("[ici](javascript:alert(1))", "")
    assert "<b " not in document.body_html


def test_markdown_to_text_reads_well() -> None:
    source = (
        "# Le **titre**\n\n"
        "Un [lien](https://agapc.example/hiver) et <https://agapc.example>,\n"
        "une ligne voisine et [agapc.example](https://agapc.example/).\n\n"
        "- un\n- deux\n  - imbriqué\n\n"
        "1. premier\n2. second\n\n"
        "> cité\n\n"
        "Contact :\\\nJulien\\\n[écrire](mailto:presse@agapc.example)\n\n"
        "---\n\n"
        "– 30 –\n"
    )
    assert markdown_to_text(source) == (
        "Le titre\n\n"
        "Un lien (https://agapc.example/hiver) et https://agapc.example,\n"
        "une ligne voisine et agapc.example.\n\n"
        "- un\n- deux\n  - imbriqué\n\n"
        "1. premier\n2. second\n\n"
        "> cité\n\n"
        "Contact :\nJulien\nécrire (presse@agapc.example)\n\n"
        "----\n\n"
        "– 30 –"
    )


def test_loose_lists_keep_their_blank_lines() -> None:
    assert markdown_to_text("- un\n\n- deux\n") == "- un\n\n- deux"


def test_example_release_is_valid() -> None:
    release = read_release(EXAMPLE_RELEASE)
    assert release.languages == ("fr", "en")
    fr, en = release.documents["fr"], release.documents["en"]
    assert fr.dateline.startswith("MONTRÉAL, le ")
    assert en.dateline.startswith("MONTRÉAL, ")
    assert "« Hiver en vitrine »" in fr.title.replace("\u00a0", " ")
    assert "– 30 –" in fr.body_text
    assert "-30-" in en.body_text
    assert "À propos de l’AGAPC" in fr.body_text
    assert "About the AGAPC" in en.body_text
    for document in (fr, en):
        assert document.embargo is None
        words = len(document.body_text.split())
        assert 300 <= words <= 450, (document.language, words)
