"""Write a preview of a campaign: one ``.eml`` and one ``.html`` per recipient, and an index.

`distrib.app.previewing.collect_preview` renders every contact once and keeps, for each, the
outcome (subject, size, warnings, or the problems that stop it) in a `PreviewSet`;
`distrib.web.preview_server` serves that as a local web page.
To write the preview, `distrib.app.previewing.collect_and_write_preview` hands each message,
as soon as it is rendered, to a `PreviewWriter`, which writes its files at once: every message
is rendered once and never held (its bytes are written, then dropped; only the outcome is kept).

Every step is linear in the number of recipients (`tests/test_preview.py` counts them: one
render per contact, at most two look-ups per file name).  On this project's test machine the
time that did not look linear was the kernel's, creating the files (0.15 to 0.6 ms a file,
varying from run to run: `docs/benchmarks.md`, the preview).

The ``.eml`` files are the exact bytes that would be sent (less the DKIM signature, added as each
message is sent) (open them in a mail client); the
``.html`` files are the HTML parts (open them in a browser).  ``index.html`` lists every message
and every problem; it is autoescaped and self-contained (no scripts, no external resources), so
a hostile name in a media list cannot do anything in the officer's browser.  File names come from
the recipient address, reduced to ``[a-z0-9._-]``, so none can leave the output folder.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from jinja2 import Environment, StrictUndefined

from distrib.problems import group_problems

if TYPE_CHECKING:
    from distrib.config import Campaign
    from distrib.contacts.model import AudienceSummary, Contact
    from distrib.errors import Problem
    from distrib.render import RenderedMessage, Renderer

__all__ = [
    "PreviewEntry",
    "PreviewFile",
    "PreviewResult",
    "PreviewSet",
    "PreviewWriter",
    "safe_stem",
    "write_preview",
]

_UNSAFE = re.compile(r"[^a-z0-9._-]+")
_MAX_STEM = 80
# Names Windows will not create whatever the extension; "index" is ours.
_RESERVED = frozenset(
    {"con", "prn", "aux", "nul", "index"}
    | {f"com{i}" for i in range(10)}
    | {f"lpt{i}" for i in range(10)}
)

_INDEX_TEMPLATE = """\
<!DOCTYPE html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>
* { box-sizing: border-box; }
body { font-family: system-ui, Arial, sans-serif; margin: 2rem; color: #222; }
body { overflow-wrap: anywhere; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { border: 1px solid #ddd; padding: 6px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f0; }
tr:nth-child(even) td { background: #fafaf8; }
.problems { border-left: 4px solid #c0392b; padding: 0.5rem 1rem; background: #fdf2f0; }
.counts span { margin-right: 1.5rem; display: inline-block; }
/* A phone (390 px): no sideways scrolling; each row becomes a small card. */
@media (max-width: 700px) {
  body { margin: 1rem 0.8rem; }
  table, tbody, tr, td { display: block; width: 100%; }
  thead { display: none; }
  tr { border: 1px solid #ddd; margin: 0 0 0.6rem 0; padding: 0.3rem 0.5rem; }
  td { border: 0; padding: 2px 0; }
  tr:nth-child(even) td { background: none; }
  td[data-label]::before { content: attr(data-label) " : "; color: #666; font-size: 12px; }
}
</style>
</head>
<body>
<h1>{{ title }}</h1>
<p class="counts">
<span>Messages&nbsp;: <strong>{{ files | length }}</strong></span>
{% for lang, count in by_language.items() %}
<span>{{ lang }}&nbsp;: <strong>{{ count }}</strong></span>
{% endfor %}
<span>Problèmes / problems&nbsp;: <strong>{{ problem_count }}</strong></span>
</p>
{% if problems %}
<section class="problems">
<h2>Problèmes / Problems ({{ problem_count }})</h2>
<ul>
{% for group in problems %}
<li><code>{{ group.code }}</code> {{ group.examples[0] if group.count == 1 else group.message }}\
{% if group.count > 1 %} <strong>× {{ group.count }}</strong> \
({{ group.where_examples | join(", ") }}{{ ", …" if group.count > group.examples | length }})\
{% endif %}</li>
{% endfor %}
</ul>
</section>
{% endif %}
<h2>Messages</h2>
{% if files %}
<table>
<thead>
<tr><th>#</th><th>Destinataire / Recipient</th><th>Nom / Name</th><th>Média / Outlet</th>\
<th>Langue</th><th>Objet / Subject</th><th>Fichiers / Files</th></tr>
</thead>
<tbody>
{% for file in files %}
<tr>
<td data-label="#">{{ loop.index }}</td>
<td data-label="Destinataire / Recipient">{{ file.recipient }}</td>
<td data-label="Nom / Name">{{ file.name }}</td>
<td data-label="Média / Outlet">{{ file.outlet }}</td>
<td data-label="Langue">{{ file.language }}</td>
<td data-label="Objet / Subject">{{ file.subject }}</td>
<td data-label="Fichiers / Files"><a href="{{ file.html.name | urlencode }}">HTML</a> · \
<a href="{{ file.eml.name | urlencode }}">.eml</a></td>
</tr>
{% endfor %}
</tbody>
</table>
{% else %}
<p>Aucun message. / No messages.</p>
{% endif %}
</body>
</html>
"""


@dataclass(frozen=True, slots=True)
class PreviewFile:
    """The two files written for one recipient, and what the index shows about them."""

    recipient: str
    name: str
    outlet: str
    language: str
    subject: str
    eml: Path
    html: Path


@dataclass(frozen=True, slots=True)
class PreviewResult:
    """What `write_preview` wrote: the index, every recipient's files, and counts."""

    out_dir: Path
    index: Path
    files: tuple[PreviewFile, ...]
    by_language: Mapping[str, int]
    problems: int

    @property
    def messages(self) -> int:
        """How many messages were written."""
        return len(self.files)


def safe_stem(address: str, taken: set[str], numbers: dict[str, int] | None = None) -> str:
    """Return a file name stem for ``address`` made of ``[a-z0-9._-]``, not yet in ``taken``.

    The stem is added to ``taken``.  Case is folded so two stems never differ only by case
    (they would collide on macOS and Windows).  Stems that collide get ``-2``, ``-3``…;
    ``numbers`` (kept by the caller across calls) remembers the next number to try for each
    stem, so that many addresses reduced to one stem (a long common prefix cut at 80
    characters) cost a few look-ups each, not one per earlier collision (quadratic).
    """
    stem = _UNSAFE.sub("_", address.lower().replace("@", "_at_"))
    stem = stem.strip("._-")[:_MAX_STEM].rstrip("._-") or "message"
    if stem.split(".")[0] in _RESERVED:
        stem = f"_{stem}"
    candidate = stem
    if candidate in taken:
        number = numbers.get(stem, 2) if numbers is not None else 2
        candidate = f"{stem}-{number}"
        while candidate in taken:
            number += 1
            candidate = f"{stem}-{number}"
        if numbers is not None:
            numbers[stem] = number + 1
    taken.add(candidate)
    return candidate


def _write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``, replacing a symlink rather than writing through it."""
    if path.is_symlink():
        path.unlink()
    path.write_bytes(data)


class PreviewWriter:
    """Write a preview one message at a time (`add`), then the index (`finish`)."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self._taken: set[str] = set()
        self._numbers: dict[str, int] = {}
        self._files: list[PreviewFile] = []
        self._made = False  # the folder is made with the first file

    def _folder(self) -> None:
        if not self._made:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            self._made = True

    def add(self, message: RenderedMessage) -> PreviewFile:
        """Write ``message``'s ``.eml`` and ``.html``; return what the index shows of them."""
        self._folder()
        stem = safe_stem(message.recipient, self._taken, self._numbers)
        eml, html = self.out_dir / f"{stem}.eml", self.out_dir / f"{stem}.html"
        _write(eml, message.data)
        _write(html, message.preview_html.encode("utf-8"))  # cid: images as data: URLs
        contact = message.contact
        written = PreviewFile(
            recipient=message.recipient,
            name=contact.name,
            outlet=contact.outlet,
            language=message.language,
            subject=message.subject,
            eml=eml,
            html=html,
        )
        self._files.append(written)
        return written

    def finish(self, *, problems: Sequence[Problem] = (), title: str = "") -> PreviewResult:
        """Write ``index.html`` (every message written, every problem) and return it all."""
        self._folder()
        files = self._files
        by_language = Counter(file.language for file in files)
        index = self.out_dir / "index.html"
        _write(index, _render_index(files, by_language, problems, title).encode("utf-8"))
        return PreviewResult(
            out_dir=self.out_dir,
            index=index,
            files=tuple(files),
            by_language=MappingProxyType(dict(sorted(by_language.items()))),
            problems=len(problems),
        )


def write_preview(
    messages: Iterable[RenderedMessage],
    out_dir: Path,
    *,
    problems: Sequence[Problem] = (),
    title: str = "",
) -> PreviewResult:
    """Write ``.eml`` + ``.html`` per message and ``index.html`` into ``out_dir``; return them."""
    writer = PreviewWriter(out_dir)
    for message in messages:
        writer.add(message)
    return writer.finish(problems=problems, title=title)


def _render_index(
    files: Sequence[PreviewFile],
    by_language: Mapping[str, int],
    problems: Sequence[Problem],
    title: str,
) -> str:
    """Render the index page with an autoescaping environment (names are untrusted)."""
    environment = Environment(
        autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )
    template = environment.from_string(_INDEX_TEMPLATE)
    return template.render(
        title=title or "Aperçu de l’envoi / Send preview",
        files=files,
        by_language=dict(sorted(by_language.items())),
        problems=group_problems(problems),
        problem_count=len(problems),
    )


@dataclass(frozen=True, slots=True)
class PreviewEntry:
    """One contact of the audience in the preview: what its message is, or why there is none."""

    number: int  # 1-based, in audience order
    contact: Contact
    language: str  # the message's language, or the contact's if it cannot be rendered
    subject: str
    size: int
    message_id: str
    problems: tuple[Problem, ...] = ()
    warnings: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        """Tell whether the message rendered."""
        return not self.problems


@dataclass(frozen=True, slots=True)
class PreviewSet:
    """Every contact's outcome, rendered once; `render` renders one again on demand."""

    campaign: Campaign
    renderer: Renderer
    entries: tuple[PreviewEntry, ...]
    warnings: tuple[Problem, ...]  # about the whole audience (unused outlet folders …)
    date: datetime
    book_problems: tuple[Problem, ...] = ()  # rejected rows of the media lists
    audience: AudienceSummary | None = None  # who the release's audience rules left out

    @property
    def problems(self) -> tuple[Problem, ...]:
        """Every rendering problem, in audience order (any of them blocks `distrib send`)."""
        return tuple(p for entry in self.entries for p in entry.problems)

    def render(self, entry: PreviewEntry, *, sign: bool = True) -> RenderedMessage:
        """Render ``entry``'s message again, as it was (same Message-ID and Date)."""
        return self.renderer.render(
            entry.contact, message_id=entry.message_id, date=self.date, sign=sign
        )

    def messages(self) -> Iterator[RenderedMessage]:
        """Render every message that renders, one at a time (without DKIM: it is per send)."""
        for entry in self.entries:
            if entry.ok:
                yield self.render(entry, sign=False)
