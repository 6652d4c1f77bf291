"""The example's messages are not spam to SpamAssassin (Debian's ``spamassassin``, local tests
only: ``spamassassin -t -L``): each scores below 1.0 (5.0 is its spam threshold).

The example campaign as it is (its templates, its outlet override), one message per kind
(French, English, bilingual, Radio Boréale's), and the same release under embargo with the
built-in templates (the notice and the EMBARGO subject prefix), the workspace's logo and a photo
in the text (inline ``cid:`` parts).  One SpamAssassin run reads
them all as an mbox, with Bayes off and no user preferences written (HOME is the test's own
folder), so the scores do not depend on what ran before.
"""

from __future__ import annotations

import mailbox
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from distrib.app import collect_preview, open_release
from distrib.preview import PreviewSet
from import_helpers import png_bytes
from render_helpers import EXAMPLE_RELEASE, REPO

SPAMASSASSIN = shutil.which("spamassassin")
FIRST = EXAMPLE_RELEASE.name
#: Below this, a message is far from any filter's threshold (SpamAssassin's is 5.0).
LIMIT = 1.0

pytestmark = pytest.mark.skipif(
    SPAMASSASSIN is None,
    reason="spamassassin is not installed (Debian: apt-get install spamassassin; CI has it)",
)


def kinds(preview: PreviewSet) -> list[tuple[str, bytes]]:
    """One message of each language, and one of each outlet override."""
    chosen: dict[str, bytes] = {}
    for entry in preview.entries:
        kind = entry.language if entry.contact.outlet_slug != "radio-boreale" else "radio-boreale"
        if entry.ok and kind not in chosen:
            chosen[kind] = preview.render(entry, sign=False).data
    return sorted(chosen.items())


def test_the_example_messages_score_below_one(tmp_path: Path) -> None:
    shutil.copytree(REPO / "example", tmp_path / "example")
    shutil.copytree(REPO / "lists", tmp_path / "lists")
    release = tmp_path / "example" / "releases" / FIRST
    campaign = open_release(release)
    messages = [(f"example {k}", m) for k, m in kinds(collect_preview(campaign))]
    (release / "vitrine.png").write_bytes(png_bytes(600, 400, (180, 60, 40)))
    (tmp_path / "example" / "logo.png").write_bytes(png_bytes(180, 60, (29, 79, 145)))
    for name in ("fr.md", "en.md"):
        text = (release / name).read_text(encoding="utf-8")
        text = text.replace("---\n", "---\nembargo: 2099-03-01T09:00-05:00\n", 1)
        head, _, body = text.partition("\n---\n")
        first, _, rest = body.partition("\n\n")
        photo = "![Une vitrine de la rue des Cèdres](vitrine.png)"
        (release / name).write_text(f"{head}\n---\n{first}\n\n{photo}\n\n{rest}")
    press = campaign.press.model_copy(update={"logo": tmp_path / "example" / "logo.png"})
    builtin = campaign.model_copy(update={"templates": REPO / "templates", "press": press})
    embargoed = kinds(collect_preview(builtin))
    for _, data in embargoed:  # the logo and the photo, inline
        assert data.count(b"Content-ID: <img.") == 2
    messages += [(f"embargoed {k}", m) for k, m in embargoed]
    assert len(messages) == 8

    box = mailbox.mbox(tmp_path / "messages.mbox")
    for _, data in messages:
        box.add(data.replace(b"\r\n", b"\n"))
    box.close()
    environment = {**os.environ, "HOME": str(tmp_path)}
    result = subprocess.run(
        [str(SPAMASSASSIN), "-t", "-L", "-x", "--mbox", "--cf", "use_bayes 0"],
        input=(tmp_path / "messages.mbox").read_bytes(),
        capture_output=True,
        env=environment,
        timeout=300,
        check=False,
    )
    report = result.stdout.decode("utf-8", "replace")
    scores = [
        float(s)
        for s in re.findall(r"^Content analysis details:\s+\((-?[\d.]+) points", report, re.M)
    ]
    assert len(scores) == len(messages), report[-3000:]
    found = {name: score for (name, _), score in zip(messages, scores, strict=True)}
    assert all(score < LIMIT for score in found.values()), (found, report[-5000:])
