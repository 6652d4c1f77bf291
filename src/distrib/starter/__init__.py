"""Starter files: a workspace (`distrib init`), a release (`distrib release new`), and a copy
of the built-in templates to customise (`distrib templates copy`)."""

from __future__ import annotations

import unicodedata
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from distrib.errors import Problem
    from distrib.release import Release

__all__ = [
    "FIRST_RELEASE",
    "UNEDITED",
    "copy_templates",
    "starter_settings",
    "unedited",
    "write_release",
    "write_workspace",
]

#: The release `distrib init` starts the workspace with.
FIRST_RELEASE = "premier-communique"

_RELEASE_FILES = ("release/fr.md", "release/en.md", "release.toml")


def _starter(name: str) -> bytes:
    return resources.files(__package__ or "distrib.starter").joinpath(name).read_bytes()


def _write_all(plan: list[tuple[Path, bytes]]) -> list[Path]:
    """Write every file, or none when one exists (`FileExistsError` naming it)."""
    clashes = [path for path, _ in plan if path.exists()]
    if clashes:
        raise FileExistsError(str(clashes[0]))
    for path, content in plan:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return [path for path, _ in plan]


def _release_plan(folder: Path) -> list[tuple[Path, bytes]]:
    return [(folder / Path(name).name, _starter(name)) for name in _RELEASE_FILES]


#: The code of `unedited`'s warnings (`distrib.errors.Problem.code`).
UNEDITED = "starter"

#: Lines shorter than this are not told apart from a release's own (``---``, ``– 30 –``).
_SHORTEST = 12


def _line(text: str) -> str:
    return unicodedata.normalize("NFC", " ".join(text.split()))


@cache
def _starter_lines() -> frozenset[str]:
    """The starter release's lines, in both languages (a French release may hold English
    starter text pasted in)."""
    lines = set()
    for name in _RELEASE_FILES[:2]:
        for raw in _starter(name).decode("utf-8").splitlines():
            line = _line(raw)
            if len(line) >= _SHORTEST:
                lines.add(line)
    return frozenset(lines)


def unedited(release: Release) -> list[Problem]:
    """One warning per document that still holds lines of the starter release (`distrib
    release new`: its title, subject, dateline, sample paragraphs, press contact), with the
    first such line's number: a release created and sent before it was written."""
    from distrib.config import display_path
    from distrib.errors import Location, Problem

    starter = _starter_lines()
    problems = []
    for document in release.documents.values():
        try:
            text = document.path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError):
            continue  # the document was read when the release was loaded; it changed since
        found = [
            (number, line)
            for number, line in enumerate(map(_line, text.splitlines()), start=1)
            if line in starter
        ]
        if not found:
            continue
        number, line = found[0]
        shown = line if len(line) <= 60 else line[:59] + "…"
        count = f"{len(found)} lines are" if len(found) > 1 else "1 line is"
        problems.append(
            Problem(
                f"{count} still the starter's text, the first: «{shown}»; write the release"
                " before it goes to journalists",
                Location(display_path(document.path), number),
                UNEDITED,
            )
        )
    return problems


def starter_settings() -> str:
    """The starter ``distrib.toml``'s text."""
    return _starter("distrib.toml").decode("utf-8")


def write_workspace(
    folder: Path, release: str = FIRST_RELEASE, settings: str | None = None
) -> list[Path]:
    """Write a starter workspace into ``folder``: ``distrib.toml`` (``settings``: its text,
    else the starter's), ``contacts.csv`` and ``releases/<release>/`` (never overwriting);
    return the files written."""
    first = _starter("distrib.toml") if settings is None else settings.encode("utf-8")
    plan = [(folder / "distrib.toml", first), (folder / "contacts.csv", _starter("contacts.csv"))]
    plan += _release_plan(folder / "releases" / release)
    return _write_all(plan)


def write_release(folder: Path) -> list[Path]:
    """Write a starter release (``fr.md``, ``en.md``, a commented ``release.toml``) into
    ``folder`` (never overwriting); return the files written."""
    return _write_all(_release_plan(folder))


def copy_templates(folder: Path) -> list[Path]:
    """Copy distrib's built-in templates into ``folder`` (never overwriting)."""
    from distrib.render import default_templates_dir

    templates = default_templates_dir()
    plan = [
        (folder / file.relative_to(templates), file.read_bytes())
        for file in sorted(p for p in templates.rglob("*") if p.is_file())
    ]
    return _write_all(plan)
