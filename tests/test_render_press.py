"""The email a journalist expects (issue 13): the release first, its label at the top of both
parts (an embargo notice, or "Pour diffusion immédiate"), the summary as the inbox preheader,
each language written its own way, and a bilingual message that says the other version
follows.  Rendered with distrib's built-in templates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from distrib.errors import ReleaseError
from distrib.release import load_release, read_release
from distrib.render import RenderedMessage, Renderer, make_message_id
from render_helpers import (
    DATE,
    EN_FRONT,
    FR_FRONT,
    make_campaign,
    make_contact,
    parse,
    parts,
    write_document,
)

NBSP, NNBSP = "\u00a0", "\u202f"
SUMMARY_FR = "L’AGAPC investit 485 000 $ : des rues animées tout l’hiver !"
SUMMARY_EN = "The AGAPC invests $485,000 to keep its streets lively all winter."
BODY_FR = "L’Association dévoile aujourd’hui « Hiver en vitrine » : 485 000 $ pour ses rues.\n"
BODY_EN = "The Association today unveiled Winter Storefronts.\n"


def release(tmp_path: Path, extra: str = "", *, summary: bool = True) -> Path:
    folder = tmp_path / "release"
    fr = FR_FRONT + (f"summary: {SUMMARY_FR}\n" if summary else "") + extra
    en = EN_FRONT + (f"summary: {SUMMARY_EN}\n" if summary else "") + extra
    write_document(folder, "fr", fr, BODY_FR)
    write_document(folder, "en", en, BODY_EN)
    return folder


def renderer(tmp_path: Path, extra: str = "", **campaign: Any) -> Renderer:
    built = make_campaign(tmp_path, release=release(tmp_path, extra), **campaign)
    return Renderer(built, load_release(built))


def render(renderer_: Renderer, **contact: Any) -> tuple[RenderedMessage, str, str]:
    person = make_contact(**contact)
    rendered = renderer_.render(
        person, message_id=make_message_id("run", person.key, "agapc.example"), date=DATE
    )
    text, html = parts(parse(rendered.data))
    return rendered, text.replace("\r\n", "\n"), html


def test_a_release_without_embargo_carries_the_immediate_release_label(tmp_path: Path) -> None:
    built = renderer(tmp_path)
    _, text, html = render(built)
    # The text part: the summary (the inbox's preview), then the label, then the greeting.
    assert text.startswith(
        "L’AGAPC investit 485 000 $ : des rues animées tout l’hiver !".replace(" $", f"{NBSP}$")
        .replace("485 ", f"485{NBSP}")
        .replace(" :", f"{NBSP}:")
        .replace(" !", f"{NNBSP}!")
        + "\n\nPour diffusion immédiate\n\nBonjour Zoé,\n"
    )
    assert (
        '<p class="label" style="' in html and "<strong>Pour diffusion immédiate</strong>" in html
    )
    _, text, html = render(built, language="en")
    assert "\n\nFor immediate release\n\nHello Zoé,\n" in text
    assert "<strong>For immediate release</strong>" in html


def test_the_label_is_configurable(tmp_path: Path) -> None:
    custom = {"immediate_release_fr": "Diffusion libre", "immediate_release_en": "Release at will"}
    _, text, html = render(renderer(tmp_path / "a", press=custom))
    assert "\n\nDiffusion libre\n\nBonjour" in text and "Pour diffusion" not in html
    _, text, html = render(renderer(tmp_path / "b", press={"immediate_release": False}))
    assert "Pour diffusion immédiate" not in text + html
    assert 'class="label' not in html


def test_the_summary_is_the_preheader(tmp_path: Path) -> None:
    _, text, html = render(renderer(tmp_path))
    summary = text.split("\n", 1)[0]
    assert summary.startswith("L’AGAPC investit 485")
    # In the HTML, the first thing in the body, hidden: what the inbox shows beside the subject.
    body = html.split("<body", 1)[1].split(">", 1)[1].lstrip()
    assert body.startswith('<div class="preheader" style="display: none;')
    assert body.split(">", 1)[1].startswith(summary + "</div>")
    # Without a summary, no preheader: the label leads.
    built = make_campaign(tmp_path / "n", release=release(tmp_path / "n", summary=False))
    _, text, html = render(Renderer(built, load_release(built)))
    assert text.startswith("Pour diffusion immédiate\n") and "preheader" not in html


def test_the_release_comes_first(tmp_path: Path) -> None:
    """Label, a one-line greeting, one short paragraph, then headline and the dateline opening
    the lead; the outlet's pitch replaces the default paragraph rather than adding to it."""
    _, text, html = render(renderer(tmp_path))
    lines = text.split("\n\n")
    assert lines[1:4] == [
        "Pour diffusion immédiate",
        "Bonjour Zoé,",
        "Ce communiqué pourrait intéresser votre rédaction (Le Devoir). Pour une entrevue ou"
        " des renseignements, il suffit de répondre à ce courriel.",
    ]
    assert lines[4] == f"Lancement d’«{NBSP}Hiver en vitrine{NBSP}»"
    assert lines[5].startswith("MONTRÉAL, le 4 novembre 2027 – L’Association dévoile")
    assert '<span class="dateline" style="font-weight: bold;">MONTRÉAL, le 4 novembre' in html
    order = [html.index(s) for s in ('class="label', 'class="greeting', 'class="pitch', "<h1")]
    assert order == sorted(order)


def test_an_embargo_reads_the_way_each_language_writes_it(tmp_path: Path) -> None:
    built = renderer(tmp_path, "embargo: 2028-03-01T09:00:00-05:00\n")
    rendered, text, html = render(built)
    notice = f"SOUS EMBARGO jusqu’au 1er mars 2028, 9{NBSP}h (HNE)"
    assert rendered.subject.startswith(f"EMBARGO 1er mars 9{NBSP}h HNE – Communiqué")
    assert f"\n\n{notice}\nMerci de ne rien publier avant cette heure.\n\nBonjour Zoé," in text
    assert '<p class="label embargo"' in html
    assert f"<strong>{notice}</strong><br>Merci de ne rien publier avant cette heure.</p>" in html
    rendered, text, html = render(built, language="en")
    notice = "EMBARGOED UNTIL 9 a.m. ET, March 1, 2028"
    assert rendered.subject.startswith("EMBARGOED until March 1, 9 a.m. ET – News release")
    assert f"\n\n{notice}\nPlease do not publish before then.\n\nHello Zoé," in text
    assert f"<strong>{notice}</strong>" in html
    # Daylight time reads HAE; another zone its own letters; the prefix can be turned off.
    summer = renderer(tmp_path / "s", "embargo: 2028-06-01T14:30:00-04:00\n")
    rendered, text, _ = render(summer)
    assert f"SOUS EMBARGO jusqu’au 1er juin 2028, 14{NBSP}h{NBSP}30 (HAE)" in text
    west = renderer(
        tmp_path / "w",
        "embargo: 2028-03-01T09:00:00-08:00\n",
        press={"time_zone": "America/Vancouver", "embargo_in_subject": False},
    )
    rendered, text, _ = render(west, language="en")
    assert "EMBARGOED UNTIL 9 a.m. PT, March 1, 2028" in text
    assert rendered.subject.startswith("News release")


def test_a_bilingual_message_says_the_other_version_follows(tmp_path: Path) -> None:
    built = renderer(tmp_path, "embargo: 2028-03-01T09:00:00-05:00\n")
    rendered, text, html = render(built, language="both")
    assert rendered.subject.startswith(f"EMBARGO 1er mars 9{NBSP}h HNE – Communiqué")
    assert " / News release" in rendered.subject
    assert text.split("\n\n")[1] == "English follows"
    assert '<p class="jump"' in html
    assert '<a href="#en" lang="en-CA" style="color: #1d4f91;">English follows</a>' in html
    assert '<div id="en" lang="en-CA">' in html
    # Each version has its own label, in its own language, before its greeting.
    french, english = text.split("========================================")
    assert french.index("SOUS EMBARGO") < french.index("Bonjour Zoé,")
    assert english.index("EMBARGOED UNTIL") < english.index("Hello Zoé,")
    assert html.index("SOUS EMBARGO") < html.index('id="en"') < html.index("EMBARGOED UNTIL")
    swapped = renderer(tmp_path / "e", bilingual_order=("en", "fr"))
    _, text, html = render(swapped, language="both")
    assert text.split("\n\n")[1] == "Version française plus bas"
    assert '<a href="#fr" lang="fr-CA"' in html and '<div id="fr" lang="fr-CA">' in html


def test_french_text_gets_french_spacing(tmp_path: Path) -> None:
    rendered, text, html = render(renderer(tmp_path))
    assert f"«{NBSP}Hiver en vitrine{NBSP}»{NBSP}: 485{NBSP}000{NBSP}$" in text
    assert f"Communiqué{NBSP}: «{NBSP}Hiver en vitrine{NBSP}»" in rendered.subject
    assert f"«{NBSP}Hiver en vitrine{NBSP}»{NBSP}: 485{NBSP}000{NBSP}$" in html.replace(
        "&nbsp;", NBSP
    )
    _, text, _ = render(renderer(tmp_path / "en"), language="en")
    assert NBSP not in text.split("-- \n")[0]  # English is left as written


@pytest.mark.parametrize(
    "subject",
    ["Hiver en vitrine : 485 000 $ pour nos rues", "Hiver en vitrine : 485 000 $  # à revoir"],
)
def test_a_colon_in_an_unquoted_french_value_is_read_as_written(
    tmp_path: Path, subject: str
) -> None:
    """`subject: Hiver en vitrine : 485 000 $` is not valid YAML (": " starts a mapping), but it
    is what a French officer writes: distrib reads the rest of the line as the value."""
    front = FR_FRONT.replace(
        'subject: "Communiqué : « Hiver en vitrine » à la Pointe-aux-Cèdres"', f"subject: {subject}"
    )
    front += "media_contact: Renseignements :\n"
    write_document(tmp_path / "r", "fr", front)
    document = read_release(tmp_path / "r").documents["fr"]
    assert document.subject == "Hiver en vitrine : 485 000 $" + (
        " pour nos rues" if "rues" in subject else ""
    )
    assert document.media_contact_text == "Renseignements :"


def test_other_yaml_mistakes_say_the_line_and_column_and_how_to_fix(tmp_path: Path) -> None:
    front = FR_FRONT + 'summary: "pas fermé\nembargo: 2028-03-01T09:00:00-05:00\n'
    write_document(tmp_path / "r", "fr", front)
    with pytest.raises(ReleaseError) as info:
        read_release(tmp_path / "r")
    [problem] = info.value.problems
    assert problem.code == "yaml"
    assert str(problem.where).startswith(
        str(tmp_path / "r" / "fr.md").replace(str(Path.cwd()) + "/", "") + ":"
    )
    line, column = str(problem.where).rsplit(":", 2)[1:]
    assert int(line) >= 5 and int(column) >= 1
    assert "must close it with the same quote" in problem.message


def test_money_and_when_filters_write_as_newsrooms_do(tmp_path: Path) -> None:
    from render_helpers import simple_templates, write_templates

    text = '{{ 485000 | money }}|{{ "1234.5" | money }}|{{ release.embargo | when }}\n'
    templates = write_templates(tmp_path / "tpl", simple_templates(text=text))
    folder = release(tmp_path, "embargo: 2028-03-01T09:00:00-05:00\n")
    built = make_campaign(tmp_path, release=folder, templates=templates)
    renderer_ = Renderer(built, load_release(built))
    rendered, _, _ = render(renderer_)
    assert (
        rendered.text
        == f"485{NBSP}000{NBSP}$|1{NBSP}234,50{NBSP}$|le 1er mars 2028, 9{NBSP}h (HNE)\n"
    )
    rendered, _, _ = render(renderer_, language="en")
    assert rendered.text == "$485,000|$1,234.50|March 1, 2028, 9 a.m. ET\n"
