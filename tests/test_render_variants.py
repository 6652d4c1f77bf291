"""Bilingual messages, fallback language, per-outlet overrides and variables, template safety."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from distrib.errors import RenderError
from distrib.release import load_release
from distrib.render import RenderedMessage, Renderer, make_message_id
from render_helpers import (
    DATE,
    FR_FRONT,
    REPO,
    make_campaign,
    make_contact,
    parse,
    parts,
    simple_templates,
    write_document,
    write_templates,
)


def renderer_with(
    tmp_path: Path, files: dict[str, str] | None = None, **campaign: object
) -> Renderer:
    templates = write_templates(tmp_path / "tpl", files or simple_templates())
    built = make_campaign(tmp_path, templates=templates, **campaign)  # type: ignore[arg-type]
    updates = {
        k: v
        for k, v in campaign.items()
        if k in ("bilingual_order", "fallback_language", "outlets")
    }
    if updates:
        built = built.model_copy(update=updates)
    return Renderer(built, load_release(built))


def render(renderer: Renderer, **contact: object) -> RenderedMessage:
    person = make_contact(**contact)
    return renderer.render(
        person, message_id=make_message_id("run", person.key, "agapc.example"), date=DATE
    )


BILINGUAL = {
    "both/subject.txt": (
        "{% for r in documents %}{{ r.title }}{{ ' / ' if not loop.last }}{% endfor %}\n"
    ),
    "both/message.txt": (
        "{{ lang }}:{{ languages | join(',') }}:{{ releases.fr.title }}|{{ releases.en.title }}\n"
    ),
    "both/message.html": "<p>{{ release.language }}</p>\n",
}


def test_bilingual_contact_gets_one_message_french_first(tmp_path: Path) -> None:
    renderer = renderer_with(tmp_path, simple_templates() | BILINGUAL)
    rendered = render(renderer, language="both")
    assert rendered.language == "both"
    message = parse(rendered.data)
    assert message["Content-Language"] == "fr-CA, en-CA"
    assert (
        message["Subject"]
        == "Lancement d’«\u00a0Hiver en vitrine\u00a0» / Winter Storefronts launch"
    )
    text, html = parts(message)
    assert (
        text == "both:fr,en:Lancement d’«\u00a0Hiver en vitrine\u00a0»|Winter Storefronts launch\n"
    )
    assert html == "<p>fr</p>\n"  # `release` is the first language's document


def test_bilingual_order_is_a_campaign_key(tmp_path: Path) -> None:
    renderer = renderer_with(tmp_path, simple_templates() | BILINGUAL, bilingual_order=("en", "fr"))
    rendered = render(renderer, language="both")
    assert parse(rendered.data)["Content-Language"] == "en-CA, fr-CA"
    assert (
        rendered.subject == "Winter Storefronts launch / Lancement d’«\u00a0Hiver en vitrine\u00a0»"
    )
    assert rendered.text.startswith("both:en,fr:")


def test_default_bilingual_templates_hold_both_versions(tmp_path: Path) -> None:
    campaign = make_campaign(tmp_path)
    rendered = render(Renderer(campaign, load_release(campaign)), language="both")
    text, html = parts(parse(rendered.data))
    assert text.index("Bonjour Zoé,") < text.index("Hello Zoé,")
    assert text.index("Le texte.") < text.index("The text.")
    assert "\n– 30 –\n" in text and "\n-30-\n" in text  # each version gets its end mark
    assert '<div lang="fr-CA">' in html and '<div lang="en-CA">' in html
    assert "désabonnez-vous" not in html  # no unsubscribe URL in this campaign
    assert "Vous recevez ce message" in text and "You are receiving this message" in text


def test_missing_language_is_an_error_unless_a_fallback_is_named(tmp_path: Path) -> None:
    release = tmp_path / "release"
    write_document(release, "fr", FR_FRONT)
    renderer = renderer_with(tmp_path, simple_templates() | BILINGUAL, release=release)
    for language, who in (
        ("en", "this contact's language (en)"),
        ("both", "this bilingual contact"),
    ):
        with pytest.raises(RenderError) as info:
            render(renderer, language=language)
        [problem] = info.value.problems
        assert problem.code == "language"
        assert (
            problem.message
            == f"the release has no en.md, which {who} needs (or set fallback_language)"
        )
        assert str(problem.where) == "contacts.csv:2"
    fallback = renderer_with(
        tmp_path / "f", simple_templates() | BILINGUAL, release=release, fallback_language="fr"
    )
    rendered = render(fallback, language="en")
    assert rendered.language == "fr" and rendered.contact.language == "en"
    [warning] = rendered.warnings
    assert warning.code == "fallback"
    assert "sending the fr version (fallback_language)" in warning.message
    assert render(fallback, language="both").language == "fr"


OVERRIDE = (
    """{% extends "fr/message.html" %}{% block intro %}<p>{{ outlet.pitch }}</p>{% endblock %}"""
)


def test_outlet_override_extends_the_base_and_replaces_a_block(tmp_path: Path) -> None:
    files = simple_templates() | {
        "fr/message.html": "<h1>{% block intro %}base{% endblock %}</h1>{{ release.title }}\n",
        "outlets/le-devoir/fr/message.html": OVERRIDE,
        "outlets/le-devoir/fr/subject.txt": "Pour {{ outlet.name }} : {{ release.subject }}\n",
    }
    (tmp_path / "outlets.csv").write_text(
        "Média,Pitch,Desk\nLe Devoir,Un sujet pour vous.,Économie\nLa Presse,Autre chose,\n",
        encoding="utf-8",
    )
    renderer = renderer_with(tmp_path, files, outlets=tmp_path / "outlets.csv")
    devoir = render(renderer)
    assert (
        devoir.html
        == "<h1><p>Un sujet pour vous.</p></h1>Lancement d’«\u00a0Hiver en vitrine\u00a0»\n"
    )
    assert devoir.subject.startswith("Pour Le Devoir : Communiqué")  # the template's own text
    other = render(renderer, outlet="Radio X", outlet_slug="radio-x")
    assert other.html == "<h1>base</h1>Lancement d’«\u00a0Hiver en vitrine\u00a0»\n"
    # English contacts of the same outlet use the base English templates (no en/ override).
    assert render(renderer, language="en").subject.startswith("News release")
    warnings = renderer.check_audience([make_contact()])
    assert [w.message for w in warnings] == [
        "outlet 'la-presse': no contact's outlet has this slug, so the row is not used"
    ]


def test_outlet_variables_exist_for_every_outlet(tmp_path: Path) -> None:
    (tmp_path / "outlets.csv").write_text("outlet,pitch\nLe Devoir,Oui\n", encoding="utf-8")
    files = simple_templates(text="[{{ outlet.pitch }}|{{ outlet.slug }}|{{ outlet.name }}]\n")
    renderer = renderer_with(tmp_path, files, outlets=tmp_path / "outlets.csv")
    assert render(renderer).text == "[Oui|le-devoir|Le Devoir]\n"
    assert render(renderer, outlet="Radio X", outlet_slug="radio-x").text == "[|radio-x|Radio X]\n"


@pytest.mark.parametrize(
    ("sheet", "fragment"),
    [
        ("pitch\nx\n", "needs an 'outlet'"),
        (
            "outlet,pitch\nLe Devoir,a\nLE DEVOIR,b\n",
            "'le-devoir' is listed twice (first on row 2)",
        ),
        ("outlet,name\nLe Devoir,a\n", "would hide outlet.name"),
        ("outlet,Pitch,pitch\nLe Devoir,a,b\n", "gives the variable name 'pitch' twice"),
    ],
)
def test_bad_outlets_sheet(tmp_path: Path, sheet: str, fragment: str) -> None:
    (tmp_path / "outlets.csv").write_text(sheet, encoding="utf-8")
    with pytest.raises(RenderError) as info:
        renderer_with(tmp_path, outlets=tmp_path / "outlets.csv")
    assert any(fragment in p.message for p in info.value.problems), info.value.problems


def test_outlet_folders_must_be_slugs(tmp_path: Path) -> None:
    files = simple_templates() | {"outlets/Le Devoir/fr/subject.txt": "x\n"}
    with pytest.raises(RenderError, match="a folder name must be an outlet slug"):
        renderer_with(tmp_path, files)


@pytest.mark.parametrize(
    "reference",
    ['{% extends "../secret.html" %}', '{% include "/etc/passwd" %}', '{% include "../../x" %}'],
)
def test_template_references_stay_inside_the_folder(tmp_path: Path, reference: str) -> None:
    (tmp_path / "secret.html").write_text("SECRET", encoding="utf-8")
    files = simple_templates(html=reference + "\n")
    with pytest.raises(RenderError) as info:
        renderer_with(tmp_path, files)
    assert "SECRET" not in str(info.value)
    assert any("fr/message.html" in p.message for p in info.value.problems)


def test_a_symlink_leading_out_of_the_templates_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("SECRET {{ 1 }}", encoding="utf-8")
    templates = write_templates(
        tmp_path / "tpl", simple_templates(text='{% include "leak.txt" %}\n')
    )
    os.symlink(tmp_path / "secret.txt", templates / "leak.txt")
    campaign = make_campaign(tmp_path, templates=templates)
    with pytest.raises(RenderError) as info:
        Renderer(campaign, load_release(campaign))
    assert "leads outside the templates folder" in str(info.value)


@pytest.mark.parametrize(
    ("html", "what"),
    [
        ("<script>alert(1)</script>", "a <script> element"),
        ('<img src="x" onerror="alert(1)">', "an on… event handler"),
        ('<a href="javascript:alert(1)">x</a>', "a javascript: URL"),
        ('<link rel="stylesheet" href="https://cdn.example/x.css">', "an external stylesheet"),
    ],
)
def test_no_scripts_in_html_templates(tmp_path: Path, html: str, what: str) -> None:
    with pytest.raises(RenderError) as info:
        renderer_with(tmp_path, simple_templates(html=html + "\n"))
    problems = info.value.problems
    assert [p.message.split(":")[0] for p in problems] == [
        "template en/message.html",
        "template fr/message.html",
    ]
    assert all(p.code == "unsafe-html" and what in p.message for p in problems)


def test_style_css_is_inlined_once_into_templates_and_release(tmp_path: Path) -> None:
    files = simple_templates(
        html='<p class="hi">Bonjour {{ contact.first_name }}</p>\n{{ release.body_html }}'
    ) | {"style.css": ".hi { color: #123456; } strong { font-weight: 700; }"}
    renderer = renderer_with(tmp_path, files)
    html = render(renderer).html
    assert html == (
        '<p class="hi" style="color: #123456;">Bonjour Zoé</p>\n'
        '<p>Le <strong style="font-weight: 700;">texte</strong>.</p>\n'
    )
    # Inlined in the compiled template, not per message: the source the template was built
    # from already carries the style attribute.
    source = renderer.templates.html_env.loader.get_source(
        renderer.templates.html_env, "fr/message.html"
    )[0]  # type: ignore[union-attr]
    assert 'style="color: #123456;"' in source and "{{ contact.first_name }}" in source


def test_a_template_css_cannot_be_inlined_into_is_reported(tmp_path: Path) -> None:
    files = simple_templates(html="<p {{ 'class=x' }}>x</p>\n") | {"style.css": "p { color: red; }"}
    with pytest.raises(RenderError) as info:
        renderer_with(tmp_path, files)
    problem = info.value.problems[0]
    assert problem.code == "css" and "outside a quoted attribute value" in problem.message


def test_contact_data_in_templates_stays_inert_with_css(tmp_path: Path) -> None:
    files = simple_templates(html="<p class='n'>{{ contact.first_name }}</p>\n") | {
        "style.css": ".n { color: red; }"
    }
    payload = "<style>p{}</style>{{ 7*7 }}<script>x</script>"
    html = render(renderer_with(tmp_path, files), first_name=payload).html
    assert "&lt;script&gt;" in html and "<script>" not in html and "{{ 7*7 }}" in html


def test_example_templates_are_the_builtin_ones_plus_overrides() -> None:
    builtin = REPO / "templates"
    example = REPO / "example" / "templates"
    for path in builtin.rglob("*"):
        if path.is_file():
            twin = example / path.relative_to(builtin)
            assert twin.read_bytes() == path.read_bytes(), f"{twin} differs from {path}"
    extra = {p.relative_to(example).parts[0] for p in example.rglob("*") if p.is_file()} - {
        p.relative_to(builtin).parts[0] for p in builtin.rglob("*") if p.is_file()
    }
    assert extra == {"outlets"}


def test_example_campaign_renders_everyone(monkeypatch: pytest.MonkeyPatch) -> None:
    from distrib.app import collect_preview, open_release

    collected = collect_preview(
        open_release(REPO / "example" / "releases" / "2027-11-hiver-en-vitrine")
    )
    assert collected.problems == ()
    by_slug = {e.contact.outlet_slug: e for e in collected.entries}
    assert by_slug["radio-boreale"].subject.startswith("Entrevue possible – ")
    assert any(e.language == "both" for e in collected.entries)
