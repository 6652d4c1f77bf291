"""Preview: one .eml and one .html per recipient, a safe index, names that stay in the folder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from distrib.errors import Location, Problem
from distrib.preview import safe_stem, write_preview
from distrib.release import load_release
from distrib.render import RenderedMessage, Renderer, make_message_id
from render_helpers import DATE, make_campaign, make_contact, parse


@pytest.fixture
def renderer(tmp_path: Path) -> Renderer:
    campaign = make_campaign(tmp_path)
    return Renderer(campaign, load_release(campaign))


def render(renderer: Renderer, **contact: object) -> RenderedMessage:
    person = make_contact(**contact)
    return renderer.render(
        person, message_id=make_message_id("run", person.key, "agapc.example"), date=DATE
    )


def test_writes_eml_html_and_index(renderer: Renderer, tmp_path: Path) -> None:
    messages = [
        render(renderer),
        render(
            renderer,
            address="marc@journal.example",
            key="marc@journal.example",
            first_name="Marc",
            language="en",
        ),
    ]
    out = tmp_path / "preview"
    result = write_preview(messages, out, title="Hiver en vitrine")
    assert result.out_dir == out
    assert result.index == out / "index.html"
    assert result.messages == 2
    assert dict(result.by_language) == {"en": 1, "fr": 1}
    assert result.problems == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "index.html",
        "marc_at_journal.example.eml",
        "marc_at_journal.example.html",
        "zoe.belanger_at_exemple.ca.eml",
        "zoe.belanger_at_exemple.ca.html",
    ]
    first = result.files[0]
    assert first.eml.read_bytes() == messages[0].data
    assert first.html.read_text(encoding="utf-8") == messages[0].html
    assert parse(first.eml.read_bytes())["To"].addresses[0].display_name == "Zoé Bélanger"
    index = result.index.read_text(encoding="utf-8")
    assert "<title>Hiver en vitrine</title>" in index
    assert 'href="zoe.belanger_at_exemple.ca.html"' in index
    assert 'href="marc_at_journal.example.eml"' in index
    assert "Le Devoir" in index and "Zoé Bélanger" in index
    assert "Problèmes / Problems" not in index


def test_index_escapes_hostile_values_and_loads_nothing(renderer: Renderer, tmp_path: Path) -> None:
    payload = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    message = render(renderer, first_name=payload, outlet='"><svg onload=alert(3)>')
    problem = Problem("<b>bad</b> row", Location("contacts.csv", 7, column="email"), "rejected")
    result = write_preview([message], tmp_path / "p", problems=[problem], title="<i>t</i>")
    index = result.index.read_text(encoding="utf-8")
    assert "<script>alert" not in index
    assert "<img" not in index and "<svg" not in index and "<i>t</i>" not in index
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in index
    assert "contacts.csv:7:email: &lt;b&gt;bad&lt;/b&gt; row" in index
    assert "Problèmes / Problems (1)" in index
    # Self-contained: no script at all, and nothing fetched from elsewhere.
    assert "<script" not in index
    assert not re.search(r"(src|href)=\"(https?:)?//", index)
    assert "default-src 'none'" in index


def test_problems_are_listed_even_without_messages(tmp_path: Path) -> None:
    problems = [Problem(f"row {i} is wrong", Location("contacts.csv", i)) for i in range(2, 5)]
    result = write_preview([], tmp_path / "p", problems=problems)
    index = result.index.read_text(encoding="utf-8")
    assert result.messages == 0 and result.problems == 3
    for i in range(2, 5):
        assert f"contacts.csv:{i}: row {i} is wrong" in index
    assert "No messages" in index


@pytest.mark.parametrize(
    "address",
    [
        "../../etc/passwd@x.example",
        "..@x.example",
        "/abs/path@x.example",
        "a\\b@x.example",
        "con@x.example",
        "index@x.example",
        "\x00@x.example",
        "." * 300 + "@x.example",
        "é@x.example",
    ],
)
def test_file_names_cannot_escape_the_folder(address: str) -> None:
    stem = safe_stem(address, set())
    assert re.fullmatch(r"[a-z0-9._-]{1,81}", stem)
    assert not stem.startswith(".")
    assert stem not in {"index", "con"} and not stem.startswith("con.")


def test_colliding_names_get_suffixes(renderer: Renderer, tmp_path: Path) -> None:
    taken: set[str] = set()
    stems = [safe_stem(a, taken) for a in ("Zoe@Exemple.ca", "zoe@exemple.ca", "zoe@exemple.ca")]
    assert stems == ["zoe_at_exemple.ca", "zoe_at_exemple.ca-2", "zoe_at_exemple.ca-3"]
    messages = [render(renderer, address=a, key=a) for a in ("zoe@exemple.ca", "ZOE@exemple.ca")]
    result = write_preview(messages, tmp_path / "p")
    assert len({f.eml for f in result.files}) == 2
    assert all(f.eml.parent == tmp_path / "p" for f in result.files)


def test_existing_symlink_is_replaced_not_followed(renderer: Renderer, tmp_path: Path) -> None:
    out = tmp_path / "p"
    out.mkdir()
    target = tmp_path / "precious.txt"
    target.write_text("keep me", encoding="utf-8")
    (out / "index.html").symlink_to(target)
    write_preview([render(renderer)], out)
    assert target.read_text(encoding="utf-8") == "keep me"
    assert not (out / "index.html").is_symlink()


# -- linear in the number of recipients (counted, never timed) ---------------------------------


class CountingSet(set[str]):
    """A set that counts its membership tests."""

    lookups = 0

    def __contains__(self, item: object) -> bool:
        CountingSet.lookups += 1
        return super().__contains__(item)


def test_many_addresses_reduced_to_one_stem_cost_a_few_lookups_each() -> None:
    # Addresses that differ only after their 80th character share one stem; each used to try
    # every earlier suffix again (-2, -3, …): n²/2 look-ups.
    prefix = "redaction.nationale.section.politique.internationale.correspondant" * 2
    addresses = [f"{prefix}.{i}@journal.example" for i in range(3000)]
    taken, numbers = CountingSet(), {}
    CountingSet.lookups = 0
    stems = [safe_stem(a, taken, numbers) for a in addresses]
    assert len(set(stems)) == 3000
    assert stems[1] == stems[0] + "-2" and stems[-1] == stems[0] + "-3000"
    assert CountingSet.lookups <= 2 * len(addresses)


def test_the_preview_writer_numbers_colliding_stems_without_rescanning(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from distrib.preview import PreviewWriter

    prefix = "x" * 90
    writer = PreviewWriter(tmp_path / "p")
    writer._taken = CountingSet()  # our own class: count its look-ups
    CountingSet.lookups = 0
    contact = SimpleNamespace(name="N", outlet="O")
    for i in range(1000):
        message = SimpleNamespace(recipient=f"{prefix}{i}@j.example", data=b"x", html="<p>",
                                  preview_html="<p>", contact=contact, language="fr",
                                  subject="s")  # fmt: skip
        writer.add(message)  # type: ignore[arg-type]
    result = writer.finish()
    assert len({f.eml.name for f in result.files}) == 1000
    assert CountingSet.lookups <= 2 * 1000


def test_writing_the_preview_renders_each_message_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from distrib.cli import app
    from preview_helpers import write_preview_campaign

    calls: list[str] = []
    original = Renderer.render

    def counted(self: Renderer, contact: object, **kwargs: object) -> RenderedMessage:
        calls.append(contact.key)  # type: ignore[attr-defined]
        return original(self, contact, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Renderer, "render", counted)
    files = write_preview_campaign(tmp_path)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["preview", str(files.campaign), "--out", str(out)])
    assert result.exit_code == 1, result.output  # one contact cannot be rendered (on purpose)
    written = len(list(out.glob("*.eml")))
    assert written >= 5
    assert len(calls) == len(set(calls)) == written + 1  # each contact once, the failing one too


def test_the_audience_is_kept_out_of_the_collectors_scans_while_rendering(tmp_path: Path) -> None:
    import gc

    from distrib.app import collect_preview
    from distrib.config import load_campaign
    from preview_helpers import write_preview_campaign

    frozen: list[int] = []
    campaign = load_campaign(write_preview_campaign(tmp_path).campaign)
    collect_preview(campaign, on_message=lambda message: frozen.append(gc.get_freeze_count()))
    assert frozen and min(frozen) > 0
    assert gc.get_freeze_count() == 0  # and back to normal afterwards
