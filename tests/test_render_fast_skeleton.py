"""Template skeletons: the static check's verdicts, and skeleton output == Jinja2 output.

Every template below, and hundreds of random ones put together from the same snippets, is
rendered for random contacts both by Jinja2 and through `Skeletons` (fill, or render and learn,
as `Renderer.render` does); the two outputs must be identical, character for character.  The
environments are distrib's, so Jinja2 here is the sandboxed one: a contact for whom the
sandbox refuses the template (an unsafe branch only some contacts take) must never get a
skeleton made from another contact.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2 import Environment, Template
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from distrib.contacts.model import Contact
from distrib.render.context import LanguageValues, TemplateValues, build_context, make_environments
from distrib.render.skeleton import Skeletons, template_analysis, template_is_fillable
from render_helpers import REPO

# (snippet, fillable): fillable ones only print or test contact values.
FILLABLE = [
    "{{ contact.first_name }}",
    "{{ contact['last_name'] }}",
    "{{ contact.last_name ~ ' / ' ~ contact.outlet }}",
    "{% if contact.first_name %}Bonjour {{ contact.first_name }},{% else %}Bonjour,{% endif %}",
    "{{ 'Hello ' ~ contact.first_name ~ ',' if contact.first_name else 'Hello,' }}",
    "{{ contact.beat | default('(none)') }}",
    "{{ contact.beat | default('(blank)', true) }}",
    "{% if contact.beat is defined %}<{{ contact.beat }}>{% endif %}",
    "{% if contact.beat is undefined %}no beat{% endif %}",
    "{% if contact.outlet == 'Le Devoir' %}LD"
    "{% elif contact.outlet != 'Radio' %}{{ contact.outlet }}{% endif %}",
    "{% if 'Culture' == contact.beat %}culture!{% endif %}",
    "{{ contact.first_name or 'ami' }}",
    "{{ contact.first_name and contact.last_name }}",
    "{% if not contact.email %}no email{% endif %}",
    "{% if contact.first_name and not contact.last_name %}first only{% endif %}",
    "{% for link in links %}{{ loop.index }}:{{ link }}={{ contact.first_name }};{% endfor %}",
    "{% if unsubscribe.url %}<{{ unsubscribe.url }}>{% endif %}{{ unsubscribe.mailto }}",
    "{{ contact.language }}|{{ contact.outlet_slug }}|{{ lang }}",
    "{% set greeting = 'Salut' %}{{ greeting }} {{ contact.name }}",
    "{% if contact.email is none %}none{% endif %}",
    "\n<p>é & <b>{{ contact.address }}</b></p>\n\n",
    "{{ outlet.pitch }}{{ release.title }}",
    "{% set ns = namespace(n=0) %}"
    "{% if contact.first_name %}{% set ns.n = 1 %}{% endif %}{{ ns.n }}",
    # The sandbox refuses these branches; only the contacts who take them fail.
    "{% if contact.beat == 'Culture' %}{{ cycler.__init__.__globals__.os }}{% endif %}",
    "{{ contact.first_name }}{% if contact.first_name == 'Max' %}{{ ''.__class__ }}{% endif %}",
    "{% if not contact.last_name %}{{ links.append('x') }}{% endif %}{{ links | join }}",
    "{{ '{} / {}'.format(release.title, lang) }}",
]
NOT_FILLABLE = [
    "{{ contact.first_name | upper }}",
    "{{ contact.first_name | length }}",
    "{{ contact.first_name | e }}",
    "{% set n = contact.first_name %}{{ n }}",
    "{% set n %}{{ contact.first_name }}{% endset %}{{ n | upper }}",
    "{% filter upper %}{{ contact.first_name }}{% endfilter %}",
    "{{ contact }}",
    "{{ contact.first_name[0] }}",
    "{% for c in contact.first_name %}{{ c }}.{% endfor %}",
    "{{ '%s!' % contact.first_name }}",
    "{% if contact.first_name in ['Zoé', 'Max'] %}known{% endif %}",
    "{% if contact.first_name | length > 3 %}long{% endif %}",
    "{% if contact.first_name == contact.last_name %}same{% endif %}",
    "{% if contact.first_name ~ '' %}x{% endif %}",
    "{% if contact.first_name is string %}str{% endif %}",
    "{% with n = contact.first_name %}{{ n }}{% endwith %}",
    "{% for contact in links %}{{ contact }}{% endfor %}",
    "{{ contact.first_name.upper() }}",
    "{{ links | random }}",
    "{% autoescape false %}{{ contact.first_name }}{% endautoescape %}",
    "{{ unsubscribe }}",
    "{{ contact | attr('first_name') }}",
    "{{ contact[contact.first_name] | default('') }}",
    "{% if contact.first_name %}{{ self.__init__ }}{% endif %}",
]
# A macro that prints a contact value may only be called as {{ m(…) }}.
MACROS = [
    ("{% macro m{n}(x) %}[{{ x }} {{ contact.first_name }}]{% endmacro %}{{ m{n}('a') }}", True),
    ("{% macro m{n}() %}{{ contact.first_name }}{% endmacro %}{{ m{n}() | upper }}", False),
    ("{% macro m{n}() %}{{ contact.first_name }}{% endmacro %}{% set x = m{n}() %}{{ x }}", False),
    (
        "{% macro m{n}() %}{% if contact.beat is defined %}b{% endif %}{% endmacro %}"
        "{{ m{n}() | upper }}",
        True,
    ),
]

FIRST = ["", "Zoé", "Max", "<b>&'\"", "{{ 7*7 }}", "Bonjour", "Hélène " * 5, "名前", "x"]
LAST = ["", "Bélanger", "O'Brien", "Zoé", "<i>"]
OUTLETS = ["", "Le Devoir", "Radio", "The Harbour Herald & Co"]
BEATS: list[str | None] = [None, "", "Culture", "Économie", "<script>"]


def contact(rng: random.Random) -> Contact:
    first, last, outlet, beat = (rng.choice(x) for x in (FIRST, LAST, OUTLETS, BEATS))
    fields = {"email": "z@x.example"} | ({} if beat is None else {"beat": beat})
    return Contact(
        email=rng.choice(["z@x.example", "Zoé.B@Exemple.ca"]),
        address="z@x.example",
        key=f"k{rng.random()}",
        language="fr",
        first_name=first,
        last_name=last,
        outlet=outlet,
        outlet_slug="slug",
        fields=fields,
    )


def shared() -> LanguageValues:
    release = TemplateValues("release", {"title": "Hiver & <vitrine>", "language": "fr"})
    sender = TemplateValues("sender", {"name": "AGAPC"})
    return LanguageValues(
        lang="fr",
        languages=("fr",),
        documents=(release,),
        releases=TemplateValues("releases", {"fr": release}),
        sender=sender,
        language_tag="fr-CA",
    )


def context_for(person: Contact, url: str | None) -> dict[str, Any]:
    unsubscribe = {"mailto": "d@a.example", "mailto_uri": "mailto:d@a.example", "url": url}
    outlet = {"pitch": "<em>Pitch</em>", "name": person.outlet, "slug": "slug"}
    values = build_context(person, shared(), unsubscribe=unsubscribe, outlet=outlet)
    return values | {"links": ["a", "b<"]}


def check_same_output(
    template: Template, skeletons: Skeletons, rng: random.Random, count: int = 30
) -> int:
    """Render ``count`` random contacts both ways, the way `Renderer.render` does; return how
    many renders the sandbox refused."""
    refused = 0
    for _ in range(count):
        person = contact(rng)
        url = rng.choice([None, f"https://a.example/u?token={rng.randint(0, 9)}&x=<y>"])
        context = context_for(person, url)
        try:
            expected = template.render(context)
        except Exception as exc:
            assert skeletons.fill(template, "v", person, url) is None
            refused += isinstance(exc, SecurityError)
            continue
        parts = skeletons.fill(template, "v", person, url)
        if parts is None:
            skeletons.learn(
                template, "v", contact=person, url=url, context=context, output=expected
            )
        else:
            assert "".join(parts) == expected, (template.name, person)
    return refused


@pytest.fixture(scope="module")
def environments(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Environment, Environment]:
    folder = tmp_path_factory.mktemp("templates")
    html, text = make_environments(folder)
    return folder, html, text


def load(
    setup: tuple[Path, Environment, Environment], name: str, source: str, html: bool
) -> Template:
    folder, html_env, text_env = setup
    (folder / name).write_text(source, encoding="utf-8")
    return (html_env if html else text_env).get_template(name)


@pytest.mark.parametrize("html", [False, True], ids=["text", "html"])
@pytest.mark.parametrize(
    ("index", "fillable"),
    [(i, True) for i in range(len(FILLABLE))] + [(i, False) for i in range(len(NOT_FILLABLE))],
)
def test_each_snippet_gets_its_verdict_and_the_same_output(
    environments: tuple[Path, Environment, Environment], index: int, fillable: bool, html: bool
) -> None:
    source = (FILLABLE if fillable else NOT_FILLABLE)[index]
    name = f"{'f' if fillable else 'n'}{index}.{'html' if html else 'txt'}"
    template = load(environments, name, source, html)
    assert isinstance(template.environment, ImmutableSandboxedEnvironment)
    assert template_is_fillable(template.environment, name) is fillable, source
    skeletons = Skeletons()
    refused = check_same_output(template, skeletons, random.Random(index), count=60)
    # Private attributes and changing a list are refused, for the contacts who get there.
    assert (refused > 0) is ("__" in source or ".append(" in source), source
    if fillable:
        assert skeletons.filled > 0, "the skeleton was never used"
    else:
        assert skeletons.filled == skeletons.learned == 0


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_random_templates_render_exactly_as_jinja(
    environments: tuple[Path, Environment, Environment], data: st.DataObject
) -> None:
    """Templates made of random snippets (fillable or not), text and HTML."""
    count = data.draw(st.integers(1, 6))
    chosen = data.draw(
        st.lists(
            st.sampled_from([(s, True) for s in FILLABLE] + [(s, False) for s in NOT_FILLABLE]),
            min_size=count,
            max_size=count,
        )
    )
    macros = data.draw(st.lists(st.sampled_from(MACROS), max_size=2))
    pieces = chosen + [(m.replace("{n}", str(i)), ok) for i, (m, ok) in enumerate(macros)]
    data.draw(st.randoms()).shuffle(pieces)
    source = "\n".join(f"({i}) {snippet}" for i, (snippet, _) in enumerate(pieces))
    html = data.draw(st.booleans())
    name = f"r{abs(hash((source, html)))}.{'html' if html else 'txt'}"
    template = load(environments, name, source, html)
    expected = all(ok for _, ok in pieces)
    assert template_is_fillable(template.environment, name) is expected, source
    check_same_output(template, Skeletons(), data.draw(st.randoms()), count=25)


def test_inheritance_and_includes_are_checked_through(
    environments: tuple[Path, Environment, Environment],
) -> None:
    folder, _, text = environments
    (folder / "base.txt").write_text(
        "{% block a %}{% endblock %}|{% include 'inc.txt' %}", encoding="utf-8"
    )
    (folder / "inc.txt").write_text("{{ contact.first_name }}", encoding="utf-8")
    (folder / "bad_inc.txt").write_text("{{ contact.first_name | upper }}", encoding="utf-8")
    cases = {
        "child.txt": ("{% extends 'base.txt' %}{% block a %}[{{ super() }}]{% endblock %}", True),
        "child_bad.txt": (
            "{% extends 'base.txt' %}{% block a %}{{ super() | upper }}{% endblock %}",
            False,
        ),
        "uses_bad.txt": ("{% include 'bad_inc.txt' %}", False),
        "captured.txt": ("{% set x %}{% include 'inc.txt' %}{% endset %}{{ x }}", False),
        "dynamic.txt": ("{% include contact.first_name ~ '.txt' ignore missing %}", False),
        "self.txt": (
            "{% block b %}{{ contact.first_name }}{% endblock %}{{ self.b() | upper }}",
            False,
        ),
        "imports.txt": ("{% import 'macros.txt' as contact %}{{ contact.m() }}", False),
    }
    (folder / "macros.txt").write_text("{% macro m() %}{{ 1 }}{% endmacro %}", encoding="utf-8")
    for name, (source, fillable) in cases.items():
        (folder / name).write_text(source, encoding="utf-8")
        assert template_is_fillable(text, name) is fillable, name
        if "contact.first_name ~" not in source and "import" not in source:
            check_same_output(text.get_template(name), Skeletons(), random.Random(1), count=30)


def test_an_imported_macro_printing_contact_values_is_not_filled(
    environments: tuple[Path, Environment, Environment],
) -> None:
    folder, _, text = environments
    (folder / "hello.txt").write_text(
        "{% macro hi() %}{{ contact.first_name }}{% endmacro %}", encoding="utf-8"
    )
    (folder / "importer.txt").write_text(
        "{% import 'hello.txt' as h with context %}{{ h.hi() | upper }}", encoding="utf-8"
    )
    assert not template_is_fillable(text, "importer.txt")


def test_guards_pick_the_skeleton_of_each_contact(
    environments: tuple[Path, Environment, Environment],
) -> None:
    """One skeleton per outcome of the tests, each reused for the contacts it fits."""
    source = (
        "{% if contact.first_name %}Bonjour {{ contact.first_name }}{% else %}Bonjour{% endif %}"
    )
    template = load(environments, "guards.txt", source, False)
    skeletons = Skeletons()
    rng = random.Random(3)
    check_same_output(template, skeletons, rng, count=200)
    assert skeletons.learned == 2  # with and without a first name
    assert skeletons.filled >= 190


def test_a_failing_render_is_left_to_jinja(
    environments: tuple[Path, Environment, Environment],
) -> None:
    """A field only some contacts have, without ``is defined``: those without it get Jinja2's
    error, never a skeleton made from someone else."""
    template = load(environments, "strict.txt", "{{ contact.beat }}!", False)
    skeletons = Skeletons()
    check_same_output(template, skeletons, random.Random(5), count=100)
    assert skeletons.filled > 0


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ outlet.pitch }}{% if outlet['desk'] %}x{% endif %}", (True, ("desk", "pitch"))),
        ("{{ release.title }}", (True, ())),
        ("{{ outlet }}", (True, None)),
        ("{% for k in outlet %}{{ k }}{% endfor %}", (True, None)),
        ("{% for outlet in links %}{{ outlet }}{% endfor %}", (True, None)),
        ("{{ outlet.pitch | upper }}{{ contact.first_name | upper }}", (False, None)),
    ],
)
def test_the_analysis_names_the_outlet_fields_a_template_reads(
    environments: tuple[Path, Environment, Environment],
    source: str,
    expected: tuple[bool, tuple[str, ...] | None],
) -> None:
    """Outlets whose read fields are equal share a variant; any other use of ``outlet``
    makes every outlet value part of it."""
    template = load(environments, f"o{abs(hash(source))}.txt", source, False)
    assert template_analysis(template.environment, str(template.name)) == expected


def test_the_example_templates_read_two_outlet_fields() -> None:
    _, text = make_environments(REPO / "example" / "templates")
    html, _ = make_environments(REPO / "example" / "templates")
    assert template_analysis(text, "fr/message.txt") == (True, ("pitch",))
    assert template_analysis(html, "outlets/radio-boreale/fr/message.html") == (
        True,
        ("desk", "pitch"),
    )
