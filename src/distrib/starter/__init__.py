"""The starter campaign written by `distrib init`."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["write_starter"]

_FILES = ("campaign.toml", "contacts.csv", "release/fr.md", "release/en.md")


def write_starter(folder: Path) -> list[Path]:
    """Write the starter campaign into ``folder`` (never overwriting); return the files written."""
    from distrib.render import default_templates_dir

    templates = default_templates_dir()
    plan: list[tuple[Path, bytes]] = []
    root = resources.files(__package__ or "distrib.starter")
    for name in _FILES:
        plan.append((folder / name, root.joinpath(name).read_bytes()))
    for file in sorted(p for p in templates.rglob("*") if p.is_file()):
        plan.append((folder / "templates" / file.relative_to(templates), file.read_bytes()))
    clashes = [path for path, _ in plan if path.exists()]
    if clashes:
        raise FileExistsError(str(clashes[0]))
    for path, content in plan:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return [path for path, _ in plan]
