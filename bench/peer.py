"""The peer: mailmerge 2.3.0 sending the same number of messages, of the same size, to the same
sink.  Its template is the benchmark release in Markdown (mailmerge then sends text and HTML,
like distrib); the size is calibrated with a dry run to match distrib's average message.
mailmerge opens one SMTP connection per message (that is how it works) and prints each message
(its normal output, sent to /dev/null here).
"""

from __future__ import annotations

import csv
import subprocess
import time
from pathlib import Path

from bench.campaigns import people, release_fr

HEADER = """TO: {{email}}
SUBJECT: Vitrines d’hiver : 320 000 $ pour nos rues
FROM: Service de presse SDQE <presse@sdqe.example>
CONTENT-TYPE: text/markdown

Bonjour {{first_name}},

Nous avons le plaisir de vous transmettre le communiqué ci-dessous, qui pourrait intéresser
votre rédaction ({{outlet}}).

"""


def _template(paragraphs: int) -> str:
    body = release_fr(paragraphs).split("---", 2)[2]
    return HEADER + body


def _dry_size(mailmerge: Path, folder: Path) -> int:
    """The size of one message mailmerge would send (its raw dry-run output, CRLF counted)."""
    out = subprocess.run(
        [str(mailmerge), "--dry-run", "--limit", "1", "--template", "template.txt",
         "--database", "database.csv", "--config", "server.conf", "--output-format", "raw"],
        cwd=folder, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(">>> message 1")) + 1
    end = next(i for i, line in enumerate(lines) if line.startswith(">>> message 1 sent"))
    message = lines[start:end]
    return sum(len(line.encode()) + 2 for line in message)


def prepare(mailmerge: Path, folder: Path, recipients: int, port: int, size: float) -> int:
    """Write mailmerge's template, database and config for ``recipients`` messages of about
    ``size`` bytes; return the size reached."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "database.csv").open("w", encoding="utf-8", newline="") as out:
        rows = csv.writer(out)
        rows.writerow(["email", "first_name", "outlet"])
        for p in people(recipients):
            rows.writerow([p.email, p.first, p.outlet or "pigiste"])
    (folder / "server.conf").write_text(
        f"[smtp_server]\nhost = 127.0.0.1\nport = {port}\nratelimit = 0\n", encoding="utf-8"
    )
    paragraphs, reached = 1, 0
    while paragraphs < 200:
        (folder / "template.txt").write_text(_template(paragraphs), encoding="utf-8")
        reached = _dry_size(mailmerge, folder)
        if reached >= size:
            break
        paragraphs += 1
    return reached


def run(mailmerge: Path, folder: Path, recipients: int) -> float:
    """Send every message with mailmerge; return the elapsed seconds."""
    started = time.perf_counter()
    subprocess.run(
        [str(mailmerge), "--no-dry-run", "--no-limit", "--template", "template.txt",
         "--database", "database.csv", "--config", "server.conf", "--output-format", "raw"],
        cwd=folder, stdout=subprocess.DEVNULL, check=True,
    )  # fmt: skip
    return time.perf_counter() - started
