"""distrib speaks French and English: every message the command line, the HTML report and the web
pages mark is in the one French catalogue, with the same placeholders; `--lang`, DISTRIB_LANG
and the locale choose; the report and the send summary really come out in French."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from campaign_helpers import CampaignFiles, write_campaign
from distrib.cli import app
from distrib.i18n import extract_messages, pick_language, translator
from smtp_server import SMTPTestServer

CATALOGUE = Path(__file__).resolve().parents[1] / "src" / "distrib" / "locale" / "fr.po"
runner = CliRunner()


def placeholders(text: str) -> set[str]:
    return set(re.findall(r"\{[a-z_]*\}|%\([a-z_]+\)s|%%", text))


def catalogue() -> dict[str, str]:
    from babel.messages.pofile import read_po

    with CATALOGUE.open("rb") as file:
        return {str(m.id): str(m.string) for m in read_po(file, locale="fr") if m.id}


def test_every_marked_message_has_its_french_with_the_same_placeholders() -> None:
    french = catalogue()
    marked = {str(key) for _, _, key in extract_messages()}
    assert marked, "nothing extracted"
    missing = sorted(marked - {k for k, v in french.items() if v})
    assert not missing, (
        f"translate these in {CATALOGUE.name} (scripts/update-catalogue.py): {missing}"
    )
    for message in marked:
        assert placeholders(french[message]) == placeholders(message), message
    stale = sorted(set(french) - marked)
    assert not stale, f"no longer in the code (scripts/update-catalogue.py drops them): {stale}"


def test_a_translator_falls_back_to_english_and_spaces_french() -> None:
    french = translator("fr")
    assert french.gettext("Nothing to send.") == "Rien à envoyer."
    assert french.gettext("a message nobody marked") == "a message nobody marked"
    assert translator("de").gettext("Nothing to send.") == "Nothing to send."
    # French typography in the catalogue too: a non-breaking space before the colon.
    assert french.gettext("relay: {relay}, {security}") == "relais\u00a0: {relay}, {security}"


def test_the_web_pages_and_the_command_line_share_one_catalogue() -> None:
    from distrib.web import i18n as web

    marked = {name for name, _, _ in extract_messages()}
    assert "web/templates/base.html" in marked and "web/pages_setup.py" not in marked
    assert "cli/ui.py" in marked and "web/uploads.py" in marked  # refusals, kinds of file
    words, page = translator("fr"), web.translator("fr")
    assert page("Settings") == words.gettext("Settings") == "Paramètres"
    assert page("Status") == words.gettext("Status")  # a word both say: translated once
    assert page("The file is larger than {size}.", size="2 MB") == "Le fichier dépasse 2 MB."
    assert web.translator("en")("Settings") == "Settings"
    assert not [n for n in vars(web) if n.isupper() and isinstance(getattr(web, n), dict)]


@pytest.mark.parametrize(
    ("explicit", "environ", "expected"),
    [
        ("fr", {"DISTRIB_LANG": "en", "LANG": "en_CA.UTF-8"}, "fr"),
        (None, {"DISTRIB_LANG": "fr", "LANG": "en_CA.UTF-8"}, "fr"),
        (None, {"LC_ALL": "fr_CA.UTF-8", "LANG": "en_CA.UTF-8"}, "fr"),
        (None, {"LC_MESSAGES": "en_US.UTF-8", "LANG": "fr_CA.UTF-8"}, "en"),
        (None, {"LANG": "fr_CA.UTF-8"}, "fr"),
        (None, {"LANG": "C.UTF-8"}, "en"),
        (None, {}, "en"),
    ],
)
def test_the_language_comes_from_lang_then_the_environment_then_the_locale(
    explicit: str | None, environ: dict[str, str], expected: str
) -> None:
    assert pick_language(explicit, environ) == expected


@pytest.fixture
def campaign(tmp_path: Path, smtp_server: SMTPTestServer) -> CampaignFiles:
    return write_campaign(tmp_path / "c", port=smtp_server.port)


def test_send_and_the_html_report_in_french(
    campaign: CampaignFiles, smtp_server: SMTPTestServer, tmp_path: Path
) -> None:
    result = runner.invoke(app, ["--lang", "fr", "send", str(campaign.campaign), "--yes"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Campagne quays\u00a0: 5 message(s) à envoyer" in out
    assert "relais\u00a0: 127.0.0.1:" in out and "non chiffré" in out
    assert "Pour diffusion immédiate" in out  # the French version's label
    report = tmp_path / "rapport.html"
    result = runner.invoke(
        app, ["--lang", "fr", "report", "--campaign", str(campaign.campaign), "--html", str(report)]
    )
    assert result.exit_code == 0, result.output
    assert "Rapport HTML écrit dans" in result.output
    html = report.read_text(encoding="utf-8")
    assert '<html lang="fr">' in html
    assert "Rapport d’envoi\u00a0: quays" in html and "Qui l’a reçu" in html
    assert "Delivery report" not in html and "Who received it" not in html
    # English again without --lang (DISTRIB_LANG=en in the tests' environment).
    result = runner.invoke(
        app, ["report", "--campaign", str(campaign.campaign), "--html", str(report)]
    )
    assert "Delivery report: quays" in report.read_text(encoding="utf-8")
    result = runner.invoke(app, ["--lang", "de", "runs", "--log", str(campaign.log)])
    assert result.exit_code == 2 and "fr or en" in result.output


def test_a_workspace_can_choose_the_language_distrib_speaks_in(
    campaign: CampaignFiles, smtp_server: SMTPTestServer, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """``interface_language = "fr"`` in the settings: the send summary and the HTML report in
    French without --lang; --lang and DISTRIB_LANG still choose for one person."""
    text = campaign.campaign.read_text(encoding="utf-8")
    campaign.campaign.write_text('interface_language = "fr"\n' + text, encoding="utf-8")
    monkeypatch.delenv("DISTRIB_LANG", raising=False)
    monkeypatch.setenv("LANG", "en_CA.UTF-8")
    result = runner.invoke(app, ["send", str(campaign.campaign), "--yes"])
    assert result.exit_code == 0, result.output
    assert "Campagne quays\u00a0: 5 message(s) à envoyer" in result.output
    report = tmp_path / "rapport.html"
    args = ["report", "--campaign", str(campaign.campaign), "--html", str(report)]
    assert runner.invoke(app, args).exit_code == 0
    assert "Rapport d’envoi\u00a0: quays" in report.read_text(encoding="utf-8")
    assert runner.invoke(app, ["--lang", "en", *args]).exit_code == 0
    assert "Delivery report: quays" in report.read_text(encoding="utf-8")
    monkeypatch.setenv("DISTRIB_LANG", "en")
    assert runner.invoke(app, args).exit_code == 0
    assert "Delivery report: quays" in report.read_text(encoding="utf-8")
