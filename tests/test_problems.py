"""Problems an officer can act on: one line per distinct problem with a count and examples;
a misspelt field suggests the right one and the column it comes from; no Python reprs."""

from __future__ import annotations

from pathlib import Path

import pytest

from distrib.app import group_problems
from distrib.errors import Location, Problem, RenderError
from distrib.release import load_release
from distrib.render import Renderer, make_message_id
from render_helpers import DATE, make_campaign, make_contact, simple_templates, write_templates


def problem_of(tmp_path: Path, text: str, **contact: object) -> str:
    templates = write_templates(tmp_path / "tpl", simple_templates(text=text + "\n"))
    campaign = make_campaign(tmp_path, templates=templates)
    renderer = Renderer(campaign, load_release(campaign))
    person = make_contact(**contact)
    with pytest.raises(RenderError) as info:
        renderer.render(
            person, message_id=make_message_id("run", person.key, "agapc.example"), date=DATE
        )
    [problem] = info.value.problems
    return problem.message


@pytest.mark.parametrize(
    ("text", "suggestion"),
    [
        # A column header typed as a field: the field it feeds, and the column.
        ("{{ contact.prenom }}", "did you mean contact.first_name (the column 'Prénom')?"),
        ("{{ contact.Courriel }}", "did you mean contact.email (the column 'Courriel')?"),
        ("{{ contact.media }}", "did you mean contact.outlet (the column 'Média')?"),
        # A header with accents and spaces: the field name distrib made of it.
        (
            '{{ contact["Rubrique spéciale"] }}',
            "did you mean contact.rubrique_speciale (the column 'Rubrique spéciale')?",
        ),
        # A spelling mistake: the closest field.
        ("{{ contact.beet }}", "did you mean contact.beat?"),
        ("{{ sender.adress }}", "did you mean sender.address?"),
        ("{{ release.titel }}", "did you mean release.title?"),
    ],
)
def test_a_misspelt_field_suggests_the_right_one(
    tmp_path: Path, text: str, suggestion: str
) -> None:
    fields = {"beat": "Économie", "rubrique_speciale": "Culture"}
    message = problem_of(tmp_path, text, fields=fields)
    assert message.startswith("template fr/message.txt: '")
    assert f"; {suggestion} (line 1)" in message


def test_nothing_close_suggests_nothing(tmp_path: Path) -> None:
    message = problem_of(tmp_path, "{{ contact.zzzzzz }}")
    assert message == "template fr/message.txt: 'contact' has no field 'zzzzzz' (line 1)"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{ contact.prenom | tojson }}", "a value used here is not defined (a misspelt field?"),
        ("{{ [contact.prenom] }}", "'contact' has no field 'prenom'"),
        ("{{ range(2) | map(attribute='x') | list }}", "a number has no field 'x'"),
        ("{{ release.title.x }}", "a text value has no field 'x'"),
        ("{{ release.title | format_date }}", "format_date: 'Lancement d’«\u00a0Hiver"),
    ],
)
def test_problem_texts_hold_no_python_reprs(tmp_path: Path, text: str, expected: str) -> None:
    message = problem_of(tmp_path, text)
    assert expected in message
    for raw in ("Undefined", "object'", "\\xa0", "TypeError", "ValueError"):
        assert raw not in message, message


def test_identical_problems_are_grouped_with_a_count_and_three_examples() -> None:
    template = "template fr/message.txt: 'contact' has no field 'prenom' (line 3)"
    problems = [Problem(template, Location("medias.csv", row), "undefined") for row in range(2, 25)]
    problems.insert(5, Problem("the release has no en.md", Location("english.xlsx", 4), "language"))
    groups = group_problems(problems)
    assert [(g.message, g.count) for g in groups] == [
        (template, 23),
        ("the release has no en.md", 1),
    ]
    first = groups[0]
    assert first.where_examples == ("medias.csv:2", "medias.csv:3", "medias.csv:4")
    assert first.indexes == (0, 1, 2)
    assert groups[1].indexes == (5,)
    assert group_problems([]) == ()
