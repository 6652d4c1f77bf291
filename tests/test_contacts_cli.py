"""`distrib contacts check` and `distrib contacts merge`, run through the real CLI."""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from contacts_helpers import DNSStub, write_csv
from distrib.cli import app

runner = CliRunner()

FRENCH = [
    ["Courriel", "Prénom", "Nom", "Média", "Langue"],
    ["zoe@fleuve.example", "Zoé", "Gagnon", "Le Fleuve", "Français"],  # 2
    ["pas-une-adresse@", "Anne", "Roy", "Radio Est", "FR"],  # 3 rejected
    ["luc@fleuve.example", '"=HYPERLINK(""http://x.example"")"', "Lavoie", "Le Fleuve", ""],  # 4
    ["Courriel", "Prénom", "Nom", "Média", "Langue"],  # 5 repeated header
    ["stop@fleuve.example", "Stéphane", "Arrêt", "Le Fleuve", "fr"],  # 6 suppressed
    ["Total", "", "", "", ""],  # 7 total row
]
ENGLISH = [
    ["Email", "First name", "Last name", "Outlet", "Language"],
    ["ZOE@fleuve.example", "Zoe", "Gagnon", "The River", "English"],  # duplicate, 2 conflicts
    ["sam@river.example", "Sam", "Okafor", "The Daily River", "Spanish"],  # unknown language
]


def write_campaign(folder: Path, extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "release").mkdir(exist_ok=True)
    write_csv(folder / "medias.csv", FRENCH, encoding="cp1252", delimiter=";")
    write_csv(folder / "english.csv", ENGLISH)
    (folder / "stop.txt").write_text("stop@fleuve.example\n", encoding="utf-8")
    campaign = folder / "campaign.toml"
    campaign.write_text(
        'name = "Essai"\nrelease = "release"\ndefault_language = "fr"\n'
        'sources = ["medias.csv", "english.csv"]\nsuppression = ["stop.txt"]\n'
        '[sender]\nname = "Presse"\naddress = "presse@organisme.example"\n'
        'organisation = "Organisme"\npostal_address = "1 rue Exemple, Québec"\n' + extra,
        encoding="utf-8",
    )
    return campaign


def distrib(folder: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_check_shows_accounting_languages_conflicts_and_every_set_aside_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # short paths: the summary table is not folded
    campaign = write_campaign(tmp_path)
    code, out = distrib(tmp_path, "contacts", "check", str(campaign))
    assert code == 0, out
    assert "Accounting: 6 rows read = 3 accepted + 1 duplicates + 1 rejected + 1 suppressed" in out
    assert "(adds up)" in out
    assert 'cp1252 (guessed), ";"' in out
    assert "1 header, 1 total" in out
    assert "Languages: fr 3 (sent in fr, the campaign default: 1 missing, 1 unknown)" in out
    assert "Conflicts: 2 (same address, different values)" in out
    lines = out.splitlines()
    assert any(
        line.strip().endswith("medias.csv:3:Courriel: 'pas-une-adresse@' in column Courriel: "
                              "not a valid address (There must be something after the @-sign.)")
        for line in lines
    ), out  # fmt: skip
    assert any("english.csv:2:Outlet: ZOE@fleuve.example: outlet 'The River' differs from "
               "'Le Fleuve'" in line for line in lines), out  # fmt: skip
    assert any("medias.csv:5: this row repeats the header; skipped" in line for line in lines)
    assert any("medias.csv:7: this looks like a total row ('Total'); skipped" in line
               for line in lines)  # fmt: skip


def test_merge_writes_the_list_with_provenance_and_a_rejects_file(tmp_path: Path) -> None:
    campaign = write_campaign(tmp_path / "c")
    output = tmp_path / "merged.csv"
    code, out = distrib(tmp_path, "contacts", "merge", str(campaign), "-o", str(output))
    assert code == 0, out
    assert "Wrote 3 contacts to" in out and "Wrote 1 rejected rows to" in out
    with output.open(encoding="utf-8-sig", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert [r["address"] for r in rows] == [
        "zoe@fleuve.example", "luc@fleuve.example", "sam@river.example",
    ]  # fmt: skip
    zoe, luc, sam = rows
    assert zoe["source"].endswith("medias.csv:2")
    assert zoe["provenance"].split("; ")[1].endswith("english.csv:2")
    assert luc["first_name"] == '\'=HYPERLINK("http://x.example")'  # neutralised
    assert (luc["language"], sam["language"]) == ("fr", "fr")
    with (tmp_path / "merged.rejects.csv").open(encoding="utf-8-sig", newline="") as stream:
        (reject,) = list(csv.DictReader(stream))
    assert (Path(reject["file"]).name, reject["row"], reject["column"], reject["code"]) == (
        "medias.csv", "3", "Courriel", "invalid-address",
    )  # fmt: skip


def test_merge_to_xlsx_keeps_formula_like_text_as_text(tmp_path: Path) -> None:
    campaign = write_campaign(tmp_path / "c")
    output = tmp_path / "merged.xlsx"
    code, out = distrib(tmp_path, "contacts", "merge", str(campaign), "-o", str(output))
    assert code == 0, out
    book = openpyxl.load_workbook(output)
    sheet = book["contacts"]
    header = [c.value for c in sheet[1]]
    luc = list(sheet[3])
    cell = luc[header.index("first_name")]
    assert cell.data_type == "s" and cell.value == '\'=HYPERLINK("http://x.example")'
    assert (tmp_path / "merged.rejects.xlsx").is_file()


def test_merge_refuses_another_format(tmp_path: Path) -> None:
    campaign = write_campaign(tmp_path / "c")
    code, out = distrib(tmp_path, "contacts", "merge", str(campaign), "-o", "merged.json")
    assert code == 2
    assert "must be a .csv or .xlsx file" in out


def test_check_mx_flag_uses_the_campaign_resolver(tmp_path: Path) -> None:
    zone = {"fleuve.example": ["10 mx.fleuve.example."]}  # river.example does not exist
    with DNSStub(zone) as stub:
        campaign = write_campaign(
            tmp_path, f'[contacts]\nmx_nameservers = ["127.0.0.1:{stub.port}"]\nmx_timeout = 2\n'
        )
        code, out = distrib(tmp_path, "contacts", "check", str(campaign))
        assert code == 0 and "no-mail-server" not in out and "no mail server" not in out
        assert stub.asked == []  # off by default: nothing looked up
        code, out = distrib(tmp_path, "contacts", "check", str(campaign), "--check-mx")
    assert code == 0, out
    assert "english.csv:3:Email: 'sam@river.example': no mail server for river.example" in out
    assert "Accounting: 6 rows read = 2 accepted + 1 duplicates + 2 rejected" in out


def test_check_and_preview_set_aside_who_the_delivery_log_suppresses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An opt-out recorded by `distrib unsubscribe` is shown suppressed before any send, as
    `distrib send` will treat it, by `contacts check` and by the preview alike."""
    from campaign_helpers import write_campaign as write_full_campaign
    from distrib.app import collect_preview
    from distrib.config import load_campaign

    monkeypatch.chdir(tmp_path)
    campaign = write_full_campaign(tmp_path / "c", port=2525).campaign  # nothing is sent
    before = {e.contact.address for e in collect_preview(load_campaign(campaign)).entries}
    gone = sorted(before)[0]
    code, out = distrib(tmp_path, "unsubscribe", "-c", str(campaign), gone)
    assert code == 0, out
    code, out = distrib(tmp_path, "contacts", "check", str(campaign))
    assert code == 0, out
    # The address as the list writes it (the log matches it whatever its case).
    assert f"{gone.casefold()} is on a suppression list (delivery log" in out.casefold()
    assert "(adds up)" in out
    # Locations are printed as they are: ":Email:" in one is not an emoji code.
    assert "english.xlsx:Sheet:5:Email: DESABONNE+press@Fleuve.example" in out
    assert "\u2709" not in out
    after = {e.contact.address for e in collect_preview(load_campaign(campaign)).entries}
    assert after == before - {gone}
