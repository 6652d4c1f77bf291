"""A release created by `distrib release new` (or `distrib init`) holds sample text: until it is
written, every way to send it says so (`distrib.starter.unedited`), naming the file and line."""

from __future__ import annotations

from pathlib import Path

from distrib.release import read_release
from distrib.starter import unedited, write_release

WRITTEN_FR = """---
title: La Chambre ouvre ses portes
subject: Journée portes ouvertes le 12 mars
dateline: MONTRÉAL, le 2 mars 2027 –
---
La Chambre accueille le public le 12 mars, de 10 h à 16 h, au 200 rue Principale.

– 30 –
"""

WRITTEN_EN = """---
title: The Chamber opens its doors
subject: Open house on March 12
dateline: MONTREAL, March 2, 2027 –
---
The Chamber welcomes the public on March 12, 10 a.m. to 4 p.m., at 200 Main Street.

-30-
"""


def starter(tmp_path: Path) -> Path:
    folder = tmp_path / "nouveau"
    write_release(folder)
    return folder


def test_a_new_release_is_flagged_in_both_languages_from_its_first_line(tmp_path: Path) -> None:
    folder = starter(tmp_path)
    warnings = unedited(read_release(folder))
    assert [(p.where.path, p.where.row, p.code) for p in warnings if p.where] == [
        (str(folder / "fr.md"), 2, "starter"),
        (str(folder / "en.md"), 2, "starter"),
    ]
    french = (folder / "fr.md").read_text(encoding="utf-8")
    every = sum(1 for line in french.splitlines() if len(line.strip()) >= 12)
    assert f"{every} lines are still the starter's text" in warnings[0].message
    assert "«title: Votre organisation annonce une nouvelle»" in warnings[0].message


def test_a_written_release_is_not_flagged(tmp_path: Path) -> None:
    folder = starter(tmp_path)
    (folder / "fr.md").write_text(WRITTEN_FR, encoding="utf-8")
    (folder / "en.md").write_text(WRITTEN_EN, encoding="utf-8")
    assert unedited(read_release(folder)) == []


def test_one_sample_line_left_behind_is_found_where_it_is(tmp_path: Path) -> None:
    folder = starter(tmp_path)
    (folder / "en.md").write_text(WRITTEN_EN, encoding="utf-8")
    # The officer wrote the French release but kept the sample "about" paragraph, re-wrapped,
    # and pasted the English sample contact line at the end.
    french = WRITTEN_FR.replace(
        "– 30 –\n",
        "Deux ou trois   phrases qui présentent\tl'organisation.\n\n– 30 –\n\n"
        "Information: Press office, 514 555-0100, medias@organisation.example\n",
    )
    (folder / "fr.md").write_text(french, encoding="utf-8")
    warnings = unedited(read_release(folder))
    assert len(warnings) == 1 and warnings[0].where is not None
    assert (warnings[0].where.path, warnings[0].where.row) == (str(folder / "fr.md"), 8)
    assert warnings[0].message.startswith("2 lines are still the starter's text")
