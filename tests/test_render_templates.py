"""Templates: context, escaping, StrictUndefined messages, load errors, the default templates."""

from __future__ import annotations

from pathlib import Path

import pytest

from distrib.errors import RenderError
from distrib.release import load_release
from distrib.render import RenderedMessage, Renderer, default_templates_dir, make_message_id
from render_helpers import (
    DATE,
    EXAMPLE_RELEASE,
    FR_FRONT,
    REPO,
    SECRET,
    make_campaign,
    make_contact,
    parse,
    parts,
    simple_templates,
    write_document,
    write_templates,
)


def renderer_with(tmp_path: Path, files: dict[str, str], **campaign: object) -> Renderer:
    templates = write_templates(tmp_path / "tpl", files)
    built = make_campaign(tmp_path, templates=templates, **campaign)  # type: ignore[arg-type]
    return Renderer(built, load_release(built))


def render(renderer: Renderer, **contact: object) -> RenderedMessage:
    person = make_contact(**contact)
    return renderer.render(
        person, message_id=make_message_id("run", person.key, "agapc.example"), date=DATE
    )


def render_problem(renderer: Renderer, **contact: object) -> str:
    with pytest.raises(RenderError) as info:
        render(renderer, **contact)
    [problem] = info.value.problems
    assert str(problem.where) == "contacts.csv:2"
    return problem.message


CONTEXT_TEXT = """\
{{ contact.email }}|{{ contact.address }}|{{ contact.first_name }}|{{ contact.last_name }}|\
{{ contact.name }}|{{ contact.outlet }}|{{ contact.outlet_slug }}|{{ contact.language }}|\
{{ contact.beat }}|{{ contact["beat"] }}|{{ lang }}|{{ language_tag }}
{{ release.title }}|{{ release.dateline }}|{{ release.summary }}|{{ release.embargo }}|\
{{ release.meta.source }}
{{ sender.name }}|{{ sender.organisation }}|{{ sender.postal_address }}|{{ sender.contact }}|\
{{ sender.website }}
{{ unsubscribe.mailto }}|{{ unsubscribe.mailto_uri }}|{{ unsubscribe.url }}
"""


def test_the_context_holds_what_the_docstring_promises(tmp_path: Path) -> None:
    write_document(tmp_path / "release", "fr", FR_FRONT + "source: agence\n")
    renderer = renderer_with(
        tmp_path, simple_templates(text=CONTEXT_TEXT), release=tmp_path / "release", website=None
    )
    lines = render(renderer).text.splitlines()
    assert lines[0] == (
        "Zoe.Belanger@Exemple.ca|Zoe.Belanger@exemple.ca|Zoé|Bélanger|Zoé Bélanger|Le Devoir|"
        "le-devoir|fr|Économie|Économie|fr|fr-CA"
    )
    # A French document reads with French spacing (non-breaking spaces inside « »).
    assert (
        lines[1]
        == "Lancement d’«\u00a0Hiver en vitrine\u00a0»|MONTRÉAL, le 4 novembre 2027 –|||agence"
    )
    assert lines[2] == (
        "Service de presse AGAPC|Association des gens d'affaires de la Pointe-aux-Cèdres|"
        "1200, rue des Cèdres, bureau 300, Montréal (Québec)  H9Z 1A1|514 555-0142|"
    )
    assert lines[3] == "presse@agapc.example|mailto:presse@agapc.example?subject=unsubscribe|"


def test_html_in_contact_fields_is_escaped_in_html_and_verbatim_in_text(tmp_path: Path) -> None:
    files = simple_templates(
        subject="{{ release.subject }}\n",
        text="{{ contact.outlet }}\n",
        html="<p>{{ contact.outlet }}</p>{{ release.body_html }}\n",
    )
    payload = "<img src=x onerror=alert(1)>"
    rendered = render(renderer_with(tmp_path, files), outlet=payload)
    text, html = parts(parse(rendered.data))
    assert text == payload + "\n"
    assert "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<strong>texte</strong>" in html  # the release body is trusted Markup, not escaped


def test_jinja_syntax_in_a_field_is_inert(tmp_path: Path) -> None:
    files = simple_templates(
        text="{{ contact.first_name }}\n", html="<p>{{ contact.first_name }}</p>\n"
    )
    payload = "{{ 7*7 }}{% for x in range(3) %}x{% endfor %}{{ sender.name }}"
    rendered = render(renderer_with(tmp_path, files), first_name=payload)
    assert rendered.text == payload + "\n"
    assert "49" not in rendered.html
    assert "xxx" not in rendered.html
    assert "{{ 7*7 }}" in rendered.html


def test_fields_named_like_mapping_methods_are_fields(tmp_path: Path) -> None:
    files = simple_templates(text="{{ contact.items }}/{{ contact.values }}/{{ contact.get }}\n")
    fields = {"items": "3", "values": "libre-échange", "get": "oui"}
    assert render(renderer_with(tmp_path, files), fields=fields).text == "3/libre-échange/oui\n"


def test_undefined_field_names_template_and_field(tmp_path: Path) -> None:
    files = simple_templates(html="<p>\n{{ contact.beat }}</p>\n")
    message = render_problem(renderer_with(tmp_path, files), fields={})
    assert message == "template fr/message.html: 'contact' has no field 'beat' (line 2)"


def test_undefined_in_a_parent_template_names_it(tmp_path: Path) -> None:
    files = simple_templates(html='{% extends "base.html" %}\n')
    files["base.html"] = "<html>\n\n{{ sender.fax }}\n</html>\n"
    message = render_problem(renderer_with(tmp_path, files))
    assert message == "template fr/message.html: 'sender' has no field 'fax' (base.html, line 3)"


def test_every_failing_template_of_a_contact_is_reported(tmp_path: Path) -> None:
    files = simple_templates(
        subject="{{ contact.beat }}\n", text="{{ nope }}\n", html="{{ release.meta.x }}\n"
    )
    with pytest.raises(RenderError) as info:
        render(renderer_with(tmp_path, files), fields={})
    assert [p.message for p in info.value.problems] == [
        "template fr/subject.txt: 'contact' has no field 'beat' (line 1)",
        "template fr/message.txt: 'nope' is not defined (line 1)",
        "template fr/message.html: 'release.meta' has no field 'x' (line 1)",
    ]
    assert {p.code for p in info.value.problems} == {"undefined"}


def test_defined_test_and_default_filter_work(tmp_path: Path) -> None:
    files = simple_templates(
        text="{% if contact.beat is defined %}{{ contact.beat }}{% endif %}/"
        '{{ contact.desk | default("-") }}\n'
    )
    renderer = renderer_with(tmp_path, files)
    assert render(renderer).text == "Économie/-\n"
    assert render(renderer, fields={}).text == "/-\n"


def test_template_runtime_errors_are_problems_not_tracebacks(tmp_path: Path) -> None:
    files = simple_templates(text="{{ contact.name + 1 }}\n", html="{{ 1 // 0 }}\n")
    with pytest.raises(RenderError) as info:
        render(renderer_with(tmp_path, files))
    messages = [p.message for p in info.value.problems]
    assert messages[0].startswith("template fr/message.txt: TypeError: ")
    assert messages[1].startswith("template fr/message.html: ZeroDivisionError: ")


def test_empty_subject_is_a_problem(tmp_path: Path) -> None:
    files = simple_templates(subject="{{ contact.beat }}\n")
    message = render_problem(renderer_with(tmp_path, files), fields={"beat": "  "})
    assert message == "template fr/subject.txt: the subject is empty"


def test_load_errors_are_all_reported_at_construction(tmp_path: Path) -> None:
    files = simple_templates()
    files["fr/message.html"] = "<p>\n{% if x %}\n"
    files["en/subject.txt"] = "{{ release.subject }\n"
    files["en/message.html"] = '{% extends "missing.html" %}\n'
    templates = write_templates(tmp_path / "tpl", files)
    (templates / "fr" / "message.txt").write_bytes(b"caf\xe9\n")
    campaign = make_campaign(tmp_path, templates=templates)
    with pytest.raises(RenderError) as info:
        Renderer(campaign, load_release(campaign))
    problems = {str(p) for p in info.value.problems}
    assert len(problems) == 4, problems
    tpl = templates.resolve()
    assert any(
        p.startswith(f"{tpl / 'fr/message.html'}:2: template fr/message.html: Unexpected end")
        for p in problems
    )
    assert any(
        p.startswith(f"{tpl / 'en/subject.txt'}:1: template en/subject.txt: ") for p in problems
    )
    assert (
        f"{tpl / 'en/message.html'}: template en/message.html: "
        "refers to 'missing.html', which is not in the folder" in problems
    )
    assert f"{tpl / 'fr/message.txt'}: template fr/message.txt: not UTF-8 text" in problems


def test_missing_templates_folder(tmp_path: Path) -> None:
    campaign = make_campaign(tmp_path)
    with pytest.raises(RenderError, match="templates folder not found"):
        Renderer(campaign, load_release(campaign), templates_dir=tmp_path / "nowhere")


def test_missing_language_template_fails_only_those_contacts(tmp_path: Path) -> None:
    files = {k: v for k, v in simple_templates().items() if k != "en/message.html"}
    renderer = renderer_with(tmp_path, files)
    assert render(renderer).language == "fr"
    message = render_problem(renderer, language="en")
    assert message.startswith("template en/message.html not found in ")


def test_bad_unsubscribe_url_is_refused_at_load_and_again_by_the_renderer(tmp_path: Path) -> None:
    url = "https://agapc.example/désabonnement"
    with pytest.raises(ValueError, match=r"unsubscribe_url[\s\S]*must be ASCII"):
        make_campaign(tmp_path, unsubscribe_url=url)
    campaign = make_campaign(tmp_path)  # a campaign built without the settings' check:
    sender = campaign.sender.model_copy(update={"unsubscribe_url": url})
    campaign = campaign.model_copy(update={"sender": sender})
    with pytest.raises(RenderError, match=r"sender: .* must be ASCII"):
        Renderer(campaign, load_release(campaign))


def test_default_templates_dir_is_the_repo_folder() -> None:
    folder = default_templates_dir()
    assert folder == REPO / "templates"
    for lang in ("fr", "en"):
        for name in ("subject.txt", "message.txt", "message.html"):
            assert (folder / lang / name).is_file()


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Renderer:
    monkeypatch.setenv("DISTRIB_UNSUBSCRIBE_SECRET", SECRET)
    campaign = make_campaign(
        tmp_path, release=EXAMPLE_RELEASE, unsubscribe_url="https://agapc.example/desabonnement"
    )
    return Renderer(campaign, load_release(campaign))


def test_default_templates_with_the_example_release_in_french(example: Renderer) -> None:
    rendered = render(example)
    message = parse(rendered.data)
    assert message["Subject"] == rendered.subject
    assert "Hiver en vitrine" in rendered.subject
    text, html = parts(message)
    # The release first: the summary (the inbox's preview), the label, a one-line greeting,
    # one short paragraph, then the headline and the dateline opening the lead.
    summary = "L’AGAPC investit 485\u00a0000\u00a0$ pour que la rue des Cèdres"
    assert text.startswith(f"{summary}")
    assert "\n\nPour diffusion immédiate\n\nBonjour Zoé,\n\nCe communiqué pourrait" in text
    assert "votre rédaction (Le Devoir)" in text
    assert "\n\nMONTRÉAL, le 4 novembre 2027 – L’Association des gens d’affaires" in text
    assert "– 30 –" in text
    assert "\n-- \nAssociation des gens d'affaires de la Pointe-aux-Cèdres\n" in text
    assert "1200, rue des Cèdres, bureau 300, Montréal (Québec)  H9Z 1A1" in text
    assert "presse@agapc.example" in text and "https://agapc.example/desabonnement" in text
    assert "\n\n\n" not in text
    assert '<html lang="fr-CA">' in html
    # style.css is inlined: classes became style attributes, no <style> sheet is left.
    assert '<p class="greeting" style="margin: 0 0 8px 0;' in html
    assert '<div class="preheader" style="display: none;' in html and summary in html
    assert "<style" not in html
    assert '<h2 style="margin: 20px 0 8px 0;' in html  # the release body is styled too
    assert "<strong>Hiver en vitrine</strong>" in html
    assert 'href="mailto:presse@agapc.example?subject=unsubscribe"' in html
    assert "<script" not in html and "<img" not in html


def test_default_templates_in_english_without_name_or_outlet(example: Renderer) -> None:
    rendered = render(example, language="en", first_name="", last_name="", outlet="")
    text, html = parts(parse(rendered.data))
    assert text.startswith("The Pointe-aux-Cèdres Business Association is investing $485,000")
    assert "\n\nFor immediate release\n\nHello,\n\nWe thought this release might" in text
    assert "-30-" in text
    assert "You are receiving this message because" in text
    assert "SOUS EMBARGO" not in text and "EMBARGOED" not in text
    assert '<html lang="en-CA">' in html
    assert "Hello,</p>" in html


def test_default_templates_show_an_embargo(tmp_path: Path) -> None:
    write_document(tmp_path / "release", "fr", FR_FRONT + "embargo: 2027-11-04T09:00:00-05:00\n")
    campaign = make_campaign(tmp_path, release=tmp_path / "release")
    rendered = render(Renderer(campaign, load_release(campaign)))
    # 4 November 2027 is still daylight time in Toronto (UTC-04:00): -05:00 has no letters then.
    notice = "SOUS EMBARGO jusqu’au 4 novembre 2027, 9\u00a0h (UTC−5)"
    assert f"{notice}\nMerci de ne rien publier avant cette heure." in rendered.text
    assert f"<strong>{notice}</strong>" in rendered.html
