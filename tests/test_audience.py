"""Audiences: rules by any column of the lists (French or English names, any case or accent),
tags, lists, languages, segments; unknown values and columns are errors listing what exists."""

from __future__ import annotations

import pytest

from distrib.app import Selection, load_audience, open_release
from distrib.config import Campaign
from distrib.contacts import load_contacts
from distrib.contacts.audience import KeyRule, Rule
from distrib.errors import AudienceError, InvalidRequestError
from workspace_helpers import CULTURE, FIRST, LANGUAGES, write_workspace


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> Campaign:
    ws = write_workspace(tmp_path_factory.mktemp("audience") / "ws", port=2525)
    return open_release(ws.release(FIRST))


def chosen(campaign: Campaign, *rules: Rule | KeyRule) -> set[str]:
    return {c.address for c in load_contacts(campaign, audience=rules).contacts}


def test_a_column_is_named_in_french_or_english_and_values_ignore_case_and_accents(
    campaign: Campaign,
) -> None:
    # "Rubrique" in the French list, "Beat" in the English sheet: both are the beat.
    for column in ("beat", "Rubrique", "RUBRIQUE", "secteur"):
        assert chosen(campaign, Rule("r", column, ("culture",))) == CULTURE, column
    assert chosen(campaign, Rule("r", "rubrique", ("economie",))) == {
        "luc@fleuve.example",
        "anne@estrie.example",
    }
    assert chosen(campaign, Rule("r", "région", ("MONTREAL",))) == {
        "zoe@fleuve.example",
        "luc@fleuve.example",
    }


def test_tags_hold_several_values(campaign: Campaign) -> None:
    assert chosen(campaign, Rule("r", "étiquettes", ("VIP",))) == {
        "zoe@fleuve.example",
        "luc@fleuve.example",
    }
    assert chosen(campaign, Rule("r", "tags", ("affaires", "arts"))) == {
        "zoe@fleuve.example",
        "lea@estrie.example",
        "luc@fleuve.example",
    }


def test_lists_languages_and_exclusions(campaign: Campaign) -> None:
    english = {"sam@river.example", "mia@river.example", "lucas@river.example"}
    assert chosen(campaign, Rule("r", "list", ("english media",))) == english
    assert chosen(campaign, Rule("r", "liste", ("medias.csv",))) == set(LANGUAGES) - english
    # The language the contact reads (after the list's fallback), written any way.
    assert chosen(campaign, Rule("r", "langue", ("English",))) == english
    assert chosen(
        campaign, Rule("r", "beat", ("Culture",)), Rule("x", "language", ("en",), True)
    ) == {
        "zoe@fleuve.example",
        "lea@estrie.example",
    }
    assert chosen(campaign, KeyRule("k", frozenset({"sam@river.example"}), exclude=True)) == (
        set(LANGUAGES) - {"sam@river.example"}
    )


def test_everyone_left_out_is_listed_and_counted_under_the_first_rule_that_did(
    campaign: Campaign,
) -> None:
    book = load_contacts(
        campaign,
        audience=(Rule("--only beat=Culture", "beat", ("Culture",)),
                  Rule("--exclude region=Estrie", "region", ("Estrie",), exclude=True)),
    )  # fmt: skip
    assert {c.address for c in book.contacts} == CULTURE - {"lea@estrie.example"}
    assert book.audience is not None
    assert (book.audience.merged, book.audience.kept, book.audience.out) == (8, 3, 5)
    assert book.audience.left_out == {"--only beat=Culture": 4, "--exclude region=Estrie": 1}
    reasons = sorted(str(p).rpartition("/")[2] for p in book.outside)
    assert reasons == [
        "english.xlsx:Sheet:3: mia@river.example: not in the audience: --only beat=Culture"
        " (beat: Business)",
        "medias.csv:3: marc@fleuve.example: not in the audience: --only beat=Culture"
        " (beat: Politique)",
        "medias.csv:4: lea@estrie.example: not in the audience: --exclude region=Estrie"
        " (region: Estrie)",
        "medias.csv:5: luc@fleuve.example: not in the audience: --only beat=Culture"
        " (beat: Économie)",
        "medias.csv:6: anne@estrie.example: not in the audience: --only beat=Culture"
        " (beat: Économie)",
    ]
    assert book.adds_up
    # Language warnings are those of the audience only (Anne and Mia are left out).
    assert [w.code for w in book.language_fallbacks] == ["language-list-unknown"]
    assert not any("Anne" in str(w) or ":6:" in str(w) for w in book.warnings)


def test_a_value_nobody_has_is_an_error_listing_the_known_values(campaign: Campaign) -> None:
    with pytest.raises(AudienceError) as exc:
        load_contacts(campaign, audience=(Rule("--only beat=Sport", "beat", ("Sport", "culture")),))
    assert [str(p) for p in exc.value.problems] == [
        "--only beat=Sport: no contact has beat 'Sport' (the lists have: Business (1),"
        " Culture (4), Économie (2), Politique (1))"
    ]


def test_a_column_no_list_has_is_an_error_listing_the_columns(campaign: Campaign) -> None:
    with pytest.raises(AudienceError) as exc:
        load_contacts(campaign, audience=(Rule("--only circonscription=X", "circonscription",
                                                ("X",)),))  # fmt: skip
    (problem,) = exc.value.problems
    assert str(problem).startswith(
        "--only circonscription=X: no list has a column 'circonscription' (columns: beat, city,"
    )
    assert "language, list, outlet" in str(problem) and "tags" in str(problem)


def test_command_line_rules_segments_and_their_mistakes(campaign: Campaign) -> None:
    book = load_audience(campaign, Selection(only=("segment=culture",)))
    assert {c.address for c in book.contacts} == CULTURE
    assert book.audience is not None
    assert book.audience.rules == ("segment culture: include rubrique=Culture",)
    for wrong in (Selection(only=("beat",)), Selection(only=("=Culture",)),
                  Selection(exclude=("segment=culture",))):  # fmt: skip
        with pytest.raises(InvalidRequestError):
            load_audience(campaign, wrong)
    with pytest.raises(AudienceError, match=r"no segment 'sport' \(segments: culture\)"):
        load_audience(campaign, Selection(only=("segment=sport",)))
    with pytest.raises(AudienceError, match="nothing was sent yet"):
        load_audience(campaign, Selection(only=("received=2026-12-noel",)))
