"""`Renderer.render` on the fast path against the reference path (Jinja2 + EmailMessage).

The example campaign (French, English and bilingual contacts, an outlet with its own
templates, the outlets sheet, one-click unsubscribe, an attachment) is rendered for random
journalists both ways; every field of the result and the parsed message must match.
"""

from __future__ import annotations

import base64
import os
import random
import shutil
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jinja2.sandbox import ImmutableSandboxedEnvironment

from distrib.contacts.model import Contact
from distrib.errors import Location, RenderError
from distrib.release import load_release
from distrib.render import Renderer, make_message_id
from distrib.render.fastmime import _boundaries
from distrib.render.renderer import RenderedMessage
from render_helpers import DATE, REPO, SECRET, corpus_size, make_campaign, make_contact
from test_render_fast_mime import canonical, check_raw, summary

OUTLETS = [
    ("Le Courrier du Fleuve", "le-courrier-du-fleuve"),
    ("Radio Boréale", "radio-boreale"),  # has its own fr/ templates
    ("The Harbour Herald", "the-harbour-herald"),
    ("", ""),
    ("Valley Tribune", "valley-tribune"),
]
FIRST = ["Zoé", "", "Max", "<b>Léa</b> & Cie", "{{ 7*7 }}", "Hélène-Marie " * 4, "名前"]
LAST = ["Bélanger", "", "O'Brien", 'Tremblay "Jr."']
LOCALS = ["zoe.belanger", "max+media", "zoé", "o'brien"]


def example_release(folder: Path) -> Path:
    """The example release, with a PDF attached to the French document."""
    shutil.copytree(REPO / "example" / "releases" / "2027-11-hiver-en-vitrine", folder)
    (folder / "fiche.pdf").write_bytes(b"%PDF-1.4 fiche technique\n" * 40)
    french = folder / "fr.md"
    text = french.read_text(encoding="utf-8")
    french.write_text(text.replace("---\n", "---\nattachments: [fiche.pdf]\n", 1), "utf-8")
    return folder


def renderers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **keys: object
) -> tuple[Renderer, Renderer]:
    monkeypatch.setenv("DISTRIB_UNSUBSCRIBE_SECRET", SECRET)
    campaign = make_campaign(
        tmp_path,
        release=example_release(tmp_path / "release"),
        outlets=str(REPO / "example" / "outlets.csv"),
        **(
            {
                "templates": REPO / "example" / "templates",
                "unsubscribe_url": "https://agapc.example/desabonnement",
            }
            | keys
        ),  # type: ignore[arg-type]
    )
    release = load_release(campaign)
    return Renderer(campaign, release), Renderer(campaign, release, fast_path=False)


def journalist(rng: random.Random, index: int) -> Contact:
    outlet, slug = rng.choice(OUTLETS)
    local = rng.choice(LOCALS)
    address = f"{local}{index}@media{index % 5}.example"
    beat = rng.choice([None, "Culture", ""])
    return make_contact(
        email=address,
        address=address,
        key=address,
        language=rng.choice(["fr", "en", "both"]),
        first_name=rng.choice(FIRST).strip(),
        last_name=rng.choice(LAST),
        outlet=outlet,
        outlet_slug=slug,
        fields={"email": address} | ({} if beat is None else {"beat": beat}),
    )


def same(fast: RenderedMessage, reference: RenderedMessage, *, full: bool) -> None:
    for field in ("language", "subject", "text", "html", "content_hash", "recipient", "warnings"):
        assert getattr(fast, field) == getattr(reference, field), field
    assert fast.attachments == reference.attachments
    assert canonical(fast.data) == canonical(reference.data)
    if full:
        assert summary(fast.data) == summary(reference.data)


@pytest.mark.parametrize(
    "unsubscribe_url",
    # Without a URL, ``unsubscribe.url`` is None for everyone: still the fast path.
    ["https://agapc.example/desabonnement", None],
)
def test_the_example_campaign_renders_the_same_on_both_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unsubscribe_url: str | None
) -> None:
    fast_renderer, reference_renderer = renderers(
        tmp_path, monkeypatch, unsubscribe_url=unsubscribe_url
    )
    rng = random.Random(11)
    count = corpus_size(explore=300, ci=120)  # every outlet and language, many times over
    for index in range(count):
        person = journalist(rng, index)
        message_id = make_message_id("run", person.key, "agapc.example")
        fast = fast_renderer.render(person, message_id=message_id, date=DATE, sign=False)
        reference = reference_renderer.render(person, message_id=message_id, date=DATE)
        same(fast, reference, full=index % 15 == 0)
        url = fast_renderer._unsubscribe_url(person)
        values = fast_renderer._headers(
            person,
            fast.subject,
            lang=fast.language,
            url=url,
            message_id=message_id,
            date=DATE,
            problems=[],
            where=None,
            test_to=None,
        )
        assert values is not None
        check_raw(fast.data, values)
    # The whole campaign ran on the fast path: Jinja2 only rendered to make the skeletons.
    skeletons = fast_renderer.skeletons
    for lang in ("fr", "en", "both"):
        for _, slug in OUTLETS:
            templates = fast_renderer.templates.get(lang, slug)
            assert templates is not None
            for template in (templates.subject, templates.text, templates.html):
                assert skeletons.fillable(template), template.name
    assert skeletons.filled + skeletons.learned == 3 * count
    assert skeletons.learned < 200
    assert fast_renderer.stdlib_messages == 0
    assert reference_renderer.stdlib_messages == count


def test_a_test_send_and_a_utf8_recipient_take_the_fast_path_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast_renderer, reference_renderer = renderers(tmp_path, monkeypatch)
    person = make_contact(address="zoé@exemple.ca", email="zoé@exemple.ca", key="zoé@exemple.ca")
    message_id = make_message_id("run", person.key, "agapc.example")
    for test_to in (None, "agent@agapc.example"):
        fast = fast_renderer.render(person, message_id=message_id, date=DATE, test_to=test_to)
        reference = reference_renderer.render(
            person, message_id=message_id, date=DATE, test_to=test_to
        )
        same(fast, reference, full=True)
        assert _boundaries(message_id)[0].encode() in fast.data  # written by MessageWriter
        assert _boundaries(message_id)[0].encode() not in reference.data
    assert "zoé@exemple.ca".encode() in fast_renderer.render(person, message_id=message_id).data


def test_the_same_message_renders_to_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast_renderer, _ = renderers(tmp_path, monkeypatch)
    person = make_contact()
    message_id = make_message_id("run", person.key, "agapc.example")
    first = fast_renderer.render(person, message_id=message_id, date=DATE)
    again = fast_renderer.render(person, message_id=message_id, date=DATE)
    assert first.data == again.data  # boundaries come from the Message-ID
    assert fast_renderer.skeletons.filled == 3  # the second time, from the skeletons


def test_a_message_id_the_writer_does_not_cover_goes_to_the_standard_library(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast_renderer, reference_renderer = renderers(tmp_path, monkeypatch)
    person = make_contact()
    for message_id in ("<x(y)@agapc.example>", "<x..y@agapc.example>"):
        fast = fast_renderer.render(person, message_id=message_id, date=DATE)
        same(fast, reference_renderer.render(person, message_id=message_id, date=DATE), full=True)
    assert fast_renderer.stdlib_messages == 2


BAD = ["\r", "\n", "\r\nBcc: victim@example.org", "\x00", "\u2028", "\u2029", "\x85", "\x1b", "\t"]


@pytest.mark.parametrize("bad", BAD, ids=[f"U+{ord(c[0]):04X}" for c in BAD])
def test_control_characters_from_a_contact_are_refused_after_the_skeletons_are_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad: str
) -> None:
    """The subject template prints a contact field (so it is filled from a skeleton) and
    the name goes to To: every such value is still checked before any byte is written."""
    templates = tmp_path / "tpl"
    shutil.copytree(REPO / "templates", templates)
    (templates / "fr" / "subject.txt").write_text(
        "{{ release.subject }} – {{ contact.beat }}\n", encoding="utf-8"
    )
    monkeypatch.setenv("DISTRIB_UNSUBSCRIBE_SECRET", SECRET)
    campaign = make_campaign(tmp_path, templates=templates)
    renderer = Renderer(campaign, load_release(campaign))

    def render(**fields: object) -> RenderedMessage:
        person = make_contact(**fields)
        message_id = make_message_id("run", person.key, "agapc.example")
        return renderer.render(person, message_id=message_id, date=DATE)

    assert render().subject.endswith("– Économie")  # learns the skeletons
    for fields in (
        {"fields": {"beat": f"Cul{bad}ture"}},
        {"first_name": f"Zoé{bad}"},
        {"last_name": f"{bad}Bélanger"},
        {"address": f"zoe{bad}@exemple.ca"},
    ):
        with pytest.raises(RenderError) as info:
            render(**fields)
        assert any(p.code == "header" for p in info.value.problems), fields
        assert all(p.where == Location("contacts.csv", 2) for p in info.value.problems)
    assert renderer.skeletons.filled >= 3
    assert render(fields={"beat": "Culture"}).subject.endswith("– Culture")


def test_dkim_signatures_verify_on_fast_path_messages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    (tmp_path / "dkim.pem").write_bytes(pem)
    dkim_table = {
        "selector": "s2027",
        "domain": "agapc.example",
        "key_file": str(tmp_path / "dkim.pem"),
    }
    fast_renderer, _ = renderers(tmp_path, monkeypatch, dkim=dkim_table)
    rng = random.Random(5)

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"s2027._domainkey.agapc.example."
        return record

    for index in range(6):
        person = journalist(rng, index)
        message_id = make_message_id("run", person.key, "agapc.example")
        message = fast_renderer.render(person, message_id=message_id)
        assert message.data.startswith(b"DKIM-Signature:")
        assert dkim.verify(message.data, dnsfunc=dns)
        tampered = message.data.replace(b"</html>", b"</HTML>")
        assert tampered != message.data
        assert not dkim.verify(tampered, dnsfunc=dns)


def test_outlets_without_a_row_share_their_skeletons(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Skeletons grow with the outlet values templates read, not with the number of outlets."""
    fast_renderer, reference_renderer = renderers(tmp_path, monkeypatch)
    rng = random.Random(8)
    for index in range(120):
        outlet = f"Hebdo régional n° {index % 40}"  # 40 outlets, none in outlets.csv
        person = make_contact(
            first_name=rng.choice(["Zoé", ""]),
            outlet=outlet,
            outlet_slug=f"hebdo-regional-n-{index % 40}",
            address=f"j{index}@media.example",
            key=f"j{index}@media.example",
        )
        message_id = make_message_id("run", person.key, "agapc.example")
        fast = fast_renderer.render(person, message_id=message_id, date=DATE)
        same(fast, reference_renderer.render(person, message_id=message_id, date=DATE), full=False)
        assert outlet in fast.text
    # French only, subject/text/HTML, with and without a first name.
    assert fast_renderer.skeletons.learned <= 6, fast_renderer.skeletons.learned


def test_skeletons_stop_being_made_past_their_memory_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import distrib.render.skeleton

    monkeypatch.setattr(distrib.render.skeleton, "_MAX_CHARACTERS", 1)
    fast_renderer, reference_renderer = renderers(tmp_path, monkeypatch)
    rng = random.Random(9)
    for index in range(40):
        person = journalist(rng, index)
        message_id = make_message_id("run", person.key, "agapc.example")
        fast = fast_renderer.render(person, message_id=message_id, date=DATE)
        same(fast, reference_renderer.render(person, message_id=message_id, date=DATE), full=False)
    assert fast_renderer.skeletons.learned == 1  # then the budget is spent: Jinja2 renders


def test_a_template_that_defeats_tracing_stops_being_traced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each failed trace costs a render: after a few, the template is left to Jinja2."""
    import distrib.render.skeleton

    templates = tmp_path / "templates"
    shutil.copytree(REPO / "example" / "templates", templates)
    # More tests of contact values than a skeleton may hold: every trace gives up.
    tests = "".join(f'{{% if contact.first_name == "b{i}" %}}{i}{{% endif %}}' for i in range(300))
    for lang in ("fr", "en", "both"):
        (templates / lang / "subject.txt").write_text(tests + "Communiqué", "utf-8")
    fast_renderer, reference_renderer = renderers(tmp_path, monkeypatch, templates=templates)
    rng = random.Random(5)
    for index in range(150):
        person = journalist(rng, index)
        message_id = make_message_id("run", person.key, "agapc.example")
        fast = fast_renderer.render(person, message_id=message_id, date=DATE)
        same(fast, reference_renderer.render(person, message_id=message_id, date=DATE), full=False)
    skeletons = fast_renderer.skeletons
    limit = distrib.render.skeleton._MAX_FAILED_TRACES
    # At most `limit` failures per subject template (fr, en, both, Radio Boréale's fr).
    assert 0 < skeletons.traces_failed <= 4 * limit
    assert skeletons.traces_failed < 150
    french = fast_renderer.templates.get("fr", "")
    assert french is not None
    assert not skeletons.fillable(french.subject)
    assert skeletons.fillable(french.text)  # the other templates still take the fast path


def test_an_unsafe_branch_fails_the_same_journalists_on_both_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Radio Boréale's override reaches for Python internals, for journalists without a first
    name only: the sandbox refuses exactly those messages on both paths, whatever skeletons
    the fast path made from the others."""
    templates = tmp_path / "templates"
    shutil.copytree(REPO / "example" / "templates", templates)
    override = templates / "outlets" / "radio-boreale" / "fr" / "message.html"
    unsafe = (
        "{% if not contact.first_name %}{{ cycler.__init__.__globals__.os.getcwd() }}{% endif %}"
    )
    source = override.read_text(encoding="utf-8")
    override.write_text(
        source.replace("{% block intro %}\n", "{% block intro %}\n" + unsafe), "utf-8"
    )
    fast_renderer, reference_renderer = renderers(tmp_path, monkeypatch, templates=templates)
    for renderer in (fast_renderer, reference_renderer):
        for environment in (renderer.templates.html_env, renderer.templates.text_env):
            assert isinstance(environment, ImmutableSandboxedEnvironment)
    rng = random.Random(21)
    refused = 0
    for index in range(200):
        person = journalist(rng, index)
        message_id = make_message_id("run", person.key, "agapc.example")
        try:
            reference = reference_renderer.render(person, message_id=message_id, date=DATE)
        except RenderError as exc:
            with pytest.raises(RenderError) as info:
                fast_renderer.render(person, message_id=message_id, date=DATE)
            assert info.value.problems == exc.problems
            [problem] = exc.problems
            assert problem.code == "unsafe-template"
            assert "template outlets/radio-boreale/fr/message.html: not allowed" in problem.message
            assert os.getcwd() not in problem.message
            refused += 1
            continue
        fast = fast_renderer.render(person, message_id=message_id, date=DATE)
        same(fast, reference, full=False)
    assert 0 < refused < 200
    assert fast_renderer.skeletons.filled > 0
