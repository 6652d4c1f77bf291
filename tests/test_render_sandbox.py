"""Templates are untrusted: they run in Jinja2's sandbox, on the fast path and on Jinja2's.

A template shared by a colleague could run a command, read a file or print the SMTP password
from the environment into every message, through Python internals (``cycler.__init__
.__globals__.os``).  Both environments are `ImmutableSandboxedEnvironment`s: such a template
is a render problem naming the template and its line, listed before anything is sent, and the
command never runs.  What templates legitimately do (loops, macros, Babel filters, the
release's ``meta``, string formatting) still works, and the skeleton fast path cannot be used
to get around the sandbox.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment
from typer.testing import CliRunner

from campaign_helpers import write_campaign
from distrib.errors import RenderError
from distrib.release import load_release
from distrib.render import RenderedMessage, Renderer, make_message_id
from distrib.render.context import make_environments
from render_helpers import (
    DATE,
    EN_FRONT,
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
from smtp_server import SMTPTestServer

PASSWORD = "smtp-password-7f3a9c1e"  # put in the environment by the fixture
FILE_SECRET = "file-secret-51d0b2aa"

# {marker}: a file the command would create; {secret}: a file holding FILE_SECRET.
PAYLOADS = {
    "command": '{{{{ cycler.__init__.__globals__.os.popen("touch {marker}").read() }}}}',
    "file": '{{{{ self.__init__.__globals__.__builtins__.open("{secret}").read() }}}}',
    "environment": (
        '{{{{ cycler.__init__.__globals__.os.environ.get("DISTRIB_SMTP_PASSWORD") }}}}'
    ),
    # The same through the attr filter and another global: the sandbox sees every route.
    "attr-filter": (
        '{{{{ (cycler | attr("__init__") | attr("__globals__"))["os"]'
        '.popen("touch {marker}").read() }}}}'
    ),
    "lipsum": '{{{{ lipsum.__globals__["os"].popen("touch {marker}").read() }}}}',
}
TEMPLATE_FILES = ("subject.txt", "message.txt", "message.html")


@pytest.fixture
def secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """The SMTP password in the environment, a secret file, and where a command would write."""
    monkeypatch.setenv("DISTRIB_SMTP_PASSWORD", PASSWORD)
    secret = tmp_path / "secret.txt"
    secret.write_text(FILE_SECRET, encoding="utf-8")
    return {"marker": tmp_path / "pwned", "secret": secret}


def payload(kind: str, secrets: dict[str, Path]) -> str:
    return PAYLOADS[kind].format(marker=secrets["marker"], secret=secrets["secret"])


def inject(templates: Path, file: str, code: str) -> int:
    """Put ``code`` into the French ``file`` of a copy of the built-in templates, for
    contacts whose beat is Culture only; return the line it is on."""
    guarded = f'{{% if contact.beat == "Culture" %}}{code}{{% endif %}}'
    path = templates / "fr" / file
    source = path.read_text(encoding="utf-8")
    if file == "subject.txt":
        path.write_text(guarded + source, encoding="utf-8")
        return 1
    source = source.replace("{% block greeting %}\n", "{% block greeting %}\n" + guarded + "\n")
    path.write_text(source, encoding="utf-8")
    lines = source.split("\n")
    return next(i for i, line in enumerate(lines, 1) if line.startswith(guarded))


def renderer(tmp_path: Path, templates: Path, *, fast_path: bool) -> Renderer:
    campaign = make_campaign(tmp_path, templates=templates)
    return Renderer(campaign, load_release(campaign), fast_path=fast_path)


def render(renderer: Renderer, beat: str) -> RenderedMessage:
    person = make_contact(fields={"beat": beat, "email": "Zoe.Belanger@Exemple.ca"})
    message_id = make_message_id("run", person.key, "agapc.example")
    return renderer.render(person, message_id=message_id, date=DATE)


def assert_nothing_leaked(secrets: dict[str, Path], *outputs: str) -> None:
    assert not secrets["marker"].exists(), "the template ran a command"
    for output in outputs:
        assert FILE_SECRET not in output
        assert PASSWORD not in output


def test_both_template_environments_are_sandboxed(tmp_path: Path) -> None:
    html, text = make_environments(tmp_path)
    assert isinstance(html, ImmutableSandboxedEnvironment)
    assert isinstance(text, ImmutableSandboxedEnvironment)
    assert html.autoescape is True
    assert text.autoescape is False


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast-path", "jinja-path"])
@pytest.mark.parametrize("file", TEMPLATE_FILES)
@pytest.mark.parametrize("kind", list(PAYLOADS))
def test_a_template_reaching_outside_the_sandbox_is_a_problem_naming_it(
    tmp_path: Path, secrets: dict[str, Path], kind: str, file: str, fast_path: bool
) -> None:
    """The unsafe code sits in a branch only Culture journalists take: the others' messages
    are made (on the fast path, from skeletons) and the first Culture journalist's is not."""
    templates = tmp_path / "templates"
    shutil.copytree(REPO / "templates", templates)
    line = inject(templates, file, payload(kind, secrets))
    renderer_ = renderer(tmp_path, templates, fast_path=fast_path)
    outputs = []
    for _ in range(2):
        message = render(renderer_, "Économie")
        outputs += [message.data.decode("ascii"), message.text, message.html, message.subject]
    if fast_path:
        assert renderer_.skeletons.filled > 0  # the second message came from skeletons
    with pytest.raises(RenderError) as info:
        render(renderer_, "Culture")
    [problem] = info.value.problems
    assert problem.code == "unsafe-template"
    assert str(problem.where) == "contacts.csv:2"  # the contact, as every render problem
    assert problem.message.startswith(f"template fr/{file}: not allowed in a template: ")
    assert "is unsafe" in problem.message
    assert f"(line {line})" in problem.message
    assert "sandboxed" in problem.message
    outputs += [str(info.value), problem.message]
    # The journalists who do not take the branch still get their message, unchanged.
    outputs.append(render(renderer_, "Économie").data.decode("ascii"))
    assert_nothing_leaked(secrets, *outputs)


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast-path", "jinja-path"])
def test_an_unguarded_payload_fails_every_message_and_builds_none(
    tmp_path: Path, secrets: dict[str, Path], fast_path: bool
) -> None:
    files = simple_templates(
        subject="{{ release.subject }}" + payload("environment", secrets) + "\n",
        html="<p>{{ contact.first_name }}</p>" + payload("command", secrets) + "\n",
        text="{{ contact.first_name }}\n" + payload("file", secrets) + "\n",
    )
    templates = write_templates(tmp_path / "tpl", files)
    renderer_ = renderer(tmp_path, templates, fast_path=fast_path)
    for beat in ("Économie", "Culture"):
        with pytest.raises(RenderError) as info:
            render(renderer_, beat)
        problems = info.value.problems
        # Every template of the message is reported, each with its line.
        assert [p.code for p in problems] == ["unsafe-template"] * 3
        assert [p.message.split(":")[0] for p in problems] == [
            "template fr/subject.txt",
            "template fr/message.txt",
            "template fr/message.html",
        ]
        assert "(line 2)" in problems[1].message
        assert_nothing_leaked(secrets, str(info.value), *(p.message for p in problems))
    assert renderer_.skeletons.learned == 0


LEGITIMATE = """\
{% set ns = namespace(count=0) %}
{% for link in release.links %}{% set ns.count = ns.count + 1 %}\
{{ loop.index }}/{{ loop.length }} {{ link.title }} <{{ link.url }}>{{ "" if loop.last else "; " }}\
{% endfor +%}
{{ ns.count }} {{ release.meta.theme }} {{ release.meta["theme"] | upper }}
{% for key, value in {"b": 2, "a": 1} | dictsort %}{{ key }}={{ value }} {% endfor %}\
{% for key, value in {"x": 1}.items() %}{{ key }}:{{ value }}{% endfor +%}
{{ "%s/%s" | format(lang, language_tag) }} {{ "{} – {}".format(release.title, lang) }} \
{{ "%d%%" % 50 }}
{{ release.embargo | format_datetime }} | {{ release.embargo | format_date("en") }} | \
{{ release.embargo.year }} | {{ "485000" | format_currency("CAD") }} | {{ 0.25 | format_percent }}\
 | {{ 1234.5 | format_number("en") }}
{{ release.links | map(attribute="title") | join(", ") }} | {{ contact.first_name | upper }} | \
{{ contact.name.split(" ") | first }} | {{ contact.beat.lower() }} | {{ contact.items }}
{% macro tag(x) %}[{{ x }}]{% endmacro %}{{ tag(contact.outlet) }} \
{{ range(3) | list }} {% set c = cycler("a", "b") %}{{ c.next() }}{{ c.next() }}{{ c.next() }} \
{% set j = joiner("|") %}{{ j() }}x{{ j() }}y
{{ release.attachments | length }} {{ documents | length }} {{ languages | join("+") }} \
{{ releases.fr.title | truncate(12, true, "…") }} {{ [3, 1, 2] | sort | join }} \
{{ release.dateline | replace("MONTRÉAL", "Montréal") }}
"""
LEGITIMATE_FR = """\
1/2 Photos <https://agapc.example/photos>; 2/2 Fiche <https://agapc.example/fiche>
2 vitrines VITRINES
a=1 b=2 x:1
fr/fr-CA Lancement d’«\u00a0Hiver en vitrine\u00a0» – fr 50%
4 novembre 2027 à 9 h 00 (UTC-05:00) | November 4, 2027 | 2027 | 485\u00a0000,00\u00a0$ \
| 25\u00a0% | 1,234.5
Photos, Fiche | ZOÉ | Zoé | économie | rubrique
[Le Devoir] [0, 1, 2] aba x|y
0 1 fr Lancement d… 123 Montréal, le 4 novembre 2027 –
"""


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast-path", "jinja-path"])
def test_what_templates_legitimately_do_still_works_in_the_sandbox(
    tmp_path: Path, fast_path: bool
) -> None:
    """Loops, namespaces, macros, cycler/joiner, dict literals and their items(), string
    methods and formatting, the release's meta, Babel filters: all allowed."""
    release = tmp_path / "release"
    front = (
        FR_FRONT + "theme: vitrines\nembargo: 2027-11-04T09:00:00-05:00\nlinks:\n"
        "  - title: Photos\n    url: https://agapc.example/photos\n"
        "  - title: Fiche\n    url: https://agapc.example/fiche\n"
    )
    write_document(release, "fr", front)
    write_document(release, "en", EN_FRONT)
    templates = write_templates(tmp_path / "tpl", simple_templates(text=LEGITIMATE))
    campaign = make_campaign(tmp_path, release=release, templates=templates)
    renderer_ = Renderer(campaign, load_release(campaign), fast_path=fast_path)
    person = make_contact(fields={"beat": "Économie", "items": "rubrique"})
    for _ in range(2):  # the second time from the skeletons, on the fast path
        message = renderer_.render(
            person, message_id=make_message_id("run", person.key, "agapc.example"), date=DATE
        )
        assert message.text == LEGITIMATE_FR
        assert parts(parse(message.data))[0] == LEGITIMATE_FR


def test_the_example_campaign_templates_render_in_the_sandbox(tmp_path: Path) -> None:
    """Every variant of the example templates (fr, en, both; Radio Boréale's override)."""
    campaign = make_campaign(
        tmp_path,
        release=shutil.copytree(
            REPO / "example" / "releases" / "2027-11-hiver-en-vitrine", tmp_path / "release"
        ),
        templates=REPO / "example" / "templates",
        outlets=str(REPO / "example" / "outlets.csv"),
    )
    renderer_ = Renderer(campaign, load_release(campaign), fast_path=False)
    for language in ("fr", "en", "both"):
        for outlet, slug in (("Radio Boréale", "radio-boreale"), ("Le Devoir", "le-devoir")):
            person = make_contact(language=language, outlet=outlet, outlet_slug=slug)
            message = renderer_.render(
                person, message_id=make_message_id("r", person.key, "agapc.example"), date=DATE
            )
            assert message.subject and "Zoé" in message.text and "Zoé" in message.html


# -- before anything is sent: preview lists the problem, send refuses ----------------------------

runner = CliRunner()


def distrib(*args: str) -> tuple[int, str]:
    from distrib.cli import app

    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


@pytest.fixture
def unsafe_campaign(
    tmp_path: Path, secrets: dict[str, Path], smtp_server: SMTPTestServer
) -> Callable[[], Path]:
    def write() -> Path:
        templates = tmp_path / "templates"
        shutil.copytree(REPO / "templates", templates)
        path = templates / "fr" / "message.txt"
        text = path.read_text(encoding="utf-8")
        unsafe = (
            "{% block greeting %}\n" + payload("command", secrets) + payload("environment", secrets)
        )
        path.write_text(text.replace("{% block greeting %}", unsafe), encoding="utf-8")
        return write_campaign(tmp_path / "c", port=smtp_server.port, templates=templates).campaign

    return write


def test_preview_lists_an_unsafe_template_for_each_contact_it_fails(
    tmp_path: Path, secrets: dict[str, Path], unsafe_campaign: Callable[[], Path]
) -> None:
    out_dir = tmp_path / "preview"
    code, out = distrib("preview", str(unsafe_campaign()), "--out", str(out_dir))
    assert code == 1, out
    # The three French contacts of the campaign (one line, with the count); the English ones
    # are fine.
    assert out.count("template fr/message.txt: not allowed in a template") == 1, out
    assert "3 message(s) cannot be rendered" in out and "(3 messages, e.g. " in out
    assert "(line 3)" in out
    written = [p.read_bytes().decode("utf-8", "replace") for p in out_dir.rglob("*") if p.is_file()]
    assert_nothing_leaked(secrets, out, *written)


def test_send_refuses_a_campaign_whose_template_is_unsafe(
    secrets: dict[str, Path], unsafe_campaign: Callable[[], Path], smtp_server: SMTPTestServer
) -> None:
    code, out = distrib("send", str(unsafe_campaign()), "--yes")
    assert code == 1, out
    assert "not allowed in a template" in out
    assert "nothing was sent" in out
    assert smtp_server.messages == []
    assert_nothing_leaked(secrets, out)


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast-path", "jinja-path"])
@pytest.mark.parametrize(
    "code",
    ['{{ "x" * 10**10 }}', "{{ [1, 2] * 100000 }}", "{{ 2 ** 100000000 }}", '{{ 10**8 * "ab" }}'],
)
def test_a_template_cannot_exhaust_memory(tmp_path: Path, code: str, fast_path: bool) -> None:
    """A huge repetition or power is refused like any unsafe operation, before it is built."""
    files = simple_templates(html="<p>{{ contact.first_name }}</p>" + code + "\n")
    templates = write_templates(tmp_path / "tpl", files)
    renderer_ = renderer(tmp_path, templates, fast_path=fast_path)
    with pytest.raises(RenderError) as info:
        render(renderer_, "Culture")
    [problem] = info.value.problems
    assert problem.code == "unsafe-template"
    assert "too large" in problem.message


def test_ordinary_arithmetic_and_repetition_still_work(tmp_path: Path) -> None:
    files = simple_templates(text='{{ "-" * 40 }} {{ 2 ** 10 }} {{ 3 * 4 }} {{ [0] * 3 }}\n')
    templates = write_templates(tmp_path / "tpl", files)
    message = render(renderer(tmp_path, templates, fast_path=True), "Culture")
    assert f"{'-' * 40} 1024 12 [0, 0, 0]" in message.text
