"""Writing fr.md/en.md: an edited file is never replaced without --force; the CLI around it."""

from __future__ import annotations

import os
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from typer.testing import CliRunner

from distrib.cli import app
from distrib.importing import ReleaseOverwriteError, import_release
from distrib.importing.write import front_matter_text
from import_helpers import english_docx, french_docx, png_bytes

TORONTO = ZoneInfo("America/Toronto")


def test_front_matter_round_trips_through_the_release_loader() -> None:
    front = {
        "title": "Hiver en vitrine : 485 000 $",
        "subject": "« Oui » : non # pas un commentaire",
        "dateline": "MONTRÉAL, le 4 novembre 2027 –",
        "summary": "- pas une liste",
        "attachments": ("images/fr-1.png",),
        "about": "### À propos\n\nTexte : suite",
    }
    text = front_matter_text(front)
    assert text.splitlines()[0] == "title: 'Hiver en vitrine : 485 000 $'"
    loaded = yaml.load(text, Loader=yaml.BaseLoader)  # what distrib.release reads with
    assert loaded == {**front, "attachments": ["images/fr-1.png"]}


def test_reimport_replaces_what_it_wrote_but_not_an_edited_file(tmp_path: Path) -> None:
    source = french_docx().save(tmp_path / "v1.docx")
    target = tmp_path / "release"
    import_release([source], target=target, timezone=TORONTO)
    fr = target / "fr.md"
    first = fr.read_text(encoding="utf-8")

    # Untouched since the import: a new version of the document replaces it.
    again = import_release([source], target=target, timezone=TORONTO)
    assert [(w.path.name, w.action) for w in again.written] == [("fr.md", "unchanged")]
    v2 = french_docx()
    v2.document.paragraphs[1].runs[0].text = "Hiver en vitrine, deuxième version"
    v2.save(tmp_path / "v2.docx")
    replaced = import_release([tmp_path / "v2.docx"], target=target, timezone=TORONTO)
    assert [(w.path.name, w.action) for w in replaced.written] == [("fr.md", "replaced")]

    # Edited by the officer: refused, with the front matter diff, and nothing written.
    edited = fr.read_text(encoding="utf-8").replace("subject: ", "subject: Mon objet — ", 1)
    fr.write_text(edited, encoding="utf-8")
    with pytest.raises(ReleaseOverwriteError) as info:
        import_release([source], target=target, timezone=TORONTO)
    assert fr.read_text(encoding="utf-8") == edited
    (conflict,) = info.value.conflicts
    assert conflict.path == fr
    assert conflict.body_changed is False
    diff = conflict.front_matter_diff.splitlines()
    assert diff[:2] == ["--- fr.md (in the folder)", "+++ fr.md (imported)"]
    assert "-subject: Mon objet — Hiver en vitrine, deuxième version" in diff
    assert f"+{first.splitlines()[1]}" in diff  # the title line of the first import
    assert str(info.value.problems[0]).endswith(
        "edited since distrib wrote it (or not written by distrib import)"
    )

    forced = import_release([source], target=target, timezone=TORONTO, force=True)
    assert [(w.path.name, w.action) for w in forced.written] == [("fr.md", "replaced")]
    assert fr.read_text(encoding="utf-8") == first


def test_a_hand_written_release_is_never_replaced_silently(tmp_path: Path) -> None:
    target = tmp_path / "release"
    target.mkdir()
    (target / "en.md").write_text("---\ntitle: Mine\n---\nBody\n", encoding="utf-8")
    with pytest.raises(ReleaseOverwriteError):
        import_release([english_docx().save(tmp_path / "e.docx")], target=target, timezone=TORONTO)
    assert (target / "en.md").read_text(encoding="utf-8") == "---\ntitle: Mine\n---\nBody\n"


runner = CliRunner()


def test_cli_prints_what_it_understood_dropped_and_wrote(tmp_path: Path) -> None:
    french_docx(tracked=True, image=png_bytes()).save(tmp_path / "communique.docx")
    (tmp_path / "campaign.toml").write_text('release = "release"\n', encoding="utf-8")
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        result = runner.invoke(app, ["release", "import", "communique.docx"])
        edited = Path("release/fr.md")
        edited.write_text(edited.read_text(encoding="utf-8").replace("Hiver", "Été", 1))
        refused = runner.invoke(app, ["release", "import", "communique.docx"])
        piped = runner.invoke(
            app,
            [
                "release",
                "import",
                "-",
                "--lang",
                "en",
                "--release",
                "other",
                "--dateline",
                "X, May 2, 2027 –",
            ],
            input="A title\n\nThe text of the release, the whole of it.\n",
        )
    finally:
        os.chdir(cwd)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "communique.docx → release/fr.md"
    assert (
        "    title               Hiver en vitrine\u00a0: 485\u00a0000\u00a0$ pour nos rues" in lines
    )
    assert "    dateline            MONTRÉAL, le 4 novembre 2027 –" in lines
    assert "    images              images/fr-1.png" in lines
    assert "    label line (distrib adds its own label): Pour diffusion immédiate" in lines
    assert any(line.startswith("    2 unaccepted tracked change(s)") for line in lines)
    assert "  created   release/fr.md" in lines
    assert "  created   release/images/fr-1.png" in lines
    assert lines[-2].startswith("Missing: en.md")
    assert refused.exit_code == 1
    assert "release/fr.md was edited; what the import would change:" in refused.output
    assert "-title: 'Été en vitrine" in refused.output
    assert (
        "error: the release folder has edited files; nothing was written (--force replaces them)"
        in refused.output
    )
    assert piped.exit_code == 0, piped.output
    assert piped.output.startswith("<stdin> → other/en.md\n")
    assert (tmp_path / "other" / "en.md").read_text(encoding="utf-8") == (
        "---\ntitle: A title\nsubject: A title\ndateline: X, May 2, 2027 –\n---\n"
        "The text of the release, the whole of it.\n"
    )


def test_cli_usage_errors(tmp_path: Path) -> None:
    result = runner.invoke(app, ["release", "import", "x.docx", "--lang", "de", "--release", "r"])
    assert result.exit_code == 2
    assert "--lang 'de': use fr or en" in result.output
    result = runner.invoke(
        app, ["release", "import", "x.docx", "--tz", "Mars/Base", "--release", "r"]
    )
    assert result.exit_code == 2
    missing = runner.invoke(
        app, ["release", "import", str(tmp_path / "absent.docx"), "--release", str(tmp_path / "r")]
    )
    assert missing.exit_code == 1
    assert f"{tmp_path / 'absent.docx'}: cannot read: No such file or directory" in missing.output
